// A test-only dialect (issue 8: "a new dialect changes no existing core contract"). It is built only
// from the public dialect API (src/api/dialect.ts) and core functions, as Gigas or e24cloud will be:
// its own prefix, its own body parser (raw bytes kept for the signature), its own credential
// (HMAC-SHA256 with a key pair whose secret Hangar keeps sealed), its own error shape, public ids
// (UUIDs) only, and VM create / power / operations through core, never through BigV's routes.
import crypto from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../../src/core/context.js';
import { installDialect, keepRawBody, type CredentialExtractor, type Dialect } from '../../src/api/dialect.js';
import { authorizationOf } from '../../src/api/wire.js';
import { signedPrincipal } from '../../src/core/auth.js';
import { DomainError, notFound, unauthorized, type ErrorCode } from '../../src/core/errors.js';
import { resolveAccount, resolveGroup, resolveVmById } from '../../src/core/resolve.js';
import { createVm } from '../../src/core/vms/create.js';
import { powerVm } from '../../src/core/vms/power.js';
import { loadVmView, type VmView } from '../../src/core/views.js';
import { presentOperations, readableOperation } from '../../src/operations/view.js';

export const TOY_PREFIX = '/toy/v1';
export const TOY_SCHEME = 'TOY-HMAC-SHA256';

// --- the credential -------------------------------------------------------------------------------

/** What the toy signs: method, the URL as sent (before any rewrite), the date, and the body's SHA-256. */
export function toyStringToSign(method: string, url: string, date: string, body: Buffer | string): string {
  return [method.toUpperCase(), url, date, crypto.createHash('sha256').update(body).digest('hex')].join('\n');
}

export function toySignature(secret: string, method: string, url: string, date: string, body: Buffer | string): string {
  return crypto.createHmac('sha256', secret).update(toyStringToSign(method, url, date, body)).digest('hex');
}

/** `Authorization: TOY-HMAC-SHA256 Credential=<access key id>, Signature=<hex>` with `X-Toy-Date: <epoch ms>`. */
const toyCredentials: CredentialExtractor = async (h: Hangar, req: FastifyRequest) => {
  const m = new RegExp(`^${TOY_SCHEME} Credential=([A-Za-z0-9]{1,64}), Signature=([0-9a-f]{64})$`).exec(authorizationOf(req) ?? '');
  const date = req.headers['x-toy-date'];
  if (!m || typeof date !== 'string') throw unauthorized('unsigned');
  const given = Buffer.from(m[2]!, 'hex');
  return signedPrincipal(h, {
    accessKeyId: m[1]!,
    date: /^[0-9]{1,15}$/.test(date) ? Number(date) : NaN,
    nonce: m[2]!,
    verify: (secret) => crypto.timingSafeEqual(given, Buffer.from(toySignature(secret, req.method, req.originalUrl, date, req.rawBody ?? ''), 'hex')),
  }, req.ip);
};

// --- the error shape ------------------------------------------------------------------------------

/** The toy's own statuses for core's error codes (a real dialect picks its own the same way). */
const STATUS: Partial<Record<ErrorCode, number>> = {
  not_found: 404, forbidden: 403, unauthorized: 401, throttled: 429, conflict: 409, precondition_failed: 412, unavailable: 503, reused: 422,
};

/** The one place the toy reads core's errors: a status, a code and a field path. */
export function toyProblem(err: FastifyError & { validation?: { instancePath: string; params: Record<string, unknown>; keyword: string }[]; validationContext?: string }): { status: number; code: string; field?: string } {
  if (err instanceof DomainError) return { status: STATUS[err.code] ?? 400, code: err.code, ...(err.field !== undefined ? { field: err.field } : {}) };
  if (err.validation) {
    if (err.validationContext === 'params') return { status: 404, code: 'not_found' };
    const first = err.validation[0]!;
    const path = first.instancePath.split('/').filter(Boolean);
    if (first.keyword === 'required') path.push(String(first.params.missingProperty));
    return { status: 400, code: 'invalid', field: path.join('.') };
  }
  if (err.code === 'TOY_BAD_JSON') return { status: 400, code: 'bad_json' };
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, code: 'unsupported_media_type' };
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return { status: err.statusCode, code: 'bad_request' };
  return { status: 500, code: 'internal' };
}

function renderToyError(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const p = toyProblem(err);
  if (p.status === 500) req.log.error({ err }, 'toy dialect error');
  if (err instanceof DomainError && err.code === 'throttled') reply.header('retry-after', String(err.params.retryAfter));
  return reply.code(p.status).send({ ok: false, problem: { code: p.code, ...(p.field !== undefined ? { field: p.field } : {}) } });
}

// --- the routes -----------------------------------------------------------------------------------

const Uuid = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const IdP = Type.Object({ id: Uuid });
const CreateB = Type.Object({
  account: Uuid, group: Uuid, name: Type.String({ maxLength: 63 }),
  cores: Type.Integer(), memory_mib: Type.Integer(), disc_mib: Type.Integer(), image: Type.String(), root_password: Type.String(),
}, { additionalProperties: false });
const PowerB = Type.Object({ on: Type.Boolean() }, { additionalProperties: false });

function server(v: VmView) {
  return { id: v.uuid, name: v.row.name, power: v.row.power_on ? 'on' : 'off', state: v.row.run_state };
}

function toyJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw Object.assign(new Error('not JSON'), { statusCode: 400, code: 'TOY_BAD_JSON' });
  }
}

export function toyDialect(): Dialect {
  return {
    name: 'toy',
    prefix: TOY_PREFIX,
    refusedBodies: { notFound: { ok: false, problem: { code: 'not_found' } }, badRequest: { ok: false, problem: { code: 'bad_request' } } },
    plugin: (h) => async (plain) => {
      const app = plain.withTypeProvider<TypeBoxTypeProvider>();
      keepRawBody(app, 'application/json', toyJson);
      installDialect(app, h, {
        credentials: toyCredentials, credentialsAfterBody: true, renderError: renderToyError,
        notFoundBody: { ok: false, problem: { code: 'not_found' } },
      });

      app.post('/servers', { schema: { body: CreateB } }, async (req, reply) => {
        const b = req.body;
        const account = await resolveAccount(h.db, req.principal, b.account);
        const group = await resolveGroup(h.db, req.principal, account, b.group);
        // The toy's words translated into core's create (its URL policy is BigV's: it mounts no ISOs).
        const created = await createVm(h, req.principal, account, group, {
          name: b.name, cores: b.cores, memoryMiB: b.memory_mib, powerOn: false,
          discs: [{ label: 'disc-1', grade: 'sata', sizeMiB: b.disc_mib }],
          image: { distribution: b.image, rootPassword: b.root_password },
        }, 'bigv');
        return reply.code(202).send({ ok: true, server: server(created.view), operation: created.operation });
      });

      app.get('/servers/:id', { schema: { params: IdP } }, async (req) => {
        const at = await resolveVmById(h.db, req.principal, req.params.id, { includeDeleted: false });
        return { ok: true, server: server(await loadVmView(h.db, h.config.clusterDomain, at.vm.id)) };
      });

      app.post('/servers/:id/power', { schema: { params: IdP, body: PowerB } }, async (req) => {
        const at = await resolveVmById(h.db, req.principal, req.params.id, { includeDeleted: false, forChange: true });
        const operation = await powerVm(h, req.principal, at, { intent: req.body.on ? 'start' : 'stop' });
        return { ok: true, server: server(await loadVmView(h.db, h.config.clusterDomain, at.vm.id)), operation };
      });

      app.get('/operations/:id', { schema: { params: IdP } }, async (req) => {
        const op = await readableOperation(h.db, req.principal, req.params.id);
        if (!op) throw notFound('operation');
        const [view] = await presentOperations(h.db, [op]);
        return { ok: true, operation: { id: view!.id, kind: view!.kind, state: view!.state, error: view!.error, steps: view!.steps.map((s) => ({ id: s.id, kind: s.kind, state: s.state })) } };
      });
    },
  };
}
