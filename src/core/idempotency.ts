// Idempotency keys as a core service (docs/idempotency.md), the same for every dialect: the first
// request with a key claims it (a `pending` record, inserted under the unique (caller, key) before
// acting), acts, and its answer is recorded; a retry with the same key and request gets that answer
// again without acting, from any brain on the store and after a restart. Records live in the store
// (table idempotency_records, migration 008). A dialect's hook (api/idempotency.ts) only reads the
// key and the request, and hands over the answer.
//  - Keys are per caller: a user's credentials that proved the same factors share one space, each API
//    key has its own (a replay skips the route's checks, so a weaker credential never sees a stronger one's answer).
//  - A 5xx answer is not recorded (the claim is dropped, so the request can be retried); 4xx are.
//  - A second request while the first still acts waits for its answer (polled, up to WAIT_MS), then 409.
//  - A claim older than LEASE_MS is taken as abandoned (its brain died mid-request) and may be taken over.
//  - Records expire IDEMPOTENCY_TTL_MS after the first request; the brain's sweeper deletes them.
//  - Bodies are sealed with the server's key: some answers carry secrets (a new API key's).
import crypto from 'node:crypto';
import type { Hangar } from './context.js';
import { refused } from './errors.js';
import type { Principal } from './principal.js';
import * as repo from '../store/repos/idempotency.js';

export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;
const WAIT_MS = 10_000;
const POLL_MS = 25;
const LEASE_MS = 5 * 60_000;
/** 1 to 255 printable ASCII characters. */
const KEY = /^[\x20-\x7e]{1,255}$/;
/** The field errors name (the header's name in every dialect that has one). */
export const IDEMPOTENCY_FIELD = 'Idempotency-Key';

export interface KeyedRequest { caller: string; key: string; fingerprint: string }
export interface Answer { status: number; headers: Record<string, string>; body: string }
export type Claim = { claimed: true } | { claimed: false; replay: Answer };

/** Whose key space a caller's keys live in: an API key, or a user with the factors its credential
 *  proved (hashed: the column holds 64 characters, whatever factors come). */
export function callerOf(p: Principal): string {
  if (p.apiKeyId !== null) return `apikey:${p.apiKeyId}`;
  const factors = crypto.createHash('sha256').update([...new Set(p.factors)].sort().join('+')).digest('hex').slice(0, 16);
  return `user:${p.userId}:${factors}`;
}

/** What makes two requests "the same request": here method, URL and body. */
export function fingerprintOf(...parts: string[]): string {
  return crypto.createHash('sha256').update(parts.join('\n')).digest('hex');
}

/** The key as given, or 400 when it is not 1 to 255 printable ASCII characters. */
export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || !KEY.test(key)) throw refused(IDEMPOTENCY_FIELD, 'idempotency_key');
  return key;
}

/**
 * Claim the key for this request (then act, and `recordAnswer` or `dropClaim`), or the recorded
 * answer of the first request with it. 422 when the key was used with another request; 409 when the
 * first is still acting after WAIT_MS.
 */
export async function claimKey(h: Hangar, r: KeyedRequest): Promise<Claim> {
  const giveUpAt = Date.now() + WAIT_MS;
  for (;;) {
    const now = h.now();
    if (await repo.insertPending(h.db, { ...r, now, expiresAt: now + IDEMPOTENCY_TTL_MS })) return { claimed: true };
    const rec = await repo.findRecord(h.db, r);
    if (!rec) continue; // its request failed (5xx) or it was swept meanwhile: claim it again
    if (rec.expires_at <= now) {
      await repo.deleteIfExpired(h.db, r, now);
      continue;
    }
    if (rec.fingerprint !== r.fingerprint) throw refused(IDEMPOTENCY_FIELD, 'idempotency_reused', {}, 'reused');
    if (rec.state === 'done') {
      const body = rec.body === null ? '' : h.secrets.open(rec.body);
      return { claimed: false, replay: { status: rec.status ?? 200, headers: JSON.parse(rec.headers ?? '{}') as Record<string, string>, body } };
    }
    if (rec.created_at + LEASE_MS < now) {
      if (await repo.takeOver(h.db, r, rec.created_at, now, now + IDEMPOTENCY_TTL_MS)) return { claimed: true };
      continue;
    }
    if (Date.now() >= giveUpAt) throw refused(IDEMPOTENCY_FIELD, 'idempotency_busy', {}, 'conflict');
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
}

/** Record the claimed request's answer; a 5xx is not kept (the claim is dropped, so a retry acts). */
export async function recordAnswer(h: Hangar, r: repo.KeyRef, a: Answer): Promise<void> {
  if (a.status >= 500) return dropClaim(h, r);
  await repo.markDone(h.db, r, { status: a.status, headers: JSON.stringify(a.headers), body: h.secrets.seal(a.body) });
}

/** Give the key back without an answer (the request failed in a way a retry may not repeat). */
export async function dropClaim(h: Hangar, r: repo.KeyRef): Promise<void> {
  await repo.deletePending(h.db, r);
}

/** `act` once per (caller, key): the first call's answer, or the recorded one (`replayed`). A throw drops the claim. */
export async function idempotent(h: Hangar, r: KeyedRequest, act: () => Promise<Answer>): Promise<Answer & { replayed: boolean }> {
  const claim = await claimKey(h, r);
  if (!claim.claimed) return { ...claim.replay, replayed: true };
  let answer: Answer;
  try {
    answer = await act();
  } catch (err) {
    await dropClaim(h, r);
    throw err;
  }
  await recordAnswer(h, r, answer);
  return { ...answer, replayed: false };
}

/** The sweeper's part: records past their expiry. */
export async function forgetExpiredIdempotency(h: Hangar): Promise<void> {
  await repo.deleteExpired(h.db, h.now());
}
