// Accounts and groups: the tree VMs live in. Every account has a `default` group.
import type { Hangar } from './context.js';
import type { AccountRow, GroupRow } from '../store/schema.js';
import { invalid, refused, notFound, forbidden } from './errors.js';
import { lockRow } from './locks.js';
import { checkName } from './names.js';
import { canSeeGroup, canSeeVm, holds, isClusterAdmin, type Principal } from './principal.js';
import { defaultAccount, visibleAccounts } from './resolve.js';
import { loadVmViews, type VmView } from './views.js';
import { forgetPrincipals } from './auth.js';
import { withTransaction } from './transaction.js';
import * as tree from '../store/repos/tree.js';
import { accountById } from '../store/repos/vms.js';

/** An account as the domain knows it (a dialect presents this, not the row). */
export interface Account { id: number; publicId: string; name: string; suspended: boolean }
/** A group as the domain knows it. */
export interface Group { id: number; publicId: string; accountId: number; name: string }

export function accountValue(r: AccountRow): Account {
  return { id: r.id, publicId: r.uuid, name: r.name, suspended: !!r.suspended };
}

export function groupValue(r: GroupRow): Group {
  return { id: r.id, publicId: r.uuid, accountId: r.account_id, name: r.name };
}

export interface GroupTree { group: GroupRow; vms: VmView[] }
export interface AccountTree { account: AccountRow; groups: GroupTree[] }

/** Groups of the accounts the caller can see, each with the VMs the caller can see. */
export async function loadTrees(
  h: Hangar, p: Principal, accounts: AccountRow[], opts: { includeDeleted: boolean; vms: boolean; onlyGroup?: number },
): Promise<AccountTree[]> {
  if (accounts.length === 0) return [];
  const groups = (await tree.groupsOf(h.db, accounts.map((a) => a.id), opts.onlyGroup)).filter((g) => canSeeGroup(p, g.account_id, g.id));
  const views = opts.vms
    ? await loadVmViews(h.db, h.config.clusterDomain, { kind: 'groups', groupIds: groups.map((g) => g.id) }, { includeDeleted: opts.includeDeleted, children: true })
    : [];
  const byGroup = new Map<number, VmView[]>();
  for (const v of views) {
    if (!canSeeVm(p, { accountId: v.accountId, groupId: v.row.group_id, vmId: v.row.id })) continue;
    let list = byGroup.get(v.row.group_id);
    if (!list) byGroup.set(v.row.group_id, (list = []));
    list.push(v);
  }
  return accounts.map((account) => ({
    account,
    groups: groups.filter((g) => g.account_id === account.id).map((group) => ({ group, vms: byGroup.get(group.id) ?? [] })),
  }));
}

/** The accounts the caller can see, the default (home) account first: clients take [0] as the default (spec §3). */
export async function listAccounts(h: Hangar, p: Principal, opts: { includeDeleted: boolean; overview: boolean }): Promise<AccountTree[]> {
  const [accounts, home] = await Promise.all([visibleAccounts(h.db, p), defaultAccount(h.db, p)]);
  accounts.sort((a, b) => Number(b.id === home?.id) - Number(a.id === home?.id));
  if (!opts.overview) return accounts.map((account) => ({ account, groups: [] }));
  return loadTrees(h, p, accounts, { includeDeleted: opts.includeDeleted, vms: true });
}

export async function createAccount(h: Hangar, p: Principal, input: { name?: unknown }): Promise<AccountRow> {
  if (!isClusterAdmin(p)) throw forbidden('admin_create_accounts');
  const name = checkName('name', input.name);
  const now = h.now();
  return withTransaction(h.db, async (trx) => {
    if (await tree.accountNameTaken(trx, name)) throw invalid('name', 'taken');
    return tree.insertAccount(trx, name, now);
  });
}

export async function updateAccount(h: Hangar, p: Principal, account: AccountRow, input: { suspended?: boolean; name?: unknown }): Promise<AccountRow> {
  if (!isClusterAdmin(p)) throw forbidden('admin_change_accounts');
  if (input.name !== undefined && input.name !== account.name) throw refused('name', 'fixed');
  if (input.suspended !== undefined) {
    await tree.setSuspended(h.db, account.id, input.suspended);
  }
  const now = await accountById(h.db, account.id);
  if (!now) throw notFound('account'); // deleted by a racing request
  return now;
}

export async function createGroup(h: Hangar, p: Principal, account: AccountRow, input: { name?: unknown }): Promise<GroupRow> {
  if (!holds(p, { accountId: account.id }, 'account_admin')) throw forbidden('create_groups');
  const name = checkName('name', input.name);
  return withTransaction(h.db, async (trx) => {
    if (await tree.groupNameTaken(trx, account.id, name)) {
      throw invalid('name', 'taken');
    }
    return tree.insertGroup(trx, account.id, name, h.now());
  });
}

export async function renameGroup(h: Hangar, p: Principal, account: AccountRow, group: GroupRow, input: { name?: unknown }): Promise<GroupRow> {
  if (!holds(p, { accountId: account.id }, 'account_admin')) throw forbidden('rename_groups');
  if (input.name === undefined || input.name === group.name) return group;
  if (group.name === 'default') throw refused('name', 'default_group_rename');
  const name = checkName('name', input.name);
  return withTransaction(h.db, async (trx) => {
    if (await tree.groupNameTaken(trx, account.id, name)) {
      throw invalid('name', 'taken');
    }
    const renamed = await tree.renameGroupRow(trx, group.id, name);
    if (!renamed) throw notFound('group'); // deleted meanwhile
    return renamed;
  });
}

/** Only an empty group can go: deleted-but-not-purged VMs count, since they can still come back. */
export async function deleteGroup(h: Hangar, p: Principal, account: AccountRow, group: GroupRow): Promise<void> {
  if (!holds(p, { accountId: account.id }, 'account_admin')) throw forbidden('delete_groups');
  if (group.name === 'default') throw refused('group', 'default_group_delete');
  await withTransaction(h.db, async (trx) => {
    // Locked before looking for VMs: a create or move into the group racing this waits, or is waited for and seen.
    if (!(await lockRow(trx, 'groups', group.id))) throw notFound('group');
    const vm = await tree.groupHasVms(trx, group.id);
    if (vm) throw refused('group', 'group_not_empty', {}, 'state');
    await tree.deleteGroupRows(trx, group.id);
  });
  forgetPrincipals(h);
}
