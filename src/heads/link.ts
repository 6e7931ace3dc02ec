// The boundary between a head agent and the brains, as a typed, versioned message set
// (docs/head-protocol.md): the head sends up-messages (register, images, observed state, events,
// operation started/renewed/finished with its result, and asks what is wanted), the brain answers
// each with one down-message (desired state with the operations to run, a lease, an ack) or refuses
// it. Messages are plain data (JSON), whatever carries them: the embedded head's LocalLink passes
// them through a JSON round trip in-process (local-link.ts), a network link will send the same text.
// The brain's side is brain/link.ts; the agent talks through the BrainLink calls below.
import type { HostFacts, MachineSpec, NicSpec } from '../drivers/driver.js';
import type { HeadOperation, OperationResult } from '../operations/kinds.js';
import type { StatsReading } from '../core/stats.js';

/** The protocol's version: a peer speaking another one is refused (ProtocolError) before anything is read. */
export const PROTOCOL_VERSION = 1;

/** A VM's desired state as the brain holds it: what to boot (a MachineSpec less the head's own
 *  network choice) and how it should be powered. */
export interface DesiredVm extends Omit<MachineSpec, 'vmId' | 'nics'> {
  id: number;
  nics: Omit<NicSpec, 'network'>[];
  powerOn: boolean;
  autorebootOn: boolean;
  deleted: boolean;
  /** When powerCycle > observedCycle the brain asked for a fresh boot (stop, then start). */
  powerCycle: number;
  observedCycle: number;
  /** The head last reported the machine running (so finding it stopped means it went down by itself). */
  observedRunning: boolean;
  sshPort: number | null;
}

/** A queued operation as the head runs it: its kind with its args, secrets opened. */
export type PendingOperation = HeadOperation;

export interface Observed {
  running: boolean;
  pid: number | null;
  observedCycle?: number;
  booted?: boolean;
  sshPort?: number | null;
  vncPort?: number | null;
  note?: string | null;
}

/** How an operation ended, as its head reports it. */
export interface OperationOutcome { error: string | null; result: OperationResult | null }

type V = { v: number };

/** Head → brain. Every message but `register` names the head it comes from. */
export type UpMessage = V & (
  | { type: 'register'; label: string; zone: string; managementAddress: string; facts: HostFacts }
  | { type: 'images'; headId: number; images: string[] }
  /** Which VMs need a look (desired and observed differ, operations queued), and which the brain believes run. */
  | { type: 'sync'; headId: number }
  | { type: 'desired.get'; headId: number; vmId: number }
  /** The operations to run on volumes with no VM (an account holds them): made, deleted, imaged. */
  | { type: 'volumes.get'; headId: number }
  | { type: 'observed'; headId: number; vmId: number; observed: Observed }
  /** Event: the machine went off by itself and is not coming back (power_on falls, with why if it failed). */
  | { type: 'event.powered-off'; headId: number; vmId: number; note: string | null }
  | { type: 'operation.started'; headId: number; opId: number }
  | { type: 'operation.renewed'; headId: number; opId: number }
  | { type: 'operation.finished'; headId: number; opId: number; outcome: OperationOutcome }
  /** Cumulative counter readings of one machine (core/stats.ts makes them buckets). */
  | { type: 'stats'; headId: number; vmId: number; samples: StatsReading[] }
);

/** Brain → head: the answer to one up-message. */
export type DownMessage = V & (
  | { type: 'registered'; headId: number }
  | { type: 'sync'; attention: number[]; believedRunning: number[] }
  | { type: 'desired'; vmId: number; vm: DesiredVm | null; ops: PendingOperation[] }
  | { type: 'volumes'; ops: PendingOperation[] }
  /** `leaseMs`: the lease's length, to be renewed before it passes; null: not to be run now (ended, or its VM held). */
  | { type: 'lease'; opId: number; leaseMs: number | null }
  /** `held`: for a renewal, whether the operation is still this head's. */
  | { type: 'ack'; held?: boolean }
  | { type: 'refused'; error: string }
);

export type UpType = UpMessage['type'];
export type DownType = DownMessage['type'];
/** The answer each up-message gets (besides `refused`). */
export interface Answers {
  register: 'registered'; images: 'ack'; sync: 'sync'; 'desired.get': 'desired'; 'volumes.get': 'volumes'; observed: 'ack'; 'event.powered-off': 'ack';
  'operation.started': 'lease'; 'operation.renewed': 'ack'; 'operation.finished': 'ack';
  stats: 'ack';
}
type Up<T extends UpType> = Omit<Extract<UpMessage, { type: T }>, 'v'>;
type Down<T extends UpType> = Extract<DownMessage, { type: Answers[T] }>;
type UpBody = { [T in UpType]: Up<T> }[UpType];
const stamp = (m: UpBody): UpMessage => ({ v: PROTOCOL_VERSION, ...m });

const UP_TYPES: Record<UpType, true> = {
  register: true, images: true, sync: true, 'desired.get': true, 'volumes.get': true, observed: true, 'event.powered-off': true,
  'operation.started': true, 'operation.renewed': true, 'operation.finished': true,
  stats: true,
};
const DOWN_TYPES: Record<DownType, true> = { registered: true, sync: true, desired: true, volumes: true, lease: true, ack: true, refused: true };

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function envelope(raw: unknown, types: Record<string, true>, from: string): { v: number; type: string } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ProtocolError(`a message from the ${from} is not an object`);
  const { v, type } = raw as { v?: unknown; type?: unknown };
  if (v !== PROTOCOL_VERSION) {
    throw new ProtocolError(`the ${from} speaks head protocol version ${JSON.stringify(v ?? null)}; this side speaks version ${PROTOCOL_VERSION} only`);
  }
  if (typeof type !== 'string' || !Object.hasOwn(types, type)) throw new ProtocolError(`unknown message type from the ${from}: ${JSON.stringify(type ?? null)}`);
  return { v, type };
}

/** Check an up-message as received (parsed JSON): its version first, then its type. */
export function parseUp(raw: unknown): UpMessage {
  envelope(raw, UP_TYPES, 'head');
  return raw as UpMessage;
}

/** Check a down-message as received: its version first, then its type. */
export function parseDown(raw: unknown): DownMessage {
  envelope(raw, DOWN_TYPES, 'brain');
  return raw as DownMessage;
}

/** Carries one up-message to a brain and brings back its answer, as plain data (JSON text on a network). */
export interface Transport {
  send(message: UpMessage): Promise<unknown>;
}

/** What the head agent calls; each call is one up-message and its answer. */
export interface BrainLink {
  /** Announce this head and its facts; returns the head's id. */
  register(label: string, zone: string, managementAddress: string, facts: HostFacts): Promise<number>;
  /** The images built on this head (placement puts a machine to be imaged only where its image is). */
  reportImages(images: string[]): Promise<void>;
  /** VMs that need a look: desired and observed differ, or operations are queued. */
  attention(): Promise<number[]>;
  /** VMs the brain believes are running on this head. */
  believedRunning(): Promise<number[]>;
  desired(vmId: number): Promise<{ vm: DesiredVm | null; ops: PendingOperation[] }>;
  /** Queued operations on volumes with no VM (optional: a test link may hold none). */
  volumeOps?(): Promise<PendingOperation[]>;
  /** Take a queued operation (running, leased to this head, holding its VM): the lease's length in
   *  ms, to be renewed before it passes; null when it is not to be run now (ended, or the VM is held). */
  startOperation(op: PendingOperation): Promise<number | null>;
  /** Keep the lease; false when the operation is no longer this head's (the sweeper failed it). */
  renewLease(op: PendingOperation): Promise<boolean>;
  finishOperation(op: PendingOperation, error: string | null, result?: OperationResult | null): Promise<void>;
  report(vmId: number, observed: Observed): Promise<void>;
  /** The machine went off by itself and is not coming back: power_on becomes false (with why, if it failed). */
  poweredOff(vmId: number, note: string | null): Promise<void>;
  /** Counter readings of a running machine (optional: a test link may keep none). */
  reportStats?(vmId: number, samples: StatsReading[]): Promise<void>;
}

/** The agent's side of the protocol over any transport. */
export class MessageLink implements BrainLink {
  headId = 0;

  constructor(private readonly transport: Transport) {}

  /** Send one up-message; its answer, checked to be of the type this message gets. */
  async call<T extends UpType>(message: Up<T> & UpBody): Promise<Down<T>> {
    const answer = parseDown(await this.transport.send(stamp(message)));
    if (answer.type === 'refused') throw new ProtocolError(`the brain refused ${message.type}: ${answer.error}`);
    return answer as Down<T>;
  }

  async register(label: string, zone: string, managementAddress: string, facts: HostFacts): Promise<number> {
    this.headId = (await this.call<'register'>({ type: 'register', label, zone, managementAddress, facts })).headId;
    return this.headId;
  }

  async reportImages(images: string[]): Promise<void> {
    await this.call<'images'>({ type: 'images', headId: this.headId, images });
  }

  async attention(): Promise<number[]> {
    return (await this.call<'sync'>({ type: 'sync', headId: this.headId })).attention;
  }

  async believedRunning(): Promise<number[]> {
    return (await this.call<'sync'>({ type: 'sync', headId: this.headId })).believedRunning;
  }

  async desired(vmId: number): Promise<{ vm: DesiredVm | null; ops: PendingOperation[] }> {
    const { vm, ops } = await this.call<'desired.get'>({ type: 'desired.get', headId: this.headId, vmId });
    return { vm, ops };
  }

  async volumeOps(): Promise<PendingOperation[]> {
    return (await this.call<'volumes.get'>({ type: 'volumes.get', headId: this.headId })).ops;
  }

  async startOperation(op: PendingOperation): Promise<number | null> {
    return (await this.call<'operation.started'>({ type: 'operation.started', headId: this.headId, opId: op.id })).leaseMs;
  }

  async renewLease(op: PendingOperation): Promise<boolean> {
    return (await this.call<'operation.renewed'>({ type: 'operation.renewed', headId: this.headId, opId: op.id })).held ?? false;
  }

  async finishOperation(op: PendingOperation, error: string | null, result: OperationResult | null = null): Promise<void> {
    await this.call<'operation.finished'>({ type: 'operation.finished', headId: this.headId, opId: op.id, outcome: { error, result } });
  }

  async report(vmId: number, observed: Observed): Promise<void> {
    await this.call<'observed'>({ type: 'observed', headId: this.headId, vmId, observed });
  }

  async poweredOff(vmId: number, note: string | null): Promise<void> {
    await this.call<'event.powered-off'>({ type: 'event.powered-off', headId: this.headId, vmId, note });
  }

  async reportStats(vmId: number, samples: StatsReading[]): Promise<void> {
    await this.call<'stats'>({ type: 'stats', headId: this.headId, vmId, samples });
  }
}
