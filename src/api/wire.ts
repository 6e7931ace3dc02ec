// BigV's wire rules, which the real clients depend on (spec §1), installed in the BigV dialect's
// context only (api/bigv/index.ts): `//` collapsed (by the root's rewrite, for BigV's URLs only),
// JSON bodies that may be empty, and `Content-Type: application/json` with no charset (bigv-python
// parses nothing else). Query booleans are in parameters.ts.
import type { FastifyInstance, FastifyReply } from 'fastify';
import secureJson from 'secure-json-parse';
import { unauthorized } from '../core/errors.js';

/**
 * Collapse repeated slashes (`//accounts/...` from an endpoint configured with a trailing slash),
 * except the empty account of `/accounts//groups/...`, which bytemark-client sends when no account
 * was given and which means the caller's default account (spec §5.7).
 */
export function collapseSlashes(url: string): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (!path.includes('//')) return url;
  const m = /^\/+accounts\/{2,}groups(?=\/|$)/.exec(path);
  const head = m ? '/accounts//groups' : '';
  const collapsed = head + path.slice(m ? m[0].length : 0).replace(/\/{2,}/g, '/');
  return q < 0 ? collapsed : collapsed + url.slice(q);
}

/**
 * An empty body (bytemark-client's backup POST) parses as {}; anything else must be JSON, and
 * holds no `__proto__` or `constructor.prototype` key (refused as Fastify's own parser does: such
 * a key becomes a prototype wherever a body is copied field by field).
 */
export function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim();
    if (text === '') return done(null, {});
    try {
      done(null, secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }));
    } catch {
      const err = new Error('Body is not valid JSON') as Error & { statusCode: number; code: string };
      err.statusCode = 400;
      err.code = 'HANGAR_BAD_JSON';
      done(err, undefined);
    }
  });
}

/** Send JSON with exactly `application/json` as its type. */
export function installExactJsonType(app: FastifyInstance): void {
  app.addHook('onSend', async (_req, reply: FastifyReply, payload) => {
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('application/json')) reply.header('content-type', 'application/json');
    return payload;
  });
}

/**
 * A request refused before any route sees it: a NUL character (no name, label or text here may
 * hold one, and PostgreSQL text cannot). In a path segment it names nothing (404); in a query or
 * body it is a bad value (400). Ids past the store's 32-bit ids name nothing too: `rowId` in
 * src/core/ids.ts is the one place that says so.
 */
export class UnusableInput extends Error {
  readonly statusCode = 400;
  readonly code = 'HANGAR_UNUSABLE_INPUT';
  constructor(readonly part: 'params' | 'query' | 'body', readonly field: string) {
    super(`unusable value in the request ${part} (${field})`);
  }
}

function findNul(value: unknown, key: string, depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? key : null;
  if (value === null || typeof value !== 'object' || depth > 32) return null;
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\u0000')) return k;
    const hit = findNul(v, /^\d+$/.test(k) ? key : k, depth + 1);
    if (hit !== null) return hit;
  }
  return null;
}

/**
 * Refuse NUL characters anywhere in a request before any route sees it: path segments, query and
 * body. A POST or PUT with no body at all (and so no Content-Type) is an empty object, like an
 * empty JSON body: the docs' own `POST .../signal?signal=powerdown` sends none.
 */
export function installInputGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && (req.method === 'POST' || req.method === 'PUT')) req.body = {};
    for (const part of ['params', 'query', 'body'] as const) {
      const field = findNul(req[part], part);
      if (field !== null) throw new UnusableInput(part, field);
    }
  });
}


/** Does the request change something (any method but GET and HEAD)? Resolving a machine for such a
 *  request needs the right to change it (`forChange` in src/core/resolve.ts). */
export function changes(req: { method: string }): boolean {
  return req.method !== 'GET' && req.method !== 'HEAD';
}

/**
 * The request's one Authorization header. Node keeps only the first of several in `req.headers`,
 * while a proxy or log in front may read the last: which credential counts must not depend on
 * header order, so more than one is a 401.
 */
export function authorizationOf(req: { headers: { authorization?: string }; raw: { rawHeaders: string[] } }): string | undefined {
  let count = 0;
  for (let i = 0; i < req.raw.rawHeaders.length; i += 2) if (req.raw.rawHeaders[i]!.toLowerCase() === 'authorization') count++;
  if (count > 1) throw unauthorized('one_header');
  return req.headers.authorization;
}
