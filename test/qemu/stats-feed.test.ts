// Stats fed by real samples: a brain with one QEMU head (the embedded agent, user-mode networking)
// runs two tiny guests, one burning CPU from its firstboot script, one idle. The agent reports each
// running machine's counters on every resync through the head protocol into core/stats.ts; what core
// then reads back shows more CPU used by the burning guest than by the idle one over the same
// window, and network bytes as null (user-mode networking cannot count them), never 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { QemuDriver } from '../../src/drivers/qemu/index.js';
import type { FakeDriver } from '../../src/drivers/fake/driver.js';
import { createVm } from '../../src/core/vms/create.js';
import { cpuStats, readStats } from '../../src/core/stats.js';
import type { VmPlace } from '../../src/core/resolve.js';
import { withCore, type CoreFx } from '../core/fixture.js';
import { offForGood } from './brain-head.js';
import { tinyImage, tmpDir, until } from './helpers.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });

test('cpu and network samples recorded from real guests: a burning guest uses more CPU than an idle one', { timeout: 300_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) { t.skip(img.skip); return; }
  const driver = new QemuDriver({ dataDir: tmpDir('stats'), imagesDir: img.imagesDir, log, statsIntervalMs: 0 });
  // The fixture's heads take any Driver; its type names the fake one its other tests use.
  const asHead = (() => driver) as unknown as () => FakeDriver;
  await withCore(false, async (fx: CoreFx) => {
    const h = fx.t.running.hangar;
    const make = async (name: string, firstbootScript: string): Promise<VmPlace> => {
      const made = await createVm(h, fx.admin, fx.account, fx.group, {
        name, cores: 1, memoryMiB: 256, powerOn: true, discs: [{ label: 'disc-1', grade: 'sata', sizeMiB: 256 }],
        image: { distribution: 'tiny', firstbootScript },
      }, 'bigv');
      const vm = await h.db.selectFrom('vms').selectAll().where('id', '=', made.view.row.id).executeTakeFirstOrThrow();
      return { vm, group: fx.group, account: fx.account };
    };
    const burn = await make('burn', '#!/bin/sh\n(while :; do :; done) </dev/null >/dev/null 2>&1 &\n');
    const idle = await make('idle', '');
    try {
      await measure(fx, burn, idle);
    } finally {
      for (const at of [burn, idle]) await offForGood(fx, at.vm.id, driver);
    }
  }, { driver: asHead, heads: [{ label: 'head1', zone: 'default', resyncMs: 1000 }] });

  async function measure(fx: CoreFx, burn: VmPlace, idle: VmPlace): Promise<void> {
    const h = fx.t.running.hangar;
    await until('both guests ready', () => driver.readyAt(burn.vm.id) !== null && driver.readyAt(idle.vm.id) !== null, 180_000, 500);

    const range = () => ({ resolution: '5m' as const, from: 0, to: h.now() + 1 });
    const used = async (at: VmPlace) => {
      const rows = (await readStats(h, fx.admin, at, range())).filter((r) => r.nicId === null);
      return { cpuMs: rows.reduce((sum, r) => sum + (r.cpuMs ?? 0), 0), rows };
    };
    await sleep(2500); // a reading after both are up: the window starts there
    const [b0, i0] = [await used(burn), await used(idle)];
    await sleep(10_000);
    const [b1, i1] = [await used(burn), await used(idle)];
    const burnt = b1.cpuMs - b0.cpuMs;
    const idled = i1.cpuMs - i0.cpuMs;
    t.diagnostic(`CPU over the window: burning ${burnt} ms, idle ${idled} ms`);
    assert.ok(burnt > 1500, `the burning guest used CPU (${burnt} ms)`);
    assert.ok(burnt > 2 * idled, `burning ${burnt} ms > 2 × idle ${idled} ms`);
    const pct = async (at: VmPlace) => (await cpuStats(h, fx.admin, at, range())).reduce((s, r) => s + r.percent, 0);
    assert.ok((await pct(burn)) > (await pct(idle)), 'cpu_stats shows it too');
    for (const r of [...b1.rows, ...i1.rows]) {
      assert.equal(r.rxBytes, null, 'user-mode networking: not measured, not 0');
      assert.equal(r.txBytes, null);
    }
  }
});
