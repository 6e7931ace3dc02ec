// Credentials: passwords (argon2id), session tokens and API keys (random, stored as SHA-256
// hashes), TOTP second factor. `authenticate` turns an Authorization header into a Principal.
// Every check goes through h.limiter (core/login-limiter.ts): counted before anything is verified,
// refused while the client waits, taken back when it passes.
import crypto from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import * as OTPAuth from 'otpauth';
import type { Store } from '../store/db.js';
import type { UserRow } from '../store/schema.js';
import { invalid, notFound, forbidden, unauthorized, loginFailed } from './errors.js';
import { isClusterAdmin, loadPrincipal, type Principal } from './principal.js';
import type { Hangar } from './context.js';
import { keepRow } from './locks.js';
import { withTransaction } from './transaction.js';

export const hashPassword = (password: string): Promise<string> => argon2Hash(password);

export function tokenHash(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

export function newSecret(): string {
  return crypto.randomBytes(24).toString('base64url');
}

/** A fresh TOTP secret (base32) for a user's second factor. */
export function newTotpSecret(): string {
  return new OTPAuth.Secret({ size: 20 }).base32;
}

/** Turn on the TOTP second factor for a user: the new secret (kept sealed), or null for no such user. */
export async function enableTotp(h: Hangar, username: string): Promise<string | null> {
  const secret = newTotpSecret();
  const r = await h.db.updateTable('users').set({ totp_secret: h.secrets.seal(secret) }).where('username', '=', username).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1 ? secret : null;
}

function totp(secret: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' });
}

export function totpCode(secret: string, at = Date.now()): string {
  return totp(secret).generate({ timestamp: at });
}

export function totpUri(secret: string, username: string): string {
  const t = totp(secret);
  t.issuer = 'Hangar';
  t.label = username;
  return t.toString();
}

// A dummy hash so a login with an unknown username costs as much as one with a wrong password.
let dummyHash: Promise<string> | undefined;

async function checkPassword(user: UserRow | undefined, password: string): Promise<boolean> {
  if (!user) {
    dummyHash ??= hashPassword('not-a-real-password');
    await argon2Verify(await dummyHash, password).catch(() => false);
    return false;
  }
  return argon2Verify(user.password_hash, password).catch(() => false);
}

/** POST /session from `address`. Messages are the ones bytemark-client recognises (spec §2.1). */
export async function login(
  h: Hangar, input: { username?: unknown; password?: unknown; validity?: unknown; otp?: unknown }, address: string,
): Promise<string> {
  const { username, password } = input;
  if (typeof username !== 'string' || typeof password !== 'string' || username === '' || password === '') {
    throw loginFailed('malformed');
  }
  let validity = h.config.sessionDefault;
  if (input.validity !== undefined && input.validity !== '') {
    validity = Number(input.validity);
    if (!Number.isInteger(validity) || validity <= 0) throw loginFailed('malformed');
    validity = Math.min(validity, h.config.sessionMax);
  }
  // Counted as a failure from here on, unless it passes.
  const attempt = { username, address };
  await h.limiter.begin(attempt);
  const user = await h.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  if (!(await checkPassword(user, password)) || !user) throw loginFailed('bad_credentials');
  const factors = ['password'];
  if (user.totp_secret) {
    if (input.otp === undefined || input.otp === '') {
      // The client's cue to ask for the code: not a failure, and not a pass that would forget the
      // failed codes before it.
      await h.limiter.uncount(attempt);
      throw loginFailed('second_factor_missing');
    }
    if (typeof input.otp !== 'string' || totp(h.secrets.open(user.totp_secret)).validate({ token: input.otp, window: 1 }) === null) {
      throw loginFailed('second_factor_bad');
    }
    factors.push('2fa');
  }
  await h.limiter.passed(attempt);
  return createSession(h, user.id, factors, validity, null);
}

async function createSession(h: Hangar, userId: number, factors: string[], validity: number, impersonator: number | null): Promise<string> {
  const token = newSecret();
  const now = h.now();
  await withTransaction(h.db, async (trx) => {
    // A user deleted since their password was checked gets no session.
    if (!(await keepRow(trx, 'users', userId))) throw loginFailed('bad_credentials');
    await trx.insertInto('sessions').values({
      token_hash: tokenHash(token), user_id: userId, impersonator_id: impersonator, factors: JSON.stringify(factors),
      validity, expires_at: now + validity * 1000, created_at: now,
    }).execute();
  });
  return token;
}

/** Every use of a session keeps it alive for at least five more minutes (BigV docs). */
const EXTEND_MS = 5 * 60 * 1000;

/**
 * A bearer credential (session token, API key) looked up for a client at `address`: refused while
 * the address waits; one that names nothing is a failed check. A known but expired one is not a
 * guess, and is not counted.
 */
async function lookUpBearer<T>(h: Hangar, address: string, lookUp: () => Promise<T | undefined>): Promise<T | undefined> {
  await h.limiter.begin({ address });
  const found = await lookUp();
  if (found !== undefined) await h.limiter.passed({ address });
  return found;
}

async function liveSession(h: Hangar, token: string, address: string) {
  const row = await lookUpBearer(h, address, () => h.db.selectFrom('sessions as s').innerJoin('users as u', 'u.id', 's.user_id')
    .select(['s.id', 's.user_id', 's.factors', 's.expires_at', 's.validity', 's.impersonator_id', 'u.username'])
    .where('s.token_hash', '=', tokenHash(token)).executeTakeFirst());
  const now = h.now();
  if (!row || row.expires_at <= now) return null;
  if (row.impersonator_id !== null && !(await stillImpersonates(h, row.impersonator_id, JSON.parse(row.factors) as string[]))) return null;
  if (row.expires_at < now + EXTEND_MS - 60_000) {
    await h.db.updateTable('sessions').set({ expires_at: now + EXTEND_MS }).where('id', '=', row.id).execute();
  }
  return { userId: row.user_id, username: row.username, factors: JSON.parse(row.factors) as string[] };
}

/** An impersonated session is only as good as its impersonator: still a user, still a cluster admin
 *  (over the factors they logged in with). Checked on every use, so a revoked admin's ends at once. */
async function stillImpersonates(h: Hangar, impersonatorId: number, factors: string[]): Promise<boolean> {
  const admin = await h.db.selectFrom('users').select(['id', 'username']).where('id', '=', impersonatorId).executeTakeFirst();
  return admin !== undefined && isClusterAdmin(await loadPrincipal(h.db, admin, factors.filter((f) => f !== 'impersonated'), null));
}

/** GET /session/{token}. */
export async function readSession(h: Hangar, token: string, address: string) {
  const s = await liveSession(h, token, address);
  if (!s) throw notFound('session');
  return { username: s.username, factors: s.factors, group_memberships: [] as string[] };
}

/** POST /session/{token} {"username"}: a cluster admin acts as another user. */
export async function impersonate(h: Hangar, token: string, username: unknown, address: string): Promise<string> {
  const s = await liveSession(h, token, address);
  if (!s) throw loginFailed('bad_credentials');
  const admin = await loadPrincipal(h.db, { id: s.userId, username: s.username }, s.factors, null);
  if (!isClusterAdmin(admin)) throw loginFailed('not_admin');
  if (typeof username !== 'string') throw loginFailed('malformed');
  const target = await h.db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirst();
  if (!target) throw loginFailed('no_such_user');
  const factors = [...s.factors.filter((f) => f !== 'impersonated'), 'impersonated'];
  return createSession(h, target.id, factors, h.config.sessionDefault, s.userId);
}

/** Principals are cached briefly by header; any change to credentials or privileges clears the cache. */
const cache = new Map<string, { principal: Principal; until: number }>();
const CACHE_MS = 1000;

export function forgetPrincipals(): void {
  cache.clear();
}

export async function authenticate(h: Hangar, authorization: string | undefined, address: string): Promise<Principal> {
  if (!authorization) throw unauthorized('missing');
  const now = h.now();
  const hit = cache.get(authorization);
  if (hit && hit.until > now) return hit.principal;
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!m) throw unauthorized('scheme');
  const credential = m[1]!;
  let principal: Principal;
  if (credential.startsWith('apikey.')) {
    const key = await lookUpBearer(h, address, () => h.db.selectFrom('api_keys as k').innerJoin('users as u', 'u.id', 'k.user_id')
      .select(['k.id', 'k.expires_at', 'u.id as user_id', 'u.username'])
      .where('k.key_hash', '=', tokenHash(credential.slice('apikey.'.length))).executeTakeFirst());
    if (!key || (key.expires_at !== null && key.expires_at <= now)) throw unauthorized('api_key');
    principal = await loadPrincipal(h.db, { id: key.user_id, username: key.username }, ['apikey'], key.id);
  } else {
    const s = await liveSession(h, credential, address);
    if (!s) throw unauthorized('session');
    principal = await loadPrincipal(h.db, { id: s.userId, username: s.username }, s.factors, null);
  }
  if (cache.size > 10_000) cache.clear();
  cache.set(authorization, { principal, until: now + CACHE_MS });
  return principal;
}

/** Only cluster admins may do this. Others get 403 when the thing is visible to them, else call NotFound yourself. */
export function requireClusterAdmin(p: Principal): void {
  if (!isClusterAdmin(p)) throw forbidden('admin_only');
}

export function checkPasswordStrength(password: unknown): string {
  if (typeof password !== 'string' || password.length < 8) throw invalid('password', 'too_short', { min: 8 });
  return password;
}
