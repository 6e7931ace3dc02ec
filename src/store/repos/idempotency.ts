// The idempotency_records table's queries (core/idempotency.ts).
import type { Store } from '../db.js';
import type { IdempotencyRecordsTable } from '../schema.js';
import type { Sealed } from '../../core/secrets.js';

export interface KeyRef { caller: string; key: string }
export type IdempotencyRecord = IdempotencyRecordsTable;

/** Insert a pending record unless (caller, key) has one: true when this call inserted it. */
export async function insertPending(db: Store, r: KeyRef & { fingerprint: string; now: number; expiresAt: number }): Promise<boolean> {
  const inserted = await db.insertInto('idempotency_records')
    .values({ caller: r.caller, key: r.key, fingerprint: r.fingerprint, state: 'pending', status: null, headers: null, body: null, created_at: r.now, expires_at: r.expiresAt })
    .onConflict((oc) => oc.columns(['caller', 'key']).doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function findRecord(db: Store, r: KeyRef): Promise<IdempotencyRecord | undefined> {
  return db.selectFrom('idempotency_records').selectAll().where('caller', '=', r.caller).where('key', '=', r.key).executeTakeFirst();
}

export async function deleteIfExpired(db: Store, r: KeyRef, now: number): Promise<void> {
  await db.deleteFrom('idempotency_records').where('caller', '=', r.caller).where('key', '=', r.key).where('expires_at', '<=', now).execute();
}

/** Take over an abandoned pending record (compare-and-swap on its created_at): true when this call did. */
export async function takeOver(db: Store, r: KeyRef, createdAt: number, now: number, expiresAt: number): Promise<boolean> {
  const taken = await db.updateTable('idempotency_records').set({ created_at: now, expires_at: expiresAt })
    .where('caller', '=', r.caller).where('key', '=', r.key).where('state', '=', 'pending').where('created_at', '=', createdAt)
    .executeTakeFirst();
  return Number(taken.numUpdatedRows) === 1;
}

export async function deletePending(db: Store, r: KeyRef): Promise<void> {
  await db.deleteFrom('idempotency_records').where('caller', '=', r.caller).where('key', '=', r.key).where('state', '=', 'pending').execute();
}

export async function markDone(db: Store, r: KeyRef, answer: { status: number; headers: string; body: Sealed }): Promise<void> {
  await db.updateTable('idempotency_records').set({ state: 'done', ...answer })
    .where('caller', '=', r.caller).where('key', '=', r.key).where('state', '=', 'pending').execute();
}

export async function deleteExpired(db: Store, now: number): Promise<void> {
  await db.deleteFrom('idempotency_records').where('expires_at', '<=', now).execute();
}
