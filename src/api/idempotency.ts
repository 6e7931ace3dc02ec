// Idempotency-Key on every mutating route of a dialect (issue 8, item 2). The first request with a
// key claims it (a `pending` record, inserted under the unique (caller, key) before acting), acts,
// and its answer is recorded; a retry with the same key and request gets that answer again without
// acting, from any brain on the store. Records live in the store (table idempotency_records, migration 008).
//  - Keys are per caller: a user's session(s) share one space, each API key has its own.
//  - A 5xx answer is not recorded (the claim is dropped, so the request can be retried); 4xx are.
//  - A second request while the first still acts waits for its answer (polled, up to WAIT_MS), then 409.
//  - A claim older than LEASE_MS is taken as abandoned (its brain died mid-request) and may be taken over.
//  - Records expire IDEMPOTENCY_TTL_MS after the first request; the brain's sweeper deletes them.
//  - Bodies are sealed with the server's key: some answers carry secrets (a new API key's).
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Hangar } from '../core/context.js';
import { refused } from '../core/errors.js';
import type { Sealed } from '../core/secrets.js';

export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
const WAIT_MS = 10_000;
const POLL_MS = 25;
const LEASE_MS = 5 * 60_000;
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** 1 to 255 printable ASCII characters. */
const KEY = /^[\x20-\x7e]{1,255}$/;
const FIELD = 'Idempotency-Key';
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
  const key = req.headers['idempotency-key'];
  if (key === undefined || !MUTATING.has(req.method) || !req.principal) return undefined;
  if (typeof key !== 'string' || !KEY.test(key)) throw refused(FIELD, 'idempotency_key');
  const caller = req.principal.apiKeyId !== null ? `apikey:${req.principal.apiKeyId}` : `user:${req.principal.userId}`;
  const fingerprint = crypto.createHash('sha256').update(`${req.method}\n${req.url}\n${JSON.stringify(req.body ?? null)}`).digest('hex');
  const records = h.db.selectFrom('idempotency_records').where('caller', '=', caller).where('key', '=', key);
  const giveUpAt = Date.now() + WAIT_MS;
  for (;;) {
    const now = h.now();
    const inserted = await h.db.insertInto('idempotency_records')
      .values({ caller, key, fingerprint, state: 'pending', status: null, headers: null, body: null, created_at: now, expires_at: now + IDEMPOTENCY_TTL_MS })
      .onConflict((oc) => oc.columns(['caller', 'key']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) {
      req.idempotencyClaim = { caller, key };
      return undefined;
    }
    const rec = await records.selectAll().executeTakeFirst();
    if (!rec) continue; // its request failed (5xx) or it was swept meanwhile: claim it again
    if (rec.expires_at <= now) {
      await h.db.deleteFrom('idempotency_records').where('caller', '=', caller).where('key', '=', key).where('expires_at', '<=', now).execute();
      continue;
    }
    if (rec.fingerprint !== fingerprint) throw refused(FIELD, 'idempotency_reused', {}, 'reused');
    if (rec.state === 'done') return replay(h, reply, rec);
    if (rec.created_at + LEASE_MS < now) {
      const taken = await h.db.updateTable('idempotency_records').set({ created_at: now, expires_at: now + IDEMPOTENCY_TTL_MS })
        .where('caller', '=', caller).where('key', '=', key).where('state', '=', 'pending').where('created_at', '=', rec.created_at)
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) === 1) {
        req.idempotencyClaim = { caller, key };
        return undefined;
      }
      continue;
    }
    if (Date.now() >= giveUpAt) throw refused(FIELD, 'idempotency_busy', {}, 'conflict');
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function replay(h: Hangar, reply: FastifyReply, rec: { status: number | null; headers: string | null; body: Sealed | null }): FastifyReply {
  reply.code(rec.status ?? 200).headers(JSON.parse(rec.headers ?? '{}') as Record<string, string>).header('idempotent-replayed', 'true');
  const body = rec.body === null ? '' : h.secrets.open(rec.body);
  return body === '' ? reply.send() : reply.send(body);
}

/** Record the answer, or drop the claim when the answer is a 5xx (or cannot be kept). */
async function settle(h: Hangar, claim: { caller: string; key: string }, reply: FastifyReply, payload: unknown): Promise<void> {
  const body = payload === undefined || payload === null ? '' : typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : null;
  if (reply.statusCode >= 500 || body === null) {
    await h.db.deleteFrom('idempotency_records').where('caller', '=', claim.caller).where('key', '=', claim.key).where('state', '=', 'pending').execute();
    return;
  }
  const headers: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const v = reply.getHeader(name);
    if (v !== undefined) headers[name] = String(v);
  }
  await h.db.updateTable('idempotency_records')
    .set({ state: 'done', status: reply.statusCode, headers: JSON.stringify(headers), body: h.secrets.seal(body) })
    .where('caller', '=', claim.caller).where('key', '=', claim.key).where('state', '=', 'pending')
    .execute();
}

/** The sweeper's part: records past their expiry. */
export async function forgetExpiredIdempotency(h: Hangar): Promise<void> {
  await h.db.deleteFrom('idempotency_records').where('expires_at', '<=', h.now()).execute();
}
