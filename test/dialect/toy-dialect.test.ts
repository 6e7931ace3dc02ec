// The test-only dialect (test/dialect/toy.ts) proves that a dialect adds routes, a credential
// extractor and an error shape through src/api/dialect.ts, and changes no core contract: it makes
// and powers a VM and follows the create to its end through core, with public ids only, on SQLite
// and PostgreSQL; its wire rules and BigV's do not leak into each other; a bad signature is a 401 in
// its shape, counted by the login limiter; key pairs are sealed and made only from strong sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { account, freshStore, startTest, until, type TestHangar } from '../helpers.js';
import { buildApp } from '../../src/api/app.js';
import { createKeyPair, enableTotp, sessionPrincipal, signedPrincipal, totpCode, type NewKeyPair } from '../../src/core/auth.js';
import { SecretBox } from '../../src/core/secrets.js';
import { isCode } from '../../src/core/errors.js';
import { authenticate } from '../../src/api/credentials/bearer.js';
import { TOY_PREFIX, TOY_SCHEME, toyDialect, toySignature } from './toy.js';
import type { ClusterConfig } from '../../src/core/config.js';

interface Toy {
  t: TestHangar;
  app: FastifyInstance;
  /** A signed request (its date now, unless given) from `address` (127.0.0.1 unless given). */
  signed(method: string, url: string, body?: unknown, o?: { key?: NewKeyPair; date?: number; raw?: string; address?: string; tamper?: boolean }): Promise<{ status: number; body: any; text: string; headers: Record<string, unknown> }>;
  key: NewKeyPair;
  acme: { uuid: string; groupUuid: string };
}

/** A Hangar with account acme, a user `tess` (account_admin there) with a key pair made from her
 *  session, and an app serving BigV and the toy dialect. */
async function withToy(storeUrl: string | undefined, fn: (toy: Toy) => Promise<void>, config: Partial<ClusterConfig> = {}): Promise<void> {
  const t = await startTest({ ...(storeUrl ? { storeUrl } : {}), config });
  let app: FastifyInstance | undefined;
  try {
    const h = t.running.hangar;
    const acme = await account(t, 'acme');
    const token = await t.user('tess', { level: 'account_admin', account_id: acme.id });
    const key = await createKeyPair(h, await sessionPrincipal(h, token, '127.0.0.1'));
    app = await buildApp(h, { authPrefix: '/auth', dialects: [toyDialect()] });
    await app.ready();
    const a = app;
    const uuids = await h.db.selectFrom('accounts as a').innerJoin('groups as g', 'g.account_id', 'a.id')
      .select(['a.uuid', 'g.uuid as group_uuid']).where('a.id', '=', acme.id).where('g.id', '=', acme.defaultGroupId).executeTakeFirstOrThrow();
    const signed: Toy['signed'] = async (method, url, body, o = {}) => {
      const k = o.key ?? key;
      const payload = o.raw ?? (body === undefined ? '' : JSON.stringify(body));
      const date = String(o.date ?? Date.now());
      const sig = toySignature(k.secret, method, url, date, o.tamper ? `${payload} ` : payload);
      const headers: Record<string, string> = { authorization: `${TOY_SCHEME} Credential=${k.accessKeyId}, Signature=${sig}`, 'x-toy-date': date };
      if (payload !== '' || method === 'POST') headers['content-type'] = 'application/json';
      const res = await a.inject({ method: method as 'GET', url, headers, payload: payload === '' ? undefined : payload, remoteAddress: o.address });
      const json = String(res.headers['content-type'] ?? '').startsWith('application/json') && res.body ? JSON.parse(res.body) : undefined;
      return { status: res.statusCode, body: json, text: res.body, headers: res.headers };
    };
    await fn({ t, app, signed, key, acme: { uuid: uuids.uuid, groupUuid: uuids.group_uuid } });
  } finally {
    await app?.close();
    await t.close();
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function journey(toy: Toy): Promise<void> {
  const { signed, acme, t } = toy;
  const c = await signed('POST', `${TOY_PREFIX}/servers`, {
    account: acme.uuid, group: acme.groupUuid, name: 'toy1', cores: 1, memory_mib: 512, disc_mib: 1024, image: 'tiny', root_password: 'toy-root-pw',
  });
  assert.equal(c.status, 202, c.text);
  assert.equal(c.body.ok, true);
  assert.match(c.body.server.id, UUID);
  assert.match(c.body.operation, UUID);
  assert.equal(c.body.server.power, 'off');
  // The long operation (the create intent and its steps) followed to its end through the toy.
  const op = await until('the create intent done', async () => {
    const r = await signed('GET', `${TOY_PREFIX}/operations/${c.body.operation}`);
    assert.equal(r.status, 200, r.text);
    assert.notEqual(r.body.operation.state, 'failed', r.text);
    return r.body.operation.state === 'done' ? r.body.operation : null;
  }, 15_000);
  assert.equal(op.kind, 'vm.create');
  assert.ok(op.steps.length >= 2, 'the intent has its steps (disc, image)');
  for (const s of op.steps) assert.equal(s.state, 'done');
  // Powered on through core, and running on the head.
  const p = await signed('POST', `${TOY_PREFIX}/servers/${c.body.server.id}/power`, { on: true });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.body.server.power, 'on');
  // The power intent is an operation of its own, followed to its end too.
  assert.match(p.body.operation, UUID);
  const started = await until('the start intent done', async () => {
    const r = await signed('GET', `${TOY_PREFIX}/operations/${p.body.operation}`);
    assert.notEqual(r.body.operation.state, 'failed', r.text);
    return r.body.operation.state === 'done' ? r.body.operation : null;
  }, 15_000);
  assert.equal(started.kind, 'vm.power.start');
  await until('running', async () => (await signed('GET', `${TOY_PREFIX}/servers/${c.body.server.id}`)).body.server.state === 'running', 15_000);
  // The same machine, as BigV shows it, to the same user's session: one core under both dialects.
  const tess = await t.login('tess', 'tess-password-1');
  const b = await t.req('GET', '/accounts/acme/groups/default/virtual_machines/toy1', { token: tess });
  assert.equal(b.status, 200, b.text);
  assert.equal(b.body.power_on, true);
  // Integer ids name nothing in the toy: public ids only.
  assert.deepEqual((await signed('GET', `${TOY_PREFIX}/servers/${b.body.id}`)).body, { ok: false, problem: { code: 'not_found' } });
}

test('the toy dialect creates a VM, follows its create operation to the end and powers it on, through core with public ids (SQLite)', async () => {
  await withToy(':memory:', journey);
});

test('the toy dialect creates a VM, follows its create operation to the end and powers it on, through core with public ids (PostgreSQL)', async (ctx) => {
  if (!process.env.HANGAR_TEST_DATABASE_URL) {
    ctx.skip('set HANGAR_TEST_DATABASE_URL=postgres://user@host/db to run the toy dialect on PostgreSQL');
    return;
  }
  const store = await freshStore({ postgres: true });
  try {
    await withToy(store.url, journey);
  } finally {
    await store.drop();
  }
});

test('BigV\'s wire rules do not apply inside the toy dialect, and the toy\'s do not apply to BigV', async () => {
  await withToy(undefined, async ({ t, app, signed }) => {
    // BigV: an empty JSON body is {}, the type has no charset, errors are BigV's.
    const bigvEmpty = await app.inject({ method: 'POST', url: '/accounts', headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' }, payload: '' });
    assert.equal(bigvEmpty.statusCode, 400);
    assert.equal(bigvEmpty.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(bigvEmpty.body), { name: ["can't be blank"] });
    // The toy: an empty JSON body is not JSON (its own parser), in its shape; Fastify's default type.
    const toyEmpty = await signed('POST', `${TOY_PREFIX}/servers/00000000-0000-4000-8000-000000000000/power`, undefined);
    assert.equal(toyEmpty.status, 400, toyEmpty.text);
    assert.deepEqual(toyEmpty.body, { ok: false, problem: { code: 'bad_json' } });
    assert.equal(toyEmpty.headers['content-type'], 'application/json; charset=utf-8');
    // BigV's `//` collapsing is BigV's: the toy's URLs are routed as sent...
    const doubled = await signed('GET', `${TOY_PREFIX}//servers/00000000-0000-4000-8000-000000000000`);
    assert.equal(doubled.status, 404);
    assert.deepEqual(doubled.body, { ok: false, problem: { code: 'not_found' } });
    // ...while BigV's still are collapsed, and `//toy/v1/...` is not collapsed into the toy.
    assert.equal((await app.inject({ method: 'GET', url: '//accounts', headers: { authorization: `Bearer ${t.adminToken}` } })).statusCode, 200);
    const sneaky = await app.inject({ method: 'GET', url: `/${TOY_PREFIX}/servers/00000000-0000-4000-8000-000000000000`, headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(sneaky.statusCode, 404);
    assert.deepEqual(JSON.parse(sneaky.body), { error: 'Not found' });
    // BigV's input guard (NUL refused before any route) is BigV's; the toy validates on its own.
    const nul = await signed('POST', `${TOY_PREFIX}/servers`, { account: 'x\u0000' });
    assert.equal(nul.status, 400);
    assert.equal(nul.body.problem.code, 'invalid');
    // The toy's credential means nothing to BigV: a toy-signed BigV request is BigV's 401.
    const crossed = await signed('GET', '/accounts');
    assert.equal(crossed.status, 401);
    assert.equal(typeof crossed.body.error, 'string');
    // A BigV bearer token means nothing to the toy: 401 in the toy's shape.
    const bearer = await app.inject({ method: 'GET', url: `${TOY_PREFIX}/servers/00000000-0000-4000-8000-000000000000`, headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(bearer.statusCode, 401);
    assert.deepEqual(JSON.parse(bearer.body), { ok: false, problem: { code: 'unauthorized' } });
    // Not-found bodies stay each dialect's: the root's for unknown paths is as it always was.
    assert.deepEqual(JSON.parse((await app.inject({ method: 'GET', url: '/nothing/here', headers: { authorization: `Bearer ${t.adminToken}` } })).body), { error: 'Not found' });
    // A path Fastify cannot decode is refused before routing, in the shape of the dialect it names.
    const bad = await app.inject({ method: 'GET', url: `${TOY_PREFIX}/servers/%ff` });
    assert.equal(bad.statusCode, 404);
    assert.deepEqual(JSON.parse(bad.body), { ok: false, problem: { code: 'not_found' } });
    assert.deepEqual(JSON.parse((await app.inject({ method: 'GET', url: '/accounts/%ff' })).body), { error: 'Not found' });
  });
});

test('a bad toy signature is a 401 in the toy\'s shape and counted by the login limiter; a replay and a stale date are refused', async () => {
  await withToy(undefined, async ({ signed, key, t }) => {
    const url = `${TOY_PREFIX}/servers/00000000-0000-4000-8000-000000000000`;
    const address = '203.0.113.9';
    // A tampered body, a wrong secret, an unknown key: 401, the toy's shape, each one counted.
    for (const o of [{ tamper: true }, { key: { ...key, secret: 'wrong' } }, { key: { ...key, accessKeyId: 'HKNOSUCHKEY' } }]) {
      const r = await signed('POST', `${url}/power`, { on: true }, { ...o, address });
      assert.equal(r.status, 401, r.text);
      assert.deepEqual(r.body, { ok: false, problem: { code: 'unauthorized' } });
    }
    // Past the free ones (2 here; the third was the one try a wait allows) the address waits: 429 in the toy's shape, even with a good signature.
    const waited = await signed('GET', url, undefined, { address });
    assert.equal(waited.status, 429, waited.text);
    assert.deepEqual(waited.body, { ok: false, problem: { code: 'throttled' } });
    assert.ok(Number(waited.headers['retry-after']) >= 1);
    // Another address is not held up; a good signature passes (404: no such server).
    const date = Date.now();
    const good = await signed('GET', url, undefined, { date });
    assert.equal(good.status, 404, good.text);
    // The same signed request again is a replay; a date outside the window is refused.
    assert.equal((await signed('GET', url, undefined, { date })).status, 401);
    assert.equal((await signed('GET', url, undefined, { date: Date.now() - 10 * 60_000 })).status, 401);
    // Replay records live in the store (every brain sharing it sees them).
    const seen = await t.running.hangar.db.selectFrom('signed_requests').selectAll().execute();
    assert.ok(seen.length >= 1);
  }, { loginFreePerAddress: 2 });
});

test('a key pair\'s secret is stored sealed, and a key pair is made only from a session that proved every factor the user requires', async () => {
  await withToy(undefined, async ({ t, key }) => {
    const h = t.running.hangar;
    const row = await h.db.selectFrom('key_pairs').selectAll().where('access_key_id', '=', key.accessKeyId).executeTakeFirstOrThrow();
    assert.ok(SecretBox.isSealed(row.secret));
    assert.ok(!JSON.stringify(row).includes(key.secret), 'the secret is nowhere in the row in clear');
    assert.equal(h.secrets.open(row.secret), key.secret);
    assert.equal(row.uuid, key.id);
    // A signed request proves what the creating session proved, and may make a pair with the same factors.
    const viaPair = await signedPrincipal(h, { accessKeyId: key.accessKeyId, date: Date.now(), nonce: 'n1', verify: (s) => s === key.secret }, '127.0.0.1');
    assert.deepEqual(viaPair.factors, ['password', 'signature']);
    const chained = await createKeyPair(h, viaPair);
    assert.equal((await h.db.selectFrom('key_pairs').select('factors').where('uuid', '=', chained.id).executeTakeFirstOrThrow()).factors, '["password"]');
    const acme = await h.db.selectFrom('accounts').select('id').where('name', '=', 'acme').executeTakeFirstOrThrow();
    // A privilege that asks for a second factor: a password-only session may not make a key pair.
    const token = await t.user('yuki', { level: 'account_admin', account_id: acme.id, yubikey_required: true });
    await assert.rejects(createKeyPair(h, await sessionPrincipal(h, token, '127.0.0.1')), (e: unknown) => isCode(e, 'forbidden') && e.params.reason === 'key_pair_factors' && e.params.missing === '2fa');
    const secret = (await enableTotp(h, 'yuki'))!;
    const strong = await t.login('yuki', 'yuki-password-1', { '2fa': totpCode(secret) });
    const made = await createKeyPair(h, await sessionPrincipal(h, strong, '127.0.0.1'));
    assert.match(made.accessKeyId, /^HK[0-9A-F]{20}$/);
    // Not from an API key, nor from an impersonated session.
    const k = await t.req('POST', '/api_keys', { token: t.adminToken, body: { label: 'k1' } });
    assert.equal(k.status, 201, k.text);
    await assert.rejects(createKeyPair(h, await authenticate(h, `Bearer apikey.${k.body.api_key}`, '127.0.0.1')), (e: unknown) => isCode(e, 'forbidden') && e.params.reason === 'key_pair_session');
    const imp = await t.req('POST', `/session/${t.adminToken}`, { raw: 'username=tess', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(imp.status, 200, imp.text);
    await assert.rejects(createKeyPair(h, await sessionPrincipal(h, imp.text, '127.0.0.1')), (e: unknown) => isCode(e, 'forbidden') && e.params.reason === 'key_pair_session');
  });
});
