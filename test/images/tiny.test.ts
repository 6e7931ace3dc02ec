// The tiny image: building it (manifest, qcow2, idempotence) and one real boot under QEMU with a
// config drive: HANGAR-READY, SSH with the drive's key, hostname and user-data applied, the root
// filesystem grown to the disc, and ACPI powerdown ending QEMU.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildImage, listBuiltImages } from '../../src/images/build.js';
import { ImageError, manifestPaths, readManifest, type Manifest } from '../../src/images/manifest.js';
import { cannotBoot, cannotBuildTiny, execFileP, makeConfigDrive, Qmp, ssh, waitFor } from './helpers.js';

const skipBuild = cannotBuildTiny();
if (skipBuild) console.log(`# tiny image tests skipped: ${skipBuild}`);

describe('tiny image', { skip: skipBuild ?? false }, () => {
  let tmp: string;
  let imagesDir: string;
  let manifest: Manifest;
  const lines: string[] = [];

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hangar-images-'));
    imagesDir = path.join(tmp, 'images');
    const t0 = Date.now();
    const r = await buildImage('tiny', { imagesDir, log: (l) => lines.push(l) });
    console.log(`# tiny built in ${Date.now() - t0} ms`);
    manifest = r.manifest;
    assert.equal(r.upToDate, false);
    assert.equal(r.dir, path.join(imagesDir, 'tiny'));
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('writes a manifest per docs/config-drive.md and a qcow2 disc', async () => {
    const onDisk = JSON.parse(await readFile(path.join(imagesDir, 'tiny', 'manifest.json'), 'utf8')) as Manifest;
    assert.deepEqual(onDisk, manifest);
    assert.equal(manifest.name, 'tiny');
    assert.equal(manifest.disc, 'root.qcow2');
    assert.equal(manifest.kernel, 'vmlinuz');
    assert.equal(manifest.initrd, 'initrd.img');
    assert.ok(!Number.isNaN(Date.parse(manifest.builtAt)));
    for (const word of ['console=ttyS0', 'no_timer_check', 'panic=1', 'root=/dev/vda']) {
      assert.ok(manifest.cmdline.split(' ').includes(word), `cmdline has ${word}: ${manifest.cmdline}`);
    }
    const paths = manifestPaths(imagesDir, manifest);
    const { stdout } = await execFileP('qemu-img', ['info', '--output=json', paths.disc]);
    const info = JSON.parse(stdout) as { format: string; 'virtual-size': number };
    assert.equal(info.format, 'qcow2');
    assert.equal(info['virtual-size'], manifest.discSize);
    assert.ok((await stat(paths.kernel!)).size > 1e6, 'kernel copied');
    const initrd = await readFile(paths.initrd!);
    assert.equal(initrd[0], 0x1f, 'initrd is gzip');
    assert.ok(lines.some((l) => l.includes('tiny built in')), 'progress logged');

    assert.deepEqual((await listBuiltImages(imagesDir)).map((m) => m.name), ['tiny']);
    assert.deepEqual(await readManifest(imagesDir, 'tiny'), manifest);
    await assert.rejects(readManifest(imagesDir, 'stretch'), (e: unknown) => e instanceof ImageError && /bookworm.*not built/.test(e.message));
    await assert.rejects(readManifest(imagesDir, 'windows'), (e: unknown) => e instanceof ImageError && /unknown image/.test(e.message));
    await assert.rejects(buildImage('windows', { imagesDir }), ImageError);
  });

  test('is idempotent; force rebuilds', async () => {
    const discBefore = await stat(path.join(imagesDir, 'tiny', 'root.qcow2'));
    const [a, b] = await Promise.all([buildImage('tiny', { imagesDir }), buildImage('tiny', { imagesDir })]);
    assert.equal(a.upToDate, true);
    assert.equal(b.upToDate, true);
    assert.equal(a.manifest.builtAt, manifest.builtAt);
    assert.equal((await stat(path.join(imagesDir, 'tiny', 'root.qcow2'))).mtimeMs, discBefore.mtimeMs);

    const forced = await buildImage('tiny', { imagesDir, force: true });
    assert.equal(forced.upToDate, false);
    assert.notEqual(forced.manifest.builtAt, manifest.builtAt);
    assert.equal(forced.manifest.buildId, manifest.buildId);
    manifest = forced.manifest;
    // no scratch folders or lock files left behind
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual((await readdir(imagesDir)).filter((f) => f.startsWith('.') && f !== '.cache'), []);
  });

  test('guest script parses the network file of the config drive', async () => {
    const dir = await mkdtemp(path.join(tmp, 'net-'));
    const script = [
      '. src/images/guest/common/cidata.sh',
      `CIDATA=${dir}`,
      `printf '%s\\n' '# comment' 'export MODE="static"' "MAC='52:54:00:AB:CD:EF'" IPV4=192.0.2.10/24 GATEWAY4=192.0.2.1 IPV6=2001:db8::10/64 > $CIDATA/network`,
      'cidata_network',
      'echo "$NET_MODE|$NET_MAC|$NET_IPV4|$NET_GATEWAY4|$NET_IPV6"',
    ].join('\n');
    const { stdout } = await execFileP('busybox', ['sh', '-c', script], { cwd: path.resolve(import.meta.dirname, '../../..') });
    assert.equal(stdout.trim(), 'static|52:54:00:ab:cd:ef|192.0.2.10/24|192.0.2.1|2001:db8::10/64');
  });

  test('boots under QEMU: config drive applied, SSH, ACPI powerdown', { skip: cannotBoot() ?? false, timeout: 180_000 }, async () => {
    const dir = await mkdtemp(path.join(tmp, 'vm-'));
    const paths = manifestPaths(imagesDir, manifest);
    // the VM's disc: a copy-on-write overlay, bigger than the image (the guest grows its filesystem)
    const disc = path.join(dir, 'disc.qcow2');
    await execFileP('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', paths.disc, '-F', 'qcow2', disc, '512M']);
    const key = path.join(dir, 'id_ed25519');
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hangar-test', '-f', key]);
    const pub = await readFile(`${key}.pub`, 'utf8');
    const hostname = 'tiny-test.example.org';
    const iso = await makeConfigDrive(dir, {
      instanceId: `test-${process.pid}`,
      hostname,
      authorizedKeys: pub,
      rootPasswordHash: '$6$hangarsalt$.siTYvmdInyWOi/rLWufPJVcje9GFUngo47b/ehuhgILn6bexzWNtaAdZePGNeG3hCMC7hid9QBoCvlXcXoM./',
      userData: '#!/bin/sh\necho "user-data ran as $(id -un)" > /root/user-data-marker\n',
      network: 'MODE=dhcp\n',
    });
    const serialLog = path.join(dir, 'serial.log');
    const qmpSock = path.join(dir, 'qmp.sock');
    const args = [
      '-name', 'hangar-images-test', '-accel', 'tcg', '-machine', 'pc', '-m', '256', '-smp', '1', '-nodefaults', '-display', 'none',
      '-qmp', `unix:${qmpSock},server=on,wait=off`, '-serial', `file:${serialLog}`,
      '-kernel', paths.kernel!, '-initrd', paths.initrd!, '-append', manifest.cmdline,
      '-drive', `file=${disc},format=qcow2,if=virtio`,
      '-drive', `file=${iso},format=raw,if=virtio,readonly=on`,
      '-netdev', 'user,id=n0,hostfwd=tcp:127.0.0.1:0-:22', '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56',
    ];
    const t0 = Date.now();
    const qemu: ChildProcess = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const stderr = createWriteStream(path.join(dir, 'qemu.stderr'));
    qemu.stderr!.pipe(stderr);
    const exited = new Promise<number | null>((resolve) => qemu.once('exit', (code) => resolve(code)));
    let qmp: Qmp | null = null;
    try {
      qmp = await Qmp.connect(qmpSock);
      // the host port QEMU picked for the SSH forward
      const usernet = String(await qmp.command('human-monitor-command', { 'command-line': 'info usernet' }));
      const port = Number(/HOST_FORWARD\]?\s+\d+\s+127\.0\.0\.1\s+(\d+)/.exec(usernet)?.[1]);
      assert.ok(port > 0, `ssh port from: ${usernet}`);

      const serial = async (): Promise<string> => readFile(serialLog, 'utf8').catch(() => '');
      await waitFor('HANGAR-READY on ttyS0', 120_000, async () => (await serial()).includes('HANGAR-READY'));
      const readyMs = Date.now() - t0;
      const out = await waitFor('ssh', 30_000, () =>
        ssh(key, port, 'hostname; cat /root/user-data-marker; cat /root/.ssh/authorized_keys; df -k / | tail -n 1; grep ^root: /etc/shadow | cut -d: -f2'), 250);
      const sshMs = Date.now() - t0;
      console.log(`# tiny guest: HANGAR-READY after ${readyMs} ms, first SSH command done after ${sshMs} ms`);
      const [gotHost, marker, gotKey, df, shadowHash] = out.trim().split('\n');
      assert.equal(gotHost, hostname);
      assert.equal(marker, 'user-data ran as root');
      assert.equal(gotKey, pub.trim());
      const rootKiB = Number(df?.trim().split(/\s+/)[1]);
      assert.ok(rootKiB > 400 * 1024, `root filesystem grown to the 512M disc: ${df}`);
      assert.ok(shadowHash?.startsWith('$6$hangarsalt$'), 'root password hash applied');
      const console_ = await serial();
      assert.match(console_, /login:/, 'a login prompt on ttyS0');

      // ACPI power button: the guest powers off and QEMU exits
      const p0 = Date.now();
      await qmp.command('system_powerdown');
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 30_000)))]);
      clearTimeout(timer);
      assert.equal(code, 0, 'QEMU exits after the ACPI powerdown');
      console.log(`# tiny guest: powerdown to QEMU exit ${Date.now() - p0} ms`);
    } catch (err) {
      console.log(`# serial log:\n${await readFile(serialLog, 'utf8').catch(() => '(none)')}`);
      console.log(`# qemu stderr:\n${await readFile(path.join(dir, 'qemu.stderr'), 'utf8').catch(() => '(none)')}`);
      throw err;
    } finally {
      qmp?.close();
      if (qemu.exitCode === null && qemu.signalCode === null) {
        qemu.kill('SIGKILL');
        await exited;
      }
    }
  });
});
