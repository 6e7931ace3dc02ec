// Cancelling operations (DELETE /operations/{id}): a queued one of a cancellable kind ends
// `cancelled` with what it held given back; a running or ended one, a step, or a kind that cannot be
// cancelled is a 409; only whoever may change its VM may cancel it. The head is detached from the
// brain's dispatch where an operation must stay queued. SQLite, and PostgreSQL with HANGAR_TEST_STORE=postgres.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest, until, type TestHangar } from '../helpers.js';
import { assertInvariants } from '../invariants.js';
import type { LocalDispatch } from '../../src/heads/local-dispatch.js';

const GRP = '/accounts/acme/groups/default';

async function withHangar(fn: (t: TestHangar) => Promise<void>): Promise<void> {
  const t = await startTest();
  try {
    await account(t, 'acme');
    await fn(t);
  } finally {
    t.drivers[0]!.releaseAll();
    await t.close();
  }
}

/** Kicks no longer reach the head: what is queued from now on stays queued. */
function detachHead(t: TestHangar): () => void {
  const dispatch = t.running.hangar.heads as LocalDispatch;
  const agent = t.running.agents[0]!;
  dispatch.agents.delete(agent.headId);
  return () => dispatch.add(agent);
}

const ops = (t: TestHangar, vmId: number) => t.running.hangar.db.selectFrom('operations').selectAll().where('vm_id', '=', vmId).orderBy('id').execute();
const vmRow = (t: TestHangar, vmId: number) => t.running.hangar.db.selectFrom('vms').selectAll().where('id', '=', vmId).executeTakeFirstOrThrow();
const poolsUsed = async (t: TestHangar) => (await t.running.hangar.db.selectFrom('storage_pools').select('used').execute()).reduce((n, p) => n + p.used, 0);
const createBody = (name: string) => ({
  virtual_machine: { name, power_on: true }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }],
  reimage: { distribution: 'tiny', root_password: 'root-pw-secret', firstboot_script: 'echo script-secret' },
});

test('a queued vm_create is cancelled with its steps: its discs never existed (space given back), its secrets gone, the machine left off with a note; a second cancel is a 409', async () => {
  await withHangar(async (t) => {
    const before = await poolsUsed(t);
    detachHead(t);
    const created = await t.req('POST', `${GRP}/vm_create`, { token: t.adminToken, body: createBody('web1') });
    assert.equal(created.status, 202, created.text);
    const id = created.body.virtual_machine.id;
    assert.equal(await poolsUsed(t), before + 1024);
    const keyed = { token: t.adminToken, headers: { 'idempotency-key': 'cancel-web1' } };
    const r = await t.req('DELETE', String(created.headers.location), keyed);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.state, 'cancelled');
    const retried = await t.req('DELETE', String(created.headers.location), keyed);
    assert.deepEqual([retried.status, retried.headers['idempotent-replayed'], retried.body], [200, 'true', r.body], 'a retry with its key gets the first answer');
    assert.deepEqual(r.body.steps.map((s: any) => [s.kind, s.state]), [['disc.create', 'cancelled'], ['reimage', 'cancelled']]);
    for (const op of await ops(t, id)) {
      assert.equal(op.state, 'cancelled');
      assert.ok(op.finished_at !== null);
      assert.doesNotMatch(op.args, /\$secret|rootPasswordHash|firstbootScript/);
    }
    assert.equal(await poolsUsed(t), before, 'the disc\'s space is back');
    assert.deepEqual(await t.running.hangar.db.selectFrom('discs').select('id').where('vm_id', '=', id).execute(), []);
    const vm = await vmRow(t, id);
    assert.deepEqual([vm.power_on, vm.lock_operation_id, vm.head_note], [0, null, 'its creation was cancelled']);
    await assertInvariants(t.running.hangar.db, 'after a cancelled create');
    const again = await t.req('DELETE', String(created.headers.location), { token: t.adminToken });
    assert.equal(again.status, 409, `without the key it is a second cancel: ${again.text}`);
    assert.match(again.body.error, /already ended/);
  });
});

test('a running operation is a 409 (no kind can be stopped half-way), and so is a step of an intent; the operation runs on', async () => {
  await withHangar(async (t) => {
    const held = t.drivers[0]!.holdNext('createDisc');
    const created = await t.req('POST', `${GRP}/vm_create`, { token: t.adminToken, body: createBody('web1') });
    await held.reached;
    const running = await t.req('DELETE', String(created.headers.location), { token: t.adminToken });
    assert.equal(running.status, 409, running.text);
    assert.match(running.body.error, /running/);
    const step = (await ops(t, created.body.virtual_machine.id)).find((o) => o.kind === 'reimage')!;
    assert.equal(step.state, 'queued');
    const stepCancel = await t.req('DELETE', `/operations/${step.uuid}`, { token: t.adminToken });
    assert.equal(stepCancel.status, 409, stepCancel.text);
    assert.match(stepCancel.body.error, /cancel the intent/);
    held.release();
    await until('the create done', async () => (await ops(t, created.body.virtual_machine.id))[0]!.state === 'done');
  });
});

test('a queued reimage is cancelled and never runs; only whoever may change the machine may cancel it (vm_console: 403, a stranger: 404)', async () => {
  await withHangar(async (t) => {
    const created = await t.req('POST', `${GRP}/vm_create`, { token: t.adminToken, body: { virtual_machine: { name: 'web1' }, discs: [{ label: 'disc-1', size: 1024 }] } });
    const id = created.body.virtual_machine.id;
    await until('the create done', async () => (await ops(t, id))[0]!.state === 'done');
    const attach = detachHead(t);
    const asked = await t.req('POST', `${GRP}/virtual_machines/web1/reimage`, { token: t.adminToken, body: { distribution: 'tiny', root_password: 'pw' } });
    assert.equal(asked.status, 200, asked.text);
    const location = String(asked.headers.location);

    const consoleUser = await t.user('cons', { level: 'vm_console', virtual_machine_id: id });
    assert.equal((await t.req('DELETE', location, { token: consoleUser })).status, 403);
    const other = await account(t, 'other');
    const stranger = await t.user('stranger', { level: 'account_admin', account_id: other.id });
    assert.equal((await t.req('DELETE', location, { token: stranger })).status, 404);
    assert.equal((await t.req('DELETE', location, { token: null })).status, 401);
    const vmAdmin = await t.user('vmadmin', { level: 'vm_admin', virtual_machine_id: id });
    const r = await t.req('DELETE', location, { token: vmAdmin });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.state, 'cancelled');

    attach();
    await t.running.agents[0]!.kick(id);
    assert.ok(!t.drivers[0]!.calls.some((c) => c.startsWith('reimage ')), 'the cancelled reimage never reached the head');
    assert.equal((await vmRow(t, id)).last_imaged_with, null);
  });
});

test('a queued disc create is cancelled (the disc is gone, its space back) unless a later operation needs the disc; a queued disc delete cannot be cancelled', async () => {
  await withHangar(async (t) => {
    const created = await t.req('POST', `${GRP}/vm_create`, { token: t.adminToken, body: { virtual_machine: { name: 'web1' }, discs: [{ label: 'disc-1', size: 1024 }] } });
    const id = created.body.virtual_machine.id;
    await until('the create done', async () => (await ops(t, id))[0]!.state === 'done');
    const before = await poolsUsed(t);
    detachHead(t);
    const discs = `${GRP}/virtual_machines/web1/discs`;
    assert.equal((await t.req('POST', discs, { token: t.adminToken, body: { label: 'extra', size: 2048 } })).status, 201);
    const extra = (await ops(t, id)).at(-1)!;
    assert.equal(extra.kind, 'disc.create');
    assert.equal((await t.req('PUT', `${discs}/extra`, { token: t.adminToken, body: { size: 4096 } })).status, 200);
    const needed = await t.req('DELETE', `/operations/${extra.uuid}`, { token: t.adminToken });
    assert.equal(needed.status, 409, needed.text);
    assert.match(needed.body.error, /later operation needs the disc/);

    assert.equal((await t.req('POST', discs, { token: t.adminToken, body: { label: 'more', size: 512 } })).status, 201);
    const more = (await ops(t, id)).at(-1)!;
    const r = await t.req('DELETE', `/operations/${more.uuid}`, { token: t.adminToken });
    assert.equal(r.status, 200, r.text);
    assert.equal(await poolsUsed(t), before + 4096, 'the cancelled disc\'s space is back; the other\'s is still claimed');
    assert.equal((await t.req('GET', `${discs}/more`, { token: t.adminToken })).status, 404);

    assert.equal((await t.req('DELETE', `${discs}/disc-1?purge=true`, { token: t.adminToken })).status, 204);
    const del = (await ops(t, id)).at(-1)!;
    assert.equal(del.kind, 'disc.delete');
    const refused = await t.req('DELETE', `/operations/${del.uuid}`, { token: t.adminToken });
    assert.equal(refused.status, 409, refused.text);
    assert.match(refused.body.error, /cannot be cancelled/);
    await assertInvariants(t.running.hangar.db, 'after cancelled disc creates');
  });
});
