// Segregation pairs (migration 015): two VMs kept on different heads, stored low id first.
import { randomUUID } from 'node:crypto';
import type { Db, Trx } from './types.js';

export interface PairRow { id: number; uuid: string; partnerId: number; partnerUuid: string; partnerGroupId: number; createdByUserId: number | null; createdAt: number }

const ordered = (a: number, b: number): [number, number] => (a < b ? [a, b] : [b, a]);

/** Add the pair unless it is there (the caller holds both VMs' rows); whether it was added. */
export async function insertPair(trx: Trx, a: number, b: number, userId: number | null, now: number): Promise<boolean> {
  const [low, high] = ordered(a, b);
  const there = await trx.selectFrom('vm_segregations').select('id').where('vm_id_low', '=', low).where('vm_id_high', '=', high).executeTakeFirst();
  if (there) return false;
  await trx.insertInto('vm_segregations')
    .values({ uuid: randomUUID(), vm_id_low: low, vm_id_high: high, created_by_user_id: userId, created_at: now }).execute();
  return true;
}

export async function deletePair(trx: Trx, a: number, b: number): Promise<boolean> {
  const [low, high] = ordered(a, b);
  const r = await trx.deleteFrom('vm_segregations').where('vm_id_low', '=', low).where('vm_id_high', '=', high).executeTakeFirst();
  return Number(r.numDeletedRows) === 1;
}

/** A VM's pairs with their partners (live ones only), lowest partner id first. */
export async function pairsOf(db: Db, vmId: number): Promise<PairRow[]> {
  const side = (mine: 'vm_id_low' | 'vm_id_high', theirs: 'vm_id_low' | 'vm_id_high') => db.selectFrom('vm_segregations as s')
    .innerJoin('vms as v', 'v.id', `s.${theirs}`)
    .select(['s.id', 's.uuid', 's.created_by_user_id', 's.created_at', 'v.id as partner_id', 'v.uuid as partner_uuid', 'v.group_id'])
    .where(`s.${mine}`, '=', vmId).where('v.deleted', '=', 0).execute();
  const rows = [...await side('vm_id_low', 'vm_id_high'), ...await side('vm_id_high', 'vm_id_low')];
  return rows.sort((a, b) => a.partner_id - b.partner_id).map((r) => ({
    id: r.id, uuid: r.uuid, partnerId: r.partner_id, partnerUuid: r.partner_uuid, partnerGroupId: r.group_id,
    createdByUserId: r.created_by_user_id, createdAt: r.created_at,
  }));
}

/** The heads that the given VMs, and the partners of `vmId`, are on (live VMs placed on a head). */
export async function headsToAvoid(trx: Trx, vmId: number | null, apartFrom: number[]): Promise<number[]> {
  const ids = new Set(apartFrom);
  if (vmId !== null) for (const p of await pairsOf(trx, vmId)) ids.add(p.partnerId);
  ids.delete(vmId ?? -1);
  if (ids.size === 0) return [];
  const rows = await trx.selectFrom('vms').select('head_id').where('id', 'in', [...ids]).where('deleted', '=', 0)
    .where('head_id', 'is not', null).execute();
  return [...new Set(rows.map((r) => r.head_id!))];
}
