// e24cloud on a real tiny guest (QEMU under TCG): a VM created over /v2 with a password, an SSH key
// of the account and `#!` user_data boots, and the script has left its mark inside the guest; a
// resize of the running guest (ACPI shutdown, apply, start again) shows in the guest's CPU count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import pino from 'pino';
import { startHangar, type Running } from '../../src/brain/start.js';
import { bootstrap } from '../../src/brain/bootstrap.js';
import { makeDriver } from '../../src/cli/make-driver.js';
import { killGuests, sshKeyPair, sshWhenReady, tinyImage, tmpDir, until } from '../qemu/helpers.js';
import { signer, type Pair } from './client.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });

test('e24cloud create with #! user_data leaves its mark in a real guest; resize of the running guest shows in it', { timeout: 600_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) return t.skip(img.skip);
  const dir = tmpDir('e24-qemu');
  const dataDir = path.join(dir, 'data');
  const key = sshKeyPair(dir);
  const driver = await makeDriver('qemu', { dataDir, imagesDir: img.imagesDir, log, urls: { isoDir: null, allow: [] } });
  const running: Running = await startHangar({
    storeUrl: path.join(dataDir, 'hangar.sqlite'), dataDir, log, heads: [{ label: 'head1', driver, resyncMs: 500 }], config: { headWaitMs: 60_000 },
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
  } finally {
    await running.close();
    killGuests(dataDir);
  }
});
