// Regression: GET /events read the caller's principal once, when the stream opened, and used it for
// as long as the stream lasted (by default forever): a tenant whose privilege was revoked, or whose
// user was deleted, went on receiving every change of the operations it could once read. Each read
// of the stream now authenticates the request's credential again (the per-brain principal cache,
// which revocations clear) and ends the stream when it no longer proves anyone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest } from '../helpers.js';

const events = (text: string) => text.split('\n\n').filter((b) => b.startsWith('event: operation'))
  .map((b) => JSON.parse(b.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as { kind: string; target: { id: number } });

test('an event stream shows nothing more once the caller\'s privilege is revoked', async () => {
  const t = await startTest();
  try {
    const beta = await account(t, 'beta');
    const victor = await t.user('victor', undefined, beta.id);
    const grant = await t.req('POST', '/users/victor/privileges', { token: t.adminToken, body: { level: 'account_admin', account_id: beta.id } });
    assert.equal(grant.status, 201, grant.text);
    const create = (name: string) => t.req('POST', '/accounts/beta/groups/default/vm_create', {
      token: t.adminToken, body: { virtual_machine: { name }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }] },
    });
    const stream = t.req('GET', '/events?max_seconds=3', { token: victor });
    await new Promise((r) => setTimeout(r, 300));
    const before = (await create('b1')).body.virtual_machine.id as number;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await t.req('DELETE', `/privileges/${grant.body.id}`, { token: t.adminToken })).status, 204);
    await new Promise((r) => setTimeout(r, 1200)); // past the principal cache's second
    const after = (await create('b2')).body.virtual_machine.id as number;
    const seen = events((await stream).text);
    assert.ok(seen.some((o) => o.target.id === before), 'while granted, the tenant sees its account\'s operations');
    assert.deepEqual(seen.filter((o) => o.target.id === after), [], 'once revoked, it sees none');
  } finally {
    await t.close();
  }
});

test('an event stream ends when the caller\'s user is deleted', async () => {
  const t = await startTest();
  try {
    const beta = await account(t, 'beta');
    const victor = await t.user('victor', { level: 'account_admin', account_id: beta.id }, beta.id);
    const stream = t.req('GET', '/events?max_seconds=4', { token: victor });
    await new Promise((r) => setTimeout(r, 300));
    const asked = Date.now();
    assert.equal((await t.req('DELETE', '/users/victor', { token: t.adminToken })).status, 204);
    const made = await t.req('POST', '/accounts/beta/groups/default/vm_create', {
      token: t.adminToken, body: { virtual_machine: { name: 'b1' }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }] },
    });
    assert.equal(made.status, 202, made.text);
    const r = await stream;
    assert.deepEqual(events(r.text), [], 'a deleted user is shown nothing');
    assert.ok(Date.now() - asked < 3000, `the stream ended ${Date.now() - asked} ms after the user went, not at max_seconds`);
  } finally {
    await t.close();
  }
});
