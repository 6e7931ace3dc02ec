// A row deleted while another request adds something that points at it (issue 7 follow-up): a group
// deleted while a VM is created in it, a VM purged while a privilege or invitation on it is made, an
// API key deleted while a privilege is bound to it, a user deleted while they are granted something.
// The child's insert hit a foreign-key error and the request answered 500. Each race must end as some
// serial order would: the child is made and the delete copes with it (or refuses, for a non-empty
// group), or the delete wins and the late request is the 404/400 a request naming a gone row gets.
// Runs on SQLite and, with HANGAR_TEST_STORE=postgres, on PostgreSQL (scripts/test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest, type TestHangar } from '../helpers.js';
import { assertInvariants } from '../invariants.js';
import type { Store } from '../../src/store/db.js';

const ROUNDS = 15;

const both = <A, B>(round: number, a: () => Promise<A>, b: () => Promise<B>) =>
  round % 2 ? Promise.all([a(), b()]) : Promise.all([b(), a()]).then(([y, x]) => [x, y] as [A, B]);
const oneOf = (status: number, allowed: number[], text: string) => assert.ok(allowed.includes(status), `status ${status}: ${text}`);

interface Fx { t: TestHangar; acme: { id: number; defaultGroupId: number }; other: { id: number } }

async function withHangar(fn: (fx: Fx) => Promise<void>): Promise<void> {
  const t = await startTest();
  try {
    const acme = await account(t, 'acme');
    const other = await account(t, 'other');
    await fn({ t, acme, other });
  } finally {
    await t.close();
  }
}

const group = async (t: TestHangar, name: string): Promise<number> => {
  const r = await t.req('POST', '/accounts/acme/groups', { token: t.adminToken, body: { name } });
  assert.equal(r.status, 201, r.text);
  return r.body.id;
};
const deleteGroup = (t: TestHangar, name: string) => t.req('DELETE', `/accounts/acme/groups/${name}`, { token: t.adminToken });
const vm = async (t: TestHangar, name: string, grp = 'default'): Promise<number> => {
  const r = await t.req('POST', `/accounts/acme/groups/${grp}/vm_create`, {
    token: t.adminToken, body: { virtual_machine: { name, cores: 1, memory: 1024, power_on: false }, discs: [{ storage_grade: 'sata', size: 10240 }] },
  });
  assert.equal(r.status, 202, r.text);
  return r.body.virtual_machine.id;
};
const purge = (t: TestHangar, name: string) => t.req('DELETE', `/accounts/acme/groups/default/virtual_machines/${name}?purge=true`, { token: t.adminToken });

/** No privilege or invitation points at a group, VM, user or API key that is gone. */
async function noDangling(db: Store, what: string): Promise<void> {
  const ids = async (table: 'groups' | 'vms' | 'users' | 'api_keys') => new Set((await db.selectFrom(table).select('id').execute()).map((r) => r.id));
  const [groups, vms, users, keys] = [await ids('groups'), await ids('vms'), await ids('users'), await ids('api_keys')];
  for (const p of await db.selectFrom('privileges').selectAll().execute()) {
    assert.ok(p.group_id === null || groups.has(p.group_id), `privilege ${p.id} on a gone group (${what})`);
    assert.ok(p.virtual_machine_id === null || vms.has(p.virtual_machine_id), `privilege ${p.id} on a gone VM (${what})`);
    assert.ok(p.api_key_id === null || keys.has(p.api_key_id), `privilege ${p.id} bound to a gone API key (${what})`);
    assert.ok(users.has(p.user_id), `privilege ${p.id} of a gone user (${what})`);
  }
  for (const i of await db.selectFrom('invitations').selectAll().execute()) {
    assert.ok(i.group_id === null || groups.has(i.group_id), `invitation ${i.id} on a gone group (${what})`);
    assert.ok(i.virtual_machine_id === null || vms.has(i.virtual_machine_id), `invitation ${i.id} on a gone VM (${what})`);
    assert.ok(i.user_id === null || users.has(i.user_id), `invitation ${i.id} to a gone user (${what})`);
  }
  await assertInvariants(db, what);
}

test('a VM created in a group being deleted: either the VM is made and the delete refuses, or the create is a 404', async () => {
  await withHangar(async ({ t }) => {
    for (let i = 0; i < ROUNDS; i++) {
      await group(t, `g${i}`);
      const [d, c] = await both(i, () => deleteGroup(t, `g${i}`), () => t.req('POST', `/accounts/acme/groups/g${i}/vm_create`, {
        token: t.adminToken, body: { virtual_machine: { name: `v${i}`, cores: 1, memory: 1024, power_on: false }, discs: [{ storage_grade: 'sata', size: 10240 }] },
      }));
      oneOf(d.status, [204, 400], d.text);
      oneOf(c.status, [202, 404], c.text);
      assert.ok((d.status === 204) === (c.status === 404), `one of them wins: delete ${d.status} ${d.text}, create ${c.status} ${c.text}`);
      await noDangling(t.running.hangar.db, `group delete/vm create round ${i}`);
    }
  });
});

test('a VM moved into a group being deleted: either it moves and the delete refuses, or the move is a 400', async () => {
  await withHangar(async ({ t }) => {
    for (let i = 0; i < ROUNDS; i++) {
      const gid = await group(t, `m${i}`);
      await vm(t, `mv${i}`);
      const move = () => t.req('PUT', `/accounts/acme/groups/default/virtual_machines/mv${i}`, { token: t.adminToken, body: { group_id: gid } });
      const [d, m] = await both(i, () => deleteGroup(t, `m${i}`), move);
      oneOf(d.status, [204, 400], d.text);
      oneOf(m.status, [200, 400], m.text);
      assert.ok((d.status === 204) === (m.status === 400), `one of them wins: delete ${d.status} ${d.text}, move ${m.status} ${m.text}`);
      await noDangling(t.running.hangar.db, `group delete/vm move round ${i}`);
    }
  });
});

test('a privilege granted on a group being deleted is made and deleted with it, or refused', async () => {
  await withHangar(async ({ t, acme }) => {
    await t.user('member', undefined, acme.id);
    for (let i = 0; i < ROUNDS; i++) {
      const gid = await group(t, `p${i}`);
      const grant = () => t.req('POST', '/users/member/privileges', { token: t.adminToken, body: { level: 'group_admin', group_id: gid } });
      const [d, g] = await both(i, () => deleteGroup(t, `p${i}`), grant);
      assert.equal(d.status, 204, d.text);
      oneOf(g.status, [201, 400, 404], g.text);
      await noDangling(t.running.hangar.db, `group delete/grant round ${i}`);
    }
  });
});

test('an invitation to a group being deleted is made and deleted with it, or refused', async () => {
  await withHangar(async ({ t, acme, other }) => {
    const owner = await t.user('owner', { level: 'account_admin', account_id: acme.id }, acme.id);
    await t.user('outsider', undefined, other.id);
    for (let i = 0; i < ROUNDS; i++) {
      const gid = await group(t, `i${i}`);
      const invite = () => t.req('POST', '/users/outsider/privileges', { token: owner, body: { level: 'group_admin', group_id: gid } });
      const [d, g] = await both(i, () => deleteGroup(t, `i${i}`), invite);
      assert.equal(d.status, 204, d.text);
      oneOf(g.status, [201, 400, 404], g.text);
      await noDangling(t.running.hangar.db, `group delete/invitation round ${i}`);
    }
  });
});

test('a privilege or invitation on a VM being purged is made and purged with it, or refused', async () => {
  await withHangar(async ({ t, acme, other }) => {
    const owner = await t.user('owner', { level: 'account_admin', account_id: acme.id }, acme.id);
    await t.user('member', undefined, acme.id);
    await t.user('outsider', undefined, other.id);
    for (let i = 0; i < ROUNDS; i++) {
      const id = await vm(t, `pv${i}`);
      const grant = () => t.req('POST', '/users/member/privileges', { token: t.adminToken, body: { level: 'vm_admin', virtual_machine_id: id } });
      const invite = () => t.req('POST', '/users/outsider/privileges', { token: owner, body: { level: 'vm_console', virtual_machine_id: id } });
      const [p, [g, v]] = await both(i, () => purge(t, `pv${i}`), () => Promise.all([grant(), invite()]));
      assert.equal(p.status, 204, p.text);
      oneOf(g.status, [201, 400, 404], g.text);
      oneOf(v.status, [201, 400, 404], v.text);
      await noDangling(t.running.hangar.db, `purge/grant round ${i}`);
    }
  });
});

test('an invitation accepted while its VM is purged becomes a privilege purged with the VM, or is a 404', async () => {
  await withHangar(async ({ t, acme, other }) => {
    const owner = await t.user('owner', { level: 'account_admin', account_id: acme.id }, acme.id);
    const outsider = await t.user('outsider', undefined, other.id);
    for (let i = 0; i < ROUNDS; i++) {
      const id = await vm(t, `ia${i}`);
      const inv = await t.req('POST', '/users/outsider/privileges', { token: owner, body: { level: 'vm_console', virtual_machine_id: id } });
      assert.equal(inv.status, 201, inv.text);
      const accept = () => t.req('POST', `/invitations/${inv.body.id}/accept`, { token: outsider });
      const [p, a] = await both(i, () => purge(t, `ia${i}`), accept);
      assert.equal(p.status, 204, p.text);
      oneOf(a.status, [201, 404], a.text);
      await noDangling(t.running.hangar.db, `purge/accept round ${i}`);
    }
  });
});

test('a privilege bound to an API key being deleted is made and deleted with the key, or refused', async () => {
  await withHangar(async ({ t, acme }) => {
    const session = await t.user('keyed', { level: 'group_admin', group_id: acme.defaultGroupId }, acme.id);
    for (let i = 0; i < ROUNDS; i++) {
      const k = await t.req('POST', '/api_keys', { token: session, body: { label: `k${i}` } });
      assert.equal(k.status, 201, k.text);
      const bind = () => t.req('POST', '/users/keyed/privileges', { token: t.adminToken, body: { level: 'group_admin', group_id: acme.defaultGroupId, api_key_id: k.body.id } });
      const del = () => t.req('DELETE', `/api_keys/${k.body.id}`, { token: session });
      const [d, b] = await both(i, del, bind);
      assert.equal(d.status, 204, d.text);
      oneOf(b.status, [201, 400, 404], b.text);
      await noDangling(t.running.hangar.db, `api key delete/bind round ${i}`);
    }
  });
});

test('a user deleted while granted a privilege, invited or given an API key: each is made and deleted with them, or refused', async () => {
  await withHangar(async ({ t, acme, other }) => {
    const owner = await t.user('owner', { level: 'account_admin', account_id: acme.id }, acme.id);
    for (let i = 0; i < ROUNDS; i++) {
      await t.user(`u${i}`, undefined, other.id);
      const grant = () => t.req('POST', `/users/u${i}/privileges`, { token: t.adminToken, body: { level: 'group_admin', group_id: acme.defaultGroupId } });
      const invite = () => t.req('POST', `/users/u${i}/privileges`, { token: owner, body: { level: 'group_admin', group_id: acme.defaultGroupId } });
      const uid = (await t.req('GET', `/users/u${i}`, { token: t.adminToken })).body.id as number;
      const keyFor = () => t.req('POST', '/api_keys', { token: t.adminToken, body: { label: `for-u${i}`, user_id: uid } });
      const [d, [g, v, k]] = await both(i, () => t.req('DELETE', `/users/u${i}`, { token: t.adminToken }), () => Promise.all([grant(), invite(), keyFor()]));
      assert.equal(d.status, 204, d.text);
      oneOf(g.status, [201, 404], g.text);
      // An invitation (201 whether or not the user is still there), or, once the grant above made them an
      // insider of acme, a direct grant: then a 404 like the grant's.
      oneOf(v.status, [201, 404], v.text);
      oneOf(k.status, [201, 400], k.text);
      await noDangling(t.running.hangar.db, `user delete/grant round ${i}`);
    }
  });
});
