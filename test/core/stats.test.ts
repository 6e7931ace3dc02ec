// Stats samples kept over time (docs/domain.md §20), through core alone (no dialect route): counter
// readings become 5-minute, hourly and daily buckets; restarts, repeats, nulls and other heads' reports;
// reads by range for a caller who may see the VM; retention; the head protocol's `stats` message and
// the agent sending it. SQLite always; PostgreSQL too when HANGAR_TEST_DATABASE_URL is set.
import { test } from 'node:test';
import { storesFor, withCore, type CoreFx } from './fixture.js';
import assert from 'node:assert/strict';
import { until } from '../helpers.js';
import type { Principal } from '../../src/core/principal.js';
import { createVm } from '../../src/core/vms/create.js';
import { isCode } from '../../src/core/errors.js';
import type { VmPlace } from '../../src/core/resolve.js';
import { cpuStats, pruneStats, readStats, recordSamples, transferUsed, type StatsReading } from '../../src/core/stats.js';
import { HeadEndpoint } from '../../src/brain/link.js';
import { SecretBox } from '../../src/core/secrets.js';

const STORES = storesFor('stats');

type Fx = CoreFx;

async function makeVm(fx: Fx, name: string, powerOn = false, cores = 1): Promise<VmPlace> {
  const h = fx.t.running.hangar;
  const made = await createVm(h, fx.admin, fx.account, fx.group, {
    name, cores, memoryMiB: 1024, powerOn, discs: [{ label: 'disc-1', grade: 'sata', sizeMiB: 10240 }],
  }, 'bigv');
  const vm = await h.db.selectFrom('vms').selectAll().where('id', '=', made.view.row.id).executeTakeFirstOrThrow();
  return { vm, group: fx.group, account: fx.account };
}

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0); // a 5-minute, hour and day boundary (Nov 30th)
const reading = (at: number, cpuMs: number, net: number | null, disc = 0): StatsReading => ({
  at, cpuMs, discReadBytes: disc, discWriteBytes: 2 * disc, netRxBytes: net, netTxBytes: net === null ? null : net * 3,
});
const stranger: Principal = { userId: 999_999, username: 'nobody', factors: ['password'], apiKeyId: null, grants: [] };

for (const store of STORES) {
  test(`readings become usage per 5m, 1h and 1d bucket; the first only starts the series, a restart counts from 0, a repeat is ignored (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const at = await makeVm(fx, 'web1', false, 2);
      await recordSamples(h.db, at.vm.id, [reading(T0 + 10_000, 1_000, 100, 10)]);
      assert.deepEqual(await readStats(h, fx.admin, at, { resolution: '5m', from: T0, to: T0 + 86_400_000 }), [], 'the first reading only starts the series');
      await recordSamples(h.db, at.vm.id, [reading(T0 + 70_000, 31_000, 600, 50), reading(T0 + 310_000, 61_000, 1600, 60)]);
      await recordSamples(h.db, at.vm.id, [reading(T0 + 310_000, 99_999, 9_999, 99)]); // sent twice: ignored
      await recordSamples(h.db, at.vm.id, [reading(T0 + 400_000, 5_000, 200, 5)]); // restarted: from 0
      const fiveMin = await readStats(h, fx.admin, at, { resolution: '5m', from: T0, to: T0 + 600_000 });
      assert.deepEqual(fiveMin, [
        { nicId: null, bucketStart: T0, cpuMs: 30_000, readBytes: 40, writeBytes: 80, rxBytes: 500, txBytes: 1500 },
        { nicId: null, bucketStart: T0 + 300_000, cpuMs: 35_000, readBytes: 15, writeBytes: 30, rxBytes: 1200, txBytes: 3600 },
      ]);
      const hour = await readStats(h, fx.admin, at, { resolution: '1h', from: T0, to: T0 + 3_600_000 });
      assert.deepEqual(hour.map((b) => [b.bucketStart, b.cpuMs, b.rxBytes]), [[T0, 65_000, 1700]]);
      const day = await readStats(h, fx.admin, at, { resolution: '1d', from: T0 - 86_400_000, to: T0 + 86_400_000 });
      assert.deepEqual(day.map((b) => [b.bucketStart, b.cpuMs]), [[Date.UTC(2026, 10, 30), 65_000]]);
      // 30 s of CPU in 5 minutes of 2 cores: 5 %.
      assert.deepEqual(await cpuStats(h, fx.admin, at, { resolution: '5m', from: T0, to: T0 + 600_000 }),
        [{ bucketStart: T0, percent: 5 }, { bucketStart: T0 + 300_000, percent: 5.83 }]);
    });
  });

  test(`network bytes not measurable stay null, never 0, and transfer_used says so; per-NIC rows carry network bytes only (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const at = await makeVm(fx, 'web1');
      const nic = await h.db.selectFrom('nics').select('id').where('vm_id', '=', at.vm.id).executeTakeFirstOrThrow();
      // Both readings inside this month, whenever the test runs.
      const nowDate = new Date(h.now());
      const now = Math.max(h.now(), Date.UTC(nowDate.getUTCFullYear(), nowDate.getUTCMonth(), 1) + 20_000);
      await recordSamples(h.db, at.vm.id, [{ ...reading(now - 20_000, 0, null), nics: [{ nicId: nic.id, rxBytes: 0, txBytes: 0 }] }]);
      await recordSamples(h.db, at.vm.id, [{ ...reading(now - 10_000, 500, null), nics: [{ nicId: nic.id, rxBytes: 2 * 1024 ** 3, txBytes: 1024 ** 3 / 2 }] }]);
      const rows = await readStats(h, fx.admin, at, { resolution: '1d', from: now - 2 * 86_400_000, to: now + 1 });
      const vmWide = rows.find((r) => r.nicId === null)!;
      assert.equal(vmWide.rxBytes, null);
      assert.equal(vmWide.txBytes, null);
      assert.equal(vmWide.cpuMs, 500);
      const perNic = rows.find((r) => r.nicId === nic.id)!;
      assert.deepEqual([perNic.cpuMs, perNic.rxBytes, perNic.txBytes], [null, 2 * 1024 ** 3, 1024 ** 3 / 2]);
      assert.equal(await transferUsed(h, fx.admin, at), null);

      const other = await makeVm(fx, 'web2');
      // A NIC of another VM is not this VM's to keep.
      await recordSamples(h.db, other.vm.id, [{ ...reading(now - 20_000, 0, 0), nics: [{ nicId: nic.id, rxBytes: 0, txBytes: 0 }] }]);
      assert.equal((await h.db.selectFrom('stats_counters').select('nic_id').where('vm_id', '=', other.vm.id).execute()).length, 1);
      await h.db.deleteFrom('stats_counters').where('vm_id', '=', other.vm.id).execute();
      assert.equal(await transferUsed(h, fx.admin, other), 0, 'no samples yet: nothing used');
      await recordSamples(h.db, other.vm.id, [reading(now - 20_000, 0, 0), reading(now - 10_000, 10, 1024 ** 3)]);
      assert.equal(await transferUsed(h, fx.admin, other), 4, '1 GiB in and 3 GiB out');
    });
  });

  test(`readings for another head's VM or a deleted VM are dropped; bad readings and ranges are refused by field (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const at = await makeVm(fx, 'web1');
      assert.ok(at.vm.head_id !== null);
      await recordSamples(h.db, at.vm.id, [reading(T0, 0, 0), reading(T0 + 1000, 10, 10)], at.vm.head_id! + 1);
      await h.db.updateTable('vms').set({ deleted: 1 }).where('id', '=', at.vm.id).execute();
      await recordSamples(h.db, at.vm.id, [reading(T0, 0, 0), reading(T0 + 1000, 10, 10)]);
      assert.equal((await h.db.selectFrom('stats_counters').selectAll().execute()).length, 0);
      await h.db.updateTable('vms').set({ deleted: 0 }).where('id', '=', at.vm.id).execute();
      await assert.rejects(recordSamples(h.db, at.vm.id, [reading(T0, -1, 0)]),
        (e) => isCode(e, 'out_of_range') && e.field === 'samples[0].cpuMs');
      await assert.rejects(readStats(h, fx.admin, at, { resolution: '1w' as '1h', from: T0, to: T0 + 1 }), (e) => isCode(e, 'not_in_list') && e.field === 'resolution');
      await assert.rejects(readStats(h, fx.admin, at, { resolution: '1h', from: T0, to: T0 }), (e) => isCode(e, 'out_of_range') && e.field === 'to');
      await assert.rejects(readStats(h, stranger, at, { resolution: '1h', from: T0, to: T0 + 1 }), (e) => isCode(e, 'not_found'));
      await assert.rejects(transferUsed(h, stranger, at), (e) => isCode(e, 'not_found'));
    });
  });

  test(`retention prunes each resolution after its own time (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const at = await makeVm(fx, 'web1');
      await recordSamples(h.db, at.vm.id, [reading(T0, 0, 0), reading(T0 + 1000, 10, 10)]);
      const count = async (res: string) => (await h.db.selectFrom('stats_samples').select('bucket_start').where('resolution', '=', res).execute()).length;
      assert.equal(await pruneStats(h.db, T0 + 86_400_000), 0, 'a day later everything is kept');
      assert.equal(await pruneStats(h.db, T0 + 3 * 86_400_000), 1, 'after 2 days the 5m bucket goes');
      assert.deepEqual([await count('5m'), await count('1h'), await count('1d')], [0, 1, 1]);
      assert.equal(await pruneStats(h.db, T0 + 401 * 86_400_000), 2);
    });
  });

  test(`the head protocol's stats message records readings, and refuses bad ones without throwing (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const at = await makeVm(fx, 'web1');
      const endpoint = new HeadEndpoint(h.db, { clusterDomain: 'test', secrets: SecretBox.ephemeral() });
      const send = (samples: unknown) => endpoint.receive({ v: 1, type: 'stats', headId: at.vm.head_id, vmId: at.vm.id, samples });
      assert.equal((await send([reading(T0, 0, 0)])).type, 'ack');
      assert.equal((await send([reading(T0 + 1000, 70, 7)])).type, 'ack');
      assert.equal((await send([reading(T0 + 2000, -5, 7)])).type, 'refused');
      assert.equal((await send({ not: 'a list' })).type, 'refused');
      assert.equal((await send([null])).type, 'refused');
      assert.equal((await send([{ ...reading(T0 + 2000, 80, 8), at: 'soon' }])).type, 'refused');
      const rows = await readStats(h, fx.admin, at, { resolution: '5m', from: T0, to: T0 + 300_000 });
      assert.deepEqual(rows.map((r) => [r.cpuMs, r.rxBytes]), [[70, 7]]);
    });
  });

  test(`the head agent reports the counters of its running machines, network bytes null under user-mode networking (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const at = await makeVm(fx, 'web1', true);
      await until('the machine runs', async () => (await h.db.selectFrom('vms').select('run_state').where('id', '=', at.vm.id).executeTakeFirst())?.run_state === 'running');
      const agent = fx.t.running.agents[0]!;
      await agent.resync();
      await new Promise((r) => setTimeout(r, 150)); // the fake driver's CPU counter moves with time
      await agent.resync();
      const rows = await until('a bucket', async () => {
        const r = await readStats(h, fx.admin, at, { resolution: '1h', from: 0, to: h.now() + 3_600_000 });
        return r.length ? r : null;
      });
      assert.equal(rows[0]!.nicId, null);
      assert.ok(rows[0]!.cpuMs! > 0, 'CPU time was used');
      assert.equal(rows[0]!.rxBytes, null);
    });
  });
}
