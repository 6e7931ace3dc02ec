// Discs as qcow2 files, one directory per storage grade, driven with qemu-img. Live growth of a
// running machine's disc goes through QMP block_resize (index.ts); everything here is offline.
// Guests' data is the server's alone: every file made here is 0600 in a 0700 directory.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { DriverError, type DiscRef } from '../driver.js';
import { run } from './exec.js';
import { makePrivate, mkdirPrivate } from '../../core/private-files.js';

const MiB = 1024 * 1024;

export interface DiscStoreOptions {
  /** Storage grade → directory holding that grade's discs. */
  grades: Record<string, string>;
  backupsDir: string;
  qemuImg: string;
}

export interface ImageInfo { format: string; virtualSize: number }

export class DiscStore {
  constructor(private readonly opts: DiscStoreOptions) {}

  get grades(): string[] {
    return Object.keys(this.opts.grades);
  }

  gradeDir(grade: string): string {
    const dir = this.opts.grades[grade];
    if (!dir) throw new DriverError(`storage grade ${grade} does not exist on this head`, 'storage_grade');
    return dir;
  }

  path(disc: DiscRef): string {
    return path.join(this.gradeDir(disc.grade), `disc-${disc.id}.qcow2`);
  }

  backupPath(backupId: number): string {
    return path.join(this.opts.backupsDir, `backup-${backupId}.qcow2`);
  }

  /** MiB free for new discs in a grade (what its filesystem has available). */
  async freeMiB(grade: string): Promise<number> {
    const dir = this.gradeDir(grade);
    await mkdirPrivate(dir);
    const st = await fsp.statfs(dir);
    return Math.floor((st.bavail * st.bsize) / MiB);
  }

  async info(file: string): Promise<ImageInfo> {
    // -U: read the header even while a running QEMU holds the image's lock.
    const { stdout } = await run(this.opts.qemuImg, ['info', '-U', '--output=json', file]);
    const parsed = JSON.parse(stdout) as { format: string; 'virtual-size': number };
    return { format: parsed.format, virtualSize: parsed['virtual-size'] };
  }

  private async ensureFits(grade: string, sizeMiB: number, what: string): Promise<void> {
    const free = await this.freeMiB(grade);
    if (sizeMiB > free) {
      throw new DriverError(`${what} of ${sizeMiB} MiB does not fit in storage grade ${grade} (${free} MiB free)`, 'size');
    }
  }

  /** Create an empty disc. Idempotent: an existing file at least that large is kept. */
  async create(disc: DiscRef): Promise<void> {
    const file = this.path(disc);
    if (fs.existsSync(file)) {
      const { virtualSize } = await this.info(file);
      if (virtualSize >= disc.size * MiB) return;
      throw new DriverError(`disc ${disc.label} already exists with a smaller size`);
    }
    await this.ensureFits(disc.grade, disc.size, `a disc`);
    const tmp = `${file}.new`;
    await run(this.opts.qemuImg, ['create', '-q', '-f', 'qcow2', tmp, `${disc.size}M`]);
    await makePrivate(tmp);
    await fsp.rename(tmp, file);
  }

  /** Grow a disc that no machine is using. */
  async growOffline(disc: DiscRef, newSize: number): Promise<void> {
    const file = this.path(disc);
    if (!fs.existsSync(file)) throw new DriverError(`disc ${disc.label} has no file on this head`);
    const { virtualSize } = await this.info(file);
    if (newSize * MiB < virtualSize) throw new DriverError('discs can only grow', 'size');
    if (newSize * MiB === virtualSize) return;
    await this.ensureFits(disc.grade, newSize - Math.floor(virtualSize / MiB), 'growing the disc');
    await run(this.opts.qemuImg, ['resize', '-q', file, `${newSize}M`]);
  }

  async delete(disc: DiscRef): Promise<void> {
    await fsp.rm(this.path(disc), { force: true });
  }

  /** Replace a disc's content with an image, then size it to the disc (never shrinking the image). */
  async writeImage(disc: DiscRef, source: string, imageName: string): Promise<void> {
    const file = this.path(disc);
    const src = await this.info(source);
    if (src.virtualSize > disc.size * MiB) {
      throw new DriverError(`image ${imageName} needs ${Math.ceil(src.virtualSize / MiB)} MiB; the disc has ${disc.size} MiB`, 'size');
    }
    await mkdirPrivate(path.dirname(file));
    const tmp = `${file}.image`;
    try {
      await run(this.opts.qemuImg, ['convert', '-q', '-f', src.format, '-O', 'qcow2', source, tmp], { timeoutMs: 30 * 60_000 });
      await makePrivate(tmp);
      await run(this.opts.qemuImg, ['resize', '-q', tmp, `${disc.size}M`]);
      await fsp.rename(tmp, file);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  /** Full copy of a disc (not running) into a backup. */
  async backup(disc: DiscRef, backupId: number, opts: { shareLock?: boolean } = {}): Promise<void> {
    const file = this.path(disc);
    if (!fs.existsSync(file)) throw new DriverError(`disc ${disc.label} has no file on this head`);
    await mkdirPrivate(this.opts.backupsDir);
    const target = this.backupPath(backupId);
    const tmp = `${target}.new`;
    try {
      await run(this.opts.qemuImg, ['convert', '-q', ...(opts.shareLock ? ['-U'] : []), '-O', 'qcow2', file, tmp], { timeoutMs: 60 * 60_000 });
      await makePrivate(tmp);
      await fsp.rename(tmp, target);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  async restore(disc: DiscRef, backupId: number): Promise<void> {
    const source = this.backupPath(backupId);
    if (!fs.existsSync(source)) throw new DriverError('no such backup on this head');
    const file = this.path(disc);
    const tmp = `${file}.restore`;
    try {
      await run(this.opts.qemuImg, ['convert', '-q', '-O', 'qcow2', source, tmp], { timeoutMs: 60 * 60_000 });
      await makePrivate(tmp);
      const { virtualSize } = await this.info(tmp);
      if (virtualSize < disc.size * MiB) await run(this.opts.qemuImg, ['resize', '-q', tmp, `${disc.size}M`]);
      await fsp.rename(tmp, file);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  async deleteBackup(backupId: number): Promise<void> {
    await fsp.rm(this.backupPath(backupId), { force: true });
  }

  /** Names of a disc's internal snapshots (from `qemu-img info`, which lists them). */
  async snapshots(disc: DiscRef): Promise<string[]> {
    const file = this.existing(disc);
    const { stdout } = await run(this.opts.qemuImg, ['info', '-U', '--output=json', file]);
    const parsed = JSON.parse(stdout) as { snapshots?: { name: string }[] };
    return (parsed.snapshots ?? []).map((s) => s.name);
  }

  /** `qemu-img snapshot -c/-a/-d` on a disc no machine is using (qemu-img takes the image's lock). */
  async snapshot(disc: DiscRef, act: 'create' | 'apply' | 'delete', name: string): Promise<void> {
    const flag = { create: '-c', apply: '-a', delete: '-d' }[act];
    await run(this.opts.qemuImg, ['snapshot', '-q', flag, name, this.existing(disc)], { timeoutMs: 30 * 60_000 });
  }

  /** A full copy of a disc no machine is using into `target` (0600), at least `sizeMiB` large. */
  async copy(disc: DiscRef, target: string, sizeMiB: number): Promise<void> {
    const tmp = `${target}.copy`;
    try {
      await run(this.opts.qemuImg, ['convert', '-q', '-O', 'qcow2', this.existing(disc), tmp], { timeoutMs: 60 * 60_000 });
      await makePrivate(tmp);
      await this.atLeast(tmp, sizeMiB);
      await fsp.rename(tmp, target);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  /** Grow an image file no machine is using to `sizeMiB` when it is smaller. */
  async atLeast(file: string, sizeMiB: number): Promise<void> {
    if ((await this.info(file)).virtualSize < sizeMiB * MiB) await run(this.opts.qemuImg, ['resize', '-q', file, `${sizeMiB}M`]);
  }

  /** Whether nothing was ever written to the disc (every cluster unallocated, as qemu-img create left it). */
  async blank(disc: DiscRef): Promise<boolean> {
    const { stdout } = await run(this.opts.qemuImg, ['map', '-U', '--output=json', this.existing(disc)]);
    return (JSON.parse(stdout) as { data: boolean }[]).every((e) => !e.data);
  }

  /** Replace a disc no machine is using with an empty ext4 filesystem on the whole disc (no partition
   *  table), labelled `label` (16 characters at most), made with mke2fs on a sparse raw file. */
  async format(disc: DiscRef, label: string, mke2fs = 'mke2fs'): Promise<void> {
    const file = this.existing(disc);
    const raw = `${file}.ext4.raw`;
    const tmp = `${file}.ext4`;
    try {
      await fsp.writeFile(raw, '', { mode: 0o600 });
      await fsp.truncate(raw, (await this.info(file)).virtualSize);
      await run(mke2fs, ['-q', '-F', '-t', 'ext4', '-L', label.slice(0, 16), raw], { timeoutMs: 10 * 60_000 });
      await run(this.opts.qemuImg, ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, tmp], { timeoutMs: 30 * 60_000 });
      await makePrivate(tmp);
      await fsp.rename(tmp, file);
    } finally {
      await fsp.rm(raw, { force: true });
      await fsp.rm(tmp, { force: true });
    }
  }

  private existing(disc: DiscRef): string {
    const file = this.path(disc);
    if (!fs.existsSync(file)) throw new DriverError(`disc ${disc.label} has no file on this head`);
    return file;
  }
}
