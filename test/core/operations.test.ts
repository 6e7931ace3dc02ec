// Operations (issue 8 §2): running under a lease, an intent with its steps, the sweeper that fails
// what a crashed head left behind. Runs on SQLite and, with HANGAR_TEST_STORE=postgres, on PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, SSH_KEY, startTest, until, type TestHangar } from '../helpers.js';
import { assertInvariants } from '../invariants.js';
import { sweepOperations, LEASE_EXPIRED, DEADLINE_PASSED } from '../../src/operations/sweeper.js';
import { DEADLINES } from '../../src/operations/kinds.js';

const GRP = '/accounts/acme/groups/default';

async function withHangar(fn: (t: TestHangar) => Promise<void>, config: Parameters<typeof startTest>[0] = {}): Promise<void> {
  const t = await startTest(config);
  try {
    await account(t, 'acme');
    await fn(t);
  } finally {
    t.drivers[0]!.releaseAll(); // a failed assertion must not leave the head stuck inside the driver
    await t.close();
  }
}

/** vm_create with a disc and a reimage (carrying a root password), powered on: its VM id. */
async function create(t: TestHangar, name: string): Promise<number> {
  const r = await t.req('POST', `${GRP}/vm_create`, {
    token: t.adminToken,
    body: {
      virtual_machine: { name, power_on: true }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }],
      reimage: { distribution: 'tiny', root_password: 'root-pw-secret', ssh_public_key: SSH_KEY, firstboot_script: 'echo script-secret' },
    },
  });
  assert.equal(r.status, 202, r.text);
  return r.body.virtual_machine.id;
}

const ops = (t: TestHangar, vmId: number) => t.running.hangar.db.selectFrom('operations').selectAll().where('vm_id', '=', vmId).orderBy('id').execute();
const vmRow = (t: TestHangar, vmId: number) => t.running.hangar.db.selectFrom('vms').selectAll().where('id', '=', vmId).executeTakeFirstOrThrow();

test('vm_create is one intent whose steps (disc create, reimage) run, each with a public id, and which ends done with the machine on and unlocked', async () => {
  await withHangar(async (t) => {
    const id = await create(t, 'web1');
    const [intent, ...steps] = await until('the intent done', async () => {
      const all = await ops(t, id);
      return all[0]?.state === 'done' ? all : null;
    });
    assert.equal(intent!.kind, 'vm.create');
    assert.equal(intent!.dialect, 'bigv');
    assert.equal(intent!.progress, 100);
    assert.ok(intent!.started_at! >= intent!.created_at && intent!.finished_at! >= intent!.started_at!);
    assert.deepEqual(steps.map((s) => [s.kind, s.state, s.parent_id]), [['disc.create', 'done', intent!.id], ['reimage', 'done', intent!.id]]);
    for (const op of [intent!, ...steps]) assert.match(op.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(new Set([intent!, ...steps].map((o) => o.uuid)).size, 3);
    for (const op of steps) assert.equal(op.lease_owner, null, 'a finished operation holds no lease');
    assert.equal((await vmRow(t, id)).lock_operation_id, null);
    assert.equal((await vmRow(t, id)).power_on, 1);
    await assertInvariants(t.running.hangar.db, 'after a create');
  });
});

test('a fault injected mid-operation (the reimage step of vm_create) fails the step and its intent with the reason, leaves the machine off and unlocked, and keeps no secret', async () => {
  await withHangar(async (t) => {
    t.drivers[0]!.failNext('reimage', 'the image write failed');
    const id = await create(t, 'web1');
    const [intent, disc, reimage] = await until('the intent ended', async () => {
      const all = await ops(t, id);
      return all[0]?.state === 'failed' ? all : null;
    });
    assert.equal(disc!.state, 'done');
    assert.equal(reimage!.state, 'failed');
    assert.equal(reimage!.error, 'the image write failed');
    assert.equal(intent!.error, 'reimage: the image write failed');
    const vm = await vmRow(t, id);
    assert.equal(vm.power_on, 0, 'a machine whose image failed is not started on a blank disc');
    assert.equal(vm.lock_operation_id, null);
    assert.equal(t.drivers[0]!.machines.has(id), false);
    assert.doesNotMatch(reimage!.args, /\$secret|rootPasswordHash|firstbootScript/);
    await assertInvariants(t.running.hangar.db, 'after a failed create');
  });
});

test('a head that stops renewing a running operation\'s lease (crashed mid-reimage): the sweeper fails it, its intent too, frees the VM, and the head\'s late answer changes nothing', async () => {
  await withHangar(async (t) => {
    const h = t.running.hangar;
    const held = t.drivers[0]!.holdNext('reimage');
    const id = await create(t, 'web1');
    await held.reached;
    const running = await until('the reimage running', async () => (await ops(t, id)).find((o) => o.kind === 'reimage' && o.state === 'running'));
    assert.equal(running.lease_owner, `head:${t.running.agents[0]!.headId}`);
    assert.ok(running.lease_until! > Date.now());
    assert.equal((await vmRow(t, id)).lock_operation_id, running.parent_id, 'the intent holds the VM');
    assert.equal((await sweepOperations(h)).failed, 0, 'a live lease is left alone');

    // The clock passes the lease with no renewal (the head is stuck or gone).
    const start = Date.now();
    h.now = () => start + h.config.operationLeaseMs + 1;
    assert.equal((await sweepOperations(h)).failed, 1, 'the reimage (its intent ends with it)');
    const [intent, , reimage] = await ops(t, id);
    assert.equal(reimage!.state, 'failed');
    assert.equal(reimage!.error, LEASE_EXPIRED);
    assert.equal(intent!.state, 'failed');
    assert.doesNotMatch(reimage!.args, /\$secret/);
    const vm = await vmRow(t, id);
    assert.equal(vm.lock_operation_id, null);
    assert.equal(vm.power_on, 0);

    // The head wakes up and finishes: too late, the sweeper's verdict stands.
    held.release();
    await t.running.agents[0]!.kick(id); // runs after the held reimage has returned
    assert.equal(t.drivers[0]!.machines.has(id), false, 'not started on a disc whose image is in doubt');
    const after = (await ops(t, id))[2]!;
    assert.equal(after.state, 'failed');
    assert.equal(after.error, LEASE_EXPIRED);
    await assertInvariants(h.db, 'after a lease expired');
  });
});

test('while its head runs an operation it renews the lease, so a slow operation is never swept for its lease', async () => {
  await withHangar(async (t) => {
    const h = t.running.hangar;
    const held = t.drivers[0]!.holdNext('reimage');
    const id = await create(t, 'web1');
    await held.reached;
    const first = await until('the reimage running', async () => (await ops(t, id)).find((o) => o.kind === 'reimage' && o.state === 'running'));
    const renewed = await until('a renewal', async () => {
      const now = (await ops(t, id)).find((o) => o.kind === 'reimage')!;
      return now.lease_until! > first.lease_until! ? now : null;
    });
    await new Promise((r) => setTimeout(r, 400)); // longer than the lease: only renewals keep it
    assert.equal((await sweepOperations(h)).failed, 0);
    assert.equal(renewed.state, 'running');
    held.release();
    await until('the intent done', async () => (await ops(t, id))[0]?.state === 'done');
  }, { config: { operationLeaseMs: 300 } });
});

test('an operation still queued when its deadline passes is failed by the sweeper (nothing waits forever)', async () => {
  await withHangar(async (t) => {
    const h = t.running.hangar;
    const held = t.drivers[0]!.holdNext('createDisc');
    const id = await create(t, 'web1');
    await held.reached;
    const start = Date.now();
    h.now = () => start + DEADLINES['vm.create'] + 1;
    await sweepOperations(h);
    const all = await ops(t, id);
    assert.deepEqual(all.map((o) => [o.kind, o.state]), [['vm.create', 'failed'], ['disc.create', 'failed'], ['reimage', 'failed']]);
    assert.equal(all[0]!.error, DEADLINE_PASSED);
    held.release();
  });
});

test('finished operations are kept operationRetentionDays, then forgotten', async () => {
  await withHangar(async (t) => {
    const h = t.running.hangar;
    const id = await create(t, 'web1');
    await until('the intent done', async () => (await ops(t, id))[0]?.state === 'done');
    const start = Date.now();
    h.now = () => start + (h.config.operationRetentionDays - 1) * 86_400_000;
    assert.equal((await sweepOperations(h)).forgotten, 0);
    h.now = () => start + h.config.operationRetentionDays * 86_400_000 + 1;
    assert.equal((await sweepOperations(h)).forgotten, 3);
    assert.equal((await ops(t, id)).length, 0);
  });
});

/** vm_create powered off, with a disc and a reimage: the reply (its Location names the intent). */
const createOff = (t: TestHangar, name: string) => t.req('POST', `${GRP}/vm_create`, {
  token: t.adminToken,
  body: { virtual_machine: { name }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }], reimage: { distribution: 'tiny', root_password: 'pw' } },
});
const reimage = (t: TestHangar, name: string) => t.req('POST', `${GRP}/virtual_machines/${name}/reimage`, { token: t.adminToken, body: { distribution: 'tiny', root_password: 'pw' } });

test('a reimage while one runs, or while one is queued, is a 409 in BigV\'s shape naming the operation; a power change meanwhile is accepted and converges when it ends', async () => {
  await withHangar(async (t) => {
    // Queued: the disc step is held, so the create's reimage step waits behind it.
    const heldDisc = t.drivers[0]!.holdNext('createDisc');
    const created = await createOff(t, 'web1');
    assert.equal(created.status, 202, created.text);
    const id = created.body.virtual_machine.id;
    await heldDisc.reached;
    const queued = await reimage(t, 'web1');
    assert.equal(queued.status, 409, queued.text);
    const step = (await ops(t, id)).find((o) => o.kind === 'reimage')!;
    assert.equal(step.state, 'queued');
    assert.deepEqual(queued.body, { error: `the machine is already being imaged (operation ${step.uuid})` });

    // Running: the reimage step is held inside the driver.
    const heldImage = t.drivers[0]!.holdNext('reimage');
    heldDisc.release();
    await heldImage.reached;
    const running = await reimage(t, 'web1');
    assert.equal(running.status, 409, running.text);
    assert.equal((await ops(t, id)).filter((o) => o.kind === 'reimage').length, 1, 'nothing was queued');
    // docker-machine powers the machine on while it is still being imaged.
    const on = await t.req('PUT', `${GRP}/virtual_machines/web1`, { token: t.adminToken, body: { power_on: true } });
    assert.equal(on.status, 200, on.text);
    assert.equal(t.drivers[0]!.machines.has(id), false, 'not started under the running reimage');
    heldImage.release();
    await until('the machine running after its image', async () => t.drivers[0]!.machines.has(id));
    assert.deepEqual(t.drivers[0]!.calls.filter((c) => /^(reimage|start) /.test(c)), [`reimage ${id} tiny`, `start ${id}`]);
    assert.equal((await vmRow(t, id)).lock_operation_id, null);

    // Ended: a reimage is accepted again (once the machine is off, as BigV requires).
    await t.req('PUT', `${GRP}/virtual_machines/web1`, { token: t.adminToken, body: { power_on: false, autoreboot_on: false } });
    const again = await reimage(t, 'web1');
    assert.equal(again.status, 200, again.text);
    assert.match(String(again.headers.location), /^\/operations\/[0-9a-f-]{36}$/);
  });
});

test('GET /operations/{id}: the Location of a 202, waited on with ?wait= until it ends; its steps; readable by whoever may read the VM, 404 for anyone else, as for no such operation', async () => {
  await withHangar(async (t) => {
    const held = t.drivers[0]!.holdNext('reimage');
    const created = await createOff(t, 'web1');
    const location = String(created.headers.location);
    assert.match(location, /^\/operations\/[0-9a-f-]{36}$/);
    await held.reached;
    const during = await t.req('GET', location, { token: t.adminToken });
    assert.equal(during.status, 200, during.text);
    assert.equal(during.body.kind, 'vm.create');
    assert.equal(during.body.state, 'running');
    assert.equal(during.body.progress, 50, 'one of its two steps ended');
    assert.deepEqual(during.body.target, { type: 'virtual_machine', id: created.body.virtual_machine.id });
    assert.deepEqual(during.body.steps.map((s: any) => [s.kind, s.state]), [['disc.create', 'done'], ['reimage', 'running']]);
    const step = await t.req('GET', `/operations/${during.body.steps[1].id}`, { token: t.adminToken });
    assert.equal(step.body.parent, during.body.id);

    setTimeout(() => held.release(), 300);
    const started = Date.now();
    const waited = await t.req('GET', `${location}?wait=10`, { token: t.adminToken });
    assert.equal(waited.body.state, 'done', waited.text);
    assert.ok(Date.now() - started < 5000, 'answered when it ended, not at the wait\'s end');
    assert.ok(waited.body.finished_at >= waited.body.started_at);
    const quick = Date.now();
    await t.req('GET', `${location}?wait=10`, { token: t.adminToken });
    assert.ok(Date.now() - quick < 1000, 'an ended operation is answered at once');

    const console = await t.user('cons', { level: 'vm_console', virtual_machine_id: created.body.virtual_machine.id });
    assert.equal((await t.req('GET', location, { token: console })).status, 200);
    const other = await account(t, 'other');
    const stranger = await t.user('stranger', { level: 'account_admin', account_id: other.id });
    const hidden = await t.req('GET', location, { token: stranger });
    const absent = await t.req('GET', `/operations/${crypto.randomUUID()}`, { token: stranger });
    assert.deepEqual([hidden.status, hidden.body], [absent.status, absent.body]);
    assert.equal(hidden.status, 404);
    assert.equal((await t.req('GET', location, { token: null })).status, 401);
    assert.equal((await t.req('GET', '/operations/not-a-uuid', { token: t.adminToken })).status, 404);
  });
});

test('GET /operations?vm_id= lists a VM\'s operations to whoever may read it (404 otherwise); GET /operations lists only readable ones; ?wait is bounded', async () => {
  await withHangar(async (t) => {
    const web1 = (await createOff(t, 'web1')).body.virtual_machine.id;
    const other = await account(t, 'other');
    const x1 = (await t.req('POST', '/accounts/other/groups/default/vm_create', {
      token: t.adminToken, body: { virtual_machine: { name: 'x1' }, discs: [{ label: 'disc-1', size: 1024 }] },
    })).body.virtual_machine.id;
    await until('both built', async () => (await t.running.hangar.db.selectFrom('operations').select('id').where('state', 'in', ['queued', 'running']).execute()).length === 0);
    const tenant = await t.user('tenant', { level: 'account_admin', account_id: other.id });
    const list = await t.req('GET', `/operations?vm_id=${x1}`, { token: tenant });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.body.map((o: any) => o.kind).sort(), ['disc.create', 'vm.create']);
    const foreign = await t.req('GET', `/operations?vm_id=${web1}`, { token: tenant });
    const absent = await t.req('GET', '/operations?vm_id=999999', { token: tenant });
    assert.deepEqual([foreign.status, foreign.body], [absent.status, absent.body]);
    assert.equal(foreign.status, 404);
    const mine = await t.req('GET', '/operations', { token: tenant });
    assert.deepEqual([...new Set(mine.body.map((o: any) => o.target.id))], [x1]);
    const all = await t.req('GET', '/operations', { token: t.adminToken });
    assert.deepEqual([...new Set(all.body.map((o: any) => o.target.id))].sort(), [web1, x1].sort());
    assert.equal((await t.req('GET', '/operations?vm_id=web1', { token: tenant })).status, 400);
    assert.deepEqual((await t.req('GET', `/operations/${list.body[0].id}?wait=soon`, { token: tenant })).body, { wait: ['is invalid'] });
    // A wait longer than operationWaitMax (1 s here) answers at the bound, still running.
    const held = t.drivers[0]!.holdNext('reimage');
    const slow = await createOff(t, 'web2');
    await held.reached;
    const asked = Date.now();
    const r = await t.req('GET', `${slow.headers.location}?wait=3600`, { token: t.adminToken });
    assert.equal(r.body.state, 'running');
    assert.ok(Date.now() - asked >= 900 && Date.now() - asked < 3000, `answered after ${Date.now() - asked} ms`);
    held.release();
  }, { config: { operationWaitMax: 1 } });
});

test('GET /events streams operation changes as Server-Sent Events, each caller seeing only operations it may read', async () => {
  await withHangar(async (t) => {
    const other = await account(t, 'other');
    const tenant = await t.user('tenant', { level: 'account_admin', account_id: other.id });
    const events = (text: string) => text.split('\n\n').filter((b) => b.startsWith('event: operation'))
      .map((b) => JSON.parse(b.split('\n').find((l) => l.startsWith('data: '))!.slice(6)));
    const theirs = t.req('GET', '/events?max_seconds=2', { token: tenant });
    const all = t.req('GET', '/events?max_seconds=2', { token: t.adminToken });
    await new Promise((r) => setTimeout(r, 300));
    const web1 = (await createOff(t, 'web1')).body.virtual_machine.id;
    const x1 = (await t.req('POST', '/accounts/other/groups/default/vm_create', {
      token: t.adminToken, body: { virtual_machine: { name: 'x1' }, discs: [{ label: 'disc-1', size: 1024 }] },
    })).body.virtual_machine.id;
    const [mine, admin] = await Promise.all([theirs, all]);
    assert.equal(mine.status, 200);
    assert.match(String(mine.headers['content-type']), /^text\/event-stream/);
    const seen = events(mine.text);
    assert.ok(seen.length > 0, mine.text);
    assert.deepEqual([...new Set(seen.map((o) => o.target.id))], [x1], 'only the tenant\'s own VM');
    assert.ok(seen.some((o) => o.kind === 'vm.create' && o.state === 'done'), 'the intent\'s end is an event');
    const adminTargets = new Set(events(admin.text).map((o) => o.target.id));
    assert.ok(adminTargets.has(web1) && adminTargets.has(x1));
    assert.equal((await t.req('GET', '/events?max_seconds=0', { token: null })).status, 401);
  });
});
