// A real guest through the head agent on the real LocalLink and a SQLite store: reimage with a key
// then boot to SSH, a cdrom_url ISO (file://) readable in the guest, a server restart while the
// guest runs (adopted, not duplicated), and reimaging again (the disc really is replaced).
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { openStore, type Store } from '../../src/store/db.js';
import { SecretBox } from '../../src/core/secrets.js';
import { LocalLink } from '../../src/heads/local-link.js';
import { HeadAgent } from '../../src/heads/agent.js';
import { enqueue, getOperation } from '../../src/operations/queue.js';
import { secretArg } from '../../src/operations/kinds.js';
import { QemuDriver } from '../../src/drivers/qemu/index.js';
import { firstBoot, sshKeyPair, sshWhenReady, tinyImage, tmpDir, until, ssh } from './helpers.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });

function qemuCount(runDir: string): number {
  try {
    return execFileSync('pgrep', ['-f', runDir], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

test('reimage, SSH, cdrom_url, server restart with a running guest, reimage again (LocalLink + SQLite)', { timeout: 300_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) { t.skip(img.skip); return; }
  const dir = tmpDir('store');
  const key = sshKeyPair(dir);
  const isoTree = path.join(dir, 'isotree');
  fs.mkdirSync(isoTree);
  fs.writeFileSync(path.join(isoTree, 'hello.txt'), 'hello from the cdrom\n');
  const iso = path.join(dir, 'hello.iso');
  execFileSync('genisoimage', ['-quiet', '-o', iso, '-V', 'HELLO', '-J', '-r', isoTree]);

  const secrets = SecretBox.ephemeral();
  const db: Store = await openStore({ url: ':memory:', secrets });
  const now = Date.now();
  const account = await db.insertInto('accounts').values({ uuid: randomUUID(), name: 'acme', created_at: now }).returning('id').executeTakeFirstOrThrow();
  const group = await db.insertInto('groups').values({ uuid: randomUUID(), account_id: account.id, name: 'default', vlan_num: null, created_at: now }).returning('id').executeTakeFirstOrThrow();

  const head = (): { driver: QemuDriver; agent: HeadAgent } => {
    const driver = new QemuDriver({ dataDir: path.join(dir, 'head'), imagesDir: img.imagesDir, log, statsIntervalMs: 0, urls: { isoDir: dir, allow: [] } });
    const agent = new HeadAgent(new LocalLink(db, 'hangar.local', secrets), driver, { label: 'head1', zone: 'z', managementAddress: '127.0.0.1', network: { mode: 'user' }, resyncMs: 1000, log });
    return { driver, agent };
  };
  let h = head();
  const headId = await h.agent.start();
  t.after(async () => {
    await h.agent.stop();
    const d = new QemuDriver({ dataDir: path.join(dir, 'head'), imagesDir: img.imagesDir, statsIntervalMs: 0 });
    for (const m of await d.list()) await d.stop(m.vmId);
    await d.close();
    await db.destroy();
  });

  const vm = await db.insertInto('vms').values({
    uuid: randomUUID(), group_id: group.id, name: 'web', cores: 1, memory: 192, power_on: 0, autoreboot_on: 1, cdrom_url: pathToFileURL(iso).href,
    keymap: null, hardware_profile: 'virtio2013', hardware_profile_locked: 0, zone_name: 'z', head_id: headId, deleted: 0,
    deleted_at: null, last_imaged_with: null, vnc_password: secrets.seal('vncpw'), created_at: now, updated_at: now, pid: null, last_seen: null,
    ssh_port: null, vnc_port: null, head_note: null,
  }).returning('id').executeTakeFirstOrThrow();
  const discRow = await db.insertInto('discs').values({ uuid: randomUUID(), vm_id: vm.id, label: 'vda', storage_grade: 'sata', size: 256, storage_pool_id: null, created_at: now })
    .returning('id').executeTakeFirstOrThrow();
  await db.insertInto('nics').values({ uuid: randomUUID(), vm_id: vm.id, label: null, mac: '52:54:00:20:00:01', vlan_num: 1, created_at: now }).execute();
  const disc = { id: discRow.id, vmId: vm.id, label: 'vda', grade: 'sata', size: 256 };

  const reimage = (script: string): Promise<number> => enqueue(db, {
    kind: 'reimage', vmId: vm.id, headId, userId: null, now: Date.now(),
    args: {
      vmId: vm.id, distribution: 'tiny', image: 'tiny', afterwards: { power_on: 1, autoreboot_on: 0 },
      firstBoot: { ...firstBoot({ hostname: 'web', authorizedKeys: key.public }), firstbootScript: secretArg(secrets, script), rootPasswordHash: null },
    },
  });
  const row = () => db.selectFrom('vms').selectAll().where('id', '=', vm.id).executeTakeFirstOrThrow();
  const runningRow = (notPid: number | null = null) => until('run_state running', async () => {
    const r = await row();
    return r.run_state === 'running' && r.pid !== notPid && r.ssh_port ? r : null;
  }, 30_000);

  // create (disc + image + power on, as vm_create does) → SSH
  const t0 = performance.now();
  const opCreate = await enqueue(db, { kind: 'disc.create', vmId: vm.id, headId, userId: null, now, args: { disc } });
  const opImage = await reimage('#!/bin/sh\necho one > /root/marker\n');
  await h.agent.kick(vm.id);
  assert.equal((await getOperation(db, opCreate))?.state, 'done');
  assert.equal((await getOperation(db, opImage))?.state, 'done', (await getOperation(db, opImage))?.error ?? '');
  const r1 = await runningRow();
  assert.equal(r1.last_imaged_with, 'tiny');
  const out = await sshWhenReady(r1.ssh_port!, key.private, 'hostname; cat /root/marker; mount -t iso9660 -o ro /dev/sr0 /mnt && cat /mnt/hello.txt');
  t.diagnostic(`reimage + power on → SSH command ran: ${Math.round(performance.now() - t0)} ms`);
  assert.equal(out, 'web.default.acme.hangar.local\none\nhello from the cdrom\n');
  assert.equal(r1.vnc_port !== null && r1.vnc_port >= 5900, true);

  // restart the server: the guest keeps running and the new head adopts it
  const runDir = path.join(dir, 'head', 'run');
  assert.equal(qemuCount(runDir), 1);
  await h.agent.stop();
  h = head();
  await h.agent.start();
  await h.agent.kick(vm.id);
  const r2 = await row();
  assert.equal(r2.run_state, 'running');
  assert.equal(r2.pid, r1.pid, 'the same QEMU, adopted');
  assert.equal(qemuCount(runDir), 1, 'no second QEMU');
  assert.equal((await ssh(r1.ssh_port!, key.private, 'echo scratch > /root/scratch; cat /root/marker')).stdout, 'one\n');
  // the adopted machine is fully controlled: a guest power-off is seen and honoured (autoreboot_on is 0 now)
  assert.equal(r2.autoreboot_on, 0);
  await enqueue(db, { kind: 'signal', vmId: vm.id, headId, userId: null, now: Date.now(), args: { signal: { kind: 'powerdown' } } });
  await h.agent.kick(vm.id);
  await until('powered off by the guest', async () => {
    const r = await row();
    return r.run_state === 'stopped' && r.power_on === 0;
  }, 30_000);

  // reimage again: the disc is replaced, the new firstboot script runs
  const op2 = await reimage('#!/bin/sh\necho two > /root/marker\n');
  await h.agent.kick(vm.id);
  assert.equal((await getOperation(db, op2))?.state, 'done', (await getOperation(db, op2))?.error ?? '');
  const r3 = await runningRow(r1.pid);
  assert.equal(await sshWhenReady(r3.ssh_port!, key.private, 'cat /root/marker; ls /root/scratch 2>/dev/null || echo no-scratch'), 'two\nno-scratch\n');
  void disc;
});
