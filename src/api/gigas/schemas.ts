// The schemas shared by Gigas' routes: its path parameters, its input scalars (which take a number or
// its string, a boolean or its word), the error body, and the pagination of every list.
import { Type, type TSchema } from 'typebox';
import type { FastifyReply } from 'fastify';
import { Closed, responses, Str } from '../responses.js';

/** An id in a path: digits (Gigas' ids) or a public id; anything longer names nothing (404). */
const PathId = Type.String({ maxLength: 64 });
export const AccountP = Type.Object({ account_id: PathId });
export const VmP = Type.Object({ account_id: PathId, virtual_machine_id: PathId });

export const GInt = Type.Union([Type.Integer(), Type.String({ pattern: '^-?[0-9]{1,9}$' })], { description: 'an integer (a JSON number or a string of digits)' });
export const GBool = Type.Union([Type.Boolean(), Type.Integer({ minimum: 0, maximum: 1 }), Type.String({ pattern: '^(true|false|True|False|1|0)$' })], { description: 'true or false (also "true"/"false", 1/0)' });
export const GStr = (maxLength = 255) => Type.String({ maxLength });
/** An id in a body: a number or a string of at most 64 characters. */
export const GId = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1, maxLength: 64 })], { description: 'an id (a number or a string)' });
/** A form field that may be repeated (a list in JSON). */
export const Many = <S extends TSchema>(s: S) => Type.Union([s, Type.Array(s, { maxItems: 16 })]);

export const GigasError = Closed({ error: Str, errors: Type.Optional(Type.Record(Type.String(), Type.Array(Str))) }, { $id: 'GigasError', description: 'A refusal: a sentence, and the refused fields\' messages' });

/** A route's responses: its success and the 4xx in Gigas' shape. */
export function gigas(schema: TSchema, status = 200): Record<string, unknown> {
  return responses({ [status]: schema, '4xx': GigasError });
}

/** A 202's body of an act with no resource to show: its operation. */
export const Queued = Closed({ queue_token: Type.Union([Str, Type.Null()]) }, { $id: 'GigasQueued', description: 'The operation (queue token) of the act' });

/** Every list takes `offset` and `limit` (gigas.md §3 *Pagination*). */
export const PageQ = {
  offset: Type.Optional(Type.String({ pattern: '^[0-9]{1,9}$', description: 'how many to skip' })),
  limit: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,8}$', description: 'at most this many' })),
};

/** A page of `items`, with gigas.md's headers X-Total, X-Total-Pages, X-Per-Page and X-Page. */
export function page<T>(reply: FastifyReply, items: T[], q: { offset?: string; limit?: string }): T[] {
  const offset = q.offset === undefined ? 0 : Number(q.offset);
  const perPage = q.limit === undefined ? Math.max(items.length, 1) : Number(q.limit);
  reply.header('x-total', String(items.length));
  reply.header('x-per-page', String(perPage));
  reply.header('x-page', String(Math.floor(offset / perPage) + 1));
  reply.header('x-total-pages', String(Math.max(1, Math.ceil(items.length / perPage))));
  return items.slice(offset, offset + perPage);
}
