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
