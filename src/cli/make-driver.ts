// The hypervisor driver `hangar server` (and later `hangar head`) runs its head agent with.
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import type { Logger } from 'pino';
import type { Driver } from '../drivers/driver.js';
import type { UrlPolicy } from '../core/urls.js';
import { STORAGE_GRADES } from '../core/definitions.js';

/** The size of the fake driver's head, from `--fake-cores`, `--fake-memory` and `--fake-grade`. */
export interface FakeHeadSize {
  cores?: number;
  /** MiB */
  memory?: number;
  /** MiB per grade; grades not named keep the fake driver's default space. */
  grades?: Record<string, number>;
}

/** A whole number ≥ 1 (commander parser for the size options). */
export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return n;
}

/** `GRADE=MiB`, or several comma-separated (as HANGAR_FAKE_GRADES holds them), added to `previous`. */
export function gradeSpace(value: string, previous: Record<string, number> | undefined): Record<string, number> {
  const out = { ...previous };
  for (const item of value.split(',').map((v) => v.trim()).filter(Boolean)) {
    const m = /^([a-z]+)=(.+)$/.exec(item);
    if (!m) throw new InvalidArgumentError(`expected GRADE=MiB (e.g. sata=10000000), not "${item}"`);
    if (!(m[1]! in STORAGE_GRADES)) throw new InvalidArgumentError(`unknown storage grade "${m[1]}" (grades: ${Object.keys(STORAGE_GRADES).join(', ')})`);
    out[m[1]!] = positiveInteger(m[2]!);
  }
  return out;
}

export interface MakeDriverOptions {
  /** The server's data dir; the QEMU driver keeps its files under `<dataDir>/qemu`. */
  dataDir: string;
  imagesDir: string;
  log: Logger;
  /** What cdrom_urls may reach beyond the public Internet: the head checks every fetch against it. */
  urls: UrlPolicy;
  /** The fake head's size (ignored by QEMU, whose head reports the host's own). */
  fake?: FakeHeadSize;
}

export async function makeDriver(kind: 'qemu' | 'fake', opts: MakeDriverOptions): Promise<Driver> {
  if (kind === 'fake') {
    const { FakeDriver, FAKE_HEAD } = await import('../drivers/fake/driver.js');
    const size = opts.fake ?? {};
    return new FakeDriver({ cores: size.cores, memory: size.memory, grades: { ...FAKE_HEAD.grades, ...size.grades } });
  }
  const { QemuDriver } = await import('../drivers/qemu/index.js');
  const env = process.env;
  // HANGAR_QEMU_ACCEL=kvm|tcg|auto (default auto: KVM only where it really works);
  // HANGAR_QEMU_RUN_DIR when <dataDir>/qemu/run is too deep for unix socket paths.
  // HANGAR_VNC_HOST: the console address VNC listens on (default 127.0.0.1: not reachable from outside).
  const accel = env.HANGAR_QEMU_ACCEL;
  return new QemuDriver({
    dataDir: path.join(opts.dataDir, 'qemu'),
    imagesDir: opts.imagesDir,
    log: opts.log.child({ driver: 'qemu' }),
    urls: opts.urls,
    ...(env.HANGAR_QEMU_RUN_DIR ? { runDir: env.HANGAR_QEMU_RUN_DIR } : {}),
    ...(env.HANGAR_VNC_HOST ? { vnc: { host: env.HANGAR_VNC_HOST } } : {}),
    ...(accel === 'kvm' || accel === 'tcg' || accel === 'auto' ? { accel } : {}),
  });
}
