// An in-memory hypervisor with the Driver interface, for fast tests and scale benchmarks.
// Deterministic: a guest reacts to ACPI powerdown and ctrl-alt-del on the next tick, unless `acpi`
// is switched off (a guest that ignores the power button). Faults are
// injected per operation with `failNext`, an operation can be held mid-way with `holdNext`, and a test can crash a machine with `crash`.
import { EventEmitter } from 'node:events';
import {
  DriverError, type DiscRef, type Driver, type FirstBoot, type HostFacts, type MachineEvent,
  type LimitsEnforced, type MachineLimits, type MachineSpec, type MachineState, type MachineStats, type NicFirewallSpec,
  type Signal, type StopReason, type NicSpec,
} from '../driver.js';
import { IMAGES } from '../../images/catalogue.js';

interface FakeMachine { spec: MachineSpec; pid: number; startedAt: number }

export type FakeOp = 'start' | 'stop' | 'signal' | 'reset' | 'createDisc' | 'growDisc' | 'deleteDisc' | 'reimage' | 'backupDisc' | 'createSnapshot'
  | 'cloneMachine' | 'templateFromDisc';

/** The head a FakeDriver reports unless told otherwise: 64 cores, 1 TiB of memory, 64 TiB per grade (MiB). */
export const FAKE_HEAD = {
  cores: 64,
  memory: 1024 * 1024,
  grades: { sata: 64 * 1024 * 1024, ssd: 64 * 1024 * 1024, archive: 64 * 1024 * 1024 } as Record<string, number>,
};

export interface FakeDriverOptions {
  cores?: number;
  /** MiB */
  memory?: number;
  /** MiB of disc space per grade; the head has exactly these grades. */
  grades?: Record<string, number>;
  /** Whether the guest OS answers the ACPI power button (a guest without acpid ignores it); the
   *  `acpi` property switches it while machines run. */
  acpi?: boolean;
  /** Pretend the host cannot run machines (as when QEMU is missing). */
  problem?: string;
  /** Images built on this head (default: every image of the catalogue). */
  images?: string[];
}

export class FakeDriver implements Driver {
  readonly kind = 'fake';
  readonly machines = new Map<number, FakeMachine>();
  readonly discs = new Map<number, DiscRef>();
  readonly images = new Map<number, { image: string; firstBoot: FirstBoot }>();
  readonly backups = new Map<number, number>();
  /** Disc id → names of its internal snapshots. */
  readonly snapshots = new Map<number, Set<string>>();
  /** Images built on this head; a test adds one as `hangar images build` would. */
  readonly builtImages: string[];
  /** Every call made, in order, for tests that assert what the head asked for. */
  readonly calls: string[] = [];
  private readonly events = new EventEmitter();
  private readonly faults = new Map<FakeOp, string[]>();
  private readonly releases: (() => void)[] = [];
  private readonly holds = new Map<FakeOp, { released: Promise<void>; reached(): void }[]>();
  private readonly lastStops = new Map<number, StopReason>();
  private nextPid = 1000;
  acpi: boolean;

  constructor(private readonly opts: FakeDriverOptions = {}) {
    this.acpi = opts.acpi ?? true;
    this.builtImages = opts.images ?? IMAGES.filter((i) => !i.aliasOf).map((i) => i.name);
  }

  /** The next `op` fails with `message` (queued: call twice to fail twice). */
  failNext(op: FakeOp, message = `injected ${op} fault`): void {
    const list = this.faults.get(op) ?? [];
    list.push(message);
    this.faults.set(op, list);
  }

  /**
   * The next `op` stops inside the driver until `release()` (then fails if a fault is queued), as a
   * slow image write would: the operation is running meanwhile. `reached` resolves once it is held.
   */
  holdNext(op: FakeOp): { reached: Promise<void>; release(): void } {
    let release!: () => void;
    let reached!: () => void;
    const hold = { released: new Promise<void>((r) => { release = r; }), reached: () => reached() };
    const reachedP = new Promise<void>((r) => { reached = r; });
    this.holds.set(op, [...(this.holds.get(op) ?? []), hold]);
    this.releases.push(release);
    return { reached: reachedP, release };
  }

  /** Let every held operation go (a test ending). */
  releaseAll(): void {
    for (const list of this.holds.values()) for (const h of list.splice(0)) h.reached();
    for (const release of this.releases.splice(0)) release();
  }

  /** The QEMU process dies without a SHUTDOWN event, as with kill -9. */
  crash(vmId: number): void {
    if (this.machines.delete(vmId)) this.stopped(vmId, 'crash');
  }

  private stopped(vmId: number, reason: StopReason): void {
    this.lastStops.set(vmId, reason);
    this.emit({ vmId, kind: 'stopped', reason });
  }

  private async check(op: FakeOp): Promise<void> {
    const held = this.holds.get(op)?.shift();
    if (held) {
      held.reached();
      await held.released;
    }
    const list = this.faults.get(op);
    const message = list?.shift();
    if (message !== undefined) throw new DriverError(message);
  }

  private emit(event: MachineEvent): void {
    // Real hypervisor events arrive asynchronously; so do these.
    setImmediate(() => this.events.emit('event', event));
  }

  async probe(): Promise<HostFacts> {
    return {
      driver: 'fake', accel: 'fake',
      cores: this.opts.cores ?? FAKE_HEAD.cores, memory: this.opts.memory ?? FAKE_HEAD.memory,
      grades: { ...(this.opts.grades ?? FAKE_HEAD.grades) },
      problem: this.opts.problem ?? null, cpuWeight: true,
    };
  }

  async listImages(): Promise<string[]> {
    return [...this.builtImages];
  }

  private state(vmId: number): MachineState {
    const m = this.machines.get(vmId);
    return { vmId, state: m ? 'running' : 'stopped', pid: m?.pid ?? null, sshPort: null, vncPort: null, lastStop: m ? null : this.lastStops.get(vmId) ?? null };
  }

  async status(vmId: number): Promise<MachineState> {
    return this.state(vmId);
  }

  async list(): Promise<MachineState[]> {
    return [...this.machines.keys()].map((id) => this.state(id));
  }

  async start(spec: MachineSpec): Promise<MachineState> {
    this.calls.push(`start ${spec.vmId}`);
    await this.check('start');
    if (!this.machines.has(spec.vmId)) {
      const pid = this.nextPid++;
      if (spec.firewall) this.firewalls.set(spec.vmId, structuredClone(spec.firewall));
      this.limits.set(spec.vmId, { cpuWeight: spec.cpuWeight ?? null, nics: spec.nics.map((n) => ({ nicId: n.id, rateLimitMbps: n.rateLimitMbps ?? null })) });
      this.machines.set(spec.vmId, { spec, pid, startedAt: Date.now() });
      this.lastStops.delete(spec.vmId);
      this.attached.delete(spec.vmId);
      this.cdroms.delete(spec.vmId);
      this.emit({ vmId: spec.vmId, kind: 'started', pid });
    }
    return this.state(spec.vmId);
  }

  async stop(vmId: number): Promise<void> {
    this.calls.push(`stop ${vmId}`);
    await this.check('stop');
    if (this.machines.delete(vmId)) this.stopped(vmId, 'host');
  }

  async signal(vmId: number, signal: Signal): Promise<void> {
    this.calls.push(`signal ${vmId} ${signal.kind}${signal.kind === 'sendkey' ? ' ' + signal.keys.join('-') : ''}`);
    await this.check('signal');
    const m = this.machines.get(vmId);
    if (!m) throw new DriverError('machine is not running');
    if (signal.kind === 'powerdown' && this.acpi) {
      this.machines.delete(vmId);
      this.stopped(vmId, 'guest-shutdown');
    } else if (signal.kind === 'reset') {
      m.startedAt = Date.now(); // same process, fresh boot
    } else if (signal.kind === 'sendkey' && signal.keys.join('-') === 'ctrl-alt-delete') {
      this.machines.delete(vmId);
      this.stopped(vmId, 'guest-reset');
    }
  }

  async acpiShutdown(vmId: number, timeoutMs: number): Promise<boolean> {
    this.calls.push(`acpiShutdown ${vmId}`);
    await this.check('signal');
    if (!this.machines.has(vmId)) return true;
    if (this.acpi) {
      this.machines.delete(vmId);
      this.stopped(vmId, 'guest-shutdown');
      return true;
    }
    await new Promise((r) => setTimeout(r, timeoutMs)); // the guest ignores the button: the whole timeout passes
    return !this.machines.has(vmId);
  }

  async reset(vmId: number): Promise<void> {
    this.calls.push(`reset ${vmId}`);
    await this.check('reset');
    // As QEMU under reboot=shutdown: the reset ends the process.
    if (this.machines.delete(vmId)) this.stopped(vmId, 'guest-reset');
  }

  onEvent(listener: (event: MachineEvent) => void): void {
    this.events.on('event', listener);
  }

  async createDisc(disc: DiscRef): Promise<void> {
    this.calls.push(`createDisc ${disc.id}`);
    await this.check('createDisc');
    this.discs.set(disc.id, { ...disc });
  }

  async growDisc(disc: DiscRef, newSize: number): Promise<void> {
    this.calls.push(`growDisc ${disc.id} ${newSize}`);
    await this.check('growDisc');
    this.discs.set(disc.id, { ...disc, size: newSize });
  }

  async deleteDisc(disc: DiscRef): Promise<void> {
    this.calls.push(`deleteDisc ${disc.id}`);
    await this.check('deleteDisc');
    this.discs.delete(disc.id);
    this.snapshots.delete(disc.id);
  }

  async reimage(vmId: number, disc: DiscRef, image: string, firstBoot: FirstBoot): Promise<void> {
    this.calls.push(`reimage ${vmId} ${image}`);
    await this.check('reimage');
    if (this.machines.has(vmId)) throw new DriverError('cannot reimage a running machine');
    this.images.set(disc.id, { image, firstBoot });
  }

  async backupDisc(disc: DiscRef, backupId: number): Promise<void> {
    this.calls.push(`backupDisc ${disc.id} ${backupId}`);
    await this.check('backupDisc');
    this.backups.set(backupId, disc.id);
  }

  async restoreDisc(disc: DiscRef, backupId: number): Promise<void> {
    this.calls.push(`restoreDisc ${disc.id} ${backupId}`);
    if (!this.backups.has(backupId)) throw new DriverError('no such backup on this head');
  }

  async deleteBackup(_disc: DiscRef, backupId: number): Promise<void> {
    this.calls.push(`deleteBackup ${backupId}`);
    this.backups.delete(backupId);
  }

  /** As qcow2 internal snapshots: of a stopped machine only, every disc or none. */
  private offline(discs: DiscRef[]): void {
    if (discs.some((d) => d.vmId !== null && this.machines.has(d.vmId))) throw new DriverError('the machine is running; power it off to snapshot it');
  }

  async createSnapshot(discs: DiscRef[], name: string): Promise<void> {
    this.calls.push(`createSnapshot ${name} ${discs.map((d) => d.id).join(',')}`);
    this.offline(discs);
    await this.check('createSnapshot');
    for (const d of discs) this.snapshots.set(d.id, new Set([...(this.snapshots.get(d.id) ?? []), name]));
  }

  async restoreSnapshot(discs: DiscRef[], name: string): Promise<void> {
    this.calls.push(`restoreSnapshot ${name} ${discs.map((d) => d.id).join(',')}`);
    this.offline(discs);
    const missing = discs.find((d) => !this.snapshots.get(d.id)?.has(name));
    if (missing) throw new DriverError(`disc ${missing.label} has no snapshot ${name}`);
  }

  async deleteSnapshot(discs: DiscRef[], name: string): Promise<void> {
    this.calls.push(`deleteSnapshot ${name} ${discs.map((d) => d.id).join(',')}`);
    this.offline(discs);
    for (const d of discs) this.snapshots.get(d.id)?.delete(name);
  }

  /** As full copies: the clone's discs get the source discs' images, and nothing stays shared. */
  async cloneMachine(sourceVmId: number, pairs: { from: DiscRef; to: DiscRef }[], instanceId: string): Promise<void> {
    this.calls.push(`cloneMachine ${sourceVmId} ${pairs.map((p) => `${p.from.id}>${p.to.id}`).join(',')}`);
    await this.check('cloneMachine');
    if (pairs.some((p) => p.to.vmId !== null && this.machines.has(p.to.vmId))) throw new DriverError('cannot clone onto a running machine');
    for (const { from, to } of pairs) {
      if (!this.discs.has(from.id)) throw new DriverError(`disc ${from.label} has no file on this head`);
      this.discs.set(to.id, { ...to });
      const img = this.images.get(from.id);
      if (img) this.images.set(to.id, { image: img.image, firstBoot: { ...img.firstBoot, firstbootScript: '', instanceId } });
    }
  }

  async templateFromDisc(disc: DiscRef, name: string, _description: string, fromImage: string | null): Promise<void> {
    this.calls.push(`templateFromDisc ${disc.id} ${name} ${fromImage ?? '-'}`);
    await this.check('templateFromDisc');
    if (!this.discs.has(disc.id)) throw new DriverError(`disc ${disc.label} has no file on this head`);
    if (!this.builtImages.includes(name)) this.builtImages.push(name);
  }

  /** Discs a running machine has: those of its spec, and those applied since. */
  readonly attached = new Map<number, Set<number>>();
  /** Disc ids formatted by applyDiscs. */
  readonly formatted = new Set<number>();

  async applyDiscs(vmId: number, discs: DiscRef[], format: boolean): Promise<string[]> {
    this.calls.push(`applyDiscs ${vmId} ${discs.map((d) => d.id).join(',')}${format ? ' format' : ''}`);
    const m = this.machines.get(vmId);
    const has = this.attached.get(vmId) ?? new Set(m?.spec.discs.map((d) => d.id) ?? []);
    const done: string[] = [];
    for (const d of discs) {
      if (m && has.has(d.id)) continue;
      if (format && !this.images.has(d.id) && !this.formatted.has(d.id)) {
        this.formatted.add(d.id);
        done.push(d.label);
      }
      if (m) has.add(d.id);
    }
    if (m) this.attached.set(vmId, has);
    return done;
  }

  /** NICs hot-plugged into a running machine (VM id → their specs). */
  readonly hotNics = new Map<number, NicSpec[]>();

  async attachNic(vmId: number, nic: NicSpec): Promise<boolean> {
    this.calls.push(`attachNic ${vmId} ${nic.id} ${nic.mac}`);
    const m = this.machines.get(vmId);
    if (!m) return false;
    const list = this.hotNics.get(vmId) ?? [];
    if (!list.some((n) => n.id === nic.id) && !m.spec.nics.some((n) => n.id === nic.id)) list.push(nic);
    this.hotNics.set(vmId, list);
    return true;
  }

  /** A running machine's CD: what changeCdrom put in (undefined: as it booted). */
  readonly cdroms = new Map<number, string | null>();

  async changeCdrom(vmId: number, url: string | null): Promise<void> {
    this.calls.push(`changeCdrom ${vmId} ${url ?? '-'}`);
    if (this.machines.has(vmId)) this.cdroms.set(vmId, url);
  }

  /** The last spec each machine's config drive was written from. */
  readonly configs = new Map<number, MachineSpec>();

  async writeConfig(spec: MachineSpec): Promise<void> {
    this.calls.push(`writeConfig ${spec.vmId}`);
    this.configs.set(spec.vmId, structuredClone(spec));
  }

  async stats(vmId: number): Promise<MachineStats | null> {
    const m = this.machines.get(vmId);
    if (!m) return null;
    const up = Date.now() - m.startedAt;
    return { vmId, at: Date.now(), cpuMs: Math.round(up / 100), netRxBytes: up, netTxBytes: up, discReadBytes: 0, discWriteBytes: 0 };
  }

  /** Each machine's firewall as last applied (a fake head filters nothing: it records). */
  readonly firewalls = new Map<number, NicFirewallSpec[]>();
  /** Each machine's remote console: its password and when it expires. */
  readonly consoles = new Map<number, { password: string; expiresAt: number }>();

  async applyFirewall(vmId: number, nics: NicFirewallSpec[]): Promise<boolean> {
    this.calls.push(`applyFirewall ${vmId}`);
    if (!this.machines.has(vmId)) return false;
    this.firewalls.set(vmId, structuredClone(nics));
    return true;
  }

  async openConsole(vmId: number, password: string, expiresAt: number): Promise<{ port: number }> {
    this.calls.push(`openConsole ${vmId}`);
    if (!this.machines.has(vmId)) throw new DriverError('the machine is not running');
    this.consoles.set(vmId, { password, expiresAt });
    return { port: 5900 + vmId };
  }

  async setRootPassword(vmId: number, rootPasswordHash: string): Promise<void> {
    this.calls.push(`setRootPassword ${vmId}`);
    const disc = [...this.discs.values()].find((d) => d.vmId === vmId && this.images.has(d.id));
    const imaged = disc && this.images.get(disc.id);
    if (!disc || !imaged) throw new DriverError('the machine has never been imaged on this head: there is no system to set a password in');
    this.images.set(disc.id, { ...imaged, firstBoot: { ...imaged.firstBoot, rootPasswordHash } });
  }

  /** Each running machine's limits as last set (a fake head simulates one that can enforce them). */
  readonly limits = new Map<number, MachineLimits>();

  async applyLimits(vmId: number, limits: MachineLimits): Promise<LimitsEnforced> {
    this.calls.push(`applyLimits ${vmId}`);
    if (!this.machines.has(vmId)) return { cpuWeight: false, rateLimit: false };
    this.limits.set(vmId, structuredClone(limits));
    return { cpuWeight: true, rateLimit: true };
  }

  async close(): Promise<void> {
    this.events.removeAllListeners();
  }
}
