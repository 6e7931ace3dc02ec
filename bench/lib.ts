// Shared pieces of the benchmarks: the machine they ran on, statistics, a keep-alive HTTP client
// for 127.0.0.1, bounded load loops, autocannon, an in-process Hangar over the fake driver, and
// recording results in BENCHMARKS.md. Every loop here is bounded in count and in time.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pino from 'pino';
import { startHangar, type Running } from '../src/brain/start.js';
import { bootstrap } from '../src/brain/bootstrap.js';
import { FakeDriver } from '../src/drivers/fake/driver.js';

/** The repository root (this file runs from dist/bench/). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ADMIN = { username: 'admin', password: 'bench-admin-password' };

export const argv = new Set(process.argv.slice(2));
/** `--smoke`: a tiny, fast run that only shows the benchmark still works (CI). Never recorded. */
export const SMOKE = argv.has('--smoke');
/** `--no-record`: print only, leave BENCHMARKS.md alone. */
export const RECORD = !SMOKE && !argv.has('--no-record');

// ---- the machine

export interface Machine { nproc: number; ramGiB: number; cpu: string; kernel: string; node: string; commit: string; load: number; calibrationMs: number }

export function machine(): Machine {
  const cpus = os.cpus();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch { /* not a checkout */ }
  return {
    nproc: os.availableParallelism?.() ?? cpus.length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    kernel: os.release(),
    node: process.version,
    commit,
    load: Math.round(os.loadavg()[0]! * 100) / 100,
    calibrationMs: calibrate(),
  };
}

let sink = 0;

/**
 * How fast this machine runs JavaScript right now: the best of 5 runs of a fixed loop, in ms. It
 * compares runs across time and machines (a shared or throttled CPU shows up here as well as in the load).
 */
export function calibrate(): number {
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    let x = 0;
    for (let i = 0; i < 10_000_000; i++) x = (x + i * 7) | 0;
    sink ^= x;
    best = Math.min(best, performance.now() - t);
  }
  return Math.round(best * 10) / 10;
}

export function machineLine(m: Machine): string {
  return `nproc ${m.nproc}, ${m.ramGiB} GiB RAM, CPU ${m.cpu}, Linux ${m.kernel}, Node ${m.node}, commit ${m.commit}, load average ${m.load} at start, JS calibration ${m.calibrationMs} ms`;
}

// ---- statistics

export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export const median = (values: number[]): number => quantile(values, 0.5);

/** A number for a table: 3 significant digits, no exponent. */
export function fmt(n: number, digits = 3): string {
  if (!Number.isFinite(n)) return 'n/a';
  if (n === 0) return '0';
  const mag = Math.floor(Math.log10(Math.abs(n)));
  const decimals = Math.max(0, digits - 1 - mag);
  return n.toFixed(decimals);
}

export function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

// ---- HTTP on loopback

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export interface Reply { status: number; text: string; json<T = any>(): T }

/** One request to a 127.0.0.1 URL with a keep-alive connection; rejects after `timeoutMs`. */
export function call(base: string, method: string, pathname: string, opts: { token?: string; body?: unknown; timeoutMs?: number } = {}): Promise<Reply> {
  const url = new URL(pathname, base);
  if (url.hostname !== '127.0.0.1') throw new Error(`benchmarks talk to 127.0.0.1 only, not ${url.hostname}`);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${pathname}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export async function expectOk(reply: Promise<Reply>, what: string, status = [200, 201, 202]): Promise<Reply> {
  const r = await reply;
  if (!status.includes(r.status)) throw new Error(`${what}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  return r;
}

export async function login(base: string, username = ADMIN.username, password = ADMIN.password): Promise<string> {
  const r = await expectOk(call(base, 'POST', '/session', { body: { username, password, validity: '3600' } }), 'login');
  return r.text.trim();
}

/** Run `fn(0..count-1)` with at most `concurrency` at once; stops starting new ones after `deadlineMs`. */
export async function pool(count: number, concurrency: number, deadlineMs: number, fn: (i: number) => Promise<void>): Promise<{ done: number; ms: number; timedOut: boolean }> {
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  let timedOut = false;
  const worker = async () => {
    for (;;) {
      if (performance.now() - t0 > deadlineMs) { timedOut = next < count; return; }
      const i = next++;
      if (i >= count) return;
      await fn(i);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { done, ms: performance.now() - t0, timedOut };
}

/** Latencies (ms) of `n` sequential requests on one keep-alive connection, bounded by `deadlineMs`. */
export async function sequential(base: string, pathname: string, token: string | undefined, n: number, deadlineMs: number): Promise<number[]> {
  const out: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n && performance.now() - t0 < deadlineMs; i++) {
    const t = performance.now();
    const r = await call(base, 'GET', pathname, { token });
    if (r.status !== 200) throw new Error(`GET ${pathname}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    out.push(performance.now() - t);
  }
  return out;
}

// ---- autocannon

export interface Load { rps: number; p50: number; p99: number; mean: number; total: number; bad: number }

/**
 * Requests/s and latency of GET `pathname` for `seconds`, from a worker thread (so the load
 * generator does not share the server's event loop). 127.0.0.1 only.
 */
export async function cannon(base: string, pathname: string, opts: { token?: string; connections: number; seconds: number }): Promise<Load> {
  const url = new URL(pathname, base);
  if (url.hostname !== '127.0.0.1') throw new Error('benchmarks talk to 127.0.0.1 only');
  const r = await autocannon({
    url: url.toString(), connections: opts.connections, duration: opts.seconds, workers: 1, timeout: 30,
    headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
  });
  const bad = r.errors + r.timeouts + r.non2xx;
  if (bad > 0) throw new Error(`GET ${pathname}: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx in ${r.requests.total} requests`);
  return { rps: r.requests.total / r.duration, p50: r.latency.p50, p99: r.latency.p99, mean: r.latency.mean, total: r.requests.total, bad };
}

// ---- an in-process Hangar

export interface InProcess { running: Running; base: string; token: string; dir: string; dbFile: string; close(): Promise<void> }

/** Hangar with SQLite under a fresh temp dir and one fake head big enough for any benchmark. */
export async function startInProcess(label: string): Promise<InProcess> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `hangar-bench-${label}-`));
  const dbFile = path.join(dir, 'hangar.sqlite');
  const driver = new FakeDriver({ cores: 1_000_000, memory: 1_000_000_000 });
  const running = await startHangar({
    storeUrl: dbFile, dataDir: dir, log: pino({ level: 'silent' }), authPrefix: '/auth',
    heads: [{ driver, label: 'head1', zone: 'default', resyncMs: 3_600_000 }],
  });
  await bootstrap(running.hangar, { HANGAR_ADMIN_USER: ADMIN.username, HANGAR_ADMIN_PASSWORD: ADMIN.password, HANGAR_DEMO_ACCOUNT: '' });
  const base = (await running.app.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');
  const token = await login(base);
  return {
    running, base, token, dir, dbFile,
    async close() {
      await running.close();
      await fsp.rm(dir, { recursive: true, force: true });
    },
  };
}

/** An account (with its default group) and further groups, through the API. */
export async function makeAccount(base: string, token: string, account: string, groups: string[]): Promise<void> {
  await expectOk(call(base, 'POST', '/accounts', { token, body: { name: account } }), `create account ${account}`);
  for (const g of groups) {
    await expectOk(call(base, 'POST', `/accounts/${account}/groups`, { token, body: { name: g } }), `create group ${g}`);
  }
}

/** `count` bare VMs (one NIC, no disc, off) in a group through POST .../virtual_machines. */
export async function makeVms(base: string, token: string, account: string, group: string, count: number, concurrency = 8, deadlineMs = 600_000) {
  const r = await pool(count, concurrency, deadlineMs, async (i) => {
    await expectOk(call(base, 'POST', `/accounts/${account}/groups/${group}/virtual_machines`, {
      token, body: { name: `vm${i}`, cores: 1, memory: 128 },
    }), `create vm${i}`);
  });
  if (r.done !== count) throw new Error(`created only ${r.done} of ${count} VMs before the deadline`);
  return r;
}

// ---- recording in BENCHMARKS.md

export const BENCHMARKS = path.join(ROOT, 'BENCHMARKS.md');

/**
 * Replace the generated block of one benchmark (between `<!-- results:NAME -->` and
 * `<!-- /results:NAME -->`) with the latest figures, and add a line to the history at the end.
 */
export function record(name: string, block: string, historyLine: string): void {
  if (!RECORD) {
    log(`(not recorded in BENCHMARKS.md: ${SMOKE ? '--smoke' : '--no-record'})`);
    return;
  }
  let text = fs.existsSync(BENCHMARKS) ? fs.readFileSync(BENCHMARKS, 'utf8') : '# Benchmarks\n';
  const open = `<!-- results:${name} -->`;
  const close = `<!-- /results:${name} -->`;
  const generated = `${open}\n${block.trim()}\n${close}`;
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a >= 0 && b > a) text = text.slice(0, a) + generated + text.slice(b + close.length);
  else text = `${text.trimEnd()}\n\n${generated}\n`;
  const historyMark = '<!-- history -->';
  if (!text.includes(historyMark)) text = `${text.trimEnd()}\n\n## History\n\nOne line per recorded run, oldest first.\n\n${historyMark}\n`;
  text = `${text.trimEnd()}\n- ${historyLine}\n`;
  fs.writeFileSync(BENCHMARKS, text);
  log(`recorded in ${path.relative(process.cwd(), BENCHMARKS) || BENCHMARKS}`);
}

export function today(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}
