// Regression (bench:scale, 2026-12-01): creates slowed from ~650/s to ~350/s as the store grew to
// 20,000 VMs, because ending an operation released the VM's lock with
// `UPDATE vms ... WHERE lock_operation_id = ?`, a scan of every VM (that column has no index).
// Every statement a create, a power intent and a delete run over BigV (and the operation queue's own,
// which the head link runs on the brain's store: asked directly) is given to SQLite's planner: none
// may scan a table that grows with the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledQuery, type KyselyPlugin } from 'kysely';
import { account, startTest, until } from '../helpers.js';
import { withTransaction } from '../../src/core/transaction.js';
import * as operations from '../../src/store/repos/operations.js';

/** Tables with a row per VM, disc, NIC, IP, operation or request: a scan of one grows with the store. */
const GROWING = ['vms', 'discs', 'nics', 'ips', 'operations', 'audit', 'snapshots', 'backup_schedules', 'idempotency', 'stats_samples'];
const GRP = '/accounts/acme/groups/default';

test('no statement of a create, power or delete scans a table that grows with the store', async () => {
  // SQLite's planner, always (also in the PostgreSQL rerun of test/core/): its plans are what grew.
  const t = await startTest({ storeUrl: ':memory:' });
  try {
    await account(t, 'acme');
    const h = t.running.hangar;
    const seen = new Map<string, readonly unknown[]>();
    const plain = h.db;
    const recorder: KyselyPlugin = {
      transformQuery(args) {
        const c = plain.getExecutor().compileQuery(args.node, args.queryId);
        if (!seen.has(c.sql)) seen.set(c.sql, c.parameters);
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    h.db = plain.withPlugin(recorder);
    try {
      const created = await t.req('POST', `${GRP}/vm_create`, {
        token: t.adminToken, body: { virtual_machine: { name: 'web1', power_on: true }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }] },
      });
      assert.equal(created.status, 202, created.text);
      await t.req('GET', `${created.headers.location}?wait=5`, { token: t.adminToken });
      await until('web1 running', async () => (await t.req('GET', `${GRP}/virtual_machines/web1`, { token: t.adminToken })).body.power_on === true);
      assert.equal((await t.req('PUT', `${GRP}/virtual_machines/web1`, { token: t.adminToken, body: { power_on: false } })).status, 200);
      assert.equal((await t.req('DELETE', `${GRP}/virtual_machines/web1`, { token: t.adminToken })).status, 204);
      const op = await plain.selectFrom('operations').selectAll().orderBy('id').executeTakeFirstOrThrow();
      await withTransaction(h.db, async (trx) => {
        await operations.takeVmLock(trx, op.vm_id!, op.id);
        await operations.releaseVmLock(trx, op.id);
      });
    } finally {
      h.db = plain;
    }
    const releases = [...seen.keys()].filter((s) => s.includes('set "lock_operation_id" = ?'));
    assert.ok(releases.length > 0, 'the lock release was among the statements seen');
    const scans: string[] = [];
    for (const [text, parameters] of seen) {
      if (!/^(select|update|delete|insert)/i.test(text)) continue;
      const plan = await plain.executeQuery<{ detail: string }>(CompiledQuery.raw(`EXPLAIN QUERY PLAN ${text}`, [...parameters]));
      for (const { detail } of plan.rows) {
        const m = /^SCAN (\w+)/.exec(detail);
        if (m && GROWING.includes(m[1]!) && !detail.includes(' USING ')) scans.push(`${detail}  ←  ${text.slice(0, 160)}`);
      }
    }
    assert.deepEqual(scans, [], 'statements that scan a growing table');
  } finally {
    await t.close();
  }
});
