// Discs: sizes in MiB, grow only, at most eight per VM; no soft delete (purge=true is required).
// Backups and backup schedules hang off discs.
import type { Hangar } from './context.js';
import type { BackupRow, BackupScheduleRow, DiscRow } from '../store/schema.js';
import * as discs from '../store/repos/discs.js';
import type { VmDiscRow } from '../store/repos/discs.js';
import { invalid, refused, notFound, forbidden } from './errors.js';
import { holds, isClusterAdmin, type Principal } from './principal.js';
import { resolveVmById, whenNotFound, type VmPlace } from './resolve.js';
import { LIMITS } from './definitions.js';
import { checkDiscLabel, checkDiscSize, checkGrade, checkSchedule } from './vms/attributes.js';
import { claimDisc, releaseDisc, type DiscSpace } from '../scheduler/place.js';
import type { Trx } from '../store/repos/types.js';
import { lockLiveVm, lockVms } from './locks.js';
import { enqueue, getOperation } from '../operations/queue.js';
import type { DiscRef } from '../drivers/driver.js';
import { withTransaction } from './transaction.js';
import { snapshotLabels } from '../store/repos/snapshots.js';

export interface DiscPlace extends VmPlace { disc: VmDiscRow }

/** A disc as the domain knows it: `vmId` null for a volume kept by its account, `poolId` null before placement. */
export interface Disc { id: number; publicId: string; vmId: number | null; label: string; grade: string; sizeMiB: number; poolId: number | null }
/** A backup of a disc; `manual`: taken on request, not by a schedule. */
export interface Backup { id: number; publicId: string; discId: number; label: string; grade: string; sizeMiB: number; manual: boolean }

export function discValue(r: DiscRow): Disc {
  return { id: r.id, publicId: r.uuid, vmId: r.vm_id, label: r.label, grade: r.storage_grade, sizeMiB: r.size, poolId: r.storage_pool_id };
}

export function backupValue(r: BackupRow): Backup {
  return { id: r.id, publicId: r.uuid, discId: r.disc_id, label: r.label, grade: r.storage_grade, sizeMiB: r.size, manual: !!r.manual };
}

const ref = (d: VmDiscRow): DiscRef => ({ id: d.id, vmId: d.vm_id, label: d.label, grade: d.storage_grade, size: d.size });

function placeOf(at: VmPlace) {
  return { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id };
}

function requireAdmin(p: Principal, at: VmPlace): void {
  if (!holds(p, placeOf(at), 'vm_admin')) throw forbidden('change_discs');
  if (at.vm.deleted) throw refused('deleted', 'vm_deleted_discs', {}, 'state');
}

export async function listDiscs(h: Hangar, at: VmPlace): Promise<VmDiscRow[]> {
  return discs.discsOf(h.db, at.vm.id);
}

export async function resolveDisc(h: Hangar, at: VmPlace, segment: string): Promise<DiscPlace> {
  const disc = await discs.discOfByRef(h.db, at.vm.id, segment);
  if (!disc) throw notFound('disc');
  return { ...at, disc };
}

/** The non-nested /discs/{id}: by id or public id. */
export async function resolveDiscById(h: Hangar, p: Principal, segment: string): Promise<DiscPlace> {
  const disc = await discs.attachedDiscByRef(h.db, segment);
  if (!disc) throw notFound('disc');
  const at = await resolveVmById(h.db, p, disc.vm_id, { includeDeleted: true }).catch(whenNotFound(() => notFound('disc')));
  return { ...at, disc };
}

export async function schedulesOf(h: Hangar, discIds: number[]): Promise<Map<number, BackupScheduleRow[]>> {
  const out = new Map<number, BackupScheduleRow[]>();
  if (discIds.length === 0) return out;
  const rows = await discs.schedulesOfDiscs(h.db, discIds);
  for (const r of rows) out.set(r.disc_id, [...(out.get(r.disc_id) ?? []), r]);
  return out;
}

async function waitFor(h: Hangar, headId: number | null, vmId: number, opId: number, field: string): Promise<void> {
  if (headId === null) return;
  await h.heads.kick(headId, vmId);
  const op = await getOperation(h.db, opId);
  if (op?.state === 'failed') throw refused(field, 'head_failed', { detail: op.error ?? null }, 'failed');
}

/** A disc's space (created or grown), refused when its grade has no room left on the head. */
async function claimSpace(trx: Trx, where: DiscSpace, size: number): Promise<number> {
  const pool = await claimDisc(trx, where, size);
  if (pool === null) throw refused('size', 'grade_space', { grade: where.grade }, 'no_capacity');
  return pool;
}

export async function createDisc(h: Hangar, p: Principal, at: VmPlace, input: { label?: string; storage_grade?: string; size?: number }): Promise<VmDiscRow> {
  requireAdmin(p, at);
  const grade = input.storage_grade ?? 'sata';
  const gradeErr = checkGrade(grade);
  if (gradeErr) throw invalid('storage_grade', gradeErr.code, gradeErr.params);
  const sizeErr = input.size === undefined ? { code: 'required' as const } : checkDiscSize(input.size);
  if (sizeErr) throw invalid('size', sizeErr.code, sizeErr.params);
  const labelErr = input.label ? checkDiscLabel(input.label) : null;
  if (labelErr) throw invalid('label', labelErr.code, labelErr.params);
  const given = input.label || undefined;
  const now = h.now();
  const { disc, opId } = await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    const existing = await discs.labelsOf(trx, vm.id);
    if (existing.length >= LIMITS.discsPerVm) throw refused('discs', 'discs_per_vm', { max: LIMITS.discsPerVm }, 'too_many');
    let label = given;
    if (!label) for (let i = existing.length + 1; !label || existing.some((e) => e.label === label); i++) label = `disc-${i}`;
    if (existing.some((e) => e.label === label)) throw invalid('label', 'taken');
    if (vm.head_id === null) throw refused('virtual_machine', 'vm_not_placed', {}, 'state');
    const pool = await claimSpace(trx, { headId: vm.head_id, grade }, input.size!);
    const disc = await discs.insertDisc(trx, { vmId: vm.id, label, grade, size: input.size!, poolId: pool, now });
    const opId = await enqueue(trx, { kind: 'disc.create', vmId: vm.id, headId: vm.head_id, userId: p.userId, args: { disc: ref(disc) }, now });
    return { disc, opId };
  });
  await waitFor(h, at.vm.head_id, at.vm.id, opId, 'size');
  return disc;
}

export async function updateDisc(h: Hangar, p: Principal, at: DiscPlace, input: { size?: number; virtual_machine_id?: number; iops_limit?: number }): Promise<VmDiscRow> {
  requireAdmin(p, at);
  const { disc } = at;
  if (input.iops_limit !== undefined) {
    if (!isClusterAdmin(p)) throw forbidden('admin_iops_limit');
    throw refused('iops_limit', 'no_iops_limit');
  }
  if (input.size !== undefined && input.size !== disc.size) {
    const size = input.size;
    const now = h.now();
    // The delta is taken from the disc as it is inside the transaction: a grow that raced this one counts.
    const opId = await withTransaction(h.db, async (trx) => {
      await lockLiveVm(trx, at);
      const cur = await discs.discOf(trx, at.vm.id, disc.id);
      if (!cur) throw notFound('disc');
      if (size < cur.size) throw refused('size', 'discs_only_grow');
      if (size === cur.size) return null;
      // A qcow2 snapshot keeps its disc's size: restoring one would shrink the disc under its grown
      // size and claim. A snapshot covers every disc of its VM.
      const held = await snapshotLabels(trx, at.vm.id);
      if (held.length) throw refused('size', 'disc_has_snapshots', { snapshots: held.join(', ') }, 'conflict');
      const sizeErr = checkDiscSize(size);
      if (sizeErr) throw invalid('size', sizeErr.code, sizeErr.params);
      const delta = size - cur.size;
      if (cur.storage_pool_id !== null) await claimSpace(trx, { poolId: cur.storage_pool_id, grade: cur.storage_grade }, delta);
      await discs.setSize(trx, cur.id, size);
      return enqueue(trx, { kind: 'disc.grow', vmId: cur.vm_id, headId: at.vm.head_id, userId: p.userId, args: { disc: ref(cur), size }, now });
    });
    if (opId !== null) await waitFor(h, at.vm.head_id, at.vm.id, opId, 'size');
  }
  if (input.virtual_machine_id !== undefined && input.virtual_machine_id !== disc.vm_id) {
    // The first disc is the one the machine boots from (and reimage writes): BigV keeps it with its machine.
    const first = await discs.firstDisc(h.db, disc.vm_id);
    if (first?.id === disc.id) throw refused('virtual_machine_id', 'boot_disc', {}, 'state');
    const target = await resolveVmById(h.db, p, input.virtual_machine_id, { includeDeleted: false }).catch(whenNotFound(() => refused('virtual_machine_id', 'not_visible_vm')));
    requireAdmin(p, target);
    if (at.vm.power_on || target.vm.power_on) throw refused('virtual_machine_id', 'power_off_both_disc', {}, 'state');
    if (at.vm.head_id !== target.vm.head_id) throw refused('virtual_machine_id', 'different_heads', {}, 'state');
    await withTransaction(h.db, async (trx) => {
      // Both machines as they are now: either may have been purged, deleted or powered on since.
      const locked = await lockVms(trx, [at.vm.id, target.vm.id]);
      const [from, to] = [locked.get(at.vm.id), locked.get(target.vm.id)];
      if (!from || from.deleted) throw notFound('disc');
      if (!to || to.deleted) throw refused('virtual_machine_id', 'not_visible_vm');
      if (from.power_on || to.power_on) throw refused('virtual_machine_id', 'power_off_both_disc', {}, 'state');
      const count = await discs.countDiscs(trx, target.vm.id);
      if (Number(count.n) >= LIMITS.discsPerVm) throw refused('virtual_machine_id', 'target_discs_full', { max: LIMITS.discsPerVm }, 'too_many');
      if (await discs.labelUsed(trx, target.vm.id, disc.label)) {
        throw refused('label', 'label_on_target', {}, 'taken');
      }
      const moved = await discs.moveDisc(trx, disc.id, at.vm.id, target.vm.id);
      if (!moved) throw notFound('disc');
    });
  }
  const now = await discs.attachedDisc(h.db, disc.id);
  if (!now) throw notFound('disc'); // deleted by a racing request
  return now;
}

export async function deleteDisc(h: Hangar, p: Principal, at: DiscPlace, purge: boolean): Promise<void> {
  requireAdmin(p, at);
  if (!purge) throw refused('purge', 'discs_not_undeletable');
  const { disc } = at;
  const now = h.now();
  await withTransaction(h.db, async (trx) => {
    await lockLiveVm(trx, at);
    // Space is released, and the head asked, only for the disc row this request really deleted.
    const gone = await discs.deleteDiscOf(trx, at.vm.id, disc.id);
    if (!gone) throw notFound('disc');
    await releaseDisc(trx, gone.storage_pool_id, gone.size);
    await enqueue(trx, { kind: 'disc.delete', vmId: gone.vm_id, headId: at.vm.head_id, userId: p.userId, args: { disc: ref(gone) }, now });
  });
  if (at.vm.head_id !== null) await h.heads.kick(at.vm.head_id, at.vm.id);
}

// Backups ---------------------------------------------------------------------------------------

export async function listBackups(h: Hangar, at: DiscPlace): Promise<BackupRow[]> {
  return discs.backupsOf(h.db, at.disc.id);
}

export async function resolveBackup(h: Hangar, at: DiscPlace, segment: string): Promise<BackupRow> {
  const b = await discs.backupOfByRef(h.db, at.disc.id, segment);
  if (!b) throw notFound('backup');
  return b;
}

export async function createBackup(h: Hangar, p: Principal, at: DiscPlace): Promise<BackupRow> {
  requireAdmin(p, at);
  const now = h.now();
  const { backup, opId } = await withTransaction(h.db, async (trx) => {
    await lockLiveVm(trx, at);
    const disc = await discs.discOf(trx, at.vm.id, at.disc.id);
    if (!disc) throw notFound('disc');
    const count = await discs.countBackups(trx, at.disc.id);
    const backup = await discs.insertBackup(trx, { discId: disc.id, label: `backup-${count + 1}-${now}`, size: disc.size, now });
    const opId = await enqueue(trx, { kind: 'backup.create', vmId: at.vm.id, headId: at.vm.head_id, userId: p.userId, args: { disc: ref(disc), backupId: backup.id }, now });
    return { backup, opId };
  });
  await waitFor(h, at.vm.head_id, at.vm.id, opId, 'backup');
  return backup;
}

export async function restoreBackup(h: Hangar, p: Principal, at: DiscPlace, backup: BackupRow): Promise<BackupRow> {
  requireAdmin(p, at);
  // Decided on the VM as it is now, locked until the restore is queued: a power-on racing it waits.
  const { opId, headId } = await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    if (vm.power_on) throw refused('restore', 'power_off_to_restore', {}, 'state');
    // A restore replaces the disc's file, and the qcow2 snapshots inside it with it.
    const held = await snapshotLabels(trx, vm.id);
    if (held.length) throw refused('snapshots', 'vm_has_snapshots', { snapshots: held.join(', ') }, 'conflict');
    const disc = await discs.discOf(trx, vm.id, at.disc.id);
    if (!disc) throw notFound('disc');
    if (!(await discs.backupExists(trx, disc.id, backup.id))) throw notFound('backup');
    const opId = await enqueue(trx, { kind: 'backup.restore', vmId: vm.id, headId: vm.head_id, userId: p.userId, args: { disc: ref(disc), backupId: backup.id }, now: h.now() });
    return { opId, headId: vm.head_id };
  });
  await waitFor(h, headId, at.vm.id, opId, 'restore');
  return backup;
}

export async function deleteBackup(h: Hangar, p: Principal, at: DiscPlace, backup: BackupRow, purge: boolean): Promise<void> {
  requireAdmin(p, at);
  if (!purge) throw refused('purge', 'backups_not_undeletable');
  const now = h.now();
  await withTransaction(h.db, async (trx) => {
    const gone = await discs.deleteBackupOf(trx, at.disc.id, backup.id);
    if (!gone) throw notFound('backup'); // a racing delete took it: one operation per backup deleted
    await enqueue(trx, { kind: 'backup.delete', vmId: at.vm.id, headId: at.vm.head_id, userId: p.userId, args: { disc: ref(at.disc), backupId: backup.id }, now });
  });
  if (at.vm.head_id !== null) await h.heads.kick(at.vm.head_id, at.vm.id);
}

export async function createSchedule(h: Hangar, p: Principal, at: DiscPlace, input: { start_at?: string; interval_seconds?: number; capacity?: number }): Promise<BackupScheduleRow> {
  requireAdmin(p, at);
  const checked = checkSchedule({ startAt: input.start_at, intervalSeconds: input.interval_seconds }, h.now());
  if ('code' in checked) throw invalid(checked.field, checked.code, checked.params);
  const { start } = checked;
  const interval = input.interval_seconds!;
  return withTransaction(h.db, async (trx) => {
    // The disc may have been deleted (or its VM purged) since it was resolved: 404, not a broken reference.
    await lockLiveVm(trx, at);
    if (!(await discs.discOf(trx, at.vm.id, at.disc.id))) throw notFound('disc');
    return discs.insertSchedule(trx, { discId: at.disc.id, startAt: start, intervalSeconds: interval, capacity: Math.max(1, input.capacity ?? 1), now: h.now() });
  });
}

export async function deleteSchedule(h: Hangar, p: Principal, at: DiscPlace, segment: string): Promise<void> {
  requireAdmin(p, at);
  const r = await discs.deleteScheduleByRef(h.db, at.disc.id, segment);
  if (!r) throw notFound('backup_schedule');
}
