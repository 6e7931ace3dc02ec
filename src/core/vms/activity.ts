// What is happening to a VM now, from its queued and running operations: the dialects whose status
// words say "installing" or "deleting" (e24cloud `state`, Gigas `locked`) read it here.
import type { Hangar } from '../context.js';
import { unendedOn } from '../../store/repos/operations.js';

/** The kinds of the VM's unended operations, oldest first. */
export async function unendedKinds(h: Hangar, vmId: number): Promise<string[]> {
  return (await unendedOn(h.db, vmId)).map((o) => o.kind);
}
