// Turning path segments (an id or a name) into rows the caller may see. Anything the caller
// cannot read is NotFound, exactly like anything that does not exist.
import type { Store } from '../store/db.js';
import type { AccountRow, GroupRow, VmRow } from '../store/schema.js';
import { forbidden, isCode, notFound } from './errors.js';
import * as repo from '../store/repos/vms.js';
import { canSeeAccount, canSeeGroup, canSeeVm, holds, isClusterAdmin, type Place, type Principal } from './principal.js';

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

export async function resolveAccount(db: Store, p: Principal, segment: string): Promise<AccountRow> {
  const row = await repo.accountByRef(db, segment);
  if (!row || !canSeeAccount(p, row.id)) throw notFound('account');
  return row;
}

/**
 * The caller's default account, in every dialect: their home account, never one reached through
 * someone else's grant. Undefined when they have none. Callers still check that they can see it.
 */
export async function defaultAccount(db: Store, p: Principal): Promise<AccountRow | undefined> {
  return repo.homeAccount(db, p.userId);
}

/** Accounts the caller can see, by id. */
export async function visibleAccounts(db: Store, p: Principal): Promise<AccountRow[]> {
  if (isClusterAdmin(p)) return repo.accountsIn(db, null);
  const own = [...new Set(p.grants.map((g) => g.accountId).filter((id): id is number => id !== null))];
  return own.length === 0 ? [] : repo.accountsIn(db, own);
}

export async function resolveGroup(db: Store, p: Principal, account: AccountRow, segment: string): Promise<GroupRow> {
  const row = await repo.groupByRef(db, account.id, segment);
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
  const vm = await repo.vmInGroup(db, group.id, segment);
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
  const hit = await repo.vmByPath(db, acc, grp, vm);
  if (hit && (!hit.vm.deleted || opts.includeDeleted) && canSeeVm(p, { accountId: hit.account.id, groupId: hit.group.id, vmId: hit.vm.id })) {
    checkChange(p, { accountId: hit.account.id, groupId: hit.group.id, vmId: hit.vm.id }, opts);
    return hit;
  }
  const account = await resolveAccount(db, p, acc);
  const group = await resolveGroup(db, p, account, grp);
  return resolveVmIn(db, p, account, group, vm, opts);
}

/** The non-nested /virtual_machines/{id}: a VM by its id, or by its public id when given a segment (a name names nothing here). */
export async function resolveVmById(db: Store, p: Principal, id: number | string, opts: VmLookup): Promise<VmPlace> {
  const row = await repo.vmByIdOrSegment(db, id);
  if (!row) throw notFound('virtual_machine');
  // The group is gone if the VM was moved out of it and it was deleted since the VM was read.
  const group = await repo.groupById(db, row.group_id);
  if (!group) throw notFound('virtual_machine');
  const account = await repo.accountById(db, group.account_id);
  if (!account) throw notFound('virtual_machine');
  if ((row.deleted && !opts.includeDeleted) || !canSeeVm(p, { accountId: account.id, groupId: group.id, vmId: row.id })) {
    throw notFound('virtual_machine');
  }
  checkChange(p, { accountId: account.id, groupId: group.id, vmId: row.id }, opts);
  return { vm: row, group, account };
}

