// Failure counters kept in the store by rate-limiter-flexible, in the `login_failures` table: on
// PostgreSQL every brain on the database sees the same counts; on SQLite they survive a restart.
// The library talks to the driver (pg Pool, better-sqlite3) underneath Kysely, so openStore hands
// the driver over here and nothing outside src/store sees it.
import { RateLimiterPostgres, RateLimiterSQLite, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type SQLite from 'better-sqlite3';
import type PgModule from 'pg';
import type { Store } from './db.js';

type Driver = { pool: PgModule.Pool } | { sqlite: SQLite.Database };

const drivers = new WeakMap<Store, Driver>();

export function attachCounterDriver(db: Store, driver: Driver): void {
  drivers.set(db, driver);
}

export interface CounterOptions {
  /** Keeps this counter's keys apart from the others' in the shared table. */
  keyPrefix: string;
  points: number;
  /** Seconds after a key's first point that its count is forgotten. */
  duration: number;
}

export function storeCounter(db: Store, opts: CounterOptions): RateLimiterAbstract {
  const driver = drivers.get(db);
  if (!driver) throw new Error('storeCounter needs a store opened by openStore');
  // Expired rows are deleted by the brain's sweeper (core/login-limiter.ts), not by library timers
  // that would outlive a closed store.
  const common = { ...opts, tableName: 'login_failures', tableCreated: true, clearExpiredByTimeout: false };
  return 'pool' in driver
    ? new RateLimiterPostgres({ ...common, storeClient: driver.pool, storeType: 'pool' })
    : new RateLimiterSQLite({ ...common, storeClient: driver.sqlite, storeType: 'better-sqlite3' });
}
