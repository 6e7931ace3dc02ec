// A user's signing key pairs after creation (createKeyPair, signedPrincipal: core/auth.ts): list
// them, give one a new secret (shown once, stored sealed), delete one. A caller acts on its own
// user's pairs only; changing a pair needs the same strength as making one (a session that proved
// every factor, or a key pair made so), and clears the principal cache so the old secret stops at once.
import crypto from 'node:crypto';
import type { Hangar } from './context.js';
import { forbidden, notFound } from './errors.js';
import { loadPrincipal, type Principal } from './principal.js';
import { createKeyPair, forgetPrincipals, type NewKeyPair } from './auth.js';
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
