// The README's setup (scripts/setup.sh) decides whether this machine's Node.js is new enough.
// Regression: the old one-liner passed a boolean to process.exit, which Node 20.20 rejects, so
// a machine with Node 20.20 was taken for an old one. Both sides are checked with stand-in
// `node` commands, and once with the real one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const setup = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../scripts/setup.sh');

/** Run `setup.sh --check-node` with a stand-in `node` that prints `version` (or fails when null). */
function check(version: string | null): { status: number | null; out: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-node-'));
  try {
    const body = version === null ? 'exit 127' : `echo ${version}`;
    fs.writeFileSync(path.join(dir, 'node'), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    const r = spawnSync('bash', [setup, '--check-node'], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('Node 20.20 passes the setup check (process.exit(<boolean>) broke it)', () => {
  const r = check('20.20.2');
  assert.equal(r.status, 0, r.out);
});

test('newer majors pass the setup check', () => {
  assert.equal(check('22.11.0').status, 0);
  assert.equal(check('100.0.0').status, 0);
});

test("Debian 12's Node 18 and a missing node fail the setup check, naming the version needed", () => {
  for (const v of ['18.19.0', '9.11.2', null, 'garbage']) {
    const r = check(v);
    assert.equal(r.status, 1, `${v}: ${r.out}`);
    assert.match(r.out, /Node\.js 20 or newer is needed/);
  }
});

test('the Node.js running these tests passes the setup check', () => {
  const r = spawnSync('bash', [setup, '--check-node'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`Node\\.js ${process.version.replace(/\./g, '\\.')} is new enough`));
});
