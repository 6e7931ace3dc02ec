// e24cloud's credential (e24cloud.md §2, docs/e24cloud.md): `Authorization: <api_key>:<base64
// HMAC-SHA256>` over METHOD \n Host \n X-Date \n path[?query] \n body, the body as received (a
// GET's too). Accepted variants, each tried in turn: the query string signed or not (the Go
// docker-machine driver leaves it out), and the Host as sent or without its port (the PHP sample
// signs HTTP_HOST; the doc says "no port"). The date must be within SIGNATURE_WINDOW_MS of the
// server's clock. A repeated signature of a GET is fine (X-Date has one-second resolution); a
// repeated signature of a write is answered from the idempotency store (the signature is its
// key), so it never acts twice. `PUT /v2/account/api` and the other key-pair routes also take a
// Hangar session as `Authorization: Bearer <token>`.
import crypto from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Hangar } from '../../core/context.js';
import { signedPrincipal } from '../../core/auth.js';
import { unauthorized } from '../../core/errors.js';
import type { Principal } from '../../core/principal.js';
import { authenticate } from '../credentials/bearer.js';
import { authorizationOf } from '../wire.js';

export function e24StringToSign(method: string, host: string, date: string, pathAndQuery: string, body: Buffer | string): string {
  return `${method.toUpperCase()}\n${host}\n${date}\n${pathAndQuery}\n${typeof body === 'string' ? body : body.toString('utf8')}`;
}

export function e24Signature(secret: string, method: string, host: string, date: string, pathAndQuery: string, body: Buffer | string): string {
  return crypto.createHmac('sha256', secret).update(e24StringToSign(method, host, date, pathAndQuery, body)).digest('base64');
}

/** RFC 1123 as the clients send it (`Tue, 01 Dec 2026 02:30:30 GMT`; the doc's example has a comma after the year). */
const RFC1123 = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4},? \d{2}:\d{2}:\d{2} ([A-Z]{1,5}|[+-]\d{4})$/;

export function parseXDate(value: unknown): number {
  return typeof value === 'string' && RFC1123.test(value) ? Date.parse(value.replace(/(\d{4}),/, '$1')) : NaN;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SCHEME = /^([A-Za-z0-9]{1,64}):([A-Za-z0-9+/]{43}=)$/;

/** Routes marked `config: { e24Session: true }` also take a Hangar session (the key-pair routes). */
declare module 'fastify' {
  interface FastifyContextConfig { e24Session?: boolean }
}

export async function e24Credentials(h: Hangar, req: FastifyRequest): Promise<Principal> {
  const auth = authorizationOf(req);
  if (auth === undefined) throw unauthorized('missing');
  if (/^Bearer\s/i.test(auth)) {
    if (!req.routeOptions.config?.e24Session) throw unauthorized('bad_signature');
    return authenticate(h, auth, req.ip);
  }
  const m = SCHEME.exec(auth.trim());
  if (!m) throw unauthorized('bad_signature');
  const date = req.headers['x-date'];
  const given = Buffer.from(m[2]!, 'base64');
  const sent = req.headers.host ?? '';
  const hosts = [...new Set([sent, sent.replace(/:\d+$/, '')])];
  const url = req.originalUrl;
  const paths = [...new Set([url, url.split('?')[0]!])];
  const body = req.rawBody ?? '';
  const principal = await signedPrincipal(h, {
    accessKeyId: m[1]!,
    date: parseXDate(date),
    nonce: null,
    verify: (secret) => hosts.some((host) => paths.some((path) =>
      crypto.timingSafeEqual(given, Buffer.from(e24Signature(secret, req.method, host, String(date), path, body), 'base64')))),
  }, req.ip);
  // The signature names this exact write: a second one with it gets the first one's answer.
  if (MUTATING.has(req.method) && req.headers['idempotency-key'] === undefined) req.headers['idempotency-key'] = `e24-signature:${m[2]}`;
  return principal;
}
