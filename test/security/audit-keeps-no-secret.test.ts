// The audit (docs/audit.md) keeps who did what, never a secret the request or its answer carried:
// a password (login, a user's, a new user's), a session token (in the impersonation path), an API
// key (made, and used), a root password or firstboot script. Each is sent through the routes that
// take it, also where the route refuses it and where no route matches (a token in the path); then
// every column of every audit row, and GET /audit, is searched for them. (Logins and impersonations,
// on the auth endpoint, leave no row at all: docs/audit.md.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest } from '../helpers.js';

test('no audit row holds a password, a session token, an API key, a root password or a firstboot script', async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    const secrets: string[] = ['New-User-Pass-4f1a9', 'Changed-Pass-8b2c7', 'Root-Pass-Audit-1d9e', 'Firstboot-Audit-7a3c', 'Reimage-Pass-Audit-2e8f', t.adminToken];
    const created = await t.req('POST', '/users', { token: t.adminToken, body: { username: 'alice', password: secrets[0], email: 'alice@example.com' } });
    assert.equal(created.status, 201, created.text);
    await t.req('POST', '/session', { body: { username: 'alice', password: 'Wrong-Pass-Audit-5c6d' } });
    secrets.push('Wrong-Pass-Audit-5c6d');
    const alice = await t.login('alice', secrets[0]!);
    secrets.push(alice);
    assert.equal((await t.req('PUT', '/users/alice', { token: alice, body: { password: secrets[1] } })).status, 200);
    const key = await t.req('POST', '/api_keys', { token: t.adminToken, body: { label: 'audit' }, headers: { 'idempotency-key': 'audit-key' } });
    assert.equal(key.status, 201, key.text);
    secrets.push(key.body.api_key);
    await t.req('POST', '/accounts', { token: `apikey.${key.body.api_key}`, body: { name: 'via-key' } });
    const imp = await t.req('POST', `/session/${alice}`, { token: t.adminToken, body: { username: 'alice' } });
    if (imp.status === 200) secrets.push(imp.text);
    await t.req('POST', `/auth/session/${alice}`, { token: t.adminToken, body: { username: 'nobody' } });
    await t.req('DELETE', `/no/such/route/${alice}`, { token: t.adminToken });
    const vm = await t.req('POST', '/accounts/acme/groups/default/vm_create', {
      token: t.adminToken,
      body: { virtual_machine: { name: 'web1' }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }], reimage: { distribution: 'tiny', root_password: secrets[2], firstboot_script: secrets[3] } },
    });
    assert.equal(vm.status, 202, vm.text);
    await t.req('POST', '/accounts/acme/groups/default/virtual_machines/web1/reimage', { token: t.adminToken, body: { distribution: 'tiny', root_password: secrets[4] } });
    await t.req('POST', '/accounts/acme/groups/default/virtual_machines/web1/reimage', { token: t.adminToken, body: { distribution: 'tiny', root_password: 'short' } });
    await new Promise((r) => setTimeout(r, 200)); // rows are written after the answer
    const rows = await t.running.hangar.db.selectFrom('audit').selectAll().execute();
    assert.ok(rows.length >= 8, `the requests left rows: ${rows.length}`);
    assert.ok(rows.some((r) => r.route === '(no route)'), 'a request no route matches has its row (without its path)');
    const text = JSON.stringify(rows);
    assert.deepEqual(secrets.filter((s) => text.includes(s)), [], 'no secret in the audit');
    const read = await t.req('GET', '/audit?limit=1000', { token: t.adminToken });
    assert.deepEqual(secrets.filter((s) => read.text.includes(s)), [], 'nor in GET /audit');
  } finally {
    await t.close();
  }
});
