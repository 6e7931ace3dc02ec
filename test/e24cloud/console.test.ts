// e24cloud's console over the fake driver: a running VM's console answers the seed's {host, port,
// password} (and expires_at, when QEMU starts refusing the password); the head was asked to set that
// password with that expiry. A VM that is off is refused in the envelope, as are another tenant's VM
// and unknown ids, with nothing written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers.js';
import { snapshot } from '../snapshot.js';
import { e24Tenant, withStore } from './client.js';
import { CONSOLE_TTL_MS } from '../../src/core/console.js';

for (const postgres of [false, true]) {
  test(`console: host, port and an expiring password for a running VM; refused for one that is off, another tenant's, an unknown id (${postgres ? 'PostgreSQL' : 'SQLite'})`, async (ctx) => {
    await withStore('console', async (t) => {
      const a = await e24Tenant(t, 'acme');
      const b = await e24Tenant(t, 'beta');
      const tiny = (await a.signed('GET', '/v2/templates')).body.templates.find((x: { label: string }) => /tiny/i.test(x.label)).id;
      const make = async (name: string) => {
        const r = await a.signed('PUT', '/v2/virtual-machines', { create_vm: { cpus: 1, ram: 256, name, os: tiny } });
        assert.equal(r.status, 200, r.text);
        const id = r.body.virtual_machine.id as string;
        await until(`${name} online`, async () => (await a.signed('GET', `/v2/virtual-machines/${id}`)).body.virtual_machine.state === 'online' || null, 10_000);
        return id;
      };
      const id = await make('web');
      const row = await t.running.hangar.db.selectFrom('vms').select('id').where('uuid', '=', id).executeTakeFirstOrThrow();

      const before = Date.now();
      const r = await a.signed('POST', `/v2/virtual-machines/${id}/console`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(Object.keys(r.body.console).sort(), ['expires_at', 'host', 'password', 'port']);
      const c = r.body.console;
      assert.equal(r.body.success, true);
      assert.equal(c.host, '127.0.0.1', 'the fake head\'s address');
      assert.equal(c.port, 5900 + row.id);
      assert.match(c.password, /^[A-Za-z0-9]{8}$/);
      const expires = Date.parse(c.expires_at);
      assert.ok(expires >= before + CONSOLE_TTL_MS - 1000 && expires <= Date.now() + CONSOLE_TTL_MS, c.expires_at);
      const set = t.drivers.map((d) => d.consoles.get(row.id)).find(Boolean);
      assert.deepEqual(set, { password: c.password, expiresAt: expires }, 'the head set that password to expire then');
      const again = (await a.signed('POST', `/v2/virtual-machines/${id}/console`)).body.console;
      assert.notEqual(again.password, c.password, 'a new password each time');

      const off = await make('off');
      const stop = await a.signed('POST', `/v2/virtual-machines/${off}/poweroff`);
      assert.equal(stop.status, 200, stop.text);
      await until('off', async () => (await a.signed('GET', `/v2/virtual-machines/${off}`)).body.virtual_machine.state === 'offline' || null, 10_000);
      const unchanged = await snapshot(t);
      const refused = await a.signed('POST', `/v2/virtual-machines/${off}/console`);
      assert.equal(refused.status, 409, refused.text);
      assert.deepEqual([refused.body.success, refused.body.code], [false, 'state']);
      assert.match(refused.body.error, /not powered on/);
      for (const [who, vm] of [[b, id], [a, '00000000-0000-4000-8000-000000000000'], [a, '1']] as const) {
        const r404 = await who.signed('POST', `/v2/virtual-machines/${vm}/console`);
        assert.equal(r404.status, 404, r404.text);
        assert.equal(r404.body.success, false);
      }
      assert.equal((await a.signed('POST', `/v2/virtual-machines/${id}/console`, { extra: 1 })).status, 400);
      assert.deepEqual(await snapshot(t), unchanged, 'nothing written by a refusal');
    }, postgres, ctx);
  });
}
