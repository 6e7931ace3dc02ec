// BigV's credential (and Hangar's own routes'): `Authorization: Bearer <session token>` or
// `Bearer apikey.<key>`. A later Gigas extractor reads a raw `Authorization: <token>` the same way.
import type { FastifyRequest } from 'fastify';
import type { Hangar } from '../../core/context.js';
import { apiKeyPrincipal, cachedPrincipal, sessionPrincipal } from '../../core/auth.js';
import { unauthorized } from '../../core/errors.js';
import type { Principal } from '../../core/principal.js';
import { authorizationOf } from '../wire.js';
import type { CredentialExtractor } from '../dialect.js';

/** The principal an Authorization header's bearer credential names (cached 1 s per brain by header). */
export async function authenticate(h: Hangar, authorization: string | undefined, address: string): Promise<Principal> {
  if (!authorization) throw unauthorized('missing');
  return cachedPrincipal(h, authorization, async () => {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!m) throw unauthorized('scheme');
    const credential = m[1]!;
    return credential.startsWith('apikey.')
      ? apiKeyPrincipal(h, credential.slice('apikey.'.length), address)
      : sessionPrincipal(h, credential, address);
  });
}

export const bearerCredentials: CredentialExtractor = (h: Hangar, req: FastifyRequest) => authenticate(h, authorizationOf(req), req.ip);
