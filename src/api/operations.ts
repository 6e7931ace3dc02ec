// Hangar's own operation routes (docs/operations.md): read one by its public id, waiting for it to
// end with `?wait=SECONDS`, list those on a VM, or cancel one (Incus' DELETE). Every dialect's async
// answer points here (BigV: `Location: /operations/<id>`). A caller sees only operations on what it
// may read; any other is absent (404).
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../core/context.js';
import { bearerCredentials } from './credentials/bearer.js';
import { installDialect } from './dialect.js';
import { conflict, forbidden, notFound } from '../core/errors.js';
import { resolveVmById } from '../core/resolve.js';
import { cancellableBy, ended, operationsOn, presentOperations, readableOperation, readableOperations } from '../operations/view.js';
import { cancelOperation, getOperation } from '../operations/queue.js';
import { onOperationsChanged } from '../store/notify.js';
import { bigvErrorHandler } from './bigv/errors.js';
import { auditRoutes, installAudit } from './audit.js';
import { installIdempotency } from './idempotency.js';
import { NoParams, NoQuery } from './parameters.js';
import { Operation } from './responses.js';
import { bigv, listOf } from './bigv/responses.js';

export const operationUrl = (uuid: string) => `/operations/${uuid}`;

const OpP = Type.Object({ id: Type.String({ pattern: '^[0-9a-fA-F-]{36}$' }) });
const WaitQ = Type.Object({ wait: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: 'seconds to wait for the operation to end (at most HANGAR_OPERATION_WAIT_MAX)' })) });
const ListQ = Type.Object({ vm_id: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: 'only operations on this virtual machine' })) });

const LIST_LIMIT = 100;
/** A wait reads the operation again when a notification says operations changed, and at least this often. */
const SAFETY_POLL_MS = 1000;

export function operationRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    installDialect(app, h, { credentials: bearerCredentials, renderError: bigvErrorHandler });
    installIdempotency(app, h);
    installAudit(app, h, 'hangar');
    auditRoutes(app, h);
    const tags = ['hangar'];

    app.get('/operations/:id', { schema: { tags, summary: 'An operation by its public id; ?wait=SECONDS waits for it to end', response: bigv(Operation), params: OpP, querystring: WaitQ } }, async (req) => {
      const uuid = req.params.id.toLowerCase();
      let op = await readableOperation(h.db, req.principal, uuid);
      if (!op) throw notFound('operation');
      const until = Date.now() + Math.min(Number(req.query.wait ?? 0), h.config.operationWaitMax) * 1000;
      if (!ended(op) && Date.now() < until) {
        let wake: () => void = () => {};
        const stop = onOperationsChanged(h.db, () => wake());
        try {
          // Read again now that we listen: it may have ended between the first read and subscribing.
          op = (await getOperation(h.db, op.id)) ?? op;
          while (!ended(op) && Date.now() < until) {
            await new Promise<void>((r) => {
              const timer = setTimeout(r, Math.min(SAFETY_POLL_MS, until - Date.now()));
              wake = () => { clearTimeout(timer); r(); };
            });
            op = (await getOperation(h.db, op.id)) ?? op;
          }
        } finally {
          stop();
        }
      }
      return (await presentOperations(h.db, [op]))[0];
    });

    app.get('/operations', { schema: { tags, summary: 'Operations you may read, newest first (with vm_id: that VM\'s)', response: bigv(listOf(Operation)), params: NoParams, querystring: ListQ } }, async (req) => {
      const ops = req.query.vm_id === undefined
        ? await readableOperations(h.db, req.principal, LIST_LIMIT)
        : await operationsOn(h.db, (await resolveVmById(h.db, req.principal, Number(req.query.vm_id), { includeDeleted: true })).vm.id, LIST_LIMIT);
      return presentOperations(h.db, ops);
    });

    app.delete('/operations/:id', {
      schema: { tags, summary: 'Cancel a queued operation (an intent with its steps); 409 when it runs, has ended or cannot be cancelled', response: bigv(Operation), params: OpP, querystring: NoQuery },
    }, async (req) => {
      const op = await readableOperation(h.db, req.principal, req.params.id.toLowerCase());
      if (!op) throw notFound('operation');
      if (!(await cancellableBy(h.db, req.principal, op))) throw forbidden('cancel_operation');
      const outcome = await cancelOperation(h.db, op.id, h.now());
      if ('refused' in outcome) throw conflict(`cancel_${outcome.refused}`, op.uuid);
      return (await presentOperations(h.db, [(await getOperation(h.db, op.id))!]))[0];
    });
  };
}
