// A rate limit per NIC (Gigas `rate_limit` on an added interface): the primary NIC's stays the VM's
// (`vm_settings.rate_limit_mbps`, migration 017); every other NIC keeps its own here (null: unlimited).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('nics').addColumn('rate_limit_mbps', 'integer').execute();
}
