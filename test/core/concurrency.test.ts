// Requests racing on one VM or disc (issue 7, defect 3): two purges at once took a head's
// used_cores from 2 to -2 and queued two purge operations. Each case fires the pair through the
// API (and the purge sweeper directly) for a bounded number of rounds, then checks the invariants.
// Runs on SQLite and, with HANGAR_TEST_STORE=postgres, on PostgreSQL (scripts/test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type TestHangar, withAcme } from '../helpers.js';
import { assertInvariants, countOperations } from '../invariants.js';
import { purgeExpired } from '../../src/core/vms/delete.js';
import { resolveBackup, resolveDisc, restoreBackup } from '../../src/core/discs.js';
import { resolveVmById } from '../../src/core/resolve.js';
import { DomainError, isCode } from '../../src/core/errors.js';
import type { Principal } from '../../src/core/principal.js';

const ROUNDS = 20;
const vms = '/accounts/acme/groups/default/virtual_machines';

/** A powered-off VM with 2 cores, 2 GiB and one disc; its id. */
async function vm(t: TestHangar, name: string): Promise<number> {
  const r = await t.req('POST', '/accounts/acme/groups/default/vm_create', {
    token: t.adminToken,
    body: { virtual_machine: { name, cores: 2, memory: 2048, power_on: false }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 10240 }] },
  });
  assert.equal(r.status, 202, r.text);
  return r.body.virtual_machine.id;
}

const purge = (t: TestHangar, name: string) => t.req('DELETE', `${vms}/${name}?purge=true`, { token: t.adminToken });
const put = (t: TestHangar, name: string, body: unknown) => t.req('PUT', `${vms}/${name}`, { token: t.adminToken, body });
/** The pair in both orders, alternating by round, so either may reach the store first. */
const both = <A, B>(round: number, a: () => Promise<A>, b: () => Promise<B>) =>
  round % 2 ? Promise.all([a(), b()]) : Promise.all([b(), a()]).then(([y, x]) => [x, y] as [A, B]);
const oneOf = (status: number, allowed: number[], text: string) => assert.ok(allowed.includes(status), `status ${status}: ${text}`);

test('two concurrent purges of one VM leave the head\'s counters equal to the sums and queue one purge operation', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      const id = await vm(t, `pp${i}`);
      const [a, b] = await both(i, () => purge(t, `pp${i}`), () => purge(t, `pp${i}`));
      await assertInvariants(t.running.hangar.db, `purge/purge round ${i}`);
      assert.equal(await countOperations(t.running.hangar.db, 'purge', id), 1);
      assert.deepEqual([a.status, b.status].sort(), [204, 404], `one purge wins, the other finds nothing: ${a.text} ${b.text}`);
    }
  });
});

test('a purge racing a cores/memory update releases what the VM holds at the purge, not what it held before', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      await vm(t, `pu${i}`);
      const [p, u] = await both(i, () => purge(t, `pu${i}`), () => put(t, `pu${i}`, { cores: 3, memory: 4096 }));
      assert.equal(p.status, 204, p.text);
      oneOf(u.status, [200, 404], u.text);
      await assertInvariants(t.running.hangar.db, `purge/update round ${i}`);
    }
  });
});

test('two concurrent cores/memory updates of a powered-off VM claim the difference from what the VM holds', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      await vm(t, `uu${i}`);
      const [a, b] = await both(i, () => put(t, `uu${i}`, { cores: 3, memory: 3072 }), () => put(t, `uu${i}`, { cores: 5, memory: 6144 }));
      assert.equal(a.status, 200, a.text);
      assert.equal(b.status, 200, b.text);
      await assertInvariants(t.running.hangar.db, `update/update round ${i}`);
    }
  });
});

test('two concurrent creates of one name: one is created, the other is a 400 naming the clash, counters equal the sums', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      const create = () => t.req('POST', '/accounts/acme/groups/default/vm_create', {
        token: t.adminToken,
        body: { virtual_machine: { name: `cc${i}`, cores: 2, memory: 2048, power_on: false }, discs: [{ storage_grade: 'sata', size: 10240 }] },
      });
      const [a, b] = await both(i, create, create);
      assert.deepEqual([a.status, b.status].sort(), [202, 400], `${a.text} ${b.text}`);
      assert.deepEqual((a.status === 400 ? a : b).body, { name: ['has already been taken'] });
      await assertInvariants(t.running.hangar.db, `create/create round ${i}`);
      assert.equal(await countOperations(t.running.hangar.db, 'disc.create'), i + 1, 'one disc.create per VM created');
    }
  });
});

test('two VMs renamed to one name at once: one is renamed, the other is a 400 naming the clash', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      await vm(t, `ra${i}`);
      await vm(t, `rb${i}`);
      const [a, b] = await both(i, () => put(t, `ra${i}`, { name: `rn${i}` }), () => put(t, `rb${i}`, { name: `rn${i}` }));
      assert.deepEqual([a.status, b.status].sort(), [200, 400], `${a.text} ${b.text}`);
      assert.deepEqual((a.status === 400 ? a : b).body, { name: ['has already been taken'] });
      await assertInvariants(t.running.hangar.db, `rename/rename round ${i}`);
    }
  });
});

test('two concurrent ip_create on one VM never hand out more extra addresses than its limit', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      await vm(t, `ip${i}`);
      const nics = await t.req('GET', `${vms}/ip${i}/nics`, { token: t.adminToken });
      const add = () => t.req('POST', `${vms}/ip${i}/nics/${nics.body[0].id}/ip_create`, { token: t.adminToken, body: { addresses: 3, family: 'ipv4', reason: 'race' } });
      const [a, b] = await both(i, add, add);
      await assertInvariants(t.running.hangar.db, `ip_create/ip_create round ${i}`);
      assert.deepEqual([a.status, b.status].sort(), [200, 400], `${a.text} ${b.text}`);
    }
  });
});

test('an ip_create racing a purge either goes with the VM or is refused', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      await vm(t, `ipp${i}`);
      const nics = await t.req('GET', `${vms}/ipp${i}/nics`, { token: t.adminToken });
      const add = () => t.req('POST', `${vms}/ipp${i}/nics/${nics.body[0].id}/ip_create`, { token: t.adminToken, body: { addresses: 1, family: 'ipv4' } });
      const [p, a] = await both(i, () => purge(t, `ipp${i}`), add);
      assert.equal(p.status, 204, p.text);
      oneOf(a.status, [200, 404], a.text);
      await assertInvariants(t.running.hangar.db, `purge/ip_create round ${i}`);
    }
  });
});

test('two concurrent grows of one disc claim the pool space the disc really grew by, one operation per grow', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      const id = await vm(t, `gg${i}`);
      const grow = (size: number) => t.req('PUT', `${vms}/gg${i}/discs/disc-1`, { token: t.adminToken, body: { size } });
      const [a, b] = await both(i, () => grow(20480), () => grow(30720));
      oneOf(a.status, [200, 400], a.text);
      assert.equal(b.status, 200, b.text);
      await assertInvariants(t.running.hangar.db, `grow/grow round ${i}`);
      assert.equal(await countOperations(t.running.hangar.db, 'disc.grow', id), [a, b].filter((r) => r.status === 200).length);
    }
  });
});

test('two concurrent deletes of one disc release its space once and queue one disc.delete', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      const id = await vm(t, `dd${i}`);
      const del = () => t.req('DELETE', `${vms}/dd${i}/discs/disc-1?purge=true`, { token: t.adminToken });
      const [a, b] = await both(i, del, del);
      await assertInvariants(t.running.hangar.db, `disc delete/delete round ${i}`);
      assert.equal(await countOperations(t.running.hangar.db, 'disc.delete', id), 1);
      assert.deepEqual([a.status, b.status].sort(), [204, 404], `${a.text} ${b.text}`);
    }
  });
});

test('a disc added while its VM is purged either goes with the VM or is refused, never left behind', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      await vm(t, `ap${i}`);
      const add = () => t.req('POST', `${vms}/ap${i}/discs`, { token: t.adminToken, body: { label: 'extra', storage_grade: 'sata', size: 10240 } });
      const [p, a] = await both(i, () => purge(t, `ap${i}`), add);
      assert.equal(p.status, 204, p.text);
      oneOf(a.status, [201, 404], a.text);
      await assertInvariants(t.running.hangar.db, `purge/disc create round ${i}`);
    }
  });
});

// The sweeper runs with a clock past the undelete window; the API with the real one.
const later = (t: TestHangar) => ({ ...t.running.hangar, now: () => Date.now() + (t.running.hangar.config.undeleteDays + 1) * 86_400_000 });

test('the purge sweeper racing a user purge purges once', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      const id = await vm(t, `sp${i}`);
      assert.equal((await t.req('DELETE', `${vms}/sp${i}`, { token: t.adminToken })).status, 204);
      const [p] = await both(i, () => purge(t, `sp${i}`), () => purgeExpired(later(t)));
      oneOf(p.status, [204, 404], p.text);
      await assertInvariants(t.running.hangar.db, `purge/sweeper round ${i}`);
      assert.equal(await countOperations(t.running.hangar.db, 'purge', id), 1);
    }
  });
});

test('the purge sweeper racing an undelete never purges the VM it gave back', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      const id = await vm(t, `su${i}`);
      assert.equal((await t.req('DELETE', `${vms}/su${i}`, { token: t.adminToken })).status, 204);
      const [u] = await both(i, () => put(t, `su${i}`, { deleted: false }), () => purgeExpired(later(t)));
      oneOf(u.status, [200, 404], u.text);
      const row = await t.running.hangar.db.selectFrom('vms').select(['deleted']).where('id', '=', id).executeTakeFirst();
      if (u.status === 200) assert.deepEqual(row, { deleted: 0 }, 'the undeleted VM is still there');
      else assert.equal(row, undefined);
      await assertInvariants(t.running.hangar.db, `undelete/sweeper round ${i}`);
    }
  });
});

test('the purge sweeper purges deleted VMs past the window only, releasing what they held', async () => {
  await withAcme(async (t) => {
    const [live, recent, old] = [await vm(t, 'live'), await vm(t, 'recent'), await vm(t, 'old')];
    for (const name of ['recent', 'old']) assert.equal((await t.req('DELETE', `${vms}/${name}`, { token: t.adminToken })).status, 204);
    const db = t.running.hangar.db;
    await db.updateTable('vms').set({ deleted_at: Date.now() - 2 * 86_400_000 }).where('id', '=', old).execute();
    const h = { ...t.running.hangar, now: () => Date.now() + (t.running.hangar.config.undeleteDays - 1) * 86_400_000 };
    assert.equal(await purgeExpired(h), 1);
    assert.deepEqual((await db.selectFrom('vms').select('id').orderBy('id').execute()).map((r) => r.id), [live, recent]);
    assert.equal(await purgeExpired(h), 0, 'a second sweep finds nothing');
    await assertInvariants(db, 'after sweeps');
  });
});

test('a restore decides on the VM as it is now: a VM powered on since the request resolved it is refused', async () => {
  await withAcme(async (t) => {
    const id = await vm(t, 'rs');
    const b = await t.req('POST', `${vms}/rs/discs/disc-1/backups`, { token: t.adminToken });
    assert.equal(b.status, 201, b.text);
    const h = t.running.hangar;
    const admin: Principal = { userId: 1, username: 'admin', factors: ['password'], apiKeyId: null, grants: [{ id: 0, level: 'cluster_admin', accountId: null, groupId: null, vmId: null }] };
    const at = await resolveDisc(h, await resolveVmById(h.db, admin, id, { includeDeleted: false }), 'disc-1');
    const backup = await resolveBackup(h, at, String(b.body.id));
    // Powered on between the request's resolution and its write (what a racing PUT power_on does).
    await h.db.updateTable('vms').set({ power_on: 1 }).where('id', '=', id).execute();
    await assert.rejects(restoreBackup(h, admin, at, backup), (err: unknown) => err instanceof DomainError && err.field === 'restore');
    assert.equal(await countOperations(h.db, 'backup.restore', id), 0, 'no restore queued for a running machine');
    // And one purged meanwhile is a 404, not a restore queued for nothing.
    await h.db.updateTable('vms').set({ power_on: 0 }).where('id', '=', id).execute();
    assert.equal((await purge(t, 'rs')).status, 204);
    await assert.rejects(restoreBackup(h, admin, at, backup), (err: unknown) => isCode(err, 'not_found'));
    assert.equal(await countOperations(h.db, 'backup.restore', id), 0);
    await assertInvariants(h.db, 'after restores refused');
  });
});
