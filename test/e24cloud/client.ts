// Test client for the e24cloud dialect, signing as the public clients do (e24cloud.md §2): e24py
// (method, Host, X-Date from formatdate(usegmt=True), path+query, json.dumps(body)) and the Go
// docker-machine driver (the same without the query string).
import type { FastifyInstance } from 'fastify';
import { account, freshStore, startTest, until, type TestHangar } from '../helpers.js';
import { e24Signature } from '../../src/api/e24cloud/signing.js';

export interface Pair { api_key: string; secret_key: string }
export interface E24Reply { status: number; body: any; text: string; headers: Record<string, unknown> }
export interface SignOpts {
  pair?: Pair; date?: Date | string; raw?: string; host?: string; signedHost?: string; address?: string;
  /** Sign without the query string, as the Go driver does. */
  noQuery?: boolean; tamper?: boolean; headers?: Record<string, string>;
}

export const HOST = 'eu-poland-1poznan.api.e24cloud.com';

export function signer(app: FastifyInstance, defaultPair: () => Pair) {
  // Two identical writes signed in the same second are one write repeated (X-Date has one-second
  // resolution): a client that means two acts signs them a second apart, as this one does.
  let lastWrite = 0;
  return async (method: string, url: string, body?: unknown, o: SignOpts = {}): Promise<E24Reply> => {
    const pair = o.pair ?? defaultPair();
    const payload = o.raw ?? (body === undefined ? '' : JSON.stringify(body));
    let at = o.date;
    if (at === undefined && method !== 'GET') at = new Date(lastWrite = Math.max(Date.now(), lastWrite + 1000));
    const date = typeof at === 'string' ? at : (at ?? new Date()).toUTCString();
    const host = o.host ?? HOST;
    const signed = o.noQuery ? url.split('?')[0]! : url;
    const sig = e24Signature(pair.secret_key, method, o.signedHost ?? host, date, signed, o.tamper ? `${payload} ` : payload);
    const headers: Record<string, string> = { host, 'x-date': date, authorization: `${pair.api_key}:${sig}`, 'content-type': 'application/json', ...o.headers };
    const res = await app.inject({ method: method as 'GET', url, headers, payload: payload === '' ? undefined : payload, remoteAddress: o.address });
    const json = String(res.headers['content-type'] ?? '').startsWith('application/json') && res.body ? JSON.parse(res.body) : undefined;
    return { status: res.statusCode, body: json, text: res.body, headers: res.headers };
  };
}

export interface E24Tenant { name: string; accountId: number; token: string; pair: Pair; signed: ReturnType<typeof signer> }

/** An account `name` with a user `<name>-admin` (account_admin, home there) and a key pair made from her session over /v2. */
export async function e24Tenant(t: TestHangar, name: string): Promise<E24Tenant> {
  const acc = await account(t, name);
  const token = await t.user(`${name}-admin`, { level: 'account_admin', account_id: acc.id }, acc.id);
  const made = await t.req('PUT', '/v2/account/api', { token, body: {} });
  if (made.status !== 200) throw new Error(`key pair for ${name}: ${made.status} ${made.text}`);
  const pair = made.body.api as Pair;
  return { name, accountId: acc.id, token, pair, signed: signer(t.running.app, () => pair) };
}

/** A VM of the tenant's made over /v2 (1 core, 256 MiB, the template `os`), once it is online; its id. */
export async function onlineVm(x: E24Tenant, name: string, os: string): Promise<string> {
  const r = await x.signed('PUT', '/v2/virtual-machines', { create_vm: { cpus: 1, ram: 256, name, os } });
  if (r.status !== 200) throw new Error(`create ${name}: ${r.status} ${r.text}`);
  const id = r.body.virtual_machine.id as string;
  await until(`${name} online`, async () => (await x.signed('GET', `/v2/virtual-machines/${id}`)).body.virtual_machine.state === 'online' || null, 10_000);
  return id;
}

/** A fresh Hangar on SQLite, or on PostgreSQL (skipped, saying why, without HANGAR_TEST_DATABASE_URL). */
export async function withStore(
  what: string, fn: (t: TestHangar) => Promise<void>, postgres: boolean, ctx: { skip: (why: string) => void }, opts: Parameters<typeof startTest>[0] = {},
): Promise<void> {
  if (postgres && !process.env.HANGAR_TEST_DATABASE_URL) {
    ctx.skip(`set HANGAR_TEST_DATABASE_URL=postgres://user@host/db to run the e24cloud ${what} on PostgreSQL`);
    return;
  }
  const store = postgres ? await freshStore({ postgres: true }) : null;
  const t = await startTest({ ...opts, ...(store ? { storeUrl: store.url } : {}) });
  try {
    await fn(t);
  } finally {
    await t.close();
    await store?.drop();
  }
}
