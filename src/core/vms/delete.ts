// DELETE: a soft delete (the VM goes down, keeps its name and addresses, and can be undeleted
// within the retention window) or a purge (gone for good: discs destroyed, addresses back in
// the pool, the name free again).
import type { Transaction } from 'kysely';
import type { Hangar } from '../context.js';
import type { Database, VmRow } from '../../store/schema.js';
import { notFound, forbidden } from '../errors.js';
import { holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import { releaseIps } from '../ipam.js';
import { lockRow, lockVm } from '../locks.js';
import { claimCompute, releaseDisc } from '../../scheduler/place.js';
import { enqueue } from '../../operations/queue.js';
import { forgetPrincipals } from '../auth.js';
import { withTransaction } from '../transaction.js';

export async function deleteVm(h: Hangar, p: Principal, at: VmPlace, purge: boolean): Promise<void> {
  const { vm, group, account } = at;
  if (!holds(p, { accountId: account.id, groupId: group.id, vmId: vm.id }, 'group_admin')) {
    throw forbidden('delete_vm');
  }
  const now = h.now();
  if (!purge) {
    if (vm.deleted) return;
    await h.db.updateTable('vms').set({ deleted: 1, deleted_at: now, power_on: 0, updated_at: now }).where('id', '=', vm.id).where('deleted', '=', 0).execute();
  } else {
    // Someone else purged it first (or moved it out of the group the path named): nothing left here.
    const gone = await withTransaction(h.db, (trx) => purgeRows(trx, vm.id, p.userId, now, (cur) => cur.group_id === group.id));
    if (!gone) throw notFound('virtual_machine');
    forgetPrincipals(h);
  }
  if (vm.head_id !== null) await h.heads.kick(vm.head_id, vm.id);
}

/**
 * Remove a VM and everything hanging off it, and ask its head to destroy the discs; false when the
 * VM is already gone or `still` says it should no longer be purged. What is released is what the
 * deleted rows held, read as they are deleted: a racing purge finds no row and releases nothing.
 */
export async function purgeRows(
  trx: Transaction<Database>, vmId: number, userId: number | null, now: number, still: (vm: VmRow) => boolean = () => true,
): Promise<boolean> {
  const vm = await lockVm(trx, vmId);
  if (!vm || !still(vm)) return false;
  // The head before its pools (core/locks.ts), as a create takes them.
  if (vm.head_id !== null) await lockRow(trx, 'heads', vm.head_id);
  const discIds = (await trx.selectFrom('discs').select('id').where('vm_id', '=', vm.id).execute()).map((d) => d.id);
  if (discIds.length) {
    await trx.deleteFrom('backup_schedules').where('disc_id', 'in', discIds).execute();
    await trx.deleteFrom('backups').where('disc_id', 'in', discIds).execute();
  }
  const discs = await trx.deleteFrom('discs').where('vm_id', '=', vm.id).returningAll().execute();
  // One update per pool, in id order, so two purges sharing pools cannot deadlock on PostgreSQL.
  const freed = new Map<number, number>();
  for (const d of discs) if (d.storage_pool_id !== null) freed.set(d.storage_pool_id, (freed.get(d.storage_pool_id) ?? 0) + d.size);
  for (const [pool, size] of [...freed].sort(([a], [b]) => a - b)) await releaseDisc(trx, pool, size);
  const nics = await trx.selectFrom('nics').select('id').where('vm_id', '=', vm.id).execute();
  await releaseIps(trx, nics.map((n) => n.id));
  await trx.deleteFrom('nics').where('vm_id', '=', vm.id).execute();
  await trx.deleteFrom('privileges').where('virtual_machine_id', '=', vm.id).execute();
  await trx.deleteFrom('invitations').where('virtual_machine_id', '=', vm.id).execute();
  const gone = await trx.deleteFrom('vms').where('id', '=', vm.id).returning(['head_id', 'cores', 'memory']).executeTakeFirst();
  if (!gone) return false;
  if (gone.head_id !== null) {
    await claimCompute(trx, gone.head_id, -gone.cores, -gone.memory);
    await enqueue(trx, {
      kind: 'purge', vmId: vm.id, headId: gone.head_id, userId, now,
      args: { discs: discs.map((d) => ({ id: d.id, vmId: vm.id, label: d.label, grade: d.storage_grade, size: d.size })) },
    });
  }
  return true;
}

/** Deleted VMs past the undelete window are purged; returns how many. */
export async function purgeExpired(h: Hangar): Promise<number> {
  const cutoff = h.now() - h.config.undeleteDays * 86_400_000;
  const expired = (vm: Pick<VmRow, 'deleted' | 'deleted_at'>) => vm.deleted === 1 && vm.deleted_at !== null && vm.deleted_at < cutoff;
  const candidates = await h.db.selectFrom('vms').select(['id', 'head_id']).where('deleted', '=', 1).where('deleted_at', '<', cutoff).execute();
  let purged = 0;
  for (const vm of candidates) {
    // Checked again on the locked row: an undelete or a user's purge may have come first.
    if (!(await withTransaction(h.db, (trx) => purgeRows(trx, vm.id, null, h.now(), expired)))) continue;
    purged++;
    if (vm.head_id !== null) void h.heads.kick(vm.head_id, vm.id);
  }
  if (purged) forgetPrincipals(h);
  return purged;
}
