// Regression: a user may bind to their own API key a privilege below their own (an account_admin
// binds group_admin). When the account's owner then revoked that user's account_admin, the key
// kept its group_admin: the revoked admin went on reading the account and creating machines in it
// with the key (200, 202). Now a privilege a user bound to their own key is only as good as their
// authority to grant it: it counts while their sessions could still grant it, like an invitation
// is checked again against its granter. Privileges someone else bound to the key are theirs to revoke.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest } from '../helpers.js';

test("a privilege a user bound to their own API key ends when their own privilege is revoked", async () => {
  const t = await startTest();
  try {
    const alpha = await account(t, 'alpha');
    const mallory = await t.user('mallory', { level: 'account_admin', account_id: alpha.id }, alpha.id);
    const key = (await t.req('POST', '/api_keys', { token: mallory, body: { label: 'ci' } })).body;
    const bound = await t.req('POST', '/users/mallory/privileges', { token: mallory, body: { level: 'group_admin', group_id: alpha.defaultGroupId, api_key_id: key.id } });
    assert.equal(bound.status, 201, bound.text);
    const viaKey = `apikey.${key.api_key}`;
    assert.equal((await t.req('GET', '/accounts/alpha/groups/default', { token: viaKey })).status, 200, 'the key works while mallory may grant it');
    // A second, admin-bound privilege on the same key is not mallory's to lose.
    await t.req('POST', '/accounts/alpha/groups', { token: t.adminToken, body: { name: 'shop' } });
    const shop = (await t.req('GET', '/accounts/alpha/groups/shop', { token: t.adminToken })).body;
    const adminBound = await t.req('POST', '/users/mallory/privileges', { token: t.adminToken, body: { level: 'group_admin', group_id: shop.id, api_key_id: key.id } });
    assert.equal(adminBound.status, 201, adminBound.text);

    const own = (await t.req('GET', '/users/mallory/privileges', { token: t.adminToken })).body as { id: number; level: string; api_key_id: number }[];
    const accountAdmin = own.find((p) => p.level === 'account_admin' && !p.api_key_id)!;
    assert.equal((await t.req('DELETE', `/privileges/${accountAdmin.id}`, { token: t.adminToken })).status, 204);

    assert.equal((await t.req('GET', '/accounts/alpha/groups/default', { token: viaKey })).status, 404, 'the self-bound privilege is gone with her authority');
    const made = await t.req('POST', '/accounts/alpha/groups/default/virtual_machines', { token: viaKey, body: { name: 'evil' } });
    assert.equal(made.status, 404, made.text);
    assert.equal((await t.req('GET', '/accounts/alpha/groups/shop', { token: viaKey })).status, 200, 'the admin-bound privilege stays');
  } finally {
    await t.close();
  }
});
