// Read models: VMs with their place in the tree, discs and NICs, loaded in a fixed number of
// queries however many VMs are asked for (a 1,000-VM overview is four queries, not 3,001).
import type { Store } from '../store/db.js';
import type { BackupScheduleRow } from '../store/schema.js';
import { viewReader, type ViewFilter, type VmViewRow, type ViewReader } from '../store/repos/views.js';
import type { VmDiscRow } from '../store/repos/discs.js';
import { hostname } from './names.js';

export { VIEW_COLUMNS, type VmViewRow } from '../store/repos/views.js';

export interface NicView {
  id: number; uuid: string; vmId: number; label: string | null; mac: string; vlanNum: number;
  ips: string[];
  /** Extra IP -> the primary IP it is routed via. */
  extraIps: Record<string, string>;
  /** Each address (of `ips` and `extraIps`) -> its public id. A Map: an object keyed by every
   *  distinct address made V8 build a new hidden class per key: 1.8 ms of a 1,000-VM overview
   *  (BENCHMARKS.md, 2026-12-02). */
  addressIds: Map<string, string>;
}

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
  discs: VmDiscRow[];
  /** Backup schedules of the discs. */
  schedules: BackupScheduleRow[];
  nics: NicView[];
}

export type VmFilter = ViewFilter;

export async function loadVmViews(
  db: Store, clusterDomain: string, filter: VmFilter, opts: { includeDeleted: boolean; children: boolean },
): Promise<VmView[]> {
  if (filter.kind !== 'all' && (filter.kind === 'ids' ? filter.ids : filter.kind === 'groups' ? filter.groupIds : filter.accountIds).length === 0) return [];
  const read = viewReader(db, filter, opts.includeDeleted);
  const rows = await read.vms();
  // The row is used as it comes (its joined columns ride along unread): copying ~35 columns out of
  // every row with a rest pattern cost as much as the query itself on a 1,000-VM list (bench/api.ts).
  const views: VmView[] = rows.map((r) => ({
    row: r, uuid: r.uuid, groupName: r.group_name, accountId: r.account_id, accountName: r.account_name,
    headLabel: r.head_label, managementAddress: r.management_address,
    hostname: hostname(r.name, r.group_name, r.account_name, clusterDomain), discs: [], schedules: [], nics: [],
  }));
  if (opts.children && views.length) await attachChildren(read, views);
  return views;
}

/** Children are read by the VMs' filter: one of a VM made after the VMs were read (not in `views`) is skipped. */
async function attachChildren(read: ViewReader, views: VmView[]): Promise<void> {
  const byId = new Map(views.map((v) => [v.row.id, v]));
  for (const d of await read.discs()) byId.get(d.vm_id)?.discs.push(d);
  for (const { vm_id, ...s } of await read.schedules()) byId.get(vm_id)?.schedules.push(s);
  let nic: NicView | undefined;
  for (const r of await read.nics()) {
    const view = byId.get(r.vm_id);
    if (!view) continue;
    if (!nic || nic.id !== r.id) {
      nic = { id: r.id, uuid: r.uuid, vmId: r.vm_id, label: r.label, mac: r.mac, vlanNum: r.vlan_num, ips: [], extraIps: {}, addressIds: new Map() };
      view.nics.push(nic);
    }
    if (r.address === null) continue;
    if (r.address_uuid !== null) nic.addressIds.set(r.address, r.address_uuid);
    if (r.routed_via) nic.extraIps[r.address] = r.routed_via;
    else nic.ips.push(r.address);
  }
}

export async function loadVmView(db: Store, clusterDomain: string, vmId: number, children = true): Promise<VmView> {
  const [view] = await loadVmViews(db, clusterDomain, { kind: 'ids', ids: [vmId] }, { includeDeleted: true, children });
  if (!view) throw new Error(`VM ${vmId} vanished`);
  return view;
}
