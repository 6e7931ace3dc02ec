// Failed credential checks, counted by rate-limiter-flexible (src/store/counters.ts): its own table
// layout (key, points, expire in epoch ms), created here so that every brain finds it ready.
import type { Kysely } from 'kysely';
import { isPostgres } from '../dialect.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  await db.schema.createTable('login_failures')
    .addColumn('key', pg ? 'varchar(255)' : 'text', (c) => c.primaryKey())
    .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expire', pg ? 'bigint' : 'integer')
    .execute();
}
