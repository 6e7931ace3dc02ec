// The store's side of the head protocol (brain/link.ts): heads and their pools, what a head must
// look at, a VM's desired state as rows, and what a head observed. The only queries the link makes.
import { SETTINGS_COLUMNS } from './vm-settings.js';
import { sql } from 'kysely';
import { bootOrder } from './discs.js';
import type { Store } from '../db.js';
import { ensureZone } from './zones.js';

import type { Db } from './types.js';
import { compiled } from '../compiled.js';

export interface HeadFacts {
  zone: string; driver: string; accel: string; cores: number; memory: number;
  managementAddress: string; online: boolean; note: string | null; grades: Record<string, number>;
  consoleAddress?: string | null;
}

/** Insert or update the head called `label` and its storage pools (one per grade); its id. */
export async function upsertHead(db: Db, label: string, f: HeadFacts, now: number): Promise<number> {
  const values = {
    zone: f.zone, driver: f.driver, accel: f.accel, cores: f.cores, memory: f.memory,
    management_address: f.managementAddress, online: f.online ? 1 : 0, last_seen: now, note: f.note,
    console_address: f.consoleAddress ?? null,
    // A head in a zone no row names yet makes its row (migration 013).
    zone_id: await ensureZone(db, f.zone, now),
  };
  let headId: number;
  const existing = await db.selectFrom('heads').select('id').where('label', '=', label).executeTakeFirst();
  if (existing) {
    await db.updateTable('heads').set(values).where('id', '=', existing.id).execute();
    headId = existing.id;
  } else {
    headId = (await db.insertInto('heads').values({ label, ...values, created_at: now }).returning('id').executeTakeFirstOrThrow()).id;
  }
  for (const [grade, capacity] of Object.entries(f.grades)) {
    const poolLabel = `${label}-${grade}`;
    const pool = await db.selectFrom('storage_pools').select('id').where('label', '=', poolLabel).executeTakeFirst();
    if (pool) await db.updateTable('storage_pools').set({ capacity }).where('id', '=', pool.id).execute();
    else await db.insertInto('storage_pools').values({ head_id: headId, label: poolLabel, grade, capacity, grade_id: db.selectFrom('storage_grades').select('id').where('name', '=', grade) }).execute();
  }
  return headId;
}

export async function setHeadImages(db: Db, headId: number, images: string[]): Promise<void> {
  await db.updateTable('heads').set({ images: JSON.stringify([...images].sort()) }).where('id', '=', headId).execute();
}

/** VMs of the head whose desired and observed state differ, or with operations queued for it. */
export async function vmsNeedingAttention(db: Db, headId: number): Promise<number[]> {
  const differ = await db.selectFrom('vms').select('id').where('head_id', '=', headId)
    .where((eb) => eb.or([
      eb.and([eb('power_on', '=', 1), eb('deleted', '=', 0), eb('run_state', '!=', 'running')]),
      eb.and([eb.or([eb('power_on', '=', 0), eb('deleted', '=', 1)]), eb('run_state', '!=', 'stopped')]),
      eb('power_cycle', '>', eb.ref('observed_cycle')),
    ])).execute();
  const queued = await db.selectFrom('operations').select('vm_id').distinct()
    .where('head_id', '=', headId).where('state', '=', 'queued').execute();
  return [...new Set([...differ.map((r) => r.id), ...queued.map((r) => r.vm_id).filter((id): id is number => id !== null)])];
}

export async function vmsBelievedRunning(db: Db, headId: number): Promise<number[]> {
  const rows = await db.selectFrom('vms').select('id').where('head_id', '=', headId).where('run_state', '=', 'running').execute();
  return rows.map((r) => r.id);
}

// The desired state's reads, on every power change's path (compiled once: store/compiled.ts).
const desired = {
  row: compiled((db, vmId: number, headId: number) => db.selectFrom('vms as v')
    .innerJoin('groups as g', 'g.id', 'v.group_id')
    .innerJoin('accounts as a', 'a.id', 'g.account_id')
    .selectAll('v').select(['g.name as group_name', 'a.name as account_name'])
    .where('v.id', '=', vmId).where('v.head_id', '=', headId)),
  discs: compiled((db, vmId: number) => db.selectFrom('discs').selectAll().where('vm_id', '=', vmId).orderBy(bootOrder()).orderBy('id')),
  nics: compiled((db, vmId: number) => db.selectFrom('nics').selectAll().where('vm_id', '=', vmId).orderBy('id')),
  ips: compiled((db, vmId: number) => db.selectFrom('ips').innerJoin('nics as n', 'n.id', 'ips.nic_id').leftJoin('ip_ranges as r', 'r.id', 'ips.range_id')
    .select(['ips.nic_id', 'ips.address', 'ips.family', 'ips.routed_via', 'r.cidr'])
    .where('n.vm_id', '=', vmId).orderBy('ips.id')),
  settings: compiled((db, vmId: number) => db.selectFrom('vm_settings').select(SETTINGS_COLUMNS).where('vm_id', '=', vmId)),
  // The firewall of the VM's NICs, by NIC then position, and their default policies.
  rules: compiled((db, vmId: number) => db.selectFrom('firewall_rules').selectAll()
    .where('nic_id', 'in', db.selectFrom('nics').select('id').where('vm_id', '=', vmId)).orderBy('nic_id').orderBy('position')),
  policies: compiled((db, vmId: number) => db.selectFrom('nic_firewalls').select(['nic_id', 'default_policy'])
    .where('nic_id', 'in', db.selectFrom('nics').select('id').where('vm_id', '=', vmId))),
};

/** A VM of the head with its group and account names, discs, NICs and their addresses and firewall;
 *  undefined when it is not the head's. */
export async function desiredRows(db: Db, headId: number, vmId: number) {
  const [row] = (await desired.row(db, vmId, headId)).rows;
  if (!row) return undefined;
  // Each read needs only the VM's id: together (one wait on PostgreSQL, not six; bench:power).
  const [discs, nics, ips, settings, rules, policies] = await Promise.all([
    desired.discs(db, vmId), desired.nics(db, vmId), desired.ips(db, vmId), desired.settings(db, vmId),
    desired.rules(db, vmId), desired.policies(db, vmId),
  ]);
  const policy = new Map(policies.rows.map((p) => [p.nic_id, p.default_policy]));
  const firewall = nics.rows.map((n) => ({ nicId: n.id, defaultPolicy: policy.get(n.id) ?? 'accept', rules: rules.rows.filter((r) => r.nic_id === n.id) }));
  return { row, discs: discs.rows, nics: nics.rows, ips: ips.rows, settings: settings.rows[0], firewall };
}

export interface ObservedRow {
  running: boolean; pid: number | null; observedCycle?: number; booted?: boolean;
  sshPort?: number | null; vncPort?: number | null; note?: string | null;
}

export async function recordObserved(db: Db, headId: number, vmId: number, o: ObservedRow, now: number): Promise<void> {
  await db.updateTable('vms').set({
    run_state: o.running ? 'running' : 'stopped',
    pid: o.pid,
    last_seen: now,
    ...(o.observedCycle !== undefined ? { observed_cycle: o.observedCycle } : {}),
    ...(o.booted ? { boot_count: sql`boot_count + 1` } : {}),
    ...(o.sshPort !== undefined ? { ssh_port: o.sshPort } : {}),
    ...(o.vncPort !== undefined ? { vnc_port: o.vncPort } : {}),
    ...(o.note !== undefined ? { head_note: o.note } : {}),
  }).where('id', '=', vmId).where('head_id', '=', headId).execute();
}

/** The machine went off by itself and stays off: power_on falls, with why. */
export async function recordPoweredOff(db: Db, headId: number, vmId: number, note: string | null, now: number): Promise<void> {
  await db.updateTable('vms').set({ power_on: 0, head_note: note, updated_at: now })
    .where('id', '=', vmId).where('head_id', '=', headId).execute();
}

/** An operation's kind and VM (for the effects of its end). */
export async function operationTarget(db: Db, opId: number): Promise<{ kind: string; vm_id: number | null; parent_id: number | null } | undefined> {
  return db.selectFrom('operations').select(['kind', 'vm_id', 'parent_id']).where('id', '=', opId).executeTakeFirst();
}

/** What a head reported about a finished operation besides its error (`operations.result`, JSON). */
export async function recordResult(db: Db, opId: number, result: object): Promise<void> {
  await db.updateTable('operations').set({ result: JSON.stringify(result) }).where('id', '=', opId).execute();
}

/** The zones heads are in, by name. */
export async function zoneNames(db: Store): Promise<string[]> {
  const rows = await db.selectFrom('heads').select('zone').distinct().orderBy('zone').execute();
  return rows.map((r) => r.zone);
}
