// A VM's settings that only some dialects set (issue 9, docs/domain.md §13.1): Gigas `cpu_shares`,
// `cpu_type`, `rate_limit`, `boot_type`, the template it was built from, and whether its build is
// still to be asked for (`required_virtual_machine_build=false`, G25). One optional row per VM, in its
// own table so that `vms` stays its owners'; a VM without a row has every setting at its default.
import type { Kysely } from 'kysely';
import { isPostgres } from '../dialect.js';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('vm_settings')
    .addColumn('vm_id', 'integer', (c) => c.primaryKey().references('vms.id').onDelete('cascade'))
    .addColumn('cpu_shares', 'integer')
    .addColumn('cpu_type', 'text')
    .addColumn('rate_limit_mbps', 'integer')
    // `disc` or `cdrom`.
    .addColumn('boot_from', 'text', (c) => c.notNull().defaultTo('disc'))
    .addColumn('image_id', 'integer')
    .addColumn('build_pending', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('updated_at', isPostgres(db) ? 'bigint' : 'integer', (c) => c.notNull())
    .execute();
}
