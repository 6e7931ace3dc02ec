// Power intents in the core (core/vms/power.ts, docs/domain.md §13.3): each is an operation the head
// runs and finishes, the desired state ends consistent with it, and a guest that ignores the ACPI
// power button is forced at the timeout (shutdown: off; reboot: reset). On SQLite, and on PostgreSQL
// when HANGAR_TEST_DATABASE_URL is set. The VM is set up over BigV; every power act goes through core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, freshStore, SSH_KEY, startTest, until, type TestHangar } from '../helpers.js';
import { powerVm, type PowerIntent } from '../../src/core/vms/power.js';
import { defaultConfig } from '../../src/core/config.js';
import type { Principal } from '../../src/core/principal.js';
import type { VmPlace } from '../../src/core/resolve.js';
import { DomainError } from '../../src/core/errors.js';

const GRP = '/accounts/acme/groups/default';
const STORES = ['sqlite', 'postgres'] as const;

async function withStore(store: (typeof STORES)[number], t: { skip(m: string): void }, fn: (h: TestHangar) => Promise<void>): Promise<void> {
  if (store === 'postgres' && !process.env.HANGAR_TEST_DATABASE_URL) {
    t.skip('PostgreSQL: HANGAR_TEST_DATABASE_URL is not set');
    return;
  }
  const db = await freshStore({ postgres: store === 'postgres' });
  const h = await startTest({ storeUrl: db.url, config: { shutdownTimeoutMs: 80 } });
  try {
    await account(h, 'acme');
    await fn(h);
  } finally {
    h.drivers[0]!.releaseAll();
    await h.close();
    await db.drop();
  }
}

const admin = async (h: TestHangar): Promise<Principal> => {
  const u = await h.running.hangar.db.selectFrom('users').select('id').where('username', '=', 'admin').executeTakeFirstOrThrow();
  return { userId: u.id, username: 'admin', factors: ['password'], apiKeyId: null, grants: [{ id: 0, level: 'cluster_admin', accountId: null, groupId: null, vmId: null }] };
};

async function place(h: TestHangar, vmId: number): Promise<VmPlace> {
  const db = h.running.hangar.db;
  const vm = await db.selectFrom('vms').selectAll().where('id', '=', vmId).executeTakeFirstOrThrow();
  const group = await db.selectFrom('groups').selectAll().where('id', '=', vm.group_id).executeTakeFirstOrThrow();
  const acc = await db.selectFrom('accounts').selectAll().where('id', '=', group.account_id).executeTakeFirstOrThrow();
  return { vm, group, account: acc };
}

const vmRow = (h: TestHangar, id: number) => h.running.hangar.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

/** An imaged VM, running, with autoreboot_on as given. */
async function runningVm(h: TestHangar, name: string, autoreboot: boolean): Promise<number> {
  const r = await h.req('POST', `${GRP}/vm_create`, {
    token: h.adminToken,
    body: {
      virtual_machine: { name, power_on: true, autoreboot_on: autoreboot }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }],
      reimage: { distribution: 'tiny', root_password: 'root-pw-secret', ssh_public_key: SSH_KEY },
    },
  });
  assert.equal(r.status, 202, r.text);
  const id: number = r.body.virtual_machine.id;
  await until('the machine running', async () => (await vmRow(h, id)).run_state === 'running' && h.drivers[0]!.machines.has(id));
  return id;
}

/** Ask for an intent through core and follow its operation to its end: the ended row. */
async function power(h: TestHangar, vmId: number, intent: PowerIntent) {
  const uuid = await powerVm(h.running.hangar, await admin(h), await place(h, vmId), intent, null);
  return until(`${intent.intent} ended`, async () => {
    const op = await h.running.hangar.db.selectFrom('operations').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow();
    return op.state === 'done' || op.state === 'failed' ? op : null;
  });
}

const pid = (h: TestHangar, id: number) => h.drivers[0]!.machines.get(id)?.pid ?? null;
const callsSince = (h: TestHangar, n: number) => h.drivers[0]!.calls.slice(n);

test('the default shutdown and reboot timeout is 240 s, HANGAR_SHUTDOWN_TIMEOUT seconds', () => {
  assert.equal(defaultConfig({}).shutdownTimeoutMs, 240_000);
  assert.equal(defaultConfig({ HANGAR_SHUTDOWN_TIMEOUT: '30' }).shutdownTimeoutMs, 30_000);
});

for (const store of STORES) {
  test(`[${store}] stop is a hard stop, start boots it again: each an operation, power_on follows`, async (t) => {
    await withStore(store, t, async (h) => {
      const id = await runningVm(h, 'web1', true);
      let n = h.drivers[0]!.calls.length;
      const stop = await power(h, id, { intent: 'stop' });
      assert.equal(stop.kind, 'vm.power.stop');
      assert.equal(stop.state, 'done', stop.error ?? '');
      assert.deepEqual(callsSince(h, n), [`stop ${id}`], 'no power button: the mains plug');
      let row = await vmRow(h, id);
      assert.equal(row.power_on, 0);
      assert.equal(row.run_state, 'stopped');
      assert.equal(row.autoreboot_on, 1, 'stop leaves autoreboot_on alone');
      assert.equal(h.drivers[0]!.machines.has(id), false);

      n = h.drivers[0]!.calls.length;
      const start = await power(h, id, { intent: 'start' });
      assert.equal(start.state, 'done', start.error ?? '');
      assert.deepEqual(callsSince(h, n), [`start ${id}`]);
      row = await vmRow(h, id);
      assert.equal(row.power_on, 1);
      assert.equal(row.run_state, 'running');
    });
  });

  test(`[${store}] shutdown presses the power button; a guest that halts is off, not forced`, async (t) => {
    await withStore(store, t, async (h) => {
      const id = await runningVm(h, 'web1', true);
      const n = h.drivers[0]!.calls.length;
      const op = await power(h, id, { intent: 'shutdown', timeoutMs: 5000 });
      assert.equal(op.state, 'done', op.error ?? '');
      assert.deepEqual(JSON.parse(op.result!), { forced: false });
      assert.deepEqual(callsSince(h, n), [`acpiShutdown ${id}`]);
      const row = await vmRow(h, id);
      assert.equal(row.power_on, 0, 'autoreboot_on does not bring back a machine shut down by the intent');
      assert.equal(row.autoreboot_on, 1);
      await until('it stays off', async () => (await vmRow(h, id)).run_state === 'stopped');
      await h.running.agents[0]!.resync();
      assert.equal(h.drivers[0]!.machines.has(id), false);
    });
  });

  test(`[${store}] shutdown of a guest that ignores ACPI forces it off at the timeout (the cluster default when none is given)`, async (t) => {
    await withStore(store, t, async (h) => {
      const id = await runningVm(h, 'web1', false);
      h.drivers[0]!.acpi = false;
      const n = h.drivers[0]!.calls.length;
      const t0 = Date.now();
      const op = await power(h, id, { intent: 'shutdown' });
      assert.equal(op.state, 'done', op.error ?? '');
      assert.ok(Date.now() - t0 >= 70, `the guest had its whole timeout (${Date.now() - t0} ms, ${op.args})`);
      assert.deepEqual(JSON.parse(op.args), { timeoutMs: 80 }, 'the cluster default (HANGAR_SHUTDOWN_TIMEOUT)');
      assert.deepEqual(JSON.parse(op.result!), { forced: true });
      assert.deepEqual(callsSince(h, n), [`acpiShutdown ${id}`, `stop ${id}`]);
      assert.equal((await vmRow(h, id)).power_on, 0);
      assert.equal(h.drivers[0]!.machines.has(id), false);
    });
  });

  test(`[${store}] reboot: ACPI, then a new boot when the guest halts; autoreboot_on is never flipped`, async (t) => {
    await withStore(store, t, async (h) => {
      const id = await runningVm(h, 'web1', false);
      const before = pid(h, id);
      const boots = (await vmRow(h, id)).boot_count;
      const n = h.drivers[0]!.calls.length;
      const op = await power(h, id, { intent: 'reboot', timeoutMs: 5000 });
      assert.equal(op.state, 'done', op.error ?? '');
      assert.deepEqual(JSON.parse(op.result!), { forced: false });
      assert.deepEqual(callsSince(h, n), [`acpiShutdown ${id}`, `start ${id}`]);
      assert.notEqual(pid(h, id), before);
      const row = await vmRow(h, id);
      assert.equal(row.power_on, 1);
      assert.equal(row.autoreboot_on, 0, 'a reboot must not turn autoreboot on for good');
      assert.equal(row.run_state, 'running');
      assert.equal(row.boot_count, boots + 1);
      // The guest's halt, seen afterwards by the agent, does not power the machine off (autoreboot_on is false).
      await h.running.agents[0]!.kick(id);
      assert.equal((await vmRow(h, id)).power_on, 1);
      assert.ok(h.drivers[0]!.machines.has(id));
    });
  });

  test(`[${store}] reboot of a guest that ignores ACPI resets it at the timeout`, async (t) => {
    await withStore(store, t, async (h) => {
      const id = await runningVm(h, 'web1', false);
      h.drivers[0]!.acpi = false;
      const before = pid(h, id);
      const n = h.drivers[0]!.calls.length;
      const op = await power(h, id, { intent: 'reboot', timeoutMs: 50 });
      assert.equal(op.state, 'done', op.error ?? '');
      assert.deepEqual(JSON.parse(op.result!), { forced: true });
      assert.deepEqual(callsSince(h, n), [`acpiShutdown ${id}`, `reset ${id}`, `start ${id}`]);
      assert.notEqual(pid(h, id), before);
      const row = await vmRow(h, id);
      assert.deepEqual([row.power_on, row.autoreboot_on, row.run_state], [1, 0, 'running']);
    });
  });

  test(`[${store}] reset and cycle end with a new boot; desired state unchanged; neither on a machine that is off`, async (t) => {
    await withStore(store, t, async (h) => {
      const id = await runningVm(h, 'web1', true);
      for (const intent of ['reset', 'cycle'] as const) {
        const before = pid(h, id);
        const n = h.drivers[0]!.calls.length;
        const op = await power(h, id, { intent });
        assert.equal(op.state, 'done', op.error ?? '');
        assert.equal(op.kind, `vm.power.${intent}`);
        assert.deepEqual(callsSince(h, n), [intent === 'reset' ? `reset ${id}` : `stop ${id}`, `start ${id}`]);
        assert.notEqual(pid(h, id), before);
        const row = await vmRow(h, id);
        assert.deepEqual([row.power_on, row.autoreboot_on, row.run_state, row.lock_operation_id], [1, 1, 'running', null]);
      }
      await power(h, id, { intent: 'stop' });
      for (const intent of ['shutdown', 'reboot', 'reset', 'cycle'] as const) {
        await assert.rejects(powerVm(h.running.hangar, await admin(h), await place(h, id), { intent }), (e: unknown) => e instanceof DomainError && e.code === 'state' && e.field === 'powerOn', intent);
      }
      await assert.rejects(powerVm(h.running.hangar, await admin(h), await place(h, id), { intent: 'shutdown', timeoutMs: -1 }), (e: unknown) => e instanceof DomainError && e.field === 'timeout');
    });
  });

  test(`[${store}] a start asked for while a reimage holds the VM is accepted and converges when the reimage ends`, async (t) => {
    await withStore(store, t, async (h) => {
      const id = await runningVm(h, 'web1', false);
      await power(h, id, { intent: 'stop' });
      const held = h.drivers[0]!.holdNext('reimage');
      const r = await h.req('POST', `${GRP}/virtual_machines/web1/reimage`, { token: h.adminToken, body: { distribution: 'tiny', root_password: 'root-pw-secret-2' } });
      assert.equal(r.status, 200, r.text);
      await held.reached;
      // A start is a desired-state change: accepted at once, its operation runs after the reimage.
      const uuid = await powerVm(h.running.hangar, await admin(h), await place(h, id), { intent: 'start' });
      assert.equal((await vmRow(h, id)).power_on, 1);
      held.release();
      const op = await until('the start ended', async () => {
        const o = await h.running.hangar.db.selectFrom('operations').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow();
        return o.state === 'done' ? o : null;
      });
      assert.equal(op.error, null);
      await until('running after the reimage', async () => (await vmRow(h, id)).run_state === 'running' && h.drivers[0]!.machines.has(id));
      assert.equal((await vmRow(h, id)).lock_operation_id, null);
    });
  });
}
