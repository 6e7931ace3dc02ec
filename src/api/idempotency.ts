// Idempotency-Key on every mutating route of a dialect (docs/idempotency.md): this hook reads the
// header and the request and hands the answer over; the rules live in core/idempotency.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hangar } from '../core/context.js';
import { callerOf, checkKey, claimKey, fingerprintOf, recordAnswer, dropClaim, type Answer } from '../core/idempotency.js';

export { forgetExpiredIdempotency, IDEMPOTENCY_TTL_MS } from '../core/idempotency.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** The answer's headers a retry needs besides status and body. */
const KEPT_HEADERS = ['content-type', 'location', 'etag', 'retry-after'] as const;

declare module 'fastify' {
  interface FastifyRequest { idempotencyClaim: { caller: string; key: string } | null }
}

/** Install on a dialect's plugin (after its credential hook: keys are per caller). */
export function installIdempotency(app: FastifyInstance, h: Hangar): void {
  app.decorateRequest('idempotencyClaim', null);
  app.addHook('preHandler', async (req, reply) => claimOrReplay(h, req, reply));
  app.addHook('onSend', async (req, reply, payload) => {
    const claim = req.idempotencyClaim;
    if (!claim) return payload;
    req.idempotencyClaim = null;
    await settle(h, claim, reply, payload).catch((err) => req.log.error({ err }, 'idempotency record not written'));
    return payload;
  });
}

async function claimOrReplay(h: Hangar, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const header = req.headers['idempotency-key'];
  if (header === undefined || !MUTATING.has(req.method) || !req.principal) return undefined;
  const r = { caller: callerOf(req.principal), key: checkKey(header), fingerprint: fingerprintOf(req.method, req.url, JSON.stringify(req.body ?? null)) };
  const claim = await claimKey(h, r);
  if (claim.claimed) {
    req.idempotencyClaim = { caller: r.caller, key: r.key };
    return undefined;
  }
  const { status, headers, body } = claim.replay;
  reply.code(status).headers(headers).header('idempotent-replayed', 'true');
  return body === '' ? reply.send() : reply.send(body);
}

/** Record the answer, or drop the claim when it cannot be kept. */
async function settle(h: Hangar, claim: { caller: string; key: string }, reply: FastifyReply, payload: unknown): Promise<void> {
  const body = payload === undefined || payload === null ? '' : typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : null;
  if (body === null) return dropClaim(h, claim);
  const headers: Answer['headers'] = {};
  for (const name of KEPT_HEADERS) {
    const v = reply.getHeader(name);
    if (v !== undefined) headers[name] = String(v);
  }
  await recordAnswer(h, claim, { status: reply.statusCode, headers, body });
}
