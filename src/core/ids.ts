// The one rule for reading a path segment, in every dialect: a UUID is a public id, all digits an
// integer id, anything else a name. Names may therefore never look like either (`checkNotId`).
import { refused } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DIGITS = /^[0-9]+$/;

export type Ref = { id: number } | { uuid: string } | { name: string };

/** The row id an all-digit segment names; 0, which names no row, when it is past the store's 32-bit ids. */
function rowId(segment: string): number {
  const n = Number(segment);
  return Number.isSafeInteger(n) && n <= 2147483647 ? n : 0;
}

/** What a segment names. Public ids are stored in lower case and matched in any case. */
export function readRef(segment: string): Ref {
  if (UUID.test(segment)) return { uuid: segment.toLowerCase() };
  if (DIGITS.test(segment)) return { id: rowId(segment) };
  return { name: segment };
}

/** Why (a reason of an `invalid` issue) a name or label cannot be used: the rule would read it as an id, so it could never name anything; or null. */
export function idShapeError(value: string): string | null {
  if (DIGITS.test(value)) return 'looks_like_id';
  if (UUID.test(value)) return 'looks_like_uuid';
  return null;
}

/** Refuses (400 on `field`) a name or label the rule would read as an id. */
export function checkNotId(field: string, value: string): string {
  const err = idShapeError(value);
  if (err) throw refused(field, err);
  return value;
}

/** Anything with `where(column, '=', value)`: Kysely's select, update and delete builders. The column names
 *  are given as plain strings, so the compiler does not check them: test/core/id-rule.test.ts reaches every one. */
interface Filterable<Q> { where(column: any, op: '=', value: any): Q }

/**
 * Narrows a query to the row a segment names: `cols.id`, `cols.uuid`, or `cols.name` (null when the
 * rows have no name: a name then matches nothing). `lower`: names are DNS labels, compared in lower case.
 */
export function whereRef<Q extends Filterable<Q>>(
  q: Q, segment: string, cols: { id: string; uuid: string; name: string | null; lower?: boolean },
): Q {
  const ref = readRef(segment);
  if ('id' in ref) return q.where(cols.id, '=', ref.id);
  if ('uuid' in ref) return q.where(cols.uuid, '=', ref.uuid);
  if (cols.name === null) return q.where(cols.id, '=', 0);
  return q.where(cols.name, '=', cols.lower ? ref.name.toLowerCase() : ref.name);
}

/** A segment as a compiled query binds it (store/compiled.ts): the column kind it is compared with
 *  (the query's shape) and the value. Names compared in lower case are given in lower case. */
export function refValue(segment: string, lower = false): { kind: 'id' | 'uuid' | 'name'; value: string | number } {
  const ref = readRef(segment);
  if ('id' in ref) return { kind: 'id', value: ref.id };
  if ('uuid' in ref) return { kind: 'uuid', value: ref.uuid };
  return { kind: 'name', value: lower ? ref.name.toLowerCase() : ref.name };
}

/** Columns of rows reached only by id or public id (no name): a name names nothing. */
export const IDS_ONLY = { id: 'id', uuid: 'uuid', name: null };

/** The same rule over rows already loaded (small per-user lists: API keys, NICs of one VM). */
export function matchesRef(row: { id: number; uuid: string }, name: string | null, segment: string): boolean {
  const ref = readRef(segment);
  if ('id' in ref) return row.id === ref.id;
  if ('uuid' in ref) return row.uuid === ref.uuid;
  return name !== null && name === ref.name;
}
