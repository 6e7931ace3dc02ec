// End to end: BigV API -> core -> head agent -> QEMU driver -> a real tiny guest under TCG.
// One guest goes through the whole life a user gives it; each step is checked inside the guest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import pino from 'pino';
import { startHangar, type Running } from '../../src/brain/start.js';
import { bootstrap } from '../../src/brain/bootstrap.js';
import { makeDriver } from '../../src/cli/make-driver.js';
import { sshKeyPair, sshWhenReady, tinyImage, tmpDir } from '../qemu/helpers.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });
const VM = '/accounts/acme/groups/default/virtual_machines/web1';

/** The cluster's ISO library: the one place a file:// cdrom_url may name. */
const isoLibrary = (dataDir: string) => path.join(dataDir, 'isos');

async function start(dataDir: string, imagesDir: string): Promise<Running> {
  const urls = { isoDir: isoLibrary(dataDir), allow: [] };
  const driver = await makeDriver('qemu', { dataDir, imagesDir, log, urls });
  return startHangar({
    storeUrl: path.join(dataDir, 'hangar.sqlite'), dataDir, log,
    heads: [{ label: 'head1', driver, resyncMs: 500 }],
    config: { headWaitMs: 60_000, urls },
  });
}

function client(r: Running, token: string | null) {
  return async (method: string, url: string, body?: unknown) => {
    const res = await r.app.inject({
      method: method as 'GET', url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      payload: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.statusCode, body: res.body && res.headers['content-type'] === 'application/json' ? JSON.parse(res.body) : res.body };
  };
}

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('BigV API drives a real QEMU guest through its whole life', { timeout: 600_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) return t.skip(img.skip);
  const dir = tmpDir('e2e');
  const dataDir = path.join(dir, 'data');
  const key = sshKeyPair(dir);
  const figures: Record<string, number> = {};
  let running = await start(dataDir, img.imagesDir);
  try {
    await bootstrap(running.hangar, { HANGAR_ADMIN_USER: 'admin', HANGAR_ADMIN_PASSWORD: 'admin-password', HANGAR_DEMO_ACCOUNT: 'acme' });
    const login = await running.app.inject({ method: 'POST', url: '/session', payload: { username: 'admin', password: 'admin-password' } });
    const token = login.body;
    let api = client(running, token);
    // The QEMU pid is the head's business, not the API's: read it from the store.
    const vm = async () => {
      const body = (await api('GET', `${VM}?view=overview`)).body;
      const row = await running.hangar.db.selectFrom('vms').select('pid').where('id', '=', body.id).executeTakeFirst();
      return { ...body, pid: row?.pid ?? null };
    };
    const inGuest = async (cmd: string) => {
      const v = await vm();
      const port = Number(String(v.ssh_forward).split(':')[1]);
      return sshWhenReady(port, key.private, cmd, 90_000);
    };

    // Create with the tiny image and an SSH key; it boots and we can SSH in.
    const created = Date.now();
    let r = await api('POST', '/accounts/acme/groups/default/vm_create', {
      virtual_machine: { name: 'web1', cores: 1, memory: 256 },
      discs: [{ label: 'disc-1', storage_grade: 'sata', size: 256 }],
      reimage: { distribution: 'tiny', root_password: 'secret', ssh_public_key: key.public, firstboot_script: '#!/bin/sh\necho firstboot-ran > /root/marker\n' },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const first = await until('running', async () => ((await vm()).state === 'running' ? vm() : null));
    assert.match(first.ssh_forward, /^127\.0\.0\.1:\d+$/);
    figures.createToRunningMs = Date.now() - created;
    assert.equal((await inGuest('cat /root/marker')).trim(), 'firstboot-ran');
    figures.createToSshMs = Date.now() - created;
    assert.equal((await inGuest('hostname')).trim(), 'web1.default.acme.hangar.local');

    // PUT power_on=false then true: the QEMU process goes away, then a new one boots.
    r = await api('PUT', VM, { power_on: false, autoreboot_on: false });
    assert.equal(r.body.power_on, false);
    await until('stopped', async () => (await vm()).state === 'stopped');
    const onAt = Date.now();
    r = await api('PUT', VM, { power_on: true, autoreboot_on: true });
    assert.equal(r.body.power_on, true);
    figures.putPowerOnToRunningMs = Date.now() - onAt;
    assert.equal((await vm()).state, 'running');
    assert.equal((await inGuest('echo up')).trim(), 'up');

    // ACPI powerdown with autoreboot_on: the guest shuts down and is powered straight back on.
    const before = await inGuest('cat /proc/sys/kernel/random/boot_id');
    r = await api('POST', `${VM}/signal`, { signal: 'powerdown' });
    assert.equal(r.status, 200);
    await until('rebooted after powerdown', async () => {
      const id = await inGuest('cat /proc/sys/kernel/random/boot_id').catch(() => before);
      return id !== before;
    }, 120_000);
    assert.equal((await vm()).power_on, true);

    // bytemark-client's shutdown: autoreboot off, powerdown, poll until power_on is false.
    await api('PUT', VM, { autoreboot_on: false });
    r = await api('POST', `${VM}/signal`, { signal: 'powerdown' });
    assert.equal(r.status, 200);
    await until('powered off by the guest', async () => (await vm()).power_on === false, 60_000);
    assert.equal((await vm()).state, 'stopped');

    // Reboot through the power table: {autoreboot_on:true, power_on:false} on a running VM.
    await api('PUT', VM, { power_on: true, autoreboot_on: true });
    const bootA = await inGuest('cat /proc/sys/kernel/random/boot_id');
    r = await api('PUT', VM, { power_on: false, autoreboot_on: true });
    assert.equal(r.body.power_on, true);
    const bootB = await inGuest('cat /proc/sys/kernel/random/boot_id');
    assert.notEqual(bootA, bootB, 'a fresh boot');

    // kill -9 of QEMU: the reconciler restores the desired state (autoreboot_on) within 2 s.
    const pid = (await vm()).pid as number;
    assert.ok(pid && alive(pid));
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await until('restarted after kill -9', async () => {
      const v = await vm();
      return v.state === 'running' && v.pid && v.pid !== pid;
    }, 10_000);
    figures.killToRestartedMs = Date.now() - killedAt;
    assert.ok(figures.killToRestartedMs < 2000, `restored in ${figures.killToRestartedMs} ms`);

    // Grow the disc while it runs: the guest sees the new size at once.
    r = await api('PUT', `${VM}/discs/disc-1`, { size: 512 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.size, 512);
    await until('guest sees 512 MiB', async () => (await inGuest('cat /sys/block/vda/size')).trim() === String(512 * 2048), 20_000);

    // Restart hangar with the guest running: it keeps running and is adopted, not duplicated.
    const guestPid = (await vm()).pid as number;
    const bootC = await inGuest('cat /proc/sys/kernel/random/boot_id');
    await running.close();
    assert.ok(alive(guestPid), 'the guest outlives the server');
    running = await start(dataDir, img.imagesDir);
    api = client(running, token);
    await new Promise((res) => setTimeout(res, 1500)); // a few resync periods
    assert.equal((await vm()).pid, guestPid, 'adopted');
    assert.equal((await inGuest('cat /proc/sys/kernel/random/boot_id')), bootC, 'same boot');
    const qemus = spawnSync('pgrep', ['-f', `qemu-system-x86_64.*${dataDir}`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    assert.equal(qemus.length, 1, 'exactly one QEMU for the VM');

    // cdrom_url from a file:// ISO in the ISO library is visible in the guest after a fresh boot;
    // one outside it is refused.
    const isoDir = path.join(dir, 'iso');
    fs.mkdirSync(isoDir);
    fs.writeFileSync(path.join(isoDir, 'hello.txt'), 'hello from the iso\n');
    fs.mkdirSync(isoLibrary(dataDir), { recursive: true });
    spawnSync('genisoimage', ['-quiet', '-o', path.join(isoLibrary(dataDir), 'hello.iso'), '-V', 'HELLO', '-r', '-J', isoDir]);
    r = await api('PUT', VM, { cdrom_url: 'file:///etc/shadow' });
    assert.equal(r.status, 400);
    r = await api('PUT', VM, { cdrom_url: `file://${path.join(isoLibrary(dataDir), 'hello.iso')}` });
    assert.equal(r.status, 200);
    await api('PUT', VM, { power_on: false, autoreboot_on: true }); // reboot applies it
    const seen = await inGuest('modprobe -q sr_mod 2>/dev/null; modprobe -q isofs 2>/dev/null; mkdir -p /mnt/cd; mount -t iso9660 -o ro /dev/sr0 /mnt/cd 2>/dev/null; cat /mnt/cd/hello.txt');
    assert.equal(seen.trim(), 'hello from the iso');

    // Reimage: powered off, written again, then on with autoreboot off; the new first boot runs.
    await api('PUT', VM, { power_on: false, autoreboot_on: false });
    await until('stopped', async () => (await vm()).state === 'stopped');
    r = await api('POST', `${VM}/reimage`, { distribution: 'tiny', root_password: 'other', ssh_public_key: key.public, firstboot_script: '#!/bin/sh\necho reimaged > /root/marker\n' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await until('on again after reimage', async () => (await vm()).state === 'running', 60_000);
    const after = await vm();
    assert.equal(after.power_on, true);
    assert.equal(after.autoreboot_on, false);
    assert.equal((await inGuest('cat /root/marker')).trim(), 'reimaged');

    // Purge: the QEMU process and the disc files go away.
    const lastPid = (await vm()).pid as number;
    r = await api('DELETE', `${VM}?purge=true`);
    assert.equal(r.status, 204);
    await until('QEMU gone', async () => !alive(lastPid), 20_000);
    t.diagnostic(`figures: ${JSON.stringify(figures)}`);
  } finally {
    await running.close();
    spawnSync('pkill', ['-9', '-f', `qemu-system-x86_64.*${dataDir}`]);
  }
});
