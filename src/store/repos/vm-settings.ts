// A VM's dialect-set settings (migration 017) and the facts a Gigas VM shows that the read model
// (views.ts) does not carry: its times, its lock and the operations not yet ended on it.
import type { Db } from './types.js';
import type { VmSettingsTable, VmsTable } from '../schema.js';
import type { Insertable } from 'kysely';

export type SettingsRow = { vm_id: number; cpu_shares: number | null; cpu_type: string | null; rate_limit_mbps: number | null; image_id: number | null; build_pending: number };

/** The columns a VM's settings are read with. */
export const SETTINGS_COLUMNS = ['vm_id', 'cpu_shares', 'cpu_type', 'rate_limit_mbps', 'image_id', 'build_pending'] as const;

export async function settingsOf(db: Db, vmIds: readonly number[]): Promise<SettingsRow[]> {
  if (vmIds.length === 0) return [];
  return db.selectFrom('vm_settings').select(SETTINGS_COLUMNS)
    .where('vm_id', 'in', [...vmIds]).execute();
}

/** Writes the given columns, making the row when there is none. */
export async function upsertSettings(db: Db, row: Insertable<VmSettingsTable>): Promise<void> {
  const { vm_id: _id, ...set } = row;
  await db.insertInto('vm_settings').values(row).onConflict((oc) => oc.column('vm_id').doUpdateSet(set)).execute();
}

export interface VmFactsRow { id: number; created_at: number; updated_at: number; lock_operation_id: number | null; initial_password: VmsTable['initial_password'] }

export async function vmFacts(db: Db, vmIds: readonly number[]): Promise<VmFactsRow[]> {
  if (vmIds.length === 0) return [];
  return db.selectFrom('vms').select(['id', 'created_at', 'updated_at', 'lock_operation_id', 'initial_password']).where('id', 'in', [...vmIds]).execute();
}

/** The kinds of the operations queued or running on these VMs. */
export async function unendedKinds(db: Db, vmIds: readonly number[]): Promise<{ vm_id: number | null; kind: string }[]> {
  if (vmIds.length === 0) return [];
  return db.selectFrom('operations').select(['vm_id', 'kind']).where('vm_id', 'in', [...vmIds]).where('state', 'in', ['queued', 'running']).execute();
}

/** The public id of the newest operation of a kind on a VM (which may be gone since). */
export async function newestOperationUuid(db: Db, vmId: number, kind: string): Promise<string | undefined> {
  const r = await db.selectFrom('operations').select('uuid').where('vm_id', '=', vmId).where('kind', '=', kind).orderBy('id', 'desc').limit(1).executeTakeFirst();
  return r?.uuid;
}

/** Usernames of the users with this email (case-insensitive). */
export async function usernamesByEmail(db: Db, email: string): Promise<string[]> {
  const rows = await db.selectFrom('users').select('username').where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase())).limit(2).execute();
  return rows.map((r) => r.username);
}

/** A VM's NICs with the network each is on (migration 013). */
export function nicNetworksOf(db: Db, vmId: number): Promise<{ id: number; network_id: number | null; rate_limit_mbps: number | null }[]> {
  return db.selectFrom('nics').select(['id', 'network_id', 'rate_limit_mbps']).where('vm_id', '=', vmId).orderBy('id').execute();
}
