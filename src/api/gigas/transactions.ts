// The legacy queue status (gigas.md §3): `GET /transaction/<queue_token>/status` → `{"status": ...}`
// where the token is an operation's public id. Its states as Gigas words them: queued → pending,
// running → running, done → complete, failed → failed, cancelled → cancelled. One the caller may not
// read, or that is gone, is `{"error": "Transaction not found"}` (404), which pygigas counts as done.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../../core/context.js';
import { readableOperation } from '../../operations/view.js';
import { NoQuery } from '../parameters.js';
import { Closed } from '../responses.js';
import { gigas } from './schemas.js';

const STATUS: Record<string, string> = { queued: 'pending', running: 'running', done: 'complete', failed: 'failed', cancelled: 'cancelled' };
const TokenP = Type.Object({ queue_token: Type.String({ maxLength: 64 }) });
const Status = Closed({ status: Type.Union(Object.values(STATUS).map((s) => Type.Literal(s))) }, { $id: 'GigasTransactionStatus', description: 'Where the operation is' });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function transactionRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    app.get('/transaction/:queue_token/status', {
      schema: { tags: ['gigas'], summary: 'The status of an operation by its queue token (pending, running, complete, failed, cancelled)', response: gigas(Status), params: TokenP, querystring: NoQuery },
    }, async (req, reply) => {
      const op = UUID.test(req.params.queue_token) ? await readableOperation(h.db, req.principal, req.params.queue_token.toLowerCase()) : undefined;
      if (!op) return reply.code(404).send({ error: 'Transaction not found' });
      return { status: STATUS[op.state] ?? 'pending' };
    });
  };
}
