// Operations as the one model for work that takes time (issue 8 §2): a public id, the dialect that
// asked, running with a lease, progress, start and finish times, a parent intent with its steps, and
// the per-VM lock held while an imperative operation runs. Existing rows get a public id; finished
// ones get their finish time.
import { type Kysely, sql } from 'kysely';
import { isPostgres } from '../dialect.js';

export async function up(db: Kysely<any>): Promise<void> {
  const ms = isPostgres(db) ? 'bigint' : 'integer';
  const add = (column: string, type: 'text' | 'integer' | typeof ms) => db.schema.alterTable('operations').addColumn(column, type).execute();
  await add('uuid', 'text');
  await add('parent_id', 'integer');
  await add('dialect', 'text');
  await add('progress', 'integer');
  await add('started_at', ms);
  await add('finished_at', ms);
  await add('lease_owner', 'text');
  await add('lease_until', ms);
  for (const row of await db.selectFrom('operations').select('id').execute()) {
    await db.updateTable('operations').set({ uuid: crypto.randomUUID() }).where('id', '=', row.id).execute();
  }
  await db.updateTable('operations').set({ finished_at: sql`updated_at` }).where('state', 'in', ['done', 'failed']).execute();
  await db.schema.createIndex('operations_uuid').on('operations').column('uuid').unique().execute();
  await db.schema.createIndex('operations_parent').on('operations').column('parent_id').execute();
  await db.schema.createIndex('operations_state').on('operations').columns(['state', 'finished_at']).execute();
  await db.schema.alterTable('vms').addColumn('lock_operation_id', 'integer').execute();
}
