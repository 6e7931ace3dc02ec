// Regression: an invitation was accepted on the strength of its granter's authority when it was
// made. Mallory (account_admin of alpha) invited victor (of another tenant) to group_admin on an
// alpha group; alpha's owner then revoked mallory's privilege (or deleted her); victor accepted
// afterwards and was given group_admin (201): a revoked admin's pending invitations kept granting.
// Now acceptance checks again that the granter could still grant it; if not, the invitation is
// void: gone, 404 like an expired one, and nothing is granted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest, type TestHangar } from '../helpers.js';

async function scene(t: TestHangar) {
  const alpha = await account(t, 'alpha');
  const beta = await account(t, 'beta');
  const mallory = await t.user('mallory', { level: 'account_admin', account_id: alpha.id }, alpha.id);
  const victor = await t.user('victor', { level: 'account_admin', account_id: beta.id }, beta.id);
  const inv = await t.req('POST', '/users/victor/privileges', { token: mallory, body: { level: 'group_admin', group_id: alpha.defaultGroupId } });
  assert.equal(inv.status, 201, inv.text);
  const mine = (await t.req('GET', '/users/mallory/privileges', { token: t.adminToken })).body as { id: number }[];
  return { alpha, victor, invitation: inv.body.invitation_id ?? inv.body.id, malloryPrivilege: mine[0]!.id };
}

async function victorHoldsNothingInAlpha(t: TestHangar, victor: string) {
  assert.equal((await t.req('GET', '/accounts/alpha', { token: victor })).status, 404, 'alpha stays invisible to victor');
  const held = (await t.req('GET', '/users/victor/privileges', { token: t.adminToken })).body as { account_name: string | null; group_name: string | null }[];
  assert.equal(held.length, 1, `victor holds only his own privilege: ${JSON.stringify(held)}`);
}

test("an invitation whose granter has since lost the privilege to grant it cannot be accepted", async () => {
  const t = await startTest();
  try {
    const x = await scene(t);
    assert.equal((await t.req('DELETE', `/privileges/${x.malloryPrivilege}`, { token: t.adminToken })).status, 204);
    const r = await t.req('POST', `/invitations/${x.invitation}/accept`, { token: x.victor });
    assert.equal(r.status, 404, r.text);
    await victorHoldsNothingInAlpha(t, x.victor);
    assert.deepEqual((await t.req('GET', '/invitations', { token: x.victor })).body, [], 'the void invitation is gone');
  } finally {
    await t.close();
  }
});

test("an invitation whose granter was deleted cannot be accepted", async () => {
  const t = await startTest();
  try {
    const x = await scene(t);
    assert.equal((await t.req('DELETE', '/users/mallory', { token: t.adminToken })).status, 204);
    const r = await t.req('POST', `/invitations/${x.invitation}/accept`, { token: x.victor });
    assert.equal(r.status, 404, r.text);
    await victorHoldsNothingInAlpha(t, x.victor);
  } finally {
    await t.close();
  }
});

test('an invitation whose granter still holds the privilege is accepted (201)', async () => {
  const t = await startTest();
  try {
    const x = await scene(t);
    const r = await t.req('POST', `/invitations/${x.invitation}/accept`, { token: x.victor });
    assert.equal(r.status, 201, r.text);
    assert.equal((await t.req('GET', '/accounts/alpha', { token: x.victor })).status, 200);
  } finally {
    await t.close();
  }
});
