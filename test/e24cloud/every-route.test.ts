// Every registered e24cloud route (enumerated, not listed by hand), from five callers: no
// credential and a malformed one (401), another tenant with the owner's ids (404 wherever an id
// names the owner's thing), a user holding only vm_console on the owner's VM (nothing lands but what
// that right grants: a route answering a `console`), and the owner. Every answer is the envelope;
// nothing but the owner's own acts and the console user's consoles writes anything; no
// route answers 5xx except the documented 501s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SSH_KEY, startTest, until } from '../helpers.js';
import { snapshot, type Snapshot } from '../snapshot.js';
import type { RegisteredRoute } from '../../src/api/app.js';
import { routesOf } from '../routes.js';
import { e24Tenant, signer, type Pair } from './client.js';

/** A route whose answer is a console: what vm_console grants. */
const opensConsole = (r: RegisteredRoute) => {
  const ok = (r.schema?.response as Record<string, { properties?: object }> | undefined)?.[200];
  return ok?.properties !== undefined && 'console' in ok.properties;
};
/** The store as a snapshot holds it, without the operations that opened consoles. */
const withoutConsoles = (s: Snapshot) => ({ ...s, operations: s.operations!.filter((o) => (o as string[])[1] !== 'console.open') });

test('every e24cloud route: 401 without a valid signature, 404 for another tenant\'s ids, no write from a console-only user, the envelope always, never 5xx but 501', async () => {
  const t = await startTest();
  try {
    const a = await e24Tenant(t, 'acme');
    const b = await e24Tenant(t, 'beta');
    const templates = (await a.signed('GET', '/v2/templates')).body.templates;
    const tiny = templates.find((x: { label: string }) => /tiny/i.test(x.label)).id;
    const made = await a.signed('PUT', '/v2/virtual-machines', { create_vm: { cpus: 1, ram: 256, name: 'web', os: tiny } });
    assert.equal(made.status, 200, made.text);
    const vmId = made.body.virtual_machine.id;
    const vm = await until('online', async () => { const v = (await a.signed('GET', `/v2/virtual-machines/${vmId}`)).body.virtual_machine; return v.state === 'online' ? v : null; }, 10_000);
    const key = (await a.signed('PUT', '/v2/account/sshkey', { name: 'k', method: 'upload', content: SSH_KEY })).body.sshkeys.id;
    const vmRow = await t.running.hangar.db.selectFrom('vms').select('id').where('uuid', '=', vmId).executeTakeFirstOrThrow();
    const consToken = await t.user('cons', { level: 'vm_console', virtual_machine_id: vmRow.id });
    const consPair = (await t.req('PUT', '/v2/account/api', { token: consToken, body: {} })).body.api as Pair;
    const cons = signer(t.running.app, () => consPair);

    const ids: Record<string, string> = {
      'virtual-machines': vmId, 'storage-volumes': vm.storage_volumes[0].id, 'ipv4-addresses': vm.public_interface.ipv4_addresses[0].id,
      'disk-images': '00000000-0000-4000-8000-000000000000', account: String(key), vlans: '1',
    };
    const routes = routesOf(t.running.app, 'e24cloud').filter((r) => r.method !== 'HEAD');
    assert.ok(routes.length >= 30, `the e24cloud routes were collected (${routes.length})`);
    const url = (template: string) => template.replace(/^\/v2\/([a-z0-9-]+)\/:id/, (_m, kind: string) => `/v2/${kind}/${ids[kind]}`);
    const bodyFor = (r: (typeof routes)[number]) => {
      if (r.method === 'GET') return undefined;
      const props = Object.keys((r.schema?.body as { properties?: object } | undefined)?.properties ?? {});
      const body: Record<string, unknown> = {};
      if (props.includes('virtual_machine_id')) body.virtual_machine_id = vmId;
      if (props.includes('storage_volume_id')) body.storage_volume_id = ids['storage-volumes'];
      if (props.includes('api_key')) body.api_key = a.pair.api_key;
      if (props.includes('name')) body.name = 'renamed';
      return body;
    };
    const wrong: string[] = [];
    const check = (who: string, r: (typeof routes)[number], res: { status: number; body: any; text: string }, ok: (s: number) => boolean) => {
      const envelope = res.body && typeof res.body.success === 'boolean' && (res.body.success || typeof res.body.error === 'string');
      if (!envelope || !ok(res.status) || (res.status >= 500 && res.status !== 501)) wrong.push(`${who} ${r.method} ${r.url} -> ${res.status} ${res.text.slice(0, 160)}`);
    };

    const before = await snapshot(t);
    for (const r of routes) {
      const u = url(r.url);
      const body = bodyFor(r);
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers = payload ? { 'content-type': 'application/json' } : undefined;
      check('nobody', r, await t.req(r.method, u, { ...(payload ? { raw: payload } : {}), ...(headers ? { headers } : {}) }), (s) => s === 401);
      check('garbage', r, await t.req(r.method, u, { ...(payload ? { raw: payload } : {}), headers: { ...headers, authorization: `${a.pair.api_key}:${'A'.repeat(43)}=`, 'x-date': new Date().toUTCString() } }), (s) => s === 401);
      const foreign = /:id/.test(r.url) && !r.url.startsWith('/v2/vlans');
      check('other tenant', r, await b.signed(r.method, u, body), (s) => (foreign ? s === 404 : s < 300 || s === 400 || s === 404 || s === 501));
      // Their own account's routes (a key pair of their own) are theirs to use.
      if (r.method !== 'GET') check('console user', r, await cons(r.method, u, body), (s) => s >= 400 || r.url.startsWith('/v2/account') || opensConsole(r));
    }
    assert.deepEqual(wrong, []);
    // Their key pairs and the console user's own are the only writes... made before the snapshot.
    assert.deepEqual(withoutConsoles(await snapshot(t)), withoutConsoles(before), 'no caller but the owner wrote anything');

    // The owner: every route answers the envelope, reads before writes, the VM's delete last.
    const order = [...routes].sort((x, y) => Number(x.method !== 'GET') - Number(y.method !== 'GET') || Number(x.url === '/v2/virtual-machines/:id' && x.method === 'DELETE') - Number(y.url === '/v2/virtual-machines/:id' && y.method === 'DELETE'));
    for (const r of order) {
      if (r.url === '/v2/account/api' && r.method === 'DELETE') continue; // would end the owner's own credential mid-run
      check('owner', r, await a.signed(r.method, url(r.url), bodyFor(r)), () => true);
    }
    assert.deepEqual(wrong, []);
  } finally {
    await t.close();
  }
});
