// What an account holds with no VM (docs/domain.md §11, §14): the volumes and addresses a VM deleted
// in `detach` mode left behind (e24cloud `deleteResources: 0`). Only whoever holds account_admin over
// the account (or a cluster admin) sees them: they sit in no group.
import type { Hangar } from './context.js';
import { notFound } from './errors.js';
import { holds, type Principal } from './principal.js';
import { visibleAccounts } from './resolve.js';
import type { AccountRow, DiscRow } from '../store/schema.js';
import * as discs from '../store/repos/discs.js';
import * as ipam from '../store/repos/ipam.js';

async function heldBy(h: Hangar, p: Principal): Promise<AccountRow[]> {
  return (await visibleAccounts(h.db, p)).filter((a) => holds(p, { accountId: a.id }, 'account_admin'));
}

export interface HeldVolume { disc: DiscRow; zoneId: number | null; account: AccountRow }
export interface HeldAddress { address: string; account: AccountRow }

export async function heldVolumes(h: Hangar, p: Principal): Promise<HeldVolume[]> {
  const accounts = await heldBy(h, p);
  const byId = new Map(accounts.map((a) => [a.id, a]));
  return (await discs.heldVolumes(h.db, accounts.map((a) => a.id))).map(({ zone_id, ...disc }) => ({ disc, zoneId: zone_id, account: byId.get(disc.account_id!)! }));
}

export async function heldAddresses(h: Hangar, p: Principal): Promise<HeldAddress[]> {
  const out: HeldAddress[] = [];
  for (const account of await heldBy(h, p)) {
    for (const a of await ipam.heldAddresses(h.db, account.id)) if (a.family === 4) out.push({ address: a.address, account });
  }
  return out;
}

/** Give a held address back to the pool. */
export async function releaseHeldAddress(h: Hangar, p: Principal, address: string): Promise<void> {
  const held = (await heldAddresses(h, p)).find((a) => a.address === address);
  if (!held || !(await ipam.releaseHeldAddress(h.db, held.account.id, address))) throw notFound('ip');
}
