// Privileges as objects: listing, granting, updating and revoking them. A caller may only grant
// or revoke a level strictly below the one they hold over the target (spec §2.4).
import type { Hangar } from './context.js';
import type { PrivilegeRow, UserRow } from '../store/schema.js';
import { invalid, refused, notFound, forbidden } from './errors.js';
import {
  canSeeAccount, canSeeGroup, canSeePrivilege as canSeeFacts, canSeeUser, canSeeVm, isClusterAdmin, isLevel, mayGrant, type Principal,
} from './principal.js';
import { forgetPrincipals } from './auth.js';
import { invite, isInsider, type InvitationView } from './invitations.js';
import { keepRow } from './locks.js';
import type { Trx } from '../store/repos/types.js';
import * as grants from '../store/repos/grants.js';
import { vmPlace } from '../store/repos/vms.js';
import { withTransaction } from './transaction.js';

export interface PrivilegeView {
  id: number; uuid: string; userId: number; username: string; level: string;
  accountId: number | null; accountName: string | null;
  groupId: number | null; groupName: string | null;
  vmId: number | null; vmName: string | null;
  apiKeyId: number | null; passwordRequired: boolean; yubikeyRequired: boolean; yubikeyOtpMaxAge: number;
  ipRestrictions: string | null; creatingUsername: string | null;
  /** Where the target sits, for permission checks. */
  place: { accountId: number; groupId?: number; vmId?: number } | null;
}

type Scope = grants.PrivilegeScope;

export async function loadPrivileges(h: Hangar, scope: Scope): Promise<PrivilegeView[]> {
  const rows = await grants.privilegeRows(h.db, scope);
  return rows.map((r) => ({
    id: r.id, uuid: r.uuid, userId: r.user_id, username: r.username, level: r.level,
    accountId: r.account_id, accountName: r.account_id !== null ? r.a_name : null,
    groupId: r.group_id, groupName: r.group_id !== null ? r.g_name : null,
    vmId: r.virtual_machine_id, vmName: r.vm_name,
    apiKeyId: r.api_key_id, passwordRequired: !!r.password_required, yubikeyRequired: !!r.yubikey_required,
    yubikeyOtpMaxAge: r.yubikey_otp_max_age, ipRestrictions: r.ip_restrictions, creatingUsername: r.creating_username,
    place: r.a_id !== null ? { accountId: r.a_id, ...(r.g_id !== null ? { groupId: r.g_id } : {}), ...(r.virtual_machine_id !== null ? { vmId: r.virtual_machine_id } : {}) } : null,
  }));
}

/** The visibility rule of core/principal.ts, applied to a loaded privilege. */
export function canSeePrivilege(p: Principal, v: PrivilegeView): boolean {
  return canSeeFacts(p, v);
}

/** A user's privileges as the caller may see them. Someone else's user with nothing visible is NotFound,
 *  exactly like a user that does not exist, so the list tells nobody who exists. */
export async function privilegesOfUser(h: Hangar, p: Principal, user: UserRow | undefined): Promise<PrivilegeView[]> {
  const list = user ? (await loadPrivileges(h, { kind: 'user', userId: user.id })).filter((v) => canSeePrivilege(p, v)) : [];
  if (!user || (list.length === 0 && !canSeeUser(p, user.id))) throw notFound('user');
  return list;
}

export async function findUser(h: Hangar, segment: string): Promise<UserRow | undefined> {
  // Usernames made before the rule may be all digits: those are reached by their id or public id.
  return grants.userByRef(h.db, segment);
}

export interface GrantInput {
  level: string; account_id?: number | null; group_id?: number | null; virtual_machine_id?: number | null;
  api_key_id?: number | null; password_required?: boolean; yubikey_required?: boolean; yubikey_otp_max_age?: number;
  ip_restrictions?: string | null;
}

/** Who a grant is for: the path segment as given, and the user it names (undefined: nobody). */
export interface Grantee { segment: string; user: UserRow | undefined }

export type Granted = { privilege: PrivilegeView } | { invitation: InvitationView };

/**
 * A grant to a user inside the target's account (their home account, or one where they already
 * hold a privilege) is a privilege at once; one to anyone else is an invitation, answered the same
 * whether or not the user exists (so usernames cannot be enumerated), which grants nothing until
 * its invitee accepts it. Cluster admins' grants are always direct.
 */
export async function grant(h: Hangar, p: Principal, who: Grantee, input: GrantInput): Promise<Granted> {
  if (!isLevel(input.level)) throw invalid('level', 'not_in_list');
  const level = input.level;
  const target = level.startsWith('cluster') ? 'none' : level.startsWith('account') ? 'account_id' : level.startsWith('group') ? 'group_id' : 'virtual_machine_id';
  const given = (['account_id', 'group_id', 'virtual_machine_id'] as const).filter((k) => input[k] !== undefined && input[k] !== null);
  if (target === 'none' ? given.length > 0 : given.length !== 1 || given[0] !== target) {
    throw target === 'none' ? refused('level', 'no_target_for_cluster') : refused(target, 'one_target', {}, 'required');
  }
  let place: PrivilegeView['place'] = null;
  if (target === 'account_id') {
    const a = await grants.accountIdOf(h.db, input.account_id!);
    if (!a || !canSeeAccount(p, a.id)) throw refused('account_id', 'not_visible_account');
    place = { accountId: a.id };
  } else if (target === 'group_id') {
    const g = await grants.groupPlace(h.db, input.group_id!);
    if (!g || !canSeeGroup(p, g.account_id, g.id)) throw refused('group_id', 'not_visible_group');
    place = { accountId: g.account_id, groupId: g.id };
  } else if (target === 'virtual_machine_id') {
    const v = await vmPlace(h.db, input.virtual_machine_id!);
    if (!v || !canSeeVm(p, { accountId: v.account_id, groupId: v.group_id, vmId: v.id })) throw refused('virtual_machine_id', 'not_visible_vm');
    place = { accountId: v.account_id, groupId: v.group_id, vmId: v.id };
  }
  if (!mayGrant(p, level, place)) throw forbidden('grant_level', { level });
  const maxAge = input.yubikey_otp_max_age ?? 900;
  if (!Number.isInteger(maxAge) || maxAge < 0) throw invalid('yubikey_otp_max_age', 'out_of_range', { min: 0 });
  const { user } = who;
  const notTheirKey = () => refused('api_key_id', 'not_users_key');
  const terms = {
    level, account_id: input.account_id ?? null, group_id: input.group_id ?? null, virtual_machine_id: input.virtual_machine_id ?? null,
    password_required: input.password_required ?? !input.api_key_id, yubikey_required: input.yubikey_required ?? false,
    yubikey_otp_max_age: maxAge, ip_restrictions: input.ip_restrictions ?? null,
  };
  // Only cluster admins grant without a target (mayGrant), so `place` is set on this branch.
  if (!isClusterAdmin(p) && !(await isInsider(h.db, user, place!.accountId))) {
    // An invitation cannot name the invitee's API keys: the granter cannot know them.
    if (input.api_key_id) throw notTheirKey();
    return { invitation: await invite(h, p, who.segment, user, terms) };
  }
  if (!user) throw notFound('user');
  const id = await withTransaction(h.db, async (trx) => {
    // Everything the privilege points at is held until it is written (a racing delete waits, then removes it too).
    await keepTarget(trx, terms);
    if (!(await keepRow(trx, 'users', user.id))) throw notFound('user');
    if (input.api_key_id) {
      const key = await grants.keepApiKey(trx, input.api_key_id);
      if (!key || key.user_id !== user.id) throw notTheirKey();
    }
    const row = await grants.insertPrivilege(trx, {
      ...terms, user_id: user.id, api_key_id: input.api_key_id || null,
      password_required: terms.password_required ? 1 : 0, yubikey_required: terms.yubikey_required ? 1 : 0,
      creating_user_id: p.userId, created_at: h.now(),
    });
    // A user with no home account gets the account of the first privilege a cluster admin grants them there.
    if (place && isClusterAdmin(p)) {
      await grants.setHomeIfNone(trx, user.id, place.accountId);
    }
    return row.id;
  });
  forgetPrincipals(h);
  const [privilege] = await loadPrivileges(h, { kind: 'ids', ids: [id] });
  if (!privilege) throw notFound('privilege'); // revoked, or deleted with its target, the moment it was made
  return { privilege };
}

/** A privilege's (or invitation's) target, held until the transaction ends: a 400 when it has been deleted. */
export async function keepTarget(trx: Trx, t: { group_id: number | null; virtual_machine_id: number | null }): Promise<void> {
  if (t.group_id !== null && !(await keepRow(trx, 'groups', t.group_id))) throw refused('group_id', 'not_visible_group');
  if (t.virtual_machine_id !== null && !(await keepRow(trx, 'vms', t.virtual_machine_id))) throw refused('virtual_machine_id', 'not_visible_vm');
}

/**
 * Bind to one of the user's API keys a copy of every privilege the user's sessions have (an API key
 * carries only the privileges bound to it). The copies ask for no password or second factor, which
 * a key never proves; each goes through `grant`, so the caller's right to grant it is checked.
 */
export async function bindSessionPrivileges(h: Hangar, p: Principal, user: UserRow, apiKeyId: number): Promise<PrivilegeView[]> {
  const own = (await loadPrivileges(h, { kind: 'user', userId: user.id })).filter((v) => v.apiKeyId === null);
  const bound: PrivilegeView[] = [];
  for (const v of own) {
    const granted = await grant(h, p, { segment: user.username, user }, {
      level: v.level, account_id: v.accountId, group_id: v.groupId, virtual_machine_id: v.vmId, api_key_id: apiKeyId,
      password_required: false, yubikey_required: false, ip_restrictions: v.ipRestrictions,
    });
    // The user already holds each of these, so none is an invitation.
    if (!('privilege' in granted)) throw new Error('binding a held privilege made an invitation');
    bound.push(granted.privilege);
  }
  return bound;
}

export async function resolvePrivilege(h: Hangar, p: Principal, segment: string): Promise<PrivilegeView> {
  const id = await grants.privilegeIdByRef(h.db, segment);
  const [v] = id !== undefined ? await loadPrivileges(h, { kind: 'ids', ids: [id] }) : [];
  if (!v || !canSeePrivilege(p, v)) throw notFound('privilege');
  return v;
}

export async function updatePrivilege(h: Hangar, p: Principal, v: PrivilegeView, input: { yubikey_required?: boolean; yubikey_otp_max_age?: number; ip_restrictions?: string | null }): Promise<PrivilegeView> {
  if (!isLevel(v.level) || !mayGrant(p, v.level, v.place)) throw forbidden('change_privilege');
  const set: Partial<PrivilegeRow> = {};
  if (input.yubikey_required !== undefined) set.yubikey_required = input.yubikey_required ? 1 : 0;
  if (input.yubikey_otp_max_age !== undefined) {
    if (input.yubikey_otp_max_age < 0) throw invalid('yubikey_otp_max_age', 'out_of_range', { min: 0 });
    set.yubikey_otp_max_age = input.yubikey_otp_max_age;
  }
  if (input.ip_restrictions !== undefined) set.ip_restrictions = input.ip_restrictions;
  if (Object.keys(set).length) await grants.updatePrivilegeRow(h.db, v.id, set);
  forgetPrincipals(h);
  return (await loadPrivileges(h, { kind: 'ids', ids: [v.id] }))[0]!;
}

/** Revoke: your own privilege, or one below your level on something you administer. */
export async function revoke(h: Hangar, p: Principal, v: PrivilegeView): Promise<void> {
  const own = v.userId === p.userId;
  if (!own && (!isLevel(v.level) || !mayGrant(p, v.level, v.place))) throw forbidden('revoke_privilege');
  if (v.level === 'cluster_admin' && v.apiKeyId === null) {
    const admins = await grants.sessionClusterAdmins(h.db);
    if (admins.length < 2) throw refused('level', 'last_cluster_admin', {}, 'state');
  }
  await grants.deletePrivilege(h.db, v.id);
  forgetPrincipals(h);
}

/** Privileges on an object and below it (the caller can read the object: the route resolved it), filtered
 *  by the visibility rule: your own, and those strictly below your level on what you administer. */
export async function privilegesOn(h: Hangar, p: Principal, scope: Scope): Promise<PrivilegeView[]> {
  return (await loadPrivileges(h, scope)).filter((v) => canSeePrivilege(p, v));
}
