// Opens the store: SQLite (better-sqlite3, WAL) by default, PostgreSQL when given a postgres:// URL.
import path from 'node:path';
import fs from 'node:fs';
import SQLite from 'better-sqlite3';
import type PgModule from 'pg';
import { Kysely, SqliteDialect, PostgresDialect, Migrator, type Migration, type SqliteDatabase, type SqliteStatement } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from './schema.js';
import type { SecretBox } from '../core/secrets.js';
import { keepPrivate, PRIVATE_DIR, PRIVATE_FILE } from '../core/private-files.js';
import * as m001 from './migrations/001_initial.js';
import * as m002 from './migrations/002_home_accounts.js';
import { sealSecrets } from './migrations/003_secrets_sealed.js';
import * as m004 from './migrations/004_login_failures.js';
import * as m006 from './migrations/006_head_images.js';
import * as m007 from './migrations/007_operations.js';
import * as m008 from './migrations/008_idempotency_versions.js';
import * as m009 from './migrations/009_public_ids.js';
import * as m010 from './migrations/010_key_pairs.js';
import * as m011 from './migrations/011_audit.js';
import * as m012 from './migrations/012_owned_resources.js';
import * as m013 from './migrations/013_identity_zones_networks.js';
import * as m014 from './migrations/014_catalogues.js';
import * as m015 from './migrations/015_vm_entities.js';
import * as m016 from './migrations/016_snapshots.js';
import * as m017 from './migrations/017_vm_settings.js';
import * as m018 from './migrations/018_head_console.js';
import * as m019 from './migrations/019_boot_from.js';
import * as m021 from './migrations/021_one_boot_from.js';
import * as m024 from './migrations/024_nic_rate_limit.js';
import * as m025 from './migrations/025_address_ids.js';
import * as m026 from './migrations/026_disc_attach_order.js';
import { attachCounterDriver } from './counters.js';
import { attachPgListener } from './notify.js';
import { syncCatalogue } from './repos/images.js';

export type Store = Kysely<Database>;

/** Migrations; the ones that touch secrets are made with the server's box. */
export function migrations(secrets: SecretBox): Record<string, Migration> {
  return {
    '001_initial': m001, '002_home_accounts': m002, '003_secrets_sealed': sealSecrets(secrets),
    '004_login_failures': m004, '006_head_images': m006, '007_operations': m007,
    '008_idempotency_versions': m008, '009_public_ids': m009, '010_key_pairs': m010,
    '011_audit': m011, '012_owned_resources': m012,
    '013_identity_zones_networks': m013,
    '014_catalogues': m014,
    '015_vm_entities': m015,
    '016_snapshots': m016,
    '017_vm_settings': m017,
    '018_head_console': m018,
    '019_boot_from': m019,
    '021_one_boot_from': m021,
    '024_nic_rate_limit': m024,
    '025_address_ids': m025,
    '026_disc_attach_order': m026,
  };
}

let pgLoaded: Promise<typeof PgModule> | undefined;

/** pg is loaded only for a PostgreSQL store: an SQLite brain starts sooner (bench/scale.ts restart). */
function loadPg(): Promise<typeof PgModule> {
  pgLoaded ??= import('pg').then(({ default: pg }) => {
    // int8 (bigint) columns hold epoch milliseconds, well inside Number's exact range.
    pg.types.setTypeParser(20, (v) => Number(v));
    return pg;
  });
  return pgLoaded;
}

export interface StoreOptions {
  /** postgres://... or a SQLite file path (':memory:' for tests). */
  url: string;
  /** The server's secret box (migrations seal secrets stored before they were sealed). */
  secrets: SecretBox;
  /** Warnings about store files other users could read (which are then tightened). */
  log?: Logger;
}

/**
 * The SQLite file and its -wal and -shm are the server's alone: a new store is created 0600 in a
 * 0700 directory (SQLite gives -wal and -shm the mode of the database file); looser existing ones
 * are tightened with a warning.
 */
function privateSqliteFiles(file: string, log?: Logger): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR });
  keepPrivate([file, `${file}-wal`, `${file}-shm`, `${file}-journal`], log);
  fs.closeSync(fs.openSync(file, 'a', PRIVATE_FILE));
}

export async function openStore(opts: StoreOptions): Promise<Store> {
  let db: Store;
  if (/^postgres(ql)?:\/\//.test(opts.url)) {
    const pg = await loadPg();
    const pool = new pg.Pool({ connectionString: opts.url, max: 10 });
    // An idle connection the server ends (a restart, pg_terminate_backend, DROP DATABASE ... FORCE
    // while the pool is closing) is an 'error' on the pool; unheard, it would crash the process.
    // The pool has already dropped that client and opens a new one when needed.
    pool.on('error', () => {});
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    attachCounterDriver(db, { pool });
    attachPgListener(db, () => new pg.Client({ connectionString: opts.url }));
  } else {
    if (opts.url !== ':memory:') privateSqliteFiles(opts.url, opts.log);
    const sqlite = new SQLite(opts.url);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    attachCounterDriver(db, { sqlite });
  }
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations(opts.secrets) } });
  const { error } = await migrator.migrateToLatest();
  if (error) { await db.destroy(); throw error; }
  await syncCatalogue(db);
  return db;
}

/**
 * Kysely prepares every query it runs; compiling the SQL is a large share of a short query's cost
 * (bench/: a fifth of a create). Compiled statements are kept by SQL text (bounded) and reused;
 * one that is busy (an open iterator) is never handed out twice.
 */
function withStatementCache(sqlite: SQLite.Database, max = 500): SqliteDatabase {
  const statements = new Map<string, FastStatement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      const hit = statements.get(sql);
      if (hit && !hit.busy) return hit;
      const stmt = new FastStatement(sqlite.prepare(sql));
      if (!hit) {
        if (statements.size >= max) statements.delete(statements.keys().next().value!);
        statements.set(sql, stmt);
      }
      return stmt;
    },
  };
}

type Row = Record<string, unknown>;

/**
 * Rows read as arrays and turned into objects by a function made once per statement: better-sqlite3
 * builds a row object one property at a time, which is about half the cost of reading a 1,000-VM
 * list (bench/api.ts). Same keys, order and values as better-sqlite3's own row objects.
 */
class FastStatement implements SqliteStatement {
  readonly reader: boolean;
  private readonly toRow: ((values: unknown[]) => Row) | null = null;

  constructor(private readonly stmt: SQLite.Statement) {
    this.reader = stmt.reader;
    if (!stmt.reader) return;
    const names = stmt.columns().map((c) => c.name);
    if (names.includes('__proto__')) return;
    stmt.raw(true);
    this.toRow = new Function('v', `return {${names.map((n, i) => `${JSON.stringify(n)}: v[${i}]`).join(', ')}};`) as (values: unknown[]) => Row;
  }

  get busy(): boolean {
    return this.stmt.busy;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    const rows = this.stmt.all(parameters) as unknown[];
    return this.toRow ? (rows as unknown[][]).map(this.toRow) : rows;
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.stmt.run(parameters);
  }

  *iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    const toRow = this.toRow;
    for (const values of this.stmt.iterate(parameters)) yield toRow ? toRow(values as unknown[]) : values;
  }
}
