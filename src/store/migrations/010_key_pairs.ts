// Signing key pairs (issue 8 §3): an access key id and a secret that a signature scheme (e24cloud's
// HMAC, the test dialect's) needs in the clear to check a signature, so the secret is kept sealed
// with the server key (core/secrets.ts), never in plain text. `factors`: what the session that made
// the pair proved; a signed request proves the same. And the replay records of signed requests: in
// the store, so a request replayed to another brain sharing it is refused there too.
import type { Kysely } from 'kysely';
import { isPostgres } from '../dialect.js';

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  const big = pg ? 'bigint' : 'integer';
  await (pg ? db.schema.createTable('key_pairs').addColumn('id', 'serial', (c) => c.primaryKey())
    : db.schema.createTable('key_pairs').addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()))
    .addColumn('uuid', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('access_key_id', 'text', (c) => c.notNull().unique())
    .addColumn('secret', 'text', (c) => c.notNull())
    .addColumn('factors', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('key_pairs_user').on('key_pairs').column('user_id').execute();
  await db.schema.createTable('signed_requests')
    .addColumn('key_pair_id', 'integer', (c) => c.notNull().references('key_pairs.id').onDelete('cascade'))
    .addColumn('nonce', pg ? 'varchar(128)' : 'text', (c) => c.notNull())
    .addColumn('expires_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('signed_requests_pk', ['key_pair_id', 'nonce'])
    .execute();
}
