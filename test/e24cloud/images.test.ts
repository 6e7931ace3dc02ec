// e24cloud's disk images over the fake driver: an image made from a VM's system disc joins the
// catalogue (listed in disk-images and in templates with its owner), a later create boots from it,
// and deleting it takes it out of the catalogue. Another tenant's volume or image is not found, bad
// bodies are 400: all in the envelope, nothing written. Images of other volumes: volumes-create.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers.js';
import { snapshot } from '../snapshot.js';
import { e24Tenant, type E24Tenant, withStore } from './client.js';

async function makeVm(x: E24Tenant, name: string, os: string): Promise<string> {
  const r = await x.signed('PUT', '/v2/virtual-machines', { create_vm: { cpus: 1, ram: 256, name, os } });
  assert.equal(r.status, 200, r.text);
  const id = r.body.virtual_machine.id as string;
  await until(`${name} online`, async () => (await x.signed('GET', `/v2/virtual-machines/${id}`)).body.virtual_machine.state === 'online' || null, 10_000);
  return id;
}

for (const postgres of [false, true]) {
  test(`disk images: made from a system disc, in the catalogue, a create boots from it, deleted; refusals write nothing (${postgres ? 'PostgreSQL' : 'SQLite'})`, async (ctx) => {
    await withStore('disk images', async (t) => {
      const a = await e24Tenant(t, 'acme');
      const b = await e24Tenant(t, 'beta');
      const tiny = (await a.signed('GET', '/v2/templates')).body.templates.find((x: { label: string }) => /tiny/i.test(x.label)).id;
      const web = await makeVm(a, 'web', tiny);
      const disc = await t.req('POST', '/accounts/acme/groups/default/virtual_machines/web/discs', { token: a.token, body: { label: 'data', storage_grade: 'sata', size: 1024 } });
      assert.equal(disc.status, 201, disc.text);
      const [system, data] = (await a.signed('GET', `/v2/virtual-machines/${web}`)).body.virtual_machine.storage_volumes.map((v: any) => v.id as string);

      const before = await snapshot(t);
      const bad = async (x: E24Tenant, method: string, url: string, body: unknown, status: number, field?: string) => {
        const r = await x.signed(method, url, body);
        assert.equal(r.status, status, `${method} ${url}: ${r.text}`);
        assert.equal(r.body.success, false, r.text);
        if (field) assert.equal(r.body.field, field, r.text);
      };
      await bad(b, 'PUT', '/v2/disk-images', { storage_volume_id: system, label: 'stolen' }, 404);
      await bad(b, 'PUT', '/v2/disk-images', { storage_volume_id: data, label: 'stolen' }, 404);
      await bad(a, 'PUT', '/v2/disk-images', { storage_volume_id: system }, 400, 'label');
      await bad(a, 'PUT', '/v2/disk-images', { storage_volume_id: 'nope', label: 'x' }, 400, 'storage_volume_id');
      await bad(a, 'PUT', '/v2/disk-images', { storage_volume_id: system, label: '' }, 400, 'label');
      await bad(a, 'DELETE', `/v2/disk-images/${tiny}`, undefined, 404);
      assert.deepEqual(await snapshot(t), before, 'nothing written');

      const made = await a.signed('PUT', '/v2/disk-images', { storage_volume_id: system, label: 'Web base' });
      assert.equal(made.status, 200, made.text);
      const image = made.body.disk_image.id as string;
      assert.match(image, /^[0-9a-f-]{36}$/);
      const listed = await until('image listed', async () => (await a.signed('GET', '/v2/disk-images')).body.disk_images.find((i: any) => i.id === image) ?? null, 10_000);
      assert.deepEqual([listed.label, listed.owner.name, listed.size], ['Web base', 'acme', 1]);
      assert.equal((await a.signed('GET', '/v2/templates')).body.templates.find((x: any) => x.id === image)?.owner.name, 'acme');
      assert.deepEqual((await b.signed('GET', '/v2/disk-images')).body.disk_images, []);
      assert.equal((await b.signed('GET', '/v2/templates')).body.templates.some((x: any) => x.id === image), false);
      const row = await until('made', async () => {
        const r = await t.running.hangar.db.selectFrom('images').select('status').where('uuid', '=', image).executeTakeFirstOrThrow();
        return r.status === 'active' ? r : null;
      }, 10_000);
      assert.equal(row.status, 'active');
      // A later create boots from it; another tenant cannot.
      const copy = await makeVm(a, 'copy', image);
      assert.equal((await a.signed('GET', `/v2/virtual-machines/${copy}`)).body.virtual_machine.system.id, image);
      await bad(b, 'PUT', '/v2/virtual-machines', { create_vm: { cpus: 1, ram: 256, name: 'x', os: image } }, 400, 'os');
      await bad(b, 'DELETE', `/v2/disk-images/${image}`, undefined, 404);

      const gone = await a.signed('DELETE', `/v2/disk-images/${image}`);
      assert.equal(gone.status, 200, gone.text);
      assert.deepEqual((await a.signed('GET', '/v2/disk-images')).body.disk_images, []);
      await bad(a, 'DELETE', `/v2/disk-images/${image}`, undefined, 404);
      await bad(a, 'PUT', '/v2/virtual-machines', { create_vm: { cpus: 1, ram: 256, name: 'y', os: image } }, 400, 'os');
      assert.equal((await a.signed('GET', `/v2/virtual-machines/${copy}`)).status, 200, 'the VM made from it stays');
    }, postgres, ctx);
  });
}
