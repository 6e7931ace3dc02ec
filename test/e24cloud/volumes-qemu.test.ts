// e24cloud volumes with no VM on a real head (the QEMU driver, no guest booted): the create makes a
// qcow2 file of the asked size on the head (qemu-img info), an image made from it is a built image
// on the head, and the delete removes the file and gives the pool's space back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { startHangar, type Running } from '../../src/brain/start.js';
import { bootstrap } from '../../src/brain/bootstrap.js';
import { makeDriver } from '../../src/cli/make-driver.js';
import { qemuMissing, tmpDir } from '../qemu/helpers.js';
import { signer, type Pair } from './client.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });

const info = (file: string) => JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' })) as { format: string; 'virtual-size': number };

test('e24cloud volume with no VM on a real head: its qcow2 file made with its size, an image made from it, the file removed on delete', { timeout: 120_000 }, async (t) => {
  const missing = qemuMissing();
  if (missing) return t.skip(missing);
  const dir = tmpDir('e24-volumes');
  const dataDir = path.join(dir, 'data');
  const imagesDir = path.join(dir, 'images');
  fs.mkdirSync(imagesDir);
  const driver = await makeDriver('qemu', { dataDir, imagesDir, log, urls: { isoDir: null, allow: [] } });
  const running: Running = await startHangar({
    storeUrl: path.join(dataDir, 'hangar.sqlite'), dataDir, log, heads: [{ label: 'head1', driver, resyncMs: 60_000 }], config: { headWaitMs: 30_000 },
  });
  try {
    await bootstrap(running.hangar, { HANGAR_ADMIN_USER: 'admin', HANGAR_ADMIN_PASSWORD: 'admin-password', HANGAR_DEMO_ACCOUNT: 'acme' });
    const call = async (method: string, url: string, token: string, body?: unknown) => {
      const res = await running.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(body ?? {}) });
      return { status: res.statusCode, body: res.body.startsWith('{') || res.body.startsWith('[') ? JSON.parse(res.body) : res.body };
    };
    const session = async (username: string, password: string) => (await running.app.inject({ method: 'POST', url: '/session', payload: { username, password } })).body;
    const admin = await session('admin', 'admin-password');
    const acme = (await call('GET', '/accounts/acme', admin)).body;
    assert.equal((await call('POST', '/users', admin, { username: 'ewa', password: 'ewa-password-1', email: 'ewa@example.com', home_account_id: acme.id })).status, 201);
    assert.equal((await call('POST', '/users/ewa/privileges', admin, { level: 'account_admin', account_id: acme.id })).status, 201);
    const ewa = await session('ewa', 'ewa-password-1');
    const pair = (await call('PUT', '/v2/account/api', ewa)).body.api as Pair;
    const signed = signer(running.app, () => pair);
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
  } finally {
    await running.close();
  }
});
