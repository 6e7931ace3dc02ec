// Row locks taken inside a transaction (the order and why: core/locks.ts). FOR UPDATE / FOR KEY SHARE
// on PostgreSQL; SQLite runs one transaction at a time and needs neither.
import type { VmRow } from '../schema.js';
import { forKeyShare, forUpdate } from '../dialect.js';
import type { Trx } from './types.js';
import { compiled } from '../compiled.js';

/** Tables whose rows other rows point at and that requests delete or lock. */
export type Parent = 'groups' | 'vms' | 'users' | 'api_keys' | 'heads';

const vmRowForUpdate = compiled((db, id: number) => forUpdate(db, db.selectFrom('vms').selectAll().where('id', '=', id)));

export async function lockVmRow(trx: Trx, id: number): Promise<VmRow | undefined> {
  return (await vmRowForUpdate(trx, id)).rows[0];
}

/** In id order (so two transactions locking the same pair cannot deadlock). */
export function lockVmRows(trx: Trx, ids: number[]): Promise<VmRow[]> {
  return forUpdate(trx, trx.selectFrom('vms').selectAll().where('id', 'in', ids).orderBy('id')).execute();
}

export async function keepParent(trx: Trx, table: Parent, id: number): Promise<boolean> {
  return (await forKeyShare(trx, trx.selectFrom(table).select('id').where('id', '=', id)).executeTakeFirst()) !== undefined;
}

export async function lockParent(trx: Trx, table: Parent, id: number): Promise<boolean> {
  return (await forUpdate(trx, trx.selectFrom(table).select('id').where('id', '=', id)).executeTakeFirst()) !== undefined;
}
