// Snapshots of a VM (issue 8, docs/domain.md §16): qcow2 internal snapshots of every disc of a
// stopped VM, taken by its head. A row is `pending` until its operation ends (`ready`, or `failed`
// with the head's error); a delete that worked removes the row. Labels are unique per VM.
import type { Kysely } from 'kysely';
import { isPostgres } from '../dialect.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  const table = pg
    ? db.schema.createTable('snapshots').addColumn('id', 'serial', (c) => c.primaryKey())
    : db.schema.createTable('snapshots').addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  await table
    .addColumn('uuid', 'text', (c) => c.notNull().unique())
    .addColumn('vm_id', 'integer', (c) => c.notNull().references('vms.id').onDelete('cascade'))
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .addColumn('created_at', pg ? 'bigint' : 'integer', (c) => c.notNull())
    .addUniqueConstraint('snapshots_vm_label', ['vm_id', 'label'])
    .execute();
}
