// e24cloud create's user_data (docs/e24cloud.md): a `#!` script is taken on every template, cloud-init's
// formats (#cloud-config...) only on a template that lists `cloudinit` (bookworm, through Debian's
// cloud-init reading the config drive as NoCloud), and refused on one that does not (tiny) with
// nothing written; text that is neither is refused everywhere. What is taken reaches the head as the
// config drive's user-data. The guest side (cloud-init applying it) is test/images/bookworm.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers.js';
import { snapshot } from '../snapshot.js';
import { e24Tenant, withStore } from './client.js';

const CLOUD_CONFIG = '#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: hello\nruncmd:\n  - [touch, /root/mark]\n';

for (const postgres of [false, true]) {
  const store = postgres ? 'PostgreSQL' : 'SQLite';
  test(`create: #cloud-config is refused on tiny (no cloud-init, nothing written) and reaches bookworm's config drive (${store})`, async (ctx) => {
    await withStore('user_data test', async (t) => {
      const a = await e24Tenant(t, 'acme');
      const templates = (await a.signed('GET', '/v2/templates')).body.templates as { id: string; label: string; supports: string[] }[];
      const tiny = templates.find((x) => /tiny/i.test(x.label))!;
      const bookworm = templates.find((x) => /bookworm/i.test(x.label))!;
      assert.deepEqual(tiny.supports, ['password', 'sshkey'], 'tiny has no cloud-init');
      assert.deepEqual(bookworm.supports, ['password', 'sshkey', 'cloudinit'], 'bookworm applies #cloud-config');
      const base = { cpus: 1, ram: 256, name: 'web', boot_type: 'image' };

      const before = await snapshot(t);
      const refused = async (os: string, userData: string, words: RegExp, field = 'user_data') => {
        const r = await a.signed('PUT', '/v2/virtual-machines', { create_vm: { ...base, os, user_data: userData } });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.body.success, false);
        assert.equal(r.body.field, field, r.text);
        assert.equal(r.body.code, 'invalid', r.text);
        assert.match(r.body.error, words, r.text);
      };
      await refused(tiny.id, CLOUD_CONFIG, /not supported.*cloudInit/);
      await refused(tiny.id, '\n#Cloud-Config\nruncmd: [ls]\n', /cloudInit/); // as cloud-init reads it: blank lines and case aside
      await refused(bookworm.id, 'echo hello > /root/mark\n', /not script or cloud config/);
      await refused(bookworm.id, `#cloud-config\n${'#'.repeat(65536)}`, /more than 65536/, 'create_vm.user_data');
      assert.deepEqual(await snapshot(t), before, 'a refused create writes nothing');

      const r = await a.signed('PUT', '/v2/virtual-machines', { create_vm: { ...base, os: bookworm.id, user_data: CLOUD_CONFIG } });
      assert.equal(r.status, 200, r.text);
      const vm = await t.running.hangar.db.selectFrom('vms').innerJoin('discs', 'discs.vm_id', 'vms.id').select(['vms.id', 'discs.id as disc'])
        .where('vms.uuid', '=', r.body.virtual_machine.id).executeTakeFirstOrThrow();
      const imaged = await until('the system disc imaged', async () => t.drivers[0]!.images.get(vm.disc));
      assert.equal(imaged.image, 'bookworm');
      assert.equal(imaged.firstBoot.firstbootScript, CLOUD_CONFIG, 'the drive\'s user-data, as given');

      // a `#!` script is Hangar's own first boot on both
      for (const os of [tiny.id, bookworm.id]) {
        const s = await a.signed('PUT', '/v2/virtual-machines', { create_vm: { ...base, name: `s-${os.slice(0, 8)}`, os, user_data: '#!/bin/sh\necho hi\n' } });
        assert.equal(s.status, 200, s.text);
      }
    }, postgres, ctx);
  });
}
