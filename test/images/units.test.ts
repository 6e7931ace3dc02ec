// Unit tests of the image builder's pieces that need no QEMU: the cpio writer, manifests,
// debootstrap progress lines.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, test } from 'node:test';
import { CpioWriter } from '../../src/images/cpio.js';
import { debootstrapProgress } from '../../src/images/debian.js';
import { ImageError, listBuiltImages, readManifest, validateManifest, type Manifest } from '../../src/images/manifest.js';

interface CpioEntry { name: string; mode: number; rdevMajor: number; rdevMinor: number; data: Buffer }

function parseNewc(buf: Buffer): CpioEntry[] {
  const out: CpioEntry[] = [];
  let off = 0;
  const field = (i: number): number => Number.parseInt(buf.subarray(off + 6 + i * 8, off + 14 + i * 8).toString('ascii'), 16);
  for (;;) {
    assert.equal(buf.subarray(off, off + 6).toString('ascii'), '070701', `magic at ${off}`);
    const mode = field(1);
    const size = field(6);
    const rdevMajor = field(9);
    const rdevMinor = field(10);
    const nameSize = field(11);
    const nameStart = off + 110;
    const name = buf.subarray(nameStart, nameStart + nameSize - 1).toString('utf8');
    let dataStart = nameStart + nameSize;
    dataStart += (4 - (dataStart % 4)) % 4;
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + size;
    off += (4 - (off % 4)) % 4;
    if (name === 'TRAILER!!!') return out;
    out.push({ name, mode, rdevMajor, rdevMinor, data });
  }
}

describe('cpio writer', () => {
  test('writes newc entries the kernel can unpack', () => {
    const w = new CpioWriter();
    w.dir('dev').charDevice('dev/console', 5, 1).dir('bin').file('bin/busybox', Buffer.from('ELF...'), 0o755)
      .symlink('bin/sh', 'busybox').file('/init', '#!/bin/sh\n', 0o755);
    assert.throws(() => w.file('init', 'again'), /duplicate/);
    const gz = w.finishGzip();
    const raw = gunzipSync(gz);
    assert.equal(raw.length % 512, 0);
    const entries = parseNewc(raw);
    assert.deepEqual(entries.map((e) => e.name), ['dev', 'dev/console', 'bin', 'bin/busybox', 'bin/sh', 'init']);
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.equal(byName.get('dev')!.mode, 0o040755);
    assert.equal(byName.get('dev/console')!.mode, 0o020600);
    assert.deepEqual([byName.get('dev/console')!.rdevMajor, byName.get('dev/console')!.rdevMinor], [5, 1]);
    assert.equal(byName.get('bin/busybox')!.mode, 0o100755);
    assert.equal(byName.get('bin/busybox')!.data.toString(), 'ELF...');
    assert.equal(byName.get('bin/sh')!.mode, 0o120777);
    assert.equal(byName.get('bin/sh')!.data.toString(), 'busybox');
    assert.equal(byName.get('init')!.data.toString(), '#!/bin/sh\n');
  });
});

describe('manifest', () => {
  const good: Manifest = {
    name: 'tiny', description: 'd', disc: 'root.qcow2', kernel: 'vmlinuz', initrd: null,
    cmdline: 'console=ttyS0', builtAt: new Date(0).toISOString(),
  };

  test('validates the fields of docs/config-drive.md', () => {
    assert.deepEqual(validateManifest({ ...good }, 'x'), good);
    assert.throws(() => validateManifest({ ...good, disc: '../etc/passwd' }, 'x'), /"disc"/);
    assert.throws(() => validateManifest({ ...good, kernel: undefined }, 'x'), /"kernel"/);
    assert.throws(() => validateManifest({ ...good, builtAt: 'yesterday' }, 'x'), /"builtAt"/);
    assert.throws(() => validateManifest([], 'x'), ImageError);
  });

  test('reads and lists built images, resolving aliases', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hangar-manifest-'));
    try {
      await mkdir(path.join(dir, 'bookworm'));
      await writeFile(path.join(dir, 'bookworm', 'manifest.json'), JSON.stringify({ ...good, name: 'bookworm' }));
      await mkdir(path.join(dir, 'tiny')); // no manifest: not built
      await mkdir(path.join(dir, 'broken'));
      await writeFile(path.join(dir, 'broken', 'manifest.json'), '{');
      await mkdir(path.join(dir, '.build-tiny-x'));
      assert.deepEqual((await listBuiltImages(dir)).map((m) => m.name), ['bookworm']);
      assert.equal((await readManifest(dir, 'stretch')).name, 'bookworm');
      assert.equal((await readManifest(dir, 'symbiosis')).name, 'bookworm');
      await assert.rejects(readManifest(dir, 'tiny'), /not built.*hangar images build tiny/);
      assert.deepEqual(await listBuiltImages(path.join(dir, 'nope')), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('debootstrap progress', () => {
  test('reports phases and periodic summaries, not every package', () => {
    const lines: string[] = [];
    const p = debootstrapProgress((l) => lines.push(l), 0);
    const input = [
      'I: Retrieving InRelease',
      'I: Resolving dependencies of required packages...',
      'I: Retrieving libc6 2.36-9',
      'I: Validating libc6 2.36-9',
      'I: Retrieving bash 5.2',
      'I: Extracting libc6...',
      'I: Unpacking the base system...',
      'I: Unpacking dash...',
      'W: something odd',
      'I: Configuring dash...',
      'I: Base system installed successfully.',
    ];
    for (const l of input) p.line(l);
    const text = lines.join('\n');
    assert.match(text, /Resolving dependencies of required packages/);
    assert.match(text, /downloading packages/);
    assert.match(text, /extracting packages/);
    assert.match(text, /unpacking packages/);
    assert.match(text, /configuring packages/);
    assert.match(text, /W: something odd|something odd/);
    assert.match(text, /Base system installed successfully/);
    assert.doesNotMatch(text, /validating|InRelease|\bthe\b/);

    const quiet: string[] = [];
    const q = debootstrapProgress((l) => quiet.push(l), 60_000);
    for (let i = 0; i < 50; i++) q.line(`I: Unpacking pkg${i}...`);
    assert.equal(quiet.length, 1, 'one line per phase, summaries at most every minute');
  });
});

describe('guest scripts', () => {
  test('parse with dash and busybox ash', async () => {
    const { execFile } = await import('node:child_process');
    const { promisify } = await import('node:util');
    const { readdir } = await import('node:fs/promises');
    const run = promisify(execFile);
    const root = path.resolve(import.meta.dirname, '../../../src/images/guest');
    const scripts: string[] = [];
    for (const dir of ['common', 'tiny', 'bookworm']) {
      for (const f of await readdir(path.join(root, dir))) {
        if (/\.(service|network|conf)$/.test(f) || f === 'inittab') continue;
        scripts.push(path.join(root, dir, f));
      }
    }
    assert.ok(scripts.length >= 10, `found ${scripts.length} scripts`);
    const shells = [['sh', '-n'], ['busybox', 'sh', '-n']];
    for (const [cmd, ...args] of shells) {
      for (const s of scripts) {
        try {
          await run(cmd!, [...args, s]);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') break; // no busybox here
          assert.fail(`${cmd} ${args.join(' ')} ${s}: ${(err as { stderr?: string }).stderr ?? String(err)}`);
        }
      }
    }
  });
});
