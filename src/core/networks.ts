// Networks (docs/domain.md §9): the cluster's shared public network (from the pools, made at start-up)
// and an account's private VLAN (its groups'). BigV shows only a NIC's `vlan_num`; Gigas and e24cloud
// list networks. Everyone signed in sees the public ones; a private one, those who can see its account.
import type { Hangar } from './context.js';
import { isClusterAdmin, type Principal } from './principal.js';
import * as repo from '../store/repos/networks.js';
import type { NetworkRow } from '../store/schema.js';

export interface Network {
  id: number;
  publicId: string;
  label: string;
  vlanNum: number;
  public: boolean;
  /** Null for the cluster's public network. */
  accountId: number | null;
  /** Null: spans zones. */
  zoneId: number | null;
  defaultRateLimitMbps: number | null;
  createdAt: number;
}

function networkValue(r: NetworkRow): Network {
  return {
    id: r.id, publicId: r.uuid, label: r.label, vlanNum: r.vlan_num, public: !!r.public, accountId: r.account_id,
    zoneId: r.zone_id, defaultRateLimitMbps: r.default_rate_limit_mbps, createdAt: r.created_at,
  };
}

/** The accounts a caller sees something in (through any grant on them or below). */
function visibleAccounts(p: Principal): number[] | null {
  if (isClusterAdmin(p)) return null;
  return [...new Set(p.grants.map((g) => g.accountId).filter((id): id is number => id !== null))];
}

/** The networks the caller may see, by id. */
export async function listNetworks(h: Hangar, p: Principal): Promise<Network[]> {
  return (await repo.networksFor(h.db, visibleAccounts(p))).map(networkValue);
}

/** At start-up: each pool's VLAN has its public network, and every pool points to it. */
export function linkPoolsToNetworks(h: Pick<Hangar, 'db'>, now: number): Promise<void> {
  return repo.linkPools(h.db, now);
}
