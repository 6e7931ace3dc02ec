// Regression: GET /events took any number of streams from one caller, each held open as long as the
// caller liked (by default forever), and every stream reads the store at every change of any
// operation: one tenant opening streams by the hundred multiplied the work of every operation in
// the cluster. A user may now hold EVENT_STREAMS_PER_USER streams open at once (its sessions and API
// keys together); the next is refused with 429 in BigV's words until one closes. Others are not
// counted against it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest } from '../helpers.js';
import { EVENT_STREAMS_PER_USER } from '../../src/api/events.js';

test('one user holds at most EVENT_STREAMS_PER_USER event streams open at once; the next is a 429 in BigV\'s words', async () => {
  const t = await startTest();
  try {
    const beta = await account(t, 'beta');
    const victor = await t.user('victor', { level: 'account_admin', account_id: beta.id }, beta.id);
    const key = (await t.req('POST', '/api_keys', { token: victor, body: { label: 'k' } })).body.api_key as string;
    assert.ok(EVENT_STREAMS_PER_USER >= 2 && EVENT_STREAMS_PER_USER <= 64, `a small bound: ${EVENT_STREAMS_PER_USER}`);
    const open = Array.from({ length: EVENT_STREAMS_PER_USER }, (_, i) => t.req('GET', '/events?max_seconds=2', { token: i % 2 ? victor : `apikey.${key}` }));
    await new Promise((r) => setTimeout(r, 300));
    const refused = await Promise.race([
      t.req('GET', '/events?max_seconds=1', { token: victor }),
      new Promise<null>((r) => setTimeout(() => r(null), 1500)),
    ]);
    assert.ok(refused, 'the stream past the bound is refused at once, not held open');
    assert.equal(refused.status, 429, refused.text);
    assert.match(refused.body.error, /event streams/);
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    const other = await t.req('GET', '/events?max_seconds=0', { token: t.adminToken });
    assert.equal(other.status, 200, 'another user is not counted against victor');
    for (const r of await Promise.all(open)) assert.equal(r.status, 200);
    assert.equal((await t.req('GET', '/events?max_seconds=0', { token: victor })).status, 200, 'a closed stream is no longer counted');
  } finally {
    await t.close();
  }
});
