// Audit rows (docs/audit.md): one per mutating request, written after the answer by the dialect's
// hook: who (and the impersonator), what (method, route pattern, account and VM public ids), which
// dialect, the status, the operation it started, when, from where. Reads write none; a refused
// request has its row too; a store that cannot take the row never fails the request. GET /audit:
// cluster admins all, account admins their accounts'. SQLite, and PostgreSQL with HANGAR_TEST_STORE=postgres.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { account, until, withAcme, type TestHangar } from '../helpers.js';
import { flushAudit, forgetOldAudit } from '../../src/core/audit.js';

const GRP = '/accounts/acme/groups/default';

const rows = (t: TestHangar) => t.running.hangar.db.selectFrom('audit').selectAll().orderBy('id').execute();
const uuidOf = async (t: TestHangar, table: 'accounts' | 'vms', name: string) =>
  (await t.running.hangar.db.selectFrom(table).select('uuid').where('name', '=', name).executeTakeFirstOrThrow()).uuid;

test('a vm_create leaves one row: its user, method and route pattern, dialect, 202, the account and VM, the operation it started, the address; a GET leaves none', async () => {
  await withAcme(async (t) => {
    await flushAudit(t.running.hangar); // the setup's rows, still queued
    const before = (await rows(t)).length;
    const created = await t.req('POST', `${GRP}/vm_create`, {
      token: t.adminToken, body: { virtual_machine: { name: 'web1' }, discs: [{ label: 'disc-1', size: 1024 }] }, address: '192.0.2.7',
    });
    assert.equal(created.status, 202, created.text);
    await t.req('GET', `${GRP}/virtual_machines/web1`, { token: t.adminToken });
    const all = await until('the row', async () => { const r = await rows(t); return r.length > before ? r : null; });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await rows(t)).length, before + 1, 'the GET left none');
    const row = all.at(-1)!;
    const admin = await t.running.hangar.db.selectFrom('users').select('id').where('username', '=', 'admin').executeTakeFirstOrThrow();
    assert.deepEqual(
      { ...row, id: 0, uuid: '', at: 0 },
      {
        id: 0, uuid: '', at: 0, user_id: admin.id, impersonator_id: null, api_key_id: null,
        method: 'POST', route: '/accounts/:acc/groups/:grp/vm_create', dialect: 'bigv', status: 202,
        account_uuid: await uuidOf(t, 'accounts', 'acme'), vm_uuid: await uuidOf(t, 'vms', 'web1'),
        operation_uuid: String(created.headers.location).replace('/operations/', ''), address: '192.0.2.7',
      },
    );
    assert.ok(Math.abs(row.at - Date.now()) < 5000);

    // A change on the VM's own path names the account and the VM, whatever kind of segment names them
    // (the path's query is compiled once per combination of kinds: src/store/repos/audit.ts).
    const vm = await t.running.hangar.db.selectFrom('vms').select(['id', 'uuid']).where('name', '=', 'web1').executeTakeFirstOrThrow();
    const groupId = (await t.req('GET', GRP, { token: t.adminToken })).body.id as number;
    for (const path of ['/accounts/ACME/groups/default/virtual_machines/Web1', `/accounts/acme/groups/${groupId}/virtual_machines/${vm.uuid}`,
      `/accounts/acme/groups/default/virtual_machines/${vm.id}`]) {
      await flushAudit(t.running.hangar);
      const n = (await rows(t)).length;
      assert.equal((await t.req('PUT', path, { token: t.adminToken, body: { autoreboot_on: true } })).status, 200, path);
      const put = await until('the PUT row', async () => { const r = await rows(t); return r.length > n ? r.at(-1) : null; });
      assert.deepEqual([put.route, put.account_uuid, put.vm_uuid], ['/accounts/:acc/groups/:grp/virtual_machines/:vm', row.account_uuid, vm.uuid], path);
    }
  });
});

test('a refused request has its row with its status; an impersonated one names the impersonator; a cancel over Hangar\'s own routes is dialect hangar', async () => {
  await withAcme(async (t) => {
    const victim = await t.user('victim', { level: 'group_admin', group_id: (await t.req('GET', GRP, { token: t.adminToken })).body.id });
    assert.equal((await t.req('POST', '/accounts/acme/groups', { token: victim, body: { name: 'nope' } })).status, 403);
    const refused = await until('the refused row', async () => (await rows(t)).find((r) => r.status === 403));
    assert.equal(refused.route, '/accounts/:acc/groups');
    assert.equal(refused.account_uuid, await uuidOf(t, 'accounts', 'acme'));
    assert.equal(refused.vm_uuid, null);

    const root2 = await t.user('root2', { level: 'cluster_admin' });
    const asVictim = (await t.req('POST', `/session/${root2}`, { body: { username: 'victim' } })).text;
    assert.equal((await t.req('PUT', '/accounts/acme', { token: asVictim, body: {} })).status, 403);
    const ids = Object.fromEntries((await t.running.hangar.db.selectFrom('users').select(['id', 'username']).execute()).map((u) => [u.username, u.id]));
    const imp = await until('the impersonated row', async () => (await rows(t)).find((r) => r.route === '/accounts/:acc' && r.method === 'PUT'));
    assert.deepEqual([imp.user_id, imp.impersonator_id], [ids.victim, ids.root2]);

    const created = await t.req('POST', `${GRP}/vm_create`, { token: t.adminToken, body: { virtual_machine: { name: 'web1' }, discs: [{ label: 'disc-1', size: 1024 }] } });
    await t.req('GET', `${created.headers.location}?wait=5`, { token: t.adminToken });
    assert.equal((await t.req('DELETE', String(created.headers.location), { token: t.adminToken })).status, 409);
    const cancel = await until('the cancel row', async () => (await rows(t)).find((r) => r.method === 'DELETE'));
    assert.deepEqual([cancel.dialect, cancel.route, cancel.status, cancel.operation_uuid, cancel.vm_uuid],
      ['hangar', '/operations/:id', 409, String(created.headers.location).replace('/operations/', ''), await uuidOf(t, 'vms', 'web1')]);
  });
});

test('a store that cannot take the audit row never fails the request', async () => {
  await withAcme(async (t) => {
    await sql`ALTER TABLE audit RENAME TO audit_away`.execute(t.running.hangar.db);
    try {
      const r = await t.req('POST', '/accounts/acme/groups', { token: t.adminToken, body: { name: 'shop' } });
      assert.equal(r.status, 201, r.text);
      await new Promise((res) => setTimeout(res, 100));
    } finally {
      await sql`ALTER TABLE audit_away RENAME TO audit`.execute(t.running.hangar.db);
    }
  });
});

test('GET /audit: cluster admins read every row, account admins their accounts\' rows, others 403; filters and limit; rows older than the retention are forgotten', async () => {
  await withAcme(async (t) => {
    const other = await account(t, 'other');
    await t.req('POST', `${GRP}/vm_create`, { token: t.adminToken, body: { virtual_machine: { name: 'web1' } } });
    await t.req('POST', '/accounts/other/groups/default/vm_create', { token: t.adminToken, body: { virtual_machine: { name: 'x1' } } });
    const tenant = await t.user('tenant', { level: 'account_admin', account_id: other.id });
    const x1 = await uuidOf(t, 'vms', 'x1');
    await until('both rows', async () => (await rows(t)).filter((r) => r.route.endsWith('vm_create')).length === 2);

    const all = await t.req('GET', '/audit', { token: t.adminToken });
    assert.equal(all.status, 200, all.text);
    assert.ok(all.body.length >= 4, 'accounts, vm_creates, the user and its grant');
    assert.ok(all.body[0].at >= all.body.at(-1).at, 'newest first');
    const theirs = await t.req('GET', '/audit', { token: tenant });
    assert.deepEqual(theirs.body.map((a: any) => [a.route, a.virtual_machine]), [['/accounts/:acc/groups/:grp/vm_create', x1]]);
    assert.deepEqual((await t.req('GET', '/audit?account=acme', { token: tenant })).body, [], 'another account\'s rows stay hidden');
    const byVm = await t.req('GET', `/audit?virtual_machine=${x1}`, { token: t.adminToken });
    assert.deepEqual(byVm.body.map((a: any) => a.virtual_machine), [x1]);
    assert.equal((await t.req('GET', '/audit?limit=1', { token: t.adminToken })).body.length, 1);
    assert.deepEqual((await t.req('GET', '/audit?since=2999-01-01T00:00:00Z', { token: t.adminToken })).body, []);
    assert.deepEqual((await t.req('GET', '/audit?since=soon', { token: t.adminToken })).body, { since: ['is not a time (ISO 8601)'] });
    const nobody = await t.user('nobody');
    assert.equal((await t.req('GET', '/audit', { token: nobody })).status, 403);

    const h = t.running.hangar;
    const start = Date.now();
    h.now = () => start + (h.config.auditRetentionDays - 1) * 86_400_000;
    assert.equal(await forgetOldAudit(h), 0);
    h.now = () => start + h.config.auditRetentionDays * 86_400_000 + 60_000;
    // Counted once every row is written: a row is queued after its answer (core/audit.ts), so the
    // last request's may still be on its way (a count taken earlier lost a race on PostgreSQL in CI).
    await flushAudit(h);
    const count = (await rows(t)).length;
    assert.ok(count >= 4);
    assert.equal(await forgetOldAudit(h), count);
  });
});
