// Invitations: grants waiting for their invitee (core/invitations.ts), read with their target's names.
import { randomUUID } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { InvitationRow, InvitationsTable } from '../schema.js';
import { IDS_ONLY, whereRef } from '../../core/ids.js';
import type { Db, Trx } from './types.js';

/** Whether the user (0: nobody, the same query either way) holds a privilege on the account or anything in it. */
export async function holdsPrivilegeIn(db: Db, userId: number, accountId: number): Promise<boolean> {
  const held = await db.selectFrom('privileges as p')
    .leftJoin('vms as v', 'v.id', 'p.virtual_machine_id')
    .leftJoin('groups as g', (j) => j.on((eb) => eb('g.id', '=', eb.fn.coalesce('p.group_id', 'v.group_id'))))
    .select('p.id')
    .where('p.user_id', '=', userId)
    .where((eb) => eb.or([eb('p.account_id', '=', accountId), eb('g.account_id', '=', accountId)]))
    .limit(1).executeTakeFirst();
  return held !== undefined;
}

export function insertInvitation(trx: Trx, row: Omit<Insertable<InvitationsTable>, 'uuid'>): Promise<{ id: number }> {
  return trx.insertInto('invitations').values({ uuid: randomUUID(), ...row }).returning('id').executeTakeFirstOrThrow();
}

export async function deleteExpiredInvitations(db: Db, now: number): Promise<void> {
  await db.deleteFrom('invitations').where('expires_at', '<=', now).execute();
}

export type InvitationDbRow = InvitationRow & {
  creating_username: string | null; vm_name: string | null; g_id: number | null; g_name: string | null; a_id: number; a_name: string;
};

/** Unexpired invitations by id, or addressed to a user or on one of the accounts; with their target's names. */
export function invitationRows(db: Db, now: number, scope: { ids?: number[]; userId?: number; accountIds?: number[] }): Promise<InvitationDbRow[]> {
  let q = db.selectFrom('invitations as i')
    .leftJoin('users as c', 'c.id', 'i.creating_user_id')
    .leftJoin('vms as v', 'v.id', 'i.virtual_machine_id')
    .leftJoin('groups as g', (j) => j.on((eb) => eb('g.id', '=', eb.fn.coalesce('i.group_id', 'v.group_id'))))
    .innerJoin('accounts as a', (j) => j.on((eb) => eb('a.id', '=', eb.fn.coalesce('i.account_id', 'g.account_id'))))
    .selectAll('i')
    .select(['c.username as creating_username', 'v.name as vm_name', 'g.id as g_id', 'g.name as g_name', 'a.id as a_id', 'a.name as a_name'])
    .where('i.expires_at', '>', now);
  if (scope.ids) q = q.where('i.id', 'in', scope.ids.length ? scope.ids : [0]);
  if (scope.userId !== undefined) {
    const { userId, accountIds = [] } = scope;
    q = q.where((eb) => eb.or([eb('i.user_id', '=', userId), ...(accountIds.length ? [eb('a.id', 'in', accountIds)] : [])]));
  }
  return q.orderBy('i.id').execute();
}

export function invitationIdByRef(db: Db, segment: string): Promise<{ id: number } | undefined> {
  return whereRef(db.selectFrom('invitations').select('id'), segment, IDS_ONLY).executeTakeFirst();
}

/** The invitation's granter (id and username), while both are there. */
export function granterOf(db: Db, invitationId: number): Promise<{ id: number; username: string } | undefined> {
  return db.selectFrom('invitations as i').innerJoin('users as u', 'u.id', 'i.creating_user_id')
    .select(['u.id', 'u.username']).where('i.id', '=', invitationId).executeTakeFirst();
}

export async function deleteInvitation(db: Db, id: number): Promise<void> {
  await db.deleteFrom('invitations').where('id', '=', id).execute();
}

/** The invitation taken (deleted) for accepting, while it is addressed to someone and unexpired. */
export function takeInvitation(trx: Trx, id: number, now: number): Promise<InvitationRow | undefined> {
  return trx.deleteFrom('invitations').where('id', '=', id).where('user_id', 'is not', null)
    .where('expires_at', '>', now).returningAll().executeTakeFirst();
}

/** Detached from its invitee (declined): it can never be accepted. */
export async function detachInvitee(db: Db, id: number): Promise<void> {
  await db.updateTable('invitations').set({ user_id: null }).where('id', '=', id).execute();
}
