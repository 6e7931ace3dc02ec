// The disc and boot acts of docs/vm-ops.md on real tiny guests, through the head agent: an ISO put in
// a running guest's CD drive is read in the guest; a blank disc applied to a running guest is
// hot-plugged and formatted (ext4 with its label, mounted in the guest); a clone of a running VM (live
// full copy) has the marker written before, and a change in one disc does not show in the other; its
// network rebuilt and applied now (a new MAC) is what the rebooted guest reads from its config drive; a
// template made from the VM is a new image a later VM is imaged with, and that VM has the marker; a
// VM asked to boot from a bootable ISO (isolinux, built here with genisoimage) boots it through the
// firmware (SeaBIOS), not the image's kernel: the serial console shows isolinux's banner and prompt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { pino } from 'pino';
import type { DesiredVm, PendingOperation } from '../../src/heads/link.js';
import type { DiscRef } from '../../src/drivers/driver.js';
import { HeadAgent } from '../../src/heads/agent.js';
import { QemuDriver } from '../../src/drivers/qemu/index.js';
import { runDirFor } from '../../src/drivers/qemu/process.js';
import { firstBoot, have, MemoryLink, ssh, sshKeyPair, sshWhenReady, tinyImage, tmpDir, until } from './helpers.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });
const ISOLINUX = '/usr/lib/ISOLINUX/isolinux.bin';
const LDLINUX = '/usr/lib/syslinux/modules/bios/ldlinux.c32';

/** A bootable ISO: isolinux (its banner on the serial port) waiting at its prompt. */
function bootableIso(dir: string): string {
  const tree = path.join(dir, 'bootiso');
  fs.mkdirSync(path.join(tree, 'isolinux'), { recursive: true });
  fs.copyFileSync(ISOLINUX, path.join(tree, 'isolinux', 'isolinux.bin'));
  fs.copyFileSync(LDLINUX, path.join(tree, 'isolinux', 'ldlinux.c32'));
  fs.writeFileSync(path.join(tree, 'isolinux', 'isolinux.cfg'), 'SERIAL 0 115200\nPROMPT 1\nTIMEOUT 0\n');
  const iso = path.join(dir, 'isos', 'boot.iso');
  execFileSync('genisoimage', ['-quiet', '-R', '-J', '-o', iso, '-b', 'isolinux/isolinux.bin', '-c', 'isolinux/boot.cat',
    '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table', '-V', 'HGBOOT', tree]);
  return iso;
}

test('ISO mounted and read, discs applied and formatted, clone, template, boot from an ISO: real guests', { timeout: 600_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) { t.skip(img.skip); return; }
  if (!fs.existsSync(ISOLINUX) || !fs.existsSync(LDLINUX) || !have('mke2fs')) { t.skip('not installed: isolinux, syslinux-common, e2fsprogs (scripts/head-packages.sh)'); return; }
  const dir = tmpDir('vmops');
  const key = sshKeyPair(dir);
  // Templates are written beside the images: a folder of its own, with the tiny image linked in.
  const imagesDir = path.join(dir, 'images');
  fs.mkdirSync(imagesDir);
  fs.symlinkSync(path.join(img.imagesDir, 'tiny'), path.join(imagesDir, 'tiny'));
  fs.mkdirSync(path.join(dir, 'isos'));
  const isoDir = path.join(dir, 'isos');
  const driver = new QemuDriver({ dataDir: dir, imagesDir, log, statsIntervalMs: 0, urls: { isoDir, allow: [] } });
  const link = new MemoryLink();
  const agent = new HeadAgent(link, driver, { label: 'h1', zone: 'z', managementAddress: '127.0.0.1', network: { mode: 'user' }, resyncMs: 60_000, log });
  const disc = (vmId: number, n: number, size = 256): DiscRef => ({ id: vmId * 100 + n, vmId, label: n === 1 ? 'vda' : `data${n}`, grade: 'sata', size });
  const desired = (id: number, over: Partial<DesiredVm> = {}): DesiredVm => ({
    id, name: `ops${id}`, hostname: `ops${id}.default.acme.hangar.local`, cores: 1, memory: 160, hardwareProfile: 'virtio2013',
    keymap: null, cdromUrl: null, image: null, vncPassword: 'vncpass1', powerOn: false, autorebootOn: false, deleted: false,
    powerCycle: 0, observedCycle: 0, observedRunning: false, sshPort: null, discs: [disc(id, 1)],
    nics: [{ id, mac: `52:54:00:20:00:0${id}`, ipv4: [], ipv6: [], gateway4: null, prefix4: null }], ...over,
  });
  await agent.start();
  t.after(async () => {
    for (const id of [1, 2, 3, 4]) await driver.stop(id).catch(() => undefined);
    await agent.stop();
  });
  /** Queue an operation for a VM, let the agent run it, and wait for its end. */
  const run = async (vmId: number, op: PendingOperation) => {
    await agent.kick(vmId);
    return link.opEnd(op, 300_000);
  };
  const boot = async (vm: DesiredVm): Promise<number> => {
    vm.powerOn = true;
    await agent.kick(vm.id);
    return until(`VM ${vm.id} running`, async () => (await driver.status(vm.id)).sshPort, 30_000);
  };
  const off = async (vm: DesiredVm) => {
    vm.powerOn = false;
    await agent.kick(vm.id);
  };

  // The source: imaged with the key, booted, a marker written and synced to its disc.
  const vm1 = desired(1);
  link.vms.set(1, vm1);
  assert.equal((await run(1, link.queue(1, 'disc.create', { disc: vm1.discs[0]! }))).error, null);
  assert.equal((await run(1, link.queue(1, 'reimage', { vmId: 1, distribution: 'tiny', image: 'tiny', afterwards: null, firstBoot: firstBoot({ authorizedKeys: key.public }) }))).error, null);
  const port1 = await boot(vm1);
  await sshWhenReady(port1, key.private, 'echo from-the-source > /root/marker && sync');

  // An ISO put in the running guest's CD drive is read in the guest.
  const dataTree = path.join(dir, 'datatree');
  fs.mkdirSync(dataTree);
  fs.writeFileSync(path.join(dataTree, 'hello.txt'), 'hello from the ISO\n');
  execFileSync('genisoimage', ['-quiet', '-o', path.join(isoDir, 'data.iso'), '-V', 'HGDATA', '-R', dataTree]);
  assert.equal((await run(1, link.queue(1, 'vm.cdrom', { url: `file://${isoDir}/data.iso` }))).error, null);
  const read = await until('the ISO read in the guest', async () => {
    const r = await ssh(port1, key.private, 'mkdir -p /mnt/cd && (mount -t iso9660 -o ro /dev/sr0 /mnt/cd 2>/dev/null || true) && cat /mnt/cd/hello.txt');
    return r.code === 0 ? r.stdout : null;
  }, 30_000, 500);
  assert.equal(read, 'hello from the ISO\n');
  await ssh(port1, key.private, 'umount /mnt/cd');

  // A disc created while it runs is not in the guest until applied; applied with format: ext4, its label, mountable.
  const data = disc(1, 2, 64);
  vm1.discs.push(data);
  assert.equal((await run(1, link.queue(1, 'disc.create', { disc: data }))).error, null);
  // Discs by their serial (hangar-<id>): the config drive is a virtio disc too.
  const byId = 'for b in /sys/block/vd*; do [ "$(cat $b/serial)" = hangar-102 ] && echo /dev/${b##*/}; done';
  assert.equal((await ssh(port1, key.private, byId)).stdout, '', 'not attached before apply_disks');
  const applied = await run(1, link.queue(1, 'disc.apply', { discs: [data], format: true }));
  assert.equal(applied.error, null);
  assert.deepEqual(applied.result?.formatted, ['data2']);
  const mounted = await until('the applied disc mounted in the guest', async () => {
    const r = await ssh(port1, key.private, `d=$(${byId}); [ -n "$d" ] && mkdir -p /mnt/d && mount -t ext4 $d /mnt/d && ls /mnt/d && [ "$(findfs LABEL=data2)" = "$d" ] && echo labelled data2; umount /mnt/d`);
    return r.code === 0 ? r.stdout : null;
  }, 30_000, 500);
  assert.match(mounted, /lost\+found/);
  assert.match(mounted, /labelled data2/);
  // Applying again attaches nothing twice and formats nothing in use.
  assert.deepEqual((await run(1, link.queue(1, 'disc.apply', { discs: [data], format: true }))).result?.formatted, []);

  // Clone of the running source (live copies), then the source changes its marker.
  const vm2 = desired(2, { image: 'tiny', discs: [disc(2, 1), disc(2, 2, 64)] });
  link.vms.set(2, vm2);
  const pairs = vm1.discs.map((from, i) => ({ from, to: vm2.discs[i]! }));
  assert.equal((await run(2, link.queue(2, 'vm.clone', { sourceVmId: 1, pairs, instanceId: 'clone-instance-2', afterwards: null }))).error, null);
  const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', path.join(dir, 'discs', 'sata', 'disc-201.qcow2')], { encoding: 'utf8' })) as Record<string, unknown>;
  assert.equal(info['backing-filename'], undefined, 'a full copy: no backing file');

  // A template from the source's system disc (live), then the source is changed and stopped.
  assert.equal((await run(1, link.queue(1, 'image.template', { imageId: 9, name: 'tpl-ops', description: 'from ops1', disc: vm1.discs[0]!, fromImage: 'tiny' }))).error, null);
  assert.ok(link.images.includes('tpl-ops'), `reported at once: ${link.images.join(',')}`);
  await ssh(port1, key.private, 'echo changed-in-the-source > /root/marker && sync');
  await off(vm1);

  const port2 = await boot(vm2);
  const seen = await sshWhenReady(port2, key.private, `cat /root/marker; hostname; mount -t ext4 $(${byId.replace('102', '202')}) /mnt && ls /mnt; umount /mnt`);
  assert.equal(seen, 'from-the-source\nops2.default.acme.hangar.local\nlost+found\n', 'the clone has the marker, its own hostname and the formatted disc');
  await ssh(port2, key.private, 'echo changed-in-the-clone > /root/marker && sync');

  // rebuild_network applied now: the config drive is rewritten from the NICs and the guest, rebooted, reads it.
  vm2.nics[0]!.mac = '52:54:00:20:00:22';
  const rebuilt = await run(2, link.queue(2, 'vm.network.rebuild', { applyNow: true, timeoutMs: 30_000 }));
  assert.deepEqual(rebuilt, { error: null, result: { forced: false } });
  const port2b = await until('the clone booted again', async () => (await driver.status(2)).sshPort, 30_000);
  assert.equal(await sshWhenReady(port2b, key.private, 'grep MAC /run/hangar/cidata/network'), "MAC='52:54:00:20:00:22'\n");
  await off(vm2);
  const port1b = await boot(vm1);
  assert.equal(await sshWhenReady(port1b, key.private, 'cat /root/marker'), 'changed-in-the-source\n', 'the clone\'s change is not in the source');
  await off(vm1);

  // A VM imaged with the template has the marker of when it was made.
  const vm3 = desired(3);
  link.vms.set(3, vm3);
  assert.equal((await run(3, link.queue(3, 'disc.create', { disc: vm3.discs[0]! }))).error, null);
  assert.equal((await run(3, link.queue(3, 'reimage', { vmId: 3, distribution: 'tpl-ops', image: 'tpl-ops', afterwards: null, firstBoot: firstBoot({ authorizedKeys: key.public }) }))).error, null);
  const port3 = await boot(vm3);
  assert.equal(await sshWhenReady(port3, key.private, 'cat /root/marker; hostname'), 'from-the-source\nops3.default.acme.hangar.local\n');
  await off(vm3);

  // Boot from a bootable ISO: an imaged VM (its image boots a kernel directly) asked to boot the CD.
  const iso = bootableIso(dir);
  const vm4 = desired(4, { image: 'tiny', cdromUrl: `file://${iso}`, bootFrom: 'cdrom', discs: [disc(4, 1, 32)] });
  link.vms.set(4, vm4);
  assert.equal((await run(4, link.queue(4, 'disc.create', { disc: vm4.discs[0]! }))).error, null);
  await boot(vm4);
  const consoleLog = runDirFor(path.join(dir, 'run'), 4).consoleLog;
  const line = await until('isolinux on the serial console', () => /ISOLINUX \d[\s\S]*boot:/.test(fs.readFileSync(consoleLog, 'latin1')), 60_000, 250);
  assert.ok(line);
  assert.doesNotMatch(fs.readFileSync(consoleLog, 'latin1'), /Linux version/, 'the image\'s kernel was not booted');
  await off(vm4);
});
