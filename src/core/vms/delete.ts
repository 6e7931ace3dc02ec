// DELETE: a soft delete (the VM goes down, keeps its name and addresses, and can be undeleted
// within the retention window) or a purge (gone for good: discs destroyed, addresses back in
// the pool, the name free again).
import type { Transaction } from 'kysely';
import type { Hangar } from '../context.js';
import type { Database, VmRow } from '../../store/schema.js';
import { Forbidden } from '../errors.js';
import { holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import { releaseIps } from '../ipam.js';
import { claimCompute, releaseDisc } from '../../scheduler/place.js';
import { enqueue } from '../../operations/queue.js';
import { forgetPrincipals } from '../auth.js';

export async function deleteVm(h: Hangar, p: Principal, at: VmPlace, purge: boolean): Promise<void> {
  const { vm, group, account } = at;
  if (!holds(p, { accountId: account.id, groupId: group.id, vmId: vm.id }, 'group_admin')) {
    throw new Forbidden('Deleting a machine needs group_admin');
  }
  const now = h.now();
  if (!purge) {
    if (vm.deleted) return;
    await h.db.updateTable('vms').set({ deleted: 1, deleted_at: now, power_on: 0, updated_at: now }).where('id', '=', vm.id).execute();
  } else {
    await h.db.transaction().execute((trx) => purgeRows(trx, vm, p.userId, now));
    forgetPrincipals();
  }
  if (vm.head_id !== null) await h.heads.kick(vm.head_id, vm.id);
}

/** Remove a VM and everything hanging off it, and ask its head to destroy the discs. */
export async function purgeRows(trx: Transaction<Database>, vm: VmRow, userId: number | null, now: number): Promise<void> {
  const discs = await trx.selectFrom('discs').selectAll().where('vm_id', '=', vm.id).execute();
  const discIds = discs.map((d) => d.id);
  if (discIds.length) {
    await trx.deleteFrom('backup_schedules').where('disc_id', 'in', discIds).execute();
    await trx.deleteFrom('backups').where('disc_id', 'in', discIds).execute();
    await trx.deleteFrom('discs').where('id', 'in', discIds).execute();
  }
  for (const d of discs) await releaseDisc(trx, d.storage_pool_id, d.size);
  const nics = await trx.selectFrom('nics').select('id').where('vm_id', '=', vm.id).execute();
  await releaseIps(trx, nics.map((n) => n.id));
  await trx.deleteFrom('nics').where('vm_id', '=', vm.id).execute();
  await trx.deleteFrom('privileges').where('virtual_machine_id', '=', vm.id).execute();
  await trx.deleteFrom('invitations').where('virtual_machine_id', '=', vm.id).execute();
  await trx.deleteFrom('vms').where('id', '=', vm.id).execute();
  if (vm.head_id !== null) {
    await claimCompute(trx, vm.head_id, -vm.cores, -vm.memory);
    await enqueue(trx, {
      kind: 'purge', vmId: vm.id, headId: vm.head_id, userId, now,
      args: { discs: discs.map((d) => ({ id: d.id, vmId: vm.id, label: d.label, grade: d.storage_grade, size: d.size })) },
    });
  }
}

/** Deleted VMs past the undelete window are purged; returns how many. */
export async function purgeExpired(h: Hangar): Promise<number> {
  const cutoff = h.now() - h.config.undeleteDays * 86_400_000;
  const expired = await h.db.selectFrom('vms').selectAll().where('deleted', '=', 1).where('deleted_at', '<', cutoff).execute();
  for (const vm of expired) {
    await h.db.transaction().execute((trx) => purgeRows(trx, vm, null, h.now()));
    if (vm.head_id !== null) void h.heads.kick(vm.head_id, vm.id);
  }
  if (expired.length) forgetPrincipals();
  return expired.length;
}
