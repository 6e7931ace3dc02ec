// Regression: a cluster admin's impersonation (POST /session/{token} {"username"}) was checked only
// when it was made. An admin whose cluster_admin was then revoked (or who was deleted) kept acting
// as the impersonated user for the whole life of the session (200). An impersonated session is now
// only as good as its impersonator: it ends (401) once they are no longer a cluster admin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest } from '../helpers.js';

for (const how of ['revoked', 'deleted'] as const) {
  test(`an impersonated session ends when its impersonator's cluster_admin is ${how}`, async () => {
    const t = await startTest();
    try {
      const alpha = await account(t, 'alpha');
      await t.user('victim', { level: 'account_admin', account_id: alpha.id }, alpha.id);
      const root2 = await t.user('root2', { level: 'cluster_admin' });
      const made = await t.req('POST', `/session/${root2}`, { body: { username: 'victim' } });
      assert.equal(made.status, 200, made.text);
      const asVictim = made.text;
      assert.equal((await t.req('GET', '/accounts/alpha', { token: asVictim })).status, 200, 'the impersonation works');
      if (how === 'revoked') {
        const mine = (await t.req('GET', '/users/root2/privileges', { token: t.adminToken })).body as { id: number }[];
        assert.equal((await t.req('DELETE', `/privileges/${mine[0]!.id}`, { token: t.adminToken })).status, 204);
      } else {
        assert.equal((await t.req('DELETE', '/users/root2', { token: t.adminToken })).status, 204);
      }
      await new Promise((r) => setTimeout(r, 1100)); // past the principal cache, whatever clears it
      assert.equal((await t.req('GET', '/accounts/alpha', { token: asVictim })).status, 401);
      assert.equal((await t.req('GET', `/session/${asVictim}`)).status, 404);
    } finally {
      await t.close();
    }
  });
}
