// The first schema. Migrations only move forward; a later change is a new numbered file.
import { type Kysely, type CreateTableBuilder, sql } from 'kysely';
import { isPostgres } from '../dialect.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  // SQLite's AUTOINCREMENT never reuses the id of a purged row; PostgreSQL's serial never does either.
  const table = (name: string) => {
    const t = db.schema.createTable(name);
    return pg
      ? t.addColumn('id', 'serial', (c) => c.primaryKey())
      : t.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  };
  // 64-bit integers: epoch milliseconds, and offsets into IPv6 pools.
  const ms = pg ? 'bigint' : 'integer';
  const stamp = <T extends string>(t: CreateTableBuilder<any, T>) => t.addColumn('created_at', ms, (c) => c.notNull());

  await stamp(table('accounts')
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('suspended', 'integer', (c) => c.notNull().defaultTo(0))).execute();

  await stamp(table('groups')
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('vlan_num', 'integer')
    .addUniqueConstraint('groups_account_name', ['account_id', 'name'])).execute();

  await stamp(table('users')
    .addColumn('username', 'text', (c) => c.notNull().unique())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('authorized_keys', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('totp_secret', 'text')).execute();

  await stamp(table('api_keys')
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('expires_at', ms)).execute();

  await stamp(table('heads')
    .addColumn('label', 'text', (c) => c.notNull().unique())
    .addColumn('zone', 'text', (c) => c.notNull())
    .addColumn('driver', 'text', (c) => c.notNull())
    .addColumn('accel', 'text')
    .addColumn('cores', 'integer', (c) => c.notNull())
    .addColumn('memory', 'integer', (c) => c.notNull())
    .addColumn('cpu_overcommit', 'integer', (c) => c.notNull().defaultTo(4))
    .addColumn('used_cores', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('used_memory', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('management_address', 'text', (c) => c.notNull())
    .addColumn('online', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_seen', ms)
    .addColumn('note', 'text')).execute();

  await table('storage_pools')
    .addColumn('head_id', 'integer', (c) => c.notNull().references('heads.id'))
    .addColumn('label', 'text', (c) => c.notNull().unique())
    .addColumn('grade', 'text', (c) => c.notNull())
    .addColumn('capacity', 'integer', (c) => c.notNull())
    .addColumn('used', 'integer', (c) => c.notNull().defaultTo(0)).execute();

  await stamp(table('vms')
    .addColumn('group_id', 'integer', (c) => c.notNull().references('groups.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('cores', 'integer', (c) => c.notNull())
    .addColumn('memory', 'integer', (c) => c.notNull())
    .addColumn('power_on', 'integer', (c) => c.notNull())
    .addColumn('autoreboot_on', 'integer', (c) => c.notNull())
    .addColumn('cdrom_url', 'text')
    .addColumn('keymap', 'text')
    .addColumn('hardware_profile', 'text', (c) => c.notNull())
    .addColumn('hardware_profile_locked', 'integer', (c) => c.notNull())
    .addColumn('zone_name', 'text', (c) => c.notNull())
    .addColumn('head_id', 'integer', (c) => c.references('heads.id'))
    .addColumn('deleted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('deleted_at', ms)
    .addColumn('last_imaged_with', 'text')
    .addColumn('power_cycle', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('vnc_password', 'text', (c) => c.notNull())
    .addColumn('updated_at', ms, (c) => c.notNull())
    .addColumn('run_state', 'text', (c) => c.notNull().defaultTo('stopped'))
    .addColumn('observed_cycle', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('pid', 'integer')
    .addColumn('boot_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_seen', ms)
    .addColumn('ssh_port', 'integer')
    .addColumn('vnc_port', 'integer')
    .addColumn('head_note', 'text')
    // Names are unique per group among VMs that are not purged (purge deletes the row).
    .addUniqueConstraint('vms_group_name', ['group_id', 'name'])).execute();
  await db.schema.createIndex('vms_head').on('vms').column('head_id').execute();

  await stamp(table('discs')
    .addColumn('vm_id', 'integer', (c) => c.notNull().references('vms.id'))
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('storage_grade', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('storage_pool_id', 'integer', (c) => c.references('storage_pools.id'))
    .addUniqueConstraint('discs_vm_label', ['vm_id', 'label'])).execute();
  await db.schema.createIndex('discs_pool').on('discs').column('storage_pool_id').execute();

  await stamp(table('backups')
    .addColumn('disc_id', 'integer', (c) => c.notNull().references('discs.id'))
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('storage_grade', 'text', (c) => c.notNull())
    .addColumn('manual', 'integer', (c) => c.notNull())
    .addUniqueConstraint('backups_disc_label', ['disc_id', 'label'])).execute();

  await stamp(table('backup_schedules')
    .addColumn('disc_id', 'integer', (c) => c.notNull().references('discs.id'))
    .addColumn('start_at', 'text', (c) => c.notNull())
    .addColumn('interval_seconds', 'integer', (c) => c.notNull())
    .addColumn('capacity', 'integer', (c) => c.notNull())).execute();
  await db.schema.createIndex('backup_schedules_disc').on('backup_schedules').column('disc_id').execute();

  await stamp(table('nics')
    .addColumn('vm_id', 'integer', (c) => c.notNull().references('vms.id'))
    .addColumn('label', 'text')
    .addColumn('mac', 'text', (c) => c.notNull().unique())
    .addColumn('vlan_num', 'integer', (c) => c.notNull())).execute();
  await db.schema.createIndex('nics_vm').on('nics').column('vm_id').execute();

  await table('ip_ranges')
    .addColumn('cidr', 'text', (c) => c.notNull().unique())
    .addColumn('family', 'integer', (c) => c.notNull())
    .addColumn('vlan_num', 'integer', (c) => c.notNull())
    .addColumn('zone', 'text')
    .addColumn('next_offset', ms, (c) => c.notNull())
    .addColumn('first_offset', ms, (c) => c.notNull())
    .addColumn('last_offset', ms, (c) => c.notNull()).execute();

  await stamp(table('ips')
    .addColumn('range_id', 'integer', (c) => c.references('ip_ranges.id'))
    .addColumn('offset', ms)
    .addColumn('address', 'text', (c) => c.notNull().unique())
    .addColumn('family', 'integer', (c) => c.notNull())
    .addColumn('nic_id', 'integer', (c) => c.references('nics.id'))
    .addColumn('routed_via', 'text')
    .addColumn('rdns', 'text')
    .addColumn('reason', 'text')
    .addUniqueConstraint('ips_range_offset', ['range_id', 'offset'])).execute();
  await db.schema.createIndex('ips_nic').on('ips').column('nic_id').execute();
  // Free addresses (back in the pool) are found by range, lowest offset first.
  await sql`CREATE INDEX ips_free ON ips (range_id, "offset") WHERE nic_id IS NULL`.execute(db);

  await stamp(table('privileges')
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('level', 'text', (c) => c.notNull())
    .addColumn('account_id', 'integer', (c) => c.references('accounts.id'))
    .addColumn('group_id', 'integer', (c) => c.references('groups.id'))
    .addColumn('virtual_machine_id', 'integer', (c) => c.references('vms.id'))
    .addColumn('api_key_id', 'integer', (c) => c.references('api_keys.id'))
    .addColumn('password_required', 'integer', (c) => c.notNull())
    .addColumn('yubikey_required', 'integer', (c) => c.notNull())
    .addColumn('yubikey_otp_max_age', 'integer', (c) => c.notNull())
    .addColumn('ip_restrictions', 'text')
    .addColumn('creating_user_id', 'integer')).execute();
  await db.schema.createIndex('privileges_user').on('privileges').column('user_id').execute();

  await stamp(table('sessions')
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
    .addColumn('impersonator_id', 'integer')
    .addColumn('factors', 'text', (c) => c.notNull())
    .addColumn('validity', 'integer', (c) => c.notNull())
    .addColumn('expires_at', ms, (c) => c.notNull())).execute();

  await stamp(table('operations')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('vm_id', 'integer')
    .addColumn('head_id', 'integer')
    .addColumn('user_id', 'integer')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('args', 'text', (c) => c.notNull())
    .addColumn('result', 'text')
    .addColumn('error', 'text')
    .addColumn('updated_at', ms, (c) => c.notNull())
    .addColumn('deadline', ms)).execute();
  await db.schema.createIndex('operations_pending').on('operations').columns(['head_id', 'state']).execute();
  await db.schema.createIndex('operations_vm').on('operations').column('vm_id').execute();
}
