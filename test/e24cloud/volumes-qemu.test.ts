// e24cloud volumes with no VM on a real head (the QEMU driver, no guest booted): the create makes a
// qcow2 file of the asked size on the head (qemu-img info), an image made from it is a built image
// on the head, and the delete removes the file and gives the pool's space back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { qemuMissing, tmpDir } from '../qemu/helpers.js';
import { withRealHead } from './real-head.js';

const info = (file: string) => JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' })) as { format: string; 'virtual-size': number };

test('e24cloud volume with no VM on a real head: its qcow2 file made with its size, an image made from it, the file removed on delete', { timeout: 120_000 }, async (t) => {
  const missing = qemuMissing();
  if (missing) return t.skip(missing);
  const imagesDir = path.join(tmpDir('e24-volume-images'), 'images');
  fs.mkdirSync(imagesDir);
  await withRealHead('e24-volumes', { imagesDir, resyncMs: 60_000, headWaitMs: 30_000 }, async ({ running, dataDir, ewa, call, signed }) => {
    const db = running.hangar.db;
    const used = async () => Number((await db.selectFrom('storage_pools').select('used').where('grade', '=', 'sata').executeTakeFirstOrThrow()).used);
    const done = async (location: unknown) => {
      const op = await call('GET', `${String(location)}?wait=30`, ewa);
      assert.equal(op.body.state, 'done', JSON.stringify(op.body));
    };

    const zone = (await signed('GET', '/v2/regions')).body.regions[0].zones[0].id;
    const before = await used();
    const made = await signed('PUT', '/v2/storage-volumes', { size: 1, zone_id: zone, label: 'data', type: 'SSD' });
    assert.equal(made.status, 200, made.text);
    await done(made.headers.location);
    const { id } = await db.selectFrom('discs').select('id').where('uuid', '=', made.body.storage_volume.id).executeTakeFirstOrThrow();
    const file = path.join(dataDir, 'qemu', 'discs', 'sata', `disc-${id}.qcow2`);
    assert.deepEqual([info(file).format, info(file)['virtual-size']], ['qcow2', 1024 ** 3]);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'a guest\'s data is the server\'s alone');
    assert.equal(await used(), before + 1024);

    const image = await signed('PUT', '/v2/disk-images', { storage_volume_id: made.body.storage_volume.id, label: 'Data image' });
    assert.equal(image.status, 200, image.text);
    await done(image.headers.location);
    assert.equal(info(path.join(imagesDir, 'tpl-data-image', 'disc.qcow2'))['virtual-size'], 1024 ** 3);
    assert.equal((await signed('GET', '/v2/templates')).body.templates.find((x: { id: string }) => x.id === image.body.disk_image.id)?.owner.name, 'acme');

    const gone = await signed('DELETE', `/v2/storage-volumes/${made.body.storage_volume.id}`);
    assert.equal(gone.status, 200, gone.text);
    await done(gone.headers.location);
    assert.equal(fs.existsSync(file), false, 'its file removed');
    assert.equal(await used(), before);
  });
});
