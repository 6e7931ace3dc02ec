// Networks (core/networks.ts, migration 013): the cluster's public network of each pool VLAN, and each
// account's private VLAN; pools and NICs point to them.
import { randomUUID } from 'node:crypto';
import type { NetworkRow } from '../schema.js';
import type { Db } from './types.js';

/**
 * The id of the network of `vlanNum`: the public one (`accountId` null) or the account's private one,
 * made when absent (a racing maker's row is then the one found).
 */
export async function ensureNetwork(db: Db, accountId: number | null, vlanNum: number, now: number): Promise<number> {
  const find = () => {
    let q = db.selectFrom('networks').select('id').where('vlan_num', '=', vlanNum);
    q = accountId === null ? q.where('public', '=', 1) : q.where('public', '=', 0).where('account_id', '=', accountId);
    return q.executeTakeFirst();
  };
  const found = await find();
  if (found) return found.id;
  await db.insertInto('networks').values({
    uuid: randomUUID(), label: accountId === null ? 'public' : `vlan-${vlanNum}`, vlan_num: vlanNum, public: accountId === null ? 1 : 0,
    account_id: accountId, created_at: now,
  }).onConflict((oc) => oc.doNothing()).execute();
  return (await find())!.id;
}

/** Every pool belongs to the public network of its VLAN (made at start-up). */
export async function linkPools(db: Db, now: number): Promise<void> {
  const vlans = await db.selectFrom('ip_ranges').select('vlan_num').distinct().where('network_id', 'is', null).execute();
  for (const { vlan_num } of vlans) {
    const id = await ensureNetwork(db, null, vlan_num, now);
    await db.updateTable('ip_ranges').set({ network_id: id }).where('vlan_num', '=', vlan_num).where('network_id', 'is', null).execute();
  }
}

/** Public networks, and the private ones of the accounts given (of every account when null), by id. */
export function networksFor(db: Db, accountIds: number[] | null): Promise<NetworkRow[]> {
  let q = db.selectFrom('networks').selectAll().orderBy('id');
  if (accountIds !== null) {
    q = accountIds.length
      ? q.where((eb) => eb.or([eb('public', '=', 1), eb('account_id', 'in', accountIds)]))
      : q.where('public', '=', 1);
  }
  return q.execute();
}
