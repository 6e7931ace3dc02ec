// Networks as rows (docs/domain.md §9), through core alone: the public network of the pools' VLAN made
// at start-up with every pool pointing to it, an account's private VLAN made when a VM first lands on a
// group that has one, NICs pointing to their network, and who sees which (public: everyone; private:
// those who see its account). Migration 013 fills them from the VLAN numbers stored before it. SQLite
// always; PostgreSQL too when HANGAR_TEST_DATABASE_URL is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { freshStore, migratableStore, startTest, type TestHangar } from '../helpers.js';
import type { Principal } from '../../src/core/principal.js';
import type { AccountRow, GroupRow } from '../../src/store/schema.js';
import { createAccount, createGroup } from '../../src/core/tree.js';
import { createVm } from '../../src/core/vms/create.js';
import { listNetworks } from '../../src/core/networks.js';
import { migrations } from '../../src/store/db.js';
import { SecretBox } from '../../src/core/secrets.js';

const STORES: { name: string; postgres: boolean }[] = [{ name: 'SQLite', postgres: false }];
if (process.env.HANGAR_TEST_DATABASE_URL) STORES.push({ name: 'PostgreSQL', postgres: true });
else console.log('# networks: PostgreSQL variant skipped: HANGAR_TEST_DATABASE_URL is not set');

const principal = (userId: number, accountId: number | null): Principal => ({
  userId, username: `u${userId}`, factors: ['password'], apiKeyId: null,
  grants: [{ id: 0, level: accountId === null ? 'cluster_admin' : 'account_admin', accountId, groupId: null, vmId: null }],
});

for (const store of STORES) {
  test(`the public network holds the pools; a group's VLAN is its account's private network; each caller sees the public one and their accounts' (${store.name})`, async () => {
    const fresh = await freshStore({ postgres: store.postgres });
    const t: TestHangar = await startTest({ storeUrl: fresh.url });
    try {
      const h = t.running.hangar;
      const admin = principal(1, null);
      const pub = await listNetworks(h, admin);
      assert.deepEqual(pub.map((n) => [n.label, n.vlanNum, n.public, n.accountId]), [['public', h.config.vlanNum, true, null]]);
      const ranges = await h.db.selectFrom('ip_ranges').select('network_id').execute();
      assert.equal(ranges.length, 2);
      assert.ok(ranges.every((r) => r.network_id === pub[0]!.id), 'both pools (IPv4, IPv6) are on the public network');

      const withVlan = async (account: AccountRow, name: string, vlan: number): Promise<GroupRow> => {
        const g = await createGroup(h, admin, account, { name });
        await h.db.updateTable('groups').set({ vlan_num: vlan }).where('id', '=', g.id).execute();
        return { ...g, vlan_num: vlan };
      };
      const nicNetwork = async (vmId: number) => (await h.db.selectFrom('nics').select('network_id').where('vm_id', '=', vmId).executeTakeFirstOrThrow()).network_id;
      const vm = async (account: AccountRow, group: GroupRow, name: string) =>
        (await createVm(h, admin, account, group, { name, cores: 1, memoryMiB: 512 }, 'bigv')).view.row.id;

      const acme = await createAccount(h, admin, { name: 'acme' });
      const other = await createAccount(h, admin, { name: 'other' });
      const acmeDefault = await h.db.selectFrom('groups').selectAll().where('account_id', '=', acme.id).executeTakeFirstOrThrow();
      assert.equal(await nicNetwork(await vm(acme, acmeDefault, 'web1')), pub[0]!.id, 'a group with no VLAN: the public network');

      const a1 = await withVlan(acme, 'back', 42);
      const a2 = await withVlan(acme, 'back2', 42);
      const o1 = await withVlan(other, 'back', 42);
      const inA1 = await nicNetwork(await vm(acme, a1, 'db1'));
      const inA2 = await nicNetwork(await vm(acme, a2, 'db2'));
      const inO1 = await nicNetwork(await vm(other, o1, 'db1'));
      assert.equal(inA1, inA2, 'two groups of one account on one VLAN share a network');
      assert.notEqual(inA1, inO1, 'another account\'s VLAN of the same number is another network');

      const all = await listNetworks(h, admin);
      assert.deepEqual(all.map((n) => [n.id, n.public, n.accountId, n.vlanNum]), [
        [pub[0]!.id, true, null, h.config.vlanNum], [inA1, false, acme.id, 42], [inO1, false, other.id, 42],
      ]);
      assert.deepEqual((await listNetworks(h, principal(2, acme.id))).map((n) => n.id), [pub[0]!.id, inA1]);
      assert.deepEqual((await listNetworks(h, principal(3, other.id))).map((n) => n.id), [pub[0]!.id, inO1]);
      const groupOnly: Principal = { ...principal(4, null), grants: [{ id: 1, level: 'vm_console', accountId: acme.id, groupId: a1.id, vmId: null }] };
      assert.deepEqual((await listNetworks(h, groupOnly)).map((n) => n.id), [pub[0]!.id, inA1]);
      const nobody: Principal = { ...principal(5, null), grants: [] };
      assert.deepEqual((await listNetworks(h, nobody)).map((n) => n.id), [pub[0]!.id]);
      assert.ok(all.every((n) => /^[0-9a-f-]{36}$/.test(n.publicId)), 'each network has a public id');
    } finally {
      await t.close();
      await fresh.drop();
    }
  });
}

test('migration 013 makes the public network of each pool VLAN and a private network per account VLAN, and points pools and NICs to them', async () => {
  const { db, migrator, close } = await migratableStore();
  try {
    const all = Object.keys(migrations(SecretBox.ephemeral())).sort();
    assert.equal((await migrator.migrateTo(all.filter((m) => m < '013').at(-1)!)).error, undefined);
    const t = 1_700_000_000_000;
    const one = async (table: string, values: Record<string, unknown>) => (await db.insertInto(table).values(values).returning('id').executeTakeFirstOrThrow()).id as number;
    const r4 = await one('ip_ranges', { cidr: '192.0.2.0/24', family: 4, vlan_num: 1, zone: null, next_offset: 2, first_offset: 2, last_offset: 254 });
    const r6 = await one('ip_ranges', { cidr: '2001:db8::/64', family: 6, vlan_num: 1, zone: null, next_offset: 2, first_offset: 2, last_offset: 1000 });
    const acc = await one('accounts', { uuid: crypto.randomUUID(), name: 'a', created_at: t });
    const plain = await one('groups', { uuid: crypto.randomUUID(), account_id: acc, name: 'default', vlan_num: null, created_at: t });
    const priv = await one('groups', { uuid: crypto.randomUUID(), account_id: acc, name: 'back', vlan_num: 7, created_at: t });
    const nic = async (group: number, name: string, vlan: number) => {
      const vm = await one('vms', {
        uuid: crypto.randomUUID(), group_id: group, name, cores: 1, memory: 256, power_on: 0, autoreboot_on: 0, hardware_profile: 'virtio2013',
        hardware_profile_locked: 0, zone_name: 'default', vnc_password: 'x', created_at: t, updated_at: t,
      });
      return one('nics', { uuid: crypto.randomUUID(), vm_id: vm, label: null, mac: `fe:ff:00:00:00:0${vlan}`, vlan_num: vlan, created_at: t });
    };
    const nPlain = await nic(plain, 'web1', 1);
    const nPriv = await nic(priv, 'db1', 7);
    assert.equal((await migrator.migrateToLatest()).error, undefined);
    const nets = await db.selectFrom('networks').selectAll().orderBy('id').execute();
    assert.deepEqual(nets.map((n) => [n.label, n.vlan_num, n.public, n.account_id]), [['public', 1, 1, null], ['vlan-7', 7, 0, acc]]);
    const ranges = await db.selectFrom('ip_ranges').select(['id', 'network_id']).orderBy('id').execute();
    assert.deepEqual(ranges, [{ id: r4, network_id: nets[0]!.id }, { id: r6, network_id: nets[0]!.id }]);
    const nics = await db.selectFrom('nics').select(['id', 'network_id']).orderBy('id').execute();
    assert.deepEqual(nics, [{ id: nPlain, network_id: nets[0]!.id }, { id: nPriv, network_id: nets[1]!.id }]);
    await assert.rejects(db.insertInto('networks').values({ uuid: crypto.randomUUID(), label: 'x', vlan_num: 1, public: 1, account_id: null, created_at: t }).execute(),
      'one public network per VLAN');
  } finally {
    await close();
  }
});
