// The head agent: a level-triggered reconciler. For each VM it owns it runs queued operations,
// then makes the hypervisor match the desired power state, and reports what it observed.
// It never trusts memory over the world: after any crash it converges again from the store
// and from what the driver finds running (adopting guests, never starting a second copy).
import type { Logger } from 'pino';
import { DriverError, type Driver, type MachineEvent, type MachineSpec, type NetworkMode, type StopReason } from '../drivers/driver.js';
import type { OperationResult } from '../operations/kinds.js';
import type { BrainLink, DesiredVm, PendingOperation } from './link.js';

/** The key of the chain that runs acts on volumes with no VM (VM ids start at 1). */
const VOLUMES = 0;

export interface HeadAgentOptions {
  label: string;
  zone: string;
  managementAddress: string;
  /** How guests are networked on this head: user-mode with an SSH forward, or a bridge. */
  network: { mode: 'user' } | { mode: 'bridge'; bridge: string };
  /** Safety-net resync period; events make most changes immediate. */
  resyncMs: number;
  log: Logger;
}

export class HeadAgent {
  headId = 0;
  private readonly chains = new Map<number, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private canWeighCpu = false;

  constructor(private readonly link: BrainLink, readonly driver: Driver, private readonly opts: HeadAgentOptions) {}

  async start(): Promise<number> {
    const facts = await this.driver.probe();
    if (facts.problem) this.opts.log.warn({ problem: facts.problem }, 'head cannot run machines');
    this.canWeighCpu = facts.cpuWeight ?? false;
    this.headId = await this.link.register(this.opts.label, this.opts.zone, this.opts.managementAddress, facts);
    this.driver.onEvent((event) => this.onEvent(event));
    await this.resync();
    this.timer = setInterval(() => void this.resync().catch((err) => this.opts.log.error({ err }, 'resync failed')), this.opts.resyncMs);
    this.timer.unref();
    return this.headId;
  }

  /** Stop reconciling; guests keep running (they are adopted by the next agent). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([...this.chains.values()]);
    await this.driver.close();
  }

  /** Converge one VM now. Calls for the same VM run one after another, never at once. */
  kick(vmId: number): Promise<void> {
    return this.serial(vmId, () => this.converge(vmId));
  }

  private serial(vmId: number, work: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(vmId) ?? Promise.resolve();
    const next = prev.then(() => (this.stopped ? undefined : work())).catch((err) => {
      this.opts.log.error({ err, vmId }, 'reconcile failed');
    });
    this.chains.set(vmId, next);
    void next.then(() => {
      if (this.chains.get(vmId) === next) this.chains.delete(vmId);
    });
    return next;
  }

  async resync(): Promise<void> {
    // Images are built beside a running head (`hangar images build`): each resync tells the brain what is there.
    await this.link.reportImages(await this.driver.listImages());
    const ids = new Set(await this.link.attention());
    const alive = new Set((await this.driver.list()).map((m) => m.vmId));
    for (const id of alive) ids.add(id); // running machines are checked against what the brain wants
    for (const id of await this.link.believedRunning()) if (!alive.has(id)) ids.add(id);
    await Promise.all([...[...ids].map((id) => this.kick(id)), this.kickVolumes()]);
    await this.reportStats([...alive]); // after converging: a slow QMP query must not delay a change
  }

  /** Each running machine's counters, to be kept over time by the brain (core/stats.ts). User-mode
   *  networking has no counters: its network bytes are sent as null, not as the driver's 0. A failed
   *  report only loses a reading: the next one still makes a delta from the last one kept. */
  private async reportStats(vmIds: number[]): Promise<void> {
    if (!this.link.reportStats) return;
    const measurable = this.opts.network.mode === 'bridge';
    for (const vmId of vmIds) {
      try {
        const s = await this.driver.stats(vmId);
        if (!s) continue;
        await this.link.reportStats(vmId, [{
          at: s.at, cpuMs: s.cpuMs, discReadBytes: s.discReadBytes, discWriteBytes: s.discWriteBytes,
          netRxBytes: measurable ? s.netRxBytes : null, netTxBytes: measurable ? s.netTxBytes : null,
          ...(measurable && s.nics ? { nics: s.nics } : {}),
        }]);
      } catch (err) {
        this.opts.log.warn({ err, vmId }, 'stats report failed');
      }
    }
  }

  private spec(vm: DesiredVm): MachineSpec {
    const network: NetworkMode = this.opts.network.mode === 'user'
      ? { mode: 'user', sshPort: vm.sshPort ?? 0 }
      : { mode: 'bridge', bridge: this.opts.network.bridge };
    const { id, nics, powerOn, autorebootOn, deleted, powerCycle, observedCycle, observedRunning, sshPort, firewall, ...machine } = vm;
    // Firewall rules go to bridged NICs only: user-mode networking has nothing to filter on.
    return { ...machine, vmId: id, nics: nics.map((n) => ({ ...n, network })), ...(network.mode === 'bridge' && firewall ? { firewall } : {}) };
  }

  private async converge(vmId: number, stoppedBy?: StopReason): Promise<void> {
    const { vm, ops } = await this.link.desired(vmId);
    await this.runEach(ops, vmId, (op) => this.runOperation(vmId, vm, op));
    // Operations (a reimage) may have changed what is wanted; read it again.
    const current = ops.length ? (await this.link.desired(vmId)).vm : vm;
    const status = await this.driver.status(vmId);
    const running = status.state === 'running';
    if (!current) {
      if (running) await this.driver.stop(vmId); // purged or moved away
      return;
    }
    const want = current.powerOn && !current.deleted;
    if (!want) {
      if (running) await this.driver.stop(vmId);
      await this.link.report(vmId, { running: false, pid: null, observedCycle: current.powerCycle });
      return;
    }
    if (running && current.powerCycle <= current.observedCycle) {
      await this.link.report(vmId, { running: true, pid: status.pid, sshPort: status.sshPort, vncPort: status.vncPort });
      return;
    }
    // Why it stopped: the event, or what the driver remembers (the event may still be on its way).
    const reason = stoppedBy ?? status.lastStop ?? null;
    if (!running && reason !== 'host' && (stoppedBy || current.observedRunning)) {
      // It went down by itself: guest power-off or reboot, a crash, or unseen (the head was not watching).
      const restart = reason === 'guest-reset' || current.autorebootOn;
      if (!restart) {
        const note = reason === 'crash' ? 'the machine crashed' : reason === null ? 'the machine stopped while its head was not watching' : null;
        await this.link.poweredOff(vmId, note);
        await this.link.report(vmId, { running: false, pid: null });
        return;
      }
    }
    if (running) await this.driver.stop(vmId); // a fresh boot was asked for
    try {
      await this.boot(current);
    } catch (err) {
      // Never leave a VM "starting" forever: it is off, and the reason is kept for the user.
      const note = `power on failed: ${err instanceof Error ? err.message : String(err)}`;
      this.opts.log.warn({ vmId, note }, 'start failed');
      await this.link.poweredOff(vmId, note);
      await this.link.report(vmId, { running: false, pid: null, observedCycle: current.powerCycle, note });
    }
  }

  /** Take each operation (skipping those not to run now), run it under a renewed lease, report its end. */
  private async runEach(ops: PendingOperation[], vmId: number | null, run: (op: PendingOperation) => Promise<OperationResult | void>): Promise<void> {
    for (const op of ops) {
      const leaseMs = await this.link.startOperation(op);
      if (leaseMs === null) continue;
      const renew = setInterval(() => {
        void this.link.renewLease(op).catch((err) => this.opts.log.warn({ err, vmId, op: op.kind }, 'lease renewal failed'));
      }, Math.max(10, Math.floor(leaseMs / 3)));
      renew.unref();
      let error: string | null = null;
      let result: OperationResult | null = null;
      try {
        result = (await run(op)) ?? null;
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
        this.opts.log.warn({ vmId, op: op.kind, error }, 'operation failed');
      } finally {
        clearInterval(renew);
      }
      await this.link.finishOperation(op, error, result);
    }
  }

  /** Run the queued acts on volumes with no VM, one after another (one chain, apart from every VM's). */
  kickVolumes(): Promise<void> {
    return this.serial(VOLUMES, async () => {
      if (this.link.volumeOps) await this.runEach(await this.link.volumeOps(), null, (op) => this.runVolumeOperation(op));
    });
  }

  /** An act on a volume no VM uses: its file made, removed, or copied into a new image. */
  private async runVolumeOperation(op: PendingOperation): Promise<OperationResult | void> {
    switch (op.kind) {
      case 'disc.create':
        return this.driver.createDisc(op.args.disc);
      case 'disc.delete':
        return this.driver.deleteDisc(op.args.disc);
      case 'image.template':
        return this.makeTemplate(op.args);
      default:
        throw new DriverError(`an operation of kind "${op.kind}" needs a machine`);
    }
  }

  private async makeTemplate(args: Extract<PendingOperation, { kind: 'image.template' }>['args']): Promise<void> {
    await this.driver.templateFromDisc(args.disc, args.name, args.description, args.fromImage);
    // Placement looks for the image among the head's: it is there from now, not from the next resync.
    await this.link.reportImages(await this.driver.listImages());
  }

  /** Start the machine as wanted now and report it running, a fresh boot. */
  private async boot(vm: DesiredVm): Promise<void> {
    const started = await this.driver.start(this.spec(vm));
    await this.link.report(vm.id, {
      running: true, pid: started.pid, observedCycle: vm.powerCycle, booted: true,
      sshPort: started.sshPort, vncPort: started.vncPort, note: null,
    });
  }

  /** Boot the machine as wanted now (an operation before this one may have changed it, a reimage its
   *  image), unless it is no longer wanted on (a stop asked for since: converge leaves it off). */
  private async bootIfWanted(vmId: number): Promise<void> {
    const vm = (await this.link.desired(vmId)).vm;
    if (!vm) throw new DriverError('the machine is no longer on this head');
    if (vm.powerOn && !vm.deleted) await this.boot(vm);
  }

  private async runOperation(vmId: number, vm: DesiredVm | null, op: PendingOperation): Promise<OperationResult | void> {
    const running = (await this.driver.status(vmId)).state === 'running';
    switch (op.kind) {
      // Power intents (core/vms/power.ts). Each ends with the machine as the intent leaves it, reported.
      case 'vm.power.start': {
        if (!running) await this.bootIfWanted(vmId);
        return;
      }
      case 'vm.power.stop': {
        if (running) await this.driver.stop(vmId);
        await this.link.report(vmId, { running: false, pid: null });
        return;
      }
      case 'vm.power.shutdown': {
        // ACPI first; a guest that has not halted when the timeout passes is switched off.
        const halted = !running || await this.driver.acpiShutdown(vmId, op.args.timeoutMs);
        if (!halted) await this.driver.stop(vmId);
        await this.link.report(vmId, { running: false, pid: null });
        return { forced: !halted };
      }
      case 'vm.power.reboot': {
        if (!running) throw new DriverError('the machine is not running');
        // ACPI first, then a new boot once the guest halts; one that ignores the button is reset at the timeout.
        const halted = await this.driver.acpiShutdown(vmId, op.args.timeoutMs);
        if (!halted) await this.driver.reset(vmId);
        await this.bootIfWanted(vmId);
        return { forced: !halted };
      }
      case 'vm.power.reset': {
        if (!running) throw new DriverError('the machine is not running');
        await this.driver.reset(vmId);
        await this.bootIfWanted(vmId);
        return;
      }
      case 'vm.power.cycle': {
        if (running) await this.driver.stop(vmId);
        await this.bootIfWanted(vmId);
        return;
      }
      case 'signal': {
        if (!running) throw new DriverError('the machine is not running');
        await this.driver.signal(vmId, op.args.signal);
        return;
      }
      case 'reimage': {
        const disc = vm?.discs[0];
        if (!vm || !disc) throw new DriverError('the machine has no disc to image');
        if (running) await this.driver.stop(vmId);
        await this.driver.reimage(vmId, disc, op.args.image, op.args.firstBoot);
        return;
      }
      case 'disc.create':
        return this.driver.createDisc(op.args.disc);
      case 'disc.grow':
        return this.driver.growDisc(op.args.disc, op.args.size, running);
      case 'disc.delete':
        return this.driver.deleteDisc(op.args.disc);
      case 'purge': {
        if (running) await this.driver.stop(vmId);
        for (const disc of op.args.discs) await this.driver.deleteDisc(disc);
        return;
      }
      case 'backup.create':
        return this.driver.backupDisc(op.args.disc, op.args.backupId);
      case 'backup.restore':
        return this.driver.restoreDisc(op.args.disc, op.args.backupId);
      case 'backup.delete':
        return this.driver.deleteBackup(op.args.disc, op.args.backupId);
      // Snapshots are of a stopped machine (core refuses a running one; a start may have come since).
      case 'snapshot.create':
      case 'snapshot.restore':
      case 'snapshot.delete': {
        if (running) throw new DriverError('the machine is running; power it off to snapshot it');
        const act = { 'snapshot.create': 'createSnapshot', 'snapshot.restore': 'restoreSnapshot', 'snapshot.delete': 'deleteSnapshot' } as const;
        return this.driver[act[op.kind]](op.args.discs, op.args.name);
      }
      case 'firewall.apply': {
        // User-mode networking has no tap to filter on: said, never pretended. A stopped machine in
        // bridge mode gets the rules from its desired state at its next start, before it runs.
        if (this.opts.network.mode !== 'bridge') return { enforced: false };
        if (!running) return { enforced: true };
        return { enforced: await this.driver.applyFirewall(vmId, op.args.nics) };
      }
      case 'console.open': {
        if (!running) throw new DriverError('the machine is not running');
        return { vncPort: (await this.driver.openConsole(vmId, op.args.password, op.args.expiresAt)).port };
      }
      case 'password.reset': {
        await this.driver.setRootPassword(vmId, op.args.rootPasswordHash);
        if (!running) return; // applied at its next boot
        const halted = await this.driver.acpiShutdown(vmId, op.args.timeoutMs);
        if (!halted) await this.driver.stop(vmId);
        await this.bootIfWanted(vmId);
        return { forced: !halted };
      }
      case 'limits.apply': {
        const bridged = this.opts.network.mode === 'bridge';
        // A stopped machine gets them from its desired state at its next start.
        if (!running) return { limits: { cpuWeight: this.canWeighCpu, rateLimit: bridged } };
        const done = await this.driver.applyLimits(vmId, op.args);
        return { limits: { cpuWeight: done.cpuWeight, rateLimit: bridged && done.rateLimit } };
      }
      // Acts a dialect asks for over core (docs/vm-ops.md).
      case 'vm.clone':
        return this.driver.cloneMachine(op.args.sourceVmId, op.args.pairs, op.args.instanceId);
      case 'image.template':
        return this.makeTemplate(op.args);
      case 'disc.apply': {
        const formatted = await this.driver.applyDiscs(vmId, op.args.discs, op.args.format);
        return { formatted };
      }
      case 'vm.cdrom':
        return this.driver.changeCdrom(vmId, op.args.url);
      case 'vm.network.rebuild': {
        if (!vm) throw new DriverError('the machine is no longer on this head');
        await this.driver.writeConfig(this.spec(vm));
        if (!running || !op.args.applyNow) return;
        // The guest reads its network from the config drive at boot: a reboot applies it now.
        const halted = await this.driver.acpiShutdown(vmId, op.args.timeoutMs);
        if (!halted) await this.driver.reset(vmId);
        await this.bootIfWanted(vmId);
        return { forced: !halted };
      }
      case 'nic.attach': {
        const nic = vm ? this.spec(vm).nics.find((n) => n.id === op.args.nicId) : undefined;
        if (!nic) throw new DriverError('the interface is no longer in the machine\'s desired state');
        return { attached: running && (await this.driver.attachNic(vmId, nic)) };
      }
      default: {
        // A kind this head does not know (a newer brain, a bad row) must fail, never finish as done:
        // "done" would report an act that never happened. The never check keeps every known kind handled.
        const unknown: never = op;
        throw new DriverError(`this head cannot run an operation of kind "${(unknown as PendingOperation).kind}"`);
      }
    }
  }

  /** Events only say "look now"; converge applies BigV's power semantics. */
  private onEvent(event: MachineEvent): void {
    if (this.stopped) return;
    // A start is the agent's own (boot): it reports it, with more than the event says. A second
    // report here would only be a write racing the reply of the power-on (bench:power).
    if (event.kind === 'started') return;
    if (event.reason !== 'host') {
      void this.serial(event.vmId, () => this.converge(event.vmId, event.reason));
    }
  }
}
