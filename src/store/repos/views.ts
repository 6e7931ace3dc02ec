// The read model's queries (core/views.ts): VMs with their place in the tree, and their discs, backup
// schedules and NICs with addresses, in four queries however many VMs are asked for. Children are read
// by the same filter as their VMs (a subquery), never by a list of VM ids: a 1,000-VM overview binds
// one parameter, not 1,000. The hot shapes (one VM, one group, one account) are compiled once
// (store/compiled.ts; BENCHMARKS.md: building and compiling the query was a measurable share of a
// GET of one VM); better-sqlite3 then reuses the prepared statement (store/db.ts).
import { sql, type CompiledQuery } from 'kysely';
import { compiled, type Scalar } from '../compiled.js';
import type { Db } from './types.js';
import { bootOrder } from './discs.js';
import type { Store } from '../db.js';
import type { BackupScheduleRow, VmRow } from '../schema.js';
import type { VmDiscRow } from './discs.js';

/**
 * The VM columns a view carries: the ones the BigV presentation reads. Reading every column costs
 * ~40% more on a 1,000-VM list (bench/api.ts); add a column here to use it from a view.
 */
export const VIEW_COLUMNS = [
  'id', 'uuid', 'group_id', 'name', 'cores', 'memory', 'power_on', 'autoreboot_on', 'cdrom_url', 'keymap', 'hardware_profile',
  'hardware_profile_locked', 'zone_name', 'head_id', 'deleted', 'last_imaged_with', 'run_state', 'ssh_port', 'vnc_port', 'head_note',
  'version',
  'label', 'guest_hostname', 'note', 'created_by_user_id', 'zone_id',
  'boot_from',
] as const;
export type VmViewRow = Pick<VmRow, (typeof VIEW_COLUMNS)[number]>;
const SELECTED = VIEW_COLUMNS.map((c) => `v.${c}` as `v.${(typeof VIEW_COLUMNS)[number]}`);

export type VmViewDbRow = VmViewRow & {
  group_name: string; account_id: number; account_name: string; head_label: string | null; management_address: string | null;
};
export type ScheduleDbRow = BackupScheduleRow & { vm_id: number };
export interface NicDbRow {
  id: number; uuid: string; vm_id: number; label: string | null; mac: string; vlan_num: number; address: string | null; routed_via: string | null;
  address_uuid: string | null;
}

export type ViewFilter =
  | { kind: 'ids'; ids: number[] }
  | { kind: 'groups'; groupIds: number[] }
  | { kind: 'accounts'; accountIds: number[] }
  | { kind: 'all' };

const COLUMN = { ids: 'v.id', groups: 'v.group_id', accounts: 'g.account_id' } as const;
type Scope = keyof typeof COLUMN;

/**
 * The four queries over VMs `v` in groups `g`, each narrowed by `where`: the VMs directly, their
 * children through the ids of the same VMs (a subquery SQLite runs once, then reads the children by
 * their `vm_id` index, as it would an IN list of those ids).
 */
function queries(db: Store, where: <Q extends Narrowable<Q>>(q: Q) => Q) {
  const vmIds = () => where(db.selectFrom('vms as v').innerJoin('groups as g', 'g.id', 'v.group_id').select('v.id'));
  return {
    vms: where(db.selectFrom('vms as v')
      .innerJoin('groups as g', 'g.id', 'v.group_id')
      .innerJoin('accounts as a', 'a.id', 'g.account_id')
      .leftJoin('heads as h', 'h.id', 'v.head_id')
      .select(SELECTED)
      .select(['g.name as group_name', 'a.id as account_id', 'a.name as account_name', 'h.label as head_label', 'h.management_address']))
      .orderBy('v.id'),
    discs: db.selectFrom('discs as d').selectAll('d').where('d.vm_id', 'in', vmIds()).orderBy(bootOrder('d.')).orderBy('d.id'),
    schedules: db.selectFrom('backup_schedules as s')
      .innerJoin('discs as d', 'd.id', 's.disc_id')
      .selectAll('s').select('d.vm_id')
      .where('d.vm_id', 'in', vmIds())
      .orderBy('s.id'),
    nics: db.selectFrom('nics as n')
      .leftJoin('ips as i', 'i.nic_id', 'n.id')
      .select(['n.id', 'n.uuid', 'n.vm_id', 'n.label', 'n.mac', 'n.vlan_num', 'i.address', 'i.routed_via', 'i.uuid as address_uuid'])
      .where('n.vm_id', 'in', vmIds())
      .orderBy('n.id').orderBy('i.family').orderBy('i.id'),
  };
}

/** Kysely's select builders over `v` and `g`, seen only through the two `where`s used here. */
interface Narrowable<Q> {
  where(column: 'v.id' | 'v.group_id' | 'g.account_id', op: '=' | 'in', value: any): Q;
  where(column: 'v.deleted', op: '=', value: any): Q;
}

function narrow(filter: ViewFilter | { scope: Scope; value: unknown }, includeDeleted: boolean) {
  return <Q extends Narrowable<Q>>(q: Q): Q => {
    if ('scope' in filter) q = q.where(COLUMN[filter.scope], '=', filter.value);
    else if (filter.kind === 'ids') q = q.where('v.id', 'in', filter.ids);
    else if (filter.kind === 'groups') q = q.where('v.group_id', 'in', filter.groupIds);
    else if (filter.kind === 'accounts') q = q.where('g.account_id', 'in', filter.accountIds);
    // A literal, so that the compiled forms bind the filter's value alone.
    return includeDeleted ? q : q.where('v.deleted', '=', sql.lit(0));
  };
}

/** The four reads for one id, group or account, compiled once (store/compiled.ts) per scope and deleted rule. */
function compiledReads(scope: Scope, includeDeleted: boolean) {
  const read = (db: Db, value: Scalar) => queries(db as Store, narrow({ scope, value }, includeDeleted));
  return {
    vms: compiled((db, value: Scalar) => read(db, value).vms),
    discs: compiled((db, value: Scalar) => read(db, value).discs as { compile(): CompiledQuery<VmDiscRow> }),
    schedules: compiled((db, value: Scalar) => read(db, value).schedules as { compile(): CompiledQuery<ScheduleDbRow> }),
    nics: compiled((db, value: Scalar) => read(db, value).nics),
  };
}
const compiledByShape = new Map<string, ReturnType<typeof compiledReads>>();

export interface ViewReader {
  vms(): Promise<VmViewDbRow[]>;
  discs(): Promise<VmDiscRow[]>;
  schedules(): Promise<ScheduleDbRow[]>;
  nics(): Promise<NicDbRow[]>;
}

/** The view's four reads for a filter: compiled forms for one id, group or account; built ones otherwise. */
export function viewReader(db: Store, filter: ViewFilter, includeDeleted: boolean): ViewReader {
  const one = filter.kind === 'ids' ? filter.ids : filter.kind === 'groups' ? filter.groupIds : filter.kind === 'accounts' ? filter.accountIds : null;
  if (one?.length === 1) {
    const key = `${filter.kind}/${includeDeleted}`;
    let c = compiledByShape.get(key);
    if (!c) compiledByShape.set(key, (c = compiledReads(filter.kind as Scope, includeDeleted)));
    const reads = c;
    const id = one[0]!;
    return {
      vms: async () => (await reads.vms(db, id)).rows, discs: async () => (await reads.discs(db, id)).rows,
      schedules: async () => (await reads.schedules(db, id)).rows, nics: async () => (await reads.nics(db, id)).rows,
    };
  }
  const q = queries(db, narrow(filter, includeDeleted));
  return {
    vms: () => q.vms.execute(),
    discs: () => q.discs.execute() as Promise<VmDiscRow[]>,
    schedules: () => q.schedules.execute() as Promise<ScheduleDbRow[]>,
    nics: () => q.nics.execute(),
  };
}
