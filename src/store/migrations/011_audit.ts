// Audit rows (core/audit.ts, docs/audit.md): one per mutating request of every dialect, written after
// the answer. Ids of what it touched are public ids (text), not foreign keys: the row outlives them.
import { type Kysely } from 'kysely';
import { isPostgres } from '../dialect.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  const text = (n: number) => (pg ? `varchar(${n})` as const : 'text' as const);
  const table = db.schema.createTable('audit');
  await (pg ? table.addColumn('id', 'bigserial', (c) => c.primaryKey()) : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()))
    .addColumn('uuid', text(36), (c) => c.notNull().unique())
    .addColumn('at', pg ? 'bigint' : 'integer', (c) => c.notNull())
    .addColumn('user_id', 'integer')
    .addColumn('impersonator_id', 'integer')
    .addColumn('api_key_id', 'integer')
    .addColumn('method', text(8), (c) => c.notNull())
    .addColumn('route', text(255), (c) => c.notNull())
    .addColumn('dialect', text(16), (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('account_uuid', text(36))
    .addColumn('vm_uuid', text(36))
    .addColumn('operation_uuid', text(36))
    .addColumn('address', text(64))
    .execute();
  await db.schema.createIndex('audit_at').on('audit').column('at').execute();
  await db.schema.createIndex('audit_account').on('audit').columns(['account_uuid', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit').execute();
}
