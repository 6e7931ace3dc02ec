// Volumes and IPs that outlive their VM (issue 8, docs/domain.md §11, §14, §23): e24cloud's
// `deleteResources: 0` keeps every disc as a volume owned by the account with no VM, and every address
// owned by the account, unattached. `discs.vm_id` becomes nullable; `account_id` names the owner of a
// volume with no VM (while attached, its VM's account owns it) and of an address held by an account
// (which then never goes back to the pool on its own). BigV never sees either: it reads discs by VM.
import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../dialect.js';

export async function up(db: Kysely<any>): Promise<void> {
  if (isPostgres(db)) {
    await sql`ALTER TABLE discs ALTER COLUMN vm_id DROP NOT NULL`.execute(db);
    await db.schema.alterTable('discs').addColumn('account_id', 'integer', (c) => c.references('accounts.id')).execute();
    await sql`ALTER TABLE discs ADD CONSTRAINT discs_owned CHECK (vm_id IS NOT NULL OR account_id IS NOT NULL)`.execute(db);
  } else {
    await rebuildSqliteDiscs(db);
  }
  await db.schema.createIndex('discs_account').on('discs').column('account_id').execute();
  await db.schema.alterTable('ips').addColumn('account_id', 'integer', (c) => c.references('accounts.id')).execute();
  await db.schema.createIndex('ips_account').on('ips').column('account_id').execute();
  // A free address is one in its pool: neither on a NIC nor held by an account.
  await db.schema.dropIndex('ips_free').execute();
  await sql`CREATE INDEX ips_free ON ips (range_id, "offset") WHERE nic_id IS NULL AND account_id IS NULL`.execute(db);
}

/**
 * SQLite cannot drop NOT NULL in place: the table is made again (https://sqlite.org/lang_altertable.html
 * §7, with foreign keys off, which only works outside a transaction; Kysely runs SQLite migrations
 * outside one), with its indexes and the public-id triggers of migration 009.
 */
async function rebuildSqliteDiscs(db: Kysely<any>): Promise<void> {
  const { foreign_keys: was } = (await sql<{ foreign_keys: number }>`PRAGMA foreign_keys`.execute(db)).rows[0]!;
  await sql`PRAGMA foreign_keys = OFF`.execute(db);
  try {
    await db.transaction().execute(async (trx) => {
      // AUTOINCREMENT never reuses a purged disc's id: the new table goes on from the old one's sequence.
      const seq = (await sql<{ seq: number }>`SELECT seq FROM sqlite_sequence WHERE name = 'discs'`.execute(trx)).rows[0]?.seq ?? 0;
      await sql`CREATE TABLE discs_new (
        "id" integer PRIMARY KEY AUTOINCREMENT,
        "vm_id" integer REFERENCES "vms" ("id"),
        "label" text NOT NULL,
        "storage_grade" text NOT NULL,
        "size" integer NOT NULL,
        "storage_pool_id" integer REFERENCES "storage_pools" ("id"),
        "created_at" integer NOT NULL,
        "uuid" text,
        "account_id" integer REFERENCES "accounts" ("id"),
        CONSTRAINT "discs_vm_label" UNIQUE ("vm_id", "label"),
        CONSTRAINT "discs_owned" CHECK ("vm_id" IS NOT NULL OR "account_id" IS NOT NULL)
      )`.execute(trx);
      await sql`INSERT INTO discs_new (id, vm_id, label, storage_grade, size, storage_pool_id, created_at, uuid)
        SELECT id, vm_id, label, storage_grade, size, storage_pool_id, created_at, uuid FROM discs`.execute(trx);
      await sql`DROP TABLE discs`.execute(trx);
      await sql`ALTER TABLE discs_new RENAME TO discs`.execute(trx);
      await sql`UPDATE sqlite_sequence SET seq = MAX(seq, ${seq}) WHERE name = 'discs'`.execute(trx);
      await sql`CREATE INDEX "discs_pool" ON "discs" ("storage_pool_id")`.execute(trx);
      await sql`CREATE UNIQUE INDEX "discs_uuid" ON "discs" ("uuid")`.execute(trx);
      for (const [when, event] of [['insert', 'INSERT'], ['update', 'UPDATE OF uuid']] as const) {
        await sql.raw(`CREATE TRIGGER discs_uuid_${when} BEFORE ${event} ON discs WHEN NEW.uuid IS NULL
          BEGIN SELECT RAISE(ABORT, 'NOT NULL constraint failed: discs.uuid'); END`).execute(trx);
      }
      const broken = await sql<{ table: string }>`PRAGMA foreign_key_check`.execute(trx);
      if (broken.rows.length) throw new Error(`migration 012: foreign keys broken in ${broken.rows.map((r) => r.table).join(', ')}`);
    });
  } finally {
    if (was) await sql`PRAGMA foreign_keys = ON`.execute(db);
  }
}
