// Test harness: a whole Hangar in-process (real store, real API, real head agent) over fake
// drivers, driven through HTTP requests with Fastify's inject.
import crypto from 'node:crypto';
import pg from 'pino';
import pgClient from 'pg';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import { migrations } from '../src/store/db.js';
import { SecretBox } from '../src/core/secrets.js';
import { startHangar, type HeadSpec, type Running } from '../src/brain/start.js';
import { bootstrap } from '../src/brain/bootstrap.js';
import { FakeDriver } from '../src/drivers/fake/driver.js';
import type { ClusterConfig } from '../src/core/config.js';
import { Ajv, type ValidateFunction } from 'ajv';
import { responseContract } from '../src/api/responses.js';

export const ADMIN = { username: 'admin', password: 'admin-password-1' };

export interface Reply { status: number; body: any; text: string; headers: Record<string, unknown> }

export interface TestHangar {
  running: Running;
  /** The store's URL: a PostgreSQL database, a SQLite file (`sqliteFile`), or ':memory:'. */
  storeUrl: string;
  drivers: FakeDriver[];
  adminToken: string;
  /** `address`: the client's address (127.0.0.1 unless given). */
  req(method: string, url: string, opts?: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string>; address?: string }): Promise<Reply>;
  login(username: string, password: string, extra?: Record<string, string>): Promise<string>;
  /** A user with a password (in home account `home`, an account id), optionally granted a privilege; returns its session token. */
  user(username: string, grant?: Record<string, unknown>, home?: number): Promise<string>;
  close(): Promise<void>;
}

// The response contract: every answer any app built in a test process gives is held to its
// route's declared `schema.response` (the status's schema, else its `4xx`); what breaks it is kept
// per app, and startTest's close() fails the test with the list. 5xx and routeless answers (a 404
// no route matched) are not checked; a HEAD answer carries no body.
const ajv = new Ajv({ allErrors: true, strict: false });
/** The schema without its `$id`s: they only name components in the OpenAPI document (no schema here
 *  has a $ref), and Ajv takes one component nested twice in an answer for two clashing ones. */
const withoutIds = (s: unknown): unknown => Array.isArray(s) ? s.map(withoutIds)
  : s !== null && typeof s === 'object' ? Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$id').map(([k, v]) => [k, withoutIds(v)])) : s;
const validators = new WeakMap<object, ValidateFunction>();
const contractBreaks = new WeakMap<object, string[]>();

/** Why an answer breaks its route's response schemas (`response`: status or `4xx` -> schema), or null. */
export function breaksContract(response: Record<string, object> | undefined, status: number, contentType: string, payload: unknown): string | null {
  if (!response) return 'the route declares no response schema';
  const schema = response[status] ?? response[`${String(status)[0]}xx`] ?? response[`${String(status)[0]}XX`];
  if (!schema) return `status ${status} is not declared`;
  let validate = validators.get(schema);
  if (!validate) validators.set(schema, validate = ajv.compile(withoutIds(schema) as object));
  const text = payload === undefined || payload === null ? '' : String(payload);
  const data = text === '' ? null : contentType.startsWith('application/json') ? JSON.parse(text) : text;
  if (validate(data)) return null;
  // Name the field an additionalProperties error is about: Ajv's own text does not.
  return (validate.errors ?? []).map((e) => `body${e.instancePath} ${e.message}${e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : ''}`).join('; ');
}

/** What broke the response contract in this app since the last call (which forgets it). */
export function takeResponseContractBreaks(app: object): string[] {
  const list = contractBreaks.get(app) ?? [];
  contractBreaks.delete(app);
  return list;
}

responseContract.check = (app, { req, reply, payload }) => {
  if (req.method === 'HEAD' || reply.statusCode >= 500 || !req.routeOptions.url || req.is404) return;
  if (typeof payload !== 'string' && payload !== undefined && payload !== null) return; // a stream (none today)
  const response = req.routeOptions.schema?.response as Record<string, object> | undefined;
  let why: string | null;
  try {
    why = breaksContract(response, reply.statusCode, String(reply.getHeader('content-type') ?? ''), payload);
  } catch (err) {
    why = `the answer could not be checked: ${(err as Error).message}`; // never fails the request itself
  }
  if (why === null) return;
  const list = contractBreaks.get(app as object) ?? [];
  list.push(`${req.method} ${req.routeOptions.url} -> ${reply.statusCode}: ${why}`);
  contractBreaks.set(app as object, list);
};

/** A fresh database per test: PostgreSQL when HANGAR_TEST_STORE=postgres (or `postgres` is asked for)
 *  and HANGAR_TEST_DATABASE_URL is set, else SQLite (in memory unless a file is given). */
export async function freshStore(opts: { postgres?: boolean; sqliteFile?: string } = {}): Promise<{ url: string; drop(): Promise<void> }> {
  const base = (opts.postgres ?? process.env.HANGAR_TEST_STORE === 'postgres') ? process.env.HANGAR_TEST_DATABASE_URL : undefined;
  if (!base) return { url: opts.sqliteFile ?? ':memory:', drop: async () => {} };
  const name = `hangar_test_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pgClient.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pgClient.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function startTest(opts: {
  heads?: Omit<HeadSpec, 'driver'>[]; config?: Partial<ClusterConfig>; driver?: () => FakeDriver;
  /** Keep a SQLite store in this file, so another process (the `hangar` CLI) can open it. */
  sqliteFile?: string;
  /** Open this existing store instead of a fresh one (a second brain, or a restart); it is not dropped on close. */
  storeUrl?: string;
  /** The secret box (a restarted or second brain needs the first one's to open what it sealed). */
  secrets?: SecretBox;
} = {}): Promise<TestHangar> {
  const store = opts.storeUrl ? { url: opts.storeUrl, drop: async () => {} } : await freshStore({ sqliteFile: opts.sqliteFile });
  const drivers: FakeDriver[] = [];
  const heads = (opts.heads ?? [{ label: 'head1', zone: 'default' }]).map((h) => {
    const driver = opts.driver ? opts.driver() : new FakeDriver();
    drivers.push(driver);
    return { resyncMs: 60_000, ...h, driver };
  });
  const running = await startHangar({
    storeUrl: store.url, secrets: opts.secrets ?? SecretBox.ephemeral(), heads, log: pg({ level: process.env.HANGAR_TEST_LOG ?? 'silent' }),
    config: { headWaitMs: 2000, ...opts.config }, authPrefix: '/auth',
  }).catch(async (err) => {
    await store.drop();
    throw err;
  });
  await bootstrap(running.hangar, { HANGAR_ADMIN_USER: ADMIN.username, HANGAR_ADMIN_PASSWORD: ADMIN.password, HANGAR_DEMO_ACCOUNT: '' });

  const req: TestHangar['req'] = async (method, url, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let payload: string | undefined;
    if (o.raw !== undefined) payload = o.raw;
    else if (o.body !== undefined) payload = JSON.stringify(o.body);
    if (payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await running.app.inject({ method: method as 'GET', url, headers, payload, remoteAddress: o.address });
    let body: unknown = undefined;
    if (res.body && String(res.headers['content-type'] ?? '').startsWith('application/json')) body = JSON.parse(res.body);
    return { status: res.statusCode, body, text: res.body, headers: res.headers };
  };
  const login = async (username: string, password: string, extra: Record<string, string> = {}) => {
    const r = await req('POST', '/session', { body: { username, password, validity: '1800', ...extra } });
    if (r.status !== 200) throw new Error(`login ${username} failed: ${r.status} ${r.text}`);
    return r.text;
  };
  const adminToken = await login(ADMIN.username, ADMIN.password);
  const t: TestHangar = {
    running, storeUrl: store.url, drivers, adminToken, req, login,
    async user(username, grant, home) {
      const password = `${username}-password-1`;
      const body = { username, password, email: `${username}@example.com`, ...(home !== undefined ? { home_account_id: home } : {}) };
      const c = await req('POST', '/users', { token: adminToken, body });
      if (c.status !== 201) throw new Error(`create user ${username}: ${c.status} ${c.text}`);
      if (grant) {
        const g = await req('POST', `/users/${username}/privileges`, { token: adminToken, body: grant });
        if (g.status !== 201) throw new Error(`grant ${username}: ${g.status} ${g.text}`);
      }
      return login(username, password);
    },
    async close() {
      await running.close();
      await store.drop();
      const breaks = takeResponseContractBreaks(running.app);
      if (breaks.length) throw new Error(`answers broke their route's response schema (src/api/bigv/responses.ts, src/api/responses.ts):\n${[...new Set(breaks)].join('\n')}`);
    },
  };
  return t;
}

/** Poll until `check` returns a truthy value (bounded). */
export async function until<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An account with its default group, created by the admin. */
export async function account(t: TestHangar, name: string): Promise<{ id: number; defaultGroupId: number }> {
  const r = await t.req('POST', '/accounts', { token: t.adminToken, body: { name } });
  if (r.status !== 201) throw new Error(`create account: ${r.status} ${r.text}`);
  const g = await t.req('GET', `/accounts/${name}/groups/default`, { token: t.adminToken });
  return { id: r.body.id, defaultGroupId: g.body.id };
}

export const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@hangar';

/** Run `fn` against a fresh Hangar holding an account `acme`, closed afterwards whatever happens. */
export async function withAcme(fn: (t: TestHangar) => Promise<void>, opts: Parameters<typeof startTest>[0] = {}): Promise<void> {
  const t = await startTest(opts);
  try {
    await account(t, 'acme');
    await fn(t);
  } finally {
    await t.close();
  }
}

/**
 * A bare store (no migration run yet) and a migrator over every migration, for tests that write
 * rows as an older Hangar did and then migrate them: PostgreSQL or SQLite as `freshStore` picks.
 */
export async function migratableStore(): Promise<{ db: Kysely<any>; migrator: Migrator; close(): Promise<void> }> {
  const store = await freshStore();
  const db = new Kysely<any>({
    dialect: store.url === ':memory:'
      ? new SqliteDialect({ database: new SQLite(':memory:') })
      : new PostgresDialect({ pool: new pgClient.Pool({ connectionString: store.url, max: 2 }) }),
  });
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations(SecretBox.ephemeral()) } });
  return { db, migrator, close: async () => { await db.destroy(); await store.drop(); } };
}
