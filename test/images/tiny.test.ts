// The tiny image: building it (manifest, qcow2, idempotence) and one real boot under QEMU with a
// config drive: HANGAR-READY, SSH with the drive's key, hostname and user-data applied, the root
// filesystem grown to the disc, and ACPI powerdown ending QEMU.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildImage, listBuiltImages } from '../../src/images/build.js';
import { ImageError, manifestPaths, readManifest, type Manifest } from '../../src/images/manifest.js';
import { bootAndCheck, cannotBoot, cannotBuildTiny, execFileP } from './helpers.js';

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

    // a lock left by a build that died is taken over
    await writeFile(path.join(imagesDir, '.tiny.lock'), '2147483646\n');
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
    const r = await bootAndCheck({ imagesDir, manifest, workDir: tmp, memory: 256, readyTimeoutMs: 120_000 });
    console.log(`# tiny guest: HANGAR-READY after ${r.readyMs} ms, first SSH command done after ${r.sshMs} ms, powerdown to exit ${r.powerdownMs} ms`);
  });
});
