// Users and their API keys (core/users.ts). Sessions: repos/sessions.ts.
import { randomUUID } from 'node:crypto';
import type { ApiKeyRow, UserRow } from '../schema.js';
import type { Db, Trx } from './types.js';

export function usersList(db: Db, onlyId?: number): Promise<UserRow[]> {
  let q = db.selectFrom('users').selectAll().orderBy('id');
  if (onlyId !== undefined) q = q.where('id', '=', onlyId);
  return q.execute();
}

/** The user's row; throws when it is gone. */
export function userRow(db: Db, id: number): Promise<UserRow> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

export async function usernameTaken(db: Db, username: string): Promise<boolean> {
  return (await db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst()) !== undefined;
}

export async function anyUser(db: Db): Promise<boolean> {
  return (await db.selectFrom('users').select('id').limit(1).executeTakeFirst()) !== undefined;
}

export function insertUser(
  db: Db, u: { username: string; email: string; passwordHash: string; authorizedKeys: string; homeAccountId: number | null; now: number },
): Promise<UserRow> {
  return db.insertInto('users').values({
    uuid: randomUUID(), username: u.username, email: u.email, password_hash: u.passwordHash, authorized_keys: u.authorizedKeys, totp_secret: null,
    home_account_id: u.homeAccountId, created_at: u.now,
  }).returningAll().executeTakeFirstOrThrow();
}

export async function updateUserRow(db: Db, id: number, set: Partial<UserRow>): Promise<void> {
  await db.updateTable('users').set(set).where('id', '=', id).execute();
}

export async function deleteSessionsOf(db: Db, userId: number): Promise<void> {
  await db.deleteFrom('sessions').where('user_id', '=', userId).execute();
}

/** The user and everything that is theirs alone; their pending invitations stay, as ones to nobody. */
export async function deleteUserRows(trx: Trx, userId: number): Promise<void> {
  await trx.deleteFrom('privileges').where('user_id', '=', userId).execute();
  await trx.updateTable('invitations').set({ user_id: null }).where('user_id', '=', userId).execute();
  await trx.deleteFrom('sessions').where('user_id', '=', userId).execute();
  await trx.deleteFrom('api_keys').where('user_id', '=', userId).execute();
  await trx.deleteFrom('users').where('id', '=', userId).execute();
}

// API keys -------------------------------------------------------------------------------------

/** Keys with their user's name: all, one user's, or one key of one user. */
export async function apiKeyRows(db: Db, scope: { userId?: number; keyId?: number }): Promise<(ApiKeyRow & { username: string })[]> {
  let q = db.selectFrom('api_keys as k').innerJoin('users as u', 'u.id', 'k.user_id').selectAll('k').select('u.username').orderBy('k.id');
  if (scope.userId !== undefined) q = q.where('k.user_id', '=', scope.userId);
  if (scope.keyId !== undefined) q = q.where('k.id', '=', scope.keyId);
  return q.execute();
}

export function apiKeyByLabel(db: Db, userId: number, label: string): Promise<{ id: number } | undefined> {
  return db.selectFrom('api_keys').select('id').where('user_id', '=', userId).where('label', '=', label).executeTakeFirst();
}

export function insertApiKey(trx: Trx, k: { userId: number; label: string; keyHash: string; expiresAt: number | null; now: number }): Promise<ApiKeyRow> {
  return trx.insertInto('api_keys').values({ uuid: randomUUID(), user_id: k.userId, label: k.label, key_hash: k.keyHash, expires_at: k.expiresAt, created_at: k.now })
    .returningAll().executeTakeFirstOrThrow();
}

/** The key and the privileges bound to it. */
export async function deleteApiKeyRows(trx: Trx, keyId: number): Promise<void> {
  await trx.deleteFrom('privileges').where('api_key_id', '=', keyId).execute();
  await trx.deleteFrom('api_keys').where('id', '=', keyId).execute();
}
