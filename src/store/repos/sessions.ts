// Credentials in the store: users by name for a login, sessions, API keys, and the privilege rows a
// principal is built from. The only Kysely queries of core/auth.ts and core/principal.ts.
import type { Store } from '../db.js';
import type { Trx } from './types.js';
import type { Database, UserRow } from '../schema.js';
import { compiled } from '../compiled.js';

export function userByName(db: Store, username: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
}

export function userById(db: Store, id: number): Promise<{ id: number; username: string } | undefined> {
  return db.selectFrom('users').select(['id', 'username']).where('id', '=', id).executeTakeFirst();
}

export async function insertSession(trx: Trx, s: {
  tokenHash: string; userId: number; impersonatorId: number | null; factors: string[]; validity: number; expiresAt: number; now: number;
}): Promise<void> {
  await trx.insertInto('sessions').values({
    token_hash: s.tokenHash, user_id: s.userId, impersonator_id: s.impersonatorId, factors: JSON.stringify(s.factors),
    validity: s.validity, expires_at: s.expiresAt, created_at: s.now,
  }).execute();
}

export interface SessionFound { id: number; userId: number; username: string; factors: string[]; expiresAt: number; impersonatorId: number | null }

const sessionRow = compiled((db, tokenHash: string) => db.selectFrom('sessions as s').innerJoin('users as u', 'u.id', 's.user_id')
  .select(['s.id', 's.user_id', 's.factors', 's.expires_at', 's.impersonator_id', 'u.username'])
  .where('s.token_hash', '=', tokenHash));

export async function sessionByHash(db: Store, tokenHash: string): Promise<SessionFound | undefined> {
  const [row] = (await sessionRow(db, tokenHash)).rows;
  return row && {
    id: row.id, userId: row.user_id, username: row.username, factors: JSON.parse(row.factors) as string[],
    expiresAt: row.expires_at, impersonatorId: row.impersonator_id,
  };
}

export async function extendSession(db: Store, id: number, expiresAt: number): Promise<void> {
  await db.updateTable('sessions').set({ expires_at: expiresAt }).where('id', '=', id).execute();
}

export async function apiKeyByHash(db: Store, keyHash: string): Promise<{ id: number; expiresAt: number | null; userId: number; username: string } | undefined> {
  const row = await db.selectFrom('api_keys as k').innerJoin('users as u', 'u.id', 'k.user_id')
    .select(['k.id', 'k.expires_at', 'u.id as user_id', 'u.username'])
    .where('k.key_hash', '=', keyHash).executeTakeFirst();
  return row && { id: row.id, expiresAt: row.expires_at, userId: row.user_id, username: row.username };
}

export async function setTotpSecret(db: Store, username: string, sealed: Database['users']['totp_secret']): Promise<boolean> {
  const r = await db.updateTable('users').set({ totp_secret: sealed }).where('username', '=', username).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** A user's privilege rows with their targets resolved up the tree (a VM's group and account). */
export async function privilegeRowsOf(db: Store, userId: number) {
  return (await privilegeRows(db, userId)).rows;
}

const privilegeRows = compiled((db, userId: number) =>
  db
    .selectFrom('privileges as p')
    .leftJoin('vms as v', 'v.id', 'p.virtual_machine_id')
    .leftJoin('groups as g', (j) => j.on((eb) => eb('g.id', '=', eb.fn.coalesce('p.group_id', 'v.group_id'))))
    .select([
      'p.id', 'p.level', 'p.account_id', 'p.group_id', 'p.virtual_machine_id', 'p.api_key_id', 'p.creating_user_id',
      'p.password_required', 'p.yubikey_required', 'g.id as resolved_group', 'g.account_id as resolved_account',
    ])
    .where('p.user_id', '=', userId));

export type PrivilegeFactRow = Awaited<ReturnType<typeof privilegeRowsOf>>[number];
