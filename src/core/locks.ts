// Every change to a VM, its discs or its addresses starts by reading the VM's row again inside its
// transaction, locked until the transaction ends. Checks and counter deltas are made against that
// row, never against the one the request resolved earlier: two requests on one VM then run one
// after the other, and the second sees what the first did (or that the VM is gone).
//
// Lock order, so that two transactions never wait for each other: a VM (several: by id), then its
// head, then the head's storage pools. A row that new rows will point at (a group, VM, user or API
// key) is held with keepRow before they are written; whoever deletes such a row locks it (lockRow)
// before looking for what points at it. Whichever comes second waits, then sees the first's work.
import type { VmRow } from '../store/schema.js';
import type { Trx } from '../store/repos/types.js';
import { keepParent, lockParent, lockVmRow, lockVmRows, type Parent } from '../store/repos/locks.js';
import { refused, notFound } from './errors.js';
import type { VmPlace } from './resolve.js';

/** The VM as it is now, locked; undefined when it has been purged. */
export async function lockVm(trx: Trx, id: number): Promise<VmRow | undefined> {
  return lockVmRow(trx, id);
}

/** Several VMs, locked in id order (so two transactions locking the same pair cannot deadlock). */
export async function lockVms(trx: Trx, ids: number[]): Promise<Map<number, VmRow>> {
  const rows = await lockVmRows(trx, ids);
  return new Map(rows.map((r) => [r.id, r]));
}

/**
 * The VM a request resolved, locked, for a change to it or what hangs off it: 404 when it was purged
 * or moved to another group since (the caller's rights were checked on the old place), 400 when it
 * was deleted since.
 */
export async function lockLiveVm(trx: Trx, at: VmPlace): Promise<VmRow> {
  const vm = await lockVm(trx, at.vm.id);
  if (!vm || vm.group_id !== at.group.id) throw notFound('virtual_machine');
  if (vm.deleted) throw refused('deleted', 'vm_deleted', {}, 'state');
  return vm;
}

/**
 * Whether the row is still there, held until the transaction ends (FOR KEY SHARE on PostgreSQL) so that
 * rows this transaction writes pointing at it stay valid: a racing delete waits, then finds them.
 */
export async function keepRow(trx: Trx, table: Parent, id: number): Promise<boolean> {
  return keepParent(trx, table, id);
}

/** Whether the row is still there, locked until the transaction ends: for deleting it (or changing its counters). */
export async function lockRow(trx: Trx, table: Parent, id: number): Promise<boolean> {
  return lockParent(trx, table, id);
}
