// Gigas' routes over a real tiny guest on a QEMU head (the wiring; the acts themselves are proven at
// head level by test/qemu/head-acts.test.ts): a VM created over Gigas comes online, its remote_console
// answers a VNC handshake with the returned password (and refuses another), reset_password lets root log
// in over SSH with the new password after the restart it makes, and an ISO mounted over
// Gigas reaches the running machine's drive by an operation that completes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { startHangar, type Running } from '../../src/brain/start.js';
import { bootstrap } from '../../src/brain/bootstrap.js';
import { makeDriver } from '../../src/cli/make-driver.js';
import { spawnSync } from 'node:child_process';
import { have, killGuests, tinyImage, tmpDir, until } from '../qemu/helpers.js';
import { vncHandshake } from '../qemu/vnc.js';
import { scanIsoLibrary } from '../../src/core/isos.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });

test('Gigas over a QEMU guest: create, remote_console with a VNC handshake, reset_password and SSH, ISO mount', { timeout: 120_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) return t.skip(img.skip);
  const dir = tmpDir('gigas-e2e');
  const dataDir = path.join(dir, 'data');
  const isoDir = path.join(dataDir, 'isos');
  fs.mkdirSync(isoDir, { recursive: true });
  fs.writeFileSync(path.join(isoDir, 'blank.iso'), Buffer.alloc(64 * 2048));
  const urls = { isoDir, allow: [] };
  const driver = await makeDriver('qemu', { dataDir, imagesDir: img.imagesDir, log, urls });
  const running: Running = await startHangar({
    storeUrl: path.join(dataDir, 'hangar.sqlite'), dataDir, log, heads: [{ label: 'head1', driver, resyncMs: 500 }], config: { headWaitMs: 60_000, urls },
  });
  const h = running.hangar;
  try {
    await bootstrap(h, { HANGAR_ADMIN_USER: 'admin', HANGAR_ADMIN_PASSWORD: 'admin-password', HANGAR_DEMO_ACCOUNT: 'acme' });
    const login = await running.app.inject({ method: 'POST', url: '/token', payload: { login: 'admin', password: 'admin-password' } });
    const token = JSON.parse(login.body).token as string;
    const g = async (method: string, url: string, body?: unknown) => {
      const res = await running.app.inject({
        method: method as 'GET', url, headers: { authorization: token, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        payload: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : null, text: res.body };
    };
    const done = (qt: string) => until(`transaction ${qt}`, async () => {
      const s = (await g('GET', `/transaction/${qt}/status`)).body.status;
      if (s === 'failed') throw new Error(`transaction ${qt} failed`);
      return s === 'complete';
    }, 90_000, 200);
    const account = await h.db.selectFrom('accounts').select('id').where('name', '=', 'acme').executeTakeFirstOrThrow();
    const A = `/account/${account.id}`;
    const tiny = (await g('GET', `${A}/templates`)).body.find((x: { label: string }) => /tiny/i.test(x.label));
    const zone = (await g('GET', `${A}/locations`)).body[0].id;

    const created = await g('POST', `${A}/virtual_machine`, { memory: 160, cpus: 1, hostname: 'gweb1', label: 'web', primary_disk_size: 1, location_id: zone, template_id: tiny.id });
    assert.equal(created.status, 202, created.text);
    await done(created.body.queue_token);
    const VM = `${A}/virtual_machine/${created.body.id}`;
    await until('online', async () => (await g('GET', VM)).body.status === 'online', 60_000, 200);

    const c = await g('GET', `${VM}/remote_console`);
    assert.equal(c.status, 200, c.text);
    assert.equal(await vncHandshake(c.body.host, c.body.port, c.body.password), 'ok');
    assert.equal(await vncHandshake(c.body.host, c.body.port, 'wrong123'), 'failed');

    // reset_password: the guest restarts and root logs in with the new password.
    if (have('sshpass')) {
      const reset = await g('POST', `${VM}/reset_password`, { password: 'Gigas_pw-1' });
      assert.equal(reset.status, 202, reset.text);
      await done(reset.body.queue_token);
      const port = await until('SSH port', async () => (await h.db.selectFrom('vms').select(['run_state', 'ssh_port']).where('id', '=', Number(created.body.id)).executeTakeFirstOrThrow()).ssh_port, 60_000, 200);
      await until('root logs in with the new password', () => {
        const r = spawnSync('sshpass', ['-p', 'Gigas_pw-1', 'ssh', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5',
          '-o', 'PreferredAuthentications=password', '-o', 'PubkeyAuthentication=no', '-p', String(port), 'root@127.0.0.1', 'echo in'], { encoding: 'utf8', timeout: 15_000 });
        return r.stdout.trim() === 'in';
      }, 90_000, 500);
    }

    const user = await h.db.selectFrom('users').select(['id', 'username']).where('username', '=', 'admin').executeTakeFirstOrThrow();
    const scanned = await scanIsoLibrary(h, { userId: user.id, username: user.username, factors: ['password'], apiKeyId: null, grants: [{ id: 0, level: 'cluster_admin', accountId: null, groupId: null, vmId: null }] });
    assert.equal(scanned.added.length, 1);
    const mounted = await g('POST', `${VM}/iso`, { iso_id: scanned.added[0]!.id });
    assert.equal(mounted.status, 200, mounted.text);
    assert.ok(mounted.body.queue_token, 'a running VM: the head changes its drive');
    await done(mounted.body.queue_token);
  } finally {
    await running.close();
    killGuests(dataDir);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
