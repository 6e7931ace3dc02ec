// Privileges: the rows with their target's names (one query however many), and their writes.
import { randomUUID } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { PrivilegeRow, PrivilegesTable, UserRow } from '../schema.js';
import { forKeyShare } from '../dialect.js';
import { IDS_ONLY, whereRef } from '../../core/ids.js';
import type { Db, Trx } from './types.js';

export type PrivilegeScope =
  | { kind: 'all' }
  | { kind: 'user'; userId: number }
  | { kind: 'account'; accountId: number }
  | { kind: 'group'; groupId: number }
  | { kind: 'vm'; vmId: number }
  | { kind: 'ids'; ids: number[] }
  | { kind: 'apiKeys'; apiKeyIds: number[] };

export type PrivilegeDbRow = PrivilegeRow & {
  username: string; creating_username: string | null; vm_name: string | null;
  g_id: number | null; g_name: string | null; a_id: number | null; a_name: string | null;
};

/** Privileges in a scope, with the names of their user, granter and target, and the target's place. */
export async function privilegeRows(db: Db, scope: PrivilegeScope): Promise<PrivilegeDbRow[]> {
  let q = db.selectFrom('privileges as p')
    .innerJoin('users as u', 'u.id', 'p.user_id')
    .leftJoin('users as c', 'c.id', 'p.creating_user_id')
    .leftJoin('vms as v', 'v.id', 'p.virtual_machine_id')
    .leftJoin('groups as g', (j) => j.on((eb) => eb('g.id', '=', eb.fn.coalesce('p.group_id', 'v.group_id'))))
    .leftJoin('accounts as a', (j) => j.on((eb) => eb('a.id', '=', eb.fn.coalesce('p.account_id', 'g.account_id'))))
    .selectAll('p')
    .select(['u.username', 'c.username as creating_username', 'v.name as vm_name', 'g.id as g_id', 'g.name as g_name', 'a.id as a_id', 'a.name as a_name']);
  switch (scope.kind) {
    case 'user': q = q.where('p.user_id', '=', scope.userId); break;
    case 'account': q = q.where('a.id', '=', scope.accountId); break;
    case 'group': q = q.where('g.id', '=', scope.groupId); break;
    case 'vm': q = q.where('p.virtual_machine_id', '=', scope.vmId); break;
    case 'ids': if (!scope.ids.length) return []; q = q.where('p.id', 'in', scope.ids); break;
    case 'apiKeys': if (!scope.apiKeyIds.length) return []; q = q.where('p.api_key_id', 'in', scope.apiKeyIds); break;
  }
  return q.orderBy('p.id').execute();
}

/** The id of the privilege a segment names (id or public id). */
export async function privilegeIdByRef(db: Db, segment: string): Promise<number | undefined> {
  return (await whereRef(db.selectFrom('privileges').select('id'), segment, IDS_ONLY).executeTakeFirst())?.id;
}

/** A user by id, public id or username. */
export function userByRef(db: Db, segment: string): Promise<UserRow | undefined> {
  return whereRef(db.selectFrom('users').selectAll(), segment, { id: 'id', uuid: 'uuid', name: 'username' }).executeTakeFirst();
}

export function accountIdOf(db: Db, id: number): Promise<{ id: number } | undefined> {
  return db.selectFrom('accounts').select('id').where('id', '=', id).executeTakeFirst();
}

export function groupPlace(db: Db, id: number): Promise<{ id: number; account_id: number } | undefined> {
  return db.selectFrom('groups').select(['id', 'account_id']).where('id', '=', id).executeTakeFirst();
}

/** The owner of an API key, held until the transaction ends (a racing delete of the key waits). */
export function keepApiKey(trx: Trx, apiKeyId: number): Promise<{ user_id: number } | undefined> {
  return forKeyShare(trx, trx.selectFrom('api_keys').select('user_id').where('id', '=', apiKeyId)).executeTakeFirst();
}

export function insertPrivilege(db: Db, row: Omit<Insertable<PrivilegesTable>, 'uuid'>): Promise<{ id: number }> {
  return db.insertInto('privileges').values({ uuid: randomUUID(), ...row }).returning('id').executeTakeFirstOrThrow();
}

/** The user's home account, when they have none yet. */
export async function setHomeIfNone(db: Db, userId: number, accountId: number): Promise<void> {
  await db.updateTable('users').set({ home_account_id: accountId }).where('id', '=', userId).where('home_account_id', 'is', null).execute();
}

export async function updatePrivilegeRow(db: Db, id: number, set: Partial<PrivilegeRow>): Promise<void> {
  await db.updateTable('privileges').set(set).where('id', '=', id).execute();
}

/** Up to two of the cluster admin privileges held through a session (not a key). */
export function sessionClusterAdmins(db: Db): Promise<{ id: number }[]> {
  return db.selectFrom('privileges').select('id').where('level', '=', 'cluster_admin').where('api_key_id', 'is', null).limit(2).execute();
}

export async function deletePrivilege(db: Db, id: number): Promise<void> {
  await db.deleteFrom('privileges').where('id', '=', id).execute();
}

/** Whether the user holds a privilege of their own (not bound to a key). */
export async function holdsSessionPrivilege(db: Db, userId: number): Promise<boolean> {
  return (await db.selectFrom('privileges').select('id').where('user_id', '=', userId).where('api_key_id', 'is', null).executeTakeFirst()) !== undefined;
}
