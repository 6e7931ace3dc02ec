// The VM repository: the queries that find accounts, groups and VMs by id, public id or name (the
// id rule of core/ids.ts), and that write VMs with their discs, schedules and NICs. Core's VM
// commands (core/vms/*, core/resolve.ts) call these; they hold no Kysely queries of their own.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Insertable } from 'kysely';
import type { Database, AccountRow, GroupRow, VmRow, VmUpdate } from '../schema.js';
import { forKeyShare } from '../dialect.js';
import { IDS_ONLY, refValue, whereRef } from '../../core/ids.js';

import type { Db, Trx } from './types.js';
import { compiled, type Scalar } from '../compiled.js';

/** Accounts, groups and VMs: by id, public id, or name (a DNS label, compared in lower case). */
const NAMED = { id: 'id', uuid: 'uuid', name: 'name', lower: true };

export function accountByRef(db: Db, segment: string): Promise<AccountRow | undefined> {
  return whereRef(db.selectFrom('accounts').selectAll(), segment, NAMED).executeTakeFirst();
}

export function accountById(db: Db, id: number): Promise<AccountRow | undefined> {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A VM's place in the tree (its group and account), undefined when it is gone. */
export function vmPlace(db: Db, vmId: number): Promise<{ id: number; uuid: string; group_id: number; account_id: number } | undefined> {
  return db.selectFrom('vms as v').innerJoin('groups as g', 'g.id', 'v.group_id')
    .select(['v.id', 'v.uuid', 'v.group_id', 'g.account_id']).where('v.id', '=', vmId).executeTakeFirst();
}

/** A user's home account, undefined when they have none. */
export function homeAccount(db: Db, userId: number): Promise<AccountRow | undefined> {
  return db.selectFrom('users as u').innerJoin('accounts as a', 'a.id', 'u.home_account_id').selectAll('a')
    .where('u.id', '=', userId).executeTakeFirst();
}

/** Accounts by id (every account when `ids` is null), in id order. */
export function accountsIn(db: Db, ids: number[] | null): Promise<AccountRow[]> {
  let q = db.selectFrom('accounts').selectAll().orderBy('id');
  if (ids !== null) q = q.where('id', 'in', ids);
  return q.execute();
}

export function groupByRef(db: Db, accountId: number, segment: string): Promise<GroupRow | undefined> {
  return whereRef(db.selectFrom('groups').selectAll().where('account_id', '=', accountId), segment, NAMED).executeTakeFirst();
}

export function groupById(db: Db, id: number): Promise<GroupRow | undefined> {
  return db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Ids of the groups a segment names, in the given accounts (every account when null). */
export async function groupIdsByRef(db: Db, segment: string, accountIds: number[] | null): Promise<number[]> {
  let q = whereRef(db.selectFrom('groups').select('id'), segment, NAMED);
  if (accountIds !== null) q = q.where('account_id', 'in', accountIds);
  return (await q.execute()).map((g) => g.id);
}

/** A group held (key-share on PostgreSQL) until the transaction ends: a racing delete of it waits. */
export function keepGroup(trx: Trx, id: number): Promise<GroupRow | undefined> {
  return forKeyShare(trx, trx.selectFrom('groups').selectAll().where('id', '=', id)).executeTakeFirst();
}

export function vmInGroup(db: Db, groupId: number, segment: string): Promise<VmRow | undefined> {
  return whereRef(db.selectFrom('vms').selectAll().where('group_id', '=', groupId), segment, NAMED).executeTakeFirst();
}

/** A VM by its id, or by its id or public id as a path segment (a name names nothing here). */
export function vmByIdOrSegment(db: Db, id: number | string): Promise<VmRow | undefined> {
  const q = db.selectFrom('vms').selectAll();
  return (typeof id === 'number' ? q.where('id', '=', id) : whereRef(q, id, IDS_ONLY)).executeTakeFirst();
}

/** The nested path account/group/vm in one joined query: the VM with its group and account, or undefined. */
type RefKind = ReturnType<typeof refValue>['kind'];
const PATH_COLUMNS = { acc: ['a.id', 'a.uuid', 'a.name'], grp: ['g.id', 'g.uuid', 'g.name'], vm: ['v.id', 'v.uuid', 'v.name'] } as const;
const KIND_INDEX: Record<RefKind, 0 | 1 | 2> = { id: 0, uuid: 1, name: 2 };

/** The path's query for one combination of segment kinds (id, public id or name), compiled once. */
function pathQuery(acc: RefKind, grp: RefKind, vm: RefKind) {
  return compiled((db, a: Scalar, g: Scalar, v: Scalar) => db.selectFrom('vms as v')
    .innerJoin('groups as g', 'g.id', 'v.group_id')
    .innerJoin('accounts as a', 'a.id', 'g.account_id')
    .selectAll('v')
    .select(['g.account_id as g_account_id', 'g.uuid as g_uuid', 'g.name as g_name', 'g.vlan_num as g_vlan_num', 'g.created_at as g_created_at',
      'a.uuid as a_uuid', 'a.name as a_name', 'a.suspended as a_suspended', 'a.created_at as a_created_at'])
    .where(PATH_COLUMNS.acc[KIND_INDEX[acc]], '=', a)
    .where(PATH_COLUMNS.grp[KIND_INDEX[grp]], '=', g)
    .where(PATH_COLUMNS.vm[KIND_INDEX[vm]], '=', v));
}
const pathQueries = new Map<string, ReturnType<typeof pathQuery>>();

export async function vmByPath(db: Db, acc: string, grp: string, vm: string): Promise<{ vm: VmRow; group: GroupRow; account: AccountRow } | undefined> {
  // Names are DNS labels, compared in lower case (core/ids.ts).
  const [a, g, v] = [refValue(acc, true), refValue(grp, true), refValue(vm, true)];
  const key = `${a.kind}/${g.kind}/${v.kind}`;
  let q = pathQueries.get(key);
  if (!q) pathQueries.set(key, (q = pathQuery(a.kind, g.kind, v.kind)));
  const [hit] = (await q(db, a.value, g.value, v.value)).rows;
  if (!hit) return undefined;
  const { g_account_id, g_uuid, g_name, g_vlan_num, g_created_at, a_uuid, a_name, a_suspended, a_created_at, ...row } = hit;
  return {
    vm: row,
    group: { id: row.group_id, uuid: g_uuid, account_id: g_account_id, name: g_name, vlan_num: g_vlan_num, created_at: g_created_at },
    account: { id: g_account_id, uuid: a_uuid, name: a_name, suspended: a_suspended, created_at: a_created_at },
  };
}

/** The account's groups, oldest first (where a VM lands: core/landing.ts). */
export function groupsOldestFirst(db: Db, accountId: number): Promise<GroupRow[]> {
  return db.selectFrom('groups').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').execute();
}

/** The names of the group's VMs that start with `prefix`, a DNS label (so no LIKE wildcard): a derived name's clashes. */
export async function namesLike(db: Db, groupId: number, prefix: string): Promise<string[]> {
  const rows = await db.selectFrom('vms').select('name').where('group_id', '=', groupId).where('name', 'like', `${prefix}%`).execute();
  return rows.map((r) => r.name);
}

/** Whether another VM of the group has the name. */
export async function nameUsed(db: Db, groupId: number, name: string, exceptVmId?: number): Promise<boolean> {
  let q = db.selectFrom('vms').select('id').where('group_id', '=', groupId).where('name', '=', name);
  if (exceptVmId !== undefined) q = q.where('id', '!=', exceptVmId);
  return (await q.executeTakeFirst()) !== undefined;
}

/** `uuid`: given when the name is derived from it (core/vms/identity.ts), else made here. */
export async function insertVm(trx: Trx, values: Omit<Insertable<Database['vms']>, 'uuid'> & { uuid?: string }): Promise<number> {
  return (await trx.insertInto('vms').values({ uuid: randomUUID(), ...values }).returning('id').executeTakeFirstOrThrow()).id;
}

/** A fresh boot asked for (stop, then start): set as `power_cycle` in an update. */
export const NEXT_POWER_CYCLE = sql<number>`power_cycle + 1` as unknown as number;

export async function updateVmRow(trx: Trx, id: number, set: VmUpdate): Promise<void> {
  await trx.updateTable('vms').set(set).where('id', '=', id).execute();
}

export async function insertNic(trx: Trx, values: Omit<Insertable<Database['nics']>, 'uuid'>): Promise<number> {
  return (await trx.insertInto('nics').values({ uuid: randomUUID(), ...values }).returning('id').executeTakeFirstOrThrow()).id;
}

/** Whether an address is held by any NIC (pool or chosen). */
export async function addressUsed(db: Db, address: string): Promise<boolean> {
  return (await db.selectFrom('ips').select('id').where('address', '=', address).executeTakeFirst()) !== undefined;
}

/** An address chosen by the user on a private VLAN: on the NIC, outside any pool. */
export async function insertChosenIp(trx: Trx, nicId: number, family: 4 | 6, address: string, now: number): Promise<void> {
  await trx.insertInto('ips').values({
    uuid: randomUUID(), range_id: null, offset: null, address, family, nic_id: nicId, routed_via: null, rdns: null, reason: 'chosen on a private VLAN', created_at: now,
  }).execute();
}

export async function hasDisc(db: Db, vmId: number): Promise<boolean> {
  return (await db.selectFrom('discs').select('id').where('vm_id', '=', vmId).executeTakeFirst()) !== undefined;
}

/** The images a head has built (its `images` column), undefined when there is no such head. */
export async function headImages(db: Db, headId: number): Promise<string | undefined> {
  return (await db.selectFrom('heads').select('images').where('id', '=', headId).executeTakeFirst())?.images;
}
