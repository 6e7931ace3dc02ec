// QEMU processes: plain child processes (not -daemonize), detached into their own process group so
// they outlive the server; everything about one machine lives in its run directory, so a later
// server finds and adopts it (pid + QMP socket) instead of starting a second copy.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import type { DiscRef } from '../driver.js';
import { run } from './exec.js';

/** Everything in a run directory is the server's alone: the directory is 0700, files and sockets 0600. */
export interface RunDir {
  dir: string;
  qmp: string;
  serial: string;
  consoleLog: string;
  pidfile: string;
  meta: string;
  qemuLog: string;
  configIso: string;
  /** The VNC password, for QEMU to read at its start (removed once it answers QMP). */
  vncSecret: string;
}

/** Unix socket paths are limited to 107 bytes. */
export const MAX_SOCKET_PATH = 107;

export function runDirFor(root: string, vmId: number): RunDir {
  const dir = path.join(root, String(vmId));
  return {
    dir,
    qmp: path.join(dir, 'qmp.sock'),
    serial: path.join(dir, 'serial.sock'),
    consoleLog: path.join(dir, 'console.log'),
    pidfile: path.join(dir, 'qemu.pid'),
    meta: path.join(dir, 'meta.json'),
    qemuLog: path.join(dir, 'qemu.log'),
    configIso: path.join(dir, 'cidata.iso'),
    vncSecret: path.join(dir, 'vnc.secret'),
  };
}

/** What the driver remembers about a running machine, beside it on disk. */
export interface RunMeta {
  vmId: number;
  pid: number;
  name: string;
  startedAt: number;
  taps: string[];
  netns: string | null;
  discs: DiscRef[];
  sshPort: number | null;
  vncPort: number | null;
  /** NIC id → its tap (bridged NICs), for the firewall. */
  nicTaps?: Record<string, string>;
  /** Whether the process was put in its own CPU cgroup (drivers/qemu/limits.ts). */
  cgroup?: boolean;
  /** The NICs the machine has (booted with or hot-plugged), so that none is plugged twice. */
  nicIds?: number[];
}

// The run directory's small files are read and written synchronously: each is a few system calls
// of microseconds, where the thread pool's round trips added milliseconds to every power-on on a
// busy head (bench:power, BENCHMARKS.md).

export function readMeta(file: string): RunMeta | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as RunMeta;
  } catch {
    return null;
  }
}

/** Atomically: a reader (an adopting server) never sees half a file. */
export function writeMeta(file: string, meta: RunMeta): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(meta, null, 1), { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** A run directory made ready for a new QEMU: 0700, the last run's logs kept as `.1`, and an empty
 *  console log that QEMU writes to (0600 whatever QEMU's umask). The last run's sockets, pidfile and
 *  metadata are not removed here: a machine's end removes them (cleanupRun), and after a crash
 *  QEMU replaces stale sockets and its pidfile, and the metadata is written anew after the spawn.
 *  The run before last's logs are unlinked before the rename, not replaced by it: ext4 writes a
 *  file's data out before a rename over another file (auto_da_alloc), ~0.15 ms each on every
 *  power-on's path (bench:power), where an unlink and a rename to a free name cost ~0.01 ms. */
export function prepareRunDir(dirs: RunDir): void {
  fs.mkdirSync(dirs.dir, { recursive: true, mode: 0o700 });
  for (const f of [dirs.qemuLog, dirs.consoleLog]) {
    try {
      fs.unlinkSync(`${f}.1`);
    } catch {
      // none kept yet
    }
    try {
      fs.renameSync(f, `${f}.1`);
    } catch {
      // no earlier run
    }
  }
  fs.closeSync(fs.openSync(dirs.consoleLog, 'w', 0o600));
}

/** The VNC password for QEMU to read as it starts, 0600 in the 0700 run directory; a new file (a
 *  truncation of one left by a crash would cost the same flush as a rename over it, above). */
export function writeVncSecret(dirs: RunDir, password: string): void {
  fs.rmSync(dirs.vncSecret, { force: true });
  fs.writeFileSync(dirs.vncSecret, password, { mode: 0o600, flag: 'wx' });
}

/** VM ids that have a run directory under `root`. */
export async function runDirIds(root: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fsp.readdir(root);
  } catch {
    return [];
  }
  return names.filter((n) => /^\d+$/.test(n)).map(Number);
}

/** Alive and not a zombie (a reparented QEMU can linger as one until init reaps it). */
export function processAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Whether `pid` is the QEMU serving `qmpPath` (guards against a recycled pid). */
export function isQemuFor(pid: number, qmpPath: string): boolean {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes(qmpPath) && processAlive(pid);
  } catch {
    return false;
  }
}

/** CPU time (user + system) of a process in milliseconds, or null when it is gone. */
export function cpuMs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // after ")": state(0) ... utime is field 14 of the whole line, i.e. index 11 here
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLK_TCK;
  } catch {
    return null;
  }
}

/** USER_HZ; 100 on every Linux architecture QEMU hosts run on. */
const CLK_TCK = 100;

export interface SpawnOptions {
  binary: string;
  args: string[];
  netns: string | null;
  logFile: string;
}

/** Start QEMU detached (own process group, output to a file) so it survives the server. */
export function spawnQemu(opts: SpawnOptions): ChildProcess {
  const log = fs.openSync(opts.logFile, 'a', 0o600);
  try {
    const [file, argv] = opts.netns
      ? ['ip', ['netns', 'exec', opts.netns, opts.binary, ...opts.args]]
      : [opts.binary, opts.args];
    const child = spawn(file, argv, { detached: true, stdio: ['ignore', log, log] });
    child.unref();
    return child;
  } finally {
    fs.closeSync(log);
  }
}

export async function lastLines(file: string, n = 5): Promise<string> {
  try {
    const text = await fsp.readFile(file, 'utf8');
    return text.trim().split('\n').slice(-n).join(' | ');
  } catch {
    return '';
  }
}

/** Tap names are at most 15 characters. */
export function tapName(prefix: string, vmId: number, index: number): string {
  const name = `${prefix}${vmId}n${index}`;
  if (name.length > 15) throw new Error(`tap name ${name} is longer than 15 characters`);
  return name;
}

function ip(netns: string | null, args: string[]): string[] {
  return netns ? ['-n', netns, ...args] : args;
}

/** Create a tap (removing a stale one of the same name) and put it on the bridge. */
export async function createTap(name: string, bridge: string, netns: string | null): Promise<void> {
  await deleteTap(name, netns);
  await run('ip', ip(netns, ['tuntap', 'add', 'dev', name, 'mode', 'tap']));
  try {
    await run('ip', ip(netns, ['link', 'set', 'dev', name, 'master', bridge]));
    await run('ip', ip(netns, ['link', 'set', 'dev', name, 'up']));
  } catch (err) {
    await deleteTap(name, netns);
    throw err;
  }
}

export async function deleteTap(name: string, netns: string | null): Promise<void> {
  try {
    await run('ip', ip(netns, ['link', 'del', 'dev', name]));
  } catch {
    // not there: nothing to do
  }
}

/** Byte counters of a tap as the host sees them (host rx = guest tx). */
export async function tapCounters(name: string, netns: string | null): Promise<{ rx: number; tx: number } | null> {
  try {
    const { stdout } = await run('ip', ip(netns, ['-j', '-s', 'link', 'show', 'dev', name]));
    const parsed = JSON.parse(stdout) as { stats64?: { rx: { bytes: number }; tx: { bytes: number } } }[];
    const s = parsed[0]?.stats64;
    return s ? { rx: s.rx.bytes, tx: s.tx.bytes } : null;
  } catch {
    return null;
  }
}
