// Response contracts shared by every dialect's routes, and Hangar's own answers (operations, audit).
// Declared as each route's `schema.response`: @fastify/swagger documents them, the test suites hold
// every answer to them (test/helpers.ts), and they never filter an answer: the server serializes
// with JSON.stringify (app.ts), not fast-json-stringify, so a field a schema forgot still goes out.
// Objects are closed (`additionalProperties: false`) so that a new field must be declared here.
import { Type, type TObject, type TProperties, type TSchema } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** An object of exactly these fields. A `$id` names it once in the OpenAPI document (a component)
 *  wherever it appears, instead of copying it into every route that answers it. */
export const Closed = <P extends TProperties>(props: P, opts: { $id?: string; description?: string } = {}): TObject<P> =>
  Type.Object(props, { additionalProperties: false, ...opts });

export const Nullable = <S extends TSchema>(s: S) => Type.Union([s, Type.Null()]);
export const Str = Type.String();
export const Int = Type.Integer();
export const Bool = Type.Boolean();
export const NStr = Nullable(Str);
export const NInt = Nullable(Int);

/** A 204's (empty) body. */
export const NoContent = Type.Null({ description: 'No content' });

/**
 * A route's responses: the success status's schema, and any error statuses (`4xx`). Typed loosely on
 * purpose: the TypeBox type provider would otherwise hold handlers' return types to them, and the
 * presenters build some answers field by field (Record<string, unknown>). The contract is checked at
 * run time instead, on every answer the test suites get.
 */
export function responses(r: Record<string, TSchema>): Record<string, unknown> {
  return r;
}

/** An operation (src/operations/view.ts), as GET /operations/{id} and the event stream give it. */
const OperationState = Type.Union(['queued', 'running', 'done', 'failed', 'cancelled'].map((s) => Type.Literal(s)));
export const Operation = Closed({
  id: Str, kind: Str,
  state: OperationState, progress: Nullable(Type.Number()), error: NStr,
  target: Nullable(Closed({ type: Type.Literal('virtual_machine'), id: Int })),
  dialect: NStr, requester_id: NInt,
  created_at: Str, started_at: NStr, finished_at: NStr, deadline: NStr,
  parent: NStr,
  steps: Type.Array(Closed({ id: Str, kind: Str, state: OperationState, error: NStr })),
}, { $id: 'Operation', description: 'An operation' });

/** An audit row (src/core/audit.ts). */
export const AuditRow = Closed({
  id: Str, at: Str, user_id: NInt, impersonator_id: NInt, api_key_id: NInt,
  method: Str, route: Str, dialect: Str, status: Int,
  account: NStr, virtual_machine: NStr, operation: NStr, address: NStr,
}, { $id: 'AuditRow', description: 'An audit row' });

/** What a test is told of an answer that breaks its route's contract. */
export interface ResponseCheck { req: FastifyRequest; reply: FastifyReply; payload: unknown }

/**
 * Test seam: set by the test harness before any app is built; buildApp then installs a hook handing
 * it every answer (with its route's schema on `reply.routeOptions`). Unset (production), no hook.
 */
export const responseContract: { check?: (app: unknown, answer: ResponseCheck) => void } = {};
