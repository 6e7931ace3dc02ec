// The three delete modes (docs/domain.md §23), through core alone (no dialect route), on the fake
// driver: BigV's soft delete, the cascade (BigV purge, Gigas destroy, e24cloud `deleteResources: 1`),
// and e24cloud's `deleteResources: 0`, which keeps every disc as a volume of the account with no VM
// and every address held by the account. Counters, pools and head claims stay consistent
// (assertInvariants). SQLite always; PostgreSQL too when HANGAR_TEST_DATABASE_URL is set.
import { test } from 'node:test';
import { storesFor, withCore, type CoreFx } from './fixture.js';
import assert from 'node:assert/strict';
import { migratableStore, until } from '../helpers.js';
import { assertInvariants } from '../invariants.js';
import { migrations } from '../../src/store/db.js';
import { SecretBox } from '../../src/core/secrets.js';
import type { Principal } from '../../src/core/principal.js';
import { createVm } from '../../src/core/vms/create.js';
import { deleteVm, purgeExpired, type DeleteMode } from '../../src/core/vms/delete.js';
import { createBackup, createSchedule, resolveDiscById } from '../../src/core/discs.js';
import { isCode } from '../../src/core/errors.js';
import type { VmPlace } from '../../src/core/resolve.js';

const STORES = storesFor('delete-modes');

type Fx = CoreFx;

/** A VM with two discs (one with a backup schedule and a backup), created through core: its place. */
async function makeVm(fx: Fx, name: string): Promise<VmPlace> {
  const h = fx.t.running.hangar;
  const made = await createVm(h, fx.admin, fx.account, fx.group, {
    name, cores: 1, memoryMiB: 1024, powerOn: false,
    discs: [{ label: 'disc-1', grade: 'sata', sizeMiB: 10240, backupSchedules: [{ intervalSeconds: 86400 }] }, { label: 'disc-2', grade: 'sata', sizeMiB: 2048 }],
  }, 'bigv');
  const vm = await h.db.selectFrom('vms').selectAll().where('id', '=', made.view.row.id).executeTakeFirstOrThrow();
  const at = { vm, group: fx.group, account: fx.account };
  const disc = await h.db.selectFrom('discs').selectAll().where('vm_id', '=', vm.id).where('label', '=', 'disc-1').executeTakeFirstOrThrow();
  await createBackup(h, fx.admin, { ...at, disc: disc as typeof disc & { vm_id: number } });
  await createSchedule(h, fx.admin, { ...at, disc: disc as typeof disc & { vm_id: number } }, { interval_seconds: 3600 });
  return at;
}

async function snapshot(fx: Fx, vmId: number) {
  const db = fx.t.running.hangar.db;
  const discs = await db.selectFrom('discs').selectAll().where('vm_id', '=', vmId).orderBy('id').execute();
  const nics = await db.selectFrom('nics').select('id').where('vm_id', '=', vmId).execute();
  const ips = nics.length ? await db.selectFrom('ips').selectAll().where('nic_id', 'in', nics.map((n) => n.id)).execute() : [];
  const head = await db.selectFrom('heads').selectAll().executeTakeFirstOrThrow();
  const pools = await db.selectFrom('storage_pools').select(['id', 'used']).orderBy('id').execute();
  return { discs, nics, ips, head, pools };
}

const purgeOp = (fx: Fx, vmId: number) => fx.t.running.hangar.db.selectFrom('operations').selectAll().where('vm_id', '=', vmId).where('kind', '=', 'purge').executeTakeFirst();
const discIds = (rows: { id: number }[]) => rows.map((r) => r.id);

for (const store of STORES) {
  test(`soft delete keeps the VM, its discs, NICs and addresses, holds its head claim, and a later purge frees them (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const at = await makeVm(fx, 'web1');
      const before = await snapshot(fx, at.vm.id);
      assert.ok(before.ips.length >= 1, 'the VM has addresses');
      await deleteVm(h, fx.admin, at, { mode: 'soft' });
      const vm = await h.db.selectFrom('vms').selectAll().where('id', '=', at.vm.id).executeTakeFirstOrThrow();
      assert.equal(vm.deleted, 1);
      assert.equal(vm.power_on, 0);
      const after = await snapshot(fx, at.vm.id);
      assert.deepEqual(discIds(after.discs), discIds(before.discs));
      assert.deepEqual(after.ips.map((i) => i.address), before.ips.map((i) => i.address));
      assert.equal(after.head.used_cores, before.head.used_cores, 'a soft-deleted VM keeps its head claim (it can be undeleted)');
      assert.deepEqual(after.pools, before.pools);
      assert.equal(await purgeOp(fx, at.vm.id), undefined);
      await assertInvariants(h.db, 'after a soft delete');
      // Past the undelete window, the sweep purges it (the cascade).
      h.now = () => Date.now() + (h.config.undeleteDays + 1) * 86_400_000;
      assert.equal(await purgeExpired(h), 1);
      assert.equal(await h.db.selectFrom('vms').select('id').where('id', '=', at.vm.id).executeTakeFirst(), undefined);
      await assertInvariants(h.db, 'after the sweep');
    });
  });

  test(`cascade removes the VM, its discs, backups, schedules and NICs, puts its addresses back in the pool and frees its claims (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const idle = await snapshot(fx, -1);
      const at = await makeVm(fx, 'web1');
      const before = await snapshot(fx, at.vm.id);
      await until('the disc files on the head', async () => fx.t.drivers[0]!.discs.size === 2);
      await deleteVm(h, fx.admin, at, { mode: 'cascade' });
      const db = h.db;
      assert.equal(await db.selectFrom('vms').select('id').where('id', '=', at.vm.id).executeTakeFirst(), undefined);
      assert.equal((await db.selectFrom('discs').select('id').where('id', 'in', discIds(before.discs)).execute()).length, 0, 'discs destroyed');
      assert.equal((await db.selectFrom('backups').select('id').execute()).length, 0, 'backups removed');
      assert.equal((await db.selectFrom('backup_schedules').select('id').execute()).length, 0, 'schedules removed');
      assert.equal((await db.selectFrom('nics').select('id').where('vm_id', '=', at.vm.id).execute()).length, 0, 'NICs removed');
      const ips = await db.selectFrom('ips').selectAll().where('address', 'in', before.ips.map((i) => i.address)).execute();
      for (const ip of ips) assert.deepEqual([ip.nic_id, ip.account_id], [null, null], `${ip.address} is back in the pool`);
      const after = await snapshot(fx, at.vm.id);
      assert.equal(after.head.used_cores, idle.head.used_cores);
      assert.equal(after.head.used_memory, idle.head.used_memory);
      assert.deepEqual(after.pools, idle.pools, 'pool space given back');
      const op = await purgeOp(fx, at.vm.id);
      assert.deepEqual(JSON.parse(op!.args).discs.map((d: { id: number }) => d.id), discIds(before.discs), 'the head is asked to destroy every disc');
      await until('the head destroyed the disc files', async () => fx.t.drivers[0]!.discs.size === 0);
      await assertInvariants(db, 'after a cascade');
      // The freed address goes to the next VM.
      const next = await makeVm(fx, 'web2');
      assert.ok((await snapshot(fx, next.vm.id)).ips.some((i) => before.ips.some((b) => b.address === i.address)), 'a freed address is handed out again');
      await assertInvariants(db, 'after the next create');
    });
  });

  test(`detach removes the VM and its NICs, keeps every disc as a volume of the account with its backups and pool space, and keeps every address held by the account (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const db = h.db;
      const idle = await snapshot(fx, -1);
      const at = await makeVm(fx, 'web1');
      const before = await snapshot(fx, at.vm.id);
      await until('the disc files on the head', async () => fx.t.drivers[0]!.discs.size === 2);
      await deleteVm(h, fx.admin, at, { mode: 'detach' });
      assert.equal(await db.selectFrom('vms').select('id').where('id', '=', at.vm.id).executeTakeFirst(), undefined, 'the VM is gone');
      assert.equal((await db.selectFrom('nics').select('id').where('vm_id', '=', at.vm.id).execute()).length, 0, 'NICs removed');
      const volumes = await db.selectFrom('discs').selectAll().where('id', 'in', discIds(before.discs)).orderBy('id').execute();
      assert.deepEqual(volumes.map((v) => [v.label, v.vm_id, v.account_id, v.size, v.storage_pool_id]),
        before.discs.map((d) => [d.label, null, fx.account.id, d.size, d.storage_pool_id]), 'every disc, the system disc too, is a volume of the account');
      assert.equal((await db.selectFrom('backups').select('id').execute()).length, 1, 'the backup stays with its volume');
      assert.equal((await db.selectFrom('backup_schedules').select('id').execute()).length, 2, 'schedules stay with their volume');
      const ips = await db.selectFrom('ips').selectAll().where('address', 'in', before.ips.map((i) => i.address)).execute();
      assert.equal(ips.length, before.ips.length);
      for (const ip of ips) assert.deepEqual([ip.nic_id, ip.account_id], [null, fx.account.id], `${ip.address} is held by the account, unattached`);
      const after = await snapshot(fx, at.vm.id);
      assert.equal(after.head.used_cores, idle.head.used_cores, 'the head claim is freed');
      assert.deepEqual(after.pools, before.pools, 'the volumes keep their pool space');
      const op = await purgeOp(fx, at.vm.id);
      assert.deepEqual(JSON.parse(op!.args).discs, [], 'the head destroys no disc');
      await until('the head finished the purge', async () => (await purgeOp(fx, at.vm.id))?.state === 'done');
      assert.equal(fx.t.drivers[0]!.discs.size, 2, 'the volumes\' files are still on the head');
      await assertInvariants(db, 'after a detach');
      // BigV never sees a volume with no VM.
      await assert.rejects(resolveDiscById(h, fx.admin, String(volumes[0]!.id)), (e: unknown) => isCode(e, 'not_found'));
      // A held address is never handed to another VM.
      const next = await makeVm(fx, 'web1');
      assert.ok(!(await snapshot(fx, next.vm.id)).ips.some((i) => before.ips.some((b) => b.address === i.address)), 'held addresses are not reused');
      await assertInvariants(db, 'after the next create');
    });
  });

  test(`deleting with a mode the caller may not use is refused, and a second removal of a gone VM is not_found (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const at = await makeVm(fx, 'web1');
      for (const mode of ['cascade', 'detach'] as DeleteMode[]) {
        const viewer: Principal = { ...fx.admin, grants: [{ id: 0, level: 'vm_admin', accountId: null, groupId: null, vmId: at.vm.id }] };
        await assert.rejects(deleteVm(h, viewer, at, { mode }), (e: unknown) => isCode(e, 'forbidden'));
      }
      await deleteVm(h, fx.admin, at, { mode: 'detach' });
      await assert.rejects(deleteVm(h, fx.admin, at, { mode: 'cascade' }), (e: unknown) => isCode(e, 'not_found'));
      await assertInvariants(h.db, 'after a refused and a repeated delete');
    });
  });
}

test('migration 012 keeps existing discs, their ids, backups and sequence, and lets a disc have no VM only when an account owns it', async () => {
  const { db, migrator, close } = await migratableStore();
  try {
    const all = Object.keys(migrations(SecretBox.ephemeral())).sort();
    assert.ok(all.includes('012_owned_resources'), 'migration 012 is registered');
    assert.equal((await migrator.migrateTo(all.filter((m) => m < '012').at(-1)!)).error, undefined);
    const t = 1_700_000_000_000;
    const one = async (table: string, values: Record<string, unknown>) => (await db.insertInto(table).values(values).returning('id').executeTakeFirstOrThrow()).id as number;
    const acc = await one('accounts', { uuid: crypto.randomUUID(), name: 'a', created_at: t });
    const grp = await one('groups', { uuid: crypto.randomUUID(), account_id: acc, name: 'default', vlan_num: null, created_at: t });
    const vm = await one('vms', {
      uuid: crypto.randomUUID(), group_id: grp, name: 'web1', cores: 1, memory: 256, power_on: 0, autoreboot_on: 0, hardware_profile: 'virtio2013',
      hardware_profile_locked: 0, zone_name: 'default', vnc_password: 'x', created_at: t, updated_at: t,
    });
    const disc = (label: string) => one('discs', { uuid: crypto.randomUUID(), vm_id: vm, label, storage_grade: 'sata', size: 10240, storage_pool_id: null, created_at: t });
    const d1 = await disc('disc-1');
    const d2 = await disc('disc-2');
    await db.deleteFrom('discs').where('id', '=', d2).execute(); // the highest id is gone: it must never come back
    await one('backups', { uuid: crypto.randomUUID(), disc_id: d1, label: 'b1', size: 10240, storage_grade: 'iceberg', manual: 1, created_at: t });
    assert.equal((await migrator.migrateToLatest()).error, undefined);
    const rows = await db.selectFrom('discs').selectAll().execute();
    assert.deepEqual(rows.map((r) => [r.id, r.vm_id, r.label, r.account_id]), [[d1, vm, 'disc-1', null]]);
    assert.equal((await db.selectFrom('backups').select('disc_id').executeTakeFirstOrThrow()).disc_id, d1);
    const d3 = await disc('disc-3');
    assert.ok(d3 > d2, `a new disc does not reuse a removed one's id (${d3} after ${d2})`);
    // A disc with no VM must have an owner; public ids are still required.
    await assert.rejects(db.updateTable('discs').set({ vm_id: null }).where('id', '=', d1).execute());
    await db.updateTable('discs').set({ vm_id: null, account_id: acc }).where('id', '=', d1).execute();
    await assert.rejects(db.insertInto('discs').values({ vm_id: vm, label: 'no-uuid', storage_grade: 'sata', size: 1, storage_pool_id: null, created_at: t }).execute());
  } finally {
    await close();
  }
});
