// A user's signing key pairs after creation (createKeyPair, signedPrincipal: core/auth.ts): list
// them, give one a new secret (shown once, stored sealed), delete one. A caller acts on its own
// user's pairs only; changing a pair needs the same strength as making one (a session that proved
// every factor, or a key pair made so), and clears the principal cache so the old secret stops at once.
import crypto from 'node:crypto';
import type { Hangar } from './context.js';
import { forbidden, notFound, unauthorized } from './errors.js';
import { loadPrincipal, type Principal } from './principal.js';
import { createKeyPair, forgetPrincipals, SIGNATURE_WINDOW_MS, type NewKeyPair } from './auth.js';
import * as keys from '../store/repos/keys.js';

export function listKeyPairs(h: Hangar, p: Principal): Promise<string[]> {
  return keys.accessKeysOf(h.db, p.userId);
}

function mayChangePairs(p: Principal): void {
  if (p.apiKeyId !== null || !p.factors.includes('password') || p.factors.includes('impersonated')) throw forbidden('key_pair_session');
}

/** A new secret for one of the caller's pairs: the secret, shown this once. */
export async function renewKeyPairSecret(h: Hangar, p: Principal, accessKeyId: string): Promise<string> {
  mayChangePairs(p);
  const secret = crypto.randomBytes(32).toString('base64url');
  if (!(await keys.replaceSecret(h.db, p.userId, accessKeyId, h.secrets.seal(secret)))) throw notFound('key_pair');
  forgetPrincipals(h);
  return secret;
}

export async function deleteKeyPair(h: Hangar, p: Principal, accessKeyId: string): Promise<void> {
  mayChangePairs(p);
  if (!(await keys.deleteKeyPair(h.db, p.userId, accessKeyId))) throw notFound('key_pair');
  forgetPrincipals(h);
}

/**
 * A key pair made for a user by the host's operator (`hangar admin e24-key USER`): it carries the
 * factors the user's privileges ask for, as if made from a session that proved them (the operator
 * holds the server's keys anyway).
 */
export async function operatorKeyPair(h: Hangar, user: { id: number; username: string }): Promise<NewKeyPair> {
  const p = await loadPrincipal(h.db, user, await keys.factorsRequiredOf(h.db, user.id), null);
  return createKeyPair(h, p);
}

/**
 * A signed write whose signature was seen before (inside the date window) may only be answered from
 * the idempotency record its first use made. The Idempotency-Key header is not signed: a replay that
 * names another key, or none after a first use with one, would act twice. So the first use records
 * the signature (`<sig>` with no key of its own, `<sig>!` with one), and a replay is let through only
 * where its answer is the first one's: no key, after a first use with no key (keyed by the signature).
 */
export async function guardSignedWrite(h: Hangar, accessKeyId: string, signature: string, date: number, ownKey: boolean): Promise<void> {
  const pair = await keys.keyPairByAccessKey(h.db, accessKeyId);
  if (!pair) throw unauthorized('bad_signature');
  const now = h.now();
  const until = Math.max(now, date) + SIGNATURE_WINDOW_MS;
  if (ownKey) {
    if ((await keys.nonceSeen(h.db, pair.id, signature, now)) || !(await keys.recordNonce(h.db, pair.id, `${signature}!`, now, until))) throw unauthorized('replayed');
  } else {
    if (await keys.nonceSeen(h.db, pair.id, `${signature}!`, now)) throw unauthorized('replayed');
    await keys.recordNonce(h.db, pair.id, signature, now, until);
  }
}
