// Accounts and groups (core/tree.ts): the tree VMs live in.
import { randomUUID } from 'node:crypto';
import type { AccountRow, GroupRow } from '../schema.js';
import type { Db, Trx } from './types.js';

/** Groups of the accounts (only one when given), in id order. */
export function groupsOf(db: Db, accountIds: number[], onlyGroup?: number): Promise<GroupRow[]> {
  let q = db.selectFrom('groups').selectAll().where('account_id', 'in', accountIds);
  if (onlyGroup !== undefined) q = q.where('id', '=', onlyGroup);
  return q.orderBy('id').execute();
}

export async function accountNameTaken(db: Db, name: string): Promise<boolean> {
  return (await db.selectFrom('accounts').select('id').where('name', '=', name).executeTakeFirst()) !== undefined;
}

/** An account with its `default` group. */
export async function insertAccount(db: Db, name: string, now: number): Promise<AccountRow> {
  const account = await db.insertInto('accounts').values({ uuid: randomUUID(), name, created_at: now }).returningAll().executeTakeFirstOrThrow();
  await insertGroup(db, account.id, 'default', now);
  return account;
}

export async function setSuspended(db: Db, accountId: number, suspended: boolean): Promise<void> {
  await db.updateTable('accounts').set({ suspended: suspended ? 1 : 0 }).where('id', '=', accountId).execute();
}

export async function groupNameTaken(db: Db, accountId: number, name: string): Promise<boolean> {
  return (await db.selectFrom('groups').select('id').where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst()) !== undefined;
}

export function insertGroup(db: Db, accountId: number, name: string, now: number): Promise<GroupRow> {
  return db.insertInto('groups').values({ uuid: randomUUID(), account_id: accountId, name, vlan_num: null, created_at: now }).returningAll().executeTakeFirstOrThrow();
}

/** The renamed group, or undefined when it is gone. */
export function renameGroupRow(trx: Trx, groupId: number, name: string): Promise<GroupRow | undefined> {
  return trx.updateTable('groups').set({ name }).where('id', '=', groupId).returningAll().executeTakeFirst();
}

/** Whether any VM (deleted ones too) is in the group. */
export async function groupHasVms(db: Db, groupId: number): Promise<boolean> {
  return (await db.selectFrom('vms').select('id').where('group_id', '=', groupId).executeTakeFirst()) !== undefined;
}

/** The group with the privileges and invitations on it. */
export async function deleteGroupRows(trx: Trx, groupId: number): Promise<void> {
  await trx.deleteFrom('privileges').where('group_id', '=', groupId).execute();
  await trx.deleteFrom('invitations').where('group_id', '=', groupId).execute();
  await trx.deleteFrom('groups').where('id', '=', groupId).execute();
}
