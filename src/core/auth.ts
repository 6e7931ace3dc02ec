// Credentials: passwords (argon2id), session tokens and API keys (random, stored as SHA-256
// hashes), TOTP second factor, signing key pairs (secret sealed). Each dialect's extractor
// (src/api/credentials/) reads its own wire form and turns it into a Principal through these.
// Every check goes through h.limiter (core/login-limiter.ts): counted before anything is verified,
// refused while the client waits, taken back when it passes.
import crypto from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import * as OTPAuth from 'otpauth';
import type { UserRow } from '../store/schema.js';
import * as sessions from '../store/repos/sessions.js';
import * as keys from '../store/repos/keys.js';
import { forbidden, invalid, loginFailed, notFound, unauthorized } from './errors.js';
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
  return (await sessions.setTotpSecret(h.db, username, h.secrets.seal(secret))) ? secret : null;
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
  const user = await sessions.userByName(h.db, username);
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
    await sessions.insertSession(trx, { tokenHash: tokenHash(token), userId, impersonatorId: impersonator, factors, validity, expiresAt: now + validity * 1000, now });
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
  await h.limiter.check({ address });
  const found = await lookUp();
  if (found === undefined) await h.limiter.failed({ address });
  return found;
}

async function liveSession(h: Hangar, token: string, address: string) {
  const row = await lookUpBearer(h, address, () => sessions.sessionByHash(h.db, tokenHash(token)));
  const now = h.now();
  if (!row || row.expiresAt <= now) return null;
  if (row.impersonatorId !== null && !(await stillImpersonates(h, row.impersonatorId, row.factors))) return null;
  if (row.expiresAt < now + EXTEND_MS - 60_000) await sessions.extendSession(h.db, row.id, now + EXTEND_MS);
  return { userId: row.userId, username: row.username, factors: row.factors };
}

/** An impersonated session is only as good as its impersonator: still a user, still a cluster admin
 *  (over the factors they logged in with). Checked on every use, so a revoked admin's ends at once. */
async function stillImpersonates(h: Hangar, impersonatorId: number, factors: string[]): Promise<boolean> {
  const admin = await sessions.userById(h.db, impersonatorId);
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
  const target = await sessions.userByName(h.db, username);
  if (!target) throw loginFailed('no_such_user');
  const factors = [...s.factors.filter((f) => f !== 'impersonated'), 'impersonated'];
  return createSession(h, target.id, factors, h.config.sessionDefault, s.userId);
}

/** Principals are cached briefly per brain, by credential; any change to credentials or privileges clears the cache. */
const caches = new WeakMap<Hangar, Map<string, { principal: Principal; until: number }>>();
const CACHE_MS = 1000;

/** Forget this brain's cached principals (after a change to credentials or privileges). */
export function forgetPrincipals(h: Hangar): void {
  caches.get(h)?.clear();
}

/** The principal a credential names, from this brain's cache (1 s) or `load`. `key`: the credential itself. */
export async function cachedPrincipal(h: Hangar, key: string, load: () => Promise<Principal>): Promise<Principal> {
  const now = h.now();
  let cache = caches.get(h);
  if (!cache) caches.set(h, (cache = new Map()));
  const hit = cache.get(key);
  if (hit && hit.until > now) return hit.principal;
  const principal = await load();
  if (cache.size > 10_000) cache.clear();
  cache.set(key, { principal, until: now + CACHE_MS });
  return principal;
}

/** A session token's principal, with the factors its login proved. */
export async function sessionPrincipal(h: Hangar, token: string, address: string): Promise<Principal> {
  const s = await liveSession(h, token, address);
  if (!s) throw unauthorized('session');
  return loadPrincipal(h.db, { id: s.userId, username: s.username }, s.factors, null);
}

/** An API key's principal: only the privileges bound to the key. */
export async function apiKeyPrincipal(h: Hangar, key: string, address: string): Promise<Principal> {
  const found = await lookUpBearer(h, address, () => sessions.apiKeyByHash(h.db, tokenHash(key)));
  if (!found || (found.expiresAt !== null && found.expiresAt <= h.now())) throw unauthorized('api_key');
  return loadPrincipal(h.db, { id: found.userId, username: found.username }, ['apikey'], found.id);
}

/** How long a signed request's date may be from the server's clock, either way. */
export const SIGNATURE_WINDOW_MS = 5 * 60 * 1000;

/** A new signing key pair: the access key id, and the secret, shown this once (it is stored sealed). */
export interface NewKeyPair { id: string; accessKeyId: string; secret: string }

/**
 * Make a signing key pair for the caller. Only from a session of their own that proved every factor
 * their user requires (a password, and a second factor when they have one or a privilege asks for a
 * yubikey), or from a key pair made so (it passes its factors on): a request signed with the pair
 * proves those factors, so a weaker login cannot mint a stronger credential. Not from an API key or
 * an impersonated session.
 */
export async function createKeyPair(h: Hangar, p: Principal): Promise<NewKeyPair> {
  const factors = p.factors.filter((f) => f !== 'signature');
  if (p.apiKeyId !== null || !factors.includes('password') || factors.includes('impersonated')) {
    throw forbidden('key_pair_session');
  }
  const missing = (await keys.factorsRequiredOf(h.db, p.userId)).filter((f) => !factors.includes(f));
  if (missing.length > 0) throw forbidden('key_pair_factors', { missing: missing.join(' and ') });
  const accessKeyId = `HK${crypto.randomBytes(10).toString('hex').toUpperCase()}`;
  const secret = crypto.randomBytes(32).toString('base64url');
  const id = await keys.insertKeyPair(h.db, { userId: p.userId, accessKeyId, secret: h.secrets.seal(secret), factors, now: h.now() });
  return { id, accessKeyId, secret };
}

/**
 * A signed request's principal. The dialect parses its own scheme and gives `verify`, which checks
 * the signature with the pair's secret (opened here, never stored in the clear); `date` is when the
 * request says it was signed (it must be within SIGNATURE_WINDOW_MS of now) and `nonce` what makes
 * it unique (the signature itself will do): the same nonce twice is a replay, on every brain. A
 * wrong key, signature, date or a replay is a failed credential check for the limiter. `nonce`
 * null: the dialect deals with repeats itself (e24cloud: a repeated write replays its first answer).
 */
export async function signedPrincipal(
  h: Hangar, s: { accessKeyId: string; date: number; nonce: string | null; verify: (secret: string) => boolean }, address: string,
): Promise<Principal> {
  await h.limiter.begin({ address });
  const now = h.now();
  const pair = await keys.keyPairByAccessKey(h.db, s.accessKeyId);
  if (!pair || !s.verify(h.secrets.open(pair.secret))) throw unauthorized('bad_signature');
  if (!Number.isFinite(s.date) || Math.abs(now - s.date) > SIGNATURE_WINDOW_MS) throw unauthorized('stale_date');
  if (s.nonce !== null && !(await keys.recordNonce(h.db, pair.id, s.nonce, now, Math.max(now, s.date) + SIGNATURE_WINDOW_MS))) throw unauthorized('replayed');
  await h.limiter.passed({ address });
  return loadPrincipal(h.db, { id: pair.userId, username: pair.username }, [...pair.factors, 'signature'], null);
}

/** Only cluster admins may do this. Others get 403 when the thing is visible to them, else call NotFound yourself. */
export function requireClusterAdmin(p: Principal): void {
  if (!isClusterAdmin(p)) throw forbidden('admin_only');
}

export function checkPasswordStrength(password: unknown): string {
  if (typeof password !== 'string' || password.length < 8) throw invalid('password', 'too_short', { min: 8 });
  return password;
}
