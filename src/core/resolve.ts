// Turning path segments (an id or a name) into rows the caller may see. Anything the caller
// cannot read is NotFound, exactly like anything that does not exist.
import type { Store } from '../store/db.js';
import type { AccountRow, GroupRow, VmRow } from '../store/schema.js';
import { forbidden, isCode, notFound } from './errors.js';
import { IDS_ONLY, whereRef } from './ids.js';
import { canSeeAccount, canSeeGroup, canSeeVm, holds, isClusterAdmin, type Place, type Principal } from './principal.js';
import type { VmFilter } from './views.js';

/** Turns NotFound into null (for list filters that name nothing); any other error still fails. */
export function notFoundAsNull(err: unknown): null {
  if (isCode(err, 'not_found')) return null;
  throw err;
}

/** Answers a NotFound with another error (the same 404 under another name, or a 400 for a body
 *  field); any other error still fails as itself. */
export function whenNotFound(make: () => Error): (err: unknown) => never {
  return (err) => {
    throw isCode(err, 'not_found') ? make() : err;
  };
}

/** Accounts, groups and VMs: by id, public id, or name (a DNS label, compared in lower case). */
const NAMED = { id: 'id', uuid: 'uuid', name: 'name', lower: true };

export async function resolveAccount(db: Store, p: Principal, segment: string): Promise<AccountRow> {
  let row: AccountRow | undefined;
  if (segment === '') {
    // bytemark-client sends `/accounts//groups/...` when no account was given: the caller's default account.
    row = await defaultAccount(db, p);
  } else {
    const q = db.selectFrom('accounts').selectAll();
    row = await whereRef(q, segment, NAMED).executeTakeFirst();
  }
  if (!row || !canSeeAccount(p, row.id)) throw notFound('account');
  return row;
}

/**
 * The caller's default account, in every dialect: their home account, never one reached through
 * someone else's grant. Undefined when they have none. Callers still check that they can see it.
 */
export async function defaultAccount(db: Store, p: Principal): Promise<AccountRow | undefined> {
  return db.selectFrom('users as u').innerJoin('accounts as a', 'a.id', 'u.home_account_id').selectAll('a')
    .where('u.id', '=', p.userId).executeTakeFirst();
}

/** Accounts the caller can see, by id. */
export async function visibleAccounts(db: Store, p: Principal): Promise<AccountRow[]> {
  let q = db.selectFrom('accounts').selectAll().orderBy('id');
  if (!isClusterAdmin(p)) {
    const own = [...new Set(p.grants.map((g) => g.accountId).filter((id): id is number => id !== null))];
    if (own.length === 0) return [];
    q = q.where('id', 'in', own);
  }
  return q.execute();
}

export async function resolveGroup(db: Store, p: Principal, account: AccountRow, segment: string): Promise<GroupRow> {
  const q = db.selectFrom('groups').selectAll().where('account_id', '=', account.id);
  const row = await whereRef(q, segment, NAMED).executeTakeFirst();
  if (!row || !canSeeGroup(p, account.id, row.id)) throw notFound('group');
  return row;
}

export interface VmPlace { vm: VmRow; group: GroupRow; account: AccountRow }

/**
 * How a machine is looked up. `forChange`: the request changes the machine or something on it
 * (any method but GET/HEAD), so a caller who can only read it (vm_console) is refused here, before
 * any body is read: no route's write check can then depend on what the body asks for.
 */
export interface VmLookup { includeDeleted: boolean; forChange?: boolean }

/** A visible machine resolved for a change needs vm_admin on it (403: the caller can see it). */
function checkChange(p: Principal, place: Required<Place>, opts: VmLookup): void {
  if (opts.forChange && !holds(p, place, 'vm_admin')) throw forbidden('change_vm_part');
}

export async function resolveVmIn(
  db: Store, p: Principal, account: AccountRow, group: GroupRow, segment: string, opts: VmLookup,
): Promise<VmPlace> {
  const q = db.selectFrom('vms').selectAll().where('group_id', '=', group.id);
  const vm = await whereRef(q, segment, NAMED).executeTakeFirst();
  if (!vm || (vm.deleted && !opts.includeDeleted) || !canSeeVm(p, { accountId: account.id, groupId: group.id, vmId: vm.id })) {
    throw notFound('virtual_machine');
  }
  checkChange(p, { accountId: account.id, groupId: group.id, vmId: vm.id }, opts);
  return { vm, group, account };
}

/** The nested path /accounts/{a}/groups/{g}/virtual_machines/{vm}. */
export async function resolveVmPath(
  db: Store, p: Principal, acc: string, grp: string, vm: string, opts: VmLookup,
): Promise<VmPlace> {
  // The hot path: one joined query. Only when it finds nothing the caller may see does the
  // step-by-step resolution run, to answer exactly as it would (always NotFound).
  if (acc !== '') {
    let q = db.selectFrom('vms as v')
      .innerJoin('groups as g', 'g.id', 'v.group_id')
      .innerJoin('accounts as a', 'a.id', 'g.account_id')
      .selectAll('v')
      .select(['g.account_id as g_account_id', 'g.uuid as g_uuid', 'g.name as g_name', 'g.vlan_num as g_vlan_num', 'g.created_at as g_created_at',
        'a.uuid as a_uuid', 'a.name as a_name', 'a.suspended as a_suspended', 'a.created_at as a_created_at']);
    q = whereRef(q, acc, { id: 'a.id', uuid: 'a.uuid', name: 'a.name', lower: true });
    q = whereRef(q, grp, { id: 'g.id', uuid: 'g.uuid', name: 'g.name', lower: true });
    q = whereRef(q, vm, { id: 'v.id', uuid: 'v.uuid', name: 'v.name', lower: true });
    const hit = await q.executeTakeFirst();
    if (hit && (!hit.deleted || opts.includeDeleted) && canSeeVm(p, { accountId: hit.g_account_id, groupId: hit.group_id, vmId: hit.id })) {
      const { g_account_id, g_uuid, g_name, g_vlan_num, g_created_at, a_uuid, a_name, a_suspended, a_created_at, ...row } = hit;
      checkChange(p, { accountId: g_account_id, groupId: row.group_id, vmId: row.id }, opts);
      return {
        vm: row,
        group: { id: row.group_id, uuid: g_uuid, account_id: g_account_id, name: g_name, vlan_num: g_vlan_num, created_at: g_created_at },
        account: { id: g_account_id, uuid: a_uuid, name: a_name, suspended: a_suspended, created_at: a_created_at },
      };
    }
  }
  const account = await resolveAccount(db, p, acc);
  const group = await resolveGroup(db, p, account, grp);
  return resolveVmIn(db, p, account, group, vm, opts);
}

/** The non-nested /virtual_machines/{id}: a VM by its id, or by its public id when given a segment (a name names nothing here). */
export async function resolveVmById(db: Store, p: Principal, id: number | string, opts: VmLookup): Promise<VmPlace> {
  const q = db.selectFrom('vms').selectAll();
  const row = await (typeof id === 'number' ? q.where('id', '=', id) : whereRef(q, id, IDS_ONLY)).executeTakeFirst();
  if (!row) throw notFound('virtual_machine');
  // The group is gone if the VM was moved out of it and it was deleted since the VM was read.
  const group = await db.selectFrom('groups').selectAll().where('id', '=', row.group_id).executeTakeFirst();
  if (!group) throw notFound('virtual_machine');
  const account = await db.selectFrom('accounts').selectAll().where('id', '=', group.account_id).executeTakeFirstOrThrow();
  if ((row.deleted && !opts.includeDeleted) || !canSeeVm(p, { accountId: account.id, groupId: group.id, vmId: row.id })) {
    throw notFound('virtual_machine');
  }
  checkChange(p, { accountId: account.id, groupId: group.id, vmId: row.id }, opts);
  return { vm: row, group, account };
}

/**
 * The filters of the non-nested GET /virtual_machines: `account_id` is an account id or name;
 * `group_id` a group id, or a name ("default") looked up in that account, else in every account
 * the caller can see. Both apply together. null when nothing can match.
 */
export async function vmListFilter(db: Store, p: Principal, acc: string | undefined, grp: string | undefined): Promise<VmFilter | null> {
  let accounts: number[] | null = null; // null: no account restriction (a cluster admin without account_id)
  if (acc !== undefined) {
    const account = await resolveAccount(db, p, acc).catch((err) => {
      if (isCode(err, 'not_found')) return null;
      throw err;
    });
    if (!account) return null;
    accounts = [account.id];
  } else if (!isClusterAdmin(p)) {
    accounts = (await visibleAccounts(db, p)).map((a) => a.id);
  }
  if (accounts !== null && accounts.length === 0) return null;
  if (grp === undefined) return accounts === null ? { kind: 'all' } : { kind: 'accounts', accountIds: accounts };
  let q = db.selectFrom('groups').select('id');
  q = whereRef(q, grp, NAMED);
  if (accounts !== null) q = q.where('account_id', 'in', accounts);
  const groupIds = (await q.execute()).map((g) => g.id);
  return groupIds.length ? { kind: 'groups', groupIds } : null;
}
