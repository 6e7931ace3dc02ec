// What a VM boots from (docs/vm-ops.md): `disc` (its first disc, as its image boots) or `cdrom` (its
// ISO, through the firmware, before the discs: an installer). Gigas' boot_type default|cdrom.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('vms').addColumn('boot_from', 'text', (c) => c.notNull().defaultTo('disc')).execute();
}
