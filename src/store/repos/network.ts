// NICs and the addresses on them (extra IPs, rDNS, swaps). Pools and allocation: repos/ipam.ts.
import { IDS_ONLY, whereRef } from '../../core/ids.js';
import type { Db, Trx } from './types.js';

export async function nicOnVm(db: Db, nicId: number, vmId: number): Promise<boolean> {
  return (await db.selectFrom('nics').select('id').where('id', '=', nicId).where('vm_id', '=', vmId).executeTakeFirst()) !== undefined;
}

/** The VM of the NIC a segment names (id or public id). */
export async function vmOfNic(db: Db, segment: string): Promise<number | undefined> {
  return (await whereRef(db.selectFrom('nics').select('vm_id'), segment, IDS_ONLY).executeTakeFirst())?.vm_id;
}

/** The VM's first NIC (its primary one). */
export async function firstNic(db: Db, vmId: number): Promise<number | undefined> {
  return (await db.selectFrom('nics').select('id').where('vm_id', '=', vmId).orderBy('id').executeTakeFirst())?.id;
}

/** `n`: how many extra addresses the VM's NICs have (a string on PostgreSQL). */
export function countExtraIps(db: Db, vmId: number): Promise<{ n: number }> {
  return db.selectFrom('ips').innerJoin('nics', 'nics.id', 'ips.nic_id')
    .select((eb) => eb.fn.countAll<number>().as('n')).where('nics.vm_id', '=', vmId).where('ips.routed_via', 'is not', null).executeTakeFirstOrThrow();
}

/** An address on a NIC, with its VM; undefined when it is on none. */
export function attachedIp(db: Db, address: string) {
  return db.selectFrom('ips').innerJoin('nics', 'nics.id', 'ips.nic_id')
    .select(['ips.address', 'ips.rdns', 'ips.routed_via', 'ips.nic_id', 'nics.vm_id']).where('ips.address', '=', address).executeTakeFirst();
}

/** Set the rDNS name, only while the address is still on that NIC. */
export async function setIpRdns(db: Db, address: string, nicId: number, rdns: string | null): Promise<boolean> {
  const r = await db.updateTable('ips').set({ rdns }).where('address', '=', address).where('nic_id', '=', nicId).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** An extra address back in the pool, only while it is still on that NIC. */
export async function releaseExtraIp(db: Db, address: string, nicId: number): Promise<boolean> {
  const r = await db.updateTable('ips').set({ nic_id: null, account_id: null, routed_via: null, rdns: null, reason: null })
    .where('address', '=', address).where('nic_id', '=', nicId).where('routed_via', 'is not', null).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export function ipsOfNic(trx: Trx, nicId: number, primaryOnly: boolean) {
  let q = trx.selectFrom('ips').select(['id', 'address', 'family', 'routed_via']).where('nic_id', '=', nicId);
  if (primaryOnly) q = q.where('routed_via', 'is', null);
  return q.execute();
}

export async function moveIps(trx: Trx, ipIds: number[], nicId: number): Promise<void> {
  if (ipIds.length) await trx.updateTable('ips').set({ nic_id: nicId }).where('id', 'in', ipIds).execute();
}

/** The NIC's extra addresses of a family routed via a new primary address. */
export async function rerouteExtras(trx: Trx, nicId: number, family: number, via: string): Promise<void> {
  await trx.updateTable('ips').set({ routed_via: via }).where('nic_id', '=', nicId).where('family', '=', family).where('routed_via', 'is not', null).execute();
}
