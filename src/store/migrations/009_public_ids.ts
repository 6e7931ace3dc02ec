// A public id (UUID v4) beside the integer id of every entity a dialect can name (issue 8): e24cloud
// shows UUIDs, and random ids cannot be enumerated. Existing rows get one here; every insert sets one.
// Operations get theirs with the operations model, addresses with migration 025.
import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../dialect.js';

export const PUBLIC_ID_TABLES = [
  'accounts', 'groups', 'vms', 'discs', 'nics', 'users', 'privileges', 'api_keys', 'backups', 'backup_schedules', 'invitations',
] as const;

const BATCH = 500;

export async function up(db: Kysely<any>): Promise<void> {
  for (const table of PUBLIC_ID_TABLES) await addPublicIds(db, table);
}

/** A unique, required `uuid` column on `table`, filled for the rows already there (also migration 025). */
export async function addPublicIds(db: Kysely<any>, table: string): Promise<void> {
  await db.schema.alterTable(table).addColumn('uuid', 'text').execute();
  const ids = (await db.selectFrom(table).select('id').orderBy('id').execute()).map((r) => r.id as number);
  for (let i = 0; i < ids.length; i += BATCH) {
    const chunk = ids.slice(i, i + BATCH);
    const cases = sql.join(chunk.map((id) => sql`WHEN ${id} THEN ${randomUUID()}`), sql` `);
    await sql`UPDATE ${sql.table(table)} SET uuid = CASE id ${cases} END WHERE id IN (${sql.join(chunk)})`.execute(db);
  }
  await db.schema.createIndex(`${table}_uuid`).on(table).column('uuid').unique().execute();
  if (isPostgres(db)) {
    await sql`ALTER TABLE ${sql.table(table)} ALTER COLUMN uuid SET NOT NULL`.execute(db);
  } else {
    // SQLite cannot add NOT NULL to an existing column without rebuilding the table: triggers refuse a null instead.
    for (const [when, event] of [['insert', 'INSERT'], ['update', 'UPDATE OF uuid']] as const) {
      await sql.raw(`CREATE TRIGGER ${table}_uuid_${when} BEFORE ${event} ON ${table} WHEN NEW.uuid IS NULL
        BEGIN SELECT RAISE(ABORT, 'NOT NULL constraint failed: ${table}.uuid'); END`).execute(db);
    }
  }
}
