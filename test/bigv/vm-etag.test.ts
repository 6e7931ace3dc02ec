// ETag / If-Match on VMs (issue 8, item 2): two clients that read a VM and then PUT a change each
// overwrote the other's without knowing (a lost update). Reads now carry the row's version as a
// strong ETag, and a PUT with a stale If-Match is a 412 that changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest, type TestHangar } from '../helpers.js';

const nested = '/accounts/acme/groups/default/virtual_machines/web';

async function withVm(fn: (t: TestHangar, id: number) => Promise<void>): Promise<void> {
  const t = await startTest();
  try {
    await account(t, 'acme');
    const r = await t.req('POST', '/accounts/acme/groups/default/vm_create', {
      token: t.adminToken, body: { virtual_machine: { name: 'web', cores: 1, memory: 1024, power_on: false }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 10240 }] },
    });
    assert.equal(r.status, 202, r.text);
    await fn(t, r.body.virtual_machine.id);
  } finally {
    await t.close();
  }
}

const etag = async (t: TestHangar, url = nested) => {
  const r = await t.req('GET', url, { token: t.adminToken });
  assert.equal(r.status, 200, r.text);
  return r.headers.etag as string;
};

test('GET of one VM (nested and by id) carries a strong ETag that a PUT changes', async () => {
  await withVm(async (t, id) => {
    const before = await etag(t);
    assert.match(before, /^"v\d+"$/);
    assert.equal(await etag(t, `/virtual_machines/${id}`), before);
    const put = await t.req('PUT', nested, { token: t.adminToken, body: { cores: 2 } });
    assert.equal(put.status, 200, put.text);
    const after = await etag(t);
    assert.notEqual(after, before);
    assert.equal(put.headers.etag, after, 'the PUT answers with the new ETag');
  });
});

test('a PUT with a stale If-Match is a 412 and changes nothing (the lost update)', async () => {
  await withVm(async (t) => {
    const seen = await etag(t);
    assert.equal((await t.req('PUT', nested, { token: t.adminToken, body: { cores: 2 }, headers: { 'if-match': seen } })).status, 200);
    const late = await t.req('PUT', nested, { token: t.adminToken, body: { cores: 3 }, headers: { 'if-match': seen } });
    assert.equal(late.status, 412, late.text);
    assert.equal(typeof late.body.error, 'string');
    const now = await t.req('GET', nested, { token: t.adminToken });
    assert.equal(now.body.cores, 2);
  });
});

test('If-Match: *, a list holding the current ETag, or no If-Match at all update as before', async () => {
  await withVm(async (t) => {
    assert.equal((await t.req('PUT', nested, { token: t.adminToken, body: { cores: 2 }, headers: { 'if-match': '*' } })).status, 200);
    const cur = await etag(t);
    assert.equal((await t.req('PUT', nested, { token: t.adminToken, body: { cores: 3 }, headers: { 'if-match': `"v999", ${cur}` } })).status, 200);
    assert.equal((await t.req('PUT', nested, { token: t.adminToken, body: { cores: 4 } })).status, 200);
    const weak = `W/${await etag(t)}`;
    assert.equal((await t.req('PUT', nested, { token: t.adminToken, body: { cores: 1 }, headers: { 'if-match': weak } })).status, 412, 'If-Match compares strongly');
  });
});

test('the ETag follows desired-state changes made by the head, not observed-state reports', async () => {
  await withVm(async (t, id) => {
    const db = t.running.hangar.db;
    const before = await etag(t);
    await db.updateTable('vms').set({ run_state: 'running', pid: 4242, last_seen: Date.now(), boot_count: 3 }).where('id', '=', id).execute();
    assert.equal(await etag(t), before, 'a state report is not a change a PUT could lose');
    await db.updateTable('vms').set({ last_imaged_with: 'other' }).where('id', '=', id).execute();
    assert.notEqual(await etag(t), before);
  });
});
