// API hot path: Hangar's authenticated BigV reads against a bare Fastify route in the same process
// returning the same JSON from memory, interleaved round by round (autocannon from a worker
// thread, 127.0.0.1 only). Two Hangars run side by side: one whose store holds only the measured
// 1,000-VM group, one holding 100,000 VMs in all (the other 99,000 in other groups).
//
//   npm run bench:api            (full run, recorded in BENCHMARKS.md)
//   npm run bench:api -- --smoke (seconds; prints only)
import Fastify from 'fastify';
import {
  cannon, fmt, log, machine, machineLine, makeAccount, makeVms, median, record, SMOKE, startInProcess, today, call, expectOk,
  type InProcess, type Load,
} from './lib.js';
import { fillStore } from './fixture.js';

const cfg = SMOKE
  ? { vms: 50, fillGroups: 4, perGroup: 250, seconds: 1, rounds: 1, connections: 4 }
  : { vms: 1000, fillGroups: 99, perGroup: 1000, seconds: 4, rounds: 6, connections: 8 };

async function main(): Promise<void> {
  const m = machine();
  log(`# bench:api${SMOKE ? ' (smoke)' : ''} — ${machineLine(m)}`);
  const small = await startInProcess('api-small');
  const big = await startInProcess('api-big');
  const bare = Fastify();
  try {
    for (const h of [small, big]) {
      await makeAccount(h.base, h.token, 'x', ['g']);
      const r = await makeVms(h.base, h.token, 'x', 'g', cfg.vms);
      log(`created ${cfg.vms} VMs in x/g through the API in ${fmt(r.ms / 1000)} s`);
    }
    const t0 = performance.now();
    const total = fillStore(big.dbFile, { account: 'filler', groups: cfg.fillGroups, perGroup: cfg.perGroup });
    log(`big store: ${total} VMs in all (filled ${cfg.fillGroups * cfg.perGroup} in ${fmt((performance.now() - t0) / 1000)} s)`);

    const onePath = `/accounts/x/groups/g/virtual_machines/vm${Math.floor(cfg.vms / 2)}`;
    const listPath = '/accounts/x/groups/g?view=overview';
    const oneText = (await expectOk(call(small.base, 'GET', onePath, { token: small.token }), 'GET one')).text;
    const listText = (await expectOk(call(small.base, 'GET', listPath, { token: small.token }), 'GET list')).text;
    const bigListText = (await expectOk(call(big.base, 'GET', listPath, { token: big.token }), 'GET list (big)')).text;
    const listed = (JSON.parse(listText) as { virtual_machines: unknown[] }).virtual_machines.length;
    if (listed !== cfg.vms) throw new Error(`the group lists ${listed} VMs, expected ${cfg.vms}`);
    if (bigListText !== listText) log('note: the big store\'s list differs from the small one\'s (same VMs expected)');
    log(`GET one VM: ${oneText.length} bytes; group overview: ${listed} VMs, ${listText.length} bytes`);

    // The baseline: the same JSON, parsed once, serialized by Fastify on every request.
    const oneJson: unknown = JSON.parse(oneText);
    const listJson: unknown = JSON.parse(listText);
    bare.get('/one', async () => oneJson);
    bare.get('/list', async () => listJson);
    const bareBase = (await bare.listen({ host: '127.0.0.1', port: 0 })).replace('localhost', '127.0.0.1');

    type Target = { name: string; run: (connections: number) => Promise<Load> };
    const hangar = (h: InProcess, p: string, name: string): Target => ({ name, run: (c) => cannon(h.base, p, { token: h.token, connections: c, seconds: cfg.seconds }) });
    const plain = (p: string, name: string): Target => ({ name, run: (c) => cannon(bareBase, p, { connections: c, seconds: cfg.seconds }) });

    /** Rounds A/B/(C)/A/B/(C)...; the first target is measured first in odd rounds, last in even ones. */
    const interleave = async (title: string, targets: Target[], connections: number) => {
      log(`\n## ${title} (${connections} connection${connections > 1 ? 's' : ''}, ${cfg.rounds} rounds of ${cfg.seconds} s each)`);
      if (!SMOKE) for (const t of targets) await t.run(connections); // warm-up, not counted
      const results = new Map<string, Load[]>(targets.map((t) => [t.name, []]));
      for (let r = 0; r < cfg.rounds; r++) {
        const order = r % 2 === 0 ? targets : [...targets].reverse();
        for (const t of order) {
          const l = await t.run(connections);
          results.get(t.name)!.push(l);
          log(`  round ${r + 1} ${t.name.padEnd(28)} ${fmt(l.rps).padStart(7)} req/s  p50 ${l.p50} ms  p99 ${l.p99} ms  mean ${fmt(l.mean)} ms`);
        }
      }
      return results;
    };
    const med = (ls: Load[], k: keyof Load) => median(ls.map((l) => l[k]));
    const pairRatio = (a: Load[], b: Load[]) => median(a.map((l, i) => l.rps / b[i]!.rps));

    const one = await interleave('GET one VM', [hangar(small, onePath, 'hangar GET one VM'), plain('/one', 'bare route, same JSON')], cfg.connections);
    const list = await interleave('GET group?view=overview (1,000 VMs)', [
      hangar(small, listPath, 'hangar list, 1k VMs in store'), hangar(big, listPath, 'hangar list, 100k VMs in store'), plain('/list', 'bare route, same JSON'),
    ], cfg.connections);
    const lat = await interleave('latency of the group overview', [
      hangar(small, listPath, 'hangar list, 1k VMs in store'), hangar(big, listPath, 'hangar list, 100k VMs in store'), plain('/list', 'bare route, same JSON'),
    ], 1);

    const o = { h: one.get('hangar GET one VM')!, b: one.get('bare route, same JSON')! };
    const l = { s: list.get('hangar list, 1k VMs in store')!, g: list.get('hangar list, 100k VMs in store')!, b: list.get('bare route, same JSON')! };
    const t = { s: lat.get('hangar list, 1k VMs in store')!, g: lat.get('hangar list, 100k VMs in store')!, b: lat.get('bare route, same JSON')! };
    const oneRatio = pairRatio(o.h, o.b);
    const listRatio = pairRatio(l.s, l.b);
    const p50s = med(t.s, 'p50');
    const p50g = med(t.g, 'p50');
    const meanRatio = median(t.g.map((x, i) => x.mean / t.s[i]!.mean));
    const yes = (ok: boolean) => (ok ? 'met' : '**missed**');
    const storeLabel = `${(cfg.vms + cfg.fillGroups * cfg.perGroup).toLocaleString('en')}`;
    const rows = [
      '| figure | Hangar | bare route | ratio | target |',
      '|---|---|---|---|---|',
      `| GET one VM, req/s (${cfg.connections} conn.) | ${fmt(med(o.h, 'rps'))} | ${fmt(med(o.b, 'rps'))} | ${fmt(oneRatio)} | ≥ 0.5: ${yes(oneRatio >= 0.5)} |`,
      `| group overview (${cfg.vms} VMs), req/s (${cfg.connections} conn.), ${cfg.vms} VMs in store | ${fmt(med(l.s, 'rps'))} | ${fmt(med(l.b, 'rps'))} | ${fmt(listRatio)} | ≥ 0.5: ${yes(listRatio >= 0.5)} |`,
      `| same, ${storeLabel} VMs in store | ${fmt(med(l.g, 'rps'))} | | ${fmt(pairRatio(l.g, l.b))} | |`,
      `| group overview latency p50 / p99 (1 conn.), ${cfg.vms} VMs in store | ${p50s} / ${med(t.s, 'p99')} ms | ${med(t.b, 'p50')} / ${med(t.b, 'p99')} ms | | p50 < 15 ms: ${yes(p50s < 15)} |`,
      `| same, ${storeLabel} VMs in store | ${p50g} / ${med(t.g, 'p99')} ms | | mean latency ${storeLabel} ÷ ${cfg.vms}: ${fmt(meanRatio)} | unchanged (≤ 1.10): ${yes(meanRatio <= 1.1)} |`,
    ];
    log(`\n${rows.join('\n')}`);
    record('api', [
      `Run ${today()} with \`npm run bench:api\` on ${machineLine(m)}.`,
      `Medians of ${cfg.rounds} interleaved rounds of ${cfg.seconds} s; ratios are medians of the per-round ratios. ` +
        `Response sizes: one VM ${oneText.length} bytes, group overview ${listText.length} bytes. Latencies from autocannon (1 ms resolution).`,
      '',
      ...rows,
    ].join('\n'), `${today()} api: one VM ${fmt(med(o.h, 'rps'))} req/s (${fmt(oneRatio)}× bare), overview ${fmt(med(l.s, 'rps'))} req/s (${fmt(listRatio)}× bare), overview p50 ${p50s} ms at ${cfg.vms} / ${p50g} ms at ${storeLabel} VMs — ${machineLine(m)}`);
  } finally {
    await bare.close();
    await small.close();
    await big.close();
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench:api failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
