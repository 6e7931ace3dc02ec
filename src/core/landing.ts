// Where a VM lands when the dialect names no group (docs/domain.md §13.2, G5): Gigas names the
// account in its path (or none: the caller's home account), e24cloud never does (the home account).
// The group is the account's `default`, or, when the caller lacks group_admin there, the oldest group
// of the account where they hold it; with none, the caller may not create there.
import type { Hangar } from './context.js';
import { forbidden, notFound } from './errors.js';
import { canSeeAccount, holds, type Principal } from './principal.js';
import type { AccountRow, GroupRow } from '../store/schema.js';
import * as repo from '../store/repos/vms.js';

export interface Landing { account: AccountRow; group: GroupRow }

/** `accountRef`: the path's account segment (id, public id or name); absent: the caller's home account. */
export async function landingFor(h: Hangar, p: Principal, accountRef?: string): Promise<Landing> {
  let account: AccountRow | undefined;
  if (accountRef !== undefined) {
    account = await repo.accountByRef(h.db, accountRef);
    if (!account || !canSeeAccount(p, account.id)) throw notFound('account');
  } else {
    account = await repo.homeAccount(h.db, p.userId);
    if (!account) throw forbidden('no_home_account');
  }
  const groups = await repo.groupsOldestFirst(h.db, account.id);
  const byPreference = [...groups.filter((g) => g.name === 'default'), ...groups.filter((g) => g.name !== 'default')];
  const group = byPreference.find((g) => holds(p, { accountId: account.id, groupId: g.id }, 'group_admin'));
  if (!group) throw forbidden('create_vm');
  return { account, group };
}
