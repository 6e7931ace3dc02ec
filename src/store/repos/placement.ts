// Head and pool counters (heads.used_*, storage_pools.used): claimed and released with guarded
// UPDATEs inside the caller's transaction, so two brains can never over-commit a head.
import { sql } from 'kysely';
import type { HeadRow } from '../schema.js';
import type { Trx } from './types.js';

/** Online heads (of a zone), the one with the most free memory first. */
export function onlineHeads(trx: Trx, zone: string | null): Promise<HeadRow[]> {
  let q = trx.selectFrom('heads').selectAll().where('online', '=', 1);
  if (zone) q = q.where('zone', '=', zone);
  return q.orderBy(sql`memory - used_memory`, 'desc').orderBy('id').execute();
}

/** Every head (of a zone), online or not, with why it is not taking machines. */
export function headNotes(trx: Trx, zone: string | null): Promise<{ label: string; note: string | null }[]> {
  let q = trx.selectFrom('heads').select(['label', 'note']);
  if (zone) q = q.where('zone', '=', zone);
  return q.execute();
}

/** The ids of the head's pools of the grade, roomiest first. */
export async function poolsByRoom(trx: Trx, headId: number, grade: string): Promise<number[]> {
  const pools = await trx.selectFrom('storage_pools').select(['id']).where('head_id', '=', headId).where('grade', '=', grade)
    .orderBy(sql`capacity - used`, 'desc').execute();
  return pools.map((p) => p.id);
}

/** The pools of the grade on these heads, roomiest first. */
export function poolsInHeadsByRoom(trx: Trx, headIds: number[], grade: string): Promise<{ id: number; headId: number }[]> {
  if (headIds.length === 0) return Promise.resolve([]);
  return trx.selectFrom('storage_pools').select(['id', 'head_id as headId']).where('head_id', 'in', headIds).where('grade', '=', grade)
    .orderBy(sql`capacity - used`, 'desc').orderBy('id').execute();
}

/** Add `delta` MiB to a pool's use; false when it would not fit. */
export async function growPool(trx: Trx, poolId: number, delta: number): Promise<boolean> {
  const r = await trx.updateTable('storage_pools').set({ used: sql`used + ${delta}` })
    .where('id', '=', poolId).where(sql<boolean>`used + ${delta} <= capacity`).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export async function releasePool(trx: Trx, poolId: number, size: number): Promise<void> {
  await trx.updateTable('storage_pools').set({ used: sql`used - ${size}` }).where('id', '=', poolId).execute();
}

/** Adjust a head's claimed cores and memory by a delta; false when growing would over-commit it. */
export async function adjustCompute(trx: Trx, headId: number, cores: number, memory: number): Promise<boolean> {
  const r = await trx.updateTable('heads')
    .set({ used_cores: sql`used_cores + ${cores}`, used_memory: sql`used_memory + ${memory}` })
    .where('id', '=', headId)
    .where(sql<boolean>`(${cores} <= 0 OR used_cores + ${cores} <= cores * cpu_overcommit) AND (${memory} <= 0 OR used_memory + ${memory} <= memory)`)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}
