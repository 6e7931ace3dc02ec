// Real guests (the tiny image) driven by the head agent through an in-memory BrainLink: imaging,
// booting to SSH, BigV power semantics for powerdown (autoreboot_on false and true), guest reboot
// by ctrl-alt-del, kill -9 of QEMU (restored within 2 s), and a disc grown while running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { DesiredVm } from '../../src/heads/link.js';
import { HeadAgent } from '../../src/heads/agent.js';
import { QemuDriver } from '../../src/drivers/qemu/index.js';
import { firstBoot, MemoryLink, sshKeyPair, sshWhenReady, tinyImage, tmpDir, until, ssh } from './helpers.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });

test('power semantics with a real guest through the head agent', { timeout: 300_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) { t.skip(img.skip); return; }
  const dir = tmpDir('power');
  const key = sshKeyPair(dir);
  const driver = new QemuDriver({ dataDir: dir, imagesDir: img.imagesDir, log, statsIntervalMs: 0 });
  const link = new MemoryLink();
  const agent = new HeadAgent(link, driver, { label: 'h1', zone: 'z', managementAddress: '127.0.0.1', network: { mode: 'user' }, resyncMs: 1000, log });
  const disc = { id: 101, vmId: 1, label: 'vda', grade: 'sata', size: 256 };
  const vm: DesiredVm = {
    id: 1, name: 'power', hostname: 'power.default.acme.hangar.local', cores: 1, memory: 192, hardwareProfile: 'virtio2013',
    keymap: null, cdromUrl: null, image: null, vncPassword: 'vncpass1', powerOn: false, autorebootOn: false, deleted: false,
    powerCycle: 0, observedCycle: 0, observedRunning: false, sshPort: null, discs: [disc],
    nics: [{ id: 1, mac: '52:54:00:10:00:01', ipv4: ['10.64.0.5'], ipv6: [], gateway4: '10.64.0.1', prefix4: 24 }],
  };
  link.vms.set(1, vm);
  await agent.start();
  t.after(async () => {
    await driver.stop(1).catch(() => undefined);
    await agent.stop();
  });
  assert.equal(link.facts?.accel, 'tcg');

  // create the disc and image it, with a key and a firstboot script
  const create = link.queue(1, 'disc.create', { disc });
  const reimage = link.queue(1, 'reimage', {
    vmId: 1, distribution: 'tiny', image: 'tiny', afterwards: null,
    firstBoot: firstBoot({ authorizedKeys: key.public, firstbootScript: '#!/bin/sh\necho firstboot-ran > /root/firstboot-marker\n' }),
  });
  await agent.kick(1);
  assert.equal(await link.opResult(create), null);
  assert.equal(await link.opResult(reimage), null);
  assert.equal(vm.image, 'tiny');

  const running = async (notPid: number | null = null): Promise<{ pid: number; sshPort: number }> => until('the machine running', async () => {
    const s = await driver.status(1);
    const o = link.observed.get(1);
    return s.state === 'running' && s.pid !== notPid && o?.running && o.pid === s.pid ? { pid: s.pid!, sshPort: s.sshPort! } : null;
  }, 30_000);
  const stopped = (): Promise<boolean> => until('the machine off', async () => (await driver.status(1)).state === 'stopped' && link.observed.get(1)?.running === false, 30_000);

  // power on: boots, SSH with the key works, the firstboot script ran
  vm.powerOn = true;
  const t0 = performance.now();
  await agent.kick(1);
  const first = await running();
  const tRunning = performance.now() - t0;
  const out = await sshWhenReady(first.sshPort, key.private, 'hostname; cat /root/firstboot-marker');
  const tSsh = performance.now() - t0;
  t.diagnostic(`power on → running ${Math.round(tRunning)} ms; → SSH command ran ${Math.round(tSsh)} ms (spawn → QMP ${Math.round(driver.lastStart?.spawnToQmp ?? NaN)} ms)`);
  assert.equal(out, 'power.default.acme.hangar.local\nfirstboot-ran\n');

  // grow the disc while running: the guest sees the new size at once
  const grow = link.queue(1, 'disc.grow', { disc, size: 384 });
  await agent.kick(1);
  assert.equal(await link.opResult(grow), null);
  const sectors = await until('the guest to see the grown disc', async () => {
    const r = await ssh(first.sshPort, key.private, 'cat /sys/block/vda/size');
    return r.code === 0 && Number(r.stdout) === 384 * 2048 ? r.stdout : null;
  }, 15_000, 300);
  assert.equal(Number(sectors), 384 * 2048);

  // ACPI powerdown with autoreboot_on=false: the guest shuts down and stays off
  const pd = link.queue(1, 'signal', { signal: { kind: 'powerdown' } });
  await agent.kick(1);
  assert.equal(await link.opResult(pd), null);
  await stopped();
  await until('power_on false', () => vm.powerOn === false);
  assert.equal(link.notes.get(1), null);

  // power on again
  vm.powerOn = true;
  await agent.kick(1);
  const second = await running(first.pid);
  await sshWhenReady(second.sshPort, key.private, 'true');

  // with autoreboot_on=true, a powerdown brings it back (a new process)
  vm.autorebootOn = true;
  link.queue(1, 'signal', { signal: { kind: 'powerdown' } });
  await agent.kick(1);
  const third = await running(second.pid);
  assert.equal(vm.powerOn, true);
  await sshWhenReady(third.sshPort, key.private, 'true');

  // ctrl-alt-del: the guest reboots, which ends the process (guest-reset) and the head boots it again
  link.queue(1, 'signal', { signal: { kind: 'sendkey', keys: ['ctrl-alt-del'] } });
  await agent.kick(1);
  const fourth = await running(third.pid);

  // kill -9 with autoreboot_on: running again within 2 s
  const tKill = performance.now();
  process.kill(fourth.pid, 'SIGKILL');
  const fifth = await running(fourth.pid);
  const restoreMs = performance.now() - tKill;
  t.diagnostic(`kill -9 → running again: ${Math.round(restoreMs)} ms`);
  assert.ok(restoreMs < 2000, `restored in ${restoreMs} ms`);
  assert.ok((link.observed.get(1)?.bootCount ?? 0) >= 5);

  // kill -9 without autoreboot_on: reported off, with the reason
  vm.autorebootOn = false;
  process.kill(fifth.pid, 'SIGKILL');
  await stopped();
  await until('power_on false after the crash', () => vm.powerOn === false);
  assert.equal(link.notes.get(1), 'the machine crashed');

  // a powerdown sent while the guest is still booting (before anything listens to the button) is
  // not lost: the driver presses again until the guest is up to hear it
  vm.powerOn = true;
  await agent.kick(1);
  await running(fifth.pid);
  assert.equal(driver.readyAt(1), null);
  const early = link.queue(1, 'signal', { signal: { kind: 'powerdown' } });
  await agent.kick(1);
  assert.equal(await link.opResult(early), null);
  await until('the early powerdown honoured', async () => (await driver.status(1)).state === 'stopped' && vm.powerOn === false, 60_000);
});
