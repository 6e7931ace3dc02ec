// The ISO library (docs/domain.md §12 ISO) through core alone: a scan registers the .iso files under
// the library directory (and nothing a symlink leads out of it to), forgets the ones gone, and an
// ISO named by id becomes the file:// URL the URL policy accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stores, withCatalogue } from './catalogues.js';
import { isoByRef, isoName, isoUrl, listIsos, scanIsoLibrary } from '../../src/core/isos.js';
import { isCode } from '../../src/core/errors.js';
import { tenantUrlRefusal } from '../../src/core/urls.js';

/** A library directory (reached through a symlink, as a configured path may be) and a file outside it. */
function library(): { root: string; dir: string; outside: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-isos-'));
  fs.mkdirSync(path.join(root, 'real', 'sub'), { recursive: true });
  fs.symlinkSync(path.join(root, 'real'), path.join(root, 'lib'));
  const dir = path.join(root, 'lib');
  const outside = path.join(root, 'secret.iso');
  fs.writeFileSync(outside, 'not for tenants');
  fs.writeFileSync(path.join(dir, 'a.iso'), 'aaaa');
  fs.writeFileSync(path.join(dir, 'Debian 12.4 netinst.ISO'), 'debian');
  fs.writeFileSync(path.join(dir, '1234.iso'), 'x');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not an iso');
  fs.writeFileSync(path.join(dir, 'sub', 'a.iso'), 'sub-a');
  fs.symlinkSync(outside, path.join(dir, 'escape.iso'));
  fs.symlinkSync(path.join(root), path.join(dir, 'up'));
  return { root, dir, outside };
}

test('ISO names are DNS labels made from the file name, never id-shaped', () => {
  assert.equal(isoName('Debian 12.4 netinst.ISO'), 'debian-12-4-netinst');
  assert.equal(isoName('sub/a.iso'), 'a');
  assert.equal(isoName('1234.iso'), 'iso-1234');
  assert.equal(isoName('---.iso'), 'iso');
});

for (const store of stores('isos')) {
  test(`a scan registers the library's .iso files, skips what leads outside it, and forgets files gone (${store.name})`, async () => {
    const lib = library();
    try {
      await withCatalogue(store.postgres, async (fx) => {
        const first = await scanIsoLibrary(fx.h, fx.admin);
        assert.deepEqual(first.added.map((i) => [i.file, i.name, i.label, i.sizeBytes, i.ownerAccountId]), [
          ['1234.iso', 'iso-1234', '1234.iso', 1, null],
          ['Debian 12.4 netinst.ISO', 'debian-12-4-netinst', 'Debian 12.4 netinst.ISO', 6, null],
          ['a.iso', 'a', 'a.iso', 4, null],
          ['sub/a.iso', 'a-2', 'a.iso', 5, null],
        ]);
        assert.deepEqual(first.removed, []);
        const again = await scanIsoLibrary(fx.h, fx.admin);
        assert.deepEqual([again.added, again.removed], [[], []], 'a second scan changes nothing');
        // Every user sees the library.
        assert.deepEqual((await listIsos(fx.h, fx.bob)).map((i) => i.name), ['a', 'a-2', 'debian-12-4-netinst', 'iso-1234']);

        fs.rmSync(path.join(lib.dir, 'a.iso'));
        fs.writeFileSync(path.join(lib.dir, 'sub', 'a.iso'), 'grown-sub-a');
        fs.writeFileSync(path.join(lib.dir, 'new.iso'), 'n');
        const third = await scanIsoLibrary(fx.h, fx.admin);
        assert.deepEqual(third.removed.map((i) => i.file), ['a.iso']);
        assert.deepEqual(third.added.map((i) => i.name), ['new']);
        assert.equal((await isoByRef(fx.h, fx.alice, 'a-2')).sizeBytes, 11, 'sizes follow the files');
      }, { urls: { isoDir: lib.dir, allow: [] } });
    } finally {
      fs.rmSync(lib.root, { recursive: true, force: true });
    }
  });

  test(`an ISO named by id, public id or name resolves to the file:// URL the URL policy accepts, never outside the library (${store.name})`, async () => {
    const lib = library();
    try {
      await withCatalogue(store.postgres, async (fx) => {
        await scanIsoLibrary(fx.h, fx.admin);
        const deb = await isoByRef(fx.h, fx.bob, 'debian-12-4-netinst');
        assert.equal((await isoByRef(fx.h, fx.bob, String(deb.id))).uuid, deb.uuid);
        assert.equal((await isoByRef(fx.h, fx.bob, deb.uuid.toUpperCase())).id, deb.id);
        await assert.rejects(isoByRef(fx.h, fx.bob, 'escape'), (e) => isCode(e, 'not_found') && e.params.entity === 'iso');
        await assert.rejects(isoByRef(fx.h, fx.bob, '999'), (e) => isCode(e, 'not_found'));
        const url = await isoUrl(fx.h, deb);
        assert.equal(url, `file://${lib.dir}/Debian%2012.4%20netinst.ISO`);
        assert.equal(tenantUrlRefusal(url, 'bigv', fx.h.config.urls), null, 'the cdrom URL policy accepts it');
        // A file swapped for a symlink out of the library is no longer handed out.
        fs.rmSync(path.join(lib.dir, 'Debian 12.4 netinst.ISO'));
        fs.symlinkSync(lib.outside, path.join(lib.dir, 'Debian 12.4 netinst.ISO'));
        await assert.rejects(isoUrl(fx.h, deb), (e) => isCode(e, 'state') && e.params.reason === 'iso_unavailable');
        assert.deepEqual((await scanIsoLibrary(fx.h, fx.admin)).removed.map((i) => i.name), ['debian-12-4-netinst']);
      }, { urls: { isoDir: lib.dir, allow: [] } });
    } finally {
      fs.rmSync(lib.root, { recursive: true, force: true });
    }
  });

  test(`only a cluster admin scans, and only when the cluster has a library (${store.name})`, async () => {
    await withCatalogue(store.postgres, async (fx) => {
      await assert.rejects(scanIsoLibrary(fx.h, fx.alice), (e) => isCode(e, 'forbidden'));
      await assert.rejects(scanIsoLibrary(fx.h, fx.admin), (e) => isCode(e, 'state') && e.params.reason === 'no_iso_library');
      assert.deepEqual(await listIsos(fx.h, fx.admin), []);
    });
  });
}
