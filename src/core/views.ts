// Read models: VMs with their place in the tree, discs and NICs, loaded in a fixed number of
// queries however many VMs are asked for (a 1,000-VM overview is four queries, not 3,001).
import type { Store } from '../store/db.js';
import type { BackupScheduleRow, DiscRow, VmRow } from '../store/schema.js';
import { hostname } from './names.js';

export interface NicView {
  id: number; uuid: string; vmId: number; label: string | null; mac: string; vlanNum: number;
  ips: string[];
  /** Extra IP -> the primary IP it is routed via. */
  extraIps: Record<string, string>;
}

/**
 * The VM columns a view carries: the ones the BigV presentation reads. Reading every column costs
 * ~40% more on a 1,000-VM list (bench/api.ts); add a column here to use it from a view.
 */
export const VIEW_COLUMNS = [
  'id', 'uuid', 'group_id', 'name', 'cores', 'memory', 'power_on', 'autoreboot_on', 'cdrom_url', 'keymap', 'hardware_profile',
  'hardware_profile_locked', 'zone_name', 'head_id', 'deleted', 'last_imaged_with', 'run_state', 'ssh_port', 'vnc_port', 'head_note',
  'version',
] as const;
export type VmViewRow = Pick<VmRow, (typeof VIEW_COLUMNS)[number]>;
const SELECTED = VIEW_COLUMNS.map((c) => `v.${c}` as `v.${(typeof VIEW_COLUMNS)[number]}`);

export interface VmView {
  row: VmViewRow;
  /** The public id (core/ids.ts). */
  uuid: string;
  groupName: string;
  accountId: number;
  accountName: string;
  headLabel: string | null;
  managementAddress: string | null;
  hostname: string;
  discs: DiscRow[];
  /** Backup schedules of the discs. */
  schedules: BackupScheduleRow[];
  nics: NicView[];
}

export type VmFilter =
  | { kind: 'ids'; ids: number[] }
  | { kind: 'groups'; groupIds: number[] }
  | { kind: 'accounts'; accountIds: number[] }
  | { kind: 'all' };

function baseQueries(db: Store) {
  return {
    vms: db.selectFrom('vms as v')
      .innerJoin('groups as g', 'g.id', 'v.group_id')
      .innerJoin('accounts as a', 'a.id', 'g.account_id')
      .leftJoin('heads as h', 'h.id', 'v.head_id')
      .select(SELECTED)
      .select(['g.name as group_name', 'a.id as account_id', 'a.name as account_name', 'h.label as head_label', 'h.management_address']),
    discs: db.selectFrom('discs').selectAll(),
    schedules: db.selectFrom('backup_schedules as s').innerJoin('discs as d', 'd.id', 's.disc_id').selectAll('s').select('d.vm_id'),
    nics: db.selectFrom('nics as n')
      .leftJoin('ips as i', 'i.nic_id', 'n.id')
      .select(['n.id', 'n.uuid', 'n.vm_id', 'n.label', 'n.mac', 'n.vlan_num', 'i.address', 'i.routed_via']),
  };
}

// Query builders are immutable: their fixed parts (joins, ~25 selected columns) are built once per
// store instead of on every read (~5 % of the server's time on a GET of one VM, bench/api.ts).
const bases = new WeakMap<Store, ReturnType<typeof baseQueries>>();

function base(db: Store): ReturnType<typeof baseQueries> {
  let b = bases.get(db);
  if (!b) bases.set(db, (b = baseQueries(db)));
  return b;
}

export async function loadVmViews(
  db: Store, clusterDomain: string, filter: VmFilter, opts: { includeDeleted: boolean; children: boolean },
): Promise<VmView[]> {
  let q = base(db).vms;
  if (filter.kind === 'ids') {
    if (filter.ids.length === 0) return [];
    q = q.where('v.id', 'in', filter.ids);
  } else if (filter.kind === 'groups') {
    if (filter.groupIds.length === 0) return [];
    q = q.where('v.group_id', 'in', filter.groupIds);
  } else if (filter.kind === 'accounts') {
    if (filter.accountIds.length === 0) return [];
    q = q.where('a.id', 'in', filter.accountIds);
  }
  if (!opts.includeDeleted) q = q.where('v.deleted', '=', 0);
  const rows = await q.orderBy('v.id').execute();
  // The row is used as it comes (its joined columns ride along unread): copying ~35 columns out of
  // every row with a rest pattern cost as much as the query itself on a 1,000-VM list (bench/api.ts).
  const views: VmView[] = rows.map((r) => ({
    row: r, uuid: r.uuid, groupName: r.group_name, accountId: r.account_id, accountName: r.account_name,
    headLabel: r.head_label, managementAddress: r.management_address,
    hostname: hostname(r.name, r.group_name, r.account_name, clusterDomain), discs: [], schedules: [], nics: [],
  }));
  if (opts.children && views.length) await attachChildren(db, views);
  return views;
}

async function attachChildren(db: Store, views: VmView[]): Promise<void> {
  const byId = new Map(views.map((v) => [v.row.id, v]));
  const ids = [...byId.keys()];
  // Chunk IN lists so a huge filter stays within SQLite's parameter limit.
  for (let i = 0; i < ids.length; i += 5000) {
    const chunk = ids.slice(i, i + 5000);
    const discs = await base(db).discs.where('vm_id', 'in', chunk).orderBy('id').execute();
    for (const d of discs) byId.get(d.vm_id!)!.discs.push(d);
    const schedules = await base(db).schedules.where('d.vm_id', 'in', chunk).orderBy('s.id').execute();
    for (const { vm_id, ...s } of schedules) byId.get(vm_id!)!.schedules.push(s);
    const rows = await base(db).nics.where('n.vm_id', 'in', chunk).orderBy('n.id').orderBy('i.family').orderBy('i.id').execute();
    let nic: NicView | undefined;
    for (const r of rows) {
      if (!nic || nic.id !== r.id) {
        nic = { id: r.id, uuid: r.uuid, vmId: r.vm_id, label: r.label, mac: r.mac, vlanNum: r.vlan_num, ips: [], extraIps: {} };
        byId.get(r.vm_id)!.nics.push(nic);
      }
      if (r.address === null) continue;
      if (r.routed_via) nic.extraIps[r.address] = r.routed_via;
      else nic.ips.push(r.address);
    }
  }
}

export async function loadVmView(db: Store, clusterDomain: string, vmId: number, children = true): Promise<VmView> {
  const [view] = await loadVmViews(db, clusterDomain, { kind: 'ids', ids: [vmId] }, { includeDeleted: true, children });
  if (!view) throw new Error(`VM ${vmId} vanished`);
  return view;
}
