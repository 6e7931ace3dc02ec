// Bridge mode inside a network namespace this test makes: the driver creates the tap on the
// bridge, the guest takes its static address from the config drive, SSH works across the bridge,
// and the tap's counters show up in the stats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { pino } from 'pino';
import { QemuDriver } from '../../src/drivers/qemu/index.js';
import type { MachineSpec } from '../../src/drivers/driver.js';
import { firstBoot, ssh, sshKeyPair, sshWhenReady, tinyImage, tmpDir, until } from './helpers.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });

function ipn(ns: string, ...args: string[]): void {
  execFileSync('ip', ['-n', ns, ...args], { stdio: 'pipe' });
}

test('bridge mode: tap on a bridge in a private netns, static address from the config drive, SSH', { timeout: 180_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) { t.skip(img.skip); return; }
  const ns = `hgt${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', ns], { stdio: 'ignore' }).status !== 0) {
    t.skip('cannot create a network namespace here (needs root)');
    return;
  }
  const dir = tmpDir('bridge');
  const driver = new QemuDriver({ dataDir: dir, imagesDir: img.imagesDir, log, netns: ns, tapPrefix: 'hgt', statsIntervalMs: 0 });
  t.after(async () => {
    await driver.stop(5).catch(() => undefined);
    await driver.close();
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  });
  ipn(ns, 'link', 'set', 'lo', 'up');
  ipn(ns, 'link', 'add', 'br0', 'type', 'bridge');
  ipn(ns, 'addr', 'add', '192.168.77.1/24', 'dev', 'br0');
  ipn(ns, 'link', 'set', 'br0', 'up');

  const key = sshKeyPair(dir);
  const disc = { id: 50, vmId: 5, label: 'vda', grade: 'sata', size: 192 };
  await driver.createDisc(disc);
  await driver.reimage(5, disc, 'tiny', firstBoot({ authorizedKeys: key.public }));
  const spec: MachineSpec = {
    vmId: 5, name: 'bridged', hostname: 'bridged.test', cores: 1, memory: 192, hardwareProfile: 'virtio2013', keymap: null,
    discs: [disc], cdromUrl: null, image: 'tiny', vncPassword: 'pw',
    nics: [{ id: 1, mac: '52:54:00:77:00:10', ipv4: ['192.168.77.10'], ipv6: [], gateway4: '192.168.77.1', prefix4: 24, network: { mode: 'bridge', bridge: 'br0' } }],
  };
  const st = await driver.start(spec);
  assert.equal(st.sshPort, null, 'no SSH forward in bridge mode');
  const links = execFileSync('ip', ['-n', ns, '-br', 'link', 'show', 'master', 'br0'], { encoding: 'utf8' });
  assert.match(links, /^hgt5n0\s+UP/m);

  const out = await sshWhenReady(22, key.private, 'ip -4 -o addr show dev eth0; cat /sys/class/net/eth0/address', 90_000, '192.168.77.10', ns);
  assert.match(out, /inet 192\.168\.77\.10\/24/);
  assert.match(out, /52:54:00:77:00:10/);
  // the guest sends 200 kB through the tap (SSH output), so the counters move
  const r = await ssh(22, key.private, 'head -c 200000 /dev/zero', 15_000, '192.168.77.10', ns);
  assert.equal(r.stdout.length, 200000);
  let last: unknown = null;
  const s = await until('net counters', async () => {
    const x = await driver.stats(5);
    last = x;
    return x && x.netRxBytes > 0 && x.netTxBytes > 200_000 ? x : null;
  }, 10_000).catch((err: Error) => { throw new Error(`${err.message}: ${JSON.stringify(last)}`); });
  assert.ok(s.cpuMs > 0);

  await driver.stop(5);
  const after = spawnSync('ip', ['-n', ns, 'link', 'show', 'hgt5n0'], { stdio: 'ignore' });
  assert.notEqual(after.status, 0, 'the tap is removed when the machine stops');
});
