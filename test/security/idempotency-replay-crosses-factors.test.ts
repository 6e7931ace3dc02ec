// Regression: Idempotency-Key records were kept per user (`user:<id>`), whatever the credential had
// proved. A replay is answered before the route's own checks, so a weaker credential of the same
// user (a session from before the user's second factor was turned on, an admin's impersonation of
// the user) that repeated a stronger session's request with its key got the stronger session's
// answer: here a VM in an account whose privilege needs the second factor, which the weak session
// cannot read. A key space is now a user together with the factors its credential proved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest } from '../helpers.js';
import { enableTotp, totpCode } from '../../src/core/auth.js';

test('a weaker session of the same user does not get a stronger session\'s recorded answer by repeating its Idempotency-Key', async () => {
  const t = await startTest();
  try {
    const beta = await account(t, 'beta');
    const weak = await t.user('victor', undefined, beta.id);
    const secret = (await enableTotp(t.running.hangar, 'victor'))!;
    const strong = await t.login('victor', 'victor-password-1', { otp: totpCode(secret) });
    const g = await t.req('POST', '/users/victor/privileges', { token: t.adminToken, body: { level: 'account_admin', account_id: beta.id, yubikey_required: true } });
    assert.equal(g.status, 201, g.text);
    const create = (token: string) => t.req('POST', '/accounts/beta/groups/default/vm_create', {
      token, headers: { 'idempotency-key': 'create-b1' },
      body: { virtual_machine: { name: 'b1' }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }] },
    });
    const first = await create(strong);
    assert.equal(first.status, 202, first.text);
    assert.notEqual((await t.req('GET', '/accounts/beta/groups/default/virtual_machines/b1', { token: weak })).status, 200, 'the weak session cannot read the VM');
    const replay = await create(weak);
    assert.notEqual(replay.headers['idempotent-replayed'], 'true', 'no replay across factors');
    assert.ok(replay.status === 403 || replay.status === 404, `refused as the weak session itself would be: ${replay.status} ${replay.text}`);
    assert.ok(!replay.text.includes(first.body.virtual_machine.hostname ?? '\u0000'), 'nothing of the VM is shown');
    // The strong session still gets its own answer back.
    const again = await create(strong);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    assert.equal(again.text, first.text);
  } finally {
    await t.close();
  }
});
