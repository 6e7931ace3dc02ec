// The operations table's queries (operations/queue.ts, sweeper.ts, view.ts, api/events.ts): the only
// Kysely queries of the operations model. Callers hold the rules; these read and write rows.
import type { Updateable } from 'kysely';
import { forUpdate } from '../dialect.js';
import type { OperationRow, OperationsTable, VmsTable } from '../schema.js';

import type { Db, Trx } from './types.js';
import { compiled } from '../compiled.js';
export type NewOperation = Omit<OperationRow, 'id'>;

export async function insertOperation(db: Db, row: NewOperation): Promise<number> {
  return (await db.insertInto('operations').values(row).returning('id').executeTakeFirstOrThrow()).id;
}

export async function operationById(db: Db, id: number): Promise<OperationRow | undefined> {
  return db.selectFrom('operations').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function operationByUuid(db: Db, uuid: string): Promise<OperationRow | undefined> {
  return db.selectFrom('operations').selectAll().where('uuid', '=', uuid).executeTakeFirst();
}

/** The row, locked until the transaction ends (PostgreSQL). */
export async function lockOperation(trx: Trx, id: number): Promise<OperationRow | undefined> {
  return forUpdate(trx, trx.selectFrom('operations').selectAll().where('id', '=', id)).executeTakeFirst();
}

/** The oldest queued or running operation of one of `kinds` on the VM. */
export async function firstUnendedOf(db: Db, vmId: number, kinds: readonly string[]): Promise<OperationRow | undefined> {
  return db.selectFrom('operations').selectAll().where('vm_id', '=', vmId).where('kind', 'in', [...kinds])
    .where('state', 'in', ['queued', 'running']).orderBy('id').executeTakeFirst();
}

/** Queued or running operations on the VM, oldest first. */
export async function unendedOn(db: Db, vmId: number): Promise<OperationRow[]> {
  return db.selectFrom('operations').selectAll().where('vm_id', '=', vmId).where('state', 'in', ['queued', 'running']).orderBy('id').execute();
}

/** Queued operations on the VM not of `exceptKinds`, oldest first. */
/** Queued operations on a VM but those of `exceptKinds` (fixed: compiled once), oldest first. */
export function queuedOn(exceptKinds: readonly string[]): (db: Db, vmId: number) => Promise<OperationRow[]> {
  const q = compiled((db, vmId: number) => db.selectFrom('operations').selectAll().where('vm_id', '=', vmId).where('state', '=', 'queued')
    .where('kind', 'not in', [...exceptKinds]).orderBy('id'));
  return async (db, vmId) => (await q(db, vmId)).rows;
}

/** Whether a step of the intent asked for before `stepId` has not ended. */
export async function earlierStepUnended(db: Db, parentId: number, stepId: number): Promise<boolean> {
  const row = await db.selectFrom('operations').select('id').where('parent_id', '=', parentId).where('id', '<', stepId)
    .where('state', 'in', ['queued', 'running']).limit(1).executeTakeFirst();
  return row !== undefined;
}

/** Running operations leased to `owner` (a head registering anew runs none of them any more). */
export async function leasedTo(db: Db, owner: string): Promise<{ id: number }[]> {
  return db.selectFrom('operations').select('id').where('state', '=', 'running').where('lease_owner', '=', owner).execute();
}

/** Operations on this head with no VM (acts on volumes an account holds), queued or running, oldest first. */
export async function unendedWithoutVm(db: Db, headId: number, states: readonly string[] = ['queued', 'running']): Promise<OperationRow[]> {
  return db.selectFrom('operations').selectAll().where('vm_id', 'is', null).where('head_id', '=', headId)
    .where('state', 'in', [...states]).orderBy('id').execute();
}

export async function updateOperation(db: Db, id: number, set: Updateable<OperationsTable>): Promise<void> {
  await db.updateTable('operations').set(set).where('id', '=', id).execute();
}

/** The parent intent starts with its first step. */
export async function markQueuedRunning(trx: Trx, id: number, set: Updateable<OperationsTable>): Promise<void> {
  await trx.updateTable('operations').set(set).where('id', '=', id).where('state', '=', 'queued').execute();
}

export async function renewLeaseRow(db: Db, id: number, owner: string, now: number, leaseUntil: number): Promise<boolean> {
  const r = await db.updateTable('operations').set({ lease_until: leaseUntil, updated_at: now })
    .where('id', '=', id).where('state', '=', 'running').where('lease_owner', '=', owner).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function stepsOf(db: Db, parentId: number): Promise<OperationRow[]> {
  return db.selectFrom('operations').selectAll().where('parent_id', '=', parentId).orderBy('id').execute();
}

/** Take the VM's lock for operation `top` (free, or already its own); false when another holds it or the VM is gone. */
export async function takeVmLock(trx: Trx, vmId: number, top: number): Promise<'taken' | 'held' | 'gone'> {
  const taken = await trx.updateTable('vms').set({ lock_operation_id: top }).where('id', '=', vmId)
    .where((eb) => eb.or([eb('lock_operation_id', 'is', null), eb('lock_operation_id', '=', top)])).executeTakeFirst();
  if (Number(taken.numUpdatedRows) > 0) return 'taken';
  return (await trx.selectFrom('vms').select('id').where('id', '=', vmId).executeTakeFirst()) ? 'held' : 'gone';
}

/** Release what intent `opId` holds: the lock is taken on the VM of the intent or of one of its steps
 *  (looked up by their ids: `vms.lock_operation_id` has no index, and a scan grows with the store). */
export async function releaseVmLock(trx: Trx, opId: number): Promise<void> {
  const held = trx.selectFrom('operations').select('vm_id').where((eb) => eb.or([eb('id', '=', opId), eb('parent_id', '=', opId)]));
  await trx.updateTable('vms').set({ lock_operation_id: null }).where('id', 'in', held).where('lock_operation_id', '=', opId).execute();
}

/** What an ended operation changes on its VM. */
export async function updateVmAfter(trx: Trx, vmId: number, set: Updateable<VmsTable>): Promise<void> {
  await trx.updateTable('vms').set(set).where('id', '=', vmId).execute();
}

/** Running ones whose lease passed, and unended ones whose deadline passed. */
export async function stuckOperations(db: Db, now: number): Promise<Pick<OperationRow, 'id' | 'state' | 'lease_until' | 'deadline' | 'parent_id'>[]> {
  return db.selectFrom('operations').select(['id', 'state', 'lease_until', 'deadline', 'parent_id'])
    .where((eb) => eb.or([
      eb.and([eb('state', '=', 'running'), eb('lease_until', '<', now)]),
      eb.and([eb('state', 'in', ['queued', 'running']), eb('deadline', '<', now)]),
    ])).orderBy('id').execute();
}

export async function deleteEndedBefore(db: Db, states: readonly string[], cutoff: number): Promise<number> {
  const gone = await db.deleteFrom('operations').where('state', 'in', [...states]).where('finished_at', '<', cutoff).executeTakeFirst();
  return Number(gone.numDeletedRows);
}

export async function operationsOnVm(db: Db, vmId: number, limit: number): Promise<OperationRow[]> {
  return db.selectFrom('operations').selectAll().where('vm_id', '=', vmId).orderBy('id', 'desc').limit(limit).execute();
}

export async function newestOperations(db: Db, limit: number): Promise<OperationRow[]> {
  return db.selectFrom('operations').selectAll().orderBy('id', 'desc').limit(limit).execute();
}

/** The operations with these ids and their steps (for parent and step public ids). */
export async function withRelated(db: Db, ids: number[]): Promise<Pick<OperationRow, 'id' | 'uuid' | 'kind' | 'state' | 'error' | 'parent_id'>[]> {
  if (!ids.length) return [];
  return db.selectFrom('operations').select(['id', 'uuid', 'kind', 'state', 'error', 'parent_id'])
    .where((eb) => eb.or([eb('id', 'in', ids), eb('parent_id', 'in', ids)])).orderBy('id').execute();
}

/** Operations changed at or after `since`, in the order they changed. */
export async function changedSince(db: Db, since: number): Promise<OperationRow[]> {
  return db.selectFrom('operations').selectAll().where('updated_at', '>=', since).orderBy('updated_at').orderBy('id').execute();
}
