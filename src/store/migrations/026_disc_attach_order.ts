// A VM boots from its first disc, and its discs were ordered by id: a volume attached later (made
// with no VM, or detached from another VM) could have a smaller id than the VM's system disc and
// take its place. `attach_seq` places a disc attached to a VM after the discs it had; a disc made on
// its VM keeps its id as its place (null). Order: coalesce(attach_seq, id), then id (repos/discs.ts).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('discs').addColumn('attach_seq', 'integer').execute();
}
