// Users (with their SSH keys as one newline-separated string) and API keys.
import type { Hangar } from './context.js';
import type { ApiKeyRow, UserRow } from '../store/schema.js';
import { invalid, refused, notFound, forbidden } from './errors.js';
import { canSeeAccount, isClusterAdmin, type Principal } from './principal.js';
import { checkPasswordStrength, forgetPrincipals, hashPassword, newSecret, tokenHash } from './auth.js';
import { findUser } from './grants.js';
import { keepRow, lockRow } from './locks.js';
import { withTransaction } from './transaction.js';
import { checkNotId, matchesRef } from './ids.js';
import * as users from '../store/repos/users.js';
import { userById } from '../store/repos/sessions.js';
import { accountById } from '../store/repos/vms.js';

const USERNAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const KEY_LINE = /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/;

export function checkAuthorizedKeys(keys: string): string {
  const lines = keys.split('\n').map((l) => l.trim()).filter(Boolean);
  const bad = lines.findIndex((l) => !KEY_LINE.test(l));
  if (bad >= 0) throw refused('authorized_keys', 'ssh_key_line', { line: bad + 1 });
  return lines.join('\n');
}

/** A user is visible to themself and to cluster admins; to anyone else it does not exist. */
export async function resolveUser(h: Hangar, p: Principal, segment: string): Promise<UserRow> {
  const user = await findUser(h, segment);
  if (!user || (user.id !== p.userId && !isClusterAdmin(p))) throw notFound('user');
  return user;
}

export async function listUsers(h: Hangar, p: Principal): Promise<UserRow[]> {
  return users.usersList(h.db, isClusterAdmin(p) ? undefined : p.userId);
}

/**
 * A home account: one that exists and `mayChoose` allows (a user choosing their own must hold a
 * privilege in it; cluster admins may choose any). null: no home, so no default account.
 */
async function checkHome(h: Hangar, value: unknown, mayChoose: (accountId: number) => boolean): Promise<number | null> {
  if (value === null) return null;
  const refuse = () => refused('home_account_id', 'not_visible_account');
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw refuse();
  const a = await accountById(h.db, value);
  if (!a || !mayChoose(value)) throw refuse();
  return value;
}

export async function createUser(
  h: Hangar, input: { username?: unknown; email?: unknown; password?: unknown; authorized_keys?: unknown; home_account_id?: unknown },
): Promise<UserRow> {
  if (typeof input.username !== 'string' || !USERNAME.test(input.username)) throw invalid('username', 'invalid');
  checkNotId('username', input.username);
  const password = checkPasswordStrength(input.password);
  const email = typeof input.email === 'string' ? input.email : '';
  if (email && !/^[^@\s]+@[^@\s]+$/.test(email)) throw invalid('email', 'invalid');
  const keys = typeof input.authorized_keys === 'string' ? checkAuthorizedKeys(input.authorized_keys) : '';
  const home = input.home_account_id === undefined ? null : await checkHome(h, input.home_account_id, () => true);
  const passwordHash = await hashPassword(password);
  return withTransaction(h.db, async (trx) => {
    if (await users.usernameTaken(trx, input.username as string)) {
      throw invalid('username', 'taken');
    }
    return users.insertUser(trx, { username: input.username as string, email, passwordHash, authorizedKeys: keys, homeAccountId: home, now: h.now() });
  });
}

export async function adminCreateUser(h: Hangar, p: Principal, input: Parameters<typeof createUser>[1]): Promise<UserRow> {
  if (!isClusterAdmin(p)) throw forbidden('admin_create_users');
  return createUser(h, input);
}

/** PUT /users/{u}: bytemark-client sends the whole user back; only keys, password, email and home account change.
 *  The caller is the user or a cluster admin (resolveUser). */
export async function updateUser(
  h: Hangar, p: Principal, user: UserRow, input: { authorized_keys?: string; password?: string; email?: string; home_account_id?: number | null },
): Promise<UserRow> {
  const set: Partial<UserRow> = {};
  // A password opens every session privilege of the user: an API key, which carries only its own, may not set one.
  if (input.password !== undefined && p.apiKeyId !== null) throw forbidden('api_key_password');
  if (input.authorized_keys !== undefined) set.authorized_keys = checkAuthorizedKeys(input.authorized_keys);
  if (input.password !== undefined) set.password_hash = await hashPassword(checkPasswordStrength(input.password));
  if (input.email !== undefined && input.email !== user.email) {
    if (!/^[^@\s]+@[^@\s]+$/.test(input.email)) throw invalid('email', 'invalid');
    set.email = input.email;
  }
  if (input.home_account_id !== undefined && input.home_account_id !== user.home_account_id) {
    set.home_account_id = await checkHome(h, input.home_account_id, (id) => isClusterAdmin(p) || canSeeAccount(p, id));
  }
  if (Object.keys(set).length) await users.updateUserRow(h.db, user.id, set);
  if (set.password_hash) await users.deleteSessionsOf(h.db, user.id);
  forgetPrincipals(h);
  return users.userRow(h.db, user.id);
}

export async function deleteUser(h: Hangar, p: Principal, user: UserRow): Promise<void> {
  if (!isClusterAdmin(p)) throw forbidden('admin_delete_users');
  if (user.id === p.userId) throw refused('user', 'delete_self');
  await withTransaction(h.db, async (trx) => {
    // Locked first: a grant, invitation, API key or session for the user racing this waits, then is removed here.
    if (!(await lockRow(trx, 'users', user.id))) throw notFound('user');
    // Their pending invitations stay, as ones to nobody: the granters' lists do not change.
    await users.deleteUserRows(trx, user.id);
  });
  forgetPrincipals(h);
}

// API keys ---------------------------------------------------------------------------------------

/** A user as the domain knows it (never its secrets: whether TOTP is on, not the seed). */
export interface User { id: number; publicId: string; username: string; email: string; authorizedKeys: string; totpEnabled: boolean; homeAccountId: number | null }

export function userValue(r: UserRow): User {
  return {
    id: r.id, publicId: r.uuid, username: r.username, email: r.email, authorizedKeys: r.authorized_keys,
    totpEnabled: r.totp_secret !== null, homeAccountId: r.home_account_id,
  };
}

export interface ApiKeyView { row: ApiKeyRow; username: string; key?: string }

/** `expires_at` as YYYY-MM-DD, HH:MM:SS (today) or ISO-8601. */
export function parseExpiry(value: string, now: number): number {
  let t: number;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) t = Date.parse(`${value}T00:00:00Z`);
  else if (/^\d{2}:\d{2}:\d{2}$/.test(value)) t = Date.parse(`${new Date(now).toISOString().slice(0, 10)}T${value}Z`);
  else t = Date.parse(value);
  // 2030-13-45 and 99:99:99 match the shapes but are no time at all.
  if (!Number.isFinite(t)) throw invalid('expires_at', 'invalid');
  return t;
}

export async function listApiKeys(h: Hangar, p: Principal): Promise<ApiKeyView[]> {
  const admin = isClusterAdmin(p);
  // An API key sees itself, not its user's other keys (and so not their privileges).
  const rows = await users.apiKeyRows(h.db, admin ? {} : { userId: p.userId, ...(p.apiKeyId !== null ? { keyId: p.apiKeyId } : {}) });
  return rows.map(({ username, ...row }) => ({ row, username }));
}

export async function resolveApiKey(h: Hangar, p: Principal, segment: string): Promise<ApiKeyView> {
  const key = (await listApiKeys(h, p)).find((k) => matchesRef(k.row, k.row.label, segment));
  if (!key) throw notFound('api_key');
  return key;
}

export async function createApiKey(h: Hangar, p: Principal, input: { user_id?: number; label: string; expires_at?: string | null }): Promise<ApiKeyView> {
  const userId = input.user_id ?? p.userId;
  if (userId !== p.userId && !isClusterAdmin(p)) throw refused('user_id', 'own_keys_only');
  const user = await userById(h.db, userId);
  if (!user) throw refused('user_id', 'not_a_user');
  if (!input.label.trim()) throw invalid('label', 'required');
  checkNotId('label', input.label);
  const expires = input.expires_at ? parseExpiry(input.expires_at, h.now()) : null;
  const key = newSecret();
  const row = await withTransaction(h.db, async (trx) => {
    if (!(await keepRow(trx, 'users', userId))) throw refused('user_id', 'not_a_user'); // deleted meanwhile
    if (await users.apiKeyByLabel(trx, userId, input.label)) {
      throw invalid('label', 'taken');
    }
    return users.insertApiKey(trx, { userId, label: input.label, keyHash: tokenHash(key), expiresAt: expires, now: h.now() });
  });
  return { row, username: user.username, key };
}

export async function deleteApiKey(h: Hangar, key: ApiKeyView): Promise<void> {
  await withTransaction(h.db, async (trx) => {
    // Locked first: a privilege being bound to the key meanwhile is waited for, then deleted with it.
    if (!(await lockRow(trx, 'api_keys', key.row.id))) throw notFound('api_key');
    await users.deleteApiKeyRows(trx, key.row.id);
  });
  forgetPrincipals(h);
}
