// Every entity has a public id (a UUID) beside its integer id (issue 8): migration 009 gives one to
// every row already stored (025 to IP addresses), and every insert sets one. Before, no table had a
// `uuid` column.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kysely } from 'kysely';
import { migrations } from '../../src/store/db.js';
import { SecretBox } from '../../src/core/secrets.js';
import { account, migratableStore, startTest } from '../helpers.js';

const TABLES = ['accounts', 'groups', 'vms', 'discs', 'nics', 'users', 'privileges', 'api_keys', 'backups', 'backup_schedules', 'invitations', 'ips'];
const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Every row of every table has a UUID v4, and no two rows of a table share one; at least one row each. */
async function assertPublicIds(db: Kysely<any>, what: string): Promise<void> {
  for (const table of TABLES) {
    const rows = await db.selectFrom(table).select(['id', 'uuid']).execute();
    assert.ok(rows.length > 0, `${what}: the fixture made no ${table}`);
    for (const r of rows) assert.match(String(r.uuid), V4, `${what}: ${table} ${r.id} has no public id`);
    assert.equal(new Set(rows.map((r) => r.uuid)).size, rows.length, `${what}: ${table} has a duplicate public id`);
  }
}

test('every row made through the API has a unique public id: accounts, groups, VMs, discs, NICs, users, grants, keys, backups, schedules, invitations', async () => {
  const t = await startTest();
  try {
    const acme = await account(t, 'acme');
    const other = await account(t, 'other');
    assert.equal((await t.req('POST', '/accounts/acme/groups', { token: t.adminToken, body: { name: 'g2' } })).status, 201);
    for (const name of ['web1', 'web2']) {
      const r = await t.req('POST', '/accounts/acme/groups/default/vm_create', {
        token: t.adminToken,
        body: { virtual_machine: { name, power_on: false }, discs: [{ size: 10240, backup_schedules: [{ interval_seconds: 86400 }] }, { size: 10240 }] },
      });
      assert.equal(r.status, 202, r.text);
    }
    const A = '/accounts/acme/groups/default/virtual_machines';
    let r = await t.req('POST', `${A}/web1/discs`, { token: t.adminToken, body: { size: 10240 } });
    assert.equal(r.status, 201, r.text);
    r = await t.req('POST', `${A}/web1/discs/disc-1/backups`, { token: t.adminToken });
    assert.equal(r.status, 201, r.text);
    r = await t.req('POST', `${A}/web1/discs/disc-1/backup_schedules`, { token: t.adminToken, body: { interval_seconds: 3600 } });
    assert.ok(r.status < 300, r.text);
    const vm = (await t.req('GET', `${A}/web1`, { token: t.adminToken })).body;
    const bob = await t.user('bob', { level: 'group_admin', group_id: acme.defaultGroupId }, acme.id);
    await t.user('carol', undefined, other.id);
    r = await t.req('POST', '/users/carol/privileges', { token: bob, body: { level: 'vm_admin', virtual_machine_id: vm.id } });
    assert.equal(r.body.pending, true, r.text);
    r = await t.req('POST', '/api_keys', { token: bob, body: { label: 'ci' } });
    assert.equal(r.status, 201, r.text);
    r = await t.req('POST', '/users/bob/privileges', { token: bob, body: { level: 'vm_admin', virtual_machine_id: vm.id, api_key_id: r.body.id } });
    assert.equal(r.status, 201, r.text);
    await assertPublicIds(t.running.hangar.db as unknown as Kysely<any>, 'after the fixture');
  } finally {
    await t.close();
  }
});

test('migrations 009 and 025 give every existing row a public id (addresses too), and refuse a row without one afterwards', async () => {
  const { db, migrator, close } = await migratableStore();
  try {
    const all = Object.keys(migrations(SecretBox.ephemeral())).sort();
    const before = all.filter((m) => m < '009');
    assert.ok(all.includes('009_public_ids'), 'migration 009 is registered');
    assert.equal((await migrator.migrateTo(before.at(-1)!)).error, undefined);
    const t = 1_700_000_000_000;
    const one = async (table: string, values: Record<string, unknown>) => (await db.insertInto(table).values(values).returning('id').executeTakeFirstOrThrow()).id as number;
    for (let i = 0; i < 3; i++) {
      const acc = await one('accounts', { name: `a${i}`, created_at: t });
      const grp = await one('groups', { account_id: acc, name: 'default', vlan_num: null, created_at: t });
      const vm = await one('vms', {
        group_id: grp, name: 'web1', cores: 1, memory: 256, power_on: 0, autoreboot_on: 0, hardware_profile: 'virtio2013',
        hardware_profile_locked: 0, zone_name: 'default', vnc_password: 'x', created_at: t, updated_at: t,
      });
      const disc = await one('discs', { vm_id: vm, label: 'disc-1', storage_grade: 'sata', size: 10240, storage_pool_id: null, created_at: t });
      const nic = await one('nics', { vm_id: vm, label: null, mac: `52:54:00:00:00:0${i}`, vlan_num: 1, created_at: t });
      await one('ips', { range_id: null, offset: null, address: `10.9.0.${i + 2}`, family: 4, nic_id: nic, routed_via: null, rdns: null, reason: null, created_at: t });
      await one('backups', { disc_id: disc, label: 'b1', size: 10240, storage_grade: 'iceberg', manual: 1, created_at: t });
      await one('backup_schedules', { disc_id: disc, start_at: '2030-01-01 00:00:00 UTC', interval_seconds: 3600, capacity: 1, created_at: t });
      // An all-digit username from before the rule: it keeps its row, reachable by its id and public id.
      const user = await one('users', { username: i === 0 ? '4242' : `u${i}`, email: '', password_hash: 'x', created_at: t });
      const key = await one('api_keys', { user_id: user, label: 'ci', key_hash: `h${i}`, expires_at: null, created_at: t });
      await one('privileges', {
        user_id: user, level: 'vm_admin', account_id: null, group_id: null, virtual_machine_id: vm, api_key_id: key,
        password_required: 1, yubikey_required: 0, yubikey_otp_max_age: 900, created_at: t,
      });
      await one('invitations', {
        user_id: user, username: 'x', level: 'vm_console', account_id: acc, group_id: null, virtual_machine_id: vm,
        password_required: 1, yubikey_required: 0, yubikey_otp_max_age: 900, created_at: t, expires_at: t + 1,
      });
    }
    assert.equal((await migrator.migrateToLatest()).error, undefined);
    await assertPublicIds(db, 'after migrations 009 and 025');
    // Unique and required from now on: a copied or missing public id is refused by the store itself.
    const taken = (await db.selectFrom('accounts').select('uuid').executeTakeFirstOrThrow()).uuid;
    await assert.rejects(db.insertInto('accounts').values({ name: 'copy', created_at: t, uuid: taken }).execute());
    await assert.rejects(db.insertInto('accounts').values({ name: 'none', created_at: t }).execute());
    const address = { range_id: null, offset: null, family: 4, nic_id: null, routed_via: null, rdns: null, reason: null, created_at: t };
    const ipTaken = (await db.selectFrom('ips').select('uuid').executeTakeFirstOrThrow()).uuid;
    await assert.rejects(db.insertInto('ips').values({ ...address, address: '10.9.1.1', uuid: ipTaken }).execute());
    await assert.rejects(db.insertInto('ips').values({ ...address, address: '10.9.1.2' }).execute());
  } finally {
    await close();
  }
});
