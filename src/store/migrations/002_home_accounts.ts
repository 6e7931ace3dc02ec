// Every user gets a home account (their default account, never one picked by someone else's
// grant), and grants to users outside the granter's account wait as invitations.
import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../dialect.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  const ms = pg ? 'bigint' : 'integer';

  await db.schema.alterTable('users').addColumn('home_account_id', 'integer', (c) => c.references('accounts.id')).execute();
  // Existing users: the account of their oldest account-level privilege; else the oldest account
  // they can see (through a group or VM privilege, or every account for a cluster admin); else none.
  await sql`UPDATE users SET home_account_id = (
    SELECT p.account_id FROM privileges p WHERE p.user_id = users.id AND p.account_id IS NOT NULL ORDER BY p.created_at, p.id LIMIT 1)`.execute(db);
  await sql`UPDATE users SET home_account_id = (
    SELECT MIN(g.account_id) FROM privileges p LEFT JOIN vms v ON v.id = p.virtual_machine_id
    JOIN groups g ON g.id = COALESCE(p.group_id, v.group_id) WHERE p.user_id = users.id)
    WHERE home_account_id IS NULL`.execute(db);
  await sql`UPDATE users SET home_account_id = (SELECT MIN(id) FROM accounts)
    WHERE home_account_id IS NULL AND EXISTS (SELECT 1 FROM privileges p WHERE p.user_id = users.id AND p.level = 'cluster_admin')`.execute(db);

  const id = db.schema.createTable('invitations');
  await (pg ? id.addColumn('id', 'serial', (c) => c.primaryKey()) : id.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()))
    .addColumn('user_id', 'integer', (c) => c.references('users.id'))
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('level', 'text', (c) => c.notNull())
    .addColumn('account_id', 'integer', (c) => c.references('accounts.id'))
    .addColumn('group_id', 'integer', (c) => c.references('groups.id'))
    .addColumn('virtual_machine_id', 'integer', (c) => c.references('vms.id'))
    .addColumn('password_required', 'integer', (c) => c.notNull())
    .addColumn('yubikey_required', 'integer', (c) => c.notNull())
    .addColumn('yubikey_otp_max_age', 'integer', (c) => c.notNull())
    .addColumn('ip_restrictions', 'text')
    .addColumn('creating_user_id', 'integer')
    .addColumn('created_at', ms, (c) => c.notNull())
    .addColumn('expires_at', ms, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('invitations_user').on('invitations').column('user_id').execute();
  await db.schema.createIndex('invitations_expires').on('invitations').column('expires_at').execute();
}
