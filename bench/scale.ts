// Store at scale: `hangar server --driver fake` as a child process with SQLite in a temp dir;
// 100,000 VMs over 1,000 groups created through the API (bare POST .../virtual_machines, bounded
// concurrency, 127.0.0.1), then list and get latency, the brain's RSS, and the time from starting
// a fresh process on the same data dir to serving again. Bounded in count and in time.
//
//   npm run bench:scale             (full run, recorded in BENCHMARKS.md)
//   npm run bench:scale -- --smoke  (2,000 VMs over 20 groups; prints only)
//   npm run bench:scale -- --no-record --build <checkout>
//                                   (the same measures of another checkout's build, e.g. a worktree of
//                                   an older commit: a before/after comparison; prints only)
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN, call, expectOk, fmt, log, login, machine, machineLine, median, pool, quantile, record, ROOT, sequential, SMOKE, today } from './lib.js';

/** The checkout whose `bin/hangar.js` is measured: this one unless `--build <dir>` names another. */
const buildAt = process.argv.indexOf('--build');
const BUILD = buildAt > 0 && process.argv[buildAt + 1] ? path.resolve(process.argv[buildAt + 1]!) : ROOT;

const cfg = SMOKE
  ? { vms: 2_000, groups: 20, concurrency: 16, createDeadlineMs: 60_000, samples: 30, restarts: 1, checkpoints: [200, 2_000] }
  : { vms: 100_000, groups: 1_000, concurrency: 16, createDeadlineMs: 30 * 60_000, samples: 200, restarts: 3, checkpoints: [1_000, 10_000, 50_000, 100_000] };

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

interface Brain { child: ChildProcess; startedAt: number; exited: Promise<void> }

function startBrain(dataDir: string, port: number, logFile: string): Brain {
  const out = fs.openSync(logFile, 'a');
  const startedAt = performance.now();
  // The default fake head (64 cores, 1 TiB) is too small for 100,000 VMs: placement claims cores and memory.
  const child = spawn(process.execPath, [path.join(BUILD, 'bin', 'hangar.js'), 'server', '--driver', 'fake', '--data', dataDir, '--listen', `127.0.0.1:${port}`,
    '--fake-cores', '1000000', '--fake-memory', '1000000000'], {
    stdio: ['ignore', out, out],
    env: { ...process.env, HANGAR_ADMIN_USER: ADMIN.username, HANGAR_ADMIN_PASSWORD: ADMIN.password, HANGAR_LOG_LEVEL: 'warn' },
  });
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, startedAt, exited };
}

async function stopBrain(b: Brain): Promise<void> {
  if (b.child.exitCode !== null || b.child.signalCode !== null) return;
  b.child.kill('SIGTERM');
  await Promise.race([b.exited, sleep(30_000)]);
  if (b.child.exitCode === null && b.child.signalCode === null) {
    b.child.kill('SIGKILL');
    await b.exited;
  }
}

/** ms from process start until `ok` answers true (polled every 2 ms, bounded). */
async function until(b: Brain, what: string, ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  for (;;) {
    if (b.child.exitCode !== null) throw new Error(`the brain exited (${b.child.exitCode}) before ${what}`);
    if (await ok().catch(() => false)) return performance.now() - b.startedAt;
    if (performance.now() - b.startedAt > timeoutMs) throw new Error(`the brain was not ${what} within ${timeoutMs} ms`);
    await sleep(2);
  }
}

function rss(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

async function main(): Promise<void> {
  const m = machine();
  log(`# bench:scale${SMOKE ? ' (smoke)' : ''} — ${machineLine(m)}${BUILD === ROOT ? '' : `; measuring the build at ${BUILD}`}`);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'hangar-bench-scale-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'brain.log');
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let brain = startBrain(dataDir, port, logFile);
  try {
    const first = await until(brain, 'serving', async () => (await call(base, 'GET', '/definitions', { timeoutMs: 1000 })).status === 200);
    log(`first start (empty store): serving after ${fmt(first)} ms`);
    const token = await login(base);
    await expectOk(call(base, 'POST', '/accounts', { token, body: { name: 's' } }), 'account');
    const groups = await pool(cfg.groups, 8, 120_000, async (g) => {
      await expectOk(call(base, 'POST', '/accounts/s/groups', { token, body: { name: `g${g}` } }), `group g${g}`);
    });
    if (groups.done !== cfg.groups) throw new Error('groups were not all created in time');
    log(`${cfg.groups} groups created in ${fmt(groups.ms / 1000)} s`);

    // Creates, round-robin over the groups, with checkpoints where the reads are measured.
    const perGroup = cfg.vms / cfg.groups;
    const probeGroup = `g${Math.floor(cfg.groups / 2)}`;
    const listPath = `/accounts/s/groups/${probeGroup}?view=overview`;
    const getPath = `/accounts/s/groups/${probeGroup}/virtual_machines/vm0`;
    const checkpoints: { total: number; createsPerS: number; listP50: number; listP99: number; getP50: number; getP99: number; rssMiB: number }[] = [];
    let made = 0;
    const createT0 = performance.now();
    let createMs = 0;
    // RSS each second while creating: V8 lets its old space fill with garbage up to a limit before it
    // collects, so one reading lands anywhere in a sawtooth; the median of many does not.
    const rssSamples: number[] = [];
    const sampler = setInterval(() => rssSamples.push(rss(brain.child.pid!).rssMiB), 1000);
    try {
      for (const target of cfg.checkpoints) {
        const left = createT0 + cfg.createDeadlineMs - performance.now();
        const from = made;
        const r = await pool(target - from, cfg.concurrency, left, async (k) => {
          const i = from + k;
          await expectOk(call(base, 'POST', `/accounts/s/groups/g${i % cfg.groups}/virtual_machines`, {
            token, body: { name: `vm${Math.floor(i / cfg.groups)}`, cores: 1, memory: 128 },
          }), `create VM ${i}`);
        });
        made += r.done;
        createMs += r.ms;
        if (r.timedOut) {
          log(`stopped creating at ${made} VMs: the ${cfg.createDeadlineMs / 60_000} min bound was reached`);
          break;
        }
        const lists = await sequential(base, listPath, token, cfg.samples, 30_000);
        const gets = await sequential(base, getPath, token, cfg.samples, 30_000);
        const cp = {
          total: made, createsPerS: r.done / (r.ms / 1000),
          listP50: median(lists), listP99: quantile(lists, 0.99), getP50: median(gets), getP99: quantile(gets, 0.99),
          rssMiB: rss(brain.child.pid!).rssMiB,
        };
        checkpoints.push(cp);
        log(`  ${String(made).padStart(6)} VMs: ${fmt(cp.createsPerS)} creates/s since the last checkpoint; list of ${Math.min(perGroup, Math.ceil(made / cfg.groups))} VMs p50 ${fmt(cp.listP50)} ms p99 ${fmt(cp.listP99)} ms; get p50 ${fmt(cp.getP50)} ms p99 ${fmt(cp.getP99)} ms; RSS ${fmt(cp.rssMiB)} MiB`);
      }
    } finally {
      clearInterval(sampler);
    }
    const createsPerS = made / (createMs / 1000);
    const memAfter = rss(brain.child.pid!);
    if (!rssSamples.length) rssSamples.push(rss(brain.child.pid!).rssMiB); // a run shorter than a second
    const rssDuring = { median: median(rssSamples), max: Math.max(...rssSamples), n: rssSamples.length };
    log(`created ${made} VMs in ${fmt(createMs / 1000)} s: ${fmt(createsPerS)} creates/s (concurrency ${cfg.concurrency}); brain RSS ${fmt(memAfter.rssMiB)} MiB, peak ${fmt(memAfter.hwmMiB)} MiB; while creating (${rssDuring.n} readings) median ${fmt(rssDuring.median)} MiB, max ${fmt(rssDuring.max)} MiB`);
    const last = checkpoints[checkpoints.length - 1]!;

    // Restarts: a fresh process on the same data dir, timed from spawn to serving.
    const restarts: { serving: number; authed: number; rssMiB: number }[] = [];
    for (let i = 0; i < cfg.restarts; i++) {
      await stopBrain(brain);
      await sleep(500);
      brain = startBrain(dataDir, port, logFile);
      const serving = await until(brain, 'serving', async () => (await call(base, 'GET', '/definitions', { timeoutMs: 1000 })).status === 200);
      const authed = await until(brain, 'serving a VM', async () => (await call(base, 'GET', getPath, { token, timeoutMs: 1000 })).status === 200);
      await sequential(base, listPath, token, 20, 10_000);
      restarts.push({ serving, authed, rssMiB: rss(brain.child.pid!).rssMiB });
      log(`  restart ${i + 1}: serving after ${fmt(serving)} ms, first authenticated GET of a VM answered after ${fmt(authed)} ms, RSS ${fmt(restarts[i]!.rssMiB)} MiB`);
    }
    const restartMs = median(restarts.map((r) => r.serving));
    const peak = Math.max(memAfter.hwmMiB, ...restarts.map((r) => r.rssMiB));
    const yes = (ok: boolean) => (ok ? 'met' : '**missed**');
    const rows = [
      '| figure | value | target |',
      '|---|---|---|',
      `| VMs created through the API | ${made.toLocaleString('en')} over ${cfg.groups} groups | ${cfg.vms.toLocaleString('en')} |`,
      `| creates/s (bare POST, ${cfg.concurrency} concurrent, whole run) | ${fmt(createsPerS)} | ≥ 1,000: ${yes(createsPerS >= 1000)} |`,
      `| creates/s, first / last checkpoint interval | ${fmt(checkpoints[0]!.createsPerS)} / ${fmt(last.createsPerS)} | |`,
      `| group overview (${perGroup} VMs) p50 / p99, at ${last.total.toLocaleString('en')} VMs | ${fmt(last.listP50)} / ${fmt(last.listP99)} ms | |`,
      `| GET one VM p50 / p99, at ${last.total.toLocaleString('en')} VMs | ${fmt(last.getP50)} / ${fmt(last.getP99)} ms | |`,
      `| brain RSS after the creates (peak) | ${fmt(memAfter.rssMiB)} MiB (${fmt(memAfter.hwmMiB)} MiB) | < 1 GiB: ${yes(peak < 1024)} |`,
      `| brain RSS while creating, read each second: median (max) | ${fmt(rssDuring.median)} MiB (${fmt(rssDuring.max)} MiB) | |`,
      `| process start → serving, ${last.total.toLocaleString('en')} VMs in the store (median of ${restarts.length}) | ${fmt(restartMs)} ms (first authenticated VM read: ${fmt(median(restarts.map((r) => r.authed)))} ms) | < 2 s: ${yes(restartMs < 2000)} |`,
      `| process start → serving, empty store (the first start) | ${fmt(first)} ms | |`,
    ];
    const curve = [
      '| VMs in the store | creates/s in the interval | overview p50 / p99 ms | get p50 / p99 ms | RSS MiB |',
      '|---|---|---|---|---|',
      ...checkpoints.map((c) => `| ${c.total.toLocaleString('en')} | ${fmt(c.createsPerS)} | ${fmt(c.listP50)} / ${fmt(c.listP99)} | ${fmt(c.getP50)} / ${fmt(c.getP99)} | ${fmt(c.rssMiB)} |`),
    ];
    log(`\n${rows.join('\n')}\n\n${curve.join('\n')}`);
    if (BUILD !== ROOT) return log('(another checkout\'s build: not recorded in BENCHMARKS.md)');
    record('scale', [
      `Run ${today()} with \`npm run bench:scale\` on ${machineLine(m)}.`,
      `The brain is \`hangar server --driver fake --fake-cores 1000000 --fake-memory 1000000000\` (a child process, SQLite in a temp dir, log level warn); the benchmark creates through HTTP on 127.0.0.1. ` +
        `Latencies are ${cfg.samples} sequential requests on one keep-alive connection; VMs are created round-robin over the groups, so a group holds ${perGroup} VMs at the end.`,
      '',
      ...rows,
      '',
      ...curve,
    ].join('\n'), `${today()} scale: ${made} VMs at ${fmt(createsPerS)} creates/s, overview p50 ${fmt(last.listP50)} ms, get p50 ${fmt(last.getP50)} ms, RSS ${fmt(memAfter.rssMiB)} MiB, restart→serving ${fmt(restartMs)} ms — ${machineLine(m)}`);
  } finally {
    await stopBrain(brain);
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench:scale failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
