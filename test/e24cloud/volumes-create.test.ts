// e24cloud volumes with no VM over the fake driver (the physical proof is volumes-qemu.test.ts): a
// volume made in a zone is held by the home account, its file made by the head as an operation with
// no VM (readable at /operations/{id}; an Idempotency-Key retry acts once); it attaches to a stopped
// VM and the VM boots with it; an image is made from it held and from a VM's extra disc; a delete
// removes its file and gives its space back. Another tenant's ids are 404 with nothing written, a
// volume being made is not attached or deleted, a failed create leaves nothing, and concurrent
// creates never over-commit a pool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until, type TestHangar } from '../helpers.js';
import { snapshot } from '../snapshot.js';
import { assertInvariants } from '../invariants.js';
import { FakeDriver } from '../../src/drivers/fake/driver.js';
import { e24Tenant, onlineVm, type E24Tenant, withStore } from './client.js';

async function power(x: E24Tenant, id: string, act: 'poweroff' | 'poweron'): Promise<void> {
  assert.equal((await x.signed('POST', `/v2/virtual-machines/${id}/${act}`)).status, 200);
  const want = act === 'poweron' ? 'online' : 'offline';
  await until(want, async () => (await x.signed('GET', `/v2/virtual-machines/${id}`)).body.virtual_machine.state === want || null, 10_000);
}

/** MiB used in each grade's pools. */
async function used(t: TestHangar): Promise<Record<string, number>> {
  const rows = await t.running.hangar.db.selectFrom('storage_pools').select(['grade', 'used']).execute();
  return Object.fromEntries(rows.map((r) => [r.grade, Number(r.used)]));
}

const discId = async (t: TestHangar, uuid: string) => (await t.running.hangar.db.selectFrom('discs').select('id').where('uuid', '=', uuid).executeTakeFirstOrThrow()).id;

async function operation(t: TestHangar, x: E24Tenant, location: unknown) {
  assert.match(String(location), /^\/operations\/[0-9a-f-]{36}$/);
  const r = await t.req('GET', `${String(location)}?wait=10`, { token: x.token });
  assert.equal(r.status, 200, r.text);
  return r.body;
}

for (const postgres of [false, true]) {
  const store = postgres ? 'PostgreSQL' : 'SQLite';

  test(`volumes with no VM: made (retry acts once), attached to a stopped VM, imaged, deleted with its space back; other tenants and busy volumes refused (${store})`, async (ctx) => {
    await withStore('volumes', async (t) => {
      const a = await e24Tenant(t, 'acme');
      const b = await e24Tenant(t, 'beta');
      const driver = t.drivers[0]!;
      const zone = (await a.signed('GET', '/v2/regions')).body.regions[0].zones[0].id as string;
      const tiny = (await a.signed('GET', '/v2/templates')).body.templates.find((x: { label: string }) => /tiny/i.test(x.label)).id;
      const bad = async (x: E24Tenant, method: string, url: string, body: unknown, status: number, field?: string) => {
        const r = await x.signed(method, url, body);
        assert.equal(r.status, status, `${method} ${url}: ${r.text}`);
        assert.equal(r.body.success, false, r.text);
        if (field) assert.equal(r.body.field, field, r.text);
        return r;
      };

      // Bad bodies: nothing written.
      const before = await snapshot(t);
      const space = await used(t);
      await bad(a, 'PUT', '/v2/storage-volumes', { size: 2, zone_id: '00000000-0000-4000-8000-000000000000', label: 'data' }, 400, 'zone_id');
      await bad(a, 'PUT', '/v2/storage-volumes', { size: 2, zone_id: zone, label: 'no spaces' }, 400, 'label');
      await bad(a, 'PUT', '/v2/storage-volumes', { size: 0, zone_id: zone, label: 'data' }, 400, 'size');
      await bad(a, 'PUT', '/v2/storage-volumes', { size: 2, zone_id: zone, label: 'data', type: 'NVME' }, 400, 'type');
      await bad(a, 'PUT', '/v2/storage-volumes', { size: 2, zone_id: zone }, 400, 'label');
      assert.deepEqual(await snapshot(t), before, 'nothing written');

      // Made, held by the home account; the same Idempotency-Key signed anew acts once.
      const body = { size: 2, zone_id: zone, label: 'data', type: 'SSD' };
      const made = await a.signed('PUT', '/v2/storage-volumes', body, { headers: { 'idempotency-key': 'vol-1' } });
      assert.equal(made.status, 200, made.text);
      const vol = made.body.storage_volume;
      assert.deepEqual([vol.label, vol.size, vol.type, vol.system_disk, vol.owner.name, vol.zone.id, vol.virtual_machine], ['data', 2, 'SSD', false, 'acme', zone, undefined]);
      const again = await a.signed('PUT', '/v2/storage-volumes', body, { headers: { 'idempotency-key': 'vol-1' } });
      assert.equal(again.status, 200, again.text);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.deepEqual(again.body, made.body);
      assert.equal(again.headers.location, made.headers.location);
      const op = await operation(t, a, made.headers.location);
      assert.deepEqual([op.kind, op.state, op.target], ['disc.create', 'done', null]);
      const id = await discId(t, vol.id);
      assert.equal((await t.running.hangar.db.selectFrom('discs').select('id').where('label', '=', 'data').execute()).length, 1, 'one volume');
      assert.equal((await t.running.hangar.db.selectFrom('operations').select('id').where('kind', '=', 'disc.create').where('vm_id', 'is', null).execute()).length, 1, 'one create');
      assert.deepEqual(driver.discs.get(id), { id, vmId: null, label: 'data', grade: 'sata', size: 2048 }, 'its file made');
      assert.deepEqual(await used(t), { ...space, sata: space.sata! + 2048 });
      assert.deepEqual((await a.signed('GET', `/v2/storage-volumes/${vol.id}`)).body.storage_volume, vol);
      // HDD is the archive grade.
      const cold = await a.signed('PUT', '/v2/storage-volumes', { size: 1, zone_id: zone, label: 'cold', type: 'HDD' });
      assert.equal(cold.status, 200, cold.text);
      assert.equal(cold.body.storage_volume.type, 'HDD');
      assert.equal(driver.discs.get(await discId(t, cold.body.storage_volume.id))?.grade, 'archive');

      // An image of the held volume, made by its head with no VM; its owner shown to a caller with no VM yet.
      const image = await a.signed('PUT', '/v2/disk-images', { storage_volume_id: vol.id, label: 'Data image' });
      assert.equal(image.status, 200, image.text);
      assert.equal((await operation(t, a, image.headers.location)).state, 'done');
      assert.ok(driver.calls.includes(`templateFromDisc ${id} tpl-data-image -`), driver.calls.join('\n'));
      const listed = (await a.signed('GET', '/v2/disk-images')).body.disk_images.find((i: any) => i.id === image.body.disk_image.id);
      assert.deepEqual([listed?.label, listed?.owner.name, listed?.size], ['Data image', 'acme', 2]);
      assert.equal((await a.signed('GET', '/v2/templates')).body.templates.find((x: any) => x.id === image.body.disk_image.id)?.owner.name, 'acme');

      // Another tenant's volume: 404 for every act, nothing written.
      const web = await onlineVm(a, 'web', tiny);
      const theirs = await onlineVm(b, 'theirs', tiny);
      await power(a, web, 'poweroff');
      const mine = await snapshot(t);
      await bad(b, 'GET', `/v2/storage-volumes/${vol.id}`, undefined, 404);
      await bad(b, 'DELETE', `/v2/storage-volumes/${vol.id}`, undefined, 404);
      await bad(b, 'PUT', '/v2/disk-images', { storage_volume_id: vol.id, label: 'stolen' }, 404);
      await bad(b, 'POST', `/v2/storage-volumes/${vol.id}/attach`, { virtual_machine_id: theirs }, 404);
      await bad(a, 'POST', `/v2/storage-volumes/${vol.id}/attach`, { virtual_machine_id: theirs }, 404);
      assert.deepEqual(await snapshot(t), mine, 'nothing written');
      assert.equal(driver.discs.has(id), true);

      // Attached to the stopped VM, which boots with it; an image of it as the VM's extra disc.
      const on = await a.signed('POST', `/v2/storage-volumes/${vol.id}/attach`, { virtual_machine_id: web });
      assert.equal(on.status, 200, on.text);
      assert.deepEqual((await a.signed('GET', `/v2/virtual-machines/${web}`)).body.virtual_machine.storage_volumes.map((v: any) => [v.id === vol.id, v.system_disk]), [[false, true], [true, false]]);
      await power(a, web, 'poweron');
      const webRow = await t.running.hangar.db.selectFrom('vms').select('id').where('uuid', '=', web).executeTakeFirstOrThrow();
      assert.ok(driver.machines.get(webRow.id)?.spec.discs.some((d) => d.id === id), 'the VM runs with the volume');
      const extra = await a.signed('PUT', '/v2/disk-images', { storage_volume_id: vol.id, label: 'Extra image' });
      assert.equal(extra.status, 200, extra.text);
      assert.equal((await operation(t, a, extra.headers.location)).state, 'done');
      assert.ok(driver.calls.includes(`templateFromDisc ${id} tpl-extra-image -`), 'an extra disc boots through the firmware, not as the VM\'s image');
      await power(a, web, 'poweroff');
      assert.equal((await a.signed('POST', `/v2/storage-volumes/${vol.id}/detach`)).status, 200);

      // A volume whose file is still being made is not attached or deleted (409, nothing written).
      const hold = driver.holdNext('createDisc');
      const slow = a.signed('PUT', '/v2/storage-volumes', { size: 1, zone_id: zone, label: 'slow' });
      await hold.reached;
      const slowId = (await t.running.hangar.db.selectFrom('discs').select('uuid').where('label', '=', 'slow').executeTakeFirstOrThrow()).uuid;
      const busy = await snapshot(t);
      assert.equal((await bad(a, 'DELETE', `/v2/storage-volumes/${slowId}`, undefined, 409)).body.code, 'conflict');
      await bad(a, 'POST', `/v2/storage-volumes/${slowId}/attach`, { virtual_machine_id: web }, 409);
      await bad(a, 'PUT', '/v2/disk-images', { storage_volume_id: slowId, label: 'too soon' }, 409);
      assert.deepEqual(await snapshot(t), busy, 'nothing written');
      hold.release();
      assert.equal((await slow).status, 200);
      await until('made', async () => driver.discs.has(await discId(t, slowId)) || null);

      // A create whose file cannot be made leaves nothing: no row, no space taken.
      const beforeFail = await used(t);
      driver.failNext('createDisc', 'no room on the device');
      const failed = await bad(a, 'PUT', '/v2/storage-volumes', { size: 1, zone_id: zone, label: 'doomed' }, 502);
      assert.match(failed.body.error, /size/);
      assert.equal(await t.running.hangar.db.selectFrom('discs').select('id').where('label', '=', 'doomed').executeTakeFirst(), undefined);
      assert.deepEqual(await used(t), beforeFail);

      // Deleted: its file removed by its head, its space back where it was.
      for (const v of [vol.id, cold.body.storage_volume.id, slowId]) {
        const gone = await a.signed('DELETE', `/v2/storage-volumes/${v}`);
        assert.equal(gone.status, 200, gone.text);
        const del = await operation(t, a, gone.headers.location);
        assert.deepEqual([del.kind, del.state], ['disc.delete', 'done']);
        await bad(a, 'GET', `/v2/storage-volumes/${v}`, undefined, 404);
      }
      assert.equal(driver.discs.has(id), false, 'its file removed');
      assert.deepEqual(await used(t), { ...space, sata: space.sata! + 2 * 1024 }, 'only the two VMs\' system discs hold space');
      await bad(a, 'DELETE', `/v2/storage-volumes/${vol.id}`, undefined, 404);
      await assertInvariants(t.running.hangar.db);
    }, postgres, ctx);
  });

  test(`concurrent volume creates never over-commit a pool, and deletes bring it back to zero (${store})`, async (ctx) => {
    await withStore('volumes', async (t) => {
      const a = await e24Tenant(t, 'acme');
      const zone = (await a.signed('GET', '/v2/regions')).body.regions[0].zones[0].id as string;
      const pool = async () => Number((await t.running.hangar.db.selectFrom('storage_pools').select('used').where('grade', '=', 'sata').executeTakeFirstOrThrow()).used);
      // 10 GiB of sata: three 3 GB volumes fit, the fourth never does.
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => a.signed('PUT', '/v2/storage-volumes', { size: 3, zone_id: zone, label: `v${i}` })));
      const ok = replies.filter((r) => r.status === 200);
      assert.equal(ok.length, 3, replies.map((r) => `${r.status} ${r.text}`).join('\n'));
      for (const r of replies.filter((x) => x.status !== 200)) assert.deepEqual([r.status, r.body.code, r.body.field], [409, 'no_capacity', 'size'], r.text);
      assert.equal(await pool(), 3 * 3072);
      assert.equal((await t.running.hangar.db.selectFrom('discs').select('id').execute()).length, 3);
      await assertInvariants(t.running.hangar.db, 'after concurrent creates');
      const gone = await Promise.all(ok.map((r) => a.signed('DELETE', `/v2/storage-volumes/${r.body.storage_volume.id}`)));
      assert.deepEqual(gone.map((r) => r.status), [200, 200, 200]);
      assert.equal(await pool(), 0);
      assert.equal(t.drivers[0]!.discs.size, 0);
      await assertInvariants(t.running.hangar.db, 'after concurrent deletes');
    }, postgres, ctx, { driver: () => new FakeDriver({ grades: { sata: 10 * 1024, archive: 1024 } }) });
  });
}
