// Where a Gigas request acts: the account of `/account/<account_id>` (its id or public id, never its
// name; an account the caller cannot see is a 404), or the caller's home account on the legacy
// un-prefixed routes; and a VM of that account by its id or public id (a VM of another account,
// even one the caller can see, is a 404 under this account).
import type { FastifyRequest } from 'fastify';
import type { Hangar } from '../../core/context.js';
import { defaultAccount, resolveAccount, resolveVmById, type VmPlace } from '../../core/resolve.js';
import { canSeeAccount } from '../../core/principal.js';
import { isCode, notFound, type Issues } from '../../core/errors.js';
import { readRef } from '../../core/ids.js';
import type { AccountRow } from '../../store/schema.js';
import { changes } from '../wire.js';

/** The account a path names (id or public id). */
export async function gigasAccount(h: Hangar, req: FastifyRequest, segment: string): Promise<AccountRow> {
  if ('name' in readRef(segment)) throw notFound('account');
  return resolveAccount(h.db, req.principal, segment);
}

/** The caller's home account (the legacy routes name none). */
export async function homeAccountOf(h: Hangar, req: FastifyRequest): Promise<AccountRow> {
  const account = await defaultAccount(h.db, req.principal);
  if (!account || !canSeeAccount(req.principal, account.id)) throw notFound('account');
  return account;
}

/** A live VM of `account`, by id or public id; resolved for a change unless the request is a read. */
export async function gigasVm(h: Hangar, req: FastifyRequest, account: AccountRow, segment: string): Promise<VmPlace> {
  if ('name' in readRef(segment)) throw notFound('virtual_machine');
  const at = await resolveVmById(h.db, req.principal, segment, { includeDeleted: false, forChange: changes(req) });
  if (at.account.id !== account.id) throw notFound('virtual_machine');
  return at;
}

/** The usual pair: `/account/<account_id>/virtual_machine/<virtual_machine_id>`. */
export async function vmOfPath(h: Hangar, req: FastifyRequest & { params: { account_id: string; virtual_machine_id: string } }): Promise<VmPlace> {
  return gigasVm(h, req, await gigasAccount(h, req, req.params.account_id), req.params.virtual_machine_id);
}

/** A resolved VM's place, as core's privilege checks take it. */
export function placeOf(at: VmPlace): { accountId: number; groupId: number; vmId: number } {
  return { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id };
}

/** `resolve`'s answer, or, when it names nothing the caller can see, the body field's issue (`not_in_list`). */
export async function named<T>(errs: Issues, field: string, resolve: () => Promise<T>): Promise<T | undefined> {
  try {
    return await resolve();
  } catch (err) {
    if (!isCode(err, 'not_found')) throw err;
    errs.add(field, 'not_in_list');
    return undefined;
  }
}
