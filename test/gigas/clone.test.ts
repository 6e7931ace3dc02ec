// Gigas' *Clone vm* disk fields (seed 003) over core's cloneVm, with the fake driver: clone_disk_id with
// clone_disk_size / clone_disk_data_store_group_id grow or move a copied disk, secondary_disk_size with
// data_store_group_secondary_id add empty disks. Bad input is a 422 in Gigas' shape that writes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storesFor, withGigas, type GigasFx } from './fixture.js';
import { snapshot } from '../snapshot.js';
import { until } from '../helpers.js';

/** A 422 in Gigas' shape naming `field`, that changed nothing in the store. */
async function refused(fx: GigasFx, field: string, body: Record<string, unknown>, path: string): Promise<void> {
  const before = await snapshot(fx.t);
  const r = await fx.g('POST', path, { body: { hostname: 'nope1', label: 'n', ...body } });
  assert.equal(r.status, 422, r.text);
  assert.equal(typeof r.body.error, 'string', r.text);
  assert.ok(r.body.errors?.[field], `${field} in ${r.text}`);
  assert.deepEqual(await snapshot(fx.t), before, 'nothing written');
}

for (const store of storesFor('gigas clone disks')) {
  test(`clone grows and moves copied disks and adds empty ones (${store.name})`, async () => {
    await withGigas(store, async (fx) => {
      const { t, g, acme, create, complete } = fx;
      const driver = t.drivers[0]!;
      const A = `/account/${acme.id}`;
      const src = await create({ hostname: 'src1', primary_disk_size: '2', secondary_disk_size: '1' });
      await complete(src.queue_token);
      const SRC = `${A}/virtual_machine/${src.id}`;
      const grades = (await g('GET', `${A}/data_store_groups`)).body as { id: string; name: string; default: boolean }[];
      const sata = grades.find((x) => x.name === 'sata')!.id;
      const ssd = grades.find((x) => x.name === 'ssd')!.id;
      const [primary, second] = (await g('GET', `${SRC}/disks`)).body as { id: string }[];

      // The primary grown to 3 GB, the secondary moved to ssd, two empty disks added; started when made.
      const cloned = await g('POST', `${SRC}/clone`, { body: {
        hostname: 'copy1', label: 'Copy one', required_startup: true,
        clone_disk_id: [primary!.id, second!.id], clone_disk_size: [3], clone_disk_data_store_group_id: [sata, ssd],
        secondary_disk_size: [2, 1], data_store_group_secondary_id: [ssd],
      } });
      assert.equal(cloned.status, 202, cloned.text);
      await complete(cloned.body.queue_token);
      const CL = `${A}/virtual_machine/${cloned.body.id}`;
      await until('the clone runs', async () => (await g('GET', CL)).body.status === 'online');
      const disks = (await g('GET', `${CL}/disks`)).body as { id: string; label: string; disk_size: number; data_store_group_id: string }[];
      assert.deepEqual(disks.map((d) => [d.disk_size, d.data_store_group_id]), [[3, sata], [1, ssd], [2, ssd], [1, sata]]);
      assert.equal(new Set(disks.map((d) => d.label)).size, 4, 'labels of their own');
      // The copies are of the source's discs; the added ones were created empty on the head.
      assert.ok(driver.calls.some((c) => c === `cloneMachine ${src.id} ${primary!.id}>${disks[0]!.id},${second!.id}>${disks[1]!.id}`), driver.calls.join('\n'));
      for (const d of disks.slice(2)) assert.ok(driver.calls.some((c) => c.startsWith(`createDisc ${d.id}`)), `disc ${d.id} created`);
      assert.deepEqual(disks.map((d) => driver.discs.get(Number(d.id))?.size), [3072, 1024, 2048, 1024]);

      // Refusals, each naming its field.
      await refused(fx, 'clone_disk_id', { clone_disk_id: 999999, clone_disk_size: 5 }, `${SRC}/clone`);
      await refused(fx, 'clone_disk_id', { clone_disk_id: disks[0]!.id }, `${SRC}/clone`);
      await refused(fx, 'clone_disk_size', { clone_disk_id: primary!.id, clone_disk_size: 1 }, `${SRC}/clone`);
      await refused(fx, 'clone_disk_size', { clone_disk_size: 5 }, `${SRC}/clone`);
      await refused(fx, 'clone_disk_data_store_group_id', { clone_disk_id: primary!.id, clone_disk_data_store_group_id: 'nope' }, `${SRC}/clone`);
      await refused(fx, 'data_store_group_secondary_id', { data_store_group_secondary_id: ssd }, `${SRC}/clone`);
      await refused(fx, 'data_store_group_secondary_id', { secondary_disk_size: 1, data_store_group_secondary_id: 'nope' }, `${SRC}/clone`);
      await refused(fx, 'secondary_disk_size', { secondary_disk_size: 0 }, `${SRC}/clone`);
      await refused(fx, 'secondary_disk_size', { secondary_disk_size: [1, 1, 1, 1, 1, 1, 1] }, `${SRC}/clone`);
    });
  });
}
