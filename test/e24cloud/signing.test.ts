// The e24cloud credential (docs/e24cloud.md §Signing): requests signed as e24py and the Go driver
// sign them pass, with the query signed or not, a body on a GET, the Host with or without port; a
// wrong signature, unknown key, skewed or malformed X-Date, or no credential is a 401 in the
// envelope, counted by the login limiter; identical GETs in one second pass; a repeated signed
// write answers the first answer and acts once; key pairs are made, renewed and deleted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTest, type TestHangar } from '../helpers.js';
import { e24Tenant, signer, type E24Tenant } from './client.js';

async function withTenant(fn: (t: TestHangar, a: E24Tenant) => Promise<void>): Promise<void> {
  const t = await startTest();
  try {
    await fn(t, await e24Tenant(t, 'acme'));
  } finally {
    await t.close();
  }
}

const refused = (r: { status: number; body: any; text: string }, status = 401) => {
  assert.equal(r.status, status, r.text);
  assert.equal(r.body.success, false, r.text);
  assert.equal(typeof r.body.error, 'string', r.text);
};

test('signed as e24py and as the Go driver sign: query signed or not, Host with or without port, a GET with a body', async () => {
  await withTenant(async (_t, a) => {
    const ok = await a.signed('GET', '/v2/account');
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.success, true);
    assert.equal(ok.body.account.name, 'acme-admin');
    assert.deepEqual(ok.body.account.api, [{ api_key: a.pair.api_key, secret_key: null }], 'the secret is never shown again');
    assert.equal((await a.signed('GET', '/v2/regions?x=1')).status, 200, 'query signed (e24py, PHP sample)');
    assert.equal((await a.signed('GET', '/v2/regions?x=1', undefined, { noQuery: true })).status, 200, 'query left out (Go driver)');
    assert.equal((await a.signed('GET', '/v2/regions', undefined, { host: 'api.example:8443' })).status, 200, 'Host as sent, with its port');
    assert.equal((await a.signed('GET', '/v2/regions', undefined, { host: 'api.example:8443', signedHost: 'api.example' })).status, 200, 'Host without its port');
    assert.equal((await a.signed('GET', '/v2/templates', { anything: 1 })).status, 200, 'a GET whose body is signed');
    refused(await a.signed('GET', '/v2/templates', { anything: 1 }, { tamper: true }));
    // Two identical GETs in the same second (X-Date has one-second resolution) both pass.
    const date = new Date();
    assert.equal((await a.signed('GET', '/v2/virtual-machines', undefined, { date })).status, 200);
    assert.equal((await a.signed('GET', '/v2/virtual-machines', undefined, { date })).status, 200);
  });
});

test('bad signatures, unknown keys, skewed or malformed dates and missing credentials are 401 in the envelope, counted by the limiter', async () => {
  await withTenant(async (t, a) => {
    refused(await a.signed('GET', '/v2/account', undefined, { tamper: true }));
    refused(await a.signed('GET', '/v2/account', undefined, { pair: { api_key: 'NOSUCHKEY', secret_key: a.pair.secret_key } }));
    refused(await a.signed('GET', '/v2/account', undefined, { pair: { api_key: a.pair.api_key, secret_key: 'wrong' } }));
    refused(await a.signed('GET', '/v2/account', undefined, { date: new Date(Date.now() - 6 * 60_000) }));
    refused(await a.signed('GET', '/v2/account', undefined, { date: new Date(Date.now() + 6 * 60_000) }));
    refused(await a.signed('GET', '/v2/account', undefined, { date: '1764556200' }));
    refused(await a.signed('GET', '/v2/account', undefined, { date: 'yesterday' }));
    assert.equal((await a.signed('GET', '/v2/account', undefined, { date: new Date(Date.now() - 4 * 60_000) })).status, 200, 'inside the 5-minute window');
    const none = await t.req('GET', '/v2/account');
    refused(none);
    assert.match(none.body.error, /Authorization/);
    refused(await t.req('GET', '/v2/account', { headers: { authorization: 'garbage' } }));
    // A session is taken only by the key-pair routes.
    refused(await t.req('GET', '/v2/virtual-machines', { token: a.token }));
    // The same limiter as the other logins: an address that keeps failing waits.
    let last;
    for (let i = 0; i < 120; i++) {
      last = await a.signed('GET', '/v2/account', undefined, { tamper: true, address: '10.9.9.9' });
      if (last.status === 429) break;
    }
    assert.equal(last!.status, 429, last!.text);
    assert.equal(last!.body.success, false);
    assert.ok(last!.headers['retry-after']);
  });
});

test('a repeated signed write inside the window answers the first answer and acts once; another write acts', async () => {
  await withTenant(async (t, a) => {
    const date = new Date();
    const body = { name: 'dup', method: 'upload', content: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl dup@x' };
    const first = await a.signed('PUT', '/v2/account/sshkey', body, { date });
    assert.equal(first.status, 200, first.text);
    const again = await a.signed('PUT', '/v2/account/sshkey', body, { date });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.text, first.text, 'the first answer');
    assert.equal(again.headers['idempotent-replayed'], 'true');
    const keys = await t.running.hangar.db.selectFrom('ssh_keys').select('id').execute();
    assert.equal(keys.length, 1, 'acted once');
    // Signed a second later: a new request, refused on its own merits (the name is taken).
    const later = await a.signed('PUT', '/v2/account/sshkey', body, { date: new Date(date.getTime() + 1000) });
    assert.equal(later.status, 400, later.text);
    assert.ok(['name', 'content'].includes(later.body.field), later.text);
  });
});

test('key pairs: made from a session or a pair, the secret shown once, renewed (the old one stops), deleted; never from an API key', async () => {
  await withTenant(async (t, a) => {
    const second = await a.signed('PUT', '/v2/account/api', {});
    assert.equal(second.status, 200, second.text);
    const pair2 = second.body.api;
    assert.notEqual(pair2.api_key, a.pair.api_key);
    const s2 = signer(t.running.app, () => pair2);
    assert.equal((await s2('GET', '/v2/account')).status, 200);
    const renewed = await a.signed('POST', '/v2/account/api-new-secret-key', { api_key: pair2.api_key });
    assert.equal(renewed.status, 200, renewed.text);
    refused(await s2('GET', '/v2/account'));
    assert.equal((await s2('GET', '/v2/account', undefined, { pair: renewed.body.api })).status, 200);
    refused(await a.signed('POST', '/v2/account/api-new-secret-key', { api_key: 'NOSUCH' }), 404);
    const del = await t.req('DELETE', '/v2/account/api', { token: a.token, body: { api_key: pair2.api_key } });
    assert.equal(del.status, 200, del.text);
    refused(await s2('GET', '/v2/account', undefined, { pair: renewed.body.api }));
    // An API key cannot make one (it would outgrow the privileges bound to it).
    const key = (await t.req('POST', '/api_keys', { token: a.token, body: { label: 'k' } })).body;
    refused(await t.req('PUT', '/v2/account/api', { token: `apikey.${key.api_key}`, body: {} }), 403);
    // Another user's pair is not found.
    const b = await e24Tenant(t, 'beta');
    refused(await b.signed('DELETE', '/v2/account/api', { api_key: a.pair.api_key }), 404);
    const rows = await t.running.hangar.db.selectFrom('key_pairs').select(['secret']).execute();
    for (const r of rows) assert.doesNotMatch(String(r.secret), new RegExp(a.pair.secret_key.slice(0, 12)), 'sealed');
  });
});
