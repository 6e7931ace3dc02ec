// `npm run bench:smoke`: every benchmark in its tiny --smoke form, one after another, for CI. It
// asserts only that each runs to the end and prints its figures (a table), or says why it skipped.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './lib.js';

const BENCHES = ['api', 'power', 'scale', 'plot'];
const LIMIT_MS = 120_000; // per benchmark: a hung one fails instead of blocking CI

function run(name: string): Promise<{ ok: boolean; ms: number; why: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'bench', `${name}.js`), '--smoke'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      process.stdout.write(c);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      const figures = /^\|.*\|\s*$/m.test(out) && /\d/.test(out);
      const skipped = /^SKIPPED: /m.test(out);
      if (code !== 0) resolve({ ok: false, ms, why: `exited with ${signal ?? code}` });
      else if (!figures && !skipped) resolve({ ok: false, ms, why: 'printed no figures' });
      else resolve({ ok: true, ms, why: skipped ? 'skipped (see above)' : 'ok' });
    });
  });
}

const t0 = performance.now();
let failed = 0;
const summary: string[] = [];
for (const name of BENCHES) {
  process.stdout.write(`\n==> bench:${name} --smoke\n`);
  const r = await run(name);
  if (!r.ok) failed++;
  summary.push(`bench:${name} --smoke: ${r.why} (${(r.ms / 1000).toFixed(1)} s)`);
}
process.stdout.write(`\n${summary.join('\n')}\nall smoke runs: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
process.exit(failed ? 1 : 0);
