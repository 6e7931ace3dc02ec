// Gigas' credentials (gigas.md §2): the token of POST /token sent raw (`Authorization: <token>`) or as
// the legacy clients do (`Authorization: Gigas token=<token>`), and Hangar's bearer forms (API keys
// `Bearer apikey.<key>`, and session tokens) as BigV takes them (api/credentials/bearer.ts).
import type { FastifyRequest } from 'fastify';
import type { Hangar } from '../../core/context.js';
import { cachedPrincipal, sessionPrincipal } from '../../core/auth.js';
import { unauthorized } from '../../core/errors.js';
import type { Principal } from '../../core/principal.js';
import { authenticate } from '../credentials/bearer.js';
import { authorizationOf } from '../wire.js';
import type { CredentialExtractor } from '../dialect.js';

const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export const gigasCredentials: CredentialExtractor = async (h: Hangar, req: FastifyRequest): Promise<Principal> => {
  const header = authorizationOf(req)?.trim();
  if (!header) throw unauthorized('missing');
  if (/^Bearer\s/i.test(header)) return authenticate(h, header, req.ip);
  const legacy = /^Gigas\s+token="?([^"\s]+)"?$/i.exec(header);
  const token = legacy ? legacy[1]! : header;
  if (!TOKEN.test(token)) throw unauthorized('scheme');
  return cachedPrincipal(h, `gigas ${token}`, () => sessionPrincipal(h, token, req.ip));
};
