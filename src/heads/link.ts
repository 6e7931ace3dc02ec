// The boundary between a head agent and the brains: desired state and operations come down,
// observed state and events go up. The embedded head uses LocalLink (the store, in-process);
// a remote head will speak the same calls over the network.
import type { HostFacts, MachineSpec, NicSpec } from '../drivers/driver.js';
import type { HeadOperation } from '../operations/kinds.js';

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
  /** Take a queued operation (running, leased to this head, holding its VM): the lease's length in
   *  ms, to be renewed before it passes; null when it is not to be run now (ended, or the VM is held). */
  startOperation(op: PendingOperation): Promise<number | null>;
  /** Keep the lease; false when the operation is no longer this head's (the sweeper failed it). */
  renewLease(op: PendingOperation): Promise<boolean>;
  finishOperation(op: PendingOperation, error: string | null): Promise<void>;
  report(vmId: number, observed: Observed): Promise<void>;
  /** The machine went off by itself and is not coming back: power_on becomes false (with why, if it failed). */
  poweredOff(vmId: number, note: string | null): Promise<void>;
}
