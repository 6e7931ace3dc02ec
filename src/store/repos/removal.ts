// What deleting a VM writes (core/vms/delete.ts): the soft delete's flag, and the rows a purge,
// destroy or detach removes or hands to the account. Each runs inside the caller's transaction,
// after the VM, its head and its pools are locked in that order (core/locks.ts).
import type { DiscRow, VmRow } from '../schema.js';
import type { Db, Trx } from './types.js';

/** BigV soft delete: off, flagged, kept; false when it was already deleted (or is gone). */
export async function markDeleted(db: Db, vmId: number, now: number): Promise<boolean> {
  const r = await db.updateTable('vms').set({ deleted: 1, deleted_at: now, power_on: 0, updated_at: now })
    .where('id', '=', vmId).where('deleted', '=', 0).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Deleted VMs whose undelete window ended before `cutoff`. */
export function deletedBefore(db: Db, cutoff: number): Promise<Pick<VmRow, 'id' | 'head_id'>[]> {
  return db.selectFrom('vms').select(['id', 'head_id']).where('deleted', '=', 1).where('deleted_at', '<', cutoff).execute();
}

export async function accountOfGroup(trx: Trx, groupId: number): Promise<number> {
  return (await trx.selectFrom('groups').select('account_id').where('id', '=', groupId).executeTakeFirstOrThrow()).account_id;
}

/** The VM's discs removed, with their backups and backup schedules; what was removed. */
export async function deleteDiscsOf(trx: Trx, vmId: number): Promise<DiscRow[]> {
  const ids = (await trx.selectFrom('discs').select('id').where('vm_id', '=', vmId).execute()).map((d) => d.id);
  if (ids.length) {
    await trx.deleteFrom('backup_schedules').where('disc_id', 'in', ids).execute();
    await trx.deleteFrom('backups').where('disc_id', 'in', ids).execute();
  }
  return trx.deleteFrom('discs').where('vm_id', '=', vmId).returningAll().execute();
}

/** The VM's discs made volumes of the account with no VM (backups and schedules stay with them). */
export function detachDiscsOf(trx: Trx, vmId: number, accountId: number): Promise<DiscRow[]> {
  return trx.updateTable('discs').set({ vm_id: null, account_id: accountId }).where('vm_id', '=', vmId).returningAll().execute();
}

export async function nicIdsOf(trx: Trx, vmId: number): Promise<number[]> {
  return (await trx.selectFrom('nics').select('id').where('vm_id', '=', vmId).execute()).map((n) => n.id);
}

export async function deleteNicsOf(trx: Trx, vmId: number): Promise<void> {
  await trx.deleteFrom('nics').where('vm_id', '=', vmId).execute();
}

/** The VM's snapshots, which die with it (their qcow2 snapshots go with its discs, or stay inside a detached volume's file). */
export async function deleteSnapshotsOf(trx: Trx, vmId: number): Promise<void> {
  await trx.deleteFrom('snapshots').where('vm_id', '=', vmId).execute();
}

/** Privileges and invitations on the VM, which die with it. */
export async function deleteGrantsOn(trx: Trx, vmId: number): Promise<void> {
  await trx.deleteFrom('privileges').where('virtual_machine_id', '=', vmId).execute();
  await trx.deleteFrom('invitations').where('virtual_machine_id', '=', vmId).execute();
}

/** The VM's row removed: what it claimed on its head, or undefined when a racing removal came first. */
export function deleteVmRow(trx: Trx, vmId: number): Promise<Pick<VmRow, 'head_id' | 'cores' | 'memory'> | undefined> {
  return trx.deleteFrom('vms').where('id', '=', vmId).returning(['head_id', 'cores', 'memory']).executeTakeFirst();
}
