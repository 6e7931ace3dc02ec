// Power-on overhead: PUT power_on=true through Hangar (QEMU driver, real QEMU, TCG or KVM as the
// head decides) until the reply, which comes once QEMU has answered QMP and runs; against the same
// QEMU command line (from the driver's pure qemuArgs) spawned raw and driven to the same point
// (greeting, qmp_capabilities, cont); against libvirt's `virsh start` of an equivalent domain.
// Strictly interleaved, rotating the order each iteration; medians and ratios.
//
//   npm run bench:power             (full run, recorded in BENCHMARKS.md)
//   npm run bench:power -- --smoke  (one iteration, no libvirt; prints only)
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { startHangar } from '../src/brain/start.js';
import { bootstrap } from '../src/brain/bootstrap.js';
import { QemuDriver } from '../src/drivers/qemu/index.js';
import { qemuArgs } from '../src/drivers/qemu/args.js';
import { runDirFor } from '../src/drivers/qemu/process.js';
import { LocalLink } from '../src/heads/local-link.js';
import type { DesiredVm } from '../src/heads/link.js';
import type { MachineSpec } from '../src/drivers/driver.js';
import { configDriveFiles, writeConfigDrive } from '../src/drivers/qemu/config-drive.js';
import { ADMIN, call, expectOk, fmt, log, login, machine, machineLine, median, record, SMOKE, today, quantile } from './lib.js';

// QEMU's own start varies by ±10 ms from one start to the next: with 12 pairs the median ratio
// moved by ±0.05 between runs of the same build (BENCHMARKS.md, 2026-12-01); 24 halve that spread.
const ITERATIONS = SMOKE ? 1 : 24;
const IDLE_MS = SMOKE ? 100 : 500;
const QEMU = process.env.HANGAR_QEMU_BINARY ?? 'qemu-system-x86_64';
const LIBVIRT_URI = 'qemu:///system';
const DOMAIN = 'hangar-bench-power';
const ANCHOR = { raw: 54, libvirt: 553 }; // ../shared/research/libvirt-anchor.md, medians in ms

function have(cmd: string, args: string[] = ['--version']): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

/** Run a command to completion (bounded); resolves with its wall time in ms. */
function runTimed(cmd: string, args: string[], timeoutMs = 60_000): Promise<{ ms: number; code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('exit', (code) => { clearTimeout(timer); resolve({ ms: performance.now() - t0, code, out: out.trim() }); });
  });
}

// ---- raw QEMU: spawn, QMP greeting, qmp_capabilities, cont (as the driver's -S command line needs).
// The baseline speaks QMP with the bare minimum on purpose, so none of our client's cost is in it.

class RawQmp {
  private buffer = '';
  private waiters: ((msg: Record<string, unknown>) => boolean)[] = [];
  capsAt = 0;
  constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as Record<string, unknown>;
        this.waiters = this.waiters.filter((w) => !w(msg));
      }
    });
    socket.on('error', () => undefined);
  }

  next(pred: (m: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('QMP timed out')), timeoutMs);
      this.waiters.push((m) => {
        if (!pred(m)) return false;
        clearTimeout(timer);
        resolve(m);
        return true;
      });
    });
  }

  async execute(command: string, timeoutMs = 10_000): Promise<void> {
    const reply = this.next((m) => 'return' in m || 'error' in m, timeoutMs);
    this.socket.write(`${JSON.stringify({ execute: command })}\n`);
    const m = await reply;
    if ('error' in m) throw new Error(`QMP ${command}: ${JSON.stringify(m.error)}`);
  }
}

/** Connect as soon as the socket accepts (1 ms retry), greeting and capabilities, then `cont`. */
async function rawReady(socketPath: string, child: ChildProcess, timeoutMs: number): Promise<RawQmp> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`raw QEMU exited (${child.exitCode})`);
    const socket = await new Promise<net.Socket | null>((resolve) => {
      const s = net.createConnection(socketPath);
      s.once('connect', () => resolve(s));
      s.once('error', () => { s.destroy(); resolve(null); });
    });
    if (socket) {
      const qmp = new RawQmp(socket);
      const greeting = qmp.next((m) => 'QMP' in m, Math.max(1, deadline - performance.now()));
      await greeting;
      await qmp.execute('qmp_capabilities');
      qmp.capsAt = performance.now();
      await qmp.execute('cont');
      return qmp;
    }
    if (performance.now() > deadline) throw new Error(`raw QEMU: no QMP socket at ${socketPath}`);
    await sleep(1);
  }
}

// ---- libvirt

interface Libvirt { ok: boolean; reason: string; started: number[] }

async function libvirtUp(): Promise<Libvirt> {
  if (!have('virsh', ['--version'])) return { ok: false, reason: 'virsh is not installed (apt-get install libvirt-daemon-system libvirt-clients)', started: [] };
  const works = () => runTimed('virsh', ['-c', LIBVIRT_URI, 'version'], 10_000).then((r) => r.code === 0, () => false);
  if (await works()) return { ok: true, reason: '', started: [] };
  // No init system here: start the daemons by hand, as in ../shared/research/libvirt-anchor.md.
  const started: number[] = [];
  for (const [daemon, pidfile] of [['virtlogd', '/run/virtlogd.pid'], ['libvirtd', '/run/libvirtd.pid']] as const) {
    const r = await runTimed(daemon, ['-d'], 20_000).catch((err: Error) => ({ code: -1, out: err.message, ms: 0 }));
    if (r.code !== 0) return { ok: false, reason: `${daemon} -d failed: ${r.out}`, started };
    for (let i = 0; i < 50 && !fs.existsSync(pidfile); i++) await sleep(100);
    const pid = Number(fs.readFileSync(pidfile, 'utf8').trim());
    if (pid > 0) started.push(pid);
  }
  for (let i = 0; i < 40; i++) {
    if (await works()) return { ok: true, reason: '', started };
    await sleep(250);
  }
  return { ok: false, reason: 'libvirtd started but virsh cannot connect to qemu:///system', started };
}

function domainXml(dir: string, spec: MachineSpec): string {
  const nic = spec.nics[0]!;
  return `<domain type='qemu'>
  <name>${DOMAIN}</name>
  <memory unit='MiB'>${spec.memory}</memory>
  <vcpu>${spec.cores}</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>${spawnSync('sh', ['-c', `command -v ${QEMU}`], { encoding: 'utf8' }).stdout.trim() || '/usr/bin/qemu-system-x86_64'}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${path.join(dir, 'cidata.iso')}'/>
      <target dev='vda' bus='virtio'/>
      <readonly/>
    </disk>
    <interface type='user'><mac address='${nic.mac}'/><model type='virtio'/></interface>
    <serial type='unix'><source mode='bind' path='${path.join(dir, 'serial.sock')}'/><target port='0'/></serial>
    <graphics type='vnc' listen='127.0.0.1' autoport='yes' passwd='${spec.vncPassword.slice(0, 8)}'/>
    <video><model type='vga'/></video>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

async function virshState(): Promise<string> {
  return (await runTimed('virsh', ['-c', LIBVIRT_URI, 'domstate', DOMAIN], 30_000)).out;
}

// ----

async function main(): Promise<void> {
  const m = machine();
  log(`# bench:power${SMOKE ? ' (smoke)' : ''} — ${machineLine(m)}`);
  if (!have(QEMU)) {
    log(`SKIPPED: ${QEMU} is not installed (bash scripts/head-packages.sh installs it)`);
    return;
  }
  if (!have('genisoimage', ['-version'])) {
    log('SKIPPED: genisoimage is not installed (bash scripts/head-packages.sh installs it)');
    return;
  }
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'hangar-bench-power-'));
  await fsp.chmod(dir, 0o755); // libvirt runs QEMU as libvirt-qemu: it must reach its files here
  const rawDir = path.join(dir, 'raw');
  const virtDir = path.join(dir, 'virt');
  await fsp.mkdir(rawDir, { recursive: true });
  await fsp.mkdir(virtDir, { recursive: true, mode: 0o755 });
  let capturedArgs: string[] | null = null;
  // The command line the driver runs is read off its debug line on the warm-up start only; the
  // measured starts log at info, the server's default (a debug line of the whole command line, and
  // parsing every line here, would be this benchmark's cost, not Hangar's). Phases come from the
  // driver's own marks (lastStart).
  const driverLog = pino({ level: 'debug' }, {
    write(line: string) {
      if (capturedArgs !== null || !line.includes('starting QEMU')) return;
      capturedArgs = (JSON.parse(line) as { args: string[] }).args;
    },
  });
  const driver = new QemuDriver({ dataDir: path.join(dir, 'qemu'), imagesDir: path.join(dir, 'images'), log: driverLog, statsIntervalMs: 0 });
  const running = await startHangar({
    storeUrl: path.join(dir, 'hangar.sqlite'), dataDir: dir, log: pino({ level: 'silent' }), config: { headWaitMs: 60_000 },
    heads: [{ driver, label: 'head1', zone: 'default', resyncMs: 3_600_000 }],
  });
  await bootstrap(running.hangar, { HANGAR_ADMIN_USER: ADMIN.username, HANGAR_ADMIN_PASSWORD: ADMIN.password, HANGAR_DEMO_ACCOUNT: '' });
  const base = (await running.app.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');
  const token = await login(base);
  let libvirt: Libvirt = { ok: false, reason: 'not tried in --smoke', started: [] };
  let rawChild: ChildProcess | null = null;
  try {
    await expectOk(call(base, 'POST', '/accounts', { token, body: { name: 'p' } }), 'account');
    const vmPath = '/accounts/p/groups/default/virtual_machines/p1';
    const created = await expectOk(call(base, 'POST', '/accounts/p/groups/default/virtual_machines', {
      token, body: { name: 'p1', cores: 1, memory: 128, power_on: false, autoreboot_on: false },
    }), 'create VM');
    const vmId = created.json<{ id: number }>().id;
    log(`VM p1 (id ${vmId}): 1 core, 128 MiB, one user-mode NIC, no disc; head accel ${driver.accel}`);

    // A: through Hangar, with where the time went.
    const phases: { toSpawn: number; spawnToQmp: number; qmpToStarted: number; startedToReply: number }[] = [];
    const hangarStart = async (): Promise<number> => {
      const t0 = performance.now();
      const r = await expectOk(call(base, 'PUT', vmPath, { token, body: { power_on: true }, timeoutMs: 60_000 }), 'power on');
      const t1 = performance.now();
      const ms = t1 - t0;
      const d = driver.lastStart;
      const q = d?.spawnToQmp ?? NaN;
      phases.push({ toSpawn: (d?.spawnedAt ?? NaN) - t0, spawnToQmp: q, qmpToStarted: (d?.runningAt ?? NaN) - (d?.spawnedAt ?? NaN) - q, startedToReply: t1 - (d?.runningAt ?? NaN) });
      const state = r.json<{ state: string; head_note: string | null }>();
      if (state.state !== 'running') throw new Error(`after PUT power_on=true the VM is ${state.state} (${state.head_note ?? ''})`);
      return ms;
    };
    const hangarStop = async () => {
      await expectOk(call(base, 'PUT', vmPath, { token, body: { power_on: false }, timeoutMs: 60_000 }), 'power off');
      for (let i = 0; i < 200; i++) {
        const s = (await expectOk(call(base, 'GET', vmPath, { token }), 'GET VM')).json<{ state: string }>().state;
        if (s === 'stopped') return;
        await sleep(25);
      }
      throw new Error('the VM did not stop');
    };

    // One start through Hangar first: it gives the command line the raw runs use, and warms up.
    await hangarStart();
    await hangarStop();
    driverLog.level = 'info';
    phases.length = 0;
    const link = new LocalLink(running.hangar.db, running.hangar.config.clusterDomain, running.hangar.secrets);
    link.headId = running.agents[0]!.headId;
    const desired = (await link.desired(vmId)).vm as DesiredVm;
    // The agent's own spec for this VM, with the SSH forward port left to QEMU (0) as on a first start.
    const spec = (running.agents[0] as unknown as { spec(vm: DesiredVm): MachineSpec }).spec({ ...desired, sshPort: null });
    const hangarIso = runDirFor(path.join(dir, 'qemu', 'run'), vmId).configIso;
    const rawDirs = runDirFor(rawDir, vmId);
    await fsp.mkdir(rawDirs.dir, { recursive: true });
    await fsp.copyFile(hangarIso, rawDirs.configIso);
    // The same VNC password file the driver writes before each start (QEMU reads it as it starts).
    await fsp.writeFile(rawDirs.vncSecret, spec.vncPassword.slice(0, 8), { mode: 0o600 });
    await fsp.copyFile(hangarIso, path.join(virtDir, 'cidata.iso'));
    // The VNC display range is the driver's setting: read it off the command line it ran.
    const vncOpt = capturedArgs === null ? undefined : (capturedArgs as string[])[(capturedArgs as string[]).indexOf('-vnc') + 1];
    const vm = /^(.*):(\d+),to=(\d+)/.exec(vncOpt ?? '');
    const rawArgs = qemuArgs({
      spec, accel: driver.accel, paths: rawDirs, discs: [], configDrive: rawDirs.configIso, cdrom: null, boot: null, taps: [null],
      vnc: { host: vm?.[1] ?? '127.0.0.1', display: Number(vm?.[2] ?? 0), to: Number(vm?.[3] ?? 99) },
    });
    const norm = (args: string[], d: string) => args.join(' ').split(d).join('<run>').replace(/127\.0\.0\.1:\d+-:22/, '127.0.0.1:<port>-:22');
    const hangarRun = runDirFor(path.join(dir, 'qemu', 'run'), vmId).dir;
    const same = capturedArgs !== null && norm(capturedArgs, hangarRun) === norm(rawArgs, rawDirs.dir);
    log(`raw command line ${same ? 'is the one the driver ran' : 'DIFFERS from the one the driver ran'} (apart from run paths and the SSH port): ${QEMU} ${rawArgs.join(' ')}`);
    if (!same) log(`the driver ran: ${capturedArgs === null ? '(not seen)' : norm(capturedArgs, hangarRun)}`);

    // B: raw.
    const rawCaps: number[] = [];
    const rawStart = async (): Promise<number> => {
      for (const f of [rawDirs.qmp, rawDirs.serial, rawDirs.pidfile]) await fsp.rm(f, { force: true });
      const t0 = performance.now();
      const child = spawn(QEMU, rawArgs, { stdio: 'ignore' });
      rawChild = child;
      const qmp = await rawReady(rawDirs.qmp, child, 30_000);
      const ms = performance.now() - t0;
      rawCaps.push(qmp.capsAt - t0);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      qmp.socket.write(`${JSON.stringify({ execute: 'quit' })}\n`);
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      qmp.socket.destroy();
      rawChild = null;
      return ms;
    };

    // C: libvirt.
    if (!SMOKE) {
      libvirt = await libvirtUp();
      if (libvirt.ok) {
        const xml = path.join(virtDir, 'domain.xml');
        await fsp.writeFile(xml, domainXml(virtDir, spec));
        await runTimed('virsh', ['-c', LIBVIRT_URI, 'destroy', DOMAIN], 30_000).catch(() => undefined);
        await runTimed('virsh', ['-c', LIBVIRT_URI, 'undefine', DOMAIN], 30_000).catch(() => undefined);
        const d = await runTimed('virsh', ['-c', LIBVIRT_URI, 'define', xml], 30_000);
        if (d.code !== 0) libvirt = { ...libvirt, ok: false, reason: `virsh define failed: ${d.out}` };
        else {
          const s = await runTimed('virsh', ['-c', LIBVIRT_URI, 'start', DOMAIN], 60_000);
          if (s.code !== 0) libvirt = { ...libvirt, ok: false, reason: `virsh start failed: ${s.out}` };
          await runTimed('virsh', ['-c', LIBVIRT_URI, 'destroy', DOMAIN], 60_000);
        }
      }
      log(libvirt.ok ? `libvirt: ${LIBVIRT_URI}, domain ${DOMAIN} (same devices: VGA, VNC with password, serial socket, user-mode virtio NIC, config drive, virtio-rng)` : `libvirt not measured: ${libvirt.reason}`);
    }
    const virshStart = async (): Promise<number> => {
      const r = await runTimed('virsh', ['-c', LIBVIRT_URI, 'start', DOMAIN], 60_000);
      if (r.code !== 0) throw new Error(`virsh start: ${r.out}`);
      const d = await runTimed('virsh', ['-c', LIBVIRT_URI, 'destroy', DOMAIN], 60_000);
      if (d.code !== 0) throw new Error(`virsh destroy: ${d.out}`);
      for (let i = 0; i < 100 && !(await virshState()).includes('shut off'); i++) await sleep(100);
      return r.ms;
    };

    // The config drive the driver writes on every start, alone (genisoimage).
    const isoAlone = async (): Promise<number> => {
      const t0 = performance.now();
      await writeConfigDrive(path.join(rawDir, 'alone.iso'), configDriveFiles(spec, null));
      return performance.now() - t0;
    };

    type Step = { name: string; run: () => Promise<number>; after?: () => Promise<void> };
    const steps: Step[] = [
      { name: 'config drive', run: isoAlone },
      { name: 'hangar', run: hangarStart, after: hangarStop },
      { name: 'raw', run: rawStart },
      ...(libvirt.ok ? [{ name: 'libvirt', run: virshStart }] : []),
    ];
    const times = new Map<string, number[]>(steps.map((s) => [s.name, []]));
    const driverTimes: { spawnToQmp: number; total: number }[] = [];
    const deadline = performance.now() + (SMOKE ? 60_000 : 15 * 60_000);
    for (let i = 0; i < ITERATIONS && performance.now() < deadline; i++) {
      const order = steps.map((_, k) => steps[(i + k) % steps.length]!);
      const line: string[] = [];
      for (const s of order) {
        await sleep(IDLE_MS);
        const ms = await s.run();
        times.get(s.name)!.push(ms);
        if (s.name === 'hangar' && driver.lastStart) driverTimes.push(driver.lastStart);
        line.push(`${s.name} ${fmt(ms)} ms`);
        await s.after?.();
      }
      log(`  iteration ${i + 1}: ${line.join(', ')}`);
    }
    let virshNoop: number[] = [];
    if (libvirt.ok) {
      for (let i = 0; i < 5; i++) virshNoop.push((await runTimed('virsh', ['-c', LIBVIRT_URI, 'domstate', DOMAIN], 30_000)).ms);
    }

    const h = times.get('hangar')!;
    const r = times.get('raw')!;
    const v = times.get('libvirt') ?? [];
    const ratioHR = median(h.map((x, i) => x / r[i]!));
    const ratioVR = v.length ? median(v.map((x, i) => x / r[i]!)) : NaN;
    const dTotal = median(driverTimes.map((d) => d.total));
    const row = (name: string, xs: number[], extra: string) =>
      `| ${name} | ${xs.length} | ${fmt(Math.min(...xs))} | ${fmt(median(xs))} | ${fmt(quantile(xs, 0.9))} | ${extra} |`;
    const rows = [
      '| power-on until QEMU answers QMP and runs | n | min ms | median ms | p90 ms | ratio to raw (median of paired ratios) |',
      '|---|---|---|---|---|---|',
      row('raw: spawn the same command line, greeting, `qmp_capabilities`, `cont`', r, '1'),
      row('Hangar: HTTP `PUT power_on=true` until the reply', h, `${fmt(ratioHR)} (target ≤ 1.15: ${ratioHR <= 1.15 ? 'met' : '**missed**'})`),
      ...(v.length ? [row('libvirt: `virsh start` until it returns', v, fmt(ratioVR))] : []),
    ];
    const ph = (k: keyof (typeof phases)[number]) => fmt(median(phases.map((p) => p[k])));
    const notes = [
      `Where Hangar's time goes (medians): request → QEMU spawned ${ph('toSpawn')} ms (HTTP, auth, the PUT's transaction, the head agent, and the driver's preparation, ` +
        `of which writing the config drive with genisoimage alone takes ${fmt(median(times.get('config drive')!))} ms); spawn → QMP capabilities ${ph('spawnToQmp')} ms ` +
        `(raw: ${fmt(median(rawCaps))} ms); QMP → running ${ph('qmpToStarted')} ms (query-vnc, info usernet, cont, sent behind the negotiation); ` +
        `running → HTTP reply ${ph('startedToReply')} ms (the head's report, reading the VM back, the reply). The driver's own start: ${fmt(dTotal)} ms.`,
      libvirt.ok
        ? `A no-op \`virsh domstate\` costs ${fmt(median(virshNoop))} ms of client start-up and connection. Anchor (../shared/research/libvirt-anchor.md, a smaller domain): raw ${ANCHOR.raw} ms, libvirt ${ANCHOR.libvirt} ms.`
        : `libvirt not measured: ${libvirt.reason}.`,
    ];
    log(`\n${rows.join('\n')}\n\n${notes.join('\n')}`);
    record('power', [
      `Run ${today()} with \`npm run bench:power\` on ${machineLine(m)}; QEMU accel ${driver.accel}.`,
      `${ITERATIONS} interleaved iterations (order rotated each time, ${IDLE_MS} ms idle between steps). The VM: 1 core, 128 MiB, one user-mode NIC, no disc (SeaBIOS finds nothing to boot; QEMU runs).`,
      '',
      ...rows,
      '',
      ...notes,
    ].join('\n'), `${today()} power: raw ${fmt(median(r))} ms, Hangar ${fmt(median(h))} ms (${fmt(ratioHR)}× raw)${v.length ? `, libvirt ${fmt(median(v))} ms (${fmt(ratioVR)}× raw)` : ''} — ${machineLine(m)}`);
  } finally {
    if (rawChild) (rawChild as ChildProcess).kill('SIGKILL');
    await call(base, 'PUT', '/accounts/p/groups/default/virtual_machines/p1', { token, body: { power_on: false } }).catch(() => undefined);
    await running.close();
    // A guest Hangar started outlives the server by design; this one must not outlive the benchmark.
    for (const id of await fsp.readdir(path.join(dir, 'qemu', 'run')).catch(() => [] as string[])) {
      const pid = Number(await fsp.readFile(path.join(dir, 'qemu', 'run', id, 'qemu.pid'), 'utf8').catch(() => ''));
      if (pid > 0) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    if (libvirt.ok) {
      await runTimed('virsh', ['-c', LIBVIRT_URI, 'destroy', DOMAIN], 30_000).catch(() => undefined);
      await runTimed('virsh', ['-c', LIBVIRT_URI, 'undefine', DOMAIN], 30_000).catch(() => undefined);
    }
    for (const pid of libvirt.started.reverse()) {
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    }
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench:power failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
