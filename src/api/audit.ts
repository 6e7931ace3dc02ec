// The audit's HTTP side (docs/audit.md): the hook each dialect's plugin installs, which writes one
// row per mutating request after its answer has gone (never delaying or failing it), and GET /audit.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../core/context.js';
import { tokenHash } from '../core/auth.js';
import { readAudit, recordAudit, type AuditQuery } from '../core/audit.js';
import { refused } from '../core/errors.js';
import { readRef } from '../core/ids.js';
import { impersonatorOf, targetsByPath, targetsOfOperation, targetsOfVm } from '../store/repos/audit.js';
import { NoParams, QueryRef } from './parameters.js';
import { AuditRow } from './responses.js';
import { bigv, listOf } from './bigv/responses.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const OPERATION = /^\/operations\/([0-9a-f-]{36})$/;

/** Install on a dialect's plugin, after its credential hook; `dialect` is what the rows say. */
export function installAudit(app: FastifyInstance, h: Hangar, dialect: string): void {
  app.addHook('onResponse', async (req, reply) => {
    if (READS.has(req.method)) return;
    const log = req.log;
    void audit(h, factsOf(dialect, req, reply, h.now())).catch((err) => log.error({ err }, 'audit row not written'));
  });
}

/** What a row needs from the request, read at once: the lookups that follow wait their turn on the
 *  store, and hold these few values meanwhile, not the request and its reply. */
interface Facts {
  at: number; dialect: string; method: string; route: string; status: number; address: string;
  userId: number | null; apiKeyId: number | null; impersonatedBy: string | null;
  operation: string | null; acc?: string; grp?: string; vm?: string; vmId?: string;
}

function factsOf(dialect: string, req: FastifyRequest, reply: FastifyReply, at: number): Facts {
  const p = req.principal as FastifyRequest['principal'] | null;
  const params = (req.params ?? {}) as Record<string, string | undefined>;
  const route = req.routeOptions.url ?? '(no route)';
  const operation = OPERATION.exec(String(reply.getHeader('location') ?? ''))?.[1]
    ?? (route.startsWith('/operations/') && params.id ? params.id.toLowerCase() : null);
  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  return {
    at, dialect, method: req.method, route, status: reply.statusCode, address: req.ip,
    userId: p?.userId ?? null, apiKeyId: p?.apiKeyId ?? null,
    impersonatedBy: p?.factors.includes('impersonated') && bearer ? tokenHash(bearer) : null,
    operation, acc: params.acc, grp: params.grp, vm: params.vm,
    vmId: route === '/virtual_machines/:id' ? params.id : undefined,
  };
}

async function audit(h: Hangar, f: Facts): Promise<void> {
  const targets = (f.operation ? await targetsOfOperation(h.db, f.operation) : null)
    ?? (f.acc !== undefined ? await targetsByPath(h.db, f.acc, f.grp, f.vm)
      : f.vmId !== undefined ? await targetsOfVm(h.db, f.vmId) : { account: null, vm: null });
  const impersonatorId = f.impersonatedBy ? await impersonatorOf(h.db, f.impersonatedBy) : null;
  recordAudit(h, {
    at: f.at, userId: f.userId, impersonatorId, apiKeyId: f.apiKeyId,
    method: f.method, route: f.route, dialect: f.dialect, status: f.status,
    accountUuid: targets.account, vmUuid: targets.vm, operationUuid: f.operation, address: f.address,
  });
}

const IdOrUuid = Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9A-Za-z-]+$' });
const AuditQ = Type.Object({
  account: Type.Optional({ ...QueryRef, description: 'only rows about this account (name, id or public id)' }),
  virtual_machine: Type.Optional({ ...IdOrUuid, description: 'only rows about this virtual machine (id or public id)' }),
  user_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: 'only rows of this user\'s requests' })),
  operation: Type.Optional({ ...IdOrUuid, description: 'only the row of the request that started (or cancelled) this operation (public id)' }),
  dialect: Type.Optional(Type.String({ pattern: '^[a-z0-9]{1,16}$', description: 'only rows of this dialect (bigv, hangar, ...)' })),
  since: Type.Optional(Type.String({ maxLength: 40, description: 'only rows at or after this time (ISO 8601)' })),
  until: Type.Optional(Type.String({ maxLength: 40, description: 'only rows before this time (ISO 8601)' })),
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$', description: 'at most this many rows (default 100, at most 1000)' })),
});

function time(field: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw refused(field, 'not_a_time');
  return ms;
}

/** GET /audit, on a plugin whose requests carry a principal. */
export function auditRoutes(plain: FastifyInstance, h: Hangar): void {
  const app = plain.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/audit', {
    schema: { tags: ['hangar'], summary: 'Audit rows of mutating requests, newest first (cluster admins: all; account admins: their accounts\')', response: bigv(listOf(AuditRow)), params: NoParams, querystring: AuditQ },
  }, async (req) => {
    const q = req.query;
    // What names nothing matches no row ('').
    const account = q.account === undefined ? undefined : (await targetsByPath(h.db, q.account)).account ?? '';
    // A public id is taken as given (its VM may be purged since); an id names a VM that still exists.
    const vm = q.virtual_machine === undefined ? undefined
      : 'uuid' in readRef(q.virtual_machine) ? q.virtual_machine.toLowerCase() : (await targetsOfVm(h.db, q.virtual_machine)).vm ?? '';
    const query: AuditQuery = {
      accountUuid: account, vmUuid: vm, operationUuid: q.operation?.toLowerCase(),
      userId: q.user_id === undefined ? undefined : Number(q.user_id), dialect: q.dialect,
      since: time('since', q.since), until: time('until', q.until), limit: q.limit === undefined ? 100 : Number(q.limit),
    };
    return readAudit(h, req.principal, query);
  });
}
