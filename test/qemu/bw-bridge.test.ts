// Traffic counters through the real ingestion path in bridge mode: a brain whose QEMU head bridges its
// guests in a network namespace this test makes; SSH traffic from that namespace to a tiny guest
// shows up in core/stats.ts as bytes per NIC and for the VM (counted on the tap by the head).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { pino } from 'pino';
import { QemuDriver } from '../../src/drivers/qemu/index.js';
import type { FakeDriver } from '../../src/drivers/fake/driver.js';
import { createVm } from '../../src/core/vms/create.js';
import { readStats } from '../../src/core/stats.js';
import { withCore } from '../core/fixture.js';
import { offForGood } from './brain-head.js';
import { ssh, sshKeyPair, sshWhenReady, tinyImage, tmpDir, until } from './helpers.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });

test('bridge mode: a guest\'s traffic is recorded per NIC from its tap, through the head protocol', { timeout: 300_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) { t.skip(img.skip); return; }
  const ns = `hgb${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', ns], { stdio: 'ignore' }).status !== 0) { t.skip('cannot create a network namespace here (needs root)'); return; }
  t.after(() => { spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); });
  for (const args of [['link', 'set', 'lo', 'up'], ['link', 'add', 'br0', 'type', 'bridge'], ['addr', 'add', '192.168.81.1/24', 'dev', 'br0'], ['link', 'set', 'br0', 'up']]) {
    execFileSync('ip', ['-n', ns, ...args], { stdio: 'pipe' });
  }
  const dir = tmpDir('bw');
  const key = sshKeyPair(dir);
  const driver = new QemuDriver({ dataDir: dir, imagesDir: img.imagesDir, log, netns: ns, tapPrefix: 'hgb', statsIntervalMs: 0 });
  const asHead = (() => driver) as unknown as () => FakeDriver; // the fixture's heads take any Driver
  await withCore(false, async (fx) => {
    const h = fx.t.running.hangar;
    const made = await createVm(h, fx.admin, fx.account, fx.group, {
      name: 'bw', cores: 1, memoryMiB: 256, powerOn: true, discs: [{ label: 'disc-1', grade: 'sata', sizeMiB: 256 }],
      image: { distribution: 'tiny', sshPublicKey: key.public.trim() },
    }, 'bigv');
    const vmId = made.view.row.id;
    try {
      const nic = await h.db.selectFrom('nics').select('id').where('vm_id', '=', vmId).executeTakeFirstOrThrow();
      const ip = await h.db.selectFrom('ips').select('address').where('nic_id', '=', nic.id).where('family', '=', 4).executeTakeFirstOrThrow();
      await sshWhenReady(22, key.private, 'true', 150_000, ip.address, ns);
      const r = await ssh(22, key.private, 'head -c 300000 /dev/zero', 30_000, ip.address, ns);
      assert.equal(r.stdout.length, 300000);
      const at = { vm: await h.db.selectFrom('vms').selectAll().where('id', '=', vmId).executeTakeFirstOrThrow(), group: fx.group, account: fx.account };
      const rows = await until('the traffic in the stats', async () => {
        const all = await readStats(h, fx.admin, at, { resolution: '5m', from: 0, to: h.now() + 1 });
        const sum = (id: number | null, k: 'rxBytes' | 'txBytes') => all.filter((x) => x.nicId === id).reduce((s, x) => s + (x[k] ?? 0), 0);
        return sum(nic.id, 'txBytes') > 300_000 ? { all, perNic: { rx: sum(nic.id, 'rxBytes'), tx: sum(nic.id, 'txBytes') }, vm: { rx: sum(null, 'rxBytes'), tx: sum(null, 'txBytes') } } : null;
      }, 20_000, 500);
      t.diagnostic(`recorded: NIC ${JSON.stringify(rows.perNic)}, VM ${JSON.stringify(rows.vm)}`);
      assert.ok(rows.perNic.rx > 0, 'what the guest received is counted too');
      assert.ok(rows.vm.tx >= rows.perNic.tx, 'the VM-wide series holds its NICs\' bytes');
      assert.ok(rows.all.filter((x) => x.nicId === null).every((x) => x.rxBytes !== null), 'measured in bridge mode: never null');
    } finally {
      await offForGood(fx, vmId, driver);
    }
  }, { driver: asHead, heads: [{ label: 'head1', zone: 'default', resyncMs: 1000, network: { mode: 'bridge', bridge: 'br0' } }], config: { ipv4Pool: '192.168.81.0/24' } });
});
