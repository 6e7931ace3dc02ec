// The VM's identity across dialects and zones as rows (issue 8, docs/domain.md §6, §13.1, §13.2).
// A VM gets `label` (Gigas `label`, e24 `name`), `guest_hostname` (Gigas `hostname`), `note`,
// `created_by_user_id` (Gigas `user_id`, informational: no foreign key, the user may go) and
// `initial_password` (sealed, core/secrets.ts). A zone was only a string (`heads.zone`, `vms.zone_name`):
// each distinct one becomes a `zones` row (label = name), and `heads.zone_id`/`vms.zone_id` point to it.
// The strings stay, as BigV shows them (`zone_name`, `definitions.zone_names`). A network was only a
// `vlan_num` (§9): the public one (of the pools) and each account's private VLAN (its groups') become
// `networks` rows, and `ip_ranges.network_id`/`nics.network_id` point to them; `vlan_num` stays (BigV).
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

  await networks(db, pg, now);
}

async function networks(db: Kysely<any>, pg: boolean, now: number): Promise<void> {
  const t = db.schema.createTable('networks');
  await (pg ? t.addColumn('id', 'serial', (c) => c.primaryKey()) : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()))
    .addColumn('uuid', 'text', (c) => c.notNull().unique())
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('vlan_num', 'integer', (c) => c.notNull())
    .addColumn('public', 'integer', (c) => c.notNull())
    // Null: the cluster's shared public network; else the account whose private VLAN it is.
    .addColumn('account_id', 'integer', (c) => c.references('accounts.id'))
    // Null: spans zones.
    .addColumn('zone_id', 'integer', (c) => c.references('zones.id'))
    .addColumn('default_rate_limit_mbps', 'integer')
    .addColumn('created_at', pg ? 'bigint' : 'integer', (c) => c.notNull())
    .execute();
  // One public network per VLAN; one private network per account and VLAN.
  await db.schema.createIndex('networks_public_vlan').on('networks').column('vlan_num').unique().where(sql.ref('public'), '=', 1).execute();
  await db.schema.createIndex('networks_account_vlan').on('networks').columns(['account_id', 'vlan_num']).unique().where(sql.ref('public'), '=', 0).execute();
  await db.schema.alterTable('ip_ranges').addColumn('network_id', 'integer', (c) => c.references('networks.id')).execute();
  await db.schema.alterTable('nics').addColumn('network_id', 'integer', (c) => c.references('networks.id')).execute();
  await db.schema.createIndex('nics_network').on('nics').column('network_id').execute();

  for (const { vlan_num } of await db.selectFrom('ip_ranges').select('vlan_num').distinct().orderBy('vlan_num').execute()) {
    await db.insertInto('networks').values({ uuid: randomUUID(), label: 'public', vlan_num, public: 1, account_id: null, created_at: now }).execute();
  }
  const privates = await db.selectFrom('groups').select(['account_id', 'vlan_num']).distinct()
    .where('vlan_num', 'is not', null).orderBy('account_id').orderBy('vlan_num').execute();
  for (const { account_id, vlan_num } of privates) {
    await db.insertInto('networks').values({ uuid: randomUUID(), label: `vlan-${vlan_num}`, vlan_num, public: 0, account_id, created_at: now }).execute();
  }
  await sql`UPDATE ip_ranges SET network_id = (SELECT n.id FROM networks n WHERE n.public = 1 AND n.vlan_num = ip_ranges.vlan_num)`.execute(db);
  // A NIC is on its group's private VLAN when it has one (create.ts), else on the public network of its VLAN.
  await sql`UPDATE nics SET network_id = COALESCE(
    (SELECT n.id FROM vms v JOIN groups g ON g.id = v.group_id JOIN networks n ON n.public = 0 AND n.account_id = g.account_id AND n.vlan_num = g.vlan_num
      WHERE v.id = nics.vm_id AND g.vlan_num = nics.vlan_num),
    (SELECT n.id FROM networks n WHERE n.public = 1 AND n.vlan_num = nics.vlan_num))`.execute(db);
}
