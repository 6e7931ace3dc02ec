// e24cloud's storage volumes over the fake driver: a VM's second disc detaches from the powered-off VM
// and is held by the account (listed with no VM), attaches again to a powered-off VM of the same
// account, and the refusals (the system disc, a running VM, another tenant's volume or VM, an attached
// volume attached again, a held one detached) are in the envelope with nothing written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers.js';
import { snapshot } from '../snapshot.js';
import { e24Tenant, onlineVm, type E24Tenant, withStore } from './client.js';

async function powerOff(x: E24Tenant, id: string): Promise<void> {
  assert.equal((await x.signed('POST', `/v2/virtual-machines/${id}/poweroff`)).status, 200);
  await until('offline', async () => (await x.signed('GET', `/v2/virtual-machines/${id}`)).body.virtual_machine.state === 'offline' || null, 10_000);
}

for (const postgres of [false, true]) {
  test(`storage volumes: detach a second disc from a powered-off VM, held by the account, attach it again; refusals write nothing (${postgres ? 'PostgreSQL' : 'SQLite'})`, async (ctx) => {
    await withStore('volumes', async (t) => {
      const a = await e24Tenant(t, 'acme');
      const b = await e24Tenant(t, 'beta');
      const tiny = (await a.signed('GET', '/v2/templates')).body.templates.find((x: { label: string }) => /tiny/i.test(x.label)).id;
      const web = await onlineVm(a, 'web', tiny);
      const running = await onlineVm(a, 'running', tiny);
      const theirs = await onlineVm(b, 'theirs', tiny);
      // A second disc, made over BigV (e24cloud makes volumes with no VM: not yet, docs/e24cloud.md).
      const disc = await t.req('POST', '/accounts/acme/groups/default/virtual_machines/web/discs', { token: a.token, body: { label: 'data', storage_grade: 'sata', size: 2048 } });
      assert.equal(disc.status, 201, disc.text);
      const vols = (await a.signed('GET', `/v2/virtual-machines/${web}`)).body.virtual_machine.storage_volumes;
      const [system, data] = [vols[0].id as string, vols[1].id as string];
      await powerOff(a, web);

      const before = await snapshot(t);
      const bad = async (x: E24Tenant, method: string, url: string, body: unknown, status: number, field?: string) => {
        const r = await x.signed(method, url, body);
        assert.equal(r.status, status, `${method} ${url}: ${r.text}`);
        assert.equal(r.body.success, false, r.text);
        if (field) assert.equal(r.body.field, field, r.text);
      };
      await bad(a, 'POST', `/v2/storage-volumes/${system}/detach`, undefined, 409, 'disc');
      await bad(b, 'POST', `/v2/storage-volumes/${data}/detach`, undefined, 404);
      await bad(a, 'POST', `/v2/storage-volumes/${data}/attach`, { virtual_machine_id: web }, 409, 'id');
      await bad(a, 'POST', `/v2/storage-volumes/${data}/detach`, { extra: 1 }, 400);
      assert.deepEqual(await snapshot(t), before, 'nothing written');

      const off = await a.signed('POST', `/v2/storage-volumes/${data}/detach`);
      assert.equal(off.status, 200, off.text);
      const held = (await a.signed('GET', `/v2/storage-volumes/${data}`)).body.storage_volume;
      assert.deepEqual([held.virtual_machine, held.owner.name, held.size, held.label], [undefined, 'acme', 2, 'data']);
      assert.deepEqual((await a.signed('GET', `/v2/virtual-machines/${web}`)).body.virtual_machine.storage_volumes.map((v: any) => v.id), [system]);

      const held0 = await snapshot(t);
      await bad(a, 'POST', `/v2/storage-volumes/${data}/detach`, undefined, 409, 'id');
      await bad(b, 'POST', `/v2/storage-volumes/${data}/attach`, { virtual_machine_id: theirs }, 404);
      await bad(a, 'POST', `/v2/storage-volumes/${data}/attach`, { virtual_machine_id: theirs }, 404);
      await bad(a, 'POST', `/v2/storage-volumes/${data}/attach`, { virtual_machine_id: running }, 409, 'virtual_machine_id');
      await bad(a, 'POST', `/v2/storage-volumes/${data}/attach`, { virtual_machine_id: 'nope' }, 400);
      await bad(a, 'POST', `/v2/storage-volumes/${data}/attach`, {}, 400, 'virtual_machine_id');
      assert.deepEqual(await snapshot(t), held0, 'nothing written');

      const on = await a.signed('POST', `/v2/storage-volumes/${data}/attach`, { virtual_machine_id: web });
      assert.equal(on.status, 200, on.text);
      const back = (await a.signed('GET', `/v2/storage-volumes/${data}`)).body.storage_volume;
      assert.equal(back.virtual_machine.id, web);
      assert.deepEqual((await a.signed('GET', `/v2/virtual-machines/${web}`)).body.virtual_machine.storage_volumes.map((v: any) => [v.id, v.system_disk]), [[system, true], [data, false]]);
      const row = await t.running.hangar.db.selectFrom('discs').select(['vm_id', 'account_id']).where('uuid', '=', data).executeTakeFirstOrThrow();
      assert.equal(row.account_id, null, 'attached: its VM\'s account owns it');
      // The VM starts with it.
      assert.equal((await a.signed('POST', `/v2/virtual-machines/${web}/poweron`)).status, 200);
      await until('online', async () => (await a.signed('GET', `/v2/virtual-machines/${web}`)).body.virtual_machine.state === 'online' || null, 10_000);
    }, postgres, ctx);
  });
}
