// Gigas' login and credentials (issue 9 *Auth*): POST /token (JSON or form, username or email) → a
// 30-minute token accepted raw, as `Gigas token=`, and Hangar API keys as `Bearer apikey.<key>`;
// wrong, expired or missing credentials are 401 in Gigas' shape; the account in the path is its id or
// public id, and another tenant's is a 404.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formBody, storesFor, withGigas } from './fixture.js';

for (const store of storesFor('gigas auth')) {
  test(`POST /token and every credential form, expiry and the account in the path (${store.name})`, async () => {
    await withGigas(store, async ({ t, g, acme, other, alice }) => {
      const now = Date.now();
      const json = await t.req('POST', '/token', { body: { login: 'alice', password: 'alice-password-1' } });
      assert.equal(json.status, 200, json.text);
      assert.match(json.body.token, /^[A-Za-z0-9_-]{20,}$/);
      assert.ok(Math.abs(json.body.expires - (Math.floor(now / 1000) + 1800)) < 5, 'expires is 30 minutes on, in epoch seconds');
      // The legacy clients' form, with the email as login.
      const form = await t.req('POST', '/token', { raw: formBody({ login: 'alice@example.com', password: 'alice-password-1' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(form.status, 200, form.text);

      const wrong = await t.req('POST', '/token', { body: { login: 'alice', password: 'nope-nope' } });
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.body, { error: 'Bad login credentials' });
      const blank = await t.req('POST', '/token', { body: { login: 'alice' } });
      assert.equal(blank.status, 422);
      assert.deepEqual(blank.body.errors, { password: ["can't be blank"] });

      const list = `/account/${acme.id}/virtual_machines`;
      for (const authorization of [alice, `Gigas token=${alice}`, `Gigas token="${form.body.token}"`]) {
        const r = await g('GET', list, { token: null, headers: { authorization } });
        assert.equal(r.status, 200, `${authorization}: ${r.text}`);
        assert.deepEqual(r.body, []);
      }
      // A Hangar API key of alice's, with account_admin on acme bound to it.
      const session = await t.login('alice', 'alice-password-1');
      const key = await t.req('POST', '/api_keys', { token: session, body: { label: 'gk' } });
      assert.equal(key.status, 201, key.text);
      const bound = await t.req('POST', '/users/alice/privileges', { token: t.adminToken, body: { level: 'account_admin', account_id: acme.id, api_key_id: key.body.id, password_required: false } });
      assert.equal(bound.status, 201, bound.text);
      const viaKey = await g('GET', list, { token: null, headers: { authorization: `Bearer apikey.${key.body.api_key}` } });
      assert.equal(viaKey.status, 200, viaKey.text);

      for (const authorization of [undefined, 'not-a-token', 'Gigas token=nope', 'Bearer apikey.nope', 'Basic a b c']) {
        const r = await g('GET', list, { token: null, headers: authorization ? { authorization } : {} });
        assert.equal(r.status, 401, `${authorization}: ${r.text}`);
        assert.equal(typeof r.body.error, 'string');
      }

      // Another tenant's account, by id or public id, and an account by name: 404.
      for (const ref of [other.id, other.uuid, 'acme', '999999']) {
        const r = await g('GET', `/account/${ref}/virtual_machines`);
        assert.equal(r.status, 404, `${ref}: ${r.text}`);
        assert.equal(typeof r.body.error, 'string');
      }
      assert.equal((await g('GET', `/account/${acme.uuid}/virtual_machines`)).status, 200);
      // An unknown Gigas path is Gigas' 404; BigV's paths stay BigV's.
      assert.deepEqual((await g('GET', `/account/${acme.id}/nothing-here`)).body, { error: 'Not found' });
      assert.equal((await t.req('GET', '/virtual_machines', { token: t.adminToken })).status, 200);

      // 31 minutes on, the token is refused.
      const clock = t.running.hangar.now;
      t.running.hangar.now = () => clock() + 31 * 60_000;
      try {
        const late = await g('GET', list, { token: json.body.token });
        assert.equal(late.status, 401, late.text);
        assert.deepEqual(late.body, { error: 'Invalid or expired token' });
      } finally {
        t.running.hangar.now = clock;
      }
    });
  });
}
