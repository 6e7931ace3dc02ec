// Signing key pairs (migration 010) and the replay records of signed requests. The secret is only
// ever stored sealed (core/secrets.ts); callers seal and open it.
import { randomUUID } from 'node:crypto';
import type { Store } from '../db.js';
import type { Sealed } from '../../core/secrets.js';
import { uniqueViolation } from '../dialect.js';

export interface KeyPairFound { id: number; uuid: string; userId: number; username: string; secret: Sealed; factors: string[] }

export async function insertKeyPair(db: Store, k: { userId: number; accessKeyId: string; secret: Sealed; factors: string[]; now: number }): Promise<string> {
  const uuid = randomUUID();
  await db.insertInto('key_pairs').values({
    uuid, user_id: k.userId, access_key_id: k.accessKeyId, secret: k.secret, factors: JSON.stringify(k.factors), created_at: k.now,
  }).execute();
  return uuid;
}

export async function keyPairByAccessKey(db: Store, accessKeyId: string): Promise<KeyPairFound | undefined> {
  const row = await db.selectFrom('key_pairs as k').innerJoin('users as u', 'u.id', 'k.user_id')
    .select(['k.id', 'k.uuid', 'k.user_id', 'k.secret', 'k.factors', 'u.username'])
    .where('k.access_key_id', '=', accessKeyId).executeTakeFirst();
  return row && { id: row.id, uuid: row.uuid, userId: row.user_id, username: row.username, secret: row.secret, factors: JSON.parse(row.factors) as string[] };
}

/**
 * Record a signed request's nonce for this key until `expiresAt`: false when it was already seen
 * (a replay), on any brain sharing the store (the primary key decides, not a read before the write).
 * The key's records whose time has passed are dropped first.
 */
export async function recordNonce(db: Store, keyPairId: number, nonce: string, now: number, expiresAt: number): Promise<boolean> {
  await db.deleteFrom('signed_requests').where('key_pair_id', '=', keyPairId).where('expires_at', '<', now).execute();
  try {
    await db.insertInto('signed_requests').values({ key_pair_id: keyPairId, nonce, expires_at: expiresAt }).execute();
    return true;
  } catch (err) {
    if (uniqueViolation(err) !== null) return false;
    throw err;
  }
}

/** The factors a user's privileges ask of a login: password, and a second factor when any asks for a yubikey or the user has TOTP. */
export async function factorsRequiredOf(db: Store, userId: number): Promise<string[]> {
  const user = await db.selectFrom('users').select('totp_secret').where('id', '=', userId).executeTakeFirst();
  const rows = await db.selectFrom('privileges').select(['password_required', 'yubikey_required'])
    .where('user_id', '=', userId).where('api_key_id', 'is', null).execute();
  const out = ['password'];
  if (user?.totp_secret || rows.some((r) => r.yubikey_required)) out.push('2fa');
  return out;
}

/** A user's key pairs' access key ids, oldest first (e24cloud `GET /v2/account` `api[]`). */
export async function accessKeysOf(db: Store, userId: number): Promise<string[]> {
  const rows = await db.selectFrom('key_pairs').select('access_key_id').where('user_id', '=', userId).orderBy('id').execute();
  return rows.map((r) => r.access_key_id);
}

/** Give a user's key pair a new sealed secret: false when the user has no such pair. */
export async function replaceSecret(db: Store, userId: number, accessKeyId: string, secret: Sealed): Promise<boolean> {
  const r = await db.updateTable('key_pairs').set({ secret }).where('user_id', '=', userId).where('access_key_id', '=', accessKeyId).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Delete a user's key pair (its replay records go with it): false when the user has no such pair. */
export async function deleteKeyPair(db: Store, userId: number, accessKeyId: string): Promise<boolean> {
  const r = await db.deleteFrom('key_pairs').where('user_id', '=', userId).where('access_key_id', '=', accessKeyId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
