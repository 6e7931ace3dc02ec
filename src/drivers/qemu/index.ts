// The QEMU driver: real machines, one QEMU process each, controlled over QMP.
// It knows *how* (spawn, QMP, qemu-img, taps); the head agent decides *what*. What happens to a
// machine comes back as events: `started`, and `stopped` with why (the last SHUTDOWN event QEMU
// sent, or none at all: a crash). Guests run with `-action reboot=shutdown,shutdown=poweroff`, so a
// guest reboot ends the process too (reason guest-reset) and the agent boots it again.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import crypto from 'node:crypto';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { pino, type Logger } from 'pino';
import {
  DriverError, type DiscRef, type Driver, type FirstBoot, type HostFacts, type MachineEvent,
  type LimitsEnforced, type MachineLimits, type MachineSpec, type MachineState, type MachineStats, type NicFirewallSpec,
  type Signal, type StopReason, type NicSpec,
} from '../driver.js';
import { QmpClient, type QmpEvent } from './qmp.js';
import { discNode, qemuArgs, type Accel, type DirectBoot } from './args.js';
import { chooseAccel, toolsProblem, type AccelChoice } from './host.js';
import { DiscStore } from './discs.js';
import { configDriveFiles, writeConfigDrive } from './config-drive.js';
import { fetchCdrom } from './cdrom.js';
import { CLOSED_POLICY, type UrlPolicy } from '../../core/urls.js';
import { loadImage } from './images.js';
import { setExpiringVncPassword, usernetSshPort, VNC_PASSWORD_MAX, vncPort } from './consoles.js';
import { applyNft, removeNft } from './firewall.js';
import { findCpuCgroups, removeCgroup, removeRateLimit, setCpuWeight, setRateLimit, type CpuCgroups } from './limits.js';
import { imageDir, listBuiltImages, MANIFEST_FILE, type Manifest } from '../../images/manifest.js';
import { qcodes } from './keys.js';
import { sample, StatsSeries } from './stats.js';
import { run } from './exec.js';
import { keepTreePrivate, makePrivate, mkdirPrivate } from '../../core/private-files.js';
import {
  createTap, deleteTap, isQemuFor, lastLines, MAX_SOCKET_PATH, processAlive, prepareRunDir, readMeta, runDirFor, runDirIds,
  spawnQemu, tapName, writeMeta, writeVncSecret, type RunDir, type RunMeta,
} from './process.js';

export interface QemuDriverOptions {
  /** Root of the driver's files: run/ (sockets, pids, logs), discs/<grade>/, vms/, backups/, cdroms/. */
  dataDir: string;
  /** Built images: `<imagesDir>/<name>/manifest.json` (docs/config-drive.md). */
  imagesDir: string;
  log?: Logger;
  /** Where run directories go (unix socket paths must stay under 108 bytes). Default `<dataDir>/run`. */
  runDir?: string;
  /** Storage grade → directory. Default sata, ssd and archive under `<dataDir>/discs/`. */
  grades?: Record<string, string>;
  qemuBinary?: string;
  qemuImg?: string;
  genisoimage?: string;
  /** 'auto' uses KVM only where it really works (see host.ts), TCG otherwise. */
  accel?: AccelChoice;
  /** Run machines with a bridged NIC inside this network namespace (their taps are created there). */
  netns?: string | null;
  /** Tap names are `<prefix><vmId>n<index>` (15 characters at most). */
  tapPrefix?: string;
  /** VNC listens on `host`, on the first free display from `display` to `to` (port 5900 + display). */
  vnc?: { host?: string; display?: number; to?: number };
  /** Sampling period of the stats time series; 0 turns sampling off (stats() still samples). */
  statsIntervalMs?: number;
  statsSamples?: number;
  /** How long `stop` lets QEMU quit before SIGKILL. */
  stopTimeoutMs?: number;
  /** How long a new QEMU may take to answer on QMP. */
  qmpTimeoutMs?: number;
  /**
   * A power button pressed while the guest is still booting is lost (nothing listens yet), so a
   * powerdown sent within this long of the start is pressed again every 2 s until the guest goes
   * or this much time has passed since the start. 0 turns it off. Default 90 s.
   */
  powerdownRetryMs?: number;
  /** What cdrom_url may reach beyond the public Internet (src/core/urls.ts). Default: nothing. */
  urls?: UrlPolicy;
  /** The guest's "booted" line on the serial console (docs/config-drive.md); its time is logged. */
  readyMarker?: RegExp;
  /** Where CPU weights go (drivers/qemu/limits.ts); default: found on the host; null: none. */
  cpuCgroups?: CpuCgroups | null;
}

/** How long the steps of the last start took (ms), for logs and measurements; when it spawned QEMU
 *  and saw it run (performance.now(), for bench:power's phases). */
export interface StartTimings { spawnToQmp: number; total: number; spawnedAt: number; runningAt: number }

export interface ConsoleInfo {
  serialSocket: string;
  consoleLog: string;
  vncHost: string;
  vncPort: number | null;
}

interface Machine {
  vmId: number;
  pid: number;
  child: ChildProcess | null;
  qmp: QmpClient | null;
  dirs: RunDir;
  meta: RunMeta;
  /** Reason of the last SHUTDOWN event, if QEMU sent one. */
  shutdownReason: string | null;
  /** We asked it to go (stop): its end is reason `host`. */
  stopping: boolean;
  gone: boolean;
  /** Resolves once the process is gone and cleaned up. */
  ended: Promise<void>;
  markEnded: () => void;
  poll: NodeJS.Timeout | null;
  /** When the guest printed its ready marker (this boot), if seen. */
  readyAt: number | null;
  pressing: boolean;
}

interface StoredFirstBoot { image: string; firstBoot: FirstBoot; at: number }

const MiB = 1024 * 1024;

/** SHUTDOWN reasons (QAPI ShutdownCause) → why the machine stopped, when we did not stop it. */
export function stopReason(shutdownReason: string | null, stopping: boolean): StopReason {
  if (stopping) return 'host';
  switch (shutdownReason) {
    case 'guest-shutdown':
      return 'guest-shutdown';
    case 'guest-reset':
    case 'host-qmp-system-reset': // system_reset under reboot=shutdown ends the process: a reset
      return 'guest-reset';
    default:
      return 'crash'; // no SHUTDOWN (kill -9), a panic, or someone else's quit/signal
  }
}

export class QemuDriver implements Driver {
  readonly kind = 'qemu';
  private readonly log: Logger;
  private readonly events = new EventEmitter<{ event: [MachineEvent] }>();
  private readonly machines = new Map<number, Machine>();
  /** Why each machine last stopped (what status() tells the agent until the next start). */
  private readonly lastStops = new Map<number, StopReason>();
  private readonly locks = new Map<number, Promise<unknown>>();
  /** Run-directory cleanups after an exit, which a new start of the same VM must wait for. */
  private readonly cleanups = new Map<number, Promise<void>>();
  private readonly discStore: DiscStore;
  private readonly series: StatsSeries;
  private readonly runRoot: string;
  private readonly accelDecision: { accel: Accel; reason: string };
  private problem: string | null | undefined;
  private readonly ready: Promise<void>;
  private statsTimer: NodeJS.Timeout | null = null;
  private closed = false;
  readonly tools: { qemu: string; qemuImg: string; genisoimage: string };
  lastStart: StartTimings | null = null;
  private readonly cpuCgroups: CpuCgroups | null;

  constructor(private readonly opts: QemuDriverOptions) {
    this.log = opts.log ?? pino({ level: 'silent' });
    this.runRoot = opts.runDir ?? path.join(opts.dataDir, 'run');
    const grades = opts.grades ?? Object.fromEntries(['sata', 'ssd', 'archive'].map((g) => [g, path.join(opts.dataDir, 'discs', g)]));
    this.tools = {
      qemu: opts.qemuBinary ?? 'qemu-system-x86_64',
      qemuImg: opts.qemuImg ?? 'qemu-img',
      genisoimage: opts.genisoimage ?? 'genisoimage',
    };
    this.discStore = new DiscStore({ grades, backupsDir: path.join(opts.dataDir, 'backups'), qemuImg: this.tools.qemuImg });
    this.series = new StatsSeries(opts.statsSamples ?? 360);
    this.accelDecision = chooseAccel(opts.accel ?? 'auto');
    this.cpuCgroups = opts.cpuCgroups === undefined ? findCpuCgroups() : opts.cpuCgroups;
    this.ready = this.init();
    this.ready.catch(() => undefined);
  }

  get accel(): Accel {
    return this.accelDecision.accel;
  }

  private async init(): Promise<void> {
    this.log.info({ accel: this.accelDecision.accel, why: this.accelDecision.reason }, 'QEMU acceleration');
    // Guests' discs, their config drives and consoles are the server's alone: the driver's
    // directories are made 0700, and anything looser found in them (an older Hangar) is tightened.
    const dirs = [this.opts.dataDir, this.runRoot, ...this.discStore.grades.map((g) => this.discStore.gradeDir(g))];
    for (const dir of [...dirs, ...['backups', 'vms', 'cdroms'].map((d) => path.join(this.opts.dataDir, d))]) await mkdirPrivate(dir);
    for (const dir of dirs) keepTreePrivate(dir, this.log);
    for (const id of await runDirIds(this.runRoot)) {
      await this.withLock(id, () => this.adopt(id));
    }
    const every = this.opts.statsIntervalMs ?? 10_000;
    if (every > 0 && !this.closed) {
      this.statsTimer = setInterval(() => void this.sampleAll(), every);
      this.statsTimer.unref();
    }
  }

  private withLock<T>(vmId: number, work: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(vmId) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(work);
    this.locks.set(vmId, next);
    const release = (): void => {
      if (this.locks.get(vmId) === next) this.locks.delete(vmId);
    };
    next.then(release, release);
    return next;
  }

  private emit(event: MachineEvent): void {
    if (this.closed) return;
    setImmediate(() => this.events.emit('event', event));
  }

  private state(vmId: number): MachineState {
    const m = this.machines.get(vmId);
    if (!m || m.gone) return { vmId, state: 'stopped', pid: null, sshPort: null, vncPort: null, lastStop: this.lastStops.get(vmId) ?? null };
    return { vmId, state: 'running', pid: m.pid, sshPort: m.meta.sshPort, vncPort: m.meta.vncPort, lastStop: null };
  }

  // ---- host facts

  async probe(): Promise<HostFacts> {
    await this.ready;
    const problem = await this.toolsProblem();
    const grades: Record<string, number> = {};
    for (const grade of this.discStore.grades) {
      try {
        grades[grade] = await this.discStore.freeMiB(grade);
      } catch {
        grades[grade] = 0;
      }
    }
    return {
      driver: 'qemu', accel: this.accelDecision.accel, cores: os.cpus().length,
      memory: Math.floor(os.totalmem() / MiB), grades, problem, consoleAddress: this.opts.vnc?.host ?? '127.0.0.1',
      cpuWeight: this.cpuCgroups !== null,
    };
  }

  async listImages(): Promise<string[]> {
    return (await listBuiltImages(this.opts.imagesDir)).map((m) => m.name);
  }

  private async toolsProblem(): Promise<string | null> {
    if (this.problem === undefined) this.problem = await toolsProblem(this.tools);
    return this.problem;
  }

  // ---- machines

  async list(): Promise<MachineState[]> {
    await this.ready;
    // Machines another driver instance started meanwhile (same data dir) are adopted too.
    for (const id of await runDirIds(this.runRoot)) {
      if (!this.machines.has(id) && !this.locks.has(id)) await this.withLock(id, () => this.adopt(id));
    }
    return [...this.machines.values()].filter((m) => !m.gone).map((m) => this.state(m.vmId));
  }

  async status(vmId: number): Promise<MachineState> {
    await this.ready;
    return this.state(vmId);
  }

  onEvent(listener: (event: MachineEvent) => void): void {
    this.events.on('event', listener);
  }

  /** Paths and ports of a machine's consoles (the serial socket exists only while it runs). */
  consoles(vmId: number): ConsoleInfo {
    const dirs = runDirFor(this.runRoot, vmId);
    return {
      serialSocket: dirs.serial, consoleLog: dirs.consoleLog,
      vncHost: this.opts.vnc?.host ?? '127.0.0.1', vncPort: this.machines.get(vmId)?.meta.vncPort ?? null,
    };
  }

  /** Adopt a QEMU left running by an earlier driver, or clean up after one that is gone. */
  private async adopt(vmId: number): Promise<Machine | null> {
    const existing = this.machines.get(vmId);
    if (existing && !existing.gone) return existing;
    await this.cleanups.get(vmId);
    const dirs = runDirFor(this.runRoot, vmId);
    const meta = readMeta(dirs.meta);
    if (!meta) return null;
    let pidText = '';
    try {
      pidText = fs.readFileSync(dirs.pidfile, 'utf8');
    } catch {
      // QEMU had not written it yet: the metadata's pid
    }
    const pid = Number(pidText.trim()) || meta.pid || 0;
    if (!pid || !isQemuFor(pid, dirs.qmp)) {
      await this.cleanupRun(dirs, meta);
      return null;
    }
    meta.pid = pid;
    const m = this.track(vmId, pid, null, dirs, meta);
    try {
      m.qmp = await QmpClient.connect(dirs.qmp, { timeoutMs: 3000, greetingTimeoutMs: 2000, abort: () => (m.gone ? 'exited' : null) });
      this.attachQmp(m, m.qmp);
      const status = await m.qmp.execute<{ status: string }>('query-status');
      if (status.status === 'prelaunch') {
        // A start cut short between spawn and `cont`: no guest ran yet, and what the start would have
        // done next (ports, the password file's removal) is not known here: it is ended (its run
        // files with it) and the agent starts it anew.
        m.stopping = true;
        await m.qmp.execute('quit').catch(() => undefined);
        await Promise.race([m.ended, sleep(5000)]);
        if (!m.gone) {
          try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
          await this.onGone(m);
        }
        return null;
      }
      if (status.status === 'paused') await m.qmp.execute('cont');
      meta.vncPort = await vncPort(m.qmp).catch(() => meta.vncPort);
      if (meta.sshPort !== null) meta.sshPort = (await usernetSshPort(m.qmp).catch(() => null)) ?? (meta.sshPort || null);
      writeMeta(dirs.meta, meta);
    } catch (err) {
      this.log.warn({ vmId, pid, err: (err as Error).message }, 'adopted QEMU without QMP control');
    }
    if (!m.gone) this.log.info({ vmId, pid }, 'adopted running QEMU');
    return m.gone ? null : m;
  }

  /** Start following a machine's process: exit, QMP events, periodic liveness. */
  private track(vmId: number, pid: number, child: ChildProcess | null, dirs: RunDir, meta: RunMeta): Machine {
    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => { markEnded = resolve; });
    const m: Machine = {
      vmId, pid, child, qmp: null, dirs, meta, shutdownReason: null, stopping: false, gone: false, ended, markEnded, poll: null,
      readyAt: null, pressing: false,
    };
    this.machines.set(vmId, m);
    child?.once('exit', () => void this.onGone(m));
    m.poll = setInterval(() => {
      if (!processAlive(pid)) void this.onGone(m);
    }, 1000);
    m.poll.unref();
    return m;
  }

  private attachQmp(m: Machine, qmp: QmpClient): void {
    qmp.on('event', (e: QmpEvent) => {
      if (e.event === 'SHUTDOWN') m.shutdownReason = String(e.data.reason ?? '');
      this.log.debug({ vmId: m.vmId, event: e.event, data: e.data }, 'qmp event');
    });
    qmp.on('close', () => {
      if (m.qmp === qmp) m.qmp = null;
      if (this.closed || m.gone) return;
      // The monitor closes when QEMU exits; watch closely until the process is really gone.
      void this.watchExit(m);
    });
  }

  private async watchExit(m: Machine): Promise<void> {
    for (let i = 0; i < 200 && !m.gone && !this.closed; i++) {
      if (!processAlive(m.pid)) {
        await this.onGone(m);
        return;
      }
      await sleep(25);
    }
    if (m.gone || this.closed) return;
    // Still alive with its monitor closed (unusual): try to get control back.
    try {
      const qmp = await QmpClient.connect(m.dirs.qmp, { timeoutMs: 2000, abort: () => (m.gone ? 'exited' : null) });
      m.qmp = qmp;
      this.attachQmp(m, qmp);
    } catch (err) {
      this.log.warn({ vmId: m.vmId, err: (err as Error).message }, 'QMP reconnect failed; following the pid');
    }
  }

  private async onGone(m: Machine): Promise<void> {
    if (m.gone) return;
    m.gone = true;
    if (m.poll) clearInterval(m.poll);
    m.qmp?.close();
    m.qmp = null;
    if (this.machines.get(m.vmId) === m) this.machines.delete(m.vmId);
    if (this.closed) {
      m.markEnded();
      return;
    }
    const reason = stopReason(m.shutdownReason, m.stopping);
    this.lastStops.set(m.vmId, reason);
    this.log.info({ vmId: m.vmId, pid: m.pid, reason, shutdown: m.shutdownReason }, 'QEMU exited');
    const cleanup = this.cleanupRun(m.dirs, m.meta);
    this.cleanups.set(m.vmId, cleanup);
    try {
      await cleanup;
    } finally {
      if (this.cleanups.get(m.vmId) === cleanup) this.cleanups.delete(m.vmId);
      this.series.drop(m.vmId);
      m.markEnded();
      this.emit({ vmId: m.vmId, kind: 'stopped', reason });
    }
  }

  private async cleanupRun(dirs: RunDir, meta: RunMeta): Promise<void> {
    for (const tap of Object.values(meta.nicTaps ?? {})) {
      await removeNft(tap, meta.netns);
      await removeRateLimit(tap, meta.netns);
    }
    if (meta.cgroup && this.cpuCgroups) await removeCgroup(this.cpuCgroups, meta.vmId);
    for (const tap of meta.taps) await deleteTap(tap, meta.netns);
    for (const f of [dirs.meta, dirs.pidfile, dirs.qmp, dirs.serial, dirs.vncSecret]) await fsp.rm(f, { force: true });
  }

  async start(spec: MachineSpec): Promise<MachineState> {
    await this.ready;
    return this.withLock(spec.vmId, async () => {
      const existing = this.machines.get(spec.vmId) ?? (await this.adopt(spec.vmId));
      if (existing && !existing.gone) return this.state(spec.vmId);
      this.lastStops.delete(spec.vmId);
      const problem = await this.toolsProblem();
      if (problem) throw new DriverError(problem);
      try {
        return await this.spawn(spec);
      } catch (err) {
        // A remembered SSH port may have been taken meanwhile: let the host pick another.
        const nic = spec.nics[0];
        if (nic?.network.mode === 'user' && nic.network.sshPort !== 0 && /host ?forward/i.test((err as Error).message)) {
          this.log.warn({ vmId: spec.vmId, port: nic.network.sshPort }, 'SSH forward port taken; picking another');
          const again = { ...spec, nics: spec.nics.map((n, i) => (i === 0 ? { ...n, network: { mode: 'user' as const, sshPort: 0 } } : n)) };
          return this.spawn(again);
        }
        throw err;
      }
    });
  }

  private async prepareBoot(spec: MachineSpec): Promise<{ boot: DirectBoot | null; firstBoot: FirstBoot | null }> {
    const stored = this.readFirstBoot(spec.vmId);
    const imageName = spec.image ?? stored?.image ?? null;
    const boot = imageName ? (await loadImage(this.opts.imagesDir, imageName)).boot : null;
    return { boot, firstBoot: stored?.firstBoot ?? null };
  }

  private async spawn(spec: MachineSpec): Promise<MachineState> {
    const t0 = performance.now();
    const dirs = runDirFor(this.runRoot, spec.vmId);
    for (const p of [dirs.qmp, dirs.serial]) {
      if (Buffer.byteLength(p) > MAX_SOCKET_PATH) {
        throw new DriverError(`run directory path too long for a unix socket (${p}); configure a shorter runDir`);
      }
    }
    for (const nic of spec.nics) {
      if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(nic.mac)) throw new DriverError(`NIC ${nic.id} has an invalid MAC ${nic.mac}`);
    }
    const discs = spec.discs.map((disc) => ({ disc, file: this.discStore.path(disc) }));
    for (const d of discs) {
      if (!fs.existsSync(d.file)) throw new DriverError(`disc ${d.disc.label} has no file on this head (${d.file})`);
    }
    const { boot: imageBoot, firstBoot } = await this.prepareBoot(spec);
    const cdrom = spec.cdromUrl ? await this.cdromFile(spec.cdromUrl) : null;
    // Booting the CD goes through the firmware: the image's direct kernel would skip it.
    const boot = spec.bootFrom === 'cdrom' && cdrom !== null ? null : imageBoot;

    prepareRunDir(dirs);
    writeVncSecret(dirs, spec.vncPassword.slice(0, VNC_PASSWORD_MAX));
    await writeConfigDrive(dirs.configIso, configDriveFiles(spec, firstBoot), this.tools.genisoimage);

    const bridged = spec.nics.some((n) => n.network.mode === 'bridge');
    const netns = bridged ? this.opts.netns ?? null : null;
    const taps: (string | null)[] = [];
    const meta: RunMeta = {
      vmId: spec.vmId, pid: 0, name: spec.name, startedAt: Date.now(), taps: [], netns, discs: spec.discs,
      sshPort: null, vncPort: null, nicIds: spec.nics.map((n) => n.id),
    };
    let child: ChildProcess | null = null;
    let m: Machine | null = null;
    try {
      for (const [i, nic] of spec.nics.entries()) {
        if (nic.network.mode !== 'bridge') { taps.push(null); continue; }
        const tap = tapName(this.opts.tapPrefix ?? 'hg', spec.vmId, i);
        await createTap(tap, nic.network.bridge, netns);
        taps.push(tap);
        meta.taps.push(tap);
        (meta.nicTaps ??= {})[nic.id] = tap;
      }
      // The firewall and rate limits are in place before the guest runs a single instruction.
      await this.firewallOn(meta, spec.firewall ?? []);
      for (const nic of spec.nics) {
        const tap = meta.nicTaps?.[nic.id];
        if (tap && nic.rateLimitMbps) await setRateLimit(tap, nic.rateLimitMbps, netns);
      }
      const vnc = this.opts.vnc ?? {};
      const args = qemuArgs({
        spec, accel: this.accelDecision.accel, paths: dirs, discs, configDrive: dirs.configIso, cdrom, boot, taps,
        vnc: { host: vnc.host ?? '127.0.0.1', display: vnc.display ?? 0, to: vnc.to ?? 1000 },
      });
      this.log.debug({ vmId: spec.vmId, args }, 'starting QEMU');
      const tSpawn = performance.now();
      child = spawnQemu({ binary: this.tools.qemu, args, netns, logFile: dirs.qemuLog });
      let exited: string | null = null;
      child.once('exit', (code, signal) => { exited = `QEMU exited (${signal ?? code})`; });
      child.once('error', (err) => { exited = `QEMU could not run: ${err.message}`; });
      const pid = child.pid;
      if (pid === undefined) {
        await sleep(10);
        throw new Error(exited ?? 'QEMU did not start');
      }
      meta.pid = pid;
      const nic = spec.nics[0]?.network;
      // Written once, within QEMU's own start (tens of ms), with what adoption needs: its CPU weight
      // is set first (a file write, before the guest runs); an SSH port of 0 (QEMU picks one) and
      // the VNC port QEMU picks are asked of QEMU again on adoption.
      if (spec.cpuWeight != null) meta.cgroup = await this.weigh(spec.vmId, pid, spec.cpuWeight);
      if (nic?.mode === 'user') meta.sshPort = nic.sshPort;
      writeMeta(dirs.meta, meta);
      m = this.track(spec.vmId, pid, child, dirs, meta);
      const qmp = await QmpClient.open(dirs.qmp, { timeoutMs: this.opts.qmpTimeoutMs ?? 10_000, abort: () => exited });
      m.qmp = qmp;
      this.attachQmp(m, qmp);
      let tQmp = NaN;
      // The monitor answers in order, once QEMU's main loop runs: all of this goes out behind the
      // negotiation (no round trip between them; bench:power). QEMU read the VNC password from its
      // file before its monitor answered: the file goes. The SSH forward is asked for only when QEMU
      // picked its port (a first start). QEMU made its sockets with its umask (all chardevs exist
      // once QMP answers); they are made private like the rest meanwhile. Its pidfile it makes 0600
      // itself.
      const askSsh = nic?.mode === 'user' && nic.sshPort === 0;
      const [, port, sshPort] = await Promise.all([
        qmp.negotiated.then(() => { tQmp = performance.now(); return fsp.rm(dirs.vncSecret, { force: true }); }),
        vncPort(qmp), askSsh ? usernetSshPort(qmp) : null, qmp.execute('cont'),
        ...[dirs.qmp, dirs.serial].map((f) => makePrivate(f)),
      ]);
      meta.vncPort = port;
      if (nic?.mode === 'user' && askSsh) meta.sshPort = sshPort;
      meta.startedAt = Date.now();
      this.watchReady(m);
      const tRunning = performance.now();
      this.lastStart = { spawnToQmp: tQmp - tSpawn, total: tRunning - t0, spawnedAt: tSpawn, runningAt: tRunning };
      this.log.info({ vmId: spec.vmId, pid, spawnToQmp: Math.round(tQmp - tSpawn), total: Math.round(tRunning - t0), accel: this.accel, sshPort: meta.sshPort, vncPort: meta.vncPort }, 'QEMU started');
      this.emit({ vmId: spec.vmId, kind: 'started', pid });
      return this.state(spec.vmId);
    } catch (err) {
      // Leave nothing behind: no process, no taps, no run files; say what QEMU said.
      if (m) m.stopping = true;
      if (child?.pid !== undefined && processAlive(child.pid)) {
        try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      }
      if (m) {
        await Promise.race([m.ended, sleep(5000)]);
        if (!m.gone) await this.onGone(m);
      } else {
        await this.cleanupRun(dirs, meta);
      }
      if (err instanceof DriverError) throw err;
      const said = await lastLines(dirs.qemuLog, 3);
      throw new DriverError(`QEMU failed to start: ${(err as Error).message}${said ? ` (${said})` : ''}`);
    }
  }

  async stop(vmId: number): Promise<void> {
    await this.ready;
    await this.withLock(vmId, async () => {
      const m = this.machines.get(vmId);
      if (!m || m.gone) return;
      m.stopping = true;
      const timeout = this.opts.stopTimeoutMs ?? 5000;
      if (m.qmp) {
        try {
          await m.qmp.execute('quit', undefined, timeout);
        } catch {
          // closed under us as it exits, or not answering: the wait below decides
        }
      } else {
        try { process.kill(m.pid, 'SIGTERM'); } catch { /* gone */ }
      }
      const quit = await Promise.race([m.ended.then(() => true), sleep(timeout).then(() => false)]);
      if (!quit) {
        this.log.warn({ vmId, pid: m.pid }, 'QEMU did not quit; killing it');
        try { process.kill(m.pid, 'SIGKILL'); } catch { /* gone */ }
        for (let i = 0; i < 200 && processAlive(m.pid); i++) await sleep(25);
        await this.onGone(m);
      }
      await m.ended;
    });
  }

  async signal(vmId: number, signal: Signal): Promise<void> {
    await this.ready;
    const m = this.machines.get(vmId);
    if (!m || m.gone) throw new DriverError('the machine is not running');
    if (!m.qmp) throw new DriverError('the machine is running but its monitor is not reachable');
    switch (signal.kind) {
      case 'powerdown':
        await m.qmp.execute('system_powerdown');
        this.pressAgainWhileBooting(m);
        return;
      case 'reset':
        await m.qmp.execute('system_reset');
        return;
      case 'nmi':
        await m.qmp.execute('inject-nmi');
        return;
      case 'sendkey': {
        const keys = qcodes(signal.keys).map((data) => ({ type: 'qcode', data }));
        await m.qmp.execute('send-key', { keys, 'hold-time': 100 });
        return;
      }
    }
  }

  async acpiShutdown(vmId: number, timeoutMs: number): Promise<boolean> {
    await this.ready;
    const m = this.machines.get(vmId);
    if (!m || m.gone) return true;
    await this.signal(vmId, { kind: 'powerdown' });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs); });
    const halted = await Promise.race([m.ended.then(() => true as const), late]);
    clearTimeout(timer);
    return halted;
  }

  async reset(vmId: number): Promise<void> {
    await this.ready;
    const m = this.machines.get(vmId);
    if (!m || m.gone) return;
    if (!m.qmp) throw new DriverError('the machine is running but its monitor is not reachable');
    await m.qmp.execute('system_reset');
    // reboot=shutdown: QEMU exits on the reset (host-qmp-system-reset). If it does not, it is stopped.
    const timeout = this.opts.stopTimeoutMs ?? 5000;
    const gone = await Promise.race([m.ended.then(() => true), sleep(timeout).then(() => false)]);
    if (!gone) await this.stop(vmId);
  }

  private pressAgainWhileBooting(m: Machine): void {
    const window = this.opts.powerdownRetryMs ?? 90_000;
    if (m.pressing || window <= 0 || m.readyAt !== null || Date.now() - m.meta.startedAt > window) return;
    m.pressing = true;
    void (async () => {
      while (!m.gone && !this.closed && m.readyAt === null && Date.now() - m.meta.startedAt < window) {
        await sleep(2000);
        if (m.gone || this.closed || m.stopping) break;
        await m.qmp?.execute('system_powerdown').catch(() => undefined);
      }
      m.pressing = false;
    })();
  }

  /** Follow the console log of a fresh boot until the guest says it is ready; log how long it took. */
  private watchReady(m: Machine): void {
    const marker = this.opts.readyMarker ?? /HANGAR-READY/;
    void (async () => {
      let offset = 0;
      let tail = '';
      while (!m.gone && !this.closed && Date.now() - m.meta.startedAt < 15 * 60_000) {
        await sleep(250);
        try {
          const fh = await fsp.open(m.dirs.consoleLog, 'r');
          try {
            const { size } = await fh.stat();
            if (size > offset) {
              const buf = Buffer.alloc(size - offset);
              await fh.read(buf, 0, buf.length, offset);
              offset = size;
              tail = (tail + buf.toString('latin1')).slice(-4096);
            }
          } finally {
            await fh.close();
          }
        } catch {
          continue;
        }
        if (marker.test(tail)) {
          m.readyAt = Date.now();
          this.log.info({ vmId: m.vmId, bootMs: m.readyAt - m.meta.startedAt }, 'guest ready');
          return;
        }
      }
    })();
  }

  /** When the guest of a running machine said it was ready (null while booting, or if it never says). */
  readyAt(vmId: number): number | null {
    return this.machines.get(vmId)?.readyAt ?? null;
  }

  // ---- discs and images

  async createDisc(disc: DiscRef): Promise<void> {
    await this.discStore.create(disc);
  }

  async growDisc(disc: DiscRef, newSize: number, running: boolean): Promise<void> {
    await this.ready;
    const m = this.machineOf(disc);
    const live = m && !m.gone && m.meta.discs.some((d) => d.id === disc.id);
    if (!live) {
      if (running && m === undefined) this.log.debug({ disc: disc.id }, 'machine not running here; growing offline');
      await this.discStore.growOffline(disc, newSize);
      return;
    }
    if (!m.qmp) throw new DriverError('the machine is running but its monitor is not reachable');
    const { virtualSize } = await this.discStore.info(this.discStore.path(disc));
    if (newSize * MiB < virtualSize) throw new DriverError('discs can only grow', 'size');
    const free = await this.discStore.freeMiB(disc.grade);
    if (newSize - virtualSize / MiB > free) {
      throw new DriverError(`growing the disc by ${newSize - virtualSize / MiB} MiB does not fit in storage grade ${disc.grade} (${free} MiB free)`, 'size');
    }
    await m.qmp.execute('block_resize', { 'node-name': discNode(disc), size: newSize * MiB });
    const d = m.meta.discs.find((x) => x.id === disc.id);
    if (d) d.size = newSize;
    writeMeta(m.dirs.meta, m.meta);
  }

  async deleteDisc(disc: DiscRef): Promise<void> {
    await this.ready;
    const m = this.machineOf(disc);
    if (m && !m.gone && m.meta.discs.some((d) => d.id === disc.id)) {
      throw new DriverError('cannot delete the disc of a running machine; power it off first');
    }
    await this.discStore.delete(disc);
  }

  private firstBootFile(vmId: number): string {
    return path.join(this.opts.dataDir, 'vms', String(vmId), 'firstboot.json');
  }

  /** Read synchronously, as the run directory's files are (process.ts): it is on every power-on's path. */
  private readFirstBoot(vmId: number): StoredFirstBoot | null {
    try {
      return JSON.parse(fs.readFileSync(this.firstBootFile(vmId), 'utf8')) as StoredFirstBoot;
    } catch {
      return null;
    }
  }

  async reimage(vmId: number, disc: DiscRef, image: string, firstBoot: FirstBoot): Promise<void> {
    await this.ready;
    const m = this.machines.get(vmId);
    if (m && !m.gone) throw new DriverError('cannot reimage a running machine');
    const img = await loadImage(this.opts.imagesDir, image);
    await this.discStore.writeImage(disc, img.disc, img.name);
    const file = this.firstBootFile(vmId);
    await mkdirPrivate(path.dirname(file));
    const stored: StoredFirstBoot = { image: img.name, firstBoot, at: Date.now() };
    await fsp.writeFile(`${file}.tmp`, JSON.stringify(stored), { mode: 0o600 });
    await fsp.rename(`${file}.tmp`, file);
  }

  async backupDisc(disc: DiscRef, backupId: number): Promise<void> {
    await this.ready;
    const m = this.machineOf(disc);
    if (m && !m.gone && m.qmp && m.meta.discs.some((d) => d.id === disc.id)) {
      await this.liveBackup(m.qmp, disc, backupId);
      return;
    }
    await this.discStore.backup(disc, backupId);
  }

  /** Consistent copy of a disc in use, with a QMP backup job. */
  private async liveBackup(qmp: QmpClient, disc: DiscRef, backupId: number): Promise<void> {
    await this.liveCopy(qmp, disc, this.discStore.backupPath(backupId));
  }

  /** Consistent full copy of a disc in use into `target` (qcow2), with a QMP backup job. */
  private async liveCopy(qmp: QmpClient, disc: DiscRef, target: string): Promise<void> {
    await mkdirPrivate(path.dirname(target));
    const tmp = `${target}.new`;
    const { virtualSize } = await this.discStore.info(this.discStore.path(disc));
    await run(this.tools.qemuImg, ['create', '-q', '-f', 'qcow2', tmp, String(virtualSize)]);
    await makePrivate(tmp);
    const node = `copy${crypto.randomBytes(4).toString('hex')}`;
    try {
      await qmp.execute('blockdev-add', { driver: 'qcow2', 'node-name': node, file: { driver: 'file', filename: tmp } });
      const done = qmp.waitEvent('BLOCK_JOB_COMPLETED', 60 * 60_000, (e) => e.data.device === node);
      await qmp.execute('blockdev-backup', { 'job-id': node, device: discNode(disc), target: node, sync: 'full' });
      const e = await done;
      if (e.data.error) throw new DriverError(`backup failed: ${String(e.data.error)}`);
      await qmp.execute('blockdev-del', { 'node-name': node });
      await fsp.rename(tmp, target);
    } catch (err) {
      await qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  async restoreDisc(disc: DiscRef, backupId: number): Promise<void> {
    await this.ready;
    const m = this.machineOf(disc);
    if (m && !m.gone) throw new DriverError('cannot restore onto the disc of a running machine');
    await this.discStore.restore(disc, backupId);
  }

  async deleteBackup(_disc: DiscRef, backupId: number): Promise<void> {
    await this.discStore.deleteBackup(backupId);
  }

  // ---- snapshots: qcow2 internal snapshots of a stopped machine's discs (live ones, QMP snapshot-save, are later)

  private async offline(discs: DiscRef[]): Promise<void> {
    await this.ready;
    for (const disc of discs) {
      const m = this.machineOf(disc);
      if (m && !m.gone) throw new DriverError('the machine is running; power it off to snapshot it');
    }
  }

  async createSnapshot(discs: DiscRef[], name: string): Promise<void> {
    await this.offline(discs);
    const taken: DiscRef[] = [];
    try {
      for (const disc of discs) {
        if ((await this.discStore.snapshots(disc)).includes(name)) continue;
        await this.discStore.snapshot(disc, 'create', name);
        taken.push(disc);
      }
    } catch (err) {
      // All discs or none: a snapshot of some discs only would restore an inconsistent machine.
      for (const disc of taken) await this.discStore.snapshot(disc, 'delete', name).catch(() => undefined);
      throw err;
    }
  }

  async restoreSnapshot(discs: DiscRef[], name: string): Promise<void> {
    await this.offline(discs);
    for (const disc of discs) {
      if (!(await this.discStore.snapshots(disc)).includes(name)) throw new DriverError(`disc ${disc.label} has no snapshot ${name}`);
    }
    for (const disc of discs) await this.discStore.snapshot(disc, 'apply', name);
  }

  async deleteSnapshot(discs: DiscRef[], name: string): Promise<void> {
    await this.offline(discs);
    for (const disc of discs) {
      if ((await this.discStore.snapshots(disc)).includes(name)) await this.discStore.snapshot(disc, 'delete', name);
    }
  }

  // ---- firewall, remote console, root password

  private async firewallOn(meta: RunMeta, nics: NicFirewallSpec[]): Promise<boolean> {
    const taps = meta.nicTaps ?? {};
    if (Object.keys(taps).length === 0) return false;
    for (const [nicId, tap] of Object.entries(taps)) {
      // A NIC without rules gets an accepting table: any earlier rules of that NIC are replaced.
      const fw = nics.find((n) => String(n.nicId) === nicId) ?? { nicId: Number(nicId), defaultPolicy: 'accept' as const, rules: [] };
      await applyNft(tap, fw, meta.netns);
    }
    return true;
  }

  async applyFirewall(vmId: number, nics: NicFirewallSpec[]): Promise<boolean> {
    await this.ready;
    return this.withLock(vmId, async () => {
      const m = this.machines.get(vmId);
      if (!m || m.gone) return false;
      return this.firewallOn(m.meta, nics);
    });
  }

  async openConsole(vmId: number, password: string, expiresAt: number): Promise<{ port: number }> {
    await this.ready;
    const m = this.machines.get(vmId);
    if (!m || m.gone) throw new DriverError('the machine is not running');
    if (!m.qmp) throw new DriverError('the machine is running but its monitor is not reachable');
    await setExpiringVncPassword(m.qmp, password, expiresAt);
    const port = m.meta.vncPort ?? (await vncPort(m.qmp));
    if (port === null) throw new DriverError('the machine has no VNC console');
    return { port };
  }

  async setRootPassword(vmId: number, rootPasswordHash: string): Promise<void> {
    await this.ready;
    const stored = this.readFirstBoot(vmId);
    if (!stored) throw new DriverError('the machine has never been imaged on this head: there is no system to set a password in');
    // A new instance of the config drive (the guest applies identity once per instance-id), carrying
    // the identity only: the firstboot script ran with the image and must not run again.
    const firstBoot: FirstBoot = {
      ...stored.firstBoot, rootPasswordHash, firstbootScript: '',
      instanceId: `${stored.firstBoot.instanceId.replace(/-pw\d+$/, '')}-pw${Date.now()}`,
    };
    const file = this.firstBootFile(vmId);
    await fsp.writeFile(`${file}.tmp`, JSON.stringify({ ...stored, firstBoot }), { mode: 0o600 });
    await fsp.rename(`${file}.tmp`, file);
  }

  /** Put the machine's process in its CPU cgroup with `weight`; whether the host let it. */
  private async weigh(vmId: number, pid: number, weight: number | null): Promise<boolean> {
    if (!this.cpuCgroups) return false;
    try {
      await setCpuWeight(this.cpuCgroups, vmId, pid, weight);
      return true;
    } catch (err) {
      this.log.warn({ vmId, err: (err as Error).message }, 'CPU weight not set: the cgroup refused it');
      return false;
    }
  }

  async applyLimits(vmId: number, limits: MachineLimits): Promise<LimitsEnforced> {
    await this.ready;
    return this.withLock(vmId, async () => {
      const m = this.machines.get(vmId);
      if (!m || m.gone) return { cpuWeight: false, rateLimit: false };
      const cpuWeight = await this.weigh(vmId, m.pid, limits.cpuWeight);
      if (cpuWeight && !m.meta.cgroup) {
        m.meta.cgroup = true;
        writeMeta(m.dirs.meta, m.meta);
      }
      const taps = m.meta.nicTaps ?? {};
      for (const nic of limits.nics) {
        const tap = taps[nic.nicId];
        if (tap) await setRateLimit(tap, nic.rateLimitMbps, m.meta.netns);
      }
      return { cpuWeight, rateLimit: Object.keys(taps).length > 0 };
    });
  }

  // ---- clones, templates, discs applied, the CD drive, the config drive (docs/vm-ops.md)

  private cdromFile(url: string): Promise<string> {
    return fetchCdrom(url, { cacheDir: path.join(this.opts.dataDir, 'cdroms'), urls: this.opts.urls ?? CLOSED_POLICY });
  }

  /** The running machine whose monitor holds this disc, if any. */
  /** The machine a disc is on (none for a volume with no VM). */
  private machineOf(disc: DiscRef): Machine | undefined {
    return disc.vmId === null ? undefined : this.machines.get(disc.vmId);
  }

  private using(disc: DiscRef): (Machine & { qmp: QmpClient }) | null {
    const m = this.machineOf(disc);
    return m && !m.gone && m.qmp && m.meta.discs.some((d) => d.id === disc.id) ? m as Machine & { qmp: QmpClient } : null;
  }

  /** A full copy of a disc into `target` (live when its machine runs), at least `sizeMiB` large. */
  private async copyDisc(disc: DiscRef, target: string, sizeMiB: number): Promise<void> {
    const m = this.using(disc);
    if (!m) return this.discStore.copy(disc, target, sizeMiB);
    const tmp = `${target}.live`;
    try {
      await this.liveCopy(m.qmp, disc, tmp);
      await this.discStore.atLeast(tmp, sizeMiB);
      await fsp.rename(tmp, target);
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  async cloneMachine(sourceVmId: number, pairs: { from: DiscRef; to: DiscRef }[], instanceId: string): Promise<void> {
    await this.ready;
    for (const { to } of pairs) {
      const m = this.machineOf(to);
      if (m && !m.gone) throw new DriverError('cannot clone onto a running machine');
    }
    // Full qcow2 copies (no backing file): the clone shares no cluster with its source.
    for (const { from, to } of pairs) {
      await mkdirPrivate(this.discStore.gradeDir(to.grade));
      await this.copyDisc(from, this.discStore.path(to), to.size);
    }
    const target = pairs[0]?.to.vmId;
    const stored = this.readFirstBoot(sourceVmId);
    if (target === undefined || target === null || !stored) return;
    // A new instance: the clone applies its own hostname once; the source's firstboot script is not run again.
    const file = this.firstBootFile(target);
    await mkdirPrivate(path.dirname(file));
    const record: StoredFirstBoot = { image: stored.image, firstBoot: { ...stored.firstBoot, firstbootScript: '', instanceId }, at: Date.now() };
    await fsp.writeFile(`${file}.tmp`, JSON.stringify(record), { mode: 0o600 });
    await fsp.rename(`${file}.tmp`, file);
  }

  async templateFromDisc(disc: DiscRef, name: string, description: string, fromImage: string | null): Promise<void> {
    await this.ready;
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) throw new DriverError(`invalid image name ${name}`);
    const dir = imageDir(this.opts.imagesDir, name);
    if (fs.existsSync(path.join(dir, MANIFEST_FILE))) return; // a repeat finds it made
    const from = fromImage ? await loadImage(this.opts.imagesDir, fromImage) : null;
    // Built beside, then renamed into place: listImages never sees half an image (dot folders are skipped).
    const tmp = path.join(this.opts.imagesDir, `.${name}.new`);
    await fsp.rm(tmp, { recursive: true, force: true });
    await fsp.mkdir(tmp, { recursive: true });
    try {
      await this.copyDisc(disc, path.join(tmp, 'disc.qcow2'), 0);
      const { virtualSize } = await this.discStore.info(path.join(tmp, 'disc.qcow2'));
      // The template boots as the image it was made from: the same kernel, initrd and command line.
      const kernel = from?.boot ? path.basename(from.boot.kernel) : null;
      const initrd = from?.boot?.initrd ? path.basename(from.boot.initrd) : null;
      if (from?.boot) await fsp.copyFile(from.boot.kernel, path.join(tmp, kernel!));
      if (from?.boot?.initrd) await fsp.copyFile(from.boot.initrd, path.join(tmp, initrd!));
      const manifest: Manifest = {
        name, description, disc: 'disc.qcow2', kernel, initrd, cmdline: from?.boot?.cmdline ?? '', builtAt: new Date().toISOString(),
        format: 'qcow2', discSize: virtualSize, ...(from?.manifest.kernelVersion ? { kernelVersion: from.manifest.kernelVersion } : {}),
      };
      await fsp.writeFile(path.join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
      await fsp.rename(tmp, dir);
    } catch (err) {
      await fsp.rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  async applyDiscs(vmId: number, discs: DiscRef[], format: boolean): Promise<string[]> {
    await this.ready;
    const formatted: string[] = [];
    for (const disc of discs) {
      if (this.using(disc)) continue; // attached already: never formatted
      if (format && (await this.discStore.blank(disc))) {
        await this.discStore.format(disc, disc.label);
        formatted.push(disc.label);
      }
      const m = this.machines.get(vmId);
      if (!m || m.gone) continue; // a stopped machine gets every disc at its next boot
      if (!m.qmp) throw new DriverError('the machine is running but its monitor is not reachable');
      const node = discNode(disc);
      await m.qmp.execute('blockdev-add', {
        driver: 'qcow2', 'node-name': node, discard: 'unmap',
        file: { driver: 'file', 'node-name': `${node}-file`, filename: this.discStore.path(disc), discard: 'unmap' },
      });
      try {
        await m.qmp.execute('device_add', { driver: 'virtio-blk-pci', drive: node, id: `${node}-dev`, serial: `hangar-${disc.id}` });
      } catch (err) {
        await m.qmp.execute('blockdev-del', { 'node-name': node }).catch(() => undefined);
        throw new DriverError(`the disc ${disc.label} could not be attached: ${(err as Error).message}`);
      }
      m.meta.discs.push(disc);
      writeMeta(m.dirs.meta, m.meta);
    }
    return formatted;
  }

  async attachNic(vmId: number, nic: NicSpec): Promise<boolean> {
    await this.ready;
    const m = this.machines.get(vmId);
    if (!m || m.gone) return false;
    if (!m.qmp) throw new DriverError('the machine is running but its monitor is not reachable');
    const id = `hnic${nic.id}`;
    if (m.meta.nicIds?.includes(nic.id)) return true; // booted with it, or plugged already
    let tap: string | null = null;
    try {
      if (nic.network.mode === 'bridge') {
        // Taps are numbered by position at boot (below 100); a hot-plugged one by its NIC id, from 100.
        tap = tapName(this.opts.tapPrefix ?? 'hg', vmId, 100 + (nic.id % 900));
        await createTap(tap, nic.network.bridge, m.meta.netns);
        m.meta.taps.push(tap);
        (m.meta.nicTaps ??= {})[nic.id] = tap;
        writeMeta(m.dirs.meta, m.meta);
        if (nic.rateLimitMbps) await setRateLimit(tap, nic.rateLimitMbps, m.meta.netns);
        await m.qmp.execute('netdev_add', { type: 'tap', id, ifname: tap, script: 'no', downscript: 'no' });
      } else {
        await m.qmp.execute('netdev_add', { type: 'user', id });
      }
      await m.qmp.execute('device_add', { driver: 'virtio-net-pci', netdev: id, id: `${id}-dev`, mac: nic.mac });
      (m.meta.nicIds ??= []).push(nic.id);
      writeMeta(m.dirs.meta, m.meta);
    } catch (err) {
      await m.qmp.execute('netdev_del', { id }).catch(() => undefined);
      throw new DriverError(`the interface ${nic.mac} could not be attached: ${(err as Error).message}`);
    }
    return true;
  }

  async changeCdrom(vmId: number, url: string | null): Promise<void> {
    await this.ready;
    const m = this.machines.get(vmId);
    if (!m || m.gone) return; // the next boot has it
    if (!m.qmp) throw new DriverError('the machine is running but its monitor is not reachable');
    try {
      if (url === null) await m.qmp.execute('eject', { id: 'cdrom-dev', force: true });
      else await m.qmp.execute('blockdev-change-medium', { id: 'cdrom-dev', filename: await this.cdromFile(url), format: 'raw', 'read-only-mode': 'read-only' });
    } catch (err) {
      if (err instanceof DriverError) throw err;
      throw new DriverError(`the CD drive could not be changed: ${(err as Error).message}`);
    }
  }

  async writeConfig(spec: MachineSpec): Promise<void> {
    await this.ready;
    const dirs = runDirFor(this.runRoot, spec.vmId);
    await mkdirPrivate(dirs.dir);
    const { firstBoot } = await this.prepareBoot(spec);
    // A running QEMU keeps the drive it opened: the guest reads the new one from its next boot.
    await writeConfigDrive(dirs.configIso, configDriveFiles(spec, firstBoot), this.tools.genisoimage);
  }

  // ---- stats

  private async sampleOne(m: Machine): Promise<MachineStats | null> {
    const s = await sample({ vmId: m.vmId, pid: m.pid, qmp: m.qmp, taps: m.meta.taps, netns: m.meta.netns, nicTaps: m.meta.nicTaps });
    if (s && !m.gone) this.series.push(s);
    return s;
  }

  private async sampleAll(): Promise<void> {
    for (const m of [...this.machines.values()]) {
      if (!m.gone) await this.sampleOne(m).catch(() => null);
    }
  }

  async stats(vmId: number): Promise<MachineStats | null> {
    await this.ready;
    const m = this.machines.get(vmId);
    if (!m || m.gone) return null;
    return this.sampleOne(m);
  }

  /** The recent samples of a machine, oldest first. */
  statsSeries(vmId: number): MachineStats[] {
    return this.series.get(vmId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.ready.catch(() => undefined);
    await Promise.allSettled([...this.locks.values()]);
    this.closed = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    for (const m of this.machines.values()) {
      if (m.poll) clearInterval(m.poll);
      m.child?.removeAllListeners('exit');
      m.qmp?.removeAllListeners();
      m.qmp?.close();
      m.qmp = null;
    }
    this.machines.clear();
    this.events.removeAllListeners();
  }
}
