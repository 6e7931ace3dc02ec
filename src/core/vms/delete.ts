// Deleting a VM, in the three ways the dialects ask for (docs/domain.md §23):
// - `soft` (BigV DELETE): the VM goes down, keeps its name, discs and addresses, and can be undeleted
//   within the retention window;
// - `cascade` (BigV `?purge=true`, Gigas destroy, e24cloud `deleteResources: 1`): gone for good with its
//   discs, backups, schedules and NICs; its addresses go back to the pool and the name is free again;
// - `detach` (e24cloud `deleteResources: 0`): the VM and its NICs go, but every disc (the system disc
//   too, §25 G10) stays as a volume of the account with no VM, with its backups and schedules, and every
//   address stays held by the account, unattached. BigV never sees either (it reads discs by VM).
import type { Hangar } from '../context.js';
import type { VmRow } from '../../store/schema.js';
import type { Trx } from '../../store/repos/types.js';
import * as removal from '../../store/repos/removal.js';
import { notFound, forbidden } from '../errors.js';
import { holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import { keepIps, releaseIps } from '../ipam.js';
import { lockRow, lockVm } from '../locks.js';
import { claimCompute, releaseDisc } from '../../scheduler/place.js';
import { enqueue } from '../../operations/queue.js';
import { forgetPrincipals } from '../auth.js';
import { withTransaction } from '../transaction.js';

export type DeleteMode = 'soft' | 'cascade' | 'detach';

/** How the VM's removal treats what hangs off it (a soft delete removes nothing). */
export type RemoveMode = Exclude<DeleteMode, 'soft'>;

/**
 * Delete a VM the caller holds group_admin over. `how` is the mode, or BigV's `purge` flag (true:
 * cascade, false: soft), as api/bigv/vms.ts passes it.
 */
export async function deleteVm(h: Hangar, p: Principal, at: VmPlace, how: { mode: DeleteMode } | boolean): Promise<void> {
  const mode: DeleteMode = typeof how === 'boolean' ? (how ? 'cascade' : 'soft') : how.mode;
  const { vm, group, account } = at;
  if (!holds(p, { accountId: account.id, groupId: group.id, vmId: vm.id }, 'group_admin')) {
    throw forbidden('delete_vm');
  }
  const now = h.now();
  if (mode === 'soft') {
    if (vm.deleted) return;
    await removal.markDeleted(h.db, vm.id, now);
  } else {
    // Someone else purged it first (or moved it out of the group the path named): nothing left here.
    const gone = await withTransaction(h.db, (trx) => removeVm(trx, vm.id, mode, p.userId, now, (cur) => cur.group_id === group.id));
    if (!gone) throw notFound('virtual_machine');
    forgetPrincipals(h);
  }
  if (vm.head_id !== null) await h.heads.kick(vm.head_id, vm.id);
}

/**
 * Remove a VM and what hangs off it as `mode` says, and ask its head to stop it and destroy the discs
 * that went; false when the VM is already gone or `still` says it should no longer be removed. What
 * is released is what the removed rows held, read as they are removed: a racing removal finds no row
 * and releases nothing. A detached volume keeps its pool space, and its file on the head.
 */
export async function removeVm(
  trx: Trx, vmId: number, mode: RemoveMode, userId: number | null, now: number, still: (vm: VmRow) => boolean = () => true,
): Promise<boolean> {
  const vm = await lockVm(trx, vmId);
  if (!vm || !still(vm)) return false;
  // The head before its pools (core/locks.ts), as a create takes them.
  if (vm.head_id !== null) await lockRow(trx, 'heads', vm.head_id);
  const accountId = mode === 'detach' ? await removal.accountOfGroup(trx, vm.group_id) : null;
  const destroyed = accountId === null ? await removal.deleteDiscsOf(trx, vm.id) : [];
  if (accountId !== null) await removal.detachDiscsOf(trx, vm.id, accountId);
  // One update per pool, in id order, so two purges sharing pools cannot deadlock on PostgreSQL.
  const freed = new Map<number, number>();
  for (const d of destroyed) if (d.storage_pool_id !== null) freed.set(d.storage_pool_id, (freed.get(d.storage_pool_id) ?? 0) + d.size);
  for (const [pool, size] of [...freed].sort(([a], [b]) => a - b)) await releaseDisc(trx, pool, size);
  const nics = await removal.nicIdsOf(trx, vm.id);
  if (accountId === null) await releaseIps(trx, nics);
  else await keepIps(trx, nics, accountId);
  await removal.deleteNicsOf(trx, vm.id);
  await removal.deleteGrantsOn(trx, vm.id);
  await removal.deleteSnapshotsOf(trx, vm.id);
  const gone = await removal.deleteVmRow(trx, vm.id);
  if (!gone) return false;
  if (gone.head_id !== null) {
    await claimCompute(trx, gone.head_id, -gone.cores, -gone.memory);
    await enqueue(trx, {
      kind: 'purge', vmId: vm.id, headId: gone.head_id, userId, now,
      args: { discs: destroyed.map((d) => ({ id: d.id, vmId: vm.id, label: d.label, grade: d.storage_grade, size: d.size })) },
    });
  }
  return true;
}

/** Deleted VMs past the undelete window are purged; returns how many. */
export async function purgeExpired(h: Hangar): Promise<number> {
  const cutoff = h.now() - h.config.undeleteDays * 86_400_000;
  const expired = (vm: Pick<VmRow, 'deleted' | 'deleted_at'>) => vm.deleted === 1 && vm.deleted_at !== null && vm.deleted_at < cutoff;
  const candidates = await removal.deletedBefore(h.db, cutoff);
  let purged = 0;
  for (const vm of candidates) {
    // Checked again on the locked row: an undelete or a user's purge may have come first.
    if (!(await withTransaction(h.db, (trx) => removeVm(trx, vm.id, 'cascade', null, h.now(), expired)))) continue;
    purged++;
    if (vm.head_id !== null) void h.heads.kick(vm.head_id, vm.id);
  }
  if (purged) forgetPrincipals(h);
  return purged;
}
