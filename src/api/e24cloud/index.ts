// The e24cloud dialect (issue 10, seed 004, docs/e24cloud.md) under `/v2`: a translation over core,
// built like the test dialect (test/dialect/toy.ts). Its own body parser keeps the raw bytes (the
// signature covers them, a GET's body too); its credential is the signed request (signing.ts); every
// answer is the `success` envelope (errors.ts); every write takes an Idempotency-Key, and a signed
// write repeated within the date window is answered from the same store (never acted on twice).
import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { installDialect, keepRawBody, type Dialect } from '../dialect.js';
import { installIdempotency } from '../idempotency.js';
import { installAudit } from '../audit.js';
import { e24Credentials } from './signing.js';
import { BAD_REQUEST, NOT_FOUND, renderE24Error } from './errors.js';
import { vmRoutes } from './vms.js';
import { accountRoutes } from './account.js';
import { catalogueRoutes } from './catalogue.js';

export const E24_PREFIX = '/v2';

function e24Json(raw: Buffer): unknown {
  const text = raw.toString('utf8').trim();
  if (text === '') return {};
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    throw Object.assign(new Error('not JSON'), { statusCode: 400, code: 'E24_BAD_JSON' });
  }
}

const BODY_LIMIT = 1024 * 1024;

async function readBody(stream: AsyncIterable<Buffer | string>, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += b.length;
    if (size > limit) throw Object.assign(new Error('body too large'), { statusCode: 413, code: 'E24_BODY_TOO_LARGE' });
    parts.push(b);
  }
  return Buffer.concat(parts);
}

export function e24cloudDialect(): Dialect {
  return {
    name: 'e24cloud',
    prefix: E24_PREFIX,
    refusedBodies: { notFound: NOT_FOUND, badRequest: BAD_REQUEST },
    plugin: (h) => async (app: FastifyInstance) => {
      keepRawBody(app, 'application/json', e24Json);
      // Fastify reads no body on a GET, yet e24cloud signs whatever body was sent: keep its bytes.
      app.addHook('onRequest', async (req) => {
        if (req.method !== 'GET' && req.method !== 'HEAD') return;
        const { 'content-length': length, 'transfer-encoding': chunked } = req.headers;
        if ((length === undefined || length === '0') && chunked === undefined) return;
        req.rawBody = await readBody(req.raw, BODY_LIMIT);
      });
      // The clients send actions and DELETE with no body: it is the empty object.
      app.addHook('preValidation', async (req) => {
        if (req.body === undefined || req.body === null) req.body = {};
      });
      installDialect(app, h, { credentials: e24Credentials, credentialsAfterBody: true, renderError: renderE24Error, notFoundBody: NOT_FOUND });
      installIdempotency(app, h);
      installAudit(app, h, 'e24cloud');
      vmRoutes(h, app);
      accountRoutes(h, app);
      catalogueRoutes(h, app);
    },
  };
}
