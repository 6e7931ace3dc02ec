// Discs of VMs, their backups and backup schedules. A volume with no VM (`vm_id` null, migration 012)
// is never returned here: these are the queries of a VM's discs, which is all BigV has.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { BackupRow, BackupScheduleRow, DiscRow } from '../schema.js';
import { IDS_ONLY, whereRef } from '../../core/ids.js';
import { forUpdate } from '../dialect.js';
import type { Db, Trx } from './types.js';

/** A disc attached to a VM. */
export type VmDiscRow = DiscRow & { vm_id: number };

/** Discs and backups: by id, public id, or label (as given). */
const LABELLED = { id: 'id', uuid: 'uuid', name: 'label' };

/** A VM's discs in boot order (the first is the one it boots from): a disc attached later comes after
 *  those the VM had, whatever its id (migration 026). */
export const bootOrder = (alias = '') => sql<number>`coalesce(${sql.ref(`${alias}attach_seq`)}, ${sql.ref(`${alias}id`)})`;

/** The place after the VM's last disc, for a disc attached to it; call it with the VM's row locked. */
async function nextPlace(trx: Trx, vmId: number): Promise<number> {
  const r = await trx.selectFrom('discs').select(sql<number | null>`max(${bootOrder()})`.as('n')).where('vm_id', '=', vmId).executeTakeFirst();
  return Number(r?.n ?? 0) + 1;
}

const attached = (db: Db) => db.selectFrom('discs').selectAll().where('vm_id', 'is not', null);

export function discsOf(db: Db, vmId: number): Promise<VmDiscRow[]> {
  return db.selectFrom('discs').selectAll().where('vm_id', '=', vmId).orderBy(bootOrder()).orderBy('id').execute() as Promise<VmDiscRow[]>;
}

/** The VM's disc a path segment names (id, public id or label). */
export function discOfByRef(db: Db, vmId: number, segment: string): Promise<VmDiscRow | undefined> {
  return whereRef(db.selectFrom('discs').selectAll().where('vm_id', '=', vmId), segment, LABELLED).executeTakeFirst() as Promise<VmDiscRow | undefined>;
}

/** A disc of any VM by id or public id (never a volume with no VM). */
export function attachedDiscByRef(db: Db, segment: string): Promise<VmDiscRow | undefined> {
  return whereRef(attached(db), segment, IDS_ONLY).executeTakeFirst() as Promise<VmDiscRow | undefined>;
}

export function attachedDisc(db: Db, id: number): Promise<VmDiscRow | undefined> {
  return attached(db).where('id', '=', id).executeTakeFirst() as Promise<VmDiscRow | undefined>;
}

/** The disc, only while it is on that VM. */
export function discOf(db: Db, vmId: number, discId: number): Promise<VmDiscRow | undefined> {
  return db.selectFrom('discs').selectAll().where('id', '=', discId).where('vm_id', '=', vmId).executeTakeFirst() as Promise<VmDiscRow | undefined>;
}

export function labelsOf(db: Db, vmId: number): Promise<{ label: string }[]> {
  return db.selectFrom('discs').select(['label']).where('vm_id', '=', vmId).execute();
}

/** The VM's first disc (the one it boots from). */
export function firstDisc(db: Db, vmId: number): Promise<{ id: number } | undefined> {
  return db.selectFrom('discs').select('id').where('vm_id', '=', vmId).orderBy(bootOrder()).orderBy('id').limit(1).executeTakeFirst();
}

/** `n`: how many discs the VM has (a string on PostgreSQL). */
export function countDiscs(db: Db, vmId: number): Promise<{ n: number }> {
  return db.selectFrom('discs').select((eb) => eb.fn.countAll<number>().as('n')).where('vm_id', '=', vmId).executeTakeFirstOrThrow();
}

export async function labelUsed(db: Db, vmId: number, label: string): Promise<boolean> {
  return (await db.selectFrom('discs').select('id').where('vm_id', '=', vmId).where('label', '=', label).executeTakeFirst()) !== undefined;
}

export function insertDisc(
  trx: Trx, d: { vmId: number; label: string; grade: string; size: number; poolId: number; now: number },
): Promise<VmDiscRow> {
  return trx.insertInto('discs').values({ uuid: randomUUID(), vm_id: d.vmId, label: d.label, storage_grade: d.grade, size: d.size, storage_pool_id: d.poolId, created_at: d.now })
    .returningAll().executeTakeFirstOrThrow() as Promise<VmDiscRow>;
}

export async function setSize(trx: Trx, discId: number, size: number): Promise<void> {
  await trx.updateTable('discs').set({ size }).where('id', '=', discId).execute();
}

/** Move the disc from one VM to another; false when it is no longer on the first. */
export async function moveDisc(trx: Trx, discId: number, fromVmId: number, toVmId: number): Promise<boolean> {
  const moved = await trx.updateTable('discs').set({ vm_id: toVmId, attach_seq: await nextPlace(trx, toVmId) }).where('id', '=', discId).where('vm_id', '=', fromVmId).executeTakeFirst();
  return Number(moved.numUpdatedRows) === 1;
}

/** The disc removed (from the VM, unless `vmId` is null) with its backups and schedules: the row this call
 *  really removed, or undefined. */
export async function deleteDiscOf(trx: Trx, vmId: number | null, discId: number): Promise<VmDiscRow | undefined> {
  await trx.deleteFrom('backup_schedules').where('disc_id', '=', discId).execute();
  await trx.deleteFrom('backups').where('disc_id', '=', discId).execute();
  let q = trx.deleteFrom('discs').where('id', '=', discId);
  if (vmId !== null) q = q.where('vm_id', '=', vmId);
  return q.returningAll().executeTakeFirst() as Promise<VmDiscRow | undefined>;
}

// Backups --------------------------------------------------------------------------------------

export function backupsOf(db: Db, discId: number): Promise<BackupRow[]> {
  return db.selectFrom('backups').selectAll().where('disc_id', '=', discId).orderBy('id').execute();
}

export function backupOfByRef(db: Db, discId: number, segment: string): Promise<BackupRow | undefined> {
  return whereRef(db.selectFrom('backups').selectAll().where('disc_id', '=', discId), segment, LABELLED).executeTakeFirst();
}

export async function backupExists(db: Db, discId: number, backupId: number): Promise<boolean> {
  return (await db.selectFrom('backups').select('id').where('id', '=', backupId).where('disc_id', '=', discId).executeTakeFirst()) !== undefined;
}

export async function countBackups(db: Db, discId: number): Promise<number> {
  return Number((await db.selectFrom('backups').select((eb) => eb.fn.countAll<number>().as('n')).where('disc_id', '=', discId).executeTakeFirstOrThrow()).n);
}

export function insertBackup(trx: Trx, b: { discId: number; label: string; size: number; now: number }): Promise<BackupRow> {
  return trx.insertInto('backups').values({
    uuid: randomUUID(), disc_id: b.discId, label: b.label, size: b.size, storage_grade: 'iceberg', manual: 1, created_at: b.now,
  }).returningAll().executeTakeFirstOrThrow();
}

/** False when a racing delete took it first. */
export async function deleteBackupOf(trx: Trx, discId: number, backupId: number): Promise<boolean> {
  return (await trx.deleteFrom('backups').where('id', '=', backupId).where('disc_id', '=', discId).returning('id').executeTakeFirst()) !== undefined;
}

// Backup schedules -----------------------------------------------------------------------------

export function schedulesOfDiscs(db: Db, discIds: number[]): Promise<BackupScheduleRow[]> {
  return db.selectFrom('backup_schedules').selectAll().where('disc_id', 'in', discIds).orderBy('id').execute();
}

export function insertSchedule(
  trx: Trx, s: { discId: number; startAt: string; intervalSeconds: number; capacity: number; now: number },
): Promise<BackupScheduleRow> {
  return trx.insertInto('backup_schedules').values({
    uuid: randomUUID(), disc_id: s.discId, start_at: s.startAt, interval_seconds: s.intervalSeconds, capacity: s.capacity, created_at: s.now,
  }).returningAll().executeTakeFirstOrThrow();
}

/** Whether the disc's schedule a segment names (id or public id) was there to delete. */
export async function deleteScheduleByRef(db: Db, discId: number, segment: string): Promise<boolean> {
  const r = await whereRef(db.deleteFrom('backup_schedules').where('disc_id', '=', discId), segment, IDS_ONLY).executeTakeFirst();
  return Number(r.numDeletedRows) === 1;
}

/** Volumes these accounts hold with no VM (a VM deleted keeping its volumes), with the zone of the pool they are in. */
export function heldVolumes(db: Db, accountIds: number[]): Promise<(DiscRow & { zone_id: number | null })[]> {
  if (accountIds.length === 0) return Promise.resolve([]);
  return db.selectFrom('discs as d').leftJoin('storage_pools as p', 'p.id', 'd.storage_pool_id').leftJoin('heads as h', 'h.id', 'p.head_id')
    .selectAll('d').select('h.zone_id').where('d.vm_id', 'is', null).where('d.account_id', 'in', accountIds).orderBy('d.id').execute() as Promise<(DiscRow & { zone_id: number | null })[]>;
}

/** The VM's disc made a volume of the account with no VM; false when it is no longer on that VM. */
export async function detachToAccount(trx: Trx, discId: number, vmId: number, accountId: number): Promise<boolean> {
  const r = await trx.updateTable('discs').set({ vm_id: null, account_id: accountId }).where('id', '=', discId).where('vm_id', '=', vmId).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** A volume the account holds put on one of its VMs; false when the account no longer holds it. */
export async function attachToVm(trx: Trx, discId: number, accountId: number, vmId: number): Promise<boolean> {
  const r = await trx.updateTable('discs').set({ vm_id: vmId, account_id: null, attach_seq: await nextPlace(trx, vmId) }).where('id', '=', discId).where('vm_id', 'is', null).where('account_id', '=', accountId).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** The head a storage pool is on. */
export async function poolHead(db: Db, poolId: number): Promise<number | null> {
  return (await db.selectFrom('storage_pools').select('head_id').where('id', '=', poolId).executeTakeFirst())?.head_id ?? null;
}

/** A new volume the account holds with no VM, its space already claimed in `poolId`. */
export function insertHeldVolume(trx: Trx, d: { accountId: number; label: string; grade: string; size: number; poolId: number; now: number }): Promise<DiscRow> {
  return trx.insertInto('discs').values({ uuid: randomUUID(), vm_id: null, account_id: d.accountId, label: d.label, storage_grade: d.grade, size: d.size, storage_pool_id: d.poolId, created_at: d.now })
    .returningAll().executeTakeFirstOrThrow();
}

/** The volume, locked until the transaction ends, while the account holds it with no VM. */
export function lockHeldVolume(trx: Trx, discId: number, accountId: number): Promise<DiscRow | undefined> {
  return forUpdate(trx, trx.selectFrom('discs').selectAll().where('id', '=', discId).where('vm_id', 'is', null).where('account_id', '=', accountId)).executeTakeFirst();
}

/** A volume with no VM removed with its backups and schedules (any account's when `accountId` is null):
 *  the row this call really removed, or undefined (then nothing is removed). */
export async function deleteHeldVolume(trx: Trx, discId: number, accountId: number | null): Promise<DiscRow | undefined> {
  let q = trx.selectFrom('discs').select('id').where('id', '=', discId).where('vm_id', 'is', null);
  if (accountId !== null) q = q.where('account_id', '=', accountId);
  if (!(await forUpdate(trx, q).executeTakeFirst())) return undefined;
  await trx.deleteFrom('backup_schedules').where('disc_id', '=', discId).execute();
  await trx.deleteFrom('backups').where('disc_id', '=', discId).execute();
  return trx.deleteFrom('discs').where('id', '=', discId).where('vm_id', 'is', null).returningAll().executeTakeFirst();
}
