#!/usr/bin/env node
// `npm test`: every test on the embedded store (SQLite), then the API and security suites, the
// concurrency tests (test/core/: races show most on PostgreSQL, where transactions run side by side)
// and the test-only dialect (test/dialect/) again on PostgreSQL when HANGAR_TEST_DATABASE_URL is set
// (skipped with a printed reason otherwise).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const run = (dirs, env = {}) => spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=2', '--test-timeout=600000', ...dirs], {
  stdio: 'inherit', env: { ...process.env, ...env },
}).status ?? 1;

const all = fs.readdirSync('dist/test', { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `dist/test/${d.name}/`);
let status = run(all);
if (process.env.HANGAR_TEST_DATABASE_URL) {
  console.log('# PostgreSQL: running the API, security, concurrency and dialect suites again against', process.env.HANGAR_TEST_DATABASE_URL.replace(/\/\/[^@]*@/, '//***@'));
  status ||= run(['dist/test/bigv/', 'dist/test/security/', 'dist/test/core/', 'dist/test/dialect/'], { HANGAR_TEST_STORE: 'postgres' });
} else {
  console.log('# PostgreSQL suites skipped: set HANGAR_TEST_DATABASE_URL=postgres://user@host/db to run them');
}
process.exit(status);
