// Snapshots through core (core/snapshots.ts, docs/domain.md §16) with the fake driver: qcow2-style
// internal snapshots of every disc of a stopped VM, each act an operation whose end sets the
// snapshot's state; a running VM is refused, a disc of a VM with snapshots cannot grow, and a purge
// takes the rows with the VM. On SQLite, and on PostgreSQL when HANGAR_TEST_DATABASE_URL is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { placeOf, storesFor, withCore, type CoreFx } from './fixture.js';
import { createVm } from '../../src/core/vms/create.js';
import { deleteVm } from '../../src/core/vms/delete.js';
import { powerVm } from '../../src/core/vms/power.js';
import { createBackup, resolveDiscById, restoreBackup, updateDisc } from '../../src/core/discs.js';
import { reimageVm } from '../../src/core/vms/actions.js';
import { createSnapshot, deleteSnapshot, listSnapshots, resolveSnapshot, restoreSnapshot } from '../../src/core/snapshots.js';
import { DomainError } from '../../src/core/errors.js';
import type { VmPlace } from '../../src/core/resolve.js';

const STORES = storesFor('snapshots');

async function makeVm(fx: CoreFx, name: string): Promise<VmPlace> {
  const h = fx.t.running.hangar;
  const made = await createVm(h, fx.admin, fx.account, fx.group, {
    name, cores: 1, memoryMiB: 1024, powerOn: false,
    discs: [{ label: 'disc-1', grade: 'sata', sizeMiB: 2048 }, { label: 'disc-2', grade: 'sata', sizeMiB: 1024 }],
  }, 'bigv');
  return placeOf(fx, made.view.row.id);
}

/** The refusal's code and reason. */
async function refusal(p: Promise<unknown>): Promise<[string, unknown]> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DomainError) return [err.code, err.issues[0]!.params?.reason];
    throw err;
  }
  assert.fail('it was not refused');
}

const discIds = async (fx: CoreFx, vmId: number) =>
  (await fx.t.running.hangar.db.selectFrom('discs').select('id').where('vm_id', '=', vmId).orderBy('id').execute()).map((d) => d.id);

for (const store of STORES) {
  test(`a snapshot of a stopped VM is taken on every disc, restored and deleted, each an operation that sets its state (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const at = await makeVm(fx, 'web1');
      const discs = await discIds(fx, at.vm.id);

      const made = await createSnapshot(h, fx.admin, at, { label: 'before-upgrade' });
      assert.equal(made.snapshot.state, 'ready');
      assert.equal(made.snapshot.error, null);
      const name = `hangar-${made.snapshot.publicId}`;
      for (const d of discs) assert.ok(driver.snapshots.get(d)?.has(name), `disc ${d} has the snapshot`);
      const op = await h.db.selectFrom('operations').selectAll().where('uuid', '=', made.operation).executeTakeFirstOrThrow();
      assert.equal(op.kind, 'snapshot.create');
      assert.equal(op.state, 'done');

      // The one id rule: id, public id and label name it; a second with the same label is refused; the next has a default label.
      for (const seg of [String(made.snapshot.id), made.snapshot.publicId.toUpperCase(), 'before-upgrade']) {
        assert.equal((await resolveSnapshot(h, fx.admin, at, seg)).id, made.snapshot.id, seg);
      }
      assert.deepEqual(await refusal(createSnapshot(h, fx.admin, at, { label: 'before-upgrade' })), ['taken', undefined]);
      const second = await createSnapshot(h, fx.admin, at);
      assert.equal(second.snapshot.label, 'snapshot-2');
      assert.deepEqual((await listSnapshots(h, fx.admin, at)).map((s) => s.label), ['before-upgrade', 'snapshot-2']);

      const restored = await restoreSnapshot(h, fx.admin, at, 'before-upgrade');
      assert.equal(restored.snapshot.state, 'ready');
      assert.ok(driver.calls.includes(`restoreSnapshot ${name} ${discs.join(',')}`), driver.calls.join('\n'));

      const deleted = await deleteSnapshot(h, fx.admin, at, made.snapshot.publicId);
      assert.equal(deleted.snapshot.id, made.snapshot.id);
      assert.equal((await h.db.selectFrom('operations').select('state').where('uuid', '=', deleted.operation).executeTakeFirstOrThrow()).state, 'done');
      for (const d of discs) assert.ok(!driver.snapshots.get(d)?.has(name), `disc ${d} no longer has it`);
      assert.deepEqual((await listSnapshots(h, fx.admin, at)).map((s) => s.label), ['snapshot-2']);
      assert.deepEqual(await refusal(resolveSnapshot(h, fx.admin, at, 'before-upgrade')), ['not_found', undefined]);
    });
  });

  test(`a running VM is refused a snapshot, and a disc of a VM with snapshots cannot grow until they are deleted (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const at = await makeVm(fx, 'web2');
      const snap = await createSnapshot(h, fx.admin, at);
      const [discId] = await discIds(fx, at.vm.id);
      const disc = await resolveDiscById(h, fx.admin, String(discId));
      assert.deepEqual(await refusal(updateDisc(h, fx.admin, disc, { size: 4096 })), ['conflict', 'disc_has_snapshots']);
      assert.equal((await h.db.selectFrom('discs').select('size').where('id', '=', discId!).executeTakeFirstOrThrow()).size, 2048, 'the size is unchanged');

      // Reimaging or restoring a backup rewrites the disc's file and would lose the snapshots inside it.
      assert.deepEqual(await refusal(reimageVm(h, fx.admin, at, { distribution: 'tiny', rootPassword: 'root-pw-secret' })), ['conflict', 'vm_has_snapshots']);
      const backup = await createBackup(h, fx.admin, disc);
      assert.deepEqual(await refusal(restoreBackup(h, fx.admin, disc, backup)), ['conflict', 'vm_has_snapshots']);

      await powerVm(h, fx.admin, at, { intent: 'start' });
      const on = await placeOf(fx, at.vm.id);
      assert.deepEqual(await refusal(createSnapshot(h, fx.admin, on)), ['state', 'power_off_to_snapshot']);
      assert.deepEqual(await refusal(restoreSnapshot(h, fx.admin, on, snap.snapshot.label)), ['state', 'power_off_to_snapshot']);
      assert.deepEqual(await refusal(deleteSnapshot(h, fx.admin, on, snap.snapshot.label)), ['state', 'power_off_to_snapshot']);
      assert.equal((await listSnapshots(h, fx.admin, on)).length, 1);

      await powerVm(h, fx.admin, on, { intent: 'stop' });
      const off = await placeOf(fx, at.vm.id);
      await deleteSnapshot(h, fx.admin, off, snap.snapshot.label);
      const grown = await updateDisc(h, fx.admin, await resolveDiscById(h, fx.admin, String(discId)), { size: 4096 });
      assert.equal(grown.size, 4096);
    });
  });

  test(`a snapshot the head fails to take is failed with its error, cannot be restored, and can be deleted (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const at = await makeVm(fx, 'web3');
      driver.failNext('createSnapshot', 'no space for the snapshot');
      const made = await createSnapshot(h, fx.admin, at);
      assert.equal(made.snapshot.state, 'failed');
      assert.match(made.snapshot.error ?? '', /no space for the snapshot/);
      assert.deepEqual(await refusal(restoreSnapshot(h, fx.admin, at, made.snapshot.label)), ['state', 'snapshot_not_ready']);
      await deleteSnapshot(h, fx.admin, at, made.snapshot.label);
      assert.equal((await listSnapshots(h, fx.admin, at)).length, 0);
    });
  });

  test(`purging a VM removes its snapshot rows (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const at = await makeVm(fx, 'web4');
      await createSnapshot(h, fx.admin, at);
      await createSnapshot(h, fx.admin, at);
      await deleteVm(h, fx.admin, at, { mode: 'cascade' });
      assert.equal(await h.db.selectFrom('vms').select('id').where('id', '=', at.vm.id).executeTakeFirst(), undefined);
      assert.deepEqual(await h.db.selectFrom('snapshots').select('id').where('vm_id', '=', at.vm.id).execute(), []);
    });
  });
}
