// e24cloud's error envelope (docs/e24cloud.md): `{"success":false,"error":"<sentence>","code":
// "<core code>"}` plus `field` (the e24cloud field name) when one field is at fault, with the HTTP
// statuses below. e24cloud documents no error format (e24cloud.md §11); `error` is the issue's
// decision (G7), `code` and `field` let a program tell refusals apart without parsing words.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type ErrorCode, type Issue } from '../../core/errors.js';

/** An act this dialect names but Hangar cannot do yet: 501 with what is missing. */
export class NotImplemented extends Error {
  constructor(readonly what: string) {
    super(what);
  }
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  not_found: 404, forbidden: 403, unauthorized: 401, throttled: 429, conflict: 409, state: 409, no_capacity: 409,
  precondition_failed: 412, reused: 422, unavailable: 503, failed: 502,
};

/** Core's field paths in e24cloud's names; a route may name its own (`config.e24Fields`). */
const FIELDS: Record<string, string> = {
  memoryMiB: 'ram', label: 'name', rootPassword: 'password', sshPublicKey: 'key_id', firstbootScript: 'user_data',
  distribution: 'os', zone: 'compute_zone_id', cdromUrl: 'cdrom', timeout: 'wait_for', timeoutMs: 'wait_for', powerOn: 'state',
  publicKey: 'content', 'login': 'Authorization',
};

declare module 'fastify' {
  interface FastifyContextConfig { e24Fields?: Record<string, string> }
}

const UNAUTHORIZED: Record<string, string> = {
  missing: 'Authorization header missing',
  bad_signature: 'Invalid API key or signature',
  stale_date: 'X-Date missing, malformed or outside the allowed window of 5 minutes',
  replayed: 'Request already seen',
};

function words(issue: Issue, field: string | undefined): string {
  const p = issue.params ?? {};
  const reason = typeof p.reason === 'string' ? p.reason.replace(/_/g, ' ') : null;
  switch (issue.code) {
    case 'not_found': return `${String(p.entity ?? 'object').replace(/_/g, ' ')} not found`;
    case 'unauthorized': return UNAUTHORIZED[String(p.reason)] ?? 'Unauthorized';
    case 'forbidden': return `Forbidden${reason ? `: ${reason}` : ''}`;
    case 'throttled': return `Too many failed attempts: retry after ${String(p.retryAfter)} seconds`;
    case 'conflict': return `Another task is running on this object${p.operation ? ` (${String(p.operation)})` : ''}`;
    case 'precondition_failed': return 'The object changed meanwhile';
    case 'reused': return 'This signature or Idempotency-Key was already used for another request';
    case 'unavailable': return 'The hypervisor did not answer in time';
    default: {
      const limits = ['min', 'max', 'feature'].filter((k) => p[k] !== undefined).map((k) => `${k} ${String(p[k])}`).join(', ');
      return `${field ?? 'request'}: ${issue.code.replace(/_/g, ' ')}${reason ? ` (${reason})` : ''}${limits ? ` [${limits}]` : ''}`;
    }
  }
}

type Validation = { instancePath: string; params: Record<string, unknown>; keyword: string; message?: string }[];

/** The status and body of any error, as e24cloud answers it. */
export function e24Problem(err: FastifyError & { validation?: Validation; validationContext?: string }, fields: Record<string, string> = {}): { status: number; body: Record<string, unknown> } {
  const fail = (status: number, code: string, error: string, field?: string) => ({ status, body: { success: false, error, code, ...(field !== undefined ? { field } : {}) } });
  if (err instanceof NotImplemented) return fail(501, 'not_implemented', `Not implemented in Hangar: ${err.what}`);
  if (err instanceof DomainError) {
    const issue = err.issues[0]!;
    const field = issue.field === undefined ? undefined : fields[issue.field] ?? FIELDS[issue.field] ?? issue.field;
    return fail(STATUS[issue.code] ?? 400, issue.code, words(issue, field), field);
  }
  if (err.validation) {
    if (err.validationContext === 'params') return fail(404, 'not_found', 'object not found');
    const first = err.validation[0]!;
    const path = first.instancePath.split('/').filter(Boolean);
    if (first.keyword === 'required') path.push(String(first.params.missingProperty));
    if (first.keyword === 'additionalProperties') path.push(String(first.params.additionalProperty));
    const field = path.join('.') || (err.validationContext === 'body' ? 'body' : 'query');
    const what = first.keyword === 'required' ? 'required' : first.keyword === 'additionalProperties' ? 'not a known field' : `invalid (${first.message ?? first.keyword})`;
    return fail(400, first.keyword === 'required' ? 'required' : 'invalid', `${field}: ${what}`, field);
  }
  if (err.code === 'E24_BAD_JSON') return fail(400, 'invalid', 'The body is not valid JSON', 'body');
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return fail(415, 'unsupported_media_type', 'Content-Type must be application/json');
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return fail(err.statusCode, 'bad_request', 'Bad request');
  return fail(500, 'internal', 'Internal error');
}

export function renderE24Error(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const p = e24Problem(err, req.routeOptions.config?.e24Fields);
  if (p.status >= 500 && p.status !== 501 && p.status !== 503) req.log.error({ err }, 'e24cloud dialect error');
  if (err instanceof DomainError && err.code === 'throttled') reply.header('retry-after', String(err.params.retryAfter));
  return reply.code(p.status).send(p.body);
}

export const NOT_FOUND = { success: false, error: 'Not found', code: 'not_found' };
export const BAD_REQUEST = { success: false, error: 'Bad request', code: 'bad_request' };
