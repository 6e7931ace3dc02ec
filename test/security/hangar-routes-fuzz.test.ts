// Hangar's own routes (GET/DELETE /operations/{id}, GET /operations, GET /audit, GET /events) under a
// hostile tenant and a careless user. The registered-route fuzzer fills `:id` with integers, which
// these routes refuse by schema before any rule runs; this sends real operation ids (the other
// tenant's, in every case, through `//`), ids that name nothing, odd and repeated query values and
// odd Idempotency-Keys. Nothing answers 5xx; the other tenant's operations are answered exactly as
// one that does not exist (404, same body); no refusal cancels anything; the store's invariants hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest } from '../helpers.js';
import { assertInvariants } from '../invariants.js';

test('Hangar\'s own routes: no 5xx, another tenant\'s operation is indistinguishable from none, nothing cancelled by a refused request', async () => {
  const t = await startTest({ config: { operationWaitMax: 1 } });
  try {
    const alpha = await account(t, 'alpha');
    const beta = await account(t, 'beta');
    const mallory = await t.user('mallory', { level: 'account_admin', account_id: alpha.id }, alpha.id);
    const victor = await t.user('victor', { level: 'account_admin', account_id: beta.id }, beta.id);
    const cons = await t.user('cons', { level: 'group_admin', group_id: alpha.defaultGroupId }, alpha.id);
    // Beta's create stays queued: its head is held, so a refused cancel would show.
    const held = t.drivers[0]!.holdNext('reimage');
    const b1 = await t.req('POST', '/accounts/beta/groups/default/vm_create', {
      token: victor, body: { virtual_machine: { name: 'b1' }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }] },
    });
    assert.equal(b1.status, 202, b1.text);
    const theirs = String(b1.headers.location).split('/').pop()!;
    const none = '11111111-2222-4333-8444-555555555555';
    const ids = [theirs, theirs.toUpperCase(), none, '00000000-0000-0000-0000-000000000000', '-'.repeat(36), 'f'.repeat(36), `${theirs}x`, theirs.slice(1), '%00'.repeat(12), '..', ''];
    const queries = ['', '?wait=0', '?wait=1', '?wait=999999999', '?wait=-1', '?wait=1e3', '?wait=1&wait=1', '?wait=', '?wait[]=1', '?wait=%00', '?x=1'];
    const listQueries = ['', '?vm_id=0', `?vm_id=${b1.body.virtual_machine.id}`, '?vm_id=2147483648', '?vm_id=999999999', '?vm_id=a1', '?vm_id=1&vm_id=1', '?vm_id=', '?limit=5'];
    const auditQueries = ['', '?limit=0', '?limit=9999', '?limit=1&limit=1', '?since=0', '?since=x', '?since=-271821-04-20T00:00:00Z', '?until=+275760-09-13T00:00:00.000Z',
      '?since=2026-02-30', `?operation=${theirs}`, '?operation=x', '?virtual_machine=99999999999', '?virtual_machine=0', '?virtual_machine=b1', `?virtual_machine=${none}`,
      '?account=beta', `?account=${beta.id}`, '?account=2147483648', '?account=%2e%2e', '?user_id=999999999', '?user_id=-1', '?dialect=BIGV', '?dialect=', '?nope=1'];
    const keys = [undefined, 'k', ' ', 'x'.repeat(256), '\u00e9', 'k'];
    const seen: string[] = [];
    // Each from its own loopback address, so the login limiter (tested on its own) does not turn the run into 429s.
    const ask = async (method: string, url: string, token: string | null, headers: Record<string, string> = {}) => {
      const n = seen.length;
      const r = await t.req(method, url, { token, headers, address: `127.1.${(n >> 8) & 255}.${n & 255}` });
      seen.push(`${method} ${url} -> ${r.status}`);
      return r;
    };
    for (const token of [mallory, cons, t.adminToken, null, 'junk']) {
      for (const id of ids) {
        for (const q of queries) await ask('GET', `/operations/${id}${q}`, token);
        for (const key of keys) await ask('DELETE', `/operations/${id}`, token, key === undefined ? {} : { 'idempotency-key': key });
        await ask('GET', `//operations//${id}`, token);
        await ask('DELETE', `//operations/${id}`, token);
      }
      for (const q of listQueries) await ask('GET', `/operations${q}`, token);
      for (const q of auditQueries) await ask('GET', `/audit${q}`, token);
      for (const q of ['?max_seconds=0', '?max_seconds=0&max_seconds=0', '?max_seconds=-1', '?max_seconds=9999999', '?max_seconds=']) await ask('GET', `/events${q}`, token);
    }
    assert.deepEqual(seen.filter((s) => /-> 5\d\d$/.test(s)), [], 'no 5xx');
    // Mallory (another tenant) learns nothing: their operation is answered as none at all is.
    for (const method of ['GET', 'DELETE']) {
      const mine = await t.req(method, `/operations/${theirs}`, { token: mallory });
      const nothing = await t.req(method, `/operations/${none}`, { token: mallory });
      assert.deepEqual([mine.status, mine.text], [nothing.status, nothing.text], `${method}: the other tenant's operation reads as none`);
      assert.equal(mine.status, 404);
    }
    const op = await t.req('GET', `/operations/${theirs}`, { token: victor });
    assert.notEqual(op.body.state, 'cancelled', 'no refused request cancelled it');
    held.release();
    await assertInvariants(t.running.hangar.db, 'after the run');
  } finally {
    await t.close();
  }
});
