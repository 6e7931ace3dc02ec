// Zones as rows (docs/domain.md §6), through core alone: one row per zone a head is in (made when a
// head registers in a new zone, and by migration 013 from the strings stored before it), VMs and heads
// pointing to it, `available` from online heads, the one id rule, and the label only a cluster admin
// sets. BigV's `zone_names` stays the heads' zone names. SQLite always; PostgreSQL too when
// HANGAR_TEST_DATABASE_URL is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { freshStore, migratableStore, startTest, type TestHangar } from '../helpers.js';
import type { Principal } from '../../src/core/principal.js';
import { createAccount } from '../../src/core/tree.js';
import { createVm } from '../../src/core/vms/create.js';
import { listZones, setZoneLabel, zoneByRef } from '../../src/core/zones.js';
import { catalogue } from '../../src/core/definitions.js';
import { isCode } from '../../src/core/errors.js';
import { migrations } from '../../src/store/db.js';
import { SecretBox } from '../../src/core/secrets.js';
import { upsertHead, type HeadFacts } from '../../src/store/repos/heads.js';

const STORES: { name: string; postgres: boolean }[] = [{ name: 'SQLite', postgres: false }];
if (process.env.HANGAR_TEST_DATABASE_URL) STORES.push({ name: 'PostgreSQL', postgres: true });
else console.log('# zones: PostgreSQL variant skipped: HANGAR_TEST_DATABASE_URL is not set');

async function withTwoZones(postgres: boolean, fn: (t: TestHangar, admin: Principal) => Promise<void>): Promise<void> {
  const store = await freshStore({ postgres });
  const t = await startTest({ storeUrl: store.url, heads: [{ label: 'head1', zone: 'default' }, { label: 'head2', zone: 'east' }] });
  try {
    const user = await t.running.hangar.db.selectFrom('users').select('id').where('username', '=', 'admin').executeTakeFirstOrThrow();
    await fn(t, { userId: user.id, username: 'admin', factors: ['password'], apiKeyId: null, grants: [{ id: 0, level: 'cluster_admin', accountId: null, groupId: null, vmId: null }] });
  } finally {
    await t.close();
    await store.drop();
  }
}

for (const store of STORES) {
  test(`each zone a head registers in has one row, named by id, public id or name, available while an online head is in it (${store.name})`, async () => {
    await withTwoZones(store.postgres, async (t, admin) => {
      const h = t.running.hangar;
      const zones = await listZones(h);
      assert.deepEqual(zones.map((z) => [z.name, z.label, z.available, z.region]), [
        ['default', 'default', true, h.config.clusterDomain], ['east', 'east', true, h.config.clusterDomain],
      ]);
      const heads = await h.db.selectFrom('heads').select(['label', 'zone_id']).orderBy('label').execute();
      assert.deepEqual(heads.map((r) => r.zone_id), zones.map((z) => z.id), 'each head points to its zone row');
      const east = zones[1]!;
      for (const ref of [String(east.id), east.publicId, east.publicId.toUpperCase(), 'east', 'EAST']) {
        assert.equal((await zoneByRef(h, ref)).id, east.id, `"${ref}" names the zone`);
      }
      for (const ref of ['west', '999999', crypto.randomUUID()]) {
        await assert.rejects(zoneByRef(h, ref), (e: unknown) => isCode(e, 'not_found'), `"${ref}" names nothing`);
      }
      // A head registering again in its zone makes no row; one registering in a new zone makes its row.
      const facts: HeadFacts = { zone: 'east', driver: 'fake', accel: 'tcg', cores: 2, memory: 2048, managementAddress: '127.0.0.9', online: false, note: null, grades: {} };
      await upsertHead(h.db, 'head3', facts, Date.now());
      assert.deepEqual((await listZones(h)).map((z) => z.name), ['default', 'east']);
      await upsertHead(h.db, 'head3', { ...facts, zone: 'north' }, Date.now());
      const north = await zoneByRef(h, 'north');
      assert.deepEqual([north.label, north.available], ['north', false], 'a zone with only an offline head is not available');
      assert.equal((await h.db.selectFrom('heads').select('zone_id').where('label', '=', 'head3').executeTakeFirstOrThrow()).zone_id, north.id);
      await h.db.updateTable('heads').set({ online: 0 }).where('label', '=', 'head2').execute();
      assert.equal((await zoneByRef(h, 'east')).available, false, 'no online head: not available');
      assert.equal((await zoneByRef(h, 'default')).available, true);
      await h.db.deleteFrom('storage_pools').where('head_id', 'in', h.db.selectFrom('heads').select('id').where('label', '=', 'head3')).execute();
      await h.db.deleteFrom('heads').where('label', '=', 'head3').execute();
      // BigV's definitions list the zones by name, as before.
      assert.deepEqual((await catalogue(h.db)).zones, ['default', 'east'], 'zone_names: the heads\' zones');

      // A VM's zone_id follows the zone it was placed in.
      const account = await createAccount(h, admin, { name: 'acme' });
      const group = await h.db.selectFrom('groups').selectAll().where('account_id', '=', account.id).executeTakeFirstOrThrow();
      const made = await createVm(h, admin, account, group, { name: 'web1', cores: 1, memoryMiB: 512, zone: 'default' }, 'bigv');
      assert.equal(made.view.row.zone_name, 'default');
      assert.equal(made.view.row.zone_id, zones[0]!.id);
    });
  });

  test(`only a cluster admin labels a zone, with 1–255 characters (${store.name})`, async () => {
    await withTwoZones(store.postgres, async (t, admin) => {
      const h = t.running.hangar;
      const labelled = await setZoneLabel(h, admin, 'east', '  DC1/PUBLIC-1 ');
      assert.equal(labelled.label, 'DC1/PUBLIC-1');
      assert.equal((await zoneByRef(h, 'east')).label, 'DC1/PUBLIC-1');
      assert.equal((await zoneByRef(h, 'east')).name, 'east', 'the name (BigV zone_name) does not change');
      const accountAdmin: Principal = { ...admin, userId: admin.userId + 1000, grants: [{ id: 1, level: 'account_admin', accountId: 1, groupId: null, vmId: null }] };
      await assert.rejects(setZoneLabel(h, accountAdmin, 'east', 'mine'), (e: unknown) => isCode(e, 'forbidden'));
      await assert.rejects(setZoneLabel(h, admin, 'east', '   '), (e: unknown) => isCode(e, 'required'));
      await assert.rejects(setZoneLabel(h, admin, 'east', 'x'.repeat(256)), (e: unknown) => isCode(e, 'too_long'));
      await assert.rejects(setZoneLabel(h, admin, 'west', 'x'), (e: unknown) => isCode(e, 'not_found'));
      assert.equal((await zoneByRef(h, 'east')).label, 'DC1/PUBLIC-1');
    });
  });
}

test('migration 013 makes a zone row for each distinct head zone and VM zone name, points heads and VMs to them, and versions the identity fields', async () => {
  const { db, migrator, close } = await migratableStore();
  try {
    const all = Object.keys(migrations(SecretBox.ephemeral())).sort();
    assert.ok(all.includes('013_identity_zones_networks'), 'migration 013 is registered');
    assert.equal((await migrator.migrateTo(all.filter((m) => m < '013').at(-1)!)).error, undefined);
    const t = 1_700_000_000_000;
    const one = async (table: string, values: Record<string, unknown>) => (await db.insertInto(table).values(values).returning('id').executeTakeFirstOrThrow()).id as number;
    await one('heads', { label: 'h1', zone: 'york', driver: 'fake', cores: 4, memory: 4096, management_address: '127.0.0.1', online: 1, created_at: t });
    await one('heads', { label: 'h2', zone: 'york', driver: 'fake', cores: 4, memory: 4096, management_address: '127.0.0.2', online: 0, created_at: t });
    const acc = await one('accounts', { uuid: crypto.randomUUID(), name: 'a', created_at: t });
    const grp = await one('groups', { uuid: crypto.randomUUID(), account_id: acc, name: 'default', vlan_num: null, created_at: t });
    const vm = (name: string, zone: string) => one('vms', {
      uuid: crypto.randomUUID(), group_id: grp, name, cores: 1, memory: 256, power_on: 0, autoreboot_on: 0, hardware_profile: 'virtio2013',
      hardware_profile_locked: 0, zone_name: zone, vnc_password: 'x', created_at: t, updated_at: t,
    });
    const inYork = await vm('web1', 'york');
    const inLeeds = await vm('web2', 'leeds'); // a zone no head is in any more
    assert.equal((await migrator.migrateToLatest()).error, undefined);
    const zones = await db.selectFrom('zones').selectAll().orderBy('name').execute();
    assert.deepEqual(zones.map((z) => [z.name, z.label, z.region]), [['leeds', 'leeds', null], ['york', 'york', null]]);
    assert.ok(zones.every((z) => /^[0-9a-f-]{36}$/.test(z.uuid)), 'each zone has a public id');
    const zoneId = (name: string) => zones.find((z) => z.name === name)!.id;
    assert.deepEqual((await db.selectFrom('heads').select('zone_id').execute()).map((r) => r.zone_id), [zoneId('york'), zoneId('york')]);
    const vms = await db.selectFrom('vms').select(['id', 'zone_id', 'label', 'version']).orderBy('id').execute();
    assert.deepEqual(vms.map((r) => [r.id, r.zone_id, r.label]), [[inYork, zoneId('york'), null], [inLeeds, zoneId('leeds'), null]]);
    // The version trigger still watches the old columns, and now the identity fields too.
    await db.updateTable('vms').set({ label: 'Web' }).where('id', '=', inYork).execute();
    await db.updateTable('vms').set({ cores: 2 }).where('id', '=', inYork).execute();
    await db.updateTable('vms').set({ run_state: 'running' }).where('id', '=', inYork).execute();
    const after = await db.selectFrom('vms').select('version').where('id', '=', inYork).executeTakeFirstOrThrow();
    assert.equal(after.version, vms[0]!.version + 2, 'label and cores bump it; observed state does not');
    await assert.rejects(db.insertInto('zones').values({ uuid: crypto.randomUUID(), name: 'york', label: 'again', created_at: t }).execute(), 'zone names are unique');
  } finally {
    await close();
  }
});
