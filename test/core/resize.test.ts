// Resize through core (core/vms/resize.ts, docs/operations.md) with the fake driver: a running VM's
// resize is one operation (a vm.resize intent: shutdown, the change applied with its end, start)
// followed to its end by its public id; a stopped VM is changed at once; the VM's lock holds (a
// second resize or a reboot meanwhile is 409, naming it); a head with no room when the change comes
// fails it and the VM comes back with its old size; a step whose head stopped answering is queued
// again by the sweeper, not failed; and a brain that stops after the shutdown, before
// the change is recorded, leaves a resize the next brain on the same store finishes. On SQLite, and on
// PostgreSQL when HANGAR_TEST_DATABASE_URL is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { storesFor, withCore, placeOf, type CoreFx } from './fixture.js';
import { freshStore, startTest, until, type TestHangar } from '../helpers.js';
import { assertInvariants } from '../invariants.js';
import { createVm } from '../../src/core/vms/create.js';
import { resizeVm } from '../../src/core/vms/resize.js';
import { powerVm } from '../../src/core/vms/power.js';
import { createAccount } from '../../src/core/tree.js';
import { DomainError } from '../../src/core/errors.js';
import { SecretBox } from '../../src/core/secrets.js';
import { sweepOperations } from '../../src/operations/sweeper.js';
import { FakeDriver } from '../../src/drivers/fake/driver.js';
import type { Principal } from '../../src/core/principal.js';
import type { Store } from '../../src/store/db.js';

const STORES = storesFor('resize');

const opByUuid = (db: Store, uuid: string) => db.selectFrom('operations').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow();
const ended = (db: Store, uuid: string, timeoutMs = 10_000) =>
  until(`operation ${uuid} ended`, async () => { const op = await opByUuid(db, uuid); return ['done', 'failed', 'cancelled'].includes(op.state) ? op : null; }, timeoutMs);
const stepsOf = async (db: Store, uuid: string) => {
  const intent = await opByUuid(db, uuid);
  return db.selectFrom('operations').select(['kind', 'state', 'result']).where('parent_id', '=', intent.id).orderBy('id').execute();
};

async function runningVm(fx: CoreFx, name: string, memoryMiB = 512): Promise<number> {
  const h = fx.t.running.hangar;
  const made = await createVm(h, fx.admin, fx.account, fx.group, {
    name, cores: 1, memoryMiB, powerOn: true, discs: [{ label: 'disc-1', grade: 'sata', sizeMiB: 1024 }], image: { distribution: 'tiny' },
  }, 'bigv');
  await ended(h.db, made.operation);
  await until(`${name} running`, async () => (await h.db.selectFrom('vms').select('run_state').where('id', '=', made.view.row.id).executeTakeFirstOrThrow()).run_state === 'running');
  return made.view.row.id;
}

const conflictOf = (e: unknown) => e instanceof DomainError && e.code === 'conflict' ? String(e.issues[0]!.params?.operation) : null;

for (const store of STORES) {
  test(`a running VM's resize is one operation: shut down, resized, started again; a stopped one is resized at once (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const id = await runningVm(fx, 'web');
      const firstPid = driver.machines.get(id)!.pid;
      const { operation } = await resizeVm(h, fx.admin, await placeOf(fx, id), { cores: 2, memoryMiB: 768, waitMs: 1000 }, 'e24');
      assert.ok(operation);
      const op = await ended(h.db, operation);
      assert.deepEqual([op.kind, op.state, op.error, op.dialect], ['vm.resize', 'done', null, 'e24']);
      assert.deepEqual((await stepsOf(h.db, operation)).map((s) => [s.kind, s.state]), [['vm.power.shutdown', 'done'], ['vm.power.start', 'done']]);
      assert.match(String((await stepsOf(h.db, operation))[0]!.result), /"forced":false/);
      const vm = await h.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.deepEqual([vm.cores, vm.memory, vm.power_on, vm.lock_operation_id], [2, 768, 1, null]);
      const machine = driver.machines.get(id)!;
      assert.deepEqual([machine.spec.cores, machine.spec.memory], [2, 768]);
      assert.notEqual(machine.pid, firstPid, 'a fresh boot');
      await assertInvariants(h.db, 'after a resize');

      // Stopped: changed at once, no operation, and it stays off.
      await ended(h.db, await powerVm(h, fx.admin, await placeOf(fx, id), { intent: 'stop' }));
      await until('stopped', async () => !driver.machines.has(id));
      assert.deepEqual(await resizeVm(h, fx.admin, await placeOf(fx, id), { cores: 1, waitMs: 1000 }, 'e24'), { operation: null });
      const off = await h.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.deepEqual([off.cores, off.memory, off.power_on], [1, 768, 0]);
      await assertInvariants(h.db, 'after a resize of a stopped VM');
    });
  });

  test(`while a resize runs: the VM is held (a second resize and a reboot are 409 naming it), a stop asked meanwhile is kept (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const id = await runningVm(fx, 'web');
      const held = driver.holdNext('signal'); // the ACPI request waits inside the driver
      const { operation } = await resizeVm(h, fx.admin, await placeOf(fx, id), { cores: 2, waitMs: 1000 }, 'e24');
      await held.reached;
      await assert.rejects(resizeVm(h, fx.admin, await placeOf(fx, id), { cores: 3, waitMs: 1000 }, 'e24'), (e) => conflictOf(e) === operation);
      await assert.rejects(powerVm(h, fx.admin, await placeOf(fx, id), { intent: 'reboot' }), (e) => conflictOf(e) === operation);
      const lock = await h.db.selectFrom('vms').select('lock_operation_id').where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(lock.lock_operation_id, (await opByUuid(h.db, operation!)).id, 'the intent holds the VM');
      // A desired-state change is accepted during the lock and converged after it: the start step leaves it off.
      const stop = await powerVm(h, fx.admin, await placeOf(fx, id), { intent: 'stop' });
      held.release();
      assert.equal((await ended(h.db, operation!)).state, 'done');
      await ended(h.db, stop);
      const vm = await h.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.deepEqual([vm.cores, vm.power_on, vm.lock_operation_id], [2, 0, null]);
      await until('off', async () => !driver.machines.has(id));
    });
  });

  test(`a head with no room when the change comes: the resize fails and the VM comes back with its old size (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const id = await runningVm(fx, 'web', 512);
      const held = driver.holdNext('signal');
      const { operation } = await resizeVm(h, fx.admin, await placeOf(fx, id), { memoryMiB: 1536, waitMs: 1000 }, 'e24');
      await held.reached;
      // Another VM takes the room meanwhile (the head has 2048 MiB).
      await createVm(h, fx.admin, fx.account, fx.group, { name: 'other', cores: 1, memoryMiB: 1024, powerOn: false, discs: [] }, 'bigv');
      held.release();
      const op = await ended(h.db, operation!);
      assert.equal(op.state, 'failed');
      assert.match(String(op.error), /no room/);
      const vm = await h.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.deepEqual([vm.memory, vm.power_on, vm.lock_operation_id], [512, 1, null]);
      await until('started again with its old size', async () => driver.machines.get(id)?.spec.memory === 512);
      await assertInvariants(h.db, 'after a resize that found no room');
    }, { driver: () => new FakeDriver({ memory: 2048 }) });
  });

  test(`a step whose lease passed is queued again by the sweeper, not failed, and the resize ends done (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const id = await runningVm(fx, 'web');
      const held = driver.holdNext('signal');
      const { operation } = await resizeVm(h, fx.admin, await placeOf(fx, id), { cores: 2, waitMs: 1000 }, 'e24');
      await held.reached;
      const intent = await opByUuid(h.db, operation!);
      // Its head stopped answering: the lease is someone else's and has passed.
      await h.db.updateTable('operations').set({ lease_owner: 'head:999', lease_until: h.now() - 1 }).where('parent_id', '=', intent.id).where('state', '=', 'running').execute();
      assert.equal((await sweepOperations(h)).failed, 0);
      assert.deepEqual((await stepsOf(h.db, operation!)).map((s) => s.state), ['queued', 'queued']);
      held.release();
      assert.equal((await ended(h.db, operation!)).state, 'done');
      assert.equal((await h.db.selectFrom('vms').select('cores').where('id', '=', id).executeTakeFirstOrThrow()).cores, 2);
      await until('started again with its new size', async () => driver.machines.get(id)?.spec.cores === 2);
    });
  });

  test(`a brain that stops after the shutdown, before the change is recorded: the next brain on the same store finishes the resize (${store.name})`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-resize-'));
    const store_ = await freshStore(store.postgres ? { postgres: true } : { sqliteFile: path.join(dir, 'hangar.db') });
    const secrets = SecretBox.ephemeral();
    const driver = new FakeDriver(); // the host: its machines outlive the brain
    let second: TestHangar | undefined;
    try {
      const first = await startTest({ storeUrl: store_.url, secrets, driver: () => driver });
      const h1 = first.running.hangar;
      const user = await h1.db.selectFrom('users').select(['id', 'username']).where('username', '=', 'admin').executeTakeFirstOrThrow();
      const admin: Principal = { userId: user.id, username: user.username, factors: ['password'], apiKeyId: null, grants: [{ id: 0, level: 'cluster_admin', accountId: null, groupId: null, vmId: null }] };
      const account = await createAccount(h1, admin, { name: 'acme' });
      const group = await h1.db.selectFrom('groups').selectAll().where('account_id', '=', account.id).executeTakeFirstOrThrow();
      const fx: CoreFx = { t: first, admin, account, group };
      const id = await runningVm(fx, 'web');

      const held = driver.holdNext('signal');
      const { operation } = await resizeVm(h1, admin, await placeOf(fx, id), { cores: 3, memoryMiB: 1024, waitMs: 1000 }, 'e24');
      await held.reached;
      // The brain loses its store (it dies), then the guest halts: nothing of the shutdown's end is recorded.
      await h1.db.destroy();
      held.release();
      await until('the guest halted', async () => !driver.machines.has(id));
      await first.running.close().catch(() => {}); // its store is gone already
      const stranded = await (async () => {
        const peek = await startTest({ storeUrl: store_.url, secrets, heads: [] });
        try {
          return (await peek.running.hangar.db.selectFrom('operations').select(['kind', 'state']).where('parent_id', '=', (await opByUuid(peek.running.hangar.db, operation!)).id).orderBy('id').execute())
            .map((s) => [s.kind, s.state]);
        } finally {
          await peek.running.close();
        }
      })();
      assert.deepEqual(stranded, [['vm.power.shutdown', 'running'], ['vm.power.start', 'queued']], 'mid-way: the shutdown not recorded as ended, the change not applied');

      second = await startTest({ storeUrl: store_.url, secrets, driver: () => driver });
      const h2 = second.running.hangar;
      const op = await ended(h2.db, operation!);
      assert.deepEqual([op.state, op.error], ['done', null]);
      const vm = await h2.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.deepEqual([vm.cores, vm.memory, vm.power_on, vm.lock_operation_id], [3, 1024, 1, null]);
      await until('started again with its new size', async () => driver.machines.get(id)?.spec.cores === 3);
      assert.equal(driver.machines.get(id)!.spec.memory, 1024);
      await assertInvariants(h2.db, 'after a resize finished by the next brain');
    } finally {
      driver.releaseAll();
      await second?.running.close();
      await store_.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
