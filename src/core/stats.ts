// Stats samples kept over time (docs/domain.md §20). A head reports cumulative counter readings of
// its machines (the `stats` message of the head protocol); each reading minus the last one kept is
// what the VM used since, added to its 5-minute, hourly and daily buckets at once (so a roll-up is
// never behind the samples it sums, and no sweeper has to make it). Old buckets are pruned per
// resolution (`pruneStats`). Reads are for a VM the caller may see, over a time range.
import type { Store } from '../store/db.js';
import * as repo from '../store/repos/stats.js';
import type { Usage } from '../store/repos/stats.js';
import { withTransaction } from './transaction.js';
import { canSeeVm, type Principal } from './principal.js';
import { invalid, notFound, refused } from './errors.js';
import type { VmPlace } from './resolve.js';
import type { Hangar } from './context.js';

export const RESOLUTIONS = { '5m': 5 * 60_000, '1h': 3_600_000, '1d': 86_400_000 } as const;
export type Resolution = keyof typeof RESOLUTIONS;
const DAY = 86_400_000;
/** How long buckets of each resolution are kept (§20): Gigas reads back a year of days, 30 days of hours. */
export const DEFAULT_RETENTION: Record<Resolution, number> = { '5m': 2 * DAY, '1h': 35 * DAY, '1d': 400 * DAY };

/** One cumulative reading of a machine, as a head's driver takes it. Network bytes are null where
 *  they cannot be measured (user-mode networking): never a made-up 0. `nics`: per-NIC bytes, when known. */
export interface StatsReading {
  at: number;
  cpuMs: number;
  discReadBytes: number;
  discWriteBytes: number;
  netRxBytes: number | null;
  netTxBytes: number | null;
  nics?: { nicId: number; rxBytes: number | null; txBytes: number | null }[];
}

export interface StatsBucket extends Usage { nicId: number | null; bucketStart: number }
export interface StatsRange { resolution: Resolution; from: number; to: number }

const bucketOf = (at: number, res: Resolution) => Math.floor(at / RESOLUTIONS[res]) * RESOLUTIONS[res];

/** What was used between two readings of one counter; null when either is not measurable. A counter
 *  that went down was restarted (the machine booted again): it counted up from 0. */
function used(prev: number | null, cur: number | null): number | null {
  if (prev === null || cur === null) return null;
  return cur >= prev ? cur - prev : cur;
}

function nonNegative(field: string, n: number | null | undefined): void {
  if (n !== null && !(n !== undefined && Number.isSafeInteger(n) && n >= 0)) throw invalid(field, 'out_of_range', { min: 0 });
}

/**
 * Record a head's readings of one VM. Readings of a VM that is deleted, or (with `headId`) not on
 * that head, are dropped: the head may still be reporting a machine moved or removed since. The first
 * reading of a series only starts it: what the machine used before it is not known to this store.
 * A reading not later than the last one kept is ignored (a report sent twice).
 */
export async function recordSamples(db: Store, vmId: number, readings: StatsReading[], headId: number | null = null): Promise<void> {
  // Checked here, not trusted: the readings come over the head protocol as plain JSON.
  if (!Array.isArray(readings)) throw invalid('samples', 'invalid');
  for (const [i, r] of readings.entries()) {
    if (typeof r !== 'object' || r === null) throw invalid(`samples[${i}]`, 'invalid');
    if (!Number.isSafeInteger(r.at)) throw invalid(`samples[${i}].at`, 'not_a_number');
    nonNegative(`samples[${i}].cpuMs`, r.cpuMs);
    nonNegative(`samples[${i}].discReadBytes`, r.discReadBytes);
    nonNegative(`samples[${i}].discWriteBytes`, r.discWriteBytes);
    nonNegative(`samples[${i}].netRxBytes`, r.netRxBytes);
    nonNegative(`samples[${i}].netTxBytes`, r.netTxBytes);
    if (r.nics !== undefined && !Array.isArray(r.nics)) throw invalid(`samples[${i}].nics`, 'invalid');
    for (const [j, n] of (r.nics ?? []).entries()) {
      if (typeof n !== 'object' || n === null) throw invalid(`samples[${i}].nics[${j}]`, 'invalid');
      nonNegative(`samples[${i}].nics[${j}].rxBytes`, n.rxBytes);
      nonNegative(`samples[${i}].nics[${j}].txBytes`, n.txBytes);
    }
  }
  const head = await repo.vmHead(db, vmId);
  if (head === undefined || (headId !== null && head !== headId)) return;
  const sorted = [...readings].sort((a, b) => a.at - b.at);
  const nics = new Set(await repo.nicIdsOf(db, vmId));
  await withTransaction(db, async (trx) => {
    const last = await repo.countersOf(trx, vmId);
    const series = async (nicId: number, at: number, cur: Usage) => {
      const prev = last.get(nicId);
      if (prev && at <= prev.at) return;
      last.set(nicId, { at, ...cur });
      await repo.saveCounters(trx, vmId, nicId, { at, ...cur });
      if (!prev) return;
      const delta: Usage = {
        cpuMs: used(prev.cpuMs, cur.cpuMs), readBytes: used(prev.readBytes, cur.readBytes), writeBytes: used(prev.writeBytes, cur.writeBytes),
        rxBytes: used(prev.rxBytes, cur.rxBytes), txBytes: used(prev.txBytes, cur.txBytes),
      };
      for (const res of Object.keys(RESOLUTIONS) as Resolution[]) await repo.addToBucket(trx, vmId, nicId, res, bucketOf(at, res), delta);
    };
    for (const r of sorted) {
      await series(0, r.at, { cpuMs: r.cpuMs, readBytes: r.discReadBytes, writeBytes: r.discWriteBytes, rxBytes: r.netRxBytes, txBytes: r.netTxBytes });
      for (const n of (r.nics ?? []).filter((x) => nics.has(x.nicId))) {
        await series(n.nicId, r.at, { cpuMs: null, readBytes: null, writeBytes: null, rxBytes: n.rxBytes, txBytes: n.txBytes });
      }
    }
  });
}

/** Drop buckets older than their resolution's retention; how many went. */
export async function pruneStats(db: Store, now: number, retention: Record<Resolution, number> = DEFAULT_RETENTION): Promise<number> {
  let gone = 0;
  for (const res of Object.keys(RESOLUTIONS) as Resolution[]) gone += await repo.pruneSamples(db, res, now - retention[res]);
  return gone;
}

function readable(p: Principal, at: VmPlace): void {
  if (!canSeeVm(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id })) throw notFound('virtual_machine');
}

function checkRange(range: StatsRange): void {
  if (!Object.hasOwn(RESOLUTIONS, range.resolution)) throw invalid('resolution', 'not_in_list');
  if (!Number.isSafeInteger(range.from)) throw invalid('from', 'not_a_number');
  if (!Number.isSafeInteger(range.to)) throw invalid('to', 'not_a_number');
  if (range.to <= range.from) throw refused('to', 'before_from', { gt: range.from }, 'out_of_range');
}

/** The VM's buckets of a resolution that start in [from, to): VM-wide (nicId null: CPU, disc and all
 *  network bytes) and per NIC (network bytes only). Buckets with nothing recorded are absent. */
export async function readStats(h: Hangar, p: Principal, at: VmPlace, range: StatsRange): Promise<StatsBucket[]> {
  readable(p, at);
  checkRange(range);
  const rows = await repo.samplesOf(h.db, at.vm.id, range.resolution, range.from, range.to);
  return rows.map(({ resolution: _, ...b }) => b);
}

/** Gigas `cpu_stats` (G15): per bucket, the CPU time used as a percent of what the VM's cores could
 *  have used in it (2 decimals). Buckets with nothing recorded are absent. */
export async function cpuStats(h: Hangar, p: Principal, at: VmPlace, range: StatsRange): Promise<{ bucketStart: number; percent: number }[]> {
  const rows = await readStats(h, p, at, range);
  const capacity = RESOLUTIONS[range.resolution] * Math.max(1, at.vm.cores);
  return rows.filter((r) => r.nicId === null && r.cpuMs !== null)
    .map((r) => ({ bucketStart: r.bucketStart, percent: Math.round((r.cpuMs! / capacity) * 10_000) / 100 }));
}

/** e24 `transfer_used` (G15): network bytes in and out since the start of this UTC month, in GB
 *  (1024³ bytes), 2 decimals. null when the VM's traffic cannot be measured (user-mode networking).
 *  All its NICs count: which networks are public is decided with the networks model. */
export async function transferUsed(h: Hangar, p: Principal, at: VmPlace): Promise<number | null> {
  const now = new Date(h.now());
  const from = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const rows = (await readStats(h, p, at, { resolution: '1d', from, to: h.now() + 1 })).filter((r) => r.nicId === null);
  if (rows.length > 0 && rows.every((r) => r.rxBytes === null && r.txBytes === null)) return null;
  const bytes = rows.reduce((sum, r) => sum + (r.rxBytes ?? 0) + (r.txBytes ?? 0), 0);
  return Math.round((bytes / 1024 ** 3) * 100) / 100;
}
