// One place for what a VM boots from: `vms.boot_from` (migration 019), which the head reads. Gigas'
// boot_type was first kept in `vm_settings.boot_from` (migration 017), which no head read: a `cdrom`
// there moves to the VM, and the column goes.
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`UPDATE vms SET boot_from = 'cdrom' WHERE id IN (SELECT vm_id FROM vm_settings WHERE boot_from = 'cdrom')`.execute(db);
  await db.schema.alterTable('vm_settings').dropColumn('boot_from').execute();
}
