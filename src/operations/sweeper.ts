// Nothing stays running forever: an operation whose lease was not renewed (its head or brain
// crashed, or lost the store) or whose deadline passed is failed, with its effects (a reimage that
// never ended leaves the machine off) and its VM released. A step of a resumable intent (a resize)
// whose lease passed is queued again instead, for its head to run again, until its deadline.
// Finished operations are forgotten after `operationRetentionDays`, audit rows after their own
// retention (core/audit.ts).
import type { Hangar } from '../core/context.js';
import { finishOperation, resumeStep } from './queue.js';
import { FINISHED } from './kinds.js';
import { deleteEndedBefore, stuckOperations } from '../store/repos/operations.js';
import { forgetOldAudit } from '../core/audit.js';

export const LEASE_EXPIRED = 'its lease expired: the head running it stopped answering';
export const DEADLINE_PASSED = 'its deadline passed before it ended';

export async function sweepOperations(h: Hangar): Promise<{ failed: number; forgotten: number }> {
  const now = h.now();
  let failed = 0;
  for (const op of await stuckOperations(h.db, now)) {
    const leaseGone = op.state === 'running' && op.lease_until !== null && op.lease_until < now;
    const resumed = leaseGone && op.parent_id !== null ? await resumeStep(h.db, op.id, now) : null;
    if (resumed === 'ended') continue;
    if (resumed) {
      const { headId, vmId } = resumed.resumed;
      if (headId !== null && vmId !== null) void h.heads.kick(headId, vmId);
      continue;
    }
    if (await finishOperation(h.db, op.id, now, { error: leaseGone ? LEASE_EXPIRED : DEADLINE_PASSED })) failed++;
  }
  const forgotten = await deleteEndedBefore(h.db, FINISHED, now - h.config.operationRetentionDays * 86_400_000);
  await forgetOldAudit(h);
  return { failed, forgotten };
}
