// What each kind of operation carries (typed per kind), how long it may take, whether it holds
// its VM, and the secrets inside its args (sealed while it waits, removed when it ends).
import type { Sealed, SecretBox } from '../core/secrets.js';
import type { DiscRef, FirstBoot, MachineLimits, NicFirewallSpec, Signal } from '../drivers/driver.js';

/**
 * A secret inside an operation's args (a root password hash, a firstboot script): sealed where the
 * args are built, opened only for the head that runs the operation (openArgs), and removed from the
 * row when the operation finishes, however it ends.
 */
export interface SecretArg { $secret: Sealed }

export function secretArg(box: SecretBox, value: string): SecretArg {
  return { $secret: box.seal(value) };
}

/** Args as the head gets them: every SecretArg opened to its plain string. */
export type Opened<T> = T extends SecretArg ? string
  : T extends (infer U)[] ? Opened<U>[]
  : T extends object ? { [K in keyof T]: Opened<T[K]> } : T;

/** FirstBoot as stored in a reimage: its password hash and script (which users fill with their own secrets) sealed. */
export type SealedFirstBoot = Omit<FirstBoot, 'rootPasswordHash' | 'firstbootScript'> & { rootPasswordHash: SecretArg | null; firstbootScript: SecretArg };

export interface OperationArgs {
  /** An intent: its steps are the operations whose parent it is (disc creates, then the reimage). */
  'vm.create': Record<string, never>;
  /** An intent (core/vms/resize.ts): its steps are a `vm.power.shutdown`, whose end applies this
   *  change, then a `vm.power.start`. null: that attribute stays as it is. */
  'vm.resize': { cores: number | null; memoryMiB: number | null };
  'disc.create': { disc: DiscRef };
  'disc.grow': { disc: DiscRef; size: number };
  'disc.delete': { disc: DiscRef };
  reimage: {
    vmId: number; distribution: string; image: string; firstBoot: SealedFirstBoot;
    /** Desired power set when it succeeds (BigV: on, autoreboot off), or nothing (within vm.create). */
    afterwards: { power_on: number; autoreboot_on: number } | null;
  };
  signal: { signal: Signal };
  purge: { discs: DiscRef[] };
  'backup.create': { disc: DiscRef; backupId: number };
  'backup.restore': { disc: DiscRef; backupId: number };
  'backup.delete': { disc: DiscRef; backupId: number };
  /** A snapshot of a stopped VM (core/snapshots.ts): qcow2 internal snapshots named `name` of every disc. */
  'snapshot.create': { snapshotId: number; name: string; discs: DiscRef[] };
  'snapshot.restore': { snapshotId: number; name: string; discs: DiscRef[] };
  'snapshot.delete': { snapshotId: number; name: string; discs: DiscRef[] };
  // Power intents (core/vms/power.ts, docs/domain.md §13.3). `timeoutMs`: how long the guest has to
  // halt after the ACPI power button before it is forced (shutdown: off; reboot: hard reset).
  'vm.power.start': Record<string, never>;
  'vm.power.stop': Record<string, never>;
  'vm.power.shutdown': { timeoutMs: number };
  'vm.power.reboot': { timeoutMs: number };
  'vm.power.reset': Record<string, never>;
  'vm.power.cycle': Record<string, never>;
  // Head acts behind the Gigas routes (core/console.ts, core/passwords.ts, core/firewall-apply.ts).
  /** The firewall of the VM's NICs as it stands now, put in place on a running machine (a stopped
   *  one gets it at its next start, from the desired state). */
  'firewall.apply': { nics: NicFirewallSpec[] };
  /** A remote console password for the running machine's VNC, refused by QEMU after `expiresAt` (ms). */
  'console.open': { password: SecretArg; expiresAt: number };
  /** A new root password (its SHA-512 crypt hash) on the config drive; a running machine is restarted
   *  (ACPI, forced after `timeoutMs`) so that it applies it at once. */
  'password.reset': { rootPasswordHash: SecretArg; timeoutMs: number };
  /** A running machine's CPU weight and NIC rate limits changed in place (a stopped one gets them at
   *  its next start, from the desired state). */
  'limits.apply': MachineLimits;
  // Acts a dialect asks for over core (docs/vm-ops.md).
  /** Run on the clone (a new VM): full copies of the source's discs onto its discs, pair by pair.
   *  `afterwards`: desired power set when it succeeds (started only when the caller asked). */
  'vm.clone': { sourceVmId: number; pairs: { from: DiscRef; to: DiscRef }[]; instanceId: string; afterwards: { power_on: number; autoreboot_on: number } | null };
  /** A new image (catalogue row `imageId`, built on the head as `name`) from the VM's first disc. */
  'image.template': { imageId: number; name: string; description: string; disc: DiscRef; fromImage: string | null };
  /** Hot-plug the discs a running machine lacks; `format` writes ext4 onto those still blank. */
  'disc.apply': { discs: DiscRef[]; format: boolean };
  /** Change the ISO in a running machine's CD drive (the VM's cdrom_url is already the new one). */
  'vm.cdrom': { url: string | null };
  /** Rewrite the config drive from the NICs and addresses; `applyNow`: reboot a running guest so it reads it. */
  'vm.network.rebuild': { applyNow: boolean; timeoutMs: number };
  /** Hot-plug NIC `nicId` (already stored) into the running machine; a stopped one gets it at its next start. */
  'nic.attach': { nicId: number };
}

/** What a finished operation reports besides its error (`operations.result`): a shutdown or reboot
 *  whose guest did not halt within its timeout was `forced`. */
export interface OperationResult {
  /** nic.attach: whether the running machine got the NIC now (false: at its next start). */
  attached?: boolean;
  forced?: boolean;
  /** firewall.apply: whether the head filters the VM's traffic, now or from its next start (false: its
   *  networking cannot, e.g. user mode). */
  enforced?: boolean;
  /** console.open: the VNC port the password opens. */
  vncPort?: number;
  /** limits.apply: which limits the head enforces (false: stored only, its host or networking cannot). */
  limits?: { cpuWeight: boolean; rateLimit: boolean };
  /** disc.apply: the labels of the discs it formatted. */
  formatted?: string[];
}

export type OperationKind = keyof OperationArgs;
/** Intents: no head runs them, their steps do, and they end with their last step. */
export const INTENTS = ['vm.create', 'vm.resize'] as const satisfies readonly OperationKind[];
/** Kinds a head runs. */
export type HeadKind = Exclude<OperationKind, (typeof INTENTS)[number]>;
export type OperationState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export const FINISHED: readonly OperationState[] = ['done', 'failed', 'cancelled'];

const MINUTE = 60_000;
/** How long each kind may take from being asked for (queued included) before the sweeper fails it. */
export const DEADLINES: Record<OperationKind, number> = {
  'vm.create': 120 * MINUTE, 'vm.resize': 45 * MINUTE, reimage: 60 * MINUTE, 'disc.create': 30 * MINUTE, 'disc.grow': 30 * MINUTE,
  'disc.delete': 30 * MINUTE, signal: 5 * MINUTE, purge: 60 * MINUTE,
  'backup.create': 360 * MINUTE, 'backup.restore': 360 * MINUTE, 'backup.delete': 60 * MINUTE,
  'snapshot.create': 60 * MINUTE, 'snapshot.restore': 60 * MINUTE, 'snapshot.delete': 60 * MINUTE,
  // A shutdown or reboot waits at most MAX_POWER_TIMEOUT_MS for its guest, then acts at once.
  'vm.power.start': 5 * MINUTE, 'vm.power.stop': 5 * MINUTE, 'vm.power.reset': 5 * MINUTE, 'vm.power.cycle': 5 * MINUTE,
  'vm.power.shutdown': 35 * MINUTE, 'vm.power.reboot': 35 * MINUTE,
  'firewall.apply': 5 * MINUTE, 'console.open': 5 * MINUTE, 'password.reset': 35 * MINUTE, 'limits.apply': 5 * MINUTE,
  'vm.clone': 360 * MINUTE, 'image.template': 120 * MINUTE, 'disc.apply': 60 * MINUTE, 'vm.cdrom': 20 * MINUTE,
  'vm.network.rebuild': 35 * MINUTE, 'nic.attach': 5 * MINUTE,
};

/** The longest shutdown or reboot timeout a caller may ask for (its deadline leaves room to force). */
export const MAX_POWER_TIMEOUT_MS = 30 * MINUTE;

/** Kinds that hold their VM while they run (a signal is a moment's act and never conflicts; start
 *  and stop are desired-state changes, accepted during another operation and converged after it). */
export const LOCKING: ReadonlySet<OperationKind> = new Set<OperationKind>([
  'vm.create', 'vm.resize', 'reimage', 'disc.create', 'disc.grow', 'disc.delete', 'purge', 'backup.create', 'backup.restore', 'backup.delete',
  'snapshot.create', 'snapshot.restore', 'snapshot.delete',
  'vm.power.shutdown', 'vm.power.reboot', 'vm.power.reset', 'vm.power.cycle',
  'password.reset',
  'vm.clone', 'image.template', 'disc.apply', 'vm.network.rebuild',
]);

/** Imperative kinds refused (409) while an operation of a listed kind is queued or running on the
 *  same VM. Desired-state changes (power, autoreboot) are not operations and are always accepted:
 *  the head converges them when the running operation ends. */
export const CONFLICTS: Partial<Record<OperationKind, readonly OperationKind[]>> = {
  reimage: ['reimage'],
  // A resize waits for nothing: it is refused while any act holds (or is to hold) its VM, and the
  // power acts that need the guest are refused while it runs.
  'vm.resize': [...LOCKING],
  'vm.power.shutdown': ['vm.resize'], 'vm.power.reboot': ['vm.resize'], 'vm.power.reset': ['vm.resize'], 'vm.power.cycle': ['vm.resize'],
};

/** Intents whose steps may run again when the head running one went away (its lease passed, or it
 *  registered anew): a shutdown of a machine that is off and a start of one that runs change nothing. */
export const RESUMABLE: ReadonlySet<OperationKind> = new Set<OperationKind>(['vm.resize']);

/** A PendingOperation as the head runs it: its kind and its opened args, typed together. */
export type HeadOperation = { [K in HeadKind]: { id: number; kind: K; args: Opened<OperationArgs[K]> } }[HeadKind];

const isSecretArg = (v: unknown): v is SecretArg =>
  typeof v === 'object' && v !== null && typeof (v as SecretArg).$secret === 'string' && Object.keys(v).length === 1;

/** An operation's stored args with every secret opened (for the head). */
export function openOperation(box: SecretBox, row: { id: number; kind: string; args: string }): HeadOperation {
  const args: unknown = JSON.parse(row.args, (_k, v) => (isSecretArg(v) ? box.open(v.$secret) : v));
  // The row was written by enqueue with the args of its kind.
  return { id: row.id, kind: row.kind, args } as HeadOperation;
}

/** An operation's stored args without its secrets. */
export function withoutSecrets(args: string): string {
  return JSON.stringify(JSON.parse(args, (_k, v) => (isSecretArg(v) ? undefined : v)));
}

/** The stored (sealed) args of a row of kind K. */
export function storedArgs<K extends OperationKind>(_kind: K, args: string): OperationArgs[K] {
  return JSON.parse(args) as OperationArgs[K];
}
