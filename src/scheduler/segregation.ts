// Segregation in placement (docs/domain.md §19): a VM is never placed on a head where a VM it must be
// kept apart from is placed. Read inside the claim transaction, so the claim and the check agree.
import { DomainError } from '../core/errors.js';
import { headsToAvoid } from '../store/repos/segregation.js';
import type { Trx } from '../store/repos/types.js';

/**
 * Remove from `candidates` (in place: place.ts goes on with what is left) the heads that the VM's
 * segregation partners, or the VMs in `apartFrom`, are on. When that leaves none, where some heads
 * were possible, it is a `conflict` naming the heads the partners hold, not a full zone.
 */
export async function keepApart(trx: Trx, req: { vmId?: number; apartFrom?: number[] }, candidates: { id: number; label: string }[]): Promise<void> {
  if (req.vmId === undefined && !req.apartFrom?.length) return;
  const avoid = new Set(await headsToAvoid(trx, req.vmId ?? null, req.apartFrom ?? []));
  if (avoid.size === 0) return;
  const before = candidates.length;
  const kept = candidates.filter((h) => !avoid.has(h.id));
  if (kept.length === 0 && before > 0) {
    throw new DomainError({ code: 'conflict', params: { reason: 'segregation', heads: candidates.map((h) => h.label).join(', ') } });
  }
  candidates.splice(0, candidates.length, ...kept);
}
