// The VM's identity across dialects and zones as rows (issue 8, docs/domain.md §6, §13.1, §13.2).
// A VM gets `label` (Gigas `label`, e24 `name`), `guest_hostname` (Gigas `hostname`), `note`,
// `created_by_user_id` (Gigas `user_id`, informational: no foreign key, the user may go) and
// `initial_password` (sealed, core/secrets.ts). A zone was only a string (`heads.zone`, `vms.zone_name`):
// each distinct one becomes a `zones` row (label = name), and `heads.zone_id`/`vms.zone_id` point to it.
// The strings stay, as BigV shows them (`zone_name`, `definitions.zone_names`).
import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../dialect.js';
import { VERSIONED_COLUMNS } from './008_idempotency_versions.js';

/** The identity fields a user edits: they bump the VM's version (its ETag) as the other desired-state columns do. */
export const IDENTITY_VERSIONED = ['label', 'guest_hostname', 'note'] as const;

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  const ms = pg ? 'bigint' : 'integer';
  const zones = db.schema.createTable('zones');
  await (pg ? zones.addColumn('id', 'serial', (c) => c.primaryKey()) : zones.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()))
    .addColumn('uuid', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('label', 'text', (c) => c.notNull())
    // Null: the cluster's (core/zones.ts).
    .addColumn('region', 'text')
    .addColumn('created_at', ms, (c) => c.notNull())
    .execute();
  const now = Date.now();
  const names = new Set<string>();
  for (const r of await db.selectFrom('heads').select('zone as name').distinct().execute()) names.add(r.name as string);
  for (const r of await db.selectFrom('vms').select('zone_name as name').distinct().execute()) names.add(r.name as string);
  for (const name of [...names].sort()) {
    await db.insertInto('zones').values({ uuid: randomUUID(), name, label: name, region: null, created_at: now }).execute();
  }
  await db.schema.alterTable('heads').addColumn('zone_id', 'integer', (c) => c.references('zones.id')).execute();
  await sql`UPDATE heads SET zone_id = (SELECT z.id FROM zones z WHERE z.name = heads.zone)`.execute(db);

  for (const column of ['label', 'guest_hostname', 'note', 'initial_password']) {
    await db.schema.alterTable('vms').addColumn(column, 'text').execute();
  }
  await db.schema.alterTable('vms').addColumn('created_by_user_id', 'integer').execute();
  await db.schema.alterTable('vms').addColumn('zone_id', 'integer', (c) => c.references('zones.id')).execute();
  await sql`UPDATE vms SET zone_id = (SELECT z.id FROM zones z WHERE z.name = vms.zone_name)`.execute(db);
  await db.schema.createIndex('vms_zone').on('vms').column('zone_id').execute();
  await db.schema.createIndex('heads_zone').on('heads').column('zone_id').execute();

  // The version trigger of migration 008, watching the identity fields too.
  const cols = [...VERSIONED_COLUMNS, ...IDENTITY_VERSIONED];
  if (pg) {
    const changed = `(${cols.map((c) => `NEW.${c}`).join(', ')}) IS DISTINCT FROM (${cols.map((c) => `OLD.${c}`).join(', ')})`;
    await sql.raw(`CREATE OR REPLACE FUNCTION vms_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF ${changed} THEN NEW.version := OLD.version + 1; END IF;
        RETURN NEW;
      END $$`).execute(db);
  } else {
    const changed = cols.map((c) => `NEW.${c} IS NOT OLD.${c}`).join(' OR ');
    await sql`DROP TRIGGER vms_version`.execute(db);
    await sql.raw(`CREATE TRIGGER vms_version AFTER UPDATE OF ${cols.join(', ')} ON vms FOR EACH ROW
      WHEN NEW.version = OLD.version AND (${changed})
      BEGIN UPDATE vms SET version = version + 1 WHERE id = NEW.id; END`).execute(db);
  }
}
