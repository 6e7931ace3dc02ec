// The driver's small parts that need no guest: keys, config drive, usernet parsing, stop reasons,
// stats, discs through qemu-img, cdrom_url fetching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { DriverError, type MachineSpec } from '../../src/drivers/driver.js';
import { qcodes } from '../../src/drivers/qemu/keys.js';
import { configDriveFiles, networkFile, writeConfigDrive } from '../../src/drivers/qemu/config-drive.js';
import { parseUsernetSshPort } from '../../src/drivers/qemu/consoles.js';
import { stopReason } from '../../src/drivers/qemu/index.js';
import { discBytes, StatsSeries } from '../../src/drivers/qemu/stats.js';
import { DiscStore } from '../../src/drivers/qemu/discs.js';
import { fetchCdrom } from '../../src/drivers/qemu/cdrom.js';
import { cpuMs, processAlive } from '../../src/drivers/qemu/process.js';
import { loadImage } from '../../src/drivers/qemu/images.js';
import { have, tmpDir } from './helpers.js';

test('sendkey names: dash-separated BigV names and aliases become qcodes; unknown keys are refused', () => {
  assert.deepEqual(qcodes(['ctrl-alt-del']), ['ctrl', 'alt', 'delete']);
  assert.deepEqual(qcodes(['ctrl', 'alt', 'delete']), ['ctrl', 'alt', 'delete']);
  assert.deepEqual(qcodes(['Shift-F1', 'kp_subtract']), ['shift', 'f1', 'kp_subtract']);
  assert.throws(() => qcodes(['ctrl-banana']), (e: unknown) => e instanceof DriverError && /unknown key banana/.test(e.message));
  assert.throws(() => qcodes(['']), DriverError);
});

const spec: MachineSpec = {
  vmId: 9, name: 'db', hostname: 'db.default.acme.hangar.local', cores: 1, memory: 128, hardwareProfile: 'virtio2013',
  keymap: null, cdromUrl: null, image: 'tiny', vncPassword: 'pw', discs: [],
  nics: [{ id: 1, mac: '52:54:00:00:00:09', ipv4: ['10.64.0.9'], ipv6: ['fd00::9'], gateway4: '10.64.0.1', prefix4: 24, network: { mode: 'user', sshPort: 0 } }],
};

test('config drive files follow docs/config-drive.md', () => {
  const files = configDriveFiles(spec, {
    hostname: 'ignored', rootPasswordHash: '$6$salt$hash', authorizedKeys: 'ssh-ed25519 AAAA key\n',
    firstbootScript: '#!/bin/sh\necho hi\n', instanceId: 'i-123',
  });
  assert.deepEqual(files, {
    'instance-id': 'i-123\n',
    'meta-data': 'instance-id: "i-123"\nlocal-hostname: "db.default.acme.hangar.local"\n',
    hostname: 'db.default.acme.hangar.local\n',
    network: "MODE=dhcp\nMAC='52:54:00:00:00:09'\n",
    'root-password-hash': '$6$salt$hash\n',
    authorized_keys: 'ssh-ed25519 AAAA key\n',
    'user-data': '#!/bin/sh\necho hi\n',
  });
  // never imaged: identity only
  assert.deepEqual(Object.keys(configDriveFiles(spec, null)).sort(), ['hostname', 'instance-id', 'meta-data', 'network']);
  const bridged = { ...spec.nics[0]!, network: { mode: 'bridge' as const, bridge: 'br0' } };
  assert.equal(networkFile(bridged), "MODE=static\nMAC='52:54:00:00:00:09'\nIPV4='10.64.0.9/24'\nGATEWAY4='10.64.0.1'\nIPV6='fd00::9/64'\n");
  assert.equal(networkFile(undefined), 'MODE=none\n');
});

test('config drive ISO is labelled cidata and holds the files', { skip: !have('genisoimage') && 'genisoimage is not installed' }, async () => {
  const dir = tmpDir('cidata');
  const iso = path.join(dir, 'cidata.iso');
  assert.equal(await writeConfigDrive(iso, { hostname: 'h\n', 'instance-id': 'i-1\n', authorized_keys: 'k\n' }), true);
  // The same content again is not rewritten (a power-on spends no genisoimage); a change is.
  assert.equal(await writeConfigDrive(iso, { 'instance-id': 'i-1\n', authorized_keys: 'k\n', hostname: 'h\n' }), false);
  assert.equal(await writeConfigDrive(iso, { hostname: 'h\n', 'instance-id': 'i-2\n', authorized_keys: 'k\n' }), true);
  assert.equal(await writeConfigDrive(iso, { hostname: 'h\n', 'instance-id': 'i-1\n', authorized_keys: 'k\n' }), true);
  const info = execFileSync('isoinfo', ['-d', '-i', iso], { encoding: 'utf8' });
  assert.match(info, /Volume id: cidata/);
  const listing = execFileSync('isoinfo', ['-R', '-f', '-i', iso], { encoding: 'utf8' });
  assert.deepEqual(listing.trim().split('\n').sort(), ['/authorized_keys', '/hostname', '/instance-id']);
  assert.equal(execFileSync('isoinfo', ['-R', '-x', '/authorized_keys', '-i', iso], { encoding: 'utf8' }), 'k\n');
});

test('info usernet: the host port forwarded to guest port 22', () => {
  const out = [
    'Hub -1 (net0):',
    '  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ',
    '  TCP[HOST_FORWARD]  14       127.0.0.1  8080       10.0.2.15    80     0     0',
    '  TCP[HOST_FORWARD]  13       127.0.0.1 40513       10.0.2.15    22     0     0',
  ].join('\r\n');
  assert.equal(parseUsernetSshPort(out), 40513);
  assert.equal(parseUsernetSshPort('nothing'), null);
});

test('stop reasons: BigV power semantics come from the last SHUTDOWN event', () => {
  assert.equal(stopReason('guest-shutdown', false), 'guest-shutdown');
  assert.equal(stopReason('guest-reset', false), 'guest-reset');
  assert.equal(stopReason('host-qmp-system-reset', false), 'guest-reset');
  assert.equal(stopReason(null, false), 'crash');
  assert.equal(stopReason('host-signal', false), 'crash');
  assert.equal(stopReason('host-qmp-quit', true), 'host');
  assert.equal(stopReason(null, true), 'host');
});

test('stats: disc bytes count the VM discs only; the series keeps the last samples', () => {
  const s = (rd: number, wr: number) => ({ rd_bytes: rd, wr_bytes: wr });
  assert.deepEqual(discBytes([
    { device: '', 'node-name': 'disc11', qdev: '/machine/peripheral/disc11-dev/virtio-backend', stats: s(10, 20) },
    { device: '', 'node-name': 'disc12', stats: s(1, 2) },
    { device: '', 'node-name': 'cidata', qdev: '/machine/peripheral/cidata-dev/virtio-backend', stats: s(100, 0) },
    { device: '', 'node-name': 'cdrom', stats: s(1000, 0) },
  ]), { read: 11, write: 22 });
  const series = new StatsSeries(3);
  for (let i = 0; i < 5; i++) series.push({ vmId: 1, at: i, cpuMs: i, netRxBytes: 0, netTxBytes: 0, discReadBytes: 0, discWriteBytes: 0 });
  assert.deepEqual(series.get(1).map((x) => x.at), [2, 3, 4]);
  series.drop(1);
  assert.deepEqual(series.get(1), []);
  assert.ok((cpuMs(process.pid) ?? -1) >= 0);
  assert.ok(processAlive(process.pid));
  assert.equal(processAlive(2 ** 22 + 1), false);
});

test('discs: create per grade, grow, refuse to shrink, refuse what does not fit, image, backup, restore', { skip: !have('qemu-img') && 'qemu-img is not installed' }, async () => {
  const dir = tmpDir('discs');
  const store = new DiscStore({ grades: { sata: path.join(dir, 'sata'), ssd: path.join(dir, 'ssd') }, backupsDir: path.join(dir, 'backups'), qemuImg: 'qemu-img' });
  const disc = { id: 5, vmId: 1, label: 'vda', grade: 'ssd', size: 64 };
  await store.create(disc);
  assert.equal(store.path(disc), path.join(dir, 'ssd', 'disc-5.qcow2'));
  assert.equal((await store.info(store.path(disc))).virtualSize, 64 * 1024 * 1024);
  await store.create(disc); // idempotent
  await store.growOffline(disc, 96);
  assert.equal((await store.info(store.path(disc))).virtualSize, 96 * 1024 * 1024);
  await assert.rejects(store.growOffline(disc, 32), /only grow/);
  await assert.rejects(store.create({ ...disc, id: 6, size: 1024 ** 3 }), /does not fit in storage grade ssd/);
  await assert.rejects(store.create({ ...disc, id: 7, grade: 'gold' }), /storage grade gold does not exist/);

  // an image bigger than the disc is refused; a smaller one is grown to the disc
  const img = path.join(dir, 'img.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '200M']);
  await assert.rejects(store.writeImage(disc, img, 'big'), /image big needs 200 MiB; the disc has 64 MiB/);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '16M']);
  await store.writeImage({ ...disc, size: 96 }, img, 'small');
  assert.equal((await store.info(store.path(disc))).virtualSize, 96 * 1024 * 1024);

  await store.backup(disc, 3);
  await store.delete(disc);
  assert.ok(!fs.existsSync(store.path(disc)));
  await store.restore({ ...disc, size: 128 }, 3);
  assert.equal((await store.info(store.path(disc))).virtualSize, 128 * 1024 * 1024);
  await store.deleteBackup(3);
  await assert.rejects(store.restore(disc, 3), /no such backup/);
  assert.ok((await store.freeMiB('sata')) > 0);
});

test('cdrom_url: a file in the ISO library in place, http from an allow-listed mirror downloaded once into the cache, size cap, failures are DriverErrors', async () => {
  const dir = tmpDir('cdrom');
  const iso = path.join(dir, 'x.iso');
  fs.writeFileSync(iso, 'ISO');
  const cacheDir = path.join(dir, 'cache');
  const opts = { cacheDir, urls: { isoDir: dir, allow: ['127.0.0.1'] } };
  assert.equal(await fetchCdrom(pathToFileURL(iso).href, opts), iso);
  await assert.rejects(fetchCdrom(pathToFileURL(path.join(dir, 'no-such.iso')).href, opts), (e: unknown) => e instanceof DriverError && e.field === 'cdrom_url' && /no such file/.test(e.message));
  await assert.rejects(fetchCdrom('ftp://example.org/x.iso', opts), /unsupported scheme ftp/);
  await assert.rejects(fetchCdrom('not a url', opts), /not a URL/);

  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    if (req.url === '/good.iso') res.end('GOOD-ISO');
    else if (req.url === '/big.iso') res.end('x'.repeat(100));
    else { res.statusCode = 404; res.end('no'); }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const got = await fetchCdrom(`http://127.0.0.1:${port}/good.iso`, opts);
    assert.equal(fs.readFileSync(got, 'utf8'), 'GOOD-ISO');
    assert.equal(await fetchCdrom(`http://127.0.0.1:${port}/good.iso`, opts), got);
    assert.equal(hits, 1);
    await assert.rejects(fetchCdrom(`http://127.0.0.1:${port}/missing.iso`, opts), /download failed: HTTP 404/);
    await assert.rejects(fetchCdrom(`http://127.0.0.1:${port}/big.iso`, { ...opts, maxBytes: 10 }), /too large/);
    assert.deepEqual(fs.readdirSync(cacheDir).filter((f) => f.endsWith('.part')), []);
  } finally {
    server.close();
  }
  // nobody listening
  await assert.rejects(fetchCdrom(`http://127.0.0.1:${port}/good2.iso`, { ...opts, timeoutMs: 2000 }), /download failed/);
});

test('images: manifests are read, aliases resolve, unknown or unbuilt images are DriverErrors', async () => {
  const dir = tmpDir('images');
  fs.mkdirSync(path.join(dir, 'bookworm'));
  fs.writeFileSync(path.join(dir, 'bookworm', 'manifest.json'), JSON.stringify({
    name: 'bookworm', description: 'd', disc: 'root.qcow2', kernel: 'vmlinuz', initrd: null, cmdline: 'root=/dev/vda', builtAt: '2026-11-22T00:00:00Z',
  }));
  const img = await loadImage(dir, 'stretch');
  assert.equal(img.name, 'bookworm');
  assert.equal(img.disc, path.join(dir, 'bookworm', 'root.qcow2'));
  assert.deepEqual(img.boot, { kernel: path.join(dir, 'bookworm', 'vmlinuz'), initrd: null, cmdline: 'root=/dev/vda' });
  await assert.rejects(loadImage(dir, 'tiny'), (e: unknown) => e instanceof DriverError && /image "tiny" is not built on this head/.test(e.message));
  await assert.rejects(loadImage(dir, '../etc'), (e: unknown) => e instanceof DriverError && /unknown image/.test(e.message));
  fs.writeFileSync(path.join(dir, 'bookworm', 'manifest.json'), JSON.stringify({ name: 'bookworm', disc: '../../x', kernel: null }));
  await assert.rejects(loadImage(dir, 'bookworm'), /invalid or missing "description"|invalid or missing "disc"/);
});

void os;
