// Gigas *Add new interface* (seed 003, issue 9) with the fake driver: on a running VM the NIC is
// hot-plugged by an operation (202, its queue token readable at /transaction/<t>/status) and the driver
// gets it with its MAC; on a stopped VM it is 201 with no operation. Bad input is a 422 in Gigas' shape
// that writes nothing; another tenant gets a 404. An added NIC keeps its own rate limit, which reaches
// the driver with the hot-plug and with every start's desired state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storesFor, withGigas } from './fixture.js';
import { runningNow, snapshot } from '../snapshot.js';
import { ensureNetwork } from '../../src/store/repos/networks.js';
import { until } from '../helpers.js';

for (const store of storesFor('gigas nic hot-plug')) {
  test(`adding an interface hot-plugs it into a running VM (${store.name})`, async () => {
    await withGigas(store, async (fx) => {
      const { t, g, acme, bob, create, complete } = fx;
      const driver = t.drivers[0]!;
      const A = `/account/${acme.id}`;
      const privateId = await ensureNetwork(t.running.hangar.db, acme.id, 42, Date.now());
      const on = await create({ hostname: 'on1' });
      await complete(on.queue_token);
      const vmId = Number(on.id);
      await runningNow(t, vmId);
      const ON = `${A}/virtual_machine/${on.id}`;

      const hot = await g('POST', `${ON}/network_interface`, { body: { network_id: String(privateId), label: 'eth1', rate_limit: '25' } });
      assert.equal(hot.status, 202, hot.text);
      assert.equal(hot.body.status, 'pending');
      assert.equal(hot.body.label, 'eth1');
      assert.match(hot.body.queue_token, /^[0-9a-f-]{36}$/);
      assert.ok(String(hot.headers.location).endsWith(hot.body.queue_token), String(hot.headers.location));
      await complete(hot.body.queue_token);
      const op = await t.req('GET', `/operations/${hot.body.queue_token}`, { token: t.adminToken });
      assert.equal(op.body.kind, 'nic.attach');
      assert.equal(hot.body.rate_limit, 25);
      assert.deepEqual(driver.hotNics.get(vmId)?.map((n) => [String(n.id), n.mac, n.rateLimitMbps]), [[hot.body.id, hot.body.mac_address, 25]]);
      assert.deepEqual((await g('GET', `${ON}/network_interfaces`)).body.map((n: any) => n.id).slice(1), [hot.body.id]);
      // Another tenant can neither read the token nor add to the VM.
      assert.equal((await g('GET', `/transaction/${hot.body.queue_token}/status`, { token: bob })).status, 404);
      const before = await snapshot(t);
      const theirs = await g('POST', `${ON}/network_interface`, { token: bob, body: { network_id: String(privateId) } });
      assert.equal(theirs.status, 404, theirs.text);
      // Bad input: Gigas' shape, nothing written.
      for (const body of [{ network_id: 999999 }, { network_id: String(privateId), primary: true }, { network_id: String(privateId), label: 'x'.repeat(64) }, { network_id: String(privateId), rate_limit: -1 }, { network_id: String(privateId), rate_limit: 'fast' }, {}]) {
        const r = await g('POST', `${ON}/network_interface`, { body });
        assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
        assert.equal(typeof r.body.error, 'string', r.text);
      }
      assert.deepEqual(await snapshot(t), before, 'nothing written');

      // A stopped VM: 201, no operation; the driver is not asked.
      const off = await create({ hostname: 'off1', required_virtual_machine_build: false });
      await complete(off.queue_token);
      const cold = await g('POST', `${A}/virtual_machine/${off.id}/network_interface`, { body: { network_id: String(privateId) } });
      assert.equal(cold.status, 201, cold.text);
      assert.equal(cold.body.queue_token, null);
      assert.equal(driver.hotNics.has(Number(off.id)), false);
      // Stopped, the running VM gets a limited NIC (201); each added NIC's limit reaches the driver with
      // the desired state at its next start.
      const stopped = await g('PUT', ON, { body: { status: 'offline', force: true } });
      assert.ok(stopped.status < 300, stopped.text);
      if (stopped.body?.queue_token) await complete(stopped.body.queue_token);
      await until('the VM stopped', async () => (await driver.status(vmId)).state === 'stopped');
      const limited = await g('POST', `${ON}/network_interface`, { body: { network_id: String(privateId), rate_limit: 40 } });
      assert.equal(limited.status, 201, limited.text);
      assert.equal(limited.body.rate_limit, 40);
      const started = await g('PUT', ON, { body: { status: 'online' } });
      assert.ok(started.status < 300, started.text);
      await until('the VM runs with its NICs\' limits', async () => driver.limits.get(vmId)?.nics.some((n) => n.nicId === Number(limited.body.id)) ?? false);
      assert.deepEqual(driver.limits.get(vmId)?.nics.slice(1).map((n) => [String(n.nicId), n.rateLimitMbps]), [[hot.body.id, 25], [limited.body.id, 40]]);
      assert.deepEqual((await g('GET', `${ON}/network_interfaces`)).body.map((n: any) => n.rate_limit).slice(1), [25, 40]);
    });
  });
}
