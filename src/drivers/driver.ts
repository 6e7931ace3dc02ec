// The contract between a head agent and the hypervisor it drives. Two implementations:
// drivers/qemu (real QEMU over QMP) and drivers/fake (in memory, for fast tests and scale).
// The head agent (heads/agent.ts) decides *what* to do from the desired state; a driver only
// knows *how*, and reports what happens to its machines as events.

/** A disc as the driver sees it: identified by its disc id (its file's name), placed in a storage grade. */
export interface DiscRef {
  id: number;
  /** The VM it is on; null for a volume its account holds with no VM (core/volumes.ts). */
  vmId: number | null;
  label: string;
  grade: string;
  /** MiB */
  size: number;
}

export type NetworkMode =
  | { mode: 'user'; /** host port forwarded to the guest's :22 on 127.0.0.1; 0 = let the driver pick */ sshPort: number }
  | { mode: 'bridge'; bridge: string };

export interface NicSpec {
  id: number;
  mac: string;
  ipv4: string[];
  ipv6: string[];
  /** IPv4 gateway and prefix of the primary address's range, for static guest configuration. */
  gateway4: string | null;
  prefix4: number | null;
  network: NetworkMode;
  /** Port speed in Mbit/s each way (null or 0: unlimited); enforced on bridged NICs only. */
  rateLimitMbps?: number | null;
}

/** Everything needed to boot one machine: the desired state, resolved for this head. */
export interface MachineSpec {
  vmId: number;
  /** Short name used for the QEMU process name and logs. */
  name: string;
  hostname: string;
  cores: number;
  /** MiB */
  memory: number;
  hardwareProfile: string;
  keymap: string | null;
  /** In boot order; the first is the one reimage writes. */
  discs: DiscRef[];
  /** cdrom_url as the user gave it (http(s) or file://); the driver fetches and caches it. */
  cdromUrl: string | null;
  nics: NicSpec[];
  /** The distribution the first disc was last imaged with, which decides how it boots. */
  image: string | null;
  vncPassword: string;
  /** The firewall of each bridged NIC, enforced from before the guest runs (absent: none). */
  firewall?: NicFirewallSpec[];
  /** Relative CPU weight under contention (cgroup v2 cpu.weight: 1..10000, 100 = ordinary; null: not set). */
  cpuWeight?: number | null;
  /** 'cdrom': boot the CD (cdromUrl) through the firmware, before the discs and without the image's
   *  direct kernel (an installer); absent or 'disc': as before. */
  bootFrom?: 'disc' | 'cdrom';
  /** The CPU vendor the guest sees under emulation (TCG), from the VM's cpu_type; absent or null: QEMU's
   *  generic one. Under KVM the guest sees the host's CPU whatever this says. */
  cpuType?: 'intel' | 'amd' | null;
}

/** Limits of a running machine, as `applyLimits` sets them. */
export interface MachineLimits { cpuWeight: number | null; nics: { nicId: number; rateLimitMbps: number | null }[] }

/** Which limits the head enforces for a machine (false: stored only; its host or networking cannot). */
export interface LimitsEnforced { cpuWeight: boolean; rateLimit: boolean }

/** One firewall rule as a head enforces it (core/firewall.ts checked it). `address`: an IP, a CIDR
 *  or a range `a-b` (null: any); `port`: `p`, `a:b` or a comma list of them (only with a protocol). */
export interface FirewallRuleSpec { command: 'accept' | 'drop'; protocol: 'tcp' | 'udp' | null; address: string | null; port: string | null }

/** The firewall of one NIC: its rules in order, then its default policy for what none matched. */
export interface NicFirewallSpec { nicId: number; defaultPolicy: 'accept' | 'drop'; rules: FirewallRuleSpec[] }

/** First-boot configuration written beside an image (the config drive). */
export interface FirstBoot {
  hostname: string;
  /** SHA-512 crypt hash ($6$...), never the plain password. */
  rootPasswordHash: string | null;
  authorizedKeys: string;
  firstbootScript: string;
  /** Changes on every reimage so the guest applies the configuration once per image. */
  instanceId: string;
}

export type RunState = 'running' | 'stopped';

export interface MachineState {
  vmId: number;
  state: RunState;
  pid: number | null;
  sshPort: number | null;
  vncPort: number | null;
  /** Why it last stopped, if it stopped while this driver watched (cleared by the next start). */
  lastStop?: StopReason | null;
}

/**
 * Why a machine stopped running. The head agent turns these into BigV's power semantics:
 * guest-shutdown honours autoreboot_on, guest-reset always restarts, crash is treated as a
 * power-off (restart when autoreboot_on), host means we stopped it ourselves.
 */
export type StopReason = 'guest-shutdown' | 'guest-reset' | 'crash' | 'host';

export type MachineEvent =
  | { vmId: number; kind: 'started'; pid: number | null }
  | { vmId: number; kind: 'stopped'; reason: StopReason };

export interface HostFacts {
  driver: string;
  /** 'kvm' | 'tcg' for QEMU; 'fake' for the fake driver. */
  accel: string;
  cores: number;
  /** MiB */
  memory: number;
  /** MiB of space per storage grade on this head. */
  grades: Record<string, number>;
  /** Why this head cannot run machines (e.g. QEMU missing), or null when it can. */
  problem: string | null;
  /** The address its machines' VNC consoles listen on (absent: none reachable from outside). */
  consoleAddress?: string | null;
  /** Whether it can weigh machines' CPU (a writable cgroup cpu controller). */
  cpuWeight?: boolean;
}

export interface MachineStats {
  vmId: number;
  at: number;
  /** CPU time consumed by the machine, in milliseconds. */
  cpuMs: number;
  netRxBytes: number;
  netTxBytes: number;
  discReadBytes: number;
  discWriteBytes: number;
  /** Per bridged NIC (its tap's counters, as the guest sees them); absent where NICs have no tap. */
  nics?: { nicId: number; rxBytes: number; txBytes: number }[];
}

export type Signal = { kind: 'powerdown' } | { kind: 'reset' } | { kind: 'nmi' } | { kind: 'sendkey'; keys: string[] };

export interface Driver {
  readonly kind: string;
  probe(): Promise<HostFacts>;
  /** Names of the images built on this host (real images, not aliases); asked again on every resync. */
  listImages(): Promise<string[]>;
  /** Machines the driver finds alive, including ones left by a previous run (adopted, not duplicated). */
  list(): Promise<MachineState[]>;
  status(vmId: number): Promise<MachineState>;
  /** Start the machine; resolves once it is running (for QEMU: QMP answers and `cont` was sent). */
  start(spec: MachineSpec): Promise<MachineState>;
  /** Hard stop, the mains plug. Resolves once the machine is gone. No-op when not running. */
  stop(vmId: number): Promise<void>;
  signal(vmId: number, signal: Signal): Promise<void>;
  /**
   * Press the ACPI power button and wait up to `timeoutMs` for the guest to halt: true once the
   * machine is gone (or was not running), false when it still runs at the timeout (a guest that
   * ignores ACPI, or is too slow). It is left running then: forcing it is the caller's choice.
   */
  acpiShutdown(vmId: number, timeoutMs: number): Promise<boolean>;
  /** Hard reset. Resolves once the running boot is over: under `-action reboot=shutdown` a reset
   *  ends the QEMU process (reason `guest-reset`), and the caller starts the machine again. */
  reset(vmId: number): Promise<void>;
  /** Subscribe to events of all machines of this driver. */
  onEvent(listener: (event: MachineEvent) => void): void;

  createDisc(disc: DiscRef): Promise<void>;
  /** Grow a disc; `running` says whether its machine is running (QMP block_resize then). */
  growDisc(disc: DiscRef, newSize: number, running: boolean): Promise<void>;
  deleteDisc(disc: DiscRef): Promise<void>;
  /** Write an image onto the first disc and the first-boot configuration beside it. */
  reimage(vmId: number, disc: DiscRef, image: string, firstBoot: FirstBoot): Promise<void>;
  /** Copy a disc's content into a backup (and back, for restore). */
  backupDisc(disc: DiscRef, backupId: number): Promise<void>;
  restoreDisc(disc: DiscRef, backupId: number): Promise<void>;
  deleteBackup(disc: DiscRef, backupId: number): Promise<void>;
  /** Internal snapshots (qcow2) named `name` of every disc of a stopped machine: take, go back to,
   *  remove. Take and remove are idempotent (a repeat finds the work done); restore needs the snapshot
   *  on every disc. A take that fails on one disc removes what it took on the others. */
  createSnapshot(discs: DiscRef[], name: string): Promise<void>;
  restoreSnapshot(discs: DiscRef[], name: string): Promise<void>;
  deleteSnapshot(discs: DiscRef[], name: string): Promise<void>;

  stats(vmId: number): Promise<MachineStats | null>;

  /** Put the firewall of a running machine's NICs in place (replacing the one there). Resolves with
   *  whether it is enforced: false when the machine is not running or its networking cannot filter
   *  (user-mode networking has no tap to filter on). */
  applyFirewall(vmId: number, nics: NicFirewallSpec[]): Promise<boolean>;
  /** Set the remote console (VNC) password of a running machine, valid until `expiresAt` (ms since
   *  the epoch; after it no VNC client can authenticate). Resolves with the VNC port. */
  openConsole(vmId: number, password: string, expiresAt: number): Promise<{ port: number }>;
  /** A new root password for the guest: its crypt hash goes on the config drive of the machine's next
   *  boot, which applies it (the guest's next login after that boot uses it). Needs an imaged disc. */
  setRootPassword(vmId: number, rootPasswordHash: string): Promise<void>;
  /** Change a running machine's CPU weight and NIC rate limits; what the head could enforce. */
  applyLimits(vmId: number, limits: MachineLimits): Promise<LimitsEnforced>;
  // Acts a dialect asks for over core (docs/vm-ops.md).
  /** Full copies of a machine's discs (`from`, live when it runs) onto a new machine's (`to`): the
   *  copies share nothing with their source. The first-boot record comes with them under a new
   *  instance id, so the copy takes its own hostname and never runs the firstboot script again. */
  cloneMachine(sourceVmId: number, pairs: { from: DiscRef; to: DiscRef }[], instanceId: string): Promise<void>;
  /** A new built image `name` from a disc's content (live when its machine runs), booting as the
   *  image it was made from (`fromImage`'s kernel), or through the firmware when that is null. */
  templateFromDisc(disc: DiscRef, name: string, description: string, fromImage: string | null): Promise<void>;
  /** Attach to a running machine the discs it does not have yet (hot-plug; a stopped one gets every
   *  disc at its next boot). `format`: first write an empty ext4 filesystem, labelled with the disc's
   *  label, onto each of these discs that holds no data yet (never one in use or written to). The
   *  labels of the discs formatted. */
  applyDiscs(vmId: number, discs: DiscRef[], format: boolean): Promise<string[]>;
  /** Put an ISO (a cdrom URL, as MachineSpec.cdromUrl) in a running machine's CD drive, or eject it (null). */
  changeCdrom(vmId: number, url: string | null): Promise<void>;
  /** Hot-plug a NIC into a running machine (its netdev and a virtio-net-pci with its MAC, a tap on the
   *  bridge when bridged, its rate limit); false when the machine is stopped (its next boot has it). */
  attachNic(vmId: number, nic: NicSpec): Promise<boolean>;
  /** Write the machine's config drive from its spec now (its network from its NICs and addresses). */
  writeConfig(spec: MachineSpec): Promise<void>;

  /** Stop watching machines and release resources; running guests are left running. */
  close(): Promise<void>;
}

/** A failure the user can act on (bad cdrom_url, unknown image, no space): reported, not retried. */
export class DriverError extends Error {
  constructor(message: string, readonly field?: string) {
    super(message);
    this.name = 'DriverError';
  }
}
