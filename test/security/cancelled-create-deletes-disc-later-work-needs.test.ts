// Regression: cancelling a queued vm_create deleted the discs its steps would make even when a later
// operation the caller asked for meanwhile (a disc grow, a backup) was queued on one of them. The
// "a later operation needs the disc it creates" refusal was applied to a lone disc create only, not
// to an intent's steps: the grow and the backup then ran against a disc that no longer existed (the
// fake head reports them done; a real one fails them), and the backup's row outlived its disc's
// creation. Cancelling the intent is now refused (409, the same words) while later work needs one of
// its discs; with no such work it is cancelled as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest, until, type TestHangar } from '../helpers.js';
import { assertInvariants } from '../invariants.js';
import type { LocalDispatch } from '../../src/heads/local-dispatch.js';

/** Kicks no longer reach the head: what is queued from now on stays queued. */
function detachHead(t: TestHangar): () => void {
  const dispatch = t.running.hangar.heads as LocalDispatch;
  const agent = t.running.agents[0]!;
  dispatch.agents.delete(agent.headId);
  return () => dispatch.add(agent);
}

const G = '/accounts/beta/groups/default';
const body = (name: string) => ({ virtual_machine: { name }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }] });

type Later = (vm: string) => [string, string, unknown];
const LATER: [string, Later][] = [
  ['a disc grow', (vm) => ['PUT', `${G}/virtual_machines/${vm}/discs/disc-1`, { size: 2048 }]],
  ['a backup', (vm) => ['POST', `${G}/virtual_machines/${vm}/discs/disc-1/backups`, undefined]],
];

for (const [what, later] of LATER) {
  test(`a queued vm_create is not cancelled while ${what} queued since needs the disc its step creates`, async () => {
    const t = await startTest();
    try {
      await account(t, 'beta');
      const attach = detachHead(t);
      const created = await t.req('POST', `${G}/vm_create`, { token: t.adminToken, body: body('b1') });
      assert.equal(created.status, 202, created.text);
      const vmId = created.body.virtual_machine.id as number;
      const [method, url, payload] = later('b1');
      const asked = await t.req(method, url, { token: t.adminToken, body: payload });
      assert.ok(asked.status === 200 || asked.status === 201, asked.text);
      const cancel = await t.req('DELETE', String(created.headers.location), { token: t.adminToken });
      assert.equal(cancel.status, 409, cancel.text);
      assert.match(cancel.body.error, /a later operation needs the disc it creates/);
      const db = t.running.hangar.db;
      assert.equal((await db.selectFrom('discs').select('id').where('vm_id', '=', vmId).execute()).length, 1, 'the disc is still there');
      await assertInvariants(db, 'after the refused cancel');
      attach();
      await t.running.hangar.heads.kick(t.running.agents[0]!.headId, vmId);
      await until('every operation ended', async () => (await db.selectFrom('operations').select('state').where('vm_id', '=', vmId).execute()).every((o) => o.state === 'done'));
      await assertInvariants(db, 'after the head ran them');
      // With nothing else queued on its discs, a create is still cancelled.
      detachHead(t);
      const other = await t.req('POST', `${G}/vm_create`, { token: t.adminToken, body: body('b2') });
      assert.equal((await t.req('DELETE', String(other.headers.location), { token: t.adminToken })).status, 200);
      await assertInvariants(db, 'after a cancelled create');
    } finally {
      await t.close();
    }
  });
}
