// Hot queries compiled once. Kysely builds and compiles a query on every run: for a short query
// that is ~3× SQLite's own work (BENCHMARKS.md), on every request's path. A query made with
// `compiled` is built once per SQL dialect with a marker in each argument's place; each run binds
// its arguments in those places and runs the same SQL (src/store/repos/views.ts does the same for
// the read model). Where the SQL depends on the kind of an argument (an id or a name), there is one
// compiled query per kind.
import { PostgresAdapter, type CompiledQuery, type QueryResult } from 'kysely';
import type { Db } from './repos/types.js';

/** Arguments are scalars: a list would change the SQL's number of placeholders from run to run. */
export type Scalar = string | number | null;

interface Compilable<R> { compile(): CompiledQuery<R> }

/** One compiled form: where each bound parameter comes from (an argument's index, or a constant the builder bound). */
interface Form<R> { query: CompiledQuery<R>; slots: ({ arg: number } | { value: unknown })[] }

/** A marker object, found again by identity among the compiled parameters. */
class Marker {
  constructor(readonly arg: number) {}
}

/**
 * `build(db, ...args)` → a function that runs that query with `args`, compiled once per dialect.
 * `build` must make the same SQL whatever the arguments: it receives markers, not the values.
 * A store with Kysely plugins (a test's statement recorder) builds and compiles every run, as Kysely
 * does, so that each plugin sees each query.
 */
export function compiled<A extends Scalar[], R>(build: (db: Db, ...args: A) => Compilable<R>): (db: Db, ...args: A) => Promise<QueryResult<R>> {
  const forms = new Map<'pg' | 'sqlite', Form<R>>();
  return async (db, ...args) => {
    const executor = db.getExecutor();
    if (executor.plugins.length) return db.executeQuery(build(db, ...args).compile());
    const key = executor.adapter instanceof PostgresAdapter ? 'pg' : 'sqlite';
    let form = forms.get(key);
    if (!form) {
      const markers = args.map((_, i) => new Marker(i)) as unknown as A;
      const query = build(db, ...markers).compile();
      const slots = query.parameters.map((p) => (p instanceof Marker ? { arg: p.arg } : { value: p }));
      const bound = new Set(slots.flatMap((s) => ('arg' in s ? [s.arg] : [])));
      if (bound.size !== args.length) throw new Error(`compiled query binds ${bound.size} of its ${args.length} arguments: ${query.sql}`);
      form = { query, slots };
      forms.set(key, form);
    }
    const parameters = form.slots.map((s) => ('arg' in s ? args[s.arg] : s.value));
    return db.executeQuery<R>({ ...form.query, parameters });
  };
}
