// Issue 7, defect 5: "No limit on password guessing". 200 wrong passwords in a row all answered 401
// at full speed. Failed credential checks are now counted per username+address and per address
// (rate-limiter-flexible over the store); past the free ones each failure makes that key wait a
// growing delay, refused with 429 + Retry-After before any password hash is computed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { ADMIN, freshStore, startTest, type Reply, type TestHangar } from '../helpers.js';
import { startHangar, type Running } from '../../src/brain/start.js';
import { SecretBox } from '../../src/core/secrets.js';
import { bootstrap } from '../../src/brain/bootstrap.js';
import { FakeDriver } from '../../src/drivers/fake/driver.js';
import { enableTotp, totpCode } from '../../src/core/auth.js';

const ATTACKER = '198.51.100.7';
const VICTIM = '203.0.113.9';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function session(t: TestHangar, username: string, password: string, address = ATTACKER, extra: Record<string, string> = {}, prefix = '') {
  return t.req('POST', `${prefix}/session`, { body: { username, password, ...extra }, address });
}

/** A 429 in the auth endpoint's shape (text/plain), with Retry-After in whole seconds; returns it. */
function refusedAsText(r: Reply, what: string): number {
  assert.equal(r.status, 429, `${what}: ${r.status} ${r.text}`);
  assert.match(String(r.headers['content-type']), /^text\/plain/, what);
  assert.match(r.text, /^Too many failed attempts: try again in \d+ seconds?$/, what);
  const after = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(after) && after >= 1, `${what}: Retry-After ${r.headers['retry-after']}`);
  return after;
}

test('200 wrong passwords in a row are not all 401 at full speed: past the free ones, 429 with Retry-After and no argon2', async (ctx) => {
  const t = await startTest();
  try {
    await t.user('alice');
    const free = t.running.hangar.config.loginFreePerUser;
    const statuses: number[] = [];
    // CPU time (argon2 runs on libuv's threads, counted too), which other work on the machine does not inflate.
    const cpuMs: Record<number, number[]> = { 401: [], 429: [] };
    for (let i = 0; i < 200; i++) {
      const start = process.cpuUsage();
      const r = await session(t, 'alice', `guess-${i}`, ATTACKER, {}, i % 2 ? '/auth' : '');
      const used = process.cpuUsage(start);
      (cpuMs[r.status] ??= []).push((used.user + used.system) / 1000);
      statuses.push(r.status);
      if (r.status === 429) refusedAsText(r, `guess ${i}`);
      else assert.equal(r.status, 401, `guess ${i}: ${r.text}`);
    }
    assert.deepEqual(statuses.slice(0, free + 1), Array(free + 1).fill(401), 'the free failures, then the one that starts the wait');
    assert.ok(cpuMs[429]!.length >= 185, `${cpuMs[429]!.length} of 200 refused`);
    // A refusal costs no password hash: a refused guess takes far less CPU than a checked one.
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    ctx.diagnostic(`CPU per guess: refused ${mean(cpuMs[429]!).toFixed(2)} ms, checked ${mean(cpuMs[401]!).toFixed(2)} ms`);
    assert.ok(mean(cpuMs[429]!) * 3 < mean(cpuMs[401]!), `refused ${mean(cpuMs[429]!).toFixed(2)} ms vs checked ${mean(cpuMs[401]!).toFixed(2)} ms`);

    // While the attacker's address waits, even the right password from it is refused (it is not checked).
    refusedAsText(await session(t, 'alice', 'alice-password-1'), 'right password from the attacker');
    // The victim, from their own address, is not locked out.
    const ok = await session(t, 'alice', 'alice-password-1', VICTIM);
    assert.equal(ok.status, 200, ok.text);
  } finally {
    await t.close();
  }
});

test('guesses sent in parallel are counted before any is checked: only the free ones and one more get through', async () => {
  const t = await startTest({ config: { loginFreePerUser: 3, loginFreePerAddress: 50 } });
  try {
    await t.user('alice');
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => session(t, 'alice', `parallel-${i}`)));
    const statuses = replies.map((r) => r.status).sort();
    assert.deepEqual(statuses, [...Array(4).fill(401), ...Array(36).fill(429)]);
  } finally {
    await t.close();
  }
});

test('login delays grow (1, 1, 2, 3 s), a wrong second factor counts, and a success resets the pair', async () => {
  const t = await startTest({ config: { loginFreePerUser: 2, loginFreePerAddress: 50 } });
  try {
    await t.user('alice');
    const secret = (await enableTotp(t.running.hangar, 'alice'))!;
    const pw = 'alice-password-1';
    assert.equal((await session(t, 'alice', 'wrong-1')).status, 401);
    assert.equal((await session(t, 'alice', pw, ATTACKER, { '2fa': '000000' === totpCode(secret) ? '111111' : '000000' })).status, 401, 'a wrong code is a failure');
    // A missing code is a question, not a failure.
    assert.equal((await session(t, 'alice', pw)).status, 403);
    assert.equal((await session(t, 'alice', 'wrong-3', ATTACKER, {}, '/auth')).status, 401, 'the third failure is answered, then waits begin');
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const after = refusedAsText(await session(t, 'alice', `wrong-${i}`), `wait ${i}`);
      waits.push(after);
      await sleep(after * 1000 + 100);
      if (i < 3) assert.equal((await session(t, 'alice', `again-${i}`)).status, 401, `after wait ${i}`);
    }
    assert.deepEqual(waits, [1, 1, 2, 3]);

    // The right password and code after the wait: 200, and the pair's count starts again.
    const ok = await session(t, 'alice', pw, ATTACKER, { '2fa': totpCode(secret) });
    assert.equal(ok.status, 200, ok.text);
    assert.equal((await session(t, 'alice', 'wrong-a')).status, 401);
    assert.equal((await session(t, 'alice', 'wrong-b')).status, 401);
    assert.equal((await session(t, 'alice', 'wrong-c')).status, 401);
    refusedAsText(await session(t, 'alice', 'wrong-d'), 'after the reset, the same free count');
  } finally {
    await t.close();
  }
});

test('per address: guessing many usernames throttles the address (a higher limit than per user), not other addresses', async () => {
  const t = await startTest({ config: { loginFreePerUser: 2, loginFreePerAddress: 5 } });
  try {
    await t.user('alice');
    for (let i = 0; i < 6; i++) assert.equal((await session(t, `user${i}`, 'guess')).status, 401, `user${i}`);
    refusedAsText(await session(t, 'user9', 'guess'), 'a new username from the same address');
    refusedAsText(await session(t, 'alice', 'alice-password-1'), 'any user from that address');
    assert.equal((await session(t, 'alice', 'alice-password-1', VICTIM)).status, 200);
  } finally {
    await t.close();
  }
});

test('failing bearer credentials throttle per address: unknown session tokens and API keys, then 429 in each dialect\'s shape', async () => {
  const t = await startTest({ config: { loginFreePerAddress: 4 } });
  try {
    const valid = await t.user('alice');
    const fresh = await t.login('alice', 'alice-password-1');
    // A missing credential is not a guess.
    for (let i = 0; i < 10; i++) assert.equal((await t.req('GET', '/accounts', { address: ATTACKER })).status, 401);
    for (const token of ['nope', 'apikey.nope', 'A'.repeat(32)]) {
      assert.equal((await t.req('GET', '/accounts', { token, address: ATTACKER })).status, 401, token);
    }
    assert.equal((await t.req('GET', '/session/not-a-session', { address: ATTACKER })).status, 404);
    assert.equal((await t.req('POST', '/session/not-a-session', { body: { username: 'alice' }, address: ATTACKER })).status, 401);
    const r = await t.req('GET', '/accounts', { token: 'apikey.guess', address: ATTACKER });
    assert.equal(r.status, 429, r.text);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.match(r.body.error, /^Too many failed attempts: try again in \d+ seconds?$/);
    assert.ok(Number(r.headers['retry-after']) >= 1);
    // A valid token not yet seen is refused from the waiting address too: no answer tells a right guess.
    assert.equal((await t.req('GET', '/accounts', { token: fresh, address: ATTACKER })).status, 429);
    refusedAsText(await t.req('GET', '/session/another-guess', { address: ATTACKER }), 'the auth endpoint');
    // Other addresses are not affected.
    assert.equal((await t.req('GET', '/accounts', { token: valid, address: VICTIM })).status, 200);
  } finally {
    await t.close();
  }
});

test('behind a trusted proxy (HANGAR_TRUST_PROXY) the forwarded address is counted; without one, X-Forwarded-For is ignored', async () => {
  const forwarded = (t: TestHangar, from: string, password: string) =>
    t.req('POST', '/session', { body: { username: 'alice', password }, address: '127.0.0.1', headers: { 'x-forwarded-for': from } });
  const config = { loginFreePerUser: 1, loginFreePerAddress: 50 };
  let t = await startTest({ config: { ...config, trustProxy: '127.0.0.1' } });
  try {
    await t.user('alice');
    for (let i = 0; i < 2; i++) assert.equal((await forwarded(t, ATTACKER, 'wrong')).status, 401);
    refusedAsText(await forwarded(t, ATTACKER, 'alice-password-1'), 'the forwarded attacker');
    assert.equal((await forwarded(t, VICTIM, 'alice-password-1')).status, 200, 'another client behind the same proxy');
  } finally {
    await t.close();
  }
  t = await startTest({ config });
  try {
    await t.user('alice');
    for (let i = 0; i < 2; i++) assert.equal((await forwarded(t, `192.0.2.${i}`, 'wrong')).status, 401);
    refusedAsText(await forwarded(t, '192.0.2.99', 'wrong'), 'a forged X-Forwarded-For changes nothing');
  } finally {
    await t.close();
  }
});

// One key for every brain of a test: they share a store, so they share its secrets too.
const secrets = SecretBox.ephemeral();

async function brain(url: string, config: Record<string, number>): Promise<Running> {
  return startHangar({ storeUrl: url, secrets, heads: [{ driver: new FakeDriver(), label: 'head1', resyncMs: 60_000 }], log: pino({ level: 'silent' }), config });
}

const inject = (b: Running, username: string, password: string) =>
  b.app.inject({ method: 'POST', url: '/session', payload: { username, password }, remoteAddress: ATTACKER });

test('on PostgreSQL two brains on one database share the counts', { skip: process.env.HANGAR_TEST_DATABASE_URL ? false : 'set HANGAR_TEST_DATABASE_URL' }, async () => {
  const store = await freshStore({ postgres: true });
  const config = { loginFreePerUser: 2, loginFreePerAddress: 50 };
  let a: Running | undefined;
  let b: Running | undefined;
  try {
    a = await brain(store.url, config);
    b = await brain(store.url, config);
    await bootstrap(a.hangar, { HANGAR_ADMIN_USER: ADMIN.username, HANGAR_ADMIN_PASSWORD: ADMIN.password, HANGAR_DEMO_ACCOUNT: '' });
    for (let i = 0; i < 3; i++) assert.equal((await inject(i % 2 ? a : b, ADMIN.username, 'wrong')).statusCode, 401);
    const ra = await inject(a, ADMIN.username, ADMIN.password);
    const rb = await inject(b, ADMIN.username, ADMIN.password);
    assert.deepEqual([ra.statusCode, rb.statusCode], [429, 429], 'both brains see the three failures');
  } finally {
    await a?.close();
    await b?.close();
    await store.drop();
  }
});

test('on SQLite the counts survive a restart of the brain', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-throttle-'));
  const url = path.join(dir, 'hangar.sqlite');
  const config = { loginFreePerUser: 2, loginFreePerAddress: 50 };
  try {
    let b = await brain(url, config);
    await bootstrap(b.hangar, { HANGAR_ADMIN_USER: ADMIN.username, HANGAR_ADMIN_PASSWORD: ADMIN.password, HANGAR_DEMO_ACCOUNT: '' });
    for (let i = 0; i < 3; i++) assert.equal((await inject(b, ADMIN.username, 'wrong')).statusCode, 401);
    await b.close();
    b = await brain(url, config);
    try {
      assert.equal((await inject(b, ADMIN.username, ADMIN.password)).statusCode, 429);
    } finally {
      await b.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a right bearer credential costs the limiter no write: only failures are counted (bench:power, 2026-12-01)', async () => {
  const t = await startTest();
  try {
    const db = t.running.hangar.db;
    const token = await t.user('alice');
    const rows = async () => (await db.selectFrom('login_failures').selectAll().execute()).length;
    const before = await rows();
    assert.equal((await t.req('GET', '/accounts', { token, address: '203.0.113.80' })).status, 200);
    assert.equal(await rows(), before, 'no row for a right token');
    assert.equal((await t.req('GET', '/accounts', { token: 'wrong-token', address: '203.0.113.81' })).status, 401);
    assert.equal(await rows(), before + 1, 'a wrong one is counted');
  } finally {
    await t.close();
  }
});
