// SSH keys with ids (migration 014): each is one user's, and only that user's queries reach it.
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Db } from './types.js';
import type { SshKeysTable } from '../schema.js';
import { uniqueViolation } from '../dialect.js';
import { IDS_ONLY, whereRef } from '../../core/ids.js';

export interface SshKey { id: number; uuid: string; userId: number; label: string; publicKey: string; fingerprint: string; createdAt: number }

function sshKey(r: Selectable<SshKeysTable>): SshKey {
  return { id: r.id, uuid: r.uuid, userId: r.user_id, label: r.label, publicKey: r.public_key, fingerprint: r.fingerprint, createdAt: r.created_at };
}

/** The new key, or which of its unique columns (`label`, `fingerprint`) another key of the user already has. */
export async function insertSshKey(db: Db, k: { userId: number; label: string; publicKey: string; fingerprint: string; now: number }): Promise<SshKey | { taken: 'label' | 'fingerprint' }> {
  try {
    const row = await db.insertInto('ssh_keys').values({
      uuid: randomUUID(), user_id: k.userId, label: k.label, public_key: k.publicKey, fingerprint: k.fingerprint, created_at: k.now,
    }).returningAll().executeTakeFirstOrThrow();
    return sshKey(row);
  } catch (err) {
    const key = uniqueViolation(err);
    if (key === null) throw err;
    return { taken: key.includes('fingerprint') ? 'fingerprint' : 'label' };
  }
}

export async function sshKeysOf(db: Db, userId: number): Promise<SshKey[]> {
  return (await db.selectFrom('ssh_keys').selectAll().where('user_id', '=', userId).orderBy('id').execute()).map(sshKey);
}

/** The user's key a segment names (id or public id; a label names nothing). */
export async function sshKeyOf(db: Db, userId: number, segment: string): Promise<SshKey | undefined> {
  const row = await whereRef(db.selectFrom('ssh_keys').selectAll().where('user_id', '=', userId), segment, IDS_ONLY).executeTakeFirst();
  return row && sshKey(row);
}

export async function deleteSshKey(db: Db, userId: number, id: number): Promise<boolean> {
  const r = await db.deleteFrom('ssh_keys').where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
