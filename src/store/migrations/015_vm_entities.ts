// Stats samples, segregation pairs and firewall rules (issue 8, docs/domain.md §18–§20).
// - stats_samples: what a VM used per bucket, at three resolutions written together at ingest (so a
//   roll-up is never behind), pruned per resolution. `nic_id` 0 = the VM-wide row (a NULL could not
//   be part of the primary key that the upsert needs); repositories show it as null.
// - stats_counters: the last cumulative reading of each VM (and NIC), so the next one becomes a delta.
// - vm_segregations: unordered pairs of VMs kept on different heads (low id first, unique).
// - firewall_rules: ordered rules per NIC (desired state; the head applies them later), and
//   nic_firewalls: a NIC's default policy, in its own table so that `nics` is left to its owners.
import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../dialect.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  const big = pg ? 'bigint' : 'integer';
  const table = (name: string) => pg
    ? db.schema.createTable(name).addColumn('id', 'serial', (c) => c.primaryKey())
    : db.schema.createTable(name).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());

  await db.schema.createTable('stats_samples')
    .addColumn('vm_id', 'integer', (c) => c.notNull().references('vms.id').onDelete('cascade'))
    .addColumn('nic_id', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('resolution', 'text', (c) => c.notNull())
    .addColumn('bucket_start', big, (c) => c.notNull())
    .addColumn('cpu_ms', big)
    .addColumn('read_bytes', big)
    .addColumn('write_bytes', big)
    .addColumn('rx_bytes', big)
    .addColumn('tx_bytes', big)
    .addPrimaryKeyConstraint('stats_samples_pk', ['vm_id', 'nic_id', 'resolution', 'bucket_start'])
    .execute();
  await db.schema.createIndex('stats_samples_age').on('stats_samples').columns(['resolution', 'bucket_start']).execute();
  await db.schema.createTable('stats_counters')
    .addColumn('vm_id', 'integer', (c) => c.notNull().references('vms.id').onDelete('cascade'))
    .addColumn('nic_id', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('at', big, (c) => c.notNull())
    .addColumn('cpu_ms', big)
    .addColumn('read_bytes', big)
    .addColumn('write_bytes', big)
    .addColumn('rx_bytes', big)
    .addColumn('tx_bytes', big)
    .addPrimaryKeyConstraint('stats_counters_pk', ['vm_id', 'nic_id'])
    .execute();

  await table('vm_segregations')
    .addColumn('uuid', 'text', (c) => c.notNull().unique())
    .addColumn('vm_id_low', 'integer', (c) => c.notNull().references('vms.id').onDelete('cascade'))
    .addColumn('vm_id_high', 'integer', (c) => c.notNull().references('vms.id').onDelete('cascade'))
    .addColumn('created_by_user_id', 'integer', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('created_at', big, (c) => c.notNull())
    .addUniqueConstraint('vm_segregations_pair', ['vm_id_low', 'vm_id_high'])
    .addCheckConstraint('vm_segregations_ordered', sql`vm_id_low < vm_id_high`)
    .execute();
  await db.schema.createIndex('vm_segregations_high').on('vm_segregations').column('vm_id_high').execute();

  await table('firewall_rules')
    .addColumn('uuid', 'text', (c) => c.notNull().unique())
    .addColumn('nic_id', 'integer', (c) => c.notNull().references('nics.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('command', 'text', (c) => c.notNull())
    .addColumn('protocol', 'text')
    .addColumn('address', 'text')
    .addColumn('port', 'text')
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('firewall_rules_nic').on('firewall_rules').columns(['nic_id', 'position']).execute();
  await db.schema.createTable('nic_firewalls')
    .addColumn('nic_id', 'integer', (c) => c.primaryKey().references('nics.id').onDelete('cascade'))
    .addColumn('default_policy', 'text', (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .execute();
}
