// Address pools (ip_ranges) and addresses (ips). An address is free in its pool when it is on no NIC
// and no account holds it (migration 012); the lowest free offset is handed out first. Each time an
// address leaves its pool it gets a new public id (migration 025), kept while it is held or attached.
import { randomUUID } from 'node:crypto';
import { sql, type Updateable } from 'kysely';
import { isPostgres } from '../dialect.js';
import type { Store } from '../db.js';
import type { IpsTable } from '../schema.js';
import type { Db } from './types.js';

export async function rangeExists(db: Db, cidr: string): Promise<boolean> {
  return (await db.selectFrom('ip_ranges').select('id').where('cidr', '=', cidr).executeTakeFirst()) !== undefined;
}

export async function insertRange(db: Db, r: { cidr: string; family: 4 | 6; vlanNum: number; lastOffset: number }): Promise<void> {
  await db.insertInto('ip_ranges').values({ cidr: r.cidr, family: r.family, vlan_num: r.vlanNum, zone: null, next_offset: 2, first_offset: 2, last_offset: r.lastOffset }).execute();
}

export function rangesOf(db: Db, family: 4 | 6): Promise<{ id: number; cidr: string }[]> {
  return db.selectFrom('ip_ranges').select(['id', 'cidr']).where('family', '=', family).orderBy('id').execute();
}

export interface Holder { nicId: number; routedVia: string | null; reason: string | null }

/**
 * The lowest free address of a range, given to its new holder if it is still free when written (a
 * racing allocation may have taken it: then the next one); null when the range has no free row.
 */
async function takeFree(db: Db, rangeId: number, holder: Updateable<IpsTable>): Promise<string | null> {
  for (;;) {
    let freeQ = db.selectFrom('ips').select(['id', 'address']).where('range_id', '=', rangeId)
      .where('nic_id', 'is', null).where('account_id', 'is', null).orderBy('offset').limit(1);
    if (isPostgres(db as Store)) freeQ = freeQ.forUpdate().skipLocked();
    const free = await freeQ.executeTakeFirst();
    if (!free) return null;
    const taken = await db.updateTable('ips').set({ ...holder, rdns: null, uuid: randomUUID() })
      .where('id', '=', free.id).where('nic_id', 'is', null).where('account_id', 'is', null).executeTakeFirst();
    if (Number(taken.numUpdatedRows) === 1) return free.address;
  }
}

/** The lowest free address of a range, put on the NIC; null when none is free. */
export function takeFreeAddress(db: Db, rangeId: number, to: Holder): Promise<string | null> {
  return takeFree(db, rangeId, { nic_id: to.nicId, routed_via: to.routedVia, reason: to.reason });
}

/** The range's next never-used offset, taken; null when the range is exhausted. */
export async function takeNextOffset(db: Db, rangeId: number): Promise<number | null> {
  const bumped = await db.updateTable('ip_ranges')
    .set({ next_offset: sql`next_offset + 1` })
    .where('id', '=', rangeId).whereRef('next_offset', '<=', 'last_offset')
    .returning('next_offset').executeTakeFirst();
  return bumped ? bumped.next_offset - 1 : null;
}

export async function insertAddress(
  db: Db, a: { rangeId: number; offset: number; address: string; family: 4 | 6; now: number } & Holder,
): Promise<void> {
  await db.insertInto('ips').values({
    uuid: randomUUID(), range_id: a.rangeId, offset: a.offset, address: a.address, family: a.family, nic_id: a.nicId,
    routed_via: a.routedVia, rdns: null, reason: a.reason, created_at: a.now,
  }).execute();
}

/** Every address of these NICs back in its pool (owned ones too); addresses chosen by the user (no pool) go away. */
export async function releaseAddresses(db: Db, nicIds: number[]): Promise<void> {
  if (nicIds.length === 0) return;
  await db.deleteFrom('ips').where('nic_id', 'in', nicIds).where('range_id', 'is', null).execute();
  await db.updateTable('ips').set({ nic_id: null, account_id: null, routed_via: null, rdns: null, reason: null }).where('nic_id', 'in', nicIds).execute();
}

/** Every address of these NICs taken off them and held by the account (e24cloud `deleteResources: 0`). */
export async function detachAddresses(db: Db, nicIds: number[], accountId: number): Promise<void> {
  if (nicIds.length === 0) return;
  await db.updateTable('ips').set({ nic_id: null, account_id: accountId, routed_via: null }).where('nic_id', 'in', nicIds).execute();
}

/** Addresses an account holds that are on no NIC. */
export function heldAddresses(db: Db, accountId: number): Promise<{ uuid: string; address: string; family: number; rdns: string | null }[]> {
  return db.selectFrom('ips').select(['uuid', 'address', 'family', 'rdns']).where('account_id', '=', accountId).where('nic_id', 'is', null).orderBy('id').execute();
}

/** Give the address with public id `uuid`, held by the account on no NIC, back to its pool: false when it holds no such address. */
export async function releaseHeldAddress(db: Db, accountId: number, uuid: string): Promise<boolean> {
  const r = await db.updateTable('ips').set({ account_id: null, rdns: null, reason: null })
    .where('uuid', '=', uuid).where('account_id', '=', accountId).where('nic_id', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Put the address with public id `uuid`, held by the account, on a NIC routed via `via`: false when it no longer holds it free. */
export async function attachHeldAddress(db: Db, accountId: number, uuid: string, nicId: number, via: string): Promise<boolean> {
  const r = await db.updateTable('ips').set({ nic_id: nicId, routed_via: via })
    .where('uuid', '=', uuid).where('account_id', '=', accountId).where('nic_id', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Take an address off its NIC and leave it held by the account: false when it is no longer on that NIC. */
export async function detachToAccount(db: Db, address: string, nicId: number, accountId: number): Promise<boolean> {
  const r = await db.updateTable('ips').set({ nic_id: null, routed_via: null, account_id: accountId })
    .where('address', '=', address).where('nic_id', '=', nicId).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** The lowest free address of a range, now held by the account on no NIC (e24cloud `PUT /v2/ipv4-addresses`); null when none is free. */
export function takeFreeAddressFor(db: Db, rangeId: number, accountId: number): Promise<string | null> {
  return takeFree(db, rangeId, { account_id: accountId, routed_via: null, reason: null });
}

/** A never-used address of a range, held by the account on no NIC. */
export async function insertHeldAddress(db: Db, a: { rangeId: number; offset: number; address: string; family: 4 | 6; accountId: number; now: number }): Promise<void> {
  await db.insertInto('ips').values({
    uuid: randomUUID(), range_id: a.rangeId, offset: a.offset, address: a.address, family: a.family, nic_id: null, account_id: a.accountId,
    routed_via: null, rdns: null, reason: null, created_at: a.now,
  }).execute();
}

/** The public id of an address (as it is now). */
export async function addressId(db: Db, address: string): Promise<string | undefined> {
  return (await db.selectFrom('ips').select('uuid').where('address', '=', address).executeTakeFirst())?.uuid;
}
