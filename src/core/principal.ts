// Who is calling, and what their privileges let them do. Every route asks these questions;
// this file is the one place that answers them.
import type { Store } from '../store/db.js';
import { privilegeRowsOf } from '../store/repos/sessions.js';

export const LEVELS = ['cluster_admin', 'account_admin', 'group_admin', 'vm_admin', 'vm_console'] as const;
export type Level = (typeof LEVELS)[number];

export function isLevel(value: unknown): value is Level {
  return typeof value === 'string' && (LEVELS as readonly string[]).includes(value);
}

/** Lower number = more power. */
export function rank(level: Level): number {
  return LEVELS.indexOf(level);
}

/** A privilege with its target resolved up the tree (a VM privilege knows its group and account). */
export interface Grant {
  id: number;
  level: Level;
  accountId: number | null;
  groupId: number | null;
  vmId: number | null;
}

export interface Principal {
  userId: number;
  username: string;
  /** How the caller proved who they are: password, 2fa, impersonated, apikey, signature (a key pair's
   *  request proves what the session that made the pair proved, and `signature`). */
  factors: string[];
  apiKeyId: number | null;
  grants: Grant[];
}

/** Where an object sits in the tree; VMs have all three, groups two, accounts one. */
export interface Place { accountId: number; groupId?: number; vmId?: number }

export function isClusterAdmin(p: Principal): boolean {
  return p.grants.some((g) => g.level === 'cluster_admin');
}

/** The strongest level the caller holds over the place (through it or anything above it), or null. */
export function levelOver(p: Principal, place: Place): Level | null {
  let best: Level | null = null;
  for (const g of p.grants) {
    const covers =
      g.level === 'cluster_admin' ||
      (g.vmId === null && g.groupId === null && g.accountId === place.accountId) ||
      (g.vmId === null && g.groupId !== null && g.groupId === place.groupId) ||
      (g.vmId !== null && g.vmId === place.vmId);
    if (covers && (best === null || rank(g.level) < rank(best))) best = g.level;
  }
  return best;
}

/** True when the caller holds at least `level` over the place. */
export function holds(p: Principal, place: Place, level: Level): boolean {
  const have = levelOver(p, place);
  return have !== null && rank(have) <= rank(level);
}

/** Any privilege at or below the place makes it readable (a vm_console on one VM can see its group and account). */
export function canSeeAccount(p: Principal, accountId: number): boolean {
  return p.grants.some((g) => g.level === 'cluster_admin' || g.accountId === accountId);
}

export function canSeeGroup(p: Principal, accountId: number, groupId: number): boolean {
  return p.grants.some((g) => g.level === 'cluster_admin' || (g.accountId === accountId && (g.groupId === null || g.groupId === groupId)));
}

export function canSeeVm(p: Principal, place: Required<Place>): boolean {
  return levelOver(p, place) !== null;
}

/** Users: you see yourself; cluster admins see everyone. To anyone else a user does not exist. */
export function canSeeUser(p: Principal, userId: number): boolean {
  return userId === p.userId || isClusterAdmin(p);
}

/** What the rules need to know about a privilege: whose it is, which login it serves, its level, where it sits. */
export interface PrivilegeFacts { userId: number; apiKeyId: number | null; level: string; place: Place | null }

/**
 * A privilege is visible to cluster admins, to its own user (an API key sees only the privileges
 * bound to it, not its user's other ones), and to whoever holds a strictly higher level over its
 * target. Lists of privileges, on any object you can read, are filtered by this rule.
 */
export function canSeePrivilege(p: Principal, v: PrivilegeFacts): boolean {
  if (isClusterAdmin(p)) return true;
  if (v.userId === p.userId && (p.apiKeyId === null || v.apiKeyId === p.apiKeyId)) return true;
  if (!v.place || !isLevel(v.level)) return false;
  const have = levelOver(p, v.place);
  return have !== null && rank(have) < rank(v.level);
}

/**
 * Granting, changing or revoking another's privilege: only strictly below your own level over its
 * target. Cluster admins are the top of this cluster (BigV's cluster_su is not modelled), so they
 * may grant any level, cluster_admin included.
 */
export function mayGrant(p: Principal, level: Level, place: Place | null): boolean {
  if (isClusterAdmin(p)) return true;
  if (!place) return false;
  const have = levelOver(p, place);
  return have !== null && rank(have) < rank(level);
}

/** Does the privilege apply to this way of logging in? */
function applies(
  row: { api_key_id: number | null; password_required: number; yubikey_required: number },
  factors: string[], apiKeyId: number | null,
): boolean {
  if ((row.api_key_id ?? null) !== apiKeyId) return false;
  if (row.password_required && !factors.includes('password')) return false;
  // We verify TOTP, not Yubico OTPs: a privilege that asks for a yubikey asks for a second factor.
  if (row.yubikey_required && !factors.includes('2fa') && !factors.includes('yubikey')) return false;
  return true;
}

/** The strongest login a user's sessions can make (password and second factor, no API key). */
export const SESSION_FACTORS = ['password', '2fa'];

export async function loadPrincipal(
  db: Store, user: { id: number; username: string }, factors: string[], apiKeyId: number | null,
): Promise<Principal> {
  const rows = await privilegeRowsOf(db, user.id);
  const grantOf = (r: (typeof rows)[number]): Grant | null => (isLevel(r.level) ? {
    id: r.id,
    level: r.level,
    accountId: r.account_id ?? r.resolved_account ?? null,
    groupId: r.virtual_machine_id !== null || r.group_id !== null ? r.resolved_group ?? null : null,
    vmId: r.virtual_machine_id,
  } : null);
  const grantsFor = (f: string[], key: number | null) => rows.filter((r) => applies(r, f, key)).map(grantOf).filter((g): g is Grant => g !== null);
  let grants = grantsFor(factors, apiKeyId);
  // A privilege a user bound to their own API key is only as good as their authority to grant it:
  // it counts while their sessions could still grant it (a revoked admin's key loses it too).
  if (apiKeyId !== null && rows.some((r) => r.api_key_id === apiKeyId && r.creating_user_id === user.id)) {
    const session: Principal = { userId: user.id, username: user.username, factors: SESSION_FACTORS, apiKeyId: null, grants: grantsFor(SESSION_FACTORS, null) };
    const selfBound = new Set(rows.filter((r) => r.creating_user_id === user.id).map((r) => r.id));
    grants = grants.filter((g) => !selfBound.has(g.id)
      || mayGrant(session, g.level, g.accountId === null ? null : { accountId: g.accountId, ...(g.groupId !== null ? { groupId: g.groupId } : {}), ...(g.vmId !== null ? { vmId: g.vmId } : {}) }));
  }
  return { userId: user.id, username: user.username, factors, apiKeyId, grants };
}
