// End to end through core, the brain's head link and a QEMU head (no dialect): a VM made with core's
// createVm writes a marker; cloneVm (started afterwards) gives a running clone with the marker and its
// own hostname; createTemplate gives an account image that createVm then images a new VM with, and that
// VM has the marker. Proves the wiring the driver-level test (test/qemu/vm-ops.test.ts) does not: the
// clone placed on the source's head, the template's catalogue row, the head reporting it, placement
// finding it and the head booting it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { startHangar, type Running } from '../../src/brain/start.js';
import { bootstrap } from '../../src/brain/bootstrap.js';
import { makeDriver } from '../../src/cli/make-driver.js';
import { createVm } from '../../src/core/vms/create.js';
import { cloneVm } from '../../src/core/vms/clone.js';
import { createTemplate } from '../../src/core/templates.js';
import { powerVm } from '../../src/core/vms/power.js';
import type { Principal } from '../../src/core/principal.js';
import type { VmPlace } from '../../src/core/resolve.js';
import { sshKeyPair, sshWhenReady, tinyImage, tmpDir, until } from '../qemu/helpers.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });

test('clone and template through core on a QEMU head: the clone and a VM made from the template have the marker', { timeout: 600_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) return t.skip(img.skip);
  const dir = tmpDir('vmops-e2e');
  const dataDir = path.join(dir, 'data');
  const key = sshKeyPair(dir);
  // Templates are written beside the images: a folder of this test's own, with the tiny image linked in.
  const imagesDir = path.join(dir, 'images');
  fs.mkdirSync(imagesDir);
  fs.symlinkSync(path.join(img.imagesDir, 'tiny'), path.join(imagesDir, 'tiny'));
  const driver = await makeDriver('qemu', { dataDir, imagesDir, log, urls: { isoDir: null, allow: [] } });
  const running: Running = await startHangar({
    storeUrl: path.join(dataDir, 'hangar.sqlite'), dataDir, log, heads: [{ label: 'head1', driver, resyncMs: 500 }], config: { headWaitMs: 60_000 },
  });
  const h = running.hangar;
  const ids: number[] = [];
  try {
    await bootstrap(h, { HANGAR_ADMIN_USER: 'admin', HANGAR_ADMIN_PASSWORD: 'admin-password', HANGAR_DEMO_ACCOUNT: 'acme' });
    const user = await h.db.selectFrom('users').select(['id', 'username']).where('username', '=', 'admin').executeTakeFirstOrThrow();
    const admin: Principal = { userId: user.id, username: user.username, factors: ['password'], apiKeyId: null, grants: [{ id: 0, level: 'cluster_admin', accountId: null, groupId: null, vmId: null }] };
    const account = await h.db.selectFrom('accounts').selectAll().where('name', '=', 'acme').executeTakeFirstOrThrow();
    const group = await h.db.selectFrom('groups').selectAll().where('account_id', '=', account.id).executeTakeFirstOrThrow();
    const place = async (id: number): Promise<VmPlace> => ({ vm: await h.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow(), group, account });
    const sshPort = (id: number) => until(`VM ${id} running with its SSH port`, async () => {
      const r = await h.db.selectFrom('vms').select(['run_state', 'ssh_port']).where('id', '=', id).executeTakeFirstOrThrow();
      return r.run_state === 'running' ? r.ssh_port : null;
    }, 120_000, 200);
    const off = async (id: number) => {
      await powerVm(h, admin, await place(id), { intent: 'stop' });
      await until(`VM ${id} off`, async () => (await h.db.selectFrom('vms').select('run_state').where('id', '=', id).executeTakeFirstOrThrow()).run_state !== 'running', 60_000, 200);
    };
    const image = { distribution: 'tiny', sshPublicKey: key.public.trim() };
    const disc = [{ label: 'vda', grade: 'sata', sizeMiB: 256 }];

    const src = await createVm(h, admin, account, group, { name: 'src', cores: 1, memoryMiB: 160, powerOn: true, discs: disc, image }, 'bigv');
    ids.push(src.view.row.id);
    await sshWhenReady(await sshPort(src.view.row.id), key.private, 'echo made-in-src > /root/marker && sync');
    await off(src.view.row.id);

    const clone = await cloneVm(h, admin, await place(src.view.row.id), { name: 'copy', startAfterwards: true }, 'bigv');
    ids.push(clone.view.row.id);
    assert.equal(await sshWhenReady(await sshPort(clone.view.row.id), key.private, 'cat /root/marker; hostname'), 'made-in-src\ncopy.default.acme.hangar.local\n');
    await off(clone.view.row.id);

    const tpl = await createTemplate(h, admin, await place(src.view.row.id), { label: 'src golden' });
    assert.equal(tpl.image.status, 'active');
    const child = await createVm(h, admin, account, group, {
      name: 'child', cores: 1, memoryMiB: 160, powerOn: true, discs: disc, image: { ...image, distribution: tpl.image.name },
    }, 'bigv');
    ids.push(child.view.row.id);
    assert.equal(await sshWhenReady(await sshPort(child.view.row.id), key.private, 'cat /root/marker'), 'made-in-src\n');
  } finally {
    for (const id of ids) await driver.stop(id).catch(() => undefined);
    await running.close();
  }
});
