// Nothing stays running forever: an operation whose lease was not renewed (its head or brain
// crashed, or lost the store) or whose deadline passed is failed, with its effects (a reimage that
// never ended leaves the machine off) and its VM released. Finished operations are forgotten after
// `operationRetentionDays`.
import type { Hangar } from '../core/context.js';
import { finishOperation } from './queue.js';
import { FINISHED } from './kinds.js';

export const LEASE_EXPIRED = 'its lease expired: the head running it stopped answering';
export const DEADLINE_PASSED = 'its deadline passed before it ended';

export async function sweepOperations(h: Hangar): Promise<{ failed: number; forgotten: number }> {
  const now = h.now();
  const stuck = await h.db.selectFrom('operations').select(['id', 'state', 'lease_until', 'deadline'])
    .where((eb) => eb.or([
      eb.and([eb('state', '=', 'running'), eb('lease_until', '<', now)]),
      eb.and([eb('state', 'in', ['queued', 'running']), eb('deadline', '<', now)]),
    ])).orderBy('id').execute();
  let failed = 0;
  for (const op of stuck) {
    const leaseGone = op.state === 'running' && op.lease_until !== null && op.lease_until < now;
    if (await finishOperation(h.db, op.id, now, { error: leaseGone ? LEASE_EXPIRED : DEADLINE_PASSED })) failed++;
  }
  const cutoff = now - h.config.operationRetentionDays * 86_400_000;
  const gone = await h.db.deleteFrom('operations').where('state', 'in', [...FINISHED]).where('finished_at', '<', cutoff).executeTakeFirst();
  return { failed, forgotten: Number(gone.numDeletedRows) };
}
