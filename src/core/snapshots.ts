// Snapshots (docs/domain.md §16): qcow2 internal snapshots of every disc of a stopped VM, taken,
// restored and removed by its head. Each act is an operation holding the VM (operations/kinds.ts
// LOCKING); its end sets the snapshot's state (operations/queue.ts effects): `pending` while one
// runs, then `ready`, or `failed` with the head's error; a delete that worked removes the row.
// A running VM is refused: live snapshots (QMP snapshot-save) are later.
import type { Hangar } from './context.js';
import type { SnapshotRow, VmRow } from '../store/schema.js';
import * as snapshots from '../store/repos/snapshots.js';
import { discsOf } from '../store/repos/discs.js';
import { forbidden, invalid, notFound, refused } from './errors.js';
import { holds, type Principal } from './principal.js';
import type { VmPlace } from './resolve.js';
import { lockLiveVm } from './locks.js';
import { withTransaction } from './transaction.js';
import { checkDiscLabel } from './vms/attributes.js';
import { enqueue, getOperation } from '../operations/queue.js';
import type { Trx } from '../store/repos/types.js';
import type { DiscRef } from '../drivers/driver.js';

export interface Snapshot {
  id: number; publicId: string; vmId: number; label: string; state: SnapshotRow['state']; error: string | null; createdAt: number;
}

export function snapshotValue(r: SnapshotRow): Snapshot {
  return { id: r.id, publicId: r.uuid, vmId: r.vm_id, label: r.label, state: r.state, error: r.error, createdAt: r.created_at };
}

/** A snapshot and the public id of the operation that acted on it. */
export interface SnapshotAct { snapshot: Snapshot; operation: string }

/** The name of a snapshot inside the qcow2 files: its public id, which no rename changes. */
const nameOf = (s: SnapshotRow): string => `hangar-${s.uuid}`;

function requireAdmin(p: Principal, at: VmPlace): void {
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('change_snapshots');
}

/** The VM locked and able to be snapshotted now (placed, off), and its discs as its head knows them. */
async function stoppedVm(trx: Trx, at: VmPlace): Promise<{ vm: VmRow & { head_id: number }; discs: DiscRef[] }> {
  const vm = await lockLiveVm(trx, at);
  if (vm.head_id === null) throw refused('virtual_machine', 'vm_not_placed', {}, 'state');
  if (vm.power_on) throw refused('power_on', 'power_off_to_snapshot', {}, 'state');
  const discs = (await discsOf(trx, vm.id)).map((d) => ({ id: d.id, vmId: vm.id, label: d.label, grade: d.storage_grade, size: d.size }));
  return { vm: vm as VmRow & { head_id: number }, discs };
}

export async function listSnapshots(h: Hangar, p: Principal, at: VmPlace): Promise<Snapshot[]> {
  requireAdmin(p, at);
  return (await snapshots.snapshotsOf(h.db, at.vm.id)).map(snapshotValue);
}

/** The VM's snapshot a path segment names (the one id rule, core/ids.ts: id, public id or label). */
export async function resolveSnapshot(h: Hangar, p: Principal, at: VmPlace, segment: string): Promise<Snapshot> {
  requireAdmin(p, at);
  const s = await snapshots.snapshotOfByRef(h.db, at.vm.id, segment);
  if (!s) throw notFound('snapshot');
  return snapshotValue(s);
}

/** The operation run, then the snapshot as its end left it (`before` when a delete removed its row). */
async function acted(h: Hangar, headId: number, before: SnapshotRow, opId: number): Promise<SnapshotAct> {
  await h.heads.kick(headId, before.vm_id);
  const op = (await getOperation(h.db, opId))!;
  const now = await snapshots.snapshotOf(h.db, before.vm_id, before.id);
  return { snapshot: snapshotValue(now ?? before), operation: op.uuid };
}

export async function createSnapshot(h: Hangar, p: Principal, at: VmPlace, input: { label?: string } = {}): Promise<SnapshotAct> {
  requireAdmin(p, at);
  if (input.label !== undefined) {
    const err = checkDiscLabel(input.label);
    if (err) throw invalid('label', err.code, err.params);
  }
  const now = h.now();
  const { snapshot, opId, headId } = await withTransaction(h.db, async (trx) => {
    const { vm, discs } = await stoppedVm(trx, at);
    const labels = (await snapshots.snapshotsOf(trx, vm.id)).map((s) => s.label);
    let label = input.label;
    if (label && labels.includes(label)) throw invalid('label', 'taken');
    for (let i = labels.length + 1; !label || labels.includes(label); i++) label = `snapshot-${i}`;
    const snapshot = await snapshots.insertSnapshot(trx, { vmId: vm.id, label, now });
    const opId = await enqueue(trx, { kind: 'snapshot.create', vmId: vm.id, headId: vm.head_id, userId: p.userId, args: { snapshotId: snapshot.id, name: nameOf(snapshot), discs }, now });
    return { snapshot, opId, headId: vm.head_id };
  });
  return acted(h, headId, snapshot, opId);
}

/** Ask for an act on a ready snapshot of the stopped VM: it is `pending` until the act ends. */
async function act(h: Hangar, p: Principal, at: VmPlace, segment: string, kind: 'snapshot.restore' | 'snapshot.delete'): Promise<SnapshotAct> {
  requireAdmin(p, at);
  const now = h.now();
  const { before, opId, headId } = await withTransaction(h.db, async (trx) => {
    const { vm, discs } = await stoppedVm(trx, at);
    const s = await snapshots.snapshotOfByRef(trx, vm.id, segment);
    if (!s) throw notFound('snapshot');
    // Pending: being taken, restored or deleted. A failed one may only be deleted (what it left is removed).
    if (s.state === 'pending' || (s.state === 'failed' && kind === 'snapshot.restore')) {
      throw refused('snapshot', 'snapshot_not_ready', { state: s.state }, 'state');
    }
    await snapshots.setSnapshotState(trx, s.id, 'pending', null);
    const opId = await enqueue(trx, { kind, vmId: vm.id, headId: vm.head_id, userId: p.userId, args: { snapshotId: s.id, name: nameOf(s), discs }, now });
    return { before: s, opId, headId: vm.head_id };
  });
  return acted(h, headId, before, opId);
}

/** Every disc of the stopped VM back to the snapshot (a disc added since has none: the head refuses before changing any). */
export function restoreSnapshot(h: Hangar, p: Principal, at: VmPlace, segment: string): Promise<SnapshotAct> {
  return act(h, p, at, segment, 'snapshot.restore');
}

export function deleteSnapshot(h: Hangar, p: Principal, at: VmPlace, segment: string): Promise<SnapshotAct> {
  return act(h, p, at, segment, 'snapshot.delete');
}

/**
 * What an ended snapshot operation leaves on its row, in the transaction that ends it (whether its
 * head or the sweeper ends it): a take ready or failed, a restore ready again (a failed restore is
 * the operation's failure, not the snapshot's), a delete removed, or failed when it did not work.
 */
export async function snapshotEnded(trx: Trx, kind: 'snapshot.create' | 'snapshot.restore' | 'snapshot.delete', snapshotId: number, error: string | null): Promise<void> {
  if (kind === 'snapshot.delete' && error === null) await snapshots.deleteSnapshotRow(trx, snapshotId);
  else if (kind === 'snapshot.restore') await snapshots.setSnapshotState(trx, snapshotId, 'ready', null);
  else await snapshots.setSnapshotState(trx, snapshotId, error === null ? 'ready' : 'failed', error);
}
