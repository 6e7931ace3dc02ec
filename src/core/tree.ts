// Accounts and groups: the tree VMs live in. Every account has a `default` group.
import { randomUUID } from 'node:crypto';
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

export interface GroupTree { group: GroupRow; vms: VmView[] }
export interface AccountTree { account: AccountRow; groups: GroupTree[] }

/** Groups of the accounts the caller can see, each with the VMs the caller can see. */
export async function loadTrees(
  h: Hangar, p: Principal, accounts: AccountRow[], opts: { includeDeleted: boolean; vms: boolean; onlyGroup?: number },
): Promise<AccountTree[]> {
  if (accounts.length === 0) return [];
  let q = h.db.selectFrom('groups').selectAll().where('account_id', 'in', accounts.map((a) => a.id));
  if (opts.onlyGroup !== undefined) q = q.where('id', '=', opts.onlyGroup);
  const groups = (await q.orderBy('id').execute()).filter((g) => canSeeGroup(p, g.account_id, g.id));
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
    if (await trx.selectFrom('accounts').select('id').where('name', '=', name).executeTakeFirst()) throw invalid('name', 'taken');
    const account = await trx.insertInto('accounts').values({ uuid: randomUUID(), name, created_at: now }).returningAll().executeTakeFirstOrThrow();
    await trx.insertInto('groups').values({ uuid: randomUUID(), account_id: account.id, name: 'default', vlan_num: null, created_at: now }).execute();
    return account;
  });
}

export async function updateAccount(h: Hangar, p: Principal, account: AccountRow, input: { suspended?: boolean; name?: unknown }): Promise<AccountRow> {
  if (!isClusterAdmin(p)) throw forbidden('admin_change_accounts');
  if (input.name !== undefined && input.name !== account.name) throw refused('name', 'fixed');
  if (input.suspended !== undefined) {
    await h.db.updateTable('accounts').set({ suspended: input.suspended ? 1 : 0 }).where('id', '=', account.id).execute();
  }
  return h.db.selectFrom('accounts').selectAll().where('id', '=', account.id).executeTakeFirstOrThrow();
}

export async function createGroup(h: Hangar, p: Principal, account: AccountRow, input: { name?: unknown }): Promise<GroupRow> {
  if (!holds(p, { accountId: account.id }, 'account_admin')) throw forbidden('create_groups');
  const name = checkName('name', input.name);
  return withTransaction(h.db, async (trx) => {
    if (await trx.selectFrom('groups').select('id').where('account_id', '=', account.id).where('name', '=', name).executeTakeFirst()) {
      throw invalid('name', 'taken');
    }
    return trx.insertInto('groups').values({ uuid: randomUUID(), account_id: account.id, name, vlan_num: null, created_at: h.now() }).returningAll().executeTakeFirstOrThrow();
  });
}

export async function renameGroup(h: Hangar, p: Principal, account: AccountRow, group: GroupRow, input: { name?: unknown }): Promise<GroupRow> {
  if (!holds(p, { accountId: account.id }, 'account_admin')) throw forbidden('rename_groups');
  if (input.name === undefined || input.name === group.name) return group;
  if (group.name === 'default') throw refused('name', 'default_group_rename');
  const name = checkName('name', input.name);
  return withTransaction(h.db, async (trx) => {
    if (await trx.selectFrom('groups').select('id').where('account_id', '=', account.id).where('name', '=', name).executeTakeFirst()) {
      throw invalid('name', 'taken');
    }
    const renamed = await trx.updateTable('groups').set({ name }).where('id', '=', group.id).returningAll().executeTakeFirst();
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
    const vm = await trx.selectFrom('vms').select('id').where('group_id', '=', group.id).executeTakeFirst();
    if (vm) throw refused('group', 'group_not_empty', {}, 'state');
    await trx.deleteFrom('privileges').where('group_id', '=', group.id).execute();
    await trx.deleteFrom('invitations').where('group_id', '=', group.id).execute();
    await trx.deleteFrom('groups').where('id', '=', group.id).execute();
  });
  forgetPrincipals(h);
}
