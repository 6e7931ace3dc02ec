// GET /events: a Server-Sent Events stream of operation changes (docs/operations.md), each caller
// seeing only operations it may read. The stream reads the store (not this process's memory), so
// it shows changes made by any brain or head sharing the store: it reads when a notification says
// operations changed (store/notify.ts: LISTEN/NOTIFY on PostgreSQL), and every SAFETY_POLL_MS in
// case one was lost (a LISTEN connection being reopened).
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { Hangar } from '../core/context.js';
import { bearerCredentials } from './credentials/bearer.js';
import { installDialect } from './dialect.js';
import { presentOperations, visibleOn } from '../operations/view.js';
import { changedSince } from '../store/repos/operations.js';
import { onOperationsChanged } from '../store/notify.js';
import { bigvErrorHandler } from './bigv/errors.js';
import { NoParams } from './parameters.js';
import { bigv } from './bigv/responses.js';
import { DomainError } from '../core/errors.js';

const EventsQ = Type.Object({
  max_seconds: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$', description: 'end the stream after this many seconds (default: never)' })),
});

const SAFETY_POLL_MS = 5000;
const HEARTBEAT_MS = 15_000;
/** Streams one user may hold open at once on a brain (its sessions and API keys together): each
 *  reads the store at every change of any operation, so this bounds what one caller costs. */
export const EVENT_STREAMS_PER_USER = 8;
const openStreams = new WeakMap<Hangar, Map<number, number>>();

export function eventRoutes(h: Hangar): FastifyPluginAsync {
  return async (app) => {
    installDialect(app, h, { credentials: bearerCredentials, renderError: bigvErrorHandler });

    app.get('/events', {
      schema: {
        tags: ['hangar'], summary: 'Server-Sent Events: `operation` events, one per change of an operation you may read',
        params: NoParams, querystring: EventsQ, produces: ['text/event-stream'], response: bigv(Type.String({ description: 'text/event-stream: `operation` events, each an operation as GET /operations/{id} gives it' })),
      },
    }, async (req, reply) => {
      let p = req.principal;
      const { max_seconds: maxSeconds } = req.query as { max_seconds?: string };
      const streams = openStreams.get(h) ?? new Map<number, number>();
      openStreams.set(h, streams);
      const held = streams.get(p.userId) ?? 0;
      if (held >= EVENT_STREAMS_PER_USER) {
        throw new DomainError({ code: 'throttled', params: { reason: 'event_streams', max: EVENT_STREAMS_PER_USER, retryAfter: SAFETY_POLL_MS / 1000 } });
      }
      streams.set(p.userId, held + 1);
      const userId = p.userId;
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      reply.raw.write(': operations\n\n');
      // What was last sent of each operation changed since `since`: a lease renewal alone is no event.
      let since = h.now();
      const sent = new Map<number, string>();
      let busy = false;
      let again = false;
      const poll = async (): Promise<void> => {
        if (busy) {
          again = true; // read once more when this read ends: the change may have come after it began
          return;
        }
        busy = true;
        try {
          // The credential is proved again at each read (the principal cache, which revocations
          // clear): a stream never outlives the session, key or privileges that opened it.
          try {
            p = await bearerCredentials(h, req);
          } catch {
            reply.raw.end();
            return;
          }
          const rows = await changedSince(h.db, since);
          for (const row of rows) {
            if (reply.raw.writableEnded) return;
            const signature = `${row.state}|${row.progress}|${row.error}`;
            if (sent.get(row.id) === signature) continue;
            sent.set(row.id, signature);
            if (!(await visibleOn(h.db, p, row))) continue;
            const [view] = await presentOperations(h.db, [row]);
            reply.raw.write(`event: operation\nid: ${row.uuid}\ndata: ${JSON.stringify(view)}\n\n`);
          }
          const newest = rows.at(-1)?.updated_at;
          if (newest !== undefined && newest > since) {
            since = newest;
            for (const row of rows) if (row.updated_at < since) sent.delete(row.id);
          }
        } catch (err) {
          req.log.error({ err }, 'event stream poll failed');
        } finally {
          busy = false;
        }
        if (again && !reply.raw.writableEnded) {
          again = false;
          await poll();
        }
      };
      const stopListening = onOperationsChanged(h.db, () => void poll());
      const timer = setInterval(() => void poll(), SAFETY_POLL_MS);
      const heartbeat = setInterval(() => reply.raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
      const end = maxSeconds === undefined ? null : setTimeout(() => void poll().then(() => reply.raw.end()), Number(maxSeconds) * 1000);
      reply.raw.on('close', () => {
        const left = (streams.get(userId) ?? 1) - 1;
        if (left > 0) streams.set(userId, left);
        else streams.delete(userId);
        stopListening();
        clearInterval(timer);
        clearInterval(heartbeat);
        if (end) clearTimeout(end);
      });
    });
  };
}
