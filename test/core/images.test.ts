// Images (docs/domain.md §12) through core alone: the public catalogue filled from images/catalogue.ts
// by migration 014 and brought back in line with it at every store open, an account's own images seen
// only by that account, the one id rule, and the one check that refuses a request using a feature the
// image lacks (used by create and reimage).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freshStore } from '../helpers.js';
import { openStore } from '../../src/store/db.js';
import { SecretBox } from '../../src/core/secrets.js';
import { stores, withCatalogue, type Fx } from './catalogues.js';
import { IMAGES } from '../../src/images/catalogue.js';
import { checkImageSupports, imageByRef, isCloudInitData, listImages } from '../../src/core/images.js';
import { checkImage } from '../../src/core/vms/create.js';
import { DomainError, Issues, isCode } from '../../src/core/errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** An image owned by `accountId` that takes only an SSH key. */
async function ownImage(fx: Fx, name: string, accountId: number): Promise<number> {
  const row = await fx.h.db.insertInto('images').values({
    uuid: randomUUID(), name, label: `${name} (made from a VM)`, alias_of: null, owner_account_id: accountId,
    supports_password: 0, supports_ssh_key: 1, supports_cloud_init: 0, supports_firstboot_script: 0,
    operating_system: 'linux', distro: 'debian', default_disc_mib: 4096, min_disc_mib: 2048, source: 'vm', status: 'active', created_at: 1,
  }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

function issuesOf(f: () => void): DomainError | null {
  try {
    f();
    return null;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
}

for (const store of stores('images')) {
  test(`the public catalogue is the constant catalogue, aliases and flags included (${store.name})`, async () => {
    await withCatalogue(store.postgres, async (fx) => {
      const list = await listImages(fx.h, fx.alice);
      assert.deepEqual(list.map((i) => i.name), IMAGES.map((i) => i.name).sort());
      for (const entry of IMAGES) {
        const img = list.find((i) => i.name === entry.name)!;
        const real = IMAGES.find((i) => i.name === (entry.aliasOf ?? entry.name))!;
        assert.match(img.uuid, UUID);
        assert.equal(img.ownerAccountId, null);
        assert.equal(img.aliasOf, entry.aliasOf ?? null);
        assert.equal(img.label, entry.description);
        assert.deepEqual(img.supports, real.supports, `${entry.name} has ${real.name}'s flags`);
        assert.equal(img.defaultDiscMiB, real.defaultDiscMiB);
        assert.equal(img.status, 'active');
        assert.equal(img.source, 'built');
      }
      assert.deepEqual(list.find((i) => i.name === 'bookworm')!.supports, { password: true, sshKey: true, cloudInit: true, firstbootScript: true }, 'cloud-init reads the drive');
      assert.deepEqual(list.find((i) => i.name === 'tiny')!.supports, { password: true, sshKey: true, cloudInit: false, firstbootScript: true }, 'busybox: no cloud-init');
    });
  });

  test(`a store made before the catalogue changed gets the catalogue's truth at its next open; an account's image is left alone (${store.name})`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-catalogue-'));
    const fresh = await freshStore({ postgres: store.postgres, sqliteFile: path.join(dir, 'hangar.sqlite') });
    const secrets = new SecretBox(Buffer.alloc(32, 7));
    try {
      let db = await openStore({ url: fresh.url, secrets });
      // as a store made when bookworm did not read #cloud-config, before `wheezy` was added, with a label since changed
      await db.updateTable('images').set({ supports_cloud_init: 0 }).where('name', 'in', ['bookworm', 'stretch']).execute();
      await db.updateTable('images').set({ label: 'old words' }).where('name', '=', 'tiny').execute();
      const wheezy = await db.selectFrom('images').select('uuid').where('name', '=', 'wheezy').executeTakeFirstOrThrow();
      await db.deleteFrom('images').where('name', '=', 'wheezy').execute();
      const before = await db.selectFrom('images').select(['name', 'uuid']).execute();
      const account = await db.insertInto('accounts').values({ uuid: randomUUID(), name: 'acme', created_at: 1 }).returning('id').executeTakeFirstOrThrow();
      await db.insertInto('images').values({
        uuid: randomUUID(), name: 'acme-web', label: 'made from a VM', alias_of: null, owner_account_id: account.id,
        supports_password: 1, supports_ssh_key: 1, supports_cloud_init: 0, supports_firstboot_script: 1,
        operating_system: 'linux', distro: 'debian', default_disc_mib: 4096, min_disc_mib: 2048, source: 'vm', status: 'active', created_at: 1,
      }).execute();
      await db.destroy();

      db = await openStore({ url: fresh.url, secrets });
      try {
        const rows = await db.selectFrom('images').selectAll().execute();
        const row = (name: string) => rows.find((r) => r.name === name)!;
        for (const name of ['bookworm', 'stretch', 'wheezy']) assert.equal(row(name).supports_cloud_init, 1, name);
        assert.equal(row('tiny').label, IMAGES.find((i) => i.name === 'tiny')!.description);
        assert.equal(row('wheezy').alias_of, 'bookworm');
        assert.notEqual(row('wheezy').uuid, wheezy.uuid, 'a missing entry gets a row of its own');
        for (const b of before) assert.equal(row(b.name).uuid, b.uuid, `${b.name} keeps its public id`);
        assert.equal(row('acme-web').supports_cloud_init, 0, 'an image an account made keeps the flags it was made with');
        assert.equal(rows.length, IMAGES.length + 1);
      } finally {
        await db.destroy();
      }
    } finally {
      await fresh.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`an account's own image is listed and resolved for that account and the cluster admin only (${store.name})`, async () => {
    await withCatalogue(store.postgres, async (fx) => {
      const id = await ownImage(fx, 'acme-web', fx.acme.id);
      assert.ok((await listImages(fx.h, fx.alice)).some((i) => i.name === 'acme-web'));
      assert.ok((await listImages(fx.h, fx.admin)).some((i) => i.name === 'acme-web'));
      const bobs = await listImages(fx.h, fx.bob);
      assert.ok(!bobs.some((i) => i.name === 'acme-web'), 'another account does not see it');
      assert.equal(bobs.length, IMAGES.length, 'but sees the public catalogue');
      const img = await imageByRef(fx.h, fx.alice, 'acme-web');
      assert.equal(img.id, id);
      assert.equal(img.ownerAccountId, fx.acme.id);
      for (const ref of ['acme-web', String(id), img.uuid, img.uuid.toUpperCase()]) {
        await assert.rejects(imageByRef(fx.h, fx.bob, ref), (e) => isCode(e, 'not_found') && e.params.entity === 'image', `bob: ${ref}`);
      }
    });
  });

  test(`imageByRef follows the one id rule: id, public id, name in any case; unknown ones name nothing (${store.name})`, async () => {
    await withCatalogue(store.postgres, async (fx) => {
      const byName = await imageByRef(fx.h, fx.bob, 'Bookworm');
      assert.equal(byName.name, 'bookworm');
      assert.equal((await imageByRef(fx.h, fx.bob, String(byName.id))).name, 'bookworm');
      assert.equal((await imageByRef(fx.h, fx.bob, byName.uuid)).name, 'bookworm');
      await assert.rejects(imageByRef(fx.h, fx.bob, '999999'), (e) => isCode(e, 'not_found'));
      await assert.rejects(imageByRef(fx.h, fx.bob, randomUUID()), (e) => isCode(e, 'not_found'));
      await assert.rejects(imageByRef(fx.h, fx.bob, 'nosuch'), (e) => isCode(e, 'not_found'));
    });
  });

  test(`a request using a feature the image lacks is refused with the field path; what it supports passes (${store.name})`, async () => {
    await withCatalogue(store.postgres, async (fx) => {
      await ownImage(fx, 'keys-only', fx.acme.id);
      const img = await imageByRef(fx.h, fx.alice, 'keys-only');
      const errs = new Issues();
      checkImageSupports(errs, img, { sshPublicKey: 'ssh-ed25519 AAAA x', rootPassword: 'pw-1234567', firstbootScript: '#!/bin/sh' }, 'image.');
      const err = issuesOf(() => errs.throwIfAny());
      assert.ok(err, 'refused');
      assert.deepEqual(err.issues.map((i) => [i.field, i.code, i.params?.reason, i.params?.feature, i.params?.image]), [
        ['image.rootPassword', 'invalid', 'not_supported', 'password', 'keys-only'],
        ['image.firstbootScript', 'invalid', 'not_supported', 'firstbootScript', 'keys-only'],
      ]);
      const ok = new Issues();
      checkImageSupports(ok, img, { sshPublicKey: 'ssh-ed25519 AAAA x' });
      assert.ok(ok.empty, 'an SSH key is supported');
      // the firstboot script field carries the drive's user-data: cloud-init's formats need cloud-init
      const tiny = await imageByRef(fx.h, fx.alice, 'tiny');
      const cloud = new Issues();
      checkImageSupports(cloud, tiny, { firstbootScript: '#cloud-config\nruncmd: [ls]\n' });
      assert.deepEqual(issuesOf(() => cloud.throwIfAny())?.issues.map((i) => [i.field, i.params?.feature]), [['firstbootScript', 'cloudInit']], 'tiny has no cloud-init');
      const bookworm = await imageByRef(fx.h, fx.alice, 'stretch');
      const applied = new Issues();
      checkImageSupports(applied, bookworm, { firstbootScript: '#cloud-config\nruncmd: [ls]\n' });
      assert.ok(applied.empty, 'bookworm (through its alias) reads #cloud-config');
    });
  });
}

test('cloud-init user data is told from a script as cloud-init tells it (the guest does the same: cidata.sh)', () => {
  for (const yes of ['#cloud-config\nruncmd: []', '  \n#Cloud-Config', '#include\nhttp://x', '#cloud-boothook\n', '#part-handler', '## template: jinja\n#cloud-config',
    'Content-Type: multipart/mixed; boundary="b"\nMIME-Version: 1.0\n', 'MIME-Version: 1.0\n']) assert.ok(isCloudInitData(yes), JSON.stringify(yes));
  for (const no of ['#!/bin/sh\necho hi', 'echo hi', '', '# cloud-config', 'runcmd: []']) assert.ok(!isCloudInitData(no), JSON.stringify(no));
});

test('create and reimage (checkImage) take a password, a key and a script on every catalogue image', () => {
  for (const entry of IMAGES) {
    const errs = new Issues();
    const image = checkImage(errs, { distribution: entry.name, rootPassword: 'pw-1234567', sshPublicKey: 'ssh-ed25519 AAAAC3Nz x', firstbootScript: '#!/bin/sh' });
    assert.equal(image, entry.aliasOf ?? entry.name);
    assert.ok(errs.empty, entry.name);
    const cloud = new Issues();
    checkImage(cloud, { distribution: entry.name, firstbootScript: '#cloud-config\nruncmd: [ls]\n' });
    const real = IMAGES.find((i) => i.name === (entry.aliasOf ?? entry.name))!;
    assert.equal(cloud.empty, real.supports!.cloudInit, `${entry.name}: #cloud-config only where cloud-init reads it`);
  }
});
