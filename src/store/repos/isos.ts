// The ISO library (migration 014): files under the library directory, `file` relative to it.
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Db } from './types.js';
import type { IsosTable } from '../schema.js';
import { whereRef } from '../../core/ids.js';

export interface Iso { id: number; uuid: string; name: string; label: string; file: string; ownerAccountId: number | null; sizeBytes: number; createdAt: number }

function iso(r: Selectable<IsosTable>): Iso {
  return { id: r.id, uuid: r.uuid, name: r.name, label: r.label, file: r.file, ownerAccountId: r.owner_account_id, sizeBytes: r.size_bytes, createdAt: r.created_at };
}

/** The public library and the ISOs of these accounts (every ISO when 'all'), by name. */
export async function isosVisible(db: Db, accountIds: number[] | 'all'): Promise<Iso[]> {
  let q = db.selectFrom('isos').selectAll();
  if (accountIds !== 'all') {
    q = q.where((eb) => (accountIds.length
      ? eb.or([eb('owner_account_id', 'is', null), eb('owner_account_id', 'in', accountIds)])
      : eb('owner_account_id', 'is', null)));
  }
  return (await q.orderBy('name').execute()).map(iso);
}

/** The ISO a segment names (id, public id, or name in lower case), whoever owns it. */
export async function isoByRef(db: Db, segment: string): Promise<Iso | undefined> {
  const row = await whereRef(db.selectFrom('isos').selectAll(), segment, { id: 'id', uuid: 'uuid', name: 'name', lower: true }).executeTakeFirst();
  return row && iso(row);
}

export async function allIsos(db: Db): Promise<Iso[]> {
  return (await db.selectFrom('isos').selectAll().orderBy('id').execute()).map(iso);
}

export async function insertIso(db: Db, i: { name: string; label: string; file: string; sizeBytes: number; now: number }): Promise<Iso> {
  const row = await db.insertInto('isos').values({
    uuid: randomUUID(), name: i.name, label: i.label, file: i.file, owner_account_id: null, size_bytes: i.sizeBytes, created_at: i.now,
  }).returningAll().executeTakeFirstOrThrow();
  return iso(row);
}

export async function setIsoSize(db: Db, id: number, sizeBytes: number): Promise<void> {
  await db.updateTable('isos').set({ size_bytes: sizeBytes }).where('id', '=', id).execute();
}

export async function deleteIsos(db: Db, ids: number[]): Promise<void> {
  if (ids.length) await db.deleteFrom('isos').where('id', 'in', ids).execute();
}
