// Regression: `POST /users/{u}/privileges` answers a grant to an outsider with a pending
// invitation whose `id` was the invitation's row id, in the very field a privilege's id takes. A
// client that treats the 201 as the privilege it asked for (and later revokes it with
// `DELETE /privileges/{id}`) revoked whichever unrelated privilege had that number: 204, and the
// other user lost their access. Now an invitation's `id` is null (it is no privilege yet) and its
// number is `invitation_id`, used only under /invitations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest } from '../helpers.js';

test("revoking a pending invitation's answer as a privilege revokes no unrelated privilege", async () => {
  const t = await startTest();
  try {
    const alpha = await account(t, 'alpha');
    const beta = await account(t, 'beta');
    const mallory = await t.user('mallory', { level: 'account_admin', account_id: alpha.id }, alpha.id);
    await t.user('victor', { level: 'account_admin', account_id: beta.id }, beta.id);
    await t.user('spare', undefined, alpha.id);
    const spare = await t.req('POST', '/users/spare/privileges', { token: mallory, body: { level: 'group_admin', group_id: alpha.defaultGroupId } });
    assert.equal(spare.status, 201, spare.text);
    assert.notEqual(spare.body.pending, true, "spare is inside alpha: a privilege at once");
    // Invite victor until an invitation's number is the number of spare's privilege.
    let answer: any;
    for (let i = 0; i < 10; i++) {
      const r = await t.req('POST', '/users/victor/privileges', { token: mallory, body: { level: 'group_admin', group_id: alpha.defaultGroupId } });
      assert.equal(r.status, 201, r.text);
      answer = r.body;
      if ((answer.invitation_id ?? answer.id) === spare.body.id) break;
    }
    assert.equal(answer.invitation_id ?? answer.id, spare.body.id, 'an invitation numbered like the privilege');
    assert.equal(answer.pending, true);
    // The client takes the answer for a privilege and revokes it.
    const revoke = await t.req('DELETE', `/privileges/${answer.id}`, { token: mallory });
    assert.equal(revoke.status, 404, revoke.text);
    assert.equal((await t.req('GET', `/privileges/${spare.body.id}`, { token: mallory })).status, 200, "spare's privilege is still there");
    assert.notEqual(typeof answer.id, 'number', 'a pending invitation carries no privilege id');
    // The invitation is reached by its own number and links.
    assert.equal(answer._links.self.href, `/invitations/${answer.invitation_id}`);
    const listed = (await t.req('GET', '/invitations', { token: mallory })).body as any[];
    assert.ok(listed.every((v) => v.id === null && typeof v.invitation_id === 'number'), JSON.stringify(listed[0]));
    assert.equal((await t.req('DELETE', `/invitations/${answer.invitation_id}`, { token: mallory })).status, 204);
  } finally {
    await t.close();
  }
});
