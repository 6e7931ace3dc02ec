// Gigas' error shape (docs/gigas.md; gigas.md §3 saw JSON bodies with an `error` string, OnApp answers
// field errors with 422 and `errors`): every refusal is `{"error": "<sentence>"}`, and a refused
// field adds `"errors": {"<wire field>": ["<message>", ...]}`. The words are BigV's (one vocabulary
// for core's reasons, src/api/bigv/errors.ts); the field names are Gigas'.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type Issue } from '../../core/errors.js';
import { fieldMessage, renderDomainError, throttledText } from '../bigv/errors.js';
import { UnusableInput } from '../wire.js';

interface AjvError { keyword: string; instancePath: string; params: Record<string, unknown> }

export interface GigasError { error: string; errors?: Record<string, string[]> }

/** Core's field names (camelCase, paths) as Gigas' wire names; names not listed are the same on the wire. */
const WIRE: Record<string, string> = {
  memoryMiB: 'memory', cores: 'cpus', guestHostname: 'hostname', name: 'hostname', zone: 'location_id', zoneId: 'location_id',
  distribution: 'template_id', rootPassword: 'initial_root_password', cpuShares: 'cpu_shares', cpuType: 'cpu_type',
  rateLimitMbps: 'rate_limit', bootFrom: 'boot_type', cdromUrl: 'iso_url', ips: 'selected_ip_address', powerOn: 'status',
  power_on: 'status', size: 'primary_disk_size', sshPublicKey: 'ssh_public_key', discs: 'primary_disk_size',
  owner: 'clone_user_id', password: 'password', isoId: 'iso_id', url: 'iso_url', label: 'label', ttl: 'ttl',
};

const CLONE_DISCS: Record<string, string> = {
  'resize.discId': 'clone_disk_id', 'resize.sizeMiB': 'clone_disk_size', 'resize.grade': 'clone_disk_data_store_group_id',
  'add.sizeMiB': 'secondary_disk_size', 'add.grade': 'data_store_group_secondary_id',
};

/** A core field path as the Gigas field it came from: `discs[0].sizeMiB` is the primary disk, later discs are secondary ones. */
export function wireField(field: string | undefined): string {
  if (field === undefined) return 'base';
  const m = /^discs\[(\d+)\]\.(\w+)/.exec(field);
  if (m) {
    const primary = m[1] === '0';
    if (m[2] === 'grade') return primary ? 'data_store_group_primary_id' : 'data_store_group_secondary_id';
    return primary ? 'primary_disk_size' : 'secondary_disk_size';
  }
  // A clone's changed (`resize[i]`) and added (`add[i]`) disks.
  const c = /^(resize|add)(?:\[\d+\]\.(\w+))?$/.exec(field);
  if (c) return CLONE_DISCS[`${c[1]}.${c[2] ?? 'sizeMiB'}`] ?? field;
  const last = field.split(/[.[\]]+/).filter((s) => s && !/^\d+$/.test(s)).pop() ?? field;
  return WIRE[last] ?? last;
}

/** Issues about fields: 422 with each field's messages, and the first as the sentence. */
export function fieldsError(issues: readonly Pick<Issue, 'code' | 'field' | 'params'>[]): GigasError {
  const errors: Record<string, string[]> = {};
  for (const i of issues) {
    const key = wireField(i.field);
    const msg = fieldMessage(i as Issue, key);
    if (!(errors[key] ??= []).includes(msg)) errors[key].push(msg);
  }
  const [first] = Object.entries(errors);
  return { error: first ? `${first[0]} ${first[1][0]}` : 'is invalid', errors };
}

const UNAUTHORIZED: Record<string, string> = {
  missing: 'Authentication required: send Authorization: <token>',
  scheme: 'Use Authorization: <token>, Gigas token=<token>, or Bearer apikey.<key>',
  session: 'Invalid or expired token',
  api_key: 'Invalid or expired API key',
  one_header: 'Give exactly one Authorization header',
};

/** A DomainError as Gigas' status and body. */
export function renderGigasDomainError(err: DomainError): { status: number; body: GigasError; retryAfter?: number } {
  if (err.field !== undefined && err.code !== 'conflict' && err.code !== 'reused') {
    // A login refused is the token route's own (api/gigas/auth.ts).
    return { status: err.code === 'precondition_failed' ? 412 : 422, body: fieldsError(err.issues) };
  }
  if (err.code === 'unauthorized') return { status: 401, body: { error: UNAUTHORIZED[String(err.params.reason)] ?? UNAUTHORIZED.session! } };
  if (err.code === 'throttled') {
    const after = Number(err.params.retryAfter);
    return { status: 429, body: { error: throttledText(after) }, retryAfter: after };
  }
  const r = renderDomainError(err, undefined);
  const said = (r.body as { error?: unknown }).error;
  const error = typeof said === 'string' ? said : err.field !== undefined ? fieldsError(err.issues).error : err.code;
  return { status: err.code === 'reused' ? 422 : r.status, body: { error } };
}

/** One message per field of a schema failure (a union's branches fail together: said once). */
function schemaErrors(errors: AjvError[], data: unknown, context: string | undefined): GigasError {
  const byPath = new Map<string, AjvError[]>();
  for (const e of errors) {
    const path = e.instancePath.split('/').filter(Boolean);
    if (e.keyword === 'required') path.push(String(e.params.missingProperty));
    if (e.keyword === 'additionalProperties') path.push(String(e.params.additionalProperty));
    const key = path.filter((s) => !/^\d+$/.test(s)).pop() ?? context ?? 'body';
    byPath.set(key, [...(byPath.get(key) ?? []), e]);
  }
  const out: Record<string, string[]> = {};
  for (const [key, list] of byPath) {
    const value = (data as Record<string, unknown> | null | undefined)?.[key];
    out[key] = [message(list, context === 'querystring' && Array.isArray(value))];
  }
  const [first] = Object.entries(out);
  return { error: first ? `${first[0]} ${first[1][0]}` : 'is invalid', errors: out };
}

function message(list: AjvError[], repeated: boolean): string {
  if (repeated) return 'must be given only once';
  const has = (k: string) => list.find((e) => e.keyword === k);
  if (has('required')) return "can't be blank";
  const types = list.filter((e) => e.keyword === 'type').map((e) => String(e.params.type));
  const limit = has('maximum') ?? has('minimum');
  if (limit) return `must be ${limit.keyword === 'maximum' ? 'less' : 'greater'} than or equal to ${String(limit.params.limit)}`;
  const long = has('maxLength');
  if (long) return `is too long (maximum is ${String(long.params.limit)} characters)`;
  if (has('maxItems')) return `has too many items (maximum is ${String(has('maxItems')!.params.limit)})`;
  if (has('enum') || has('const')) return 'is not included in the list';
  if (has('additionalProperties')) return 'is not a known parameter';
  if (types.some((t) => t.includes('integer') || t.includes('number')) && !has('pattern')) return 'is not a number';
  if (types.length && types.every((t) => t.includes('boolean'))) return 'must be true or false';
  if (types.length && types.every((t) => t.includes('object'))) return 'must be an object';
  return 'is invalid';
}

export function gigasErrorHandler(err: FastifyError & { validation?: AjvError[]; validationContext?: string }, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof DomainError) {
    const r = renderGigasDomainError(err);
    if (r.retryAfter !== undefined) reply.header('retry-after', String(r.retryAfter));
    return reply.code(r.status).send(r.body);
  }
  if (err instanceof UnusableInput) {
    if (err.part === 'params') return reply.code(404).send({ error: 'Not found' });
    return reply.code(422).send({ error: `${err.field} must not contain NUL characters`, errors: { [err.field]: ['must not contain NUL characters'] } });
  }
  if (err.validation) {
    // A path segment outside its schema names nothing.
    if (err.validationContext === 'params') return reply.code(404).send({ error: 'Not found' });
    const data = err.validationContext === 'querystring' ? req.query : req.body;
    return reply.code(422).send(schemaErrors(err.validation, data, err.validationContext));
  }
  if (err.code === 'HANGAR_BAD_JSON') return reply.code(400).send({ error: 'The body is not valid JSON' });
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: 'The body is too large' });
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send({ error: 'Send JSON or a form (application/x-www-form-urlencoded)' });
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
  req.log.error({ err }, 'unhandled error');
  return reply.code(500).send({ error: 'Internal server error' });
}
