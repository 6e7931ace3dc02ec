// Every Gigas route, enumerated from the app (never a hand list; test/routes.ts): another tenant's
// ids are a 404 that writes nothing, a declared query parameter given twice or as garbage is a 422
// naming it, a body that is not an object, not JSON or carries an unknown field is a 4xx, and a path
// segment longer than any id is a 404, all in Gigas' shape and never a 5xx. A new route fails here
// until the fixture can fill its path parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storesFor, withGigas, type GigasFx } from './fixture.js';
import type { RegisteredRoute } from '../../src/api/app.js';
import { routesOf } from '../routes.js';
import { runningNow, snapshot } from '../snapshot.js';
import type { Reply } from '../helpers.js';

type Props = Record<string, { type?: string; enum?: unknown[]; const?: unknown; anyOf?: { const?: unknown }[]; pattern?: string }>;
const props = (schema: unknown): Props => ((schema as { properties?: Props } | undefined)?.properties ?? {});

/** A value the query parameter's schema accepts. */
function sample(s: Props[string]): string {
  if (s.anyOf?.[0]?.const !== undefined) return String(s.anyOf[0].const);
  if (s.pattern?.startsWith('^(true')) return 'true';
  return '1';
}

function gigasShape(r: Reply, what: string): void {
  assert.ok(r.status >= 400 && r.status < 500, `${what}: a 4xx, got ${r.status} ${r.text.slice(0, 200)}`);
  assert.equal(r.headers['content-type'], 'application/json', `${what}: JSON`);
  assert.equal(typeof r.body.error, 'string', `${what}: {"error": ...}, got ${r.text.slice(0, 200)}`);
  if (r.body.errors !== undefined) {
    for (const v of Object.values(r.body.errors)) assert.ok(Array.isArray(v) && v.every((m) => typeof m === 'string'), `${what}: errors hold lists of messages`);
  }
}

async function world(fx: GigasFx) {
  const { t, g, acme, create, complete } = fx;
  const web = await create({ hostname: 'web' });
  await complete(web.queue_token);
  await runningNow(t, Number(web.id));
  const db = await create({ hostname: 'db', required_virtual_machine_build: false });
  await complete(db.queue_token);
  const network = (await g('GET', `/account/${acme.id}/networks`)).body[0].id;
  const template = (await g('GET', `/account/${acme.id}/templates`)).body[0].id;
  const location = (await g('GET', `/account/${acme.id}/locations`)).body[0].id;
  const grade = (await g('GET', `/account/${acme.id}/data_store_groups`)).body[0].id;
  const values: Record<string, string> = {
    account_id: String(acme.id), virtual_machine_id: web.id, origin_id: web.id, target_id: db.id, template_id: template, location_id: location,
    network_id: network, data_store_group_id: grade, queue_token: web.queue_token, iso_join_id: web.id,
  };
  const fill = (url: string) => url.replace(/:(\w+)/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`the test has no value for :${name} in ${url}: add one to test/gigas/routes.test.ts`);
    return encodeURIComponent(v);
  });
  return { web, db, fill, values };
}

/** A request each route would accept from its owner, so that a refusal is about whose the ids are. */
function validRequest(r: RegisteredRoute, values: Record<string, string>): { query: string; body?: unknown } {
  const query = Object.keys(props(r.schema?.querystring)).includes('period') ? 'period=-1H' : '';
  if (r.method === 'GET' || r.method === 'DELETE') return { query };
  const bodies: Record<string, unknown> = {
    '/virtual_machine': { memory: 256, cpus: 1, hostname: 'h', label: 'l', primary_disk_size: 1, location_id: values.location_id, template_id: values.template_id },
    '/network_interface': { network_id: values.network_id },
    '/firewall_rules': { network_interface_id: 1, command: 'DROP' },
    '/iso': { iso_url: 'https://example.com/a.iso' },
    '/clone': { hostname: 'copy', label: 'copy' },
  };
  const hit = Object.entries(bodies).find(([tail]) => r.url.endsWith(tail));
  return { query, body: hit ? hit[1] : {} };
}

const gigasRoutes = (fx: GigasFx): RegisteredRoute[] => routesOf(fx.t.running.app, 'gigas').filter((r) => r.method !== 'HEAD');

for (const store of storesFor('gigas routes')) {
  test(`every Gigas route: another tenant's ids are a 404 in Gigas' shape that writes nothing (${store.name})`, async () => {
    await withGigas(store, async (fx) => {
      const { fill, values } = await world(fx);
      const routes = gigasRoutes(fx);
      assert.ok(routes.length >= 30, `Gigas routes were collected (${routes.length})`);
      const wrong: string[] = [];
      for (const r of routes) {
        // Routes that name nothing of acme's: the login, the caller's own home account (legacy), its create.
        if (!r.url.includes(':') || r.url === '/network/:network_id/ip_addresses') continue;
        const before = await snapshot(fx.t);
        const { query, body } = validRequest(r, values);
        const reply = await fx.g(r.method, `${fill(r.url)}${query ? `?${query}` : ''}`, { token: fx.bob, body });
        try {
          assert.equal(reply.status, 404, `${reply.status} ${reply.text.slice(0, 200)}`);
          gigasShape(reply, 'refusal');
          assert.deepEqual(await snapshot(fx.t), before, 'the store changed');
        } catch (err) {
          wrong.push(`${r.method} ${r.url}: ${(err as Error).message.split('\n')[0]}`);
        }
      }
      // The legacy lists without an id are the caller's own: none of acme's addresses shows.
      const acmeIps = (await fx.g('GET', '/ip_addresses')).body.map((ip: { address: string }) => ip.address);
      assert.ok(acmeIps.length > 0);
      const bobs = [...(await fx.g('GET', '/ip_addresses', { token: fx.bob })).body, ...(await fx.g('GET', fill('/network/:network_id/ip_addresses'), { token: fx.bob })).body];
      assert.deepEqual(bobs.filter((ip: { address: string }) => acmeIps.includes(ip.address)), []);
      assert.deepEqual(wrong, [], wrong.join('\n'));
    });
  });

  test(`every Gigas route: repeated or garbage query parameters, bad bodies and overlong segments are 4xx in Gigas' shape (${store.name})`, async () => {
    await withGigas(store, async (fx) => {
      const { fill } = await world(fx);
      const wrong: string[] = [];
      const check = (what: string, fn: () => void) => {
        try {
          fn();
        } catch (err) {
          wrong.push(`${what}: ${(err as Error).message.split('\n')[0]}`);
        }
      };
      for (const r of gigasRoutes(fx)) {
        const path = fill(r.url);
        const token = r.url === '/token' ? null : undefined;
        for (const [name, schema] of Object.entries(props(r.schema?.querystring))) {
          const v = sample(schema);
          for (const query of [`${name}=${v}&${name}=${v}`, `${name}=&${name}=${v}`]) {
            const before = r.method === 'GET' ? null : await snapshot(fx.t);
            const reply = await fx.g(r.method, `${path}?${query}`, { token, body: r.method === 'GET' || r.method === 'DELETE' ? undefined : {} });
            check(`${r.method} ${r.url}?${query}`, () => {
              assert.equal(reply.status, 422, `${reply.status} ${reply.text.slice(0, 200)}`);
              gigasShape(reply, query);
              assert.deepEqual(reply.body.errors, { [name]: ['must be given only once'] });
            });
            if (before) {
              const after = await snapshot(fx.t);
              check(`${r.method} ${r.url}?${query} changed the store`, () => assert.deepEqual(after, before));
            }
          }
          for (const garbage of ['%ff', 'x'.repeat(5000), '[object Object]', '%00', '{}']) {
            if (r.method !== 'GET') continue;
            const reply = await fx.g('GET', `${path}?${name}=${garbage}`, { token });
            check(`GET ${r.url}?${name}=${garbage.slice(0, 20)}`, () => {
              // A free-text filter takes most text (and then matches nothing): what it refuses is a 4xx, never a 5xx.
              if (reply.status === 200) return;
              gigasShape(reply, garbage.slice(0, 20));
            });
          }
        }
        if (r.schema?.body) {
          const before = await snapshot(fx.t);
          for (const [what, raw] of [['an array', '[]'], ['a number', '5'], ['null', 'null'], ['not JSON', '{'], ['an unknown field', '{"surely_unknown":1}']] as const) {
            const reply = await fx.t.req(r.method, path, { raw, headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: fx.alice }) } });
            check(`${r.method} ${r.url} with ${what}`, () => gigasShape(reply, what));
          }
          const after = await snapshot(fx.t);
          check(`${r.method} ${r.url}: bad bodies changed the store`, () => assert.deepEqual(after, before));
        }
        if (/\/:\w+$/.test(r.url)) {
          const reply = await fx.g(r.method, path.replace(/\/[^/]+$/, `/${'n'.repeat(300)}`), { body: r.method === 'GET' || r.method === 'DELETE' ? undefined : {} });
          check(`${r.method} ${r.url} with a 300-character segment`, () => {
            assert.equal(reply.status, 404, `${reply.status} ${reply.text.slice(0, 200)}`);
            gigasShape(reply, 'long segment');
          });
        }
      }
      assert.deepEqual(wrong, [], wrong.join('\n'));
    });
  });
}
