// Regression (issue 7, defect 4): a repeated query parameter was a 500 (`?account_id=a&account_id=b`
// reached the handler as an array: "segment.toLowerCase is not a function", "row value misused").
// Every registered route now declares its querystring and params schemas and Fastify validates
// them before the handler. The routes are enumerated from the app itself (never a hand list), so a
// new route cannot escape: each declared query parameter, given twice or as garbage, is a 400 in
// BigV's shape naming it; a path segment past its schema is a 404; nothing is ever a 5xx.
// Also defect 9: `purge=yes` (what the Ansible modules send) purges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest, type Reply, type TestHangar } from '../helpers.js';
import { runningNow, snapshot } from '../snapshot.js';
import { registeredRoutes, type RegisteredRoute } from '../../src/api/app.js';
import { boundedQuery, routesOf } from '../routes.js';

const WEB1 = '/accounts/acme/groups/default/virtual_machines/web1';

interface Fx {
  t: TestHangar;
  /** Session tokens by caller: a cluster admin and a plain tenant (account_admin on acme). */
  callers: { admin: string; tenant: string };
  /** What fills each path parameter so that both callers reach the route. */
  fill(url: string, caller: 'admin' | 'tenant'): string;
}

async function fixture(): Promise<Fx> {
  const t = await startTest();
  const admin = async (method: string, url: string, body?: unknown, status = [200, 201, 202]) => {
    const r = await t.req(method, url, { token: t.adminToken, body });
    if (!status.includes(r.status)) throw new Error(`${method} ${url}: ${r.status} ${r.text}`);
    return r.body;
  };
  const acme = await account(t, 'acme');
  const web1 = (await admin('POST', '/accounts/acme/groups/default/vm_create', {
    virtual_machine: { name: 'web1', power_on: true }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }],
  })).virtual_machine;
  const create = await t.running.hangar.db.selectFrom('operations').select('uuid').where('vm_id', '=', web1.id).where('kind', '=', 'vm.create').executeTakeFirstOrThrow();
  await runningNow(t, web1.id);
  const backup = await admin('POST', `${WEB1}/discs/disc-1/backups`);
  const schedule = await admin('POST', `${WEB1}/discs/disc-1/backup_schedules`, { interval_seconds: 86400 });
  const tenant = await t.user('tenant', { level: 'account_admin', account_id: acme.id });
  const key = (await t.req('POST', '/api_keys', { token: tenant, body: { label: 'tk' } })).body;
  const priv = (await admin('GET', '/users/tenant/privileges'))[0];
  const ip = web1.network_interfaces[0].ips.find((a: string) => a.includes('.'));
  const callers = { admin: t.adminToken, tenant };
  const byName: Record<string, string> = {
    acc: 'acme', grp: 'default', vm: 'web1', disc: 'disc-1', nic: String(web1.network_interfaces[0].id), backup: backup.label,
    user: 'tenant', address: ip,
  };
  // `:id` names a different kind of row depending on the collection before it.
  const byCollection: Record<string, string> = {
    virtual_machines: String(web1.id), discs: String(web1.discs[0].id), nics: String(web1.network_interfaces[0].id),
    privileges: String(priv.id), api_keys: String(key.id), backup_schedules: String(schedule.id), operations: create.uuid,
  };
  const fill = (url: string, caller: 'admin' | 'tenant') => url.split('/').map((seg, i, all) => {
    if (!seg.startsWith(':')) return seg;
    const name = seg.slice(1);
    const value = name === 'token' ? callers[caller] : name === 'id' ? byCollection[all[i - 1]!] : byName[name];
    if (value === undefined) throw new Error(`the test has no value for ${seg} in ${url}: add one to the fixture`);
    return encodeURIComponent(value);
  }).join('/');
  return { t, callers, fill };
}

type Props = Record<string, { type?: string; enum?: unknown[]; const?: unknown }>;
const props = (schema: unknown): Props => ((schema as { properties?: Props } | undefined)?.properties ?? {});
const queryParams = (r: RegisteredRoute) => props(r.schema?.querystring);
const isAuth = (r: RegisteredRoute) => /\/session(\/|$)/.test(r.url);

/** A value the parameter's schema accepts: repeats are refused whatever the value. */
function sample(s: Props[string]): string {
  if (s.type === 'boolean') return 'true';
  if (s.const !== undefined) return String(s.const);
  if (s.enum) return String(s.enum[0]);
  return '1';
}

/** A 4xx in the route's dialect: BigV's `{"field":["message"]}` for 400, `{"error":...}` else; the auth server's text. */
function assertShape(r: RegisteredRoute, reply: Reply, what: string, field?: string): void {
  assert.ok(reply.status >= 400 && reply.status < 500, `${what}: a 4xx, got ${reply.status} ${reply.text.slice(0, 200)}`);
  if (isAuth(r)) {
    assert.match(String(reply.headers['content-type']), /^text\/plain/, `${what}: text`);
    return;
  }
  assert.equal(reply.headers['content-type'], 'application/json', `${what}: JSON`);
  if (reply.status !== 400) {
    assert.equal(typeof reply.body.error, 'string', `${what}: {"error":...}, got ${reply.text}`);
    return;
  }
  for (const [k, v] of Object.entries(reply.body)) {
    assert.ok(Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === 'string'), `${what}: ${k} holds a list of messages: ${reply.text}`);
  }
  if (field) assert.deepEqual(Object.keys(reply.body), [field], `${what}: names ${field}: ${reply.text}`);
}

test('every registered route declares its querystring and params schemas, and /openapi.json shows them', async () => {
  const t = await startTest();
  try {
    const routes = registeredRoutes(t.running.app);
    assert.ok(routes.length > 50, `routes were collected (${routes.length})`);
    const missing: string[] = [];
    for (const r of routes) {
      const route = `${r.method} ${r.url}`;
      for (const part of ['querystring', 'params'] as const) {
        const s = r.schema?.[part] as { type?: string } | undefined;
        if (s?.type !== 'object') missing.push(`${route}: no ${part} schema`);
      }
      // The params schema names exactly the route's path parameters.
      const inPath = [...r.url.matchAll(/:(\w+)/g)].map((m) => m[1]).sort().join();
      const declared = Object.keys(props(r.schema?.params)).sort().join();
      if (declared !== inPath) missing.push(`${route}: params schema names [${declared}], the path [${inPath}]`);
    }
    assert.deepEqual(missing, [], missing.join('\n'));

    const doc = (await t.req('GET', '/openapi.json')).body;
    const notShown: string[] = [];
    for (const r of routes) {
      if (r.method === 'HEAD' || r.schema?.hide) continue;
      const path = r.url.replace(/:(\w+)/g, '{$1}');
      const op = doc.paths?.[path]?.[r.method.toLowerCase()];
      if (!op) {
        notShown.push(`${r.method} ${r.url}: not in the document`);
        continue;
      }
      const shown = new Set((op.parameters ?? []).map((p: { in: string; name: string }) => `${p.in}:${p.name}`));
      for (const name of Object.keys(queryParams(r))) if (!shown.has(`query:${name}`)) notShown.push(`${r.method} ${r.url}: query ${name}`);
      for (const name of Object.keys(props(r.schema?.params))) if (!shown.has(`path:${name}`)) notShown.push(`${r.method} ${r.url}: path ${name}`);
    }
    assert.deepEqual(notShown, [], notShown.join('\n'));
    // The query boolean's vocabulary is part of the document, not only of the code.
    const purge = doc.paths['/accounts/{acc}/groups/{grp}/virtual_machines/{vm}'].delete.parameters.find((p: { name: string }) => p.name === 'purge');
    assert.equal(purge.schema.type, 'boolean');
    assert.match(purge.description ?? purge.schema.description ?? '', /yes/);
  } finally {
    await t.close();
  }
});

test('every GET route: each declared query parameter given twice or as garbage is a 400 naming it, never a 5xx (cluster admin and tenant)', async () => {
  const fx = await fixture();
  try {
    const gets = routesOf(fx.t.running.app, 'bigv').filter((r) => r.method === 'GET' && !r.schema?.hide);
    assert.ok(gets.some((r) => Object.keys(queryParams(r)).length > 0), 'some GET routes declare query parameters');
    const wrong: string[] = [];
    let sent = 0;
    for (const r of gets) {
      for (const caller of ['admin', 'tenant'] as const) {
        const token = fx.callers[caller];
        const path = fx.fill(r.url, caller);
        const send = async (query: string) => {
          sent++;
          const q = boundedQuery(r, query);
          return fx.t.req('GET', q ? `${path}?${q}` : path, { token: r.url.startsWith('/session') ? null : token });
        };
        const check = (what: string, fn: () => void) => {
          try {
            fn();
          } catch (err) {
            wrong.push(`${caller} GET ${r.url} ${what}: ${(err as Error).message.split('\n')[0]}`);
          }
        };
        const base = await send('');
        check('(no query)', () => assert.equal(base.status, 200, `reachable: ${base.status} ${base.text.slice(0, 200)}`));
        for (const [name, schema] of Object.entries(queryParams(r))) {
          const v = sample(schema);
          const alone = await send(`${name}=${v}`);
          // Given once, the value passes the schema (it may name nothing the caller can see: a 404).
          check(`${name}=${v}`, () => assert.ok([200, 404].includes(alone.status), `${alone.status} ${alone.text.slice(0, 200)}`));
          for (const query of [`${name}=${v}&${name}=${v}`, `${name}=${v}&${name}=other`, `${name}=&${name}=${v}`]) {
            const reply = await send(query);
            check(query, () => {
              assert.equal(reply.status, 400, `${reply.status} ${reply.text.slice(0, 200)}`);
              assertShape(r, reply, query, name);
              assert.deepEqual(reply.body, { [name]: ['must be given only once'] });
            });
          }
          for (const garbage of ['%ff', 'x'.repeat(5000), '', '[object Object]', '%00', 'true%20false', '{}']) {
            const query = `${name}=${garbage}`;
            const reply = await send(query);
            check(query.slice(0, 40), () => {
              assert.equal(reply.status, 400, `${reply.status} ${reply.text.slice(0, 200)}`);
              assertShape(r, reply, query.slice(0, 40), name);
            });
          }
          // The querystring parser reads no brackets: these are other, unknown parameters, which are ignored.
          for (const query of [`${name}[]=${v}&${name}[]=${v}`, `${name}[a]=1`, `${name}[]=`]) {
            const reply = await send(query);
            check(query, () => assert.equal(reply.status, 200, `${reply.status} ${reply.text.slice(0, 200)}`));
          }
        }
        // A path segment longer than any id or name names nothing.
        if (r.url.includes(':')) {
          const reply = await fx.t.req('GET', fx.fill(r.url, caller).replace(/\/[^/]+$/, `/${'n'.repeat(300)}`), { token });
          if (/\/:\w+$/.test(r.url)) check('a 300-character segment', () => { assert.equal(reply.status, 404); assertShape(r, reply, 'long segment'); });
        }
      }
    }
    assert.deepEqual(wrong, [], `${wrong.length} of ${sent} wrong:\n${wrong.join('\n')}`);
  } finally {
    await fx.t.close();
  }
});

test('every route that is not a GET: a repeated query parameter is a 400 naming it, and changes nothing', async () => {
  const fx = await fixture();
  try {
    const routes = routesOf(fx.t.running.app, 'bigv').filter((r) => r.method !== 'GET' && r.method !== 'HEAD' && Object.keys(queryParams(r)).length > 0);
    assert.ok(routes.some((r) => r.method === 'DELETE'), 'the DELETE routes declare purge');
    const wrong: string[] = [];
    for (const r of routes) {
      for (const [name, schema] of Object.entries(queryParams(r))) {
        const query = `${name}=${sample(schema)}&${name}=${sample(schema)}`;
        const before = await snapshot(fx.t);
        const reply = await fx.t.req(r.method, `${fx.fill(r.url, 'admin')}?${query}`, { token: fx.callers.admin, body: r.method === 'DELETE' ? undefined : {} });
        try {
          assert.equal(reply.status, 400, `${reply.status} ${reply.text.slice(0, 200)}`);
          assertShape(r, reply, query, name);
          assert.deepEqual(await snapshot(fx.t), before, 'the store changed');
        } catch (err) {
          wrong.push(`${r.method} ${r.url}?${query}: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
    assert.deepEqual(wrong, [], wrong.join('\n'));
  } finally {
    await fx.t.close();
  }
});

test('purge=yes purges (the Ansible modules send yes): query booleans take yes/no, on/off, 1/0, true/false in any case; anything else is a 400', async () => {
  const fx = await fixture();
  const { t } = fx;
  const as = (method: string, url: string, body?: unknown) => t.req(method, url, { token: t.adminToken, body });
  try {
    const vmsPath = '/accounts/acme/groups/default/virtual_machines';
    const exists = async (name: string) => (await as('GET', `${vmsPath}/${name}?include_deleted=true`)).status === 200;
    const deleted = async (name: string) => (await as('GET', `${vmsPath}/${name}?include_deleted=1`)).body?.deleted === true;
    for (const [i, value] of ['yes', 'on', '1', 'true', 'YES', 'On', 'True', 'TRUE'].entries()) {
      const name = `p${i}`;
      assert.equal((await as('POST', vmsPath, { name })).status, 202);
      const r = await as('DELETE', `${vmsPath}/${name}?purge=${value}`);
      assert.equal(r.status, 204, `purge=${value}: ${r.text}`);
      assert.equal(await exists(name), false, `purge=${value} purged ${name}`);
    }
    for (const [i, value] of ['no', 'off', '0', 'false', 'False', 'NO', 'Off'].entries()) {
      const name = `s${i}`;
      assert.equal((await as('POST', vmsPath, { name })).status, 202);
      const r = await as('DELETE', `${vmsPath}/${name}?purge=${value}`);
      assert.equal(r.status, 204, `purge=${value}: ${r.text}`);
      assert.equal(await deleted(name), true, `purge=${value} is a soft delete of ${name}`);
      assert.equal((await as('GET', `${vmsPath}/${name}?include_deleted=off`)).status, 404, 'include_deleted=off hides it');
    }
    // Garbage is never silently false: a 400 on the parameter, and the VM is untouched.
    assert.equal((await as('POST', vmsPath, { name: 'keep' })).status, 202);
    for (const value of ['maybe', 'y', 't', '2', '', 'truee', 'yes,no']) {
      const before = await snapshot(t);
      const r = await as('DELETE', `${vmsPath}/keep?purge=${value}`);
      assert.equal(r.status, 400, `purge=${value}: ${r.status} ${r.text}`);
      assert.deepEqual(Object.keys(r.body), ['purge'], r.text);
      assert.deepEqual(await snapshot(t), before, `purge=${value} changed nothing`);
    }
    // Discs need purge to be deleted at all: yes does it.
    const r = await as('DELETE', `${WEB1}/discs/disc-1?purge=yes`);
    assert.equal(r.status, 204, r.text);
    assert.equal((await as('GET', `${WEB1}/discs/disc-1`)).status, 404);
  } finally {
    await t.close();
  }
});
