// The QEMU driver with real QEMU processes but no guest OS (a blank disc: the firmware finds
// nothing to boot and waits). Covers what needs no guest: QMP readiness, VNC with its password,
// the SSH forward port, live disc growth, crash detection, adoption by a new driver, clean failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { DriverError, type MachineEvent, type MachineSpec } from '../../src/drivers/driver.js';
import { QemuDriver } from '../../src/drivers/qemu/index.js';
import { processAlive, runDirFor, spawnQemu, writeMeta, writeVncSecret } from '../../src/drivers/qemu/process.js';
import { qemuArgs } from '../../src/drivers/qemu/args.js';
import { qemuMissing, tmpDir, until } from './helpers.js';
import { vncHandshake } from './vnc.js';

function blankSpec(vmId: number, over: Partial<MachineSpec> = {}): MachineSpec {
  return {
    vmId, name: `blank${vmId}`, hostname: `blank${vmId}.test`, cores: 1, memory: 64, hardwareProfile: 'virtio2013', keymap: null,
    discs: [{ id: vmId * 10, vmId, label: 'vda', grade: 'sata', size: 32 }], cdromUrl: null, image: null, vncPassword: 'sesame12',
    nics: [{ id: vmId, mac: '52:54:00:aa:00:01', ipv4: [], ipv6: [], gateway4: null, prefix4: null, network: { mode: 'user', sshPort: 0 } }],
    ...over,
  };
}

function virtualSize(file: string): number {
  return (JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' })) as { 'virtual-size': number })['virtual-size'];
}

test('QEMU missing: probe says so and start fails with that reason', async () => {
  const dir = tmpDir('noqemu');
  const d = new QemuDriver({ dataDir: dir, imagesDir: dir, qemuBinary: path.join(dir, 'no-such-qemu'), statsIntervalMs: 0 });
  const facts = await d.probe();
  assert.match(facts.problem ?? '', /no-such-qemu \(Debian package qemu-system-x86\)/);
  await assert.rejects(d.start(blankSpec(1)), (e: unknown) => e instanceof DriverError && /QEMU is not usable on this head/.test(e.message));
  await d.close();
});

test('start, VNC password, ports, live grow, stats, kill -9 is a crash, adoption, stop', async (t) => {
  const missing = qemuMissing();
  if (missing) { t.skip(missing); return; }
  const dir = tmpDir('drv');
  // The ISO below is in the ISO library: the only place file:// URLs may name.
  const d1 = new QemuDriver({ dataDir: dir, imagesDir: dir, statsIntervalMs: 0, urls: { isoDir: dir, allow: [] } });
  const events: MachineEvent[] = [];
  d1.onEvent((e) => events.push(e));
  const facts = await d1.probe();
  assert.equal(facts.problem, null);
  assert.equal(facts.accel, 'tcg'); // this kind of host has no usable KVM (kvm_pvm / no vmx)
  assert.ok((facts.grades.sata ?? 0) > 0);

  const a = blankSpec(1);
  const b = blankSpec(2, { cdromUrl: 'ftp://example.org/x.iso' });
  await d1.createDisc(a.discs[0]!);
  await d1.createDisc(b.discs[0]!);

  // a bad cdrom_url fails the start with the reason and leaves nothing running
  await assert.rejects(d1.start(b), (e: unknown) => e instanceof DriverError && e.field === 'cdrom_url');
  assert.equal((await d1.status(2)).state, 'stopped');
  // the same machine with a real ISO, a second disc on another grade and a keymap: QEMU takes it all
  const iso = path.join(dir, 'x.iso');
  execFileSync('genisoimage', ['-quiet', '-o', iso, '-V', 'X', dir + '/discs']);
  const b2 = { ...b, keymap: 'de', cdromUrl: `file://${iso}`, discs: [...b.discs, { id: 21, vmId: 2, label: 'data', grade: 'ssd', size: 16 }] };
  await d1.createDisc(b2.discs[1]!);
  const stB = await d1.start(b2);
  assert.equal(stB.state, 'running');
  await d1.stop(2);

  // QEMU refusing the machine (no memory for it) fails the start with what QEMU said
  await assert.rejects(d1.start({ ...a, memory: 64 * 1024 * 1024 }), (e: unknown) => e instanceof DriverError && /QEMU failed to start: .*memory/i.test(e.message));
  assert.equal((await d1.status(1)).state, 'stopped');
  assert.ok(!fs.existsSync(path.join(dir, 'run', '1', 'meta.json')));
  assert.ok(!fs.existsSync(path.join(dir, 'run', '1', 'vnc.secret')), 'a failed start leaves no VNC password file');

  const t0 = performance.now();
  const st = await d1.start(a);
  const startMs = performance.now() - t0;
  t.diagnostic(`start() → running: ${Math.round(startMs)} ms (spawn → QMP ready ${Math.round(d1.lastStart?.spawnToQmp ?? NaN)} ms)`);
  assert.equal(st.state, 'running');
  assert.ok(st.pid && processAlive(st.pid));
  assert.ok(st.sshPort && st.sshPort > 1024, 'the SSH forward port is read back');
  assert.ok(st.vncPort && st.vncPort >= 5900);
  await until('started event', () => events.find((e) => e.kind === 'started' && e.vmId === 1));
  // QEMU read the password from a file, gone once QEMU answered its monitor
  assert.ok(!fs.existsSync(path.join(dir, 'run', '1', 'vnc.secret')));
  assert.equal(await vncHandshake('127.0.0.1', st.vncPort, 'sesame12'), 'ok');
  assert.equal(await vncHandshake('127.0.0.1', st.vncPort, 'wrong'), 'failed');
  assert.deepEqual((await d1.list()).map((m) => m.vmId), [1]);
  // starting again is a no-op, never a second process
  assert.equal((await d1.start(a)).pid, st.pid);

  // grow while running: QMP block_resize changes the disc under the guest
  const file = path.join(dir, 'discs', 'sata', 'disc-10.qcow2');
  await d1.growDisc(a.discs[0]!, 48, true);
  assert.equal(virtualSize(file), 48 * 1024 * 1024);
  await assert.rejects(d1.growDisc(a.discs[0]!, 40, true), /only grow/);
  await assert.rejects(d1.deleteDisc(a.discs[0]!), /running machine/);

  // backup while running goes through a QMP backup job; restore needs the machine off
  await d1.backupDisc({ ...a.discs[0]!, size: 48 }, 77);
  const backup = path.join(dir, 'backups', 'backup-77.qcow2');
  assert.equal(virtualSize(backup), 48 * 1024 * 1024);
  assert.ok(!fs.existsSync(`${backup}.new`));
  await assert.rejects(d1.restoreDisc(a.discs[0]!, 77), /running machine/);

  const s = await d1.stats(1);
  assert.ok(s && s.cpuMs > 0, 'CPU time is counted');
  assert.equal(d1.statsSeries(1).length, 1);

  // a new driver on the same data dir (a restarted server) adopts the machine
  await d1.close();
  assert.ok(processAlive(st.pid), 'closing the driver leaves guests running');
  const d2 = new QemuDriver({ dataDir: dir, imagesDir: dir, statsIntervalMs: 0 });
  const events2: MachineEvent[] = [];
  d2.onEvent((e) => events2.push(e));
  const adopted = await d2.status(1);
  assert.deepEqual(adopted, { vmId: 1, state: 'running', pid: st.pid, sshPort: st.sshPort, vncPort: st.vncPort, lastStop: null });
  assert.equal((await d2.start(a)).pid, st.pid, 'no duplicate QEMU');
  assert.equal(await vncHandshake('127.0.0.1', st.vncPort, 'sesame12'), 'ok');

  // kill -9: no SHUTDOWN event, so it is a crash
  const tKill = performance.now();
  process.kill(st.pid, 'SIGKILL');
  const crash = await until('crash event', () => events2.find((e) => e.kind === 'stopped'), 5000, 10);
  t.diagnostic(`kill -9 → crash event: ${Math.round(performance.now() - tKill)} ms`);
  assert.deepEqual(crash, { vmId: 1, kind: 'stopped', reason: 'crash' });
  assert.equal((await d2.status(1)).lastStop, 'crash', 'status remembers why it stopped');
  assert.equal((await d2.status(1)).state, 'stopped');
  assert.ok(!fs.existsSync(path.join(dir, 'run', '1', 'meta.json')));

  // nmi and keys reach QEMU; a reset ends the process (reboot=shutdown) and reads as guest-reset
  const st1 = await d2.start(a);
  await d2.signal(1, { kind: 'nmi' });
  await d2.signal(1, { kind: 'sendkey', keys: ['ctrl-alt-del'] });
  await assert.rejects(d2.signal(1, { kind: 'sendkey', keys: ['ctrl-banana'] }), /unknown key banana/);
  await d2.signal(1, { kind: 'reset' });
  assert.deepEqual(await until('reset event', () => events2.find((e) => e.kind === 'stopped' && e.reason !== 'crash'), 5000, 10),
    { vmId: 1, kind: 'stopped', reason: 'guest-reset' });
  assert.ok(!processAlive(st1.pid!));

  // start again, then stop: reason host, and the process is gone when stop resolves
  const st2 = await d2.start(a);
  assert.notEqual(st2.pid, st.pid);
  await d2.stop(1);
  assert.ok(!processAlive(st2.pid!));
  await until('host stop event', () => events2.find((e) => e.kind === 'stopped' && e.reason === 'host'));
  await d2.stop(1); // no-op
  await assert.rejects(d2.signal(1, { kind: 'powerdown' }), /not running/);
  await d2.close();
});

test('a QEMU started by another process (a server that exited) is adopted, and its crash is seen', async (t) => {
  const missing = qemuMissing();
  if (missing) { t.skip(missing); return; }
  const dir = tmpDir('proc');
  const driverUrl = new URL('../../src/drivers/qemu/index.js', import.meta.url).href;
  const spec = blankSpec(3);
  const script = `
    const { QemuDriver } = await import(${JSON.stringify(driverUrl)});
    const d = new QemuDriver({ dataDir: ${JSON.stringify(dir)}, imagesDir: ${JSON.stringify(dir)}, statsIntervalMs: 0 });
    const spec = ${JSON.stringify(spec)};
    await d.createDisc(spec.discs[0]);
    const st = await d.start(spec);
    await d.close();
    process.stdout.write(JSON.stringify(st));
  `;
  const st = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { pid: number; vncPort: number };
  assert.ok(processAlive(st.pid), 'QEMU outlives the server that started it');

  const d = new QemuDriver({ dataDir: dir, imagesDir: dir, statsIntervalMs: 0 });
  const events: MachineEvent[] = [];
  d.onEvent((e) => events.push(e));
  assert.deepEqual((await d.list()).map((m) => [m.vmId, m.pid]), [[3, st.pid]]);
  assert.equal(await vncHandshake('127.0.0.1', st.vncPort, 'sesame12'), 'ok');
  process.kill(st.pid, 'SIGKILL');
  assert.deepEqual(await until('crash event', () => events.find((e) => e.kind === 'stopped'), 3000, 10), { vmId: 3, kind: 'stopped', reason: 'crash' });
  assert.deepEqual(await d.list(), []);
  await d.close();
});

test('a start cut short before cont is ended on adoption (its VNC password file with it) and started anew', async (t) => {
  const missing = qemuMissing();
  if (missing) { t.skip(missing); return; }
  const dir = tmpDir('cut');
  const spec = blankSpec(4);
  const d0 = new QemuDriver({ dataDir: dir, imagesDir: dir, statsIntervalMs: 0 });
  await d0.createDisc(spec.discs[0]!);
  await d0.close();
  // What a server killed between spawn and `cont` leaves: QEMU in prelaunch (-S) and its run files.
  const dirs = runDirFor(path.join(dir, 'run'), spec.vmId);
  fs.mkdirSync(dirs.dir, { recursive: true, mode: 0o700 });
  const args = qemuArgs({
    spec, accel: 'tcg', paths: dirs, discs: [{ disc: spec.discs[0]!, file: path.join(dir, 'discs', 'sata', 'disc-40.qcow2') }],
    configDrive: null, cdrom: null, boot: null, taps: [null], vnc: { host: '127.0.0.1', display: 0, to: 1000 },
  });
  writeVncSecret(dirs, spec.vncPassword);
  const child = spawnQemu({ binary: 'qemu-system-x86_64', args, netns: null, logFile: dirs.qemuLog });
  t.after(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone */ } });
  await writeMeta(dirs.meta, { vmId: spec.vmId, pid: child.pid!, name: spec.name, startedAt: Date.now(), taps: [], netns: null, discs: spec.discs, sshPort: null, vncPort: null });
  await until('QMP socket', () => fs.existsSync(dirs.qmp), 10_000);

  const d = new QemuDriver({ dataDir: dir, imagesDir: dir, statsIntervalMs: 0 });
  assert.deepEqual(await d.list(), [], 'the half-started machine is not adopted');
  await until('the half-started QEMU is gone', () => !processAlive(child.pid!), 5000);
  await until('its VNC password file is gone', () => !fs.existsSync(dirs.vncSecret), 5000);
  const st = await d.start(spec);
  assert.equal(await vncHandshake('127.0.0.1', st.vncPort!, 'sesame12'), 'ok', 'started anew with the password from the spec');
  await d.stop(spec.vmId);
  await d.close();
});
