// The catalogues (issue 8, docs/domain.md §8, §12, §17): images (the public catalogue, filled here from
// images/catalogue.ts, and later images accounts make), the ISO library (files under the library
// directory, registered by a scan), SSH keys with ids (a user's own), and storage grades (filled here
// from STORAGE_GRADES, and pools point to theirs). Each row has an integer id and a public id (uuid, set at every insert).
import { randomUUID } from 'node:crypto';
import { type Kysely, type CreateTableBuilder, sql } from 'kysely';
import { isPostgres } from '../dialect.js';
import { IMAGES } from '../../images/catalogue.js';

/** Grades as they were a constant (core/definitions.ts STORAGE_GRADES, bigv.md §5.9), with e24's volume type. */
const GRADES = [
  { name: 'sata', description: 'Standard SSD', e24_type: 'SSD', is_default: 1 },
  { name: 'ssd', description: 'Premium SSD', e24_type: 'SSD', is_default: 0 },
  { name: 'archive', description: 'Archive storage', e24_type: 'HDD', is_default: 0 },
];

export async function up(db: Kysely<any>): Promise<void> {
  const pg = isPostgres(db);
  const big = pg ? 'bigint' : 'integer';
  const table = (name: string): CreateTableBuilder<string, never> => (pg
    ? db.schema.createTable(name).addColumn('id', 'serial', (c) => c.primaryKey())
    : db.schema.createTable(name).addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement()))
    .addColumn('uuid', 'text', (c) => c.notNull().unique());

  await table('images')
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('label', 'text', (c) => c.notNull())
    // The image that really backs this name (`stretch` → `bookworm`): an alias is never written to a disc.
    .addColumn('alias_of', 'text')
    // null: the public catalogue.
    .addColumn('owner_account_id', 'integer', (c) => c.references('accounts.id').onDelete('cascade'))
    .addColumn('supports_password', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('supports_ssh_key', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('supports_cloud_init', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('supports_firstboot_script', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('operating_system', 'text')
    .addColumn('distro', 'text')
    .addColumn('default_disc_mib', 'integer')
    .addColumn('min_disc_mib', 'integer')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('images_owner').on('images').column('owner_account_id').execute();
  const now = Date.now();
  for (const i of IMAGES) {
    // An alias has its target's flags and sizes.
    const real = i.aliasOf ? IMAGES.find((t) => t.name === i.aliasOf)! : i;
    const s = real.supports!;
    await db.insertInto('images').values({
      uuid: randomUUID(), name: i.name, label: i.description, alias_of: i.aliasOf ?? null, owner_account_id: null,
      supports_password: +s.password, supports_ssh_key: +s.sshKey, supports_cloud_init: +s.cloudInit, supports_firstboot_script: +s.firstbootScript,
      operating_system: real.operatingSystem ?? null, distro: real.distro ?? null,
      default_disc_mib: real.defaultDiscMiB ?? null, min_disc_mib: real.minDiscMiB ?? null,
      source: 'built', status: 'active', created_at: now,
    }).execute();
  }

  await table('ssh_keys')
    .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('label', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addUniqueConstraint('ssh_keys_user_label', ['user_id', 'label'])
    .addUniqueConstraint('ssh_keys_user_fingerprint', ['user_id', 'fingerprint'])
    .execute();

  await table('isos')
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('label', 'text', (c) => c.notNull())
    // Relative to the library directory (HANGAR_ISO_DIR), so moving the library moves every ISO with it.
    .addColumn('file', 'text', (c) => c.notNull().unique())
    // null: the admin's library (docs/domain.md G17: no source gives an upload route).
    .addColumn('owner_account_id', 'integer', (c) => c.references('accounts.id').onDelete('cascade'))
    .addColumn('size_bytes', big, (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .execute();

  await table('storage_grades')
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('e24_type', 'text', (c) => c.notNull())
    .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', big, (c) => c.notNull())
    .execute();
  for (const g of GRADES) await db.insertInto('storage_grades').values({ uuid: randomUUID(), ...g, created_at: now }).execute();
  // A pool points to its grade's row; `grade` (the name) stays for the readers that have it.
  await db.schema.alterTable('storage_pools').addColumn('grade_id', 'integer', (c) => c.references('storage_grades.id')).execute();
  await sql`UPDATE storage_pools SET grade_id = (SELECT g.id FROM storage_grades g WHERE g.name = storage_pools.grade)`.execute(db);
}
