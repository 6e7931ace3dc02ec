// Snapshots of VMs (core/snapshots.ts): the only queries of the `snapshots` table.
import { randomUUID } from 'node:crypto';
import type { SnapshotRow } from '../schema.js';
import { whereRef } from '../../core/ids.js';
import type { Db, Trx } from './types.js';

/** By id, public id, or label (as given). */
const LABELLED = { id: 'id', uuid: 'uuid', name: 'label' };

export function snapshotsOf(db: Db, vmId: number): Promise<SnapshotRow[]> {
  return db.selectFrom('snapshots').selectAll().where('vm_id', '=', vmId).orderBy('id').execute();
}

/** The VM's snapshot a path segment names (id, public id or label). */
export function snapshotOfByRef(db: Db, vmId: number, segment: string): Promise<SnapshotRow | undefined> {
  return whereRef(db.selectFrom('snapshots').selectAll().where('vm_id', '=', vmId), segment, LABELLED).executeTakeFirst();
}

export function snapshotOf(db: Db, vmId: number, id: number): Promise<SnapshotRow | undefined> {
  return db.selectFrom('snapshots').selectAll().where('vm_id', '=', vmId).where('id', '=', id).executeTakeFirst();
}

export function insertSnapshot(trx: Trx, s: { vmId: number; label: string; now: number }): Promise<SnapshotRow> {
  return trx.insertInto('snapshots').values({ uuid: randomUUID(), vm_id: s.vmId, label: s.label, state: 'pending', error: null, created_at: s.now })
    .returningAll().executeTakeFirstOrThrow();
}

export async function setSnapshotState(db: Db, id: number, state: SnapshotRow['state'], error: string | null): Promise<void> {
  await db.updateTable('snapshots').set({ state, error }).where('id', '=', id).execute();
}

export async function deleteSnapshotRow(db: Db, id: number): Promise<void> {
  await db.deleteFrom('snapshots').where('id', '=', id).execute();
}

/** Labels of the VM's snapshots (a disc of a VM with snapshots cannot grow: they are named in the refusal). */
export async function snapshotLabels(db: Db, vmId: number): Promise<string[]> {
  return (await db.selectFrom('snapshots').select('label').where('vm_id', '=', vmId).orderBy('id').execute()).map((r) => r.label);
}
