// One id rule for every path segment (issue 8): a UUID-shaped segment is a public id, an all-digit one
// an integer id, anything else a name. It was applied five different ways: `POST /users
// {"username":"4242"}` was 201, then `GET /users/4242` was 404 (read as id 4242); UUID-shaped names
// were accepted although a dialect that resolves public ids would read them as one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { account, startTest, type TestHangar } from '../helpers.js';

const UUID = '0b7e4f52-3c1a-4d2e-9f60-1a2b3c4d5e6f';
const A = '/accounts/acme/groups/default/virtual_machines';

async function uuidOf(t: TestHangar, table: string, id: number): Promise<string> {
  const db = t.running.hangar.db as unknown as Kysely<any>;
  const row = await db.selectFrom(table).select('uuid').where('id', '=', id).executeTakeFirstOrThrow();
  assert.match(String(row.uuid), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, `${table} ${id} has a UUID v4`);
  return row.uuid as string;
}

test('an all-digit or UUID-shaped username is refused (4242 was created, then unreachable by its name)', async () => {
  const t = await startTest();
  try {
    for (const username of ['4242', UUID]) {
      const r = await t.req('POST', '/users', { token: t.adminToken, body: { username, password: 'a-good-password-1', email: 'x@example.com' } });
      assert.equal(r.status, 400, `${username}: ${r.text}`);
      assert.deepEqual(Object.keys(r.body), ['username']);
    }
  } finally {
    await t.close();
  }
});

test('UUID-shaped names are refused for accounts, groups, VMs, disc and API key labels; all-digit disc and API key labels too', async () => {
  const t = await startTest();
  try {
    let r = await t.req('POST', '/accounts', { token: t.adminToken, body: { name: UUID } });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(Object.keys(r.body), ['name']);
    await account(t, 'acme');
    r = await t.req('POST', '/accounts/acme/groups', { token: t.adminToken, body: { name: UUID } });
    assert.equal(r.status, 400, r.text);
    assert.ok(r.body.name, r.text);
    r = await t.req('POST', '/accounts/acme/groups', { token: t.adminToken, body: { name: 'g1' } });
    assert.equal(r.status, 201, r.text);
    r = await t.req('PUT', '/accounts/acme/groups/g1', { token: t.adminToken, body: { name: UUID } });
    assert.equal(r.status, 400, r.text);
    assert.ok(r.body.name, r.text);
    r = await t.req('POST', '/accounts/acme/groups/default/vm_create', { token: t.adminToken, body: { virtual_machine: { name: UUID, power_on: false }, discs: [{ size: 10240 }] } });
    assert.equal(r.status, 400, r.text);
    assert.ok(r.body.name, r.text);
    for (const label of ['42', UUID]) {
      r = await t.req('POST', '/accounts/acme/groups/default/vm_create', { token: t.adminToken, body: { virtual_machine: { name: 'web1', power_on: false }, discs: [{ label, size: 10240 }] } });
      assert.equal(r.status, 400, `${label}: ${r.text}`);
      assert.ok(r.body.label ?? r.body.discs, r.text);
    }
    r = await t.req('POST', '/accounts/acme/groups/default/vm_create', { token: t.adminToken, body: { virtual_machine: { name: 'web1', power_on: false }, discs: [{ size: 10240 }] } });
    assert.equal(r.status, 202, r.text);
    for (const label of ['42', UUID]) {
      r = await t.req('POST', `${A}/web1/discs`, { token: t.adminToken, body: { label, size: 10240 } });
      assert.equal(r.status, 400, `${label}: ${r.text}`);
      assert.deepEqual(Object.keys(r.body), ['label']);
    }
    r = await t.req('PUT', `${A}/web1`, { token: t.adminToken, body: { name: UUID } });
    assert.equal(r.status, 400, r.text);
    assert.ok(r.body.name, r.text);
    // API keys are resolved by label in a path too.
    for (const label of ['42', UUID]) {
      r = await t.req('POST', '/api_keys', { token: t.adminToken, body: { label } });
      assert.equal(r.status, 400, `${label}: ${r.text}`);
      assert.deepEqual(Object.keys(r.body), ['label']);
    }
  } finally {
    await t.close();
  }
});

test('every resource is reachable by its id, its name and its public id, in every path segment', async () => {
  const t = await startTest();
  try {
    const acme = await account(t, 'acme');
    let r = await t.req('POST', '/accounts/acme/groups/default/vm_create', {
      token: t.adminToken, body: { virtual_machine: { name: 'web1', power_on: false }, discs: [{ label: 'root', size: 10240 }] },
    });
    assert.equal(r.status, 202, r.text);
    const vm = (await t.req('GET', `${A}/web1?view=overview`, { token: t.adminToken })).body;
    const [acc, grp, vmU, disc, nic] = [
      await uuidOf(t, 'accounts', acme.id), await uuidOf(t, 'groups', acme.defaultGroupId), await uuidOf(t, 'vms', vm.id),
      await uuidOf(t, 'discs', vm.discs[0].id), await uuidOf(t, 'nics', vm.network_interfaces[0].id),
    ];
    // The wire shape is BigV's: its clients never saw a public id.
    assert.equal(vm.uuid, undefined);

    const get = async (url: string, want: number) => {
      const g = await t.req('GET', url, { token: t.adminToken });
      assert.equal(g.status, 200, `${url}: ${g.text}`);
      assert.equal(g.body.id, want, url);
    };
    for (const a of [String(acme.id), 'acme', acc, acc.toUpperCase()]) await get(`/accounts/${a}`, acme.id);
    for (const g of [String(acme.defaultGroupId), 'default', grp]) await get(`/accounts/${acc}/groups/${g}`, acme.defaultGroupId);
    for (const v of [String(vm.id), 'web1', vmU]) {
      await get(`/accounts/acme/groups/default/virtual_machines/${v}`, vm.id);
      await get(`/accounts/${acme.id}/groups/${grp}/virtual_machines/${v}`, vm.id);
    }
    await get(`/virtual_machines/${vm.id}`, vm.id);
    await get(`/virtual_machines/${vmU}`, vm.id);
    for (const d of [String(vm.discs[0].id), 'root', disc]) await get(`${A}/${vmU}/discs/${d}`, vm.discs[0].id);
    await get(`/discs/${disc}`, vm.discs[0].id);
    await get(`${A}/web1/nics/${nic}`, vm.network_interfaces[0].id);
    await get(`/nics/${nic}`, vm.network_interfaces[0].id);
    r = await t.req('GET', `/discs?vm_id=${vmU}`, { token: t.adminToken });
    assert.deepEqual(r.body.map((d: { id: number }) => d.id), [vm.discs[0].id]);
    r = await t.req('GET', `/virtual_machines?account_id=${acc}&group_id=${grp}`, { token: t.adminToken });
    assert.deepEqual(r.body.map((v: { id: number }) => v.id), [vm.id]);
    r = await t.req('GET', `/groups?account_id=${acc}`, { token: t.adminToken });
    assert.deepEqual(r.body.map((g: { id: number }) => g.id), [acme.defaultGroupId]);

    // Backups and schedules of the disc.
    r = await t.req('POST', `${A}/web1/discs/root/backups`, { token: t.adminToken });
    assert.equal(r.status, 201, r.text);
    const backup = r.body;
    const backupU = await uuidOf(t, 'backups', backup.id);
    for (const b of [String(backup.id), backup.label, backupU]) {
      r = await t.req('PUT', `${A}/web1/discs/root/backups/${b}`, { token: t.adminToken, body: { restore: true } });
      assert.equal(r.status, 200, `${b}: ${r.text}`);
      assert.equal(r.body.id, backup.id);
    }
    r = await t.req('POST', `${A}/web1/discs/root/backup_schedules`, { token: t.adminToken, body: { start_at: '00:00:00', interval_seconds: 86400 } });
    assert.ok(r.status >= 200 && r.status < 300, r.text);
    const scheduleU = await uuidOf(t, 'backup_schedules', r.body.id);
    r = await t.req('DELETE', `${A}/web1/discs/root/backup_schedules/${scheduleU}`, { token: t.adminToken });
    assert.equal(r.status, 204, r.text);

    // Users, their privileges and API keys.
    await t.user('bob', { level: 'vm_admin', virtual_machine_id: vm.id }, acme.id);
    const bob = (await t.req('GET', '/users/bob', { token: t.adminToken })).body;
    const bobU = await uuidOf(t, 'users', bob.id);
    for (const u of [String(bob.id), 'bob', bobU]) await get(`/users/${u}`, bob.id);
    r = await t.req('GET', `/users/${bobU}/privileges`, { token: t.adminToken });
    assert.equal(r.status, 200, r.text);
    const priv = r.body[0];
    const privU = await uuidOf(t, 'privileges', priv.id);
    for (const p of [String(priv.id), privU]) await get(`/privileges/${p}`, priv.id);
    r = await t.req('POST', '/api_keys', { token: t.adminToken, body: { label: 'ci' } });
    assert.equal(r.status, 201, r.text);
    const key = r.body;
    const keyU = await uuidOf(t, 'api_keys', key.id);
    for (const k of [String(key.id), 'ci', keyU]) await get(`/api_keys/${k}`, key.id);

    // An invitation (a grant to a user outside the account).
    await account(t, 'other');
    await t.user('carol', undefined, (await t.req('GET', '/accounts/other', { token: t.adminToken })).body.id);
    const bobSession = await t.login('bob', 'bob-password-1');
    r = await t.req('POST', '/users/carol/privileges', { token: bobSession, body: { level: 'vm_console', virtual_machine_id: vm.id } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.pending, true, r.text);
    const invU = await uuidOf(t, 'invitations', r.body.invitation_id); // an invitation's id is null: it is no privilege
    r = await t.req('DELETE', `/invitations/${invU}`, { token: bobSession });
    assert.equal(r.status, 204, r.text);

    // A UUID naming nothing, and one naming a row of another kind, name nothing here.
    for (const url of [`/accounts/${UUID}`, `/accounts/${grp}`, `/virtual_machines/${disc}`, `/users/${UUID}`, `/privileges/${UUID}`]) {
      r = await t.req('GET', url, { token: t.adminToken });
      assert.equal(r.status, 404, `${url}: ${r.text}`);
    }
  } finally {
    await t.close();
  }
});
