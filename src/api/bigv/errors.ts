// BigV's error shapes (spec §1.1-1.2): 400 bodies are Rails-style `{"field":["message"]}`,
// `vm_create` disc errors are an array aligned with the request's `discs`.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Conflict, Forbidden, Invalid, NotFound, PreconditionFailed, Throttled, Unauthorized, Unavailable } from '../../core/errors.js';
import { UnusableInput } from '../wire.js';
import { QUERY_BOOL_WORDS } from '../parameters.js';

interface AjvError { keyword: string; instancePath: string; params: Record<string, unknown>; message?: string }

function message(e: AjvError, context: string | undefined, value: unknown): string {
  // The query-string parser makes a list of a parameter given more than once: whatever keyword failed, that is why.
  if (context === 'querystring' && Array.isArray(value)) return 'must be given only once';
  switch (e.keyword) {
    case 'required': return "can't be blank";
    case 'type': {
      const t = String(e.params.type);
      if (context === 'querystring' && t.includes('boolean')) return `must be one of ${QUERY_BOOL_WORDS}`;
      if (t.includes('integer') || t.includes('number')) return 'is not a number';
      if (t.includes('boolean')) return 'must be true or false';
      if (t.includes('object')) return 'must be an object';
      if (t.includes('array')) return 'must be a list';
      return 'must be a string';
    }
    case 'enum': case 'const': case 'anyOf': return 'is not included in the list';
    case 'minimum': return `must be greater than or equal to ${e.params.limit}`;
    case 'maximum': return `must be less than or equal to ${e.params.limit}`;
    case 'exclusiveMinimum': return `must be greater than ${e.params.limit}`;
    case 'minLength': return "can't be blank";
    case 'maxLength': return `is too long (maximum is ${e.params.limit} characters)`;
    case 'maxItems': return `has too many items (maximum is ${e.params.limit})`;
    case 'pattern': case 'format': return 'is invalid';
    default: return e.message ?? 'is invalid';
  }
}

/** The value at a JSON pointer (`/discs/0/size`) into what was validated. */
function at(data: unknown, path: string[]): unknown {
  return path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), data);
}

/** Turn schema validation errors of the request's body or query string into BigV's flat field map. */
export function fieldErrors(errors: AjvError[], data: unknown, context: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const discCount = Array.isArray((data as { discs?: unknown })?.discs) ? ((data as { discs: unknown[] }).discs.length) : 0;
  for (const e of errors) {
    // anyOf (nullable) failures repeat as type errors of each branch; one message is enough.
    const path = e.instancePath.split('/').filter(Boolean);
    if (e.keyword === 'required') path.push(String(e.params.missingProperty));
    const msg = message(e, context, at(data, path));
    if (path[0] === 'discs' && path.length >= 3 && /^\d+$/.test(path[1]!) && discCount > 0) {
      const list = (Array.isArray(out.discs) ? out.discs : Array.from({ length: discCount }, () => ({}))) as Record<string, string[]>[];
      const item = list[Number(path[1])] ?? {};
      const key = path[path.length - 1]!;
      if (!(item[key] ??= []).includes(msg)) item[key].push(msg);
      list[Number(path[1])] = item;
      out.discs = list;
      continue;
    }
    const key = [...path].reverse().find((p) => !/^\d+$/.test(p)) ?? context ?? 'body';
    const list = (out[key] ??= []) as string[];
    if (!list.includes(msg)) list.push(msg);
  }
  return out;
}

export function bigvErrorHandler(err: FastifyError & { validation?: AjvError[]; validationContext?: string }, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof Invalid) return reply.code(err.status).send(err.fields);
  if (err instanceof NotFound) return reply.code(404).send({ error: err.message });
  if (err instanceof Forbidden) return reply.code(403).send({ error: err.message });
  if (err instanceof PreconditionFailed) return reply.code(412).send({ error: err.message });
  if (err instanceof Unauthorized) return reply.code(401).send({ error: err.message });
  if (err instanceof Throttled) return reply.code(429).header('retry-after', String(err.retryAfter)).send({ error: err.message });
  if (err instanceof Conflict) return reply.code(409).send({ error: err.message });
  if (err instanceof Unavailable) return reply.code(503).send({ error: err.message });
  if (err instanceof UnusableInput) {
    // A name with a NUL in a path names nothing; in a query or body it is a bad value.
    if (err.part === 'params') return reply.code(404).send({ error: 'Not found' });
    return reply.code(400).send({ [err.field]: ['must not contain NUL characters'] });
  }
  if (err.validation) {
    // A path segment outside its schema (longer than any id or name) names nothing.
    if (err.validationContext === 'params') return reply.code(404).send({ error: 'Not found' });
    const data = err.validationContext === 'querystring' ? req.query : req.body;
    return reply.code(400).send(fieldErrors(err.validation, data, err.validationContext));
  }
  if (err.code === 'HANGAR_BAD_JSON') return reply.code(400).send({ body: ['is not valid JSON'] });
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ body: ['is too large'] });
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send({ body: ['must be application/json'] });
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return reply.code(err.statusCode).send({ error: err.message });
  }
  req.log.error({ err }, 'unhandled error');
  return reply.code(500).send({ error: 'Internal server error' });
}
