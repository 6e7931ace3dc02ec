// Stats samples and the last counter readings (migration 015). Buckets are upserted: what a reading
// adds to a bucket is summed with what is there, and a null (not measurable) never hides a number.
import { sql } from 'kysely';
import type { Db, Trx } from './types.js';

export interface Usage { cpuMs: number | null; readBytes: number | null; writeBytes: number | null; rxBytes: number | null; txBytes: number | null }
export interface Counters extends Usage { at: number }
export interface SampleRow extends Usage { nicId: number | null; resolution: string; bucketStart: number }

type Column = 'cpu_ms' | 'read_bytes' | 'write_bytes' | 'rx_bytes' | 'tx_bytes';
const toRow = (u: Usage) => ({ cpu_ms: u.cpuMs, read_bytes: u.readBytes, write_bytes: u.writeBytes, rx_bytes: u.rxBytes, tx_bytes: u.txBytes });

/** The VM's head, when the VM exists and is not deleted (a head reports only its own machines). */
export async function vmHead(db: Db, vmId: number): Promise<number | null | undefined> {
  const row = await db.selectFrom('vms').select(['head_id']).where('id', '=', vmId).where('deleted', '=', 0).executeTakeFirst();
  return row ? row.head_id : undefined;
}

/** The VM's NICs (a reading about another NIC is not this VM's to keep). */
export async function nicIdsOf(db: Db, vmId: number): Promise<number[]> {
  return (await db.selectFrom('nics').select('id').where('vm_id', '=', vmId).execute()).map((r) => r.id);
}

/** The last readings of a VM: key 0 = VM-wide, otherwise a NIC id. */
export async function countersOf(trx: Trx, vmId: number): Promise<Map<number, Counters>> {
  const rows = await trx.selectFrom('stats_counters').selectAll().where('vm_id', '=', vmId).execute();
  return new Map(rows.map((r) => [r.nic_id, { at: r.at, cpuMs: r.cpu_ms, readBytes: r.read_bytes, writeBytes: r.write_bytes, rxBytes: r.rx_bytes, txBytes: r.tx_bytes }]));
}

export async function saveCounters(trx: Trx, vmId: number, nicId: number, c: Counters): Promise<void> {
  await trx.insertInto('stats_counters').values({ vm_id: vmId, nic_id: nicId, at: c.at, ...toRow(c) })
    .onConflict((oc) => oc.columns(['vm_id', 'nic_id']).doUpdateSet({ at: c.at, ...toRow(c) })).execute();
}

/** Add what was used to a bucket. */
export async function addToBucket(trx: Trx, vmId: number, nicId: number, resolution: string, bucketStart: number, u: Usage): Promise<void> {
  const sum = (col: Column) =>
    sql<number>`CASE WHEN excluded.${sql.ref(col)} IS NULL THEN stats_samples.${sql.ref(col)} ELSE COALESCE(stats_samples.${sql.ref(col)}, 0) + excluded.${sql.ref(col)} END`;
  await trx.insertInto('stats_samples').values({ vm_id: vmId, nic_id: nicId, resolution, bucket_start: bucketStart, ...toRow(u) })
    .onConflict((oc) => oc.columns(['vm_id', 'nic_id', 'resolution', 'bucket_start'])
      .doUpdateSet({ cpu_ms: sum('cpu_ms'), read_bytes: sum('read_bytes'), write_bytes: sum('write_bytes'), rx_bytes: sum('rx_bytes'), tx_bytes: sum('tx_bytes') }))
    .execute();
}

/** A VM's buckets of one resolution starting in [from, to), VM-wide rows first, then by NIC. */
export async function samplesOf(db: Db, vmId: number, resolution: string, from: number, to: number): Promise<SampleRow[]> {
  const rows = await db.selectFrom('stats_samples').selectAll().where('vm_id', '=', vmId).where('resolution', '=', resolution)
    .where('bucket_start', '>=', from).where('bucket_start', '<', to).orderBy('bucket_start').orderBy('nic_id').execute();
  return rows.map((r) => ({
    nicId: r.nic_id === 0 ? null : r.nic_id, resolution: r.resolution, bucketStart: r.bucket_start,
    cpuMs: r.cpu_ms, readBytes: r.read_bytes, writeBytes: r.write_bytes, rxBytes: r.rx_bytes, txBytes: r.tx_bytes,
  }));
}

/** Drop the buckets of a resolution that start before `before`; how many went. */
export async function pruneSamples(db: Db, resolution: string, before: number): Promise<number> {
  const r = await db.deleteFrom('stats_samples').where('resolution', '=', resolution).where('bucket_start', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows);
}
