// Idempotency-Key on mutating routes (issue 8, item 2): a client that retries a create after a lost
// answer made a second VM (or got a 400 "name has already been taken" for its own first create).
// With a key, the first request acts and its answer is kept; a retry with the key gets that answer.
// Runs on SQLite and, with HANGAR_TEST_STORE=postgres, on PostgreSQL (scripts/test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { account, freshStore, startTest, withAcme, type TestHangar } from '../helpers.js';
import { assertInvariants } from '../invariants.js';
import { SecretBox } from '../../src/core/secrets.js';
import { forgetExpiredIdempotency, IDEMPOTENCY_TTL_MS } from '../../src/api/idempotency.js';

const create = '/accounts/acme/groups/default/vm_create';
const vmBody = (name: string) => ({ virtual_machine: { name, cores: 1, memory: 1024, power_on: false }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 10240 }] });
const keyed = (key: string, o: { token: string; body?: unknown }) => ({ ...o, headers: { 'idempotency-key': key } });

async function vmCount(t: TestHangar, name: string): Promise<number> {
  const rows = await t.running.hangar.db.selectFrom('vms').select('id').where('name', '=', name).execute();
  return rows.length;
}

test('a retried create with the same Idempotency-Key returns the first answer and makes no second VM', async () => {
  await withAcme(async (t) => {
    const a = await t.req('POST', create, keyed('create-web-1', { token: t.adminToken, body: vmBody('web') }));
    assert.equal(a.status, 202, a.text);
    const b = await t.req('POST', create, keyed('create-web-1', { token: t.adminToken, body: vmBody('web') }));
    assert.equal(b.status, 202, `the retry is answered as the first was: ${b.text}`);
    assert.deepEqual(b.body, a.body);
    assert.equal(b.headers['idempotent-replayed'], 'true');
    assert.equal(await vmCount(t, 'web'), 1);
    await assertInvariants(t.running.hangar.db, 'after a retried create');
  });
});

test('two identical creates at once with one Idempotency-Key make one VM and both get its answer', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < 5; i++) {
      const key = `race-${i}`;
      const [a, b] = await Promise.all([
        t.req('POST', create, keyed(key, { token: t.adminToken, body: vmBody(`race${i}`) })),
        t.req('POST', create, keyed(key, { token: t.adminToken, body: vmBody(`race${i}`) })),
      ]);
      assert.equal(a.status, 202, a.text);
      assert.equal(b.status, 202, b.text);
      assert.deepEqual(a.body, b.body);
      assert.equal(await vmCount(t, `race${i}`), 1);
      await assertInvariants(t.running.hangar.db, `race round ${i}`);
    }
  });
});

test('the same Idempotency-Key with a different request is refused with 422 and acts not', async () => {
  await withAcme(async (t) => {
    assert.equal((await t.req('POST', create, keyed('k', { token: t.adminToken, body: vmBody('one') }))).status, 202);
    const r = await t.req('POST', create, keyed('k', { token: t.adminToken, body: vmBody('two') }));
    assert.equal(r.status, 422, r.text);
    assert.deepEqual(Object.keys(r.body), ['Idempotency-Key']);
    assert.equal(await vmCount(t, 'two'), 0);
  });
});

test('Idempotency-Keys are per caller: another user with the same key and request does not get the first answer', async () => {
  await withAcme(async (t) => {
    const beta = await account(t, 'beta');
    const other = await t.user('mallory', { level: 'account_admin', account_id: beta.id });
    const a = await t.req('POST', create, keyed('shared', { token: t.adminToken, body: vmBody('secret') }));
    assert.equal(a.status, 202, a.text);
    const b = await t.req('POST', create, keyed('shared', { token: other, body: vmBody('secret') }));
    assert.equal(b.status, 404, `mallory cannot see acme, key or no key: ${b.text}`);
    assert.notEqual(b.headers['idempotent-replayed'], 'true');
  });
});

test('a purge retried with its Idempotency-Key answers 204 again instead of 404', async () => {
  await withAcme(async (t) => {
    assert.equal((await t.req('POST', create, { token: t.adminToken, body: vmBody('gone') })).status, 202);
    const url = '/accounts/acme/groups/default/virtual_machines/gone?purge=true';
    assert.equal((await t.req('DELETE', url, keyed('del', { token: t.adminToken }))).status, 204);
    const again = await t.req('DELETE', url, keyed('del', { token: t.adminToken }));
    assert.equal(again.status, 204, again.text);
  });
});

test('a 4xx answer is recorded: the retry gets the same 404 even after the group appears', async () => {
  await withAcme(async (t) => {
    const url = '/accounts/acme/groups/later/vm_create';
    assert.equal((await t.req('POST', url, keyed('early', { token: t.adminToken, body: vmBody('early') }))).status, 404);
    assert.equal((await t.req('POST', '/accounts/acme/groups', { token: t.adminToken, body: { name: 'later' } })).status, 201);
    const r = await t.req('POST', url, keyed('early', { token: t.adminToken, body: vmBody('early') }));
    assert.equal(r.status, 404, r.text);
    assert.equal(await vmCount(t, 'early'), 0);
  });
});

test('a 5xx answer is not recorded: the request can be retried with the same key', async () => {
  await withAcme(async (t) => {
    const url = '/accounts/acme/groups/default/virtual_machines/flaky/signal';
    assert.equal((await t.req('POST', create, { token: t.adminToken, body: { ...vmBody('flaky'), virtual_machine: { ...vmBody('flaky').virtual_machine, power_on: true } } })).status, 202);
    // A head that does not answer: the signal is a 503.
    await t.running.agents[0]!.stop();
    const a = await t.req('POST', url, keyed('sig', { token: t.adminToken, body: { signal: 'nmi' } }));
    assert.equal(a.status, 503, a.text);
    const rows = await t.running.hangar.db.selectFrom('idempotency_records').select('key').execute();
    assert.deepEqual(rows, [], 'nothing is kept for a failed request');
    const again = await t.req('POST', url, keyed('sig', { token: t.adminToken, body: { signal: 'reset' } }));
    assert.equal(again.status, 503, `the key is free for another try: ${again.text}`);
  });
});

test('Idempotency-Keys longer than 255 characters or with control characters are a 400', async () => {
  await withAcme(async (t) => {
    for (const key of ['x'.repeat(256), 'tab\there']) {
      const r = await t.req('POST', create, keyed(key, { token: t.adminToken, body: vmBody('bad') }));
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(Object.keys(r.body), ['Idempotency-Key']);
    }
    assert.equal(await vmCount(t, 'bad'), 0);
    assert.equal((await t.req('POST', create, keyed('x'.repeat(255), { token: t.adminToken, body: vmBody('good') }))).status, 202);
  });
});

test('records expire after 24 hours: the key can then be used again, and the sweeper removes them', async () => {
  await withAcme(async (t) => {
    const h = t.running.hangar;
    assert.equal((await t.req('POST', create, keyed('old', { token: t.adminToken, body: vmBody('first') }))).status, 202);
    const [rec] = await h.db.selectFrom('idempotency_records').select(['created_at', 'expires_at']).execute();
    assert.equal(rec!.expires_at - rec!.created_at, IDEMPOTENCY_TTL_MS);
    // A day later (the record's clock moved back rather than the brain's, whose sessions would expire too).
    await h.db.updateTable('idempotency_records').set({ expires_at: h.now() - 1 }).execute();
    const r = await t.req('POST', create, keyed('old', { token: t.adminToken, body: vmBody('second') }));
    assert.equal(r.status, 202, `an expired key is a new key: ${r.text}`);
    await h.db.updateTable('idempotency_records').set({ expires_at: h.now() - 1 }).execute();
    await forgetExpiredIdempotency(h);
    assert.deepEqual(await h.db.selectFrom('idempotency_records').select('key').execute(), []);
  });
});

test('a retry after the brain restarts, and a retry to another brain on the same store, return the first answer', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-idem-'));
  const store = await freshStore({ sqliteFile: path.join(dir, 'store.db') });
  const secrets = SecretBox.ephemeral();
  try {
    const first = await startTest({ storeUrl: store.url, secrets });
    await account(first, 'acme');
    const a = await first.req('POST', create, keyed('survives', { token: first.adminToken, body: vmBody('kept') }));
    assert.equal(a.status, 202, a.text);
    // A second brain on the same store, both running (on SQLite the same file; on PostgreSQL one database).
    const second = await startTest({ storeUrl: store.url, secrets, heads: [] });
    const b = await second.req('POST', create, keyed('survives', { token: second.adminToken, body: vmBody('kept') }));
    assert.equal(b.status, 202, b.text);
    assert.deepEqual(b.body, a.body);
    await second.close();
    await first.close();
    // The first brain again, restarted.
    const again = await startTest({ storeUrl: store.url, secrets });
    const c = await again.req('POST', create, keyed('survives', { token: again.adminToken, body: vmBody('kept') }));
    assert.equal(c.status, 202, c.text);
    assert.deepEqual(c.body, a.body);
    assert.equal(await vmCount(again, 'kept'), 1);
    await again.close();
  } finally {
    await store.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a replayed PUT answers with the first answer\'s ETag and changes the VM once', async () => {
  await withAcme(async (t) => {
    assert.equal((await t.req('POST', create, { token: t.adminToken, body: vmBody('grow') })).status, 202);
    const url = '/accounts/acme/groups/default/virtual_machines/grow';
    const a = await t.req('PUT', url, keyed('grow-1', { token: t.adminToken, body: { cores: 2 } }));
    assert.equal(a.status, 200, a.text);
    const b = await t.req('PUT', url, keyed('grow-1', { token: t.adminToken, body: { cores: 2 } }));
    assert.equal(b.status, 200, b.text);
    assert.equal(b.headers.etag, a.headers.etag);
    assert.equal(b.headers['content-type'], a.headers['content-type']);
    assert.deepEqual(b.body, a.body);
    assert.equal((await t.req('GET', url, { token: t.adminToken })).headers.etag, a.headers.etag, 'one change, one new version');
  });
});
