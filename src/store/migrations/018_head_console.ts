// Where a head's VNC consoles listen (core/console.ts): the address its admin bound them to
// (HANGAR_VNC_HOST), as the head reports it when it registers. Null: not reported (an older head, the
// fake driver); a console then points at the head's management address.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('heads').addColumn('console_address', 'text').execute();
}
