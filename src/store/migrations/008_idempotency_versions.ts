// Idempotency records (api/idempotency.ts) and the VM row's version (its ETag, core/vms/version.ts).
// The version is bumped by a trigger, so every write of the row counts (core's, the head link's, a
// future repository's) without each remembering to: only when a column of the VM's desired state or
// placement changes; observed-state reports (run_state, pid, ports, boot_count, last_seen, head_note)
// and updated_at alone do not bump it, so a client's If-Match is not spoiled by a head's heartbeat.
import { sql, type Kysely } from 'kysely';
import { isPostgres } from '../dialect.js';

/** The columns whose change is a new version of the VM. */
export const VERSIONED_COLUMNS = [
  'group_id', 'name', 'cores', 'memory', 'power_on', 'autoreboot_on', 'cdrom_url', 'keymap',
  'hardware_profile', 'hardware_profile_locked', 'zone_name', 'head_id', 'deleted', 'deleted_at',
  'last_imaged_with', 'power_cycle',
] as const;

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  const big = pg ? 'bigint' : 'integer';
  await db.schema.createTable('idempotency_records')
    // 'user:<id>:<factors hash>' or 'apikey:<id>': whose key it is (per caller and credential strength: core/idempotency.ts).
    .addColumn('caller', pg ? 'varchar(64)' : 'text', (c) => c.notNull())
    .addColumn('key', pg ? 'varchar(255)' : 'text', (c) => c.notNull())
    .addColumn('fingerprint', pg ? 'varchar(64)' : 'text', (c) => c.notNull())
    .addColumn('state', pg ? 'varchar(16)' : 'text', (c) => c.notNull())
    .addColumn('status', 'integer')
    .addColumn('headers', 'text')
    .addColumn('body', 'text')
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('expires_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_records_pk', ['caller', 'key'])
    .execute();
  await db.schema.createIndex('idempotency_records_expires').on('idempotency_records').column('expires_at').execute();

  await db.schema.alterTable('vms').addColumn('version', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  const cols = VERSIONED_COLUMNS;
  if (pg) {
    const changed = `(${cols.map((c) => `NEW.${c}`).join(', ')}) IS DISTINCT FROM (${cols.map((c) => `OLD.${c}`).join(', ')})`;
    await sql.raw(`CREATE FUNCTION vms_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF ${changed} THEN NEW.version := OLD.version + 1; END IF;
        RETURN NEW;
      END $$`).execute(db);
    await sql.raw('CREATE TRIGGER vms_version BEFORE UPDATE ON vms FOR EACH ROW EXECUTE FUNCTION vms_bump_version()').execute(db);
  } else {
    // SQLite cannot assign NEW in a trigger: a second UPDATE of the row, which does not fire this
    // trigger again (version is not among the columns it watches; recursive triggers are off).
    const changed = cols.map((c) => `NEW.${c} IS NOT OLD.${c}`).join(' OR ');
    await sql.raw(`CREATE TRIGGER vms_version AFTER UPDATE OF ${cols.join(', ')} ON vms FOR EACH ROW
      WHEN NEW.version = OLD.version AND (${changed})
      BEGIN UPDATE vms SET version = version + 1 WHERE id = NEW.id; END`).execute(db);
  }
}
