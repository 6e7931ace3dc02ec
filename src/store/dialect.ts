import { type Kysely, PostgresAdapter } from 'kysely';

export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * SELECT ... FOR UPDATE on PostgreSQL, where transactions run side by side at READ COMMITTED and a
 * row read then written can change in between. SQLite has no such clause and needs none: its one
 * connection runs one transaction at a time.
 */
export function forUpdate<Q extends { forUpdate(): Q }>(db: Kysely<any>, q: Q): Q {
  return isPostgres(db) ? q.forUpdate() : q;
}

/**
 * SELECT ... FOR KEY SHARE on PostgreSQL: what a foreign key's check takes on the row a new child points
 * at, taken before the insert, so a concurrent delete of that row waits for this transaction (or this
 * one waits for the delete, and then finds the row gone). SQLite runs one transaction at a time.
 */
export function forKeyShare<Q extends { forKeyShare(): Q }>(db: Kysely<any>, q: Q): Q {
  return isPostgres(db) ? q.forKeyShare() : q;
}

/**
 * PostgreSQL aborted the transaction because of others running beside it: deadlock_detected (two
 * transactions each waiting for a row the other holds) or serialization_failure. Nothing in the
 * request was wrong; the whole transaction can be run again. SQLite's SQLITE_BUSY is not one of these:
 * its busy_timeout already waits for the lock, and a BUSY after that is a real failure.
 */
export function transientConflict(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === '40P01' || code === '40001';
}

/**
 * A write a foreign key refused, or null. `missing`: the table of the row a new or changed row points at,
 * which is not there (deleted meanwhile); PostgreSQL names it, SQLite does not (null). `referencedFrom`:
 * the row being deleted is still pointed at from this table (a child was added meanwhile; PostgreSQL only:
 * SQLite runs one transaction at a time, so a delete there never meets a child added meanwhile).
 */
export function foreignKeyViolation(err: unknown): { missing: string | null } | { referencedFrom: string } | null {
  const e = err as { code?: string; detail?: string };
  if (e?.code === '23503') {
    const from = /is still referenced from table "([^"]+)"/.exec(e.detail ?? '')?.[1];
    if (from) return { referencedFrom: from };
    return { missing: /is not present in table "([^"]+)"/.exec(e.detail ?? '')?.[1] ?? null };
  }
  if (e?.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return { missing: null };
  return null;
}

/**
 * The unique key a failed write collided with, as `table(col, col)` on both stores, or null when the
 * error is not a unique violation. Two transactions can both find a name free and both insert it;
 * the store's constraint refuses the second, and the caller turns that into the 400 a user can act on.
 */
export function uniqueViolation(err: unknown): string | null {
  const e = err as { code?: string; table?: string; detail?: string; message?: string };
  if (e?.code === '23505') {
    const cols = /^Key \(([^)]*)\)=/.exec(e.detail ?? '')?.[1];
    return `${e.table}(${cols ?? ''})`;
  }
  if (e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const cols = /constraint failed: (.*)$/.exec(e.message ?? '')?.[1]?.split(', ') ?? [];
    const table = cols[0]?.split('.')[0] ?? '';
    return `${table}(${cols.map((c) => c.split('.').slice(1).join('.')).join(', ')})`;
  }
  return null;
}
