// List latency against the number of VMs in the store, drawn to docs/list-latency.png.
// One in-process Hangar per store size (fake driver, SQLite in temp dirs), each holding the same
// 1,000-VM group created through the API plus other groups filled in bulk (bench/fixture.ts);
// autocannon with one connection measures `GET /accounts/x/groups/g?view=overview` on each, in
// interleaved rounds, beside a bare Fastify route returning the same JSON.
//
//   npm run bench:plot             (full run: writes docs/list-latency.png, recorded in BENCHMARKS.md)
//   npm run bench:plot -- --smoke  (small stores; the PNG goes to the temp dir)
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { call, cannon, expectOk, fmt, log, machine, machineLine, makeAccount, makeVms, median, record, ROOT, SMOKE, startInProcess, today, type InProcess, type Load } from './lib.js';
import { fillStore } from './fixture.js';
import { Canvas, type Rgb } from './png.js';

const cfg = SMOKE
  ? { groupVms: 50, perGroup: 250, totals: [50, 1_050], rounds: 1, seconds: 1 }
  : { groupVms: 1_000, perGroup: 1_000, totals: [1_000, 10_000, 50_000, 100_000], rounds: 4, seconds: 4 };
const OUT = SMOKE ? path.join(os.tmpdir(), 'hangar-list-latency-smoke.png') : path.join(ROOT, 'docs', 'list-latency.png');
const LIST = '/accounts/x/groups/g?view=overview';

interface Point { total: number; p50: number; p99: number; mean: number }

function draw(points: Point[], bare: Point, m: string): Buffer {
  const W = 960, H = 540;
  const c = new Canvas(W, H);
  const ink: Rgb = [30, 30, 30], grid: Rgb = [225, 225, 225], blue: Rgb = [31, 100, 200], orange: Rgb = [230, 120, 20], grey: Rgb = [120, 120, 120], red: Rgb = [200, 30, 30];
  const L = 90, R = W - 40, T = 120, B = H - 90;
  const TARGET = 15; // ms, p50 of the overview (issue 4)
  const title = `GROUP OVERVIEW OF ${cfg.groupVms.toLocaleString('en')} VMS: LATENCY VS VMS IN THE STORE`;
  c.text((W - Canvas.textWidth(title)) / 2, 20, title, ink, 2);
  // x: log scale over the store sizes; y: linear from 0.
  const xs = points.map((p) => p.total);
  const lx0 = Math.log10(Math.min(...xs)) - 0.1, lx1 = Math.log10(Math.max(...xs)) + 0.1;
  const X = (v: number) => L + ((Math.log10(v) - lx0) / (lx1 - lx0)) * (R - L);
  const top = Math.max(...points.map((p) => p.p99), bare.p99, TARGET, 1);
  const step = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000].find((s) => top / s <= 8) ?? 2000;
  const ymax = Math.ceil((top * 1.1) / step) * step;
  const Y = (v: number) => B - (v / ymax) * (B - T);
  for (let v = 0; v <= ymax; v += step) {
    c.line(L, Y(v), R, Y(v), grid);
    const label = String(v);
    c.text(L - 10 - Canvas.textWidth(label), Y(v) - 7, label, ink, 2);
  }
  c.line(L, T, L, B, ink, 2);
  c.line(L, B, R, B, ink, 2);
  for (const p of points) {
    c.line(X(p.total), B, X(p.total), B + 6, ink, 2);
    const label = p.total >= 1000 ? `${p.total / 1000}K` : String(p.total);
    c.text(X(p.total) - Canvas.textWidth(label) / 2, B + 14, label, ink, 2);
  }
  const xlabel = 'VMS IN THE STORE (LOG SCALE)';
  c.text((L + R - Canvas.textWidth(xlabel)) / 2, B + 40, xlabel, ink, 2);
  c.text(L - 36, T - 30, 'MS', ink, 2);
  // The bare route: the same JSON from memory, no store at all; and the target.
  c.line(L, Y(bare.p50), R, Y(bare.p50), grey, 2, 8);
  c.line(L, Y(TARGET), R, Y(TARGET), red, 1, 4);
  const series: [keyof Point, Rgb][] = [['p99', orange], ['p50', blue]];
  for (const [key, colour] of series) {
    for (let i = 1; i < points.length; i++) c.line(X(points[i - 1]!.total), Y(points[i - 1]![key]), X(points[i]!.total), Y(points[i]![key]), colour, 3);
    for (const p of points) {
      c.rect(X(p.total) - 5, Y(p[key]) - 5, 11, 11, colour);
      const label = fmt(p[key], 2);
      c.text(X(p.total) + 9, Y(p[key]) - 20, label, colour, 2);
    }
  }
  // Legend, in a row between the title and the plot.
  const lg = [['HANGAR P50', blue], ['HANGAR P99', orange], [`BARE ROUTE P50 (${fmt(bare.p50, 2)})`, grey], [`TARGET P50 < ${TARGET} MS`, red]] as const;
  let lx = L - 70;
  for (const [label, colour] of lg) {
    c.rect(lx, 62, 24, 8, colour);
    c.text(lx + 32, 59, label, ink, 2);
    lx += 32 + Canvas.textWidth(label) + 20;
  }
  c.text(L - 70, H - 20, m.toUpperCase().slice(0, 155), grey, 1);
  return c.png();
}

async function main(): Promise<void> {
  const m = machine();
  log(`# bench:plot${SMOKE ? ' (smoke)' : ''} — ${machineLine(m)}`);
  const hangars: { total: number; h: InProcess }[] = [];
  const bare = Fastify();
  try {
    for (const total of cfg.totals) {
      const h = await startInProcess(`plot-${total}`);
      hangars.push({ total, h });
      await makeAccount(h.base, h.token, 'x', ['g']);
      await makeVms(h.base, h.token, 'x', 'g', cfg.groupVms);
      const extra = total - cfg.groupVms;
      const n = extra > 0 ? fillStore(h.dbFile, { account: 'filler', groups: Math.ceil(extra / cfg.perGroup), perGroup: cfg.perGroup }) : total;
      if (n !== total) throw new Error(`store holds ${n} VMs, expected ${total}`);
      log(`store of ${total.toLocaleString('en')} VMs ready`);
    }
    const listJson: unknown = (await expectOk(call(hangars[0]!.h.base, 'GET', LIST, { token: hangars[0]!.h.token }), 'list')).json();
    bare.get('/list', async () => listJson);
    const bareBase = (await bare.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');
    const targets = [
      ...hangars.map(({ total, h }) => ({ name: String(total), run: () => cannon(h.base, LIST, { token: h.token, connections: 1, seconds: cfg.seconds }) })),
      { name: 'bare', run: () => cannon(bareBase, '/list', { connections: 1, seconds: cfg.seconds }) },
    ];
    if (!SMOKE) for (const t of targets) await t.run(); // warm-up
    const results = new Map<string, Load[]>(targets.map((t) => [t.name, []]));
    for (let r = 0; r < cfg.rounds; r++) {
      for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
        const l = await t.run();
        results.get(t.name)!.push(l);
        log(`  round ${r + 1} ${t.name.padStart(7)}: p50 ${l.p50} ms, p99 ${l.p99} ms, mean ${fmt(l.mean)} ms, ${fmt(l.rps)} req/s`);
      }
    }
    const point = (name: string, total: number): Point => {
      const ls = results.get(name)!;
      return { total, p50: median(ls.map((l) => l.p50)), p99: median(ls.map((l) => l.p99)), mean: median(ls.map((l) => l.mean)) };
    };
    const points = cfg.totals.map((t) => point(String(t), t));
    const barePoint = point('bare', 0);
    await fsp.mkdir(path.dirname(OUT), { recursive: true });
    const footer = `${today()}, npm run bench:plot, commit ${m.commit}: nproc ${m.nproc}, ${m.cpu}, ${m.ramGiB} GiB, load ${m.load}, JS calibration ${m.calibrationMs} ms; 1 connection, medians of ${cfg.rounds} rounds`;
    await fsp.writeFile(OUT, draw(points, barePoint, footer));
    log(`wrote ${OUT}`);
    const rows = [
      `| VMs in the store | p50 ms | p99 ms | mean ms |`,
      '|---|---|---|---|',
      ...points.map((p) => `| ${p.total.toLocaleString('en')} | ${p.p50} | ${p.p99} | ${fmt(p.mean)} |`),
      `| bare route, same JSON | ${barePoint.p50} | ${barePoint.p99} | ${fmt(barePoint.mean)} |`,
    ];
    log(`\n${rows.join('\n')}`);
    record('plot', [
      `Run ${today()} with \`npm run bench:plot\` on ${machineLine(m)}: \`GET ${LIST}\` (${cfg.groupVms} VMs), one connection, medians of ${cfg.rounds} interleaved rounds of ${cfg.seconds} s.`,
      '',
      ...rows,
      '',
      '![list latency against VMs in the store](docs/list-latency.png)',
    ].join('\n'), `${today()} plot: overview p50 ${points.map((p) => `${p.p50} ms at ${p.total}`).join(', ')} — ${machineLine(m)}`);
  } finally {
    await bare.close();
    for (const { h } of hangars) await h.close();
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench:plot failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
