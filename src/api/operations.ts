// Hangar's own operation routes (docs/operations.md): read one by its public id, waiting for it to
// end with `?wait=SECONDS`, or list those on a VM. Every dialect's async answer points here
// (BigV: `Location: /operations/<id>`). A caller sees only operations on what it may read; any
// other is absent (404).
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../core/context.js';
import { authenticate } from '../core/auth.js';
import { notFound } from '../core/errors.js';
import { resolveVmById } from '../core/resolve.js';
import { ended, operationsOn, presentOperations, readableOperation, readableOperations } from '../operations/view.js';
import { bigvErrorHandler } from './bigv/errors.js';
import { NoParams } from './parameters.js';
import type { Principal } from '../core/principal.js';

export const operationUrl = (uuid: string) => `/operations/${uuid}`;

const OpP = Type.Object({ id: Type.String({ pattern: '^[0-9a-fA-F-]{36}$' }) });
const WaitQ = Type.Object({ wait: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: 'seconds to wait for the operation to end (at most HANGAR_OPERATION_WAIT_MAX)' })) });
const ListQ = Type.Object({ vm_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: 'only operations on this virtual machine' })) });

const LIST_LIMIT = 100;
const POLL_MS = 100;

export function operationRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    app.setErrorHandler(bigvErrorHandler);
    app.decorateRequest('principal', null as unknown as Principal);
    app.addHook('onRequest', async (req: FastifyRequest) => {
      req.principal = await authenticate(h, req.headers.authorization, req.ip);
    });
    const tags = ['hangar'];

    app.get('/operations/:id', { schema: { tags, summary: 'An operation by its public id; ?wait=SECONDS waits for it to end', params: OpP, querystring: WaitQ } }, async (req) => {
      const uuid = req.params.id.toLowerCase();
      let op = await readableOperation(h.db, req.principal, uuid);
      if (!op) throw notFound('operation');
      const until = Date.now() + Math.min(Number(req.query.wait ?? 0), h.config.operationWaitMax) * 1000;
      while (!ended(op) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, Math.min(POLL_MS, until - Date.now())));
        op = (await h.db.selectFrom('operations').selectAll().where('id', '=', op.id).executeTakeFirst()) ?? op;
      }
      return (await presentOperations(h.db, [op]))[0];
    });

    app.get('/operations', { schema: { tags, summary: 'Operations you may read, newest first (with vm_id: that VM\'s)', params: NoParams, querystring: ListQ } }, async (req) => {
      const ops = req.query.vm_id === undefined
        ? await readableOperations(h.db, req.principal, LIST_LIMIT)
        : await operationsOn(h.db, (await resolveVmById(h.db, req.principal, Number(req.query.vm_id), { includeDeleted: true })).vm.id, LIST_LIMIT);
      return presentOperations(h.db, ops);
    });
  };
}
