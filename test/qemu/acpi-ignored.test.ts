// Power intents on a real guest (the tiny image, TCG, one guest) through the head agent: a reboot
// the guest honours (ACPI, then a new boot, not forced), and a guest that ignores the power button
// (its acpid killed): `reboot` resets it when the timeout passes, `shutdown` switches it off when
// the timeout passes, and each operation says it was forced (docs/operations.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { DesiredVm } from '../../src/heads/link.js';
import { HeadAgent } from '../../src/heads/agent.js';
import { QemuDriver } from '../../src/drivers/qemu/index.js';
import { firstBoot, MemoryLink, sshKeyPair, sshWhenReady, tinyImage, tmpDir, until } from './helpers.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });
const TIMEOUT_MS = 4000;

test('reboot and shutdown of a guest that ignores ACPI are forced at the timeout; an honoured reboot is not', { timeout: 300_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) { t.skip(img.skip); return; }
  const dir = tmpDir('acpi');
  const key = sshKeyPair(dir);
  const driver = new QemuDriver({ dataDir: dir, imagesDir: img.imagesDir, log, statsIntervalMs: 0 });
  const link = new MemoryLink();
  const agent = new HeadAgent(link, driver, { label: 'h1', zone: 'z', managementAddress: '127.0.0.1', network: { mode: 'user' }, resyncMs: 1000, log });
  const disc = { id: 201, vmId: 2, label: 'vda', grade: 'sata', size: 256 };
  const vm: DesiredVm = {
    id: 2, name: 'acpi', hostname: 'acpi.default.acme.hangar.local', cores: 1, memory: 192, hardwareProfile: 'virtio2013',
    keymap: null, cdromUrl: null, image: null, vncPassword: 'vncpass2', powerOn: false, autorebootOn: false, deleted: false,
    powerCycle: 0, observedCycle: 0, observedRunning: false, sshPort: null, discs: [disc],
    nics: [{ id: 2, mac: '52:54:00:10:00:02', ipv4: ['10.64.0.6'], ipv6: [], gateway4: '10.64.0.1', prefix4: 24 }],
  };
  link.vms.set(2, vm);
  await agent.start();
  t.after(async () => {
    await driver.stop(2).catch(() => undefined);
    await agent.stop();
  });

  link.queue(2, 'disc.create', { disc });
  const reimage = link.queue(2, 'reimage', { vmId: 2, distribution: 'tiny', image: 'tiny', afterwards: null, firstBoot: firstBoot({ authorizedKeys: key.public }) });
  await agent.kick(2);
  assert.equal(await link.opResult(reimage), null);

  const running = (notPid: number | null): Promise<{ pid: number; sshPort: number }> => until('the machine running', async () => {
    const s = await driver.status(2);
    const o = link.observed.get(2);
    return s.state === 'running' && s.pid !== notPid && o?.running && o.pid === s.pid ? { pid: s.pid!, sshPort: s.sshPort! } : null;
  }, 30_000);
  /** The guest up (SSH answers), then stops listening to the power button. */
  const deafen = async (port: number): Promise<void> => {
    assert.equal(await sshWhenReady(port, key.private, 'killall acpid; sleep 1; pidof acpid || echo deaf'), 'deaf\n');
  };

  vm.powerOn = true;
  await agent.kick(2);
  const first = await running(null);
  await sshWhenReady(first.sshPort, key.private, 'true');

  // An honoured reboot: the guest halts on the button and a new process boots it; desired state unchanged.
  const honoured = link.queue(2, 'vm.power.reboot', { timeoutMs: 60_000 });
  await agent.kick(2);
  assert.deepEqual(await link.opEnd(honoured, 90_000), { error: null, result: { forced: false } });
  const second = await running(first.pid);
  assert.deepEqual([vm.powerOn, vm.autorebootOn], [true, false]);

  // The guest ignores ACPI: the reboot waits the whole timeout, then resets it (a new boot).
  await deafen(second.sshPort);
  const t0 = performance.now();
  const ignored = link.queue(2, 'vm.power.reboot', { timeoutMs: TIMEOUT_MS });
  await agent.kick(2);
  assert.deepEqual(await link.opEnd(ignored, 60_000), { error: null, result: { forced: true } });
  const waited = performance.now() - t0;
  t.diagnostic(`reboot of a deaf guest: forced after ${Math.round(waited)} ms`);
  assert.ok(waited >= TIMEOUT_MS, `it waited ${waited} ms`);
  const third = await running(second.pid);
  assert.deepEqual([vm.powerOn, vm.autorebootOn], [true, false]);

  // The same for a shutdown: switched off at the timeout, and off it stays.
  await deafen(third.sshPort);
  const t1 = performance.now();
  const shutdown = link.queue(2, 'vm.power.shutdown', { timeoutMs: TIMEOUT_MS });
  await agent.kick(2);
  assert.deepEqual(await link.opEnd(shutdown, 60_000), { error: null, result: { forced: true } });
  assert.ok(performance.now() - t1 >= TIMEOUT_MS);
  assert.equal((await driver.status(2)).state, 'stopped');
  assert.equal(vm.powerOn, false);
  await agent.resync();
  assert.equal((await driver.status(2)).state, 'stopped');
  assert.equal(link.observed.get(2)?.running, false);
});
