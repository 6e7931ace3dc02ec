// What the Gigas tests share: a Hangar on SQLite or PostgreSQL with two tenants (alice in `acme`,
// bob in `other`, each account_admin of their home account), their Gigas tokens, and a request
// helper that speaks Gigas' wire forms (raw token header, JSON or form bodies).
import { account, freshStore, startTest, until, type Reply, type TestHangar } from '../helpers.js';
import { storesFor, type StoreCase } from '../core/fixture.js';

export { storesFor, type StoreCase };

export interface GigasFx {
  t: TestHangar;
  acme: { id: number; uuid: string };
  other: { id: number; uuid: string };
  /** Gigas tokens (POST /token). */
  alice: string;
  bob: string;
  /** A Gigas request: `token` sent raw in Authorization; `form` posts a form body. */
  g(method: string, url: string, opts?: { token?: string | null; body?: unknown; form?: Record<string, string | string[]>; headers?: Record<string, string> }): Promise<Reply>;
  /** Create a VM from the tiny template over Gigas in acme as alice; its id and create token. */
  create(fields?: Record<string, unknown>): Promise<{ id: string; queue_token: string; body: any }>;
  /** Until the transaction is complete. */
  complete(token: string, as?: string): Promise<void>;
}

export function formBody(fields: Record<string, string | string[]>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) p.append(k, one);
  return p.toString();
}

export async function gigasToken(t: TestHangar, login: string, password: string): Promise<string> {
  const r = await t.req('POST', '/token', { body: { login, password } });
  if (r.status !== 200) throw new Error(`token for ${login}: ${r.status} ${r.text}`);
  return r.body.token;
}

export async function withGigas(store: StoreCase, fn: (fx: GigasFx) => Promise<void>): Promise<void> {
  const db = await freshStore({ postgres: store.postgres });
  const t = await startTest({ storeUrl: db.url });
  try {
    const acme = await account(t, 'acme');
    const other = await account(t, 'other');
    const uuidOf = async (id: number) => (await t.running.hangar.db.selectFrom('accounts').select('uuid').where('id', '=', id).executeTakeFirstOrThrow()).uuid;
    await t.user('alice', { level: 'account_admin', account_id: acme.id }, acme.id);
    await t.user('bob', { level: 'account_admin', account_id: other.id }, other.id);
    const alice = await gigasToken(t, 'alice', 'alice-password-1');
    const bob = await gigasToken(t, 'bob', 'bob-password-1');
    const g: GigasFx['g'] = (method, url, o = {}) => {
      const token = o.token === undefined ? alice : o.token;
      const headers: Record<string, string> = { ...(token ? { authorization: token } : {}), ...o.headers };
      if (o.form) return t.req(method, url, { raw: formBody(o.form), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
      return t.req(method, url, { body: o.body, headers });
    };
    const tiny = (await t.running.hangar.db.selectFrom('images').select('id').where('name', '=', 'tiny').executeTakeFirstOrThrow()).id;
    const zone = (await t.running.hangar.db.selectFrom('zones').select('id').where('name', '=', 'default').executeTakeFirstOrThrow()).id;
    const fx: GigasFx = {
      t, alice, bob, g,
      acme: { id: acme.id, uuid: await uuidOf(acme.id) },
      other: { id: other.id, uuid: await uuidOf(other.id) },
      async create(fields = {}) {
        const r = await g('POST', `/account/${acme.id}/virtual_machine`, {
          body: { memory: '256', cpus: '1', label: 'web one', hostname: 'web1', primary_disk_size: '1', location_id: String(zone), template_id: String(tiny), ...fields },
        });
        if (r.status !== 202) throw new Error(`create: ${r.status} ${r.text}`);
        return { id: r.body.id, queue_token: r.body.queue_token, body: r.body };
      },
      async complete(token, as = alice) {
        await until(`transaction ${token}`, async () => {
          const r = await g('GET', `/transaction/${token}/status`, { token: as });
          if (r.body?.status === 'failed') throw new Error(`transaction ${token} failed`);
          return r.body?.status === 'complete';
        });
      },
    };
    await fn(fx);
  } finally {
    await t.close();
    await db.drop();
  }
}
