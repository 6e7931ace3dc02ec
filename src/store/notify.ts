// Wake-ups across brains: "operations changed". On PostgreSQL a change is a NOTIFY sent in the
// writing transaction (delivered when it commits, and only then; identical ones in one transaction
// arrive once), heard on one dedicated LISTEN connection per store that reconnects when lost; on
// SQLite (one brain per file) an in-process emitter. A notification carries no data: subscribers
// read the store, so a missed one costs only latency, and they keep a slow poll as a safety net.
import { EventEmitter } from 'node:events';
import { sql, type Kysely } from 'kysely';
import type PgModule from 'pg';
import { isPostgres } from './dialect.js';

const CHANNEL = 'hangar_operations';
/** How long a lost LISTEN connection waits before it is opened again. */
export const RECONNECT_MS = 1000;

type Listener = () => void;
type Subscribers = { add(fn: Listener): () => void };

const local = new EventEmitter().setMaxListeners(0);
const localSubscribers: Subscribers = {
  add(fn) {
    local.on(CHANNEL, fn);
    return () => local.off(CHANNEL, fn);
  },
};

/** Tell every brain's subscribers that operations changed (inside a transaction: when it commits). */
export async function publishOperationsChanged(db: Kysely<any>): Promise<void> {
  if (isPostgres(db)) await sql`SELECT pg_notify(${CHANNEL}, '')`.execute(db);
  // After the writer's transaction: SQLite's one connection serves a subscriber's read only then.
  else setImmediate(() => local.emit(CHANNEL));
}

/** Call `fn` whenever operations may have changed (through any brain); returns the unsubscribe. */
export function onOperationsChanged(db: Kysely<any>, fn: Listener): () => void {
  return (isPostgres(db) ? listeners.get(db) ?? localSubscribers : localSubscribers).add(fn);
}

const listeners = new WeakMap<Kysely<any>, PgListener>();

/** openStore's part on PostgreSQL: how to open the store's LISTEN connection (outside its pool). */
export function attachPgListener(db: Kysely<any>, connect: () => PgModule.Client): void {
  listeners.set(db, new PgListener(connect));
}

/** One LISTEN connection, open while anyone subscribes (so a closed store leaves none behind). */
class PgListener implements Subscribers {
  private readonly subscribers = new Set<Listener>();
  private client: PgModule.Client | null = null;
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly make: () => PgModule.Client) {}

  add(fn: Listener): () => void {
    this.subscribers.add(fn);
    if (this.subscribers.size === 1) this.open();
    return () => {
      if (this.subscribers.delete(fn) && this.subscribers.size === 0) this.shut();
    };
  }

  private wake(): void {
    for (const fn of [...this.subscribers]) fn();
  }

  private open(): void {
    const client = this.make();
    this.client = client;
    client.on('notification', () => this.wake());
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.connect()
      .then(() => client.query(`LISTEN ${CHANNEL}`))
      // Whatever changed while no connection listened is read now.
      .then(() => { if (this.client === client) this.wake(); })
      .catch(() => this.lost(client));
  }

  private lost(client: PgModule.Client): void {
    if (this.client !== client) return;
    this.client = null;
    void client.end().catch(() => {});
    this.retry ??= setTimeout(() => {
      this.retry = null;
      if (this.subscribers.size > 0 && this.client === null) this.open();
    }, RECONNECT_MS);
  }

  private shut(): void {
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const client = this.client;
    this.client = null;
    void client?.end().catch(() => {});
  }
}
