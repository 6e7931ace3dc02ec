// Invitations: a grant to a user outside the granter's account waits here, granting nothing, until
// its invitee accepts it (then it becomes a privilege) or it expires (config.invitationDays).
// Whether the named user exists is never told: an invitation to a name nobody has is stored and
// answered exactly like any other, and can never be accepted.
import type { Hangar } from './context.js';
import type { Store } from '../store/db.js';
import type { UserRow } from '../store/schema.js';
import { notFound, forbidden } from './errors.js';
import { isClusterAdmin, isLevel, loadPrincipal, mayGrant, SESSION_FACTORS, type Level, type Place, type Principal } from './principal.js';
import { forgetPrincipals } from './auth.js';
import { keepTarget, loadPrivileges, type PrivilegeView } from './grants.js';
import { keepRow } from './locks.js';
import { withTransaction } from './transaction.js';
import * as invitations from '../store/repos/invitations.js';
import { insertPrivilege } from '../store/repos/grants.js';

export interface InvitationView {
  id: number; uuid: string;
  /** null: nobody had the name when it was made, or the invitee declined. Never shown. */
  userId: number | null;
  /** The name as the granter gave it. */
  username: string;
  level: string;
  accountId: number | null; accountName: string | null;
  groupId: number | null; groupName: string | null;
  vmId: number | null; vmName: string | null;
  passwordRequired: boolean; yubikeyRequired: boolean; yubikeyOtpMaxAge: number; ipRestrictions: string | null;
  creatingUsername: string | null;
  /** What it is on, as bytemark-client writes it: `web1.default.acme`, `default.acme` or `acme`. */
  target: string;
  place: Required<Pick<Place, 'accountId'>> & Place;
  createdAt: number; expiresAt: number;
}

/** A user is outside an account unless it is their home account or they hold a privilege in it. The
 *  same query runs whether or not the user exists (userId 0), so the answer takes the same time. */
export async function isInsider(db: Store, user: UserRow | undefined, accountId: number): Promise<boolean> {
  const held = await invitations.holdsPrivilegeIn(db, user?.id ?? 0, accountId);
  return user !== undefined && (user.home_account_id === accountId || held);
}

export interface InviteInput {
  level: Level; account_id?: number | null; group_id?: number | null; virtual_machine_id?: number | null;
  password_required: boolean; yubikey_required: boolean; yubikey_otp_max_age: number; ip_restrictions: string | null;
}

/** Stores an invitation for `username` (as given); `user` is undefined when nobody has that name. */
export async function invite(h: Hangar, p: Principal, username: string, user: UserRow | undefined, input: InviteInput): Promise<InvitationView> {
  await sweep(h);
  const now = h.now();
  const row = await withTransaction(h.db, async (trx) => {
    await keepTarget(trx, { group_id: input.group_id ?? null, virtual_machine_id: input.virtual_machine_id ?? null });
    // A user deleted meanwhile is nobody: the invitation is stored, and answered, like one to a name nobody has.
    const invitee = user && (await keepRow(trx, 'users', user.id)) ? user.id : null;
    return invitations.insertInvitation(trx, {
      user_id: invitee, username, level: input.level,
      account_id: input.account_id ?? null, group_id: input.group_id ?? null, virtual_machine_id: input.virtual_machine_id ?? null,
      password_required: input.password_required ? 1 : 0, yubikey_required: input.yubikey_required ? 1 : 0,
      yubikey_otp_max_age: input.yubikey_otp_max_age, ip_restrictions: input.ip_restrictions,
      creating_user_id: p.userId, created_at: now, expires_at: now + h.config.invitationDays * 86_400_000,
    });
  });
  const [view] = await loadInvitations(h, { ids: [row.id] });
  if (!view) throw notFound('invitation'); // deleted with its target the moment it was made
  return view;
}

/** Expired invitations are deleted whenever invitations are read or written. */
async function sweep(h: Hangar): Promise<void> {
  await invitations.deleteExpiredInvitations(h.db, h.now());
}

async function loadInvitations(h: Hangar, scope: { ids?: number[]; userId?: number; accountIds?: number[] }): Promise<InvitationView[]> {
  // Addressed to the user, or on one of the accounts (what a non-cluster-admin could manage).
  const rows = await invitations.invitationRows(h.db, h.now(), scope);
  return rows.map((r) => ({
    id: r.id, uuid: r.uuid, userId: r.user_id, username: r.username, level: r.level,
    accountId: r.account_id, accountName: r.account_id !== null ? r.a_name : null,
    groupId: r.group_id, groupName: r.group_id !== null ? r.g_name : null,
    vmId: r.virtual_machine_id, vmName: r.vm_name,
    passwordRequired: !!r.password_required, yubikeyRequired: !!r.yubikey_required, yubikeyOtpMaxAge: r.yubikey_otp_max_age,
    ipRestrictions: r.ip_restrictions, creatingUsername: r.creating_username,
    target: [r.vm_name, r.g_name, r.a_name].filter((s) => s !== null).join('.'),
    place: { accountId: r.a_id, ...(r.g_id !== null ? { groupId: r.g_id } : {}), ...(r.virtual_machine_id !== null ? { vmId: r.virtual_machine_id } : {}) },
    createdAt: r.created_at, expiresAt: r.expires_at,
  }));
}

/** The invitee, logged in with a session (an API key carries only its own privileges and cannot take new ones). */
function isInvitee(p: Principal, v: InvitationView): boolean {
  return v.userId !== null && v.userId === p.userId && p.apiKeyId === null;
}

/** Whoever could grant or revoke the privilege it offers (strictly above its level over its target). */
function manages(p: Principal, v: InvitationView): boolean {
  return isLevel(v.level) && mayGrant(p, v.level, v.place);
}

/** Pending invitations addressed to the caller, and those the caller could revoke. */
export async function listInvitations(h: Hangar, p: Principal): Promise<InvitationView[]> {
  await sweep(h);
  const scope = isClusterAdmin(p)
    ? {}
    : { userId: p.userId, accountIds: [...new Set(p.grants.map((g) => g.accountId).filter((id): id is number => id !== null))] };
  return (await loadInvitations(h, scope)).filter((v) => isInvitee(p, v) || manages(p, v));
}

/** An invitation the caller may see (its invitee or a manager); anything else is NotFound. */
export async function resolveInvitation(h: Hangar, p: Principal, segment: string): Promise<InvitationView> {
  await sweep(h);
  const row = await invitations.invitationIdByRef(h.db, segment);
  const [v] = row ? await loadInvitations(h, { ids: [row.id] }) : [];
  if (!v || !(isInvitee(p, v) || manages(p, v))) throw notFound('invitation');
  return v;
}

/** Pending invitations addressed to a user (for `hangar admin invitations`). */
export async function invitationsOf(h: Hangar, userId: number): Promise<InvitationView[]> {
  await sweep(h);
  return (await loadInvitations(h, { userId })).filter((v) => v.userId === userId);
}

export async function acceptInvitation(h: Hangar, p: Principal, v: InvitationView): Promise<PrivilegeView> {
  if (!isInvitee(p, v)) throw forbidden('invitee_only');
  return admit(h, v);
}

/**
 * Could the granter still grant what the invitation offers? An invitation is only as good as its
 * granter's authority when it is accepted, judged over their strongest login (password and second
 * factor, no API key): a granter since revoked or deleted leaves nothing to accept.
 */
async function granterStillMay(h: Hangar, v: InvitationView): Promise<boolean> {
  const row = await invitations.granterOf(h.db, v.id);
  if (!row || !isLevel(v.level)) return false;
  return mayGrant(await loadPrincipal(h.db, row, SESSION_FACTORS, null), v.level, v.place);
}

/** The invitation becomes the privilege it offered, once: the row is gone in the same transaction.
 *  One its granter could no longer grant is void: deleted, and answered like an expired one. */
export async function admit(h: Hangar, v: InvitationView): Promise<PrivilegeView> {
  if (!(await granterStillMay(h, v))) {
    await invitations.deleteInvitation(h.db, v.id);
    throw notFound('invitation');
  }
  const id = await withTransaction(h.db, async (trx) => {
    // The target first (core/locks.ts: a purge or group delete locks it, then deletes its invitations).
    for (const [table, target] of [['groups', v.groupId], ['vms', v.vmId]] as const) {
      if (target !== null && !(await keepRow(trx, table, target))) throw notFound('invitation');
    }
    const row = await invitations.takeInvitation(trx, v.id, h.now());
    if (!row || row.user_id === null) throw notFound('invitation');
    return (await insertPrivilege(trx, {
      user_id: row.user_id, level: row.level, account_id: row.account_id, group_id: row.group_id,
      virtual_machine_id: row.virtual_machine_id, api_key_id: null, password_required: row.password_required,
      yubikey_required: row.yubikey_required, yubikey_otp_max_age: row.yubikey_otp_max_age,
      ip_restrictions: row.ip_restrictions, creating_user_id: row.creating_user_id, created_at: h.now(),
    })).id;
  });
  forgetPrincipals(h);
  const [privilege] = await loadPrivileges(h, { kind: 'ids', ids: [id] });
  if (!privilege) throw notFound('invitation'); // deleted with its target the moment it was accepted
  return privilege;
}

/**
 * The invitee declines; a manager revokes. A declined invitation is detached from its invitee (it
 * can never be accepted and they no longer see it) but stays in the granter's list until it
 * expires, like one to a name nobody has: the granter cannot tell a decline from a wrong name.
 */
export async function removeInvitation(h: Hangar, p: Principal, v: InvitationView): Promise<void> {
  if (isInvitee(p, v)) await invitations.detachInvitee(h.db, v.id);
  else await invitations.deleteInvitation(h.db, v.id);
}
