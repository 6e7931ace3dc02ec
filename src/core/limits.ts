// A VM's CPU weight and NIC rate limits, put in place on its head (`limits.apply`). The head
// enforces what it can and says which (`enforced`): a CPU weight where its host has a writable cgroup
// cpu controller, a rate limit on bridged NICs (tc on the tap, nftables policing; user-mode
// networking cannot). A dialect that stores these values (Gigas `cpu_shares`, `rate_limit`) calls this
// after a change; every start gets them from the stored settings (migration 017: `cpu_shares`,
// `rate_limit_mbps` of the primary NIC; migration 024: every other NIC's own) with the desired state
// (brain/link.ts, `limitsOfSettings`).
import type { Hangar } from './context.js';
import type { MachineLimits } from '../drivers/driver.js';
import { enqueue, getOperation } from '../operations/queue.js';
import { forbidden, invalid, notFound, refused } from './errors.js';
import { canSeeVm, holds, type Principal } from './principal.js';
import { lockLiveVm } from './locks.js';
import { withTransaction } from './transaction.js';
import { nicsOf } from '../store/repos/firewall.js';
import type { VmPlace } from './resolve.js';

export const MAX_CPU_WEIGHT = 10_000;

/** The CPU weight of a stored `cpu_shares` (Gigas: "number of shared cpus"): one share weighs as an
 *  ordinary process (100), two twice as much; null: not set. */
export function cpuWeightOfShares(shares: number | null): number | null {
  return shares === null || shares < 1 ? null : Math.min(MAX_CPU_WEIGHT, shares * 100);
}

/** What a head needs of a VM's stored settings (migration 017) to enforce them from its start: its CPU
 *  weight, and the rate limit of its primary (first) NIC (every other NIC's is on the NIC, migration 024). */
export interface StartLimits { cpuWeight: number | null; primaryRateLimitMbps: number | null }

/** The limits of a VM's settings row (none: no limits). */
export function limitsOfSettings(s: { cpu_shares: number | null; rate_limit_mbps: number | null } | undefined): StartLimits {
  return { cpuWeight: cpuWeightOfShares(s?.cpu_shares ?? null), primaryRateLimitMbps: s?.rate_limit_mbps || null };
}

export interface LimitsApply {
  operation: string; state: string; error: string | null;
  /** What the head enforces; null while it has not answered. false: stored only. */
  enforced: { cpuWeight: boolean; rateLimit: boolean } | null;
}

/** `cpuWeight`: 1..10000, 100 = an ordinary process (null: default). `rateLimitMbps` per NIC id: ≥ 0 (0 or null: unlimited). */
export async function applyVmLimits(h: Hangar, p: Principal, at: VmPlace, limits: MachineLimits): Promise<LimitsApply> {
  const place = { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id };
  if (!canSeeVm(p, place)) throw notFound('virtual_machine');
  if (!holds(p, place, 'vm_admin')) throw forbidden('change_vm_part');
  const w = limits.cpuWeight;
  if (w !== null && (!Number.isSafeInteger(w) || w < 1 || w > MAX_CPU_WEIGHT)) throw invalid('cpuWeight', 'out_of_range', { min: 1, max: MAX_CPU_WEIGHT });
  for (const [i, n] of limits.nics.entries()) {
    const r = n.rateLimitMbps;
    if (r !== null && (!Number.isSafeInteger(r) || r < 0)) throw invalid(`nics[${i}].rateLimitMbps`, 'out_of_range', { min: 0 });
  }
  const { opId, headId } = await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    if (vm.head_id === null) throw refused('virtual_machine', 'vm_not_placed', {}, 'state');
    const mine = new Set((await nicsOf(trx, vm.id)).map((n) => n.id));
    if (limits.nics.some((n) => !mine.has(n.nicId))) throw notFound('network_interface');
    const args: MachineLimits = { cpuWeight: w, nics: limits.nics.map((n) => ({ nicId: n.nicId, rateLimitMbps: n.rateLimitMbps || null })) };
    const opId = await enqueue(trx, { kind: 'limits.apply', vmId: vm.id, headId: vm.head_id, userId: p.userId, args, now: h.now() });
    return { opId, headId: vm.head_id };
  });
  await h.heads.kick(headId, at.vm.id);
  const op = (await getOperation(h.db, opId))!;
  const result = op.result ? (JSON.parse(op.result) as { limits?: LimitsApply['enforced'] }) : null;
  return { operation: op.uuid, state: op.state, error: op.error, enforced: op.state === 'done' ? result?.limits ?? null : null };
}
