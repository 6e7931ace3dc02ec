// Which images each head has built (a JSON array of image names), reported by the head: placement
// only puts a machine that is to be imaged on a head that has the image.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('heads').addColumn('images', 'text', (c) => c.notNull().defaultTo('[]')).execute();
}
