// The auth endpoint (spec §2.1) and credentials on the brain (§2.2): POST /session with JSON or
// form bodies, validity clamped, TOTP as the second factor, GET /session/{token} with its
// factors, impersonation, session expiry and extension, Bearer apikey.<key>, the /auth prefix,
// and 401 on every brain route without a valid credential (GET /definitions excepted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, ADMIN, SSH_KEY, startTest, type TestHangar } from '../helpers.js';
import { enableTotp, tokenHash, totpCode } from '../../src/core/auth.js';

const form = (t: TestHangar, url: string, fields: Record<string, string>) =>
  t.req('POST', url, { raw: new URLSearchParams(fields).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });

async function sessionRow(t: TestHangar, token: string) {
  return t.running.hangar.db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash(token)).executeTakeFirst();
}

/** Move the brain's clock (sessions, API key expiry) by `ms` from now. */
function shiftClock(t: TestHangar, ms: number) {
  t.running.hangar.now = () => Date.now() + ms;
}

test('POST /session: JSON with string values or a form; a text/plain token; validity defaults to 1800 and is clamped to 3600', async () => {
  const t = await startTest();
  try {
    await t.user('alice');
    const pw = 'alice-password-1';
    // bytemark-client: JSON, every value a string.
    let r = await t.req('POST', '/session', { body: { username: 'alice', password: pw, validity: '1800' }, headers: { accept: 'text/plain' } });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.match(r.text, /^[A-Za-z0-9_-]{32}$/, 'only the token, no newline');
    let row = await sessionRow(t, r.text);
    assert.ok(row, 'stored by its hash, never in clear');
    assert.equal(Number(row.validity), 1800);
    assert.equal(JSON.parse(row.factors).join(), 'password');
    assert.equal((await t.running.hangar.db.selectFrom('sessions').select('id').where('token_hash', '=', r.text).execute()).length, 0);

    // bigv-python: form-encoded, no validity: the default.
    r = await form(t, '/session', { username: 'alice', password: pw });
    assert.equal(r.status, 200, r.text);
    row = await sessionRow(t, r.text);
    assert.equal(Number(row!.validity), 1800);
    const s = await t.req('GET', `/session/${r.text}`, { headers: { accept: 'application/json' } });
    assert.equal(s.status, 200);
    assert.equal(s.headers['content-type'], 'application/json');
    assert.deepEqual(s.body, { username: 'alice', factors: ['password'], group_memberships: [] });

    // Clamped to the maximum; a number is as good as a string.
    for (const validity of ['999999', 999999, '3600']) {
      const before = Date.now();
      r = await t.req('POST', '/session', { body: { username: 'alice', password: pw, validity } });
      assert.equal(r.status, 200);
      row = await sessionRow(t, r.text);
      assert.equal(Number(row!.validity), 3600, String(validity));
      assert.ok(Number(row!.expires_at) <= Date.now() + 3600_000 && Number(row!.expires_at) >= before + 3600_000 - 1000);
    }
    r = await t.req('POST', '/session', { body: { username: 'alice', password: pw, validity: '60' } });
    assert.equal(Number((await sessionRow(t, r.text))!.validity), 60);

    // A token works on the brain at once, and `//session` (a trailing slash in the endpoint) too.
    r = await t.req('POST', '//session', { body: { username: 'alice', password: pw } });
    assert.equal(r.status, 200);
    assert.equal((await t.req('GET', '/users', { token: r.text })).body[0].username, 'alice');
  } finally {
    await t.close();
  }
});

test('POST /session failures: the wording bytemark-client reacts to, and no session written', async () => {
  const t = await startTest();
  try {
    await t.user('alice');
    const count = async () => (await t.running.hangar.db.selectFrom('sessions').select('id').execute()).length;
    const before = await count();
    const cases: [string, () => Promise<{ status: number; text: string }>, number, string][] = [
      ['wrong password', () => t.req('POST', '/session', { body: { username: 'alice', password: 'nope-nope-nope' } }), 401, 'Bad login credentials'],
      ['unknown user', () => t.req('POST', '/session', { body: { username: 'mallory', password: 'nope-nope-nope' } }), 401, 'Bad login credentials'],
      ['wrong password, form', () => form(t, '/session', { username: 'alice', password: 'x' }), 401, 'Bad login credentials'],
      ['no fields', () => t.req('POST', '/session', { body: {} }), 400, 'Badly-formed parameters'],
      ['no password', () => t.req('POST', '/session', { body: { username: 'alice' } }), 400, 'Badly-formed parameters'],
      ['no username', () => form(t, '/session', { password: 'alice-password-1' }), 400, 'Badly-formed parameters'],
      ['empty body', () => t.req('POST', '/session', { raw: '' }), 400, 'Badly-formed parameters'],
      ['no body at all', () => t.req('POST', '/session'), 400, 'Badly-formed parameters'],
      ['empty strings', () => t.req('POST', '/session', { body: { username: '', password: '' } }), 400, 'Badly-formed parameters'],
      ['numbers', () => t.req('POST', '/session', { body: { username: 5, password: 6 } }), 400, 'Badly-formed parameters'],
      ['an array', () => t.req('POST', '/session', { body: ['alice', 'alice-password-1'] }), 400, 'Badly-formed parameters'],
      ['null', () => t.req('POST', '/session', { raw: 'null' }), 400, 'Badly-formed parameters'],
      ['malformed JSON', () => t.req('POST', '/session', { raw: '{"username":"alice",' }), 400, 'Badly-formed parameters'],
      ['validity not a number', () => t.req('POST', '/session', { body: { username: 'alice', password: 'alice-password-1', validity: 'soon' } }), 400, 'Badly-formed parameters'],
      ['validity zero', () => t.req('POST', '/session', { body: { username: 'alice', password: 'alice-password-1', validity: '0' } }), 400, 'Badly-formed parameters'],
      ['validity negative', () => t.req('POST', '/session', { body: { username: 'alice', password: 'alice-password-1', validity: '-60' } }), 400, 'Badly-formed parameters'],
      ['validity fractional', () => t.req('POST', '/session', { body: { username: 'alice', password: 'alice-password-1', validity: '1.5' } }), 400, 'Badly-formed parameters'],
      ['oversize body', () => t.req('POST', '/session', { body: { username: 'alice', password: 'x'.repeat(1024 * 1024 + 10) } }), 413, ''],
      ['NUL in the username', () => t.req('POST', '/session', { body: { username: 'ali\u0000ce', password: 'alice-password-1' } }), 400, 'Badly-formed parameters'],
      ['NUL in a form', () => form(t, '/session', { username: 'ali\u0000ce', password: 'alice-password-1' }), 400, 'Badly-formed parameters'],
    ];
    for (const [what, send, status, text] of cases) {
      const r = await send();
      assert.equal(r.status, status, `${what}: ${r.text}`);
      if (text) assert.equal(r.text, text, what);
      assert.doesNotMatch(r.text, /[A-Za-z0-9_-]{32}/, `${what}: no token`);
    }
    assert.equal(await count(), before);
  } finally {
    await t.close();
  }
});

test('TOTP second factor: "Missing 2FA" without it, a "2fa" factor with it', async () => {
  const t = await startTest();
  try {
    await t.user('alice');
    const secret = (await enableTotp(t.running.hangar, 'alice'))!;
    const pw = 'alice-password-1';

    let r = await t.req('POST', '/session', { body: { username: 'alice', password: pw, validity: '1800' } });
    assert.equal(r.status, 403);
    assert.match(r.text, /Missing 2FA/);
    r = await t.req('POST', '/session', { body: { username: 'alice', password: pw, '2fa': '' } });
    assert.equal(r.status, 403);
    assert.match(r.text, /Missing 2FA/);
    // A wrong password is told as such before the second factor is asked for.
    r = await t.req('POST', '/session', { body: { username: 'alice', password: 'wrong-password', '2fa': totpCode(secret) } });
    assert.equal(r.status, 401);
    assert.equal(r.text, 'Bad login credentials');
    // A wrong code: "Authentication failed", which bytemark-client treats as bad credentials.
    const wrong = String((Number(totpCode(secret)) + 500_000) % 1_000_000).padStart(6, '0');
    for (const code of [wrong, 'abcdef', '1', totpCode(secret, Date.now() - 10 * 60_000)]) {
      r = await t.req('POST', '/session', { body: { username: 'alice', password: pw, '2fa': code } });
      assert.equal(r.status, 401, code);
      assert.match(r.text, /Authentication failed/);
    }
    r = await t.req('POST', '/session', { body: { username: 'alice', password: pw, validity: '1800', '2fa': totpCode(secret) } });
    assert.equal(r.status, 200, r.text);
    const s = await t.req('GET', `/session/${r.text}`);
    assert.deepEqual(s.body.factors, ['password', '2fa']);
    assert.equal(s.body.username, 'alice');
    // The form body of a retry works the same way.
    r = await form(t, '/session', { username: 'alice', password: pw, '2fa': totpCode(secret) });
    assert.equal(r.status, 200, r.text);
  } finally {
    await t.close();
  }
});

test('a privilege with yubikey_required applies only to sessions with a second factor; password_required not to API keys', async () => {
  const t = await startTest();
  try {
    const acme = await account(t, 'acme');
    // Without a second factor on the login, the privilege is not there: acme does not exist for them.
    const plain = await t.user('plain', { level: 'account_admin', account_id: acme.id, yubikey_required: true });
    assert.equal((await t.req('GET', '/accounts/acme', { token: plain })).status, 404);
    assert.deepEqual((await t.req('GET', '/accounts', { token: plain })).body, []);
    // With TOTP on the login it applies.
    const secret = (await enableTotp(t.running.hangar, 'plain'))!;
    const strong = await t.login('plain', 'plain-password-1', { '2fa': totpCode(secret) });
    assert.equal((await t.req('GET', '/accounts/acme', { token: strong })).status, 200);
  } finally {
    await t.close();
  }
});

test('GET /session/{token}: 404 for unknown, expired and malformed tokens', async () => {
  const t = await startTest();
  try {
    for (const token of ['nope', 'A'.repeat(32), `${t.adminToken}x`, 'apikey.whatever', '%00']) {
      const r = await t.req('GET', `/session/${token}`);
      assert.equal(r.status, 404, token);
      assert.doesNotMatch(r.text, /admin/);
    }
    const r = await t.req('GET', `/session/${t.adminToken}`);
    assert.deepEqual(r.body, { username: 'admin', factors: ['password'], group_memberships: [] });
  } finally {
    await t.close();
  }
});

test('impersonation: cluster admins only; the new session is the other user, with "impersonated"', async () => {
  const t = await startTest();
  try {
    const acme = await account(t, 'acme');
    const bob = await t.user('bob', { level: 'account_admin', account_id: acme.id });
    await t.user('carol');

    let r = await t.req('POST', `/session/${t.adminToken}`, { body: { username: 'bob' }, headers: { accept: 'text/plain' } });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    const asBob = r.text;
    assert.notEqual(asBob, t.adminToken);
    let s = await t.req('GET', `/session/${asBob}`);
    assert.equal(s.body.username, 'bob');
    assert.ok(s.body.factors.includes('impersonated'));
    assert.ok(s.body.factors.includes('password'));
    // The impersonated session has bob's privileges, not the admin's.
    assert.deepEqual((await t.req('GET', '/users', { token: asBob })).body.map((u: any) => u.username), ['bob']);
    assert.equal((await t.req('GET', '/accounts/acme', { token: asBob })).status, 200);
    assert.equal((await t.req('POST', '/accounts', { token: asBob, body: { name: 'nope' } })).status, 403);
    const row = await sessionRow(t, asBob);
    assert.ok(row!.impersonator_id !== null, 'who impersonated is recorded');
    // Ordinary sessions never carry the factor.
    assert.deepEqual((await t.req('GET', `/session/${bob}`)).body.factors, ['password']);

    // A form body works too (bigv-python style).
    r = await form(t, `/session/${t.adminToken}`, { username: 'carol' });
    assert.equal(r.status, 200);
    assert.equal((await t.req('GET', `/session/${r.text}`)).body.username, 'carol');

    const sessions = (await t.running.hangar.db.selectFrom('sessions').select('id').execute()).length;
    // Not a cluster admin (even an impersonated session of one).
    r = await t.req('POST', `/session/${bob}`, { body: { username: 'admin' } });
    assert.equal(r.status, 403);
    assert.match(r.text, /Authentication failed/);
    r = await t.req('POST', `/session/${asBob}`, { body: { username: 'carol' } });
    assert.equal(r.status, 403);
    // Unknown or missing session, unknown user, missing username.
    r = await t.req('POST', '/session/no-such-token', { body: { username: 'bob' } });
    assert.equal(r.status, 401);
    r = await t.req('POST', `/session/${t.adminToken}`, { body: { username: 'nobody-here' } });
    assert.equal(r.status, 400);
    assert.match(r.text, /Badly-formed parameters/);
    r = await t.req('POST', `/session/${t.adminToken}`, { body: {} });
    assert.equal(r.status, 400);
    r = await t.req('POST', `/session/${t.adminToken}`, { body: { username: 7 } });
    assert.equal(r.status, 400);
    assert.equal((await t.running.hangar.db.selectFrom('sessions').select('id').execute()).length, sessions, 'no session written');
  } finally {
    await t.close();
  }
});

test('sessions expire after their validity unless used; each use keeps them five more minutes', async () => {
  const t = await startTest();
  try {
    await t.user('alice');
    const login = async (validity: string) => (await t.req('POST', '/session', { body: { username: 'alice', password: 'alice-password-1', validity } })).text;
    const unused = await login('60');
    const used = await login('60');
    shiftClock(t, 50_000);
    assert.equal((await t.req('GET', `/session/${used}`)).status, 200, 'GET /session extends it');
    shiftClock(t, 61_000);
    let r = await t.req('GET', '/users', { token: unused });
    assert.equal(r.status, 401);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(typeof r.body.error, 'string');
    assert.equal((await t.req('GET', `/session/${unused}`)).status, 404);
    assert.equal((await t.req('POST', `/session/${unused}`, { body: { username: 'alice' } })).status, 401);
    // The used one lives on: extended at +50 s to +350 s.
    shiftClock(t, 340_000);
    assert.equal((await t.req('GET', '/users', { token: used })).status, 200, 'an API request extends it too');
    shiftClock(t, 340_000 + 5 * 60_000 + 1000);
    assert.equal((await t.req('GET', '/users', { token: used })).status, 401);
    assert.equal((await t.req('GET', `/session/${used}`)).status, 404);
  } finally {
    await t.close();
  }
});

test('a password change ends the user\'s sessions', async () => {
  const t = await startTest();
  try {
    const alice = await t.user('alice');
    const other = await t.login('alice', 'alice-password-1');
    const r = await t.req('PUT', '/users/alice', { token: alice, body: { password: 'a-new-password-2' } });
    assert.equal(r.status, 200, r.text);
    assert.equal((await t.req('GET', '/users', { token: alice })).status, 401);
    assert.equal((await t.req('GET', '/users', { token: other })).status, 401);
    assert.equal((await t.req('POST', '/session', { body: { username: 'alice', password: 'alice-password-1' } })).status, 401);
    assert.equal((await t.req('POST', '/session', { body: { username: 'alice', password: 'a-new-password-2' } })).status, 200);
  } finally {
    await t.close();
  }
});

test('Bearer apikey.<key>: only the privileges bound to the key; expired or deleted keys are 401', async () => {
  const t = await startTest();
  try {
    const acme = await account(t, 'acme');
    await account(t, 'beta');
    const web1 = (await t.req('POST', '/accounts/acme/groups/default/virtual_machines', { token: t.adminToken, body: { name: 'web1' } })).body.id;
    // alice's session is account_admin on beta; her key is vm_admin on web1 only.
    const alice = await t.user('alice', { level: 'account_admin', account_id: (await t.req('GET', '/accounts/beta', { token: t.adminToken })).body.id });
    let r = await t.req('POST', '/api_keys', { token: alice, body: { label: 'ci', expires_at: '2099-12-31' } });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.headers['content-type'], 'application/json');
    const key = r.body;
    assert.equal(key.username, 'alice');
    assert.equal(key.expires_at, '2099-12-31T00:00:00+0000');
    const stored = await t.running.hangar.db.selectFrom('api_keys').selectAll().where('id', '=', key.id).executeTakeFirstOrThrow();
    assert.notEqual(stored.key_hash, key.api_key, 'stored hashed');
    assert.equal((await t.req('GET', '/api_keys', { token: alice })).body[0].api_key, undefined, 'shown once, at creation');

    const apikey = `apikey.${key.api_key}`;
    // No privilege bound yet: the key sees nothing, although alice's session does.
    assert.deepEqual((await t.req('GET', '/accounts', { token: apikey })).body, []);
    assert.deepEqual((await t.req('GET', '/accounts', { token: alice })).body.map((a: any) => a.name), ['beta']);
    r = await t.req('POST', '/users/alice/privileges', {
      token: t.adminToken, body: { level: 'vm_admin', virtual_machine_id: web1, api_key_id: key.id, password_required: false },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.api_key_id, key.id);
    assert.deepEqual((await t.req('GET', '/accounts', { token: apikey })).body.map((a: any) => a.name), ['acme']);
    assert.equal((await t.req('GET', '/accounts/acme/groups/default/virtual_machines/web1', { token: apikey })).status, 200);
    assert.equal((await t.req('PUT', '/accounts/acme/groups/default/virtual_machines/web1', { token: apikey, body: { cores: 2 } })).status, 200);
    assert.equal((await t.req('GET', '/accounts/beta', { token: apikey })).status, 404, "the session's privileges are not the key's");
    assert.equal((await t.req('GET', '/accounts/acme/groups/default/virtual_machines/web1', { token: alice })).status, 404, "and the key's are not the session's");
    // The key sees only itself and what is bound to it.
    assert.deepEqual((await t.req('GET', '/privileges', { token: apikey })).body.map((p: any) => p.level), ['vm_admin']);
    assert.deepEqual((await t.req('GET', '/privileges', { token: alice })).body.map((p: any) => p.level).sort(), ['account_admin', 'vm_admin']);
    await t.req('POST', '/api_keys', { token: alice, body: { label: 'other' } });
    assert.deepEqual((await t.req('GET', '/api_keys', { token: apikey })).body.map((k: any) => k.label), ['ci']);
    assert.deepEqual((await t.req('GET', '/api_keys', { token: alice })).body.map((k: any) => k.label), ['ci', 'other']);
    // A key cannot set its user's password (which would open the session privileges); SSH keys are fine.
    r = await t.req('PUT', '/users/alice', { token: apikey, body: { password: 'taken-over-123' } });
    assert.equal(r.status, 403);
    assert.equal((await t.req('POST', '/session', { body: { username: 'alice', password: 'taken-over-123' } })).status, 401);
    r = await t.req('PUT', '/users/alice', { token: apikey, body: { authorized_keys: SSH_KEY } });
    assert.equal(r.status, 200);
    // GET /session does not know API keys (the clients never ask).
    assert.equal((await t.req('GET', `/session/${apikey}`)).status, 404);

    // Expiry: by the clock, and a key created already expired.
    shiftClock(t, Date.parse('2100-01-01') - Date.now());
    r = await t.req('GET', '/accounts', { token: apikey });
    assert.equal(r.status, 401);
    assert.match(r.body.error, /expired/i);
    shiftClock(t, 0);
    assert.equal((await t.req('GET', '/accounts', { token: apikey })).status, 200);
    const old = (await t.req('POST', '/api_keys', { token: alice, body: { label: 'old', expires_at: '2001-01-01' } })).body;
    assert.equal((await t.req('GET', '/accounts', { token: `apikey.${old.api_key}` })).status, 401);
    // Deleted: 401, and its privileges go with it.
    assert.equal((await t.req('DELETE', `/api_keys/${key.id}`, { token: alice })).status, 204);
    assert.equal((await t.req('GET', '/accounts', { token: apikey })).status, 401);
    assert.equal((await t.running.hangar.db.selectFrom('privileges').select('id').where('api_key_id', '=', key.id).execute()).length, 0);
    for (const bad of ['apikey.', 'apikey.nope', `apikey.${key.api_key}x`, `APIKEY.${key.api_key}`]) {
      assert.equal((await t.req('GET', '/accounts', { token: bad })).status, 401, bad);
    }
    assert.equal(acme.id > 0, true);
  } finally {
    await t.close();
  }
});

test('the auth endpoint is also served under /auth', async () => {
  const t = await startTest();
  try {
    await t.user('bob');
    let r = await t.req('POST', '/auth/session', { body: { username: 'bob', password: 'bob-password-1', validity: '1800' } });
    assert.equal(r.status, 200);
    const token = r.text;
    r = await t.req('GET', `/auth/session/${token}`);
    assert.deepEqual(r.body, { username: 'bob', factors: ['password'], group_memberships: [] });
    r = await form(t, '/auth/session', { username: 'bob', password: 'wrong' });
    assert.equal(r.status, 401);
    assert.equal(r.text, 'Bad login credentials');
    r = await t.req('POST', `/auth/session/${t.adminToken}`, { body: { username: 'bob' } });
    assert.equal(r.status, 200);
    assert.ok((await t.req('GET', `/auth/session/${r.text}`)).body.factors.includes('impersonated'));
    assert.equal((await t.req('GET', '/auth/session/unknown')).status, 404);
    assert.equal((await t.req('GET', '//auth//session/unknown')).status, 404);
    r = await t.req('POST', '//auth//session', { body: { username: 'bob', password: 'bob-password-1' } });
    assert.equal(r.status, 200);
  } finally {
    await t.close();
  }
});

// Every brain route, with sample segments: without credentials each is a 401, whatever the method.
const BRAIN_ROUTES: [string, string][] = [
  ['GET', '/accounts'], ['GET', '/accounts?view=overview'], ['POST', '/accounts'], ['GET', '/accounts/acme'], ['PUT', '/accounts/acme'],
  ['GET', '/accounts/acme/privileges'], ['GET', '/accounts/acme/groups'], ['POST', '/accounts/acme/groups'],
  ['GET', '/accounts/acme/groups/default'], ['PUT', '/accounts/acme/groups/default'], ['DELETE', '/accounts/acme/groups/default'],
  ['GET', '/accounts/acme/groups/default/privileges'], ['GET', '/groups'], ['GET', '/groups/1'],
  ['GET', '/accounts/acme/groups/default/virtual_machines'], ['POST', '/accounts/acme/groups/default/virtual_machines'],
  ['POST', '/accounts/acme/groups/default/vm_create'], ['GET', '/accounts/acme/groups/default/virtual_machines/web1'],
  ['PUT', '/accounts/acme/groups/default/virtual_machines/web1'], ['DELETE', '/accounts/acme/groups/default/virtual_machines/web1?purge=true'],
  ['POST', '/accounts/acme/groups/default/virtual_machines/web1/signal'], ['POST', '/accounts/acme/groups/default/virtual_machines/web1/reimage'],
  ['GET', '/accounts/acme/groups/default/virtual_machines/web1/privileges'], ['GET', '/virtual_machines'], ['GET', '/virtual_machines/1'],
  ['GET', '/accounts/acme/groups/default/virtual_machines/web1/discs'], ['POST', '/accounts/acme/groups/default/virtual_machines/web1/discs'],
  ['GET', '/accounts/acme/groups/default/virtual_machines/web1/discs/disc-1'], ['PUT', '/accounts/acme/groups/default/virtual_machines/web1/discs/disc-1'],
  ['DELETE', '/accounts/acme/groups/default/virtual_machines/web1/discs/disc-1?purge=true'],
  ['GET', '/accounts/acme/groups/default/virtual_machines/web1/discs/disc-1/backups'], ['POST', '/accounts/acme/groups/default/virtual_machines/web1/discs/disc-1/backups'],
  ['PUT', '/accounts/acme/groups/default/virtual_machines/web1/discs/disc-1/backups/1'], ['DELETE', '/accounts/acme/groups/default/virtual_machines/web1/discs/disc-1/backups/1'],
  ['POST', '/accounts/acme/groups/default/virtual_machines/web1/discs/disc-1/backup_schedules'],
  ['DELETE', '/accounts/acme/groups/default/virtual_machines/web1/discs/disc-1/backup_schedules/1'],
  ['GET', '/discs'], ['GET', '/discs/1'], ['PUT', '/discs/1'], ['DELETE', '/discs/1?purge=true'],
  ['GET', '/accounts/acme/groups/default/virtual_machines/web1/nics'], ['GET', '/accounts/acme/groups/default/virtual_machines/web1/nics/1'],
  ['POST', '/accounts/acme/groups/default/virtual_machines/web1/nics/1/ip_create'], ['GET', '/nics'], ['GET', '/nics/1'],
  ['GET', '/ips/10.64.0.2'], ['PUT', '/ips/10.64.0.2'], ['DELETE', '/ips/10.64.0.2'], ['POST', '/ips/swap_virtual_machine_ips'],
  ['GET', '/users'], ['POST', '/users'], ['GET', '/users/admin'], ['PUT', '/users/admin'], ['DELETE', '/users/admin'],
  ['GET', '/users/admin/privileges'], ['POST', '/users/admin/privileges'], ['GET', '/privileges'], ['GET', '/privileges/1'],
  ['PUT', '/privileges/1'], ['DELETE', '/privileges/1'], ['GET', '/api_keys'], ['GET', '/api_keys/1'], ['POST', '/api_keys'], ['DELETE', '/api_keys/1'],
  ['GET', '/no/such/route'], ['DELETE', '/accounts/acme'],
];

test('every brain route is 401 without a valid credential, except GET /definitions', async () => {
  // Hundreds of unknown credentials from one address: past the per-address limit they would be 429
  // (test/security/login-throttling.test.ts); here every route's 401 is the subject.
  const t = await startTest({ config: { loginFreePerAddress: 10_000 } });
  try {
    await account(t, 'acme');
    const before = (await t.req('GET', '/accounts?view=overview', { token: t.adminToken })).text;
    const credentials: [string, Record<string, string>][] = [
      ['none', {}],
      ['unknown session', { authorization: 'Bearer not-a-session' }],
      ['unknown key', { authorization: 'Bearer apikey.not-a-key' }],
      ['Basic', { authorization: `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}` }],
      ['the bmbilling scheme', { authorization: `Token token=${t.adminToken}` }],
      ['Bearer and nothing', { authorization: 'Bearer' }],
      ['Bearer and two words', { authorization: `Bearer ${t.adminToken} extra` }],
    ];
    for (const [method, url] of BRAIN_ROUTES) {
      for (const [what, headers] of credentials) {
        const r = await t.req(method, url, { headers, ...(method === 'GET' || method === 'DELETE' ? {} : { body: {} }) });
        assert.equal(r.status, 401, `${method} ${url} with ${what}: ${r.text}`);
        assert.equal(r.headers['content-type'], 'application/json', `${method} ${url}`);
        assert.equal(typeof r.body.error, 'string');
      }
    }
    assert.equal((await t.req('GET', '/accounts?view=overview', { token: t.adminToken })).text, before, 'nothing changed');
    // The one public route: bigv-python and bytemark-client read it before logging in.
    const d = await t.req('GET', '/definitions');
    assert.equal(d.status, 200);
    assert.equal(d.headers['content-type'], 'application/json');
    assert.ok(d.body.some((x: any) => x.id === 'distributions'));
    assert.equal((await t.req('GET', '/definitions', { headers: { authorization: 'Bearer junk' } })).status, 200, 'a bad token does not matter there');
    // A good token in the lowercase scheme works.
    assert.equal((await t.req('GET', '/accounts', { headers: { authorization: `bearer ${t.adminToken}` } })).status, 200);
  } finally {
    await t.close();
  }
});
