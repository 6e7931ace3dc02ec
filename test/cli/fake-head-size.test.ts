// `hangar server --driver fake` sizes its head from --fake-cores, --fake-memory and --fake-grade
// (or HANGAR_FAKE_*), so benchmarks and users never enlarge it in the store by hand. The real CLI
// on 127.0.0.1 (port 0); the size is seen by creates that fit or do not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const HANGAR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/hangar.js');
const PASSWORD = 'fake-head-admin-password';

interface Server { address: string; stop(): Promise<void> }

/** `hangar server --driver fake` on 127.0.0.1:0 over `dataDir`; resolves once it serves. */
function serve(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<Server> {
  const child = spawn(process.execPath, [HANGAR, 'server', '--driver', 'fake', '--listen', '127.0.0.1:0', '--data', dataDir, ...args], {
    env: { PATH: process.env.PATH ?? '', HANGAR_ADMIN_PASSWORD: PASSWORD, HANGAR_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d; });
  child.stderr.on('data', (d: Buffer) => { out += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`not serving after 30 s:\n${out}`)); }, 30_000);
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`hangar server exited (${code}) before serving:\n${out}`)); });
    child.stdout.on('data', () => {
      const line = out.split('\n').find((l) => l.includes('"hangar is serving"'));
      if (!line) return;
      clearTimeout(timer);
      resolve({ address: JSON.parse(line).address, async stop() { child.kill('SIGTERM'); await exited; } });
    });
  });
}

async function login(base: string): Promise<string> {
  const r = await fetch(`${base}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: PASSWORD }) });
  assert.equal(r.status, 200, await r.clone().text());
  return r.text();
}

/** POST vm_create in the demo account's default group: the status and body. */
async function create(base: string, token: string, name: string, cores: number, memory: number, discs: { storage_grade: string; size: number }[] = []) {
  const r = await fetch(`${base}/accounts/demo/groups/default/vm_create`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ virtual_machine: { name, cores, memory }, discs }),
  });
  return { status: r.status, body: await r.json() as Record<string, unknown> };
}

test('the fake head has the cores, memory and disc space given on the command line, and again from HANGAR_FAKE_* on the next start', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-fake-head-'));
  try {
    // 2 cores (VMs may claim 4 × 2 = 8), 1 GiB, 4 GiB of sata.
    let s = await serve(dataDir, ['--fake-cores', '2', '--fake-memory', '1024', '--fake-grade', 'sata=4096']);
    try {
      const base = s.address.replace('localhost', '127.0.0.1');
      const token = await login(base);
      const fits = await create(base, token, 'a', 8, 512, [{ storage_grade: 'sata', size: 4096 }]);
      assert.equal(fits.status, 202, JSON.stringify(fits.body));
      const noCores = await create(base, token, 'b', 1, 128);
      assert.equal(noCores.status, 400, 'the ninth core does not fit a 2-core head');
      assert.match(JSON.stringify(noCores.body), /no head in the zone has room/);
      const noSata = await create(base, token, 'c', 1, 128, [{ storage_grade: 'sata', size: 64 }]);
      assert.equal(noSata.status, 400, 'the 4 GiB of sata are taken');
    } finally {
      await s.stop();
    }
    // The same store, restarted with a bigger head from the environment: the size is re-read on every start.
    s = await serve(dataDir, [], { HANGAR_FAKE_CORES: '64', HANGAR_FAKE_MEMORY: '1024', HANGAR_FAKE_GRADES: 'sata=8192' });
    try {
      const base = s.address.replace('localhost', '127.0.0.1');
      const token = await login(base);
      const fits = await create(base, token, 'b', 1, 384, [{ storage_grade: 'sata', size: 4096 }]);
      assert.equal(fits.status, 202, `more cores and sata now: ${JSON.stringify(fits.body)}`);
      const ssd = await create(base, token, 'd', 1, 128, [{ storage_grade: 'ssd', size: 1024 * 1024 }]);
      assert.equal(ssd.status, 202, `a grade not named keeps its default space (64 TiB): ${JSON.stringify(ssd.body)}`);
      const noMemory = await create(base, token, 'c', 1, 128);
      assert.equal(noMemory.status, 400, 'the 1024 MiB are taken (512 + 384 + 128)');
    } finally {
      await s.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a bad size or a size without --driver fake stops the start with a clear message', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-fake-head-'));
  const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [HANGAR, 'server', '--listen', '127.0.0.1:0', '--data', dataDir, ...args], {
    env: { PATH: process.env.PATH ?? '', HANGAR_ADMIN_PASSWORD: PASSWORD, ...env }, encoding: 'utf8', timeout: 30_000,
  });
  try {
    let r = run(['--driver', 'fake', '--fake-cores', '0']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /--fake-cores.*expected a whole number/);
    r = run(['--driver', 'fake', '--fake-grade', 'gold=100']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unknown storage grade "gold"/);
    r = run(['--driver', 'fake'], { HANGAR_FAKE_GRADES: 'sata' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /HANGAR_FAKE_GRADES.*expected GRADE=MiB/);
    r = run(['--driver', 'qemu', '--fake-memory', '4096']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /use them with --driver fake/);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
