// e24cloud on a real tiny guest (QEMU under TCG): a VM created over /v2 with a password, an SSH key
// of the account and `#!` user_data boots, and the script has left its mark inside the guest; a
// resize of the running guest (ACPI shutdown, apply, start again) shows in the guest's CPU count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { sshKeyPair, sshWhenReady, tinyImage, tmpDir, until } from '../qemu/helpers.js';
import { withRealHead } from './real-head.js';

test('e24cloud create with #! user_data leaves its mark in a real guest; resize of the running guest shows in it', { timeout: 600_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) return t.skip(img.skip);
  const key = sshKeyPair(tmpDir('e24-qemu-key'));
  await withRealHead('e24-qemu', { imagesDir: img.imagesDir, resyncMs: 500, headWaitMs: 60_000 }, async ({ running, ewa, call, signed }) => {
    const tiny = (await signed('GET', '/v2/templates')).body.templates.find((x: { label: string }) => /tiny/i.test(x.label)).id;
    const keyId = (await signed('PUT', '/v2/account/sshkey', { name: 'test', method: 'upload', content: key.public })).body.sshkeys.id;
    const made = await signed('PUT', '/v2/virtual-machines', { create_vm: {
      cpus: 1, ram: 256, name: 'guest one', boot_type: 'image', os: tiny, password: 'root-pw-123', key_id: keyId,
      user_data: '#!/bin/sh\necho e24-user-data-ran > /root/e24-mark\n',
    } });
    assert.equal(made.status, 200, made.text);
    const id = made.body.virtual_machine.id;
    const vm = async () => (await signed('GET', `/v2/virtual-machines/${id}`)).body.virtual_machine;
    await until('online', async () => (await vm()).state === 'online', 180_000, 200);
    const inGuest = async (cmd: string) => {
      const bigv = (await call('GET', '/accounts/acme/groups/default/virtual_machines/guest-one', ewa)).body;
      return (await sshWhenReady(Number(String(bigv.ssh_forward).split(':')[1]), key.private, cmd, 120_000)).trim();
    };
    assert.equal(await inGuest('cat /root/e24-mark'), 'e24-user-data-ran');
    assert.equal(await inGuest('grep -c ^processor /proc/cpuinfo'), '1');

    const resized = await signed('POST', `/v2/virtual-machines/${id}/resize`, { cores: 2, ram: 384, wait_for: 1 });
    assert.equal(resized.status, 200, resized.text);
    await until('resized and online', async () => { const v = await vm(); return v.cores === 2 && v.ram === 384 && v.state === 'online'; }, 180_000, 200);
    assert.equal(await inGuest('grep -c ^processor /proc/cpuinfo'), '2');
    const shutdown = await running.hangar.db.selectFrom('operations').select(['result']).where('kind', '=', 'vm.power.shutdown').executeTakeFirstOrThrow();
    assert.match(String(shutdown.result), /"forced":false/, 'the guest halted on the ACPI request');
    assert.equal((await signed('DELETE', `/v2/virtual-machines/${id}`, { deleteResources: 1 })).status, 200);
  });
});
