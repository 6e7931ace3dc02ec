// e24cloud's IPv4 address ids are the addresses' public ids (migration 025): the id a VM shows in
// `public_interface` is the one the address routes list, get, attach, detach and release take; it
// stays the same while the account holds the address (detached, attached again), and a new holding
// (released to the pool, taken again) is a new id, the old one naming nothing. Another tenant's id is
// 404 in the envelope on every route, with nothing written. On SQLite and PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshot } from '../snapshot.js';
import { e24Tenant, onlineVm, withStore } from './client.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

for (const postgres of [false, true]) {
  test(`IPv4 address ids are their stored public ids on every route, kept while held, new for a new holding; another tenant's is 404 with nothing written (${postgres ? 'PostgreSQL' : 'SQLite'})`, async (ctx) => {
    await withStore('addresses', async (t) => {
      const db = t.running.hangar.db;
      const a = await e24Tenant(t, 'acme');
      const b = await e24Tenant(t, 'beta');
      const tiny = (await a.signed('GET', '/v2/templates')).body.templates.find((x: { label: string }) => /tiny/i.test(x.label)).id;
      const zone = (await a.signed('GET', '/v2/regions')).body.regions[0].zones[0].id;
      const web = await onlineVm(a, 'web', tiny);
      const stored = async (address: string) => (await db.selectFrom('ips').select('uuid').where('address', '=', address).executeTakeFirstOrThrow()).uuid;

      // The VM's primary address: the id shown on the VM is the row's public id, and the address routes take it.
      const primary = (await a.signed('GET', `/v2/virtual-machines/${web}`)).body.virtual_machine.public_interface.ipv4_addresses[0];
      assert.match(primary.id, UUID);
      assert.equal(primary.id, await stored(primary.ipv4_address));
      assert.equal((await a.signed('GET', `/v2/ipv4-addresses/${primary.id}`)).body.ipv4_address.ipv4_address, primary.ipv4_address);
      assert.equal((await a.signed('GET', `/v2/ipv4-addresses/${primary.id.toUpperCase()}`)).body.ipv4_address.id, primary.id, 'any case');

      // A new address held by the account: the id it is given is its row's, listed with no VM.
      const made = await a.signed('PUT', '/v2/ipv4-addresses', { zone_id: zone });
      assert.equal(made.status, 200, made.text);
      const held = made.body.ipv4_address;
      assert.equal(held.id, await stored(held.ipv4_address));
      assert.deepEqual((await a.signed('GET', '/v2/ipv4-addresses')).body.ipv4_addresses.map((x: any) => x.id).sort(), [primary.id, held.id].sort());

      // Another tenant's ids name nothing, on every route, and nothing is written.
      const theirs = await onlineVm(b, 'theirs', tiny);
      const before = await snapshot(t);
      for (const id of [primary.id, held.id]) {
        for (const [method, url, body] of [
          ['GET', `/v2/ipv4-addresses/${id}`, undefined], ['DELETE', `/v2/ipv4-addresses/${id}`, undefined],
          ['POST', `/v2/ipv4-addresses/${id}/attach`, { virtual_machine_id: theirs }], ['POST', `/v2/ipv4-addresses/${id}/detach`, undefined],
        ] as const) {
          const r = await b.signed(method, url, body);
          assert.deepEqual([r.status, r.body.success, r.body.code], [404, false, 'not_found'], `${method} ${url}: ${r.text}`);
        }
      }
      assert.equal((await b.signed('GET', '/v2/ipv4-addresses')).body.ipv4_addresses.some((x: any) => [primary.id, held.id].includes(x.id)), false);
      assert.deepEqual(await snapshot(t), before, 'nothing written');

      // Attached to the VM and detached again: the same id throughout, shown on the VM while attached.
      assert.equal((await a.signed('POST', `/v2/ipv4-addresses/${held.id}/attach`, { virtual_machine_id: web })).status, 200);
      const onVm = (await a.signed('GET', `/v2/virtual-machines/${web}`)).body.virtual_machine.public_interface.ipv4_addresses;
      assert.deepEqual(onVm.map((x: any) => x.id), [primary.id, held.id]);
      assert.equal((await a.signed('GET', `/v2/ipv4-addresses/${held.id}`)).body.ipv4_address.virtual_machine.id, web);
      assert.equal((await a.signed('POST', `/v2/ipv4-addresses/${held.id}/detach`)).status, 200);
      assert.equal((await a.signed('GET', `/v2/ipv4-addresses/${held.id}`)).body.ipv4_address.virtual_machine, undefined);

      // Released to the pool: the id names nothing; taken again, the same address has a new id.
      assert.equal((await a.signed('DELETE', `/v2/ipv4-addresses/${held.id}`)).status, 200);
      assert.equal((await a.signed('GET', `/v2/ipv4-addresses/${held.id}`)).status, 404);
      const again = (await a.signed('PUT', '/v2/ipv4-addresses', { zone_id: zone })).body.ipv4_address;
      assert.equal(again.ipv4_address, held.ipv4_address, 'the lowest free address again');
      assert.notEqual(again.id, held.id);
      assert.equal(again.id, await stored(again.ipv4_address));
      assert.equal((await a.signed('DELETE', `/v2/ipv4-addresses/${held.id}`)).status, 404);
    }, postgres, ctx);
  });
}
