// Regression (issue 7, defect 6): the SQLite store (with VNC passwords in plain text) was 0644 in a
// 0755 data directory, every qcow2 disc 0644, root password hashes stayed in operations.args after
// the operation, and the VNC password was in plain text in run/<id>/meta.json. A real Hangar on a
// temporary data dir is given every kind of secret; then the modes are checked and every byte of
// the store (and its WAL), every file under the data dir and every log line is searched for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { startHangar, type Running, type StartOptions } from '../../src/brain/start.js';
import { bootstrap } from '../../src/brain/bootstrap.js';
import { FakeDriver } from '../../src/drivers/fake/driver.js';
import { makeDriver } from '../../src/cli/make-driver.js';
import { makeLogger } from '../../src/core/log.js';
import { enableTotp } from '../../src/core/auth.js';
import type { Database } from '../../src/store/schema.js';
import * as m001 from '../../src/store/migrations/001_initial.js';
import { QemuDriver } from '../../src/drivers/qemu/index.js';
import { repoRoot, tinyImage, tmpDir, until } from '../qemu/helpers.js';
import { freshStore } from '../helpers.js';

const ADMIN = { username: 'admin', password: 'Admin-Pass-7c41e' };
const ROOT_1 = 'Root-Pass-One-93d1f';
const ROOT_2 = 'Root-Pass-Two-5a7b2';
const SCRIPT_SECRET = 'Script-Token-0e6c4';
const VM = '/accounts/acme/groups/default/virtual_machines/web1';

/** A logger (the project's own) whose every line, at every level, is kept for searching. */
function capturedLog() {
  const lines: string[] = [];
  const log = makeLogger({ level: 'trace' }, { write: (s: string) => void lines.push(s) });
  return { log, text: () => lines.join('') };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...filesUnder(p));
  }
  return out;
}

const mode = (p: string) => fs.lstatSync(p).mode & 0o777;

/** Directories 0700 and everything else (files, sockets) 0600, from the data dir down. */
function assertPrivateTree(dataDir: string, skip: (p: string) => boolean = () => false): void {
  assert.equal(mode(dataDir).toString(8), '700', `data dir ${dataDir}`);
  for (const p of filesUnder(dataDir)) {
    if (skip(p)) continue;
    const want = fs.lstatSync(p).isDirectory() ? '700' : '600';
    assert.equal(mode(p).toString(8), want, p);
  }
}

/** Which of `secrets` (name → value) occur in `bytes`. */
function found(bytes: Buffer | string, secrets: Record<string, string>): string[] {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  return Object.entries(secrets).filter(([, v]) => v && buf.includes(Buffer.from(v))).map(([k]) => k);
}

function client(r: Running) {
  return async (method: string, url: string, token: string | null, body?: unknown) => {
    const res = await r.app.inject({
      method: method as 'GET', url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      payload: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.statusCode, text: res.body, body: res.headers['content-type']?.toString().startsWith('application/json') ? JSON.parse(res.body) : res.body };
  };
}

/** Log in as the admin, make an API key and a TOTP user, and create web1 with a root password. */
async function giveSecrets(running: Running, disc: { storage_grade: string; size: number }[]) {
  await bootstrap(running.hangar, { HANGAR_ADMIN_USER: ADMIN.username, HANGAR_ADMIN_PASSWORD: ADMIN.password, HANGAR_DEMO_ACCOUNT: 'acme' });
  const api = client(running);
  const token = (await api('POST', '/session', null, { username: ADMIN.username, password: ADMIN.password })).text;
  assert.match(token, /^[\w-]+$/, 'a session token (base64url), not an error');
  const key = await api('POST', '/api_keys', token, { label: 'ci' });
  assert.equal(key.status, 201, key.text);
  const u = await api('POST', '/users', token, { username: 'bob', password: 'Bob-Pass-31f0a', email: 'bob@example.com' });
  assert.equal(u.status, 201, u.text);
  const totp = (await enableTotp(running.hangar, 'bob'))!;
  const created = await api('POST', '/accounts/acme/groups/default/vm_create', token, {
    virtual_machine: { name: 'web1', cores: 1, memory: 192 },
    discs: disc.map((d, i) => ({ label: `disc-${i + 1}`, ...d })),
    reimage: { distribution: 'tiny', root_password: ROOT_1, firstboot_script: `#!/bin/sh\necho ${SCRIPT_SECRET}\n` },
  });
  assert.equal(created.status, 202, created.text);
  return { api, token, apiKey: key.body.api_key as string, totp };
}

async function opsSettled(running: Running): Promise<void> {
  await until('operations finished', async () => {
    const queued = await running.hangar.db.selectFrom('operations').select('id').where('state', 'in', ['queued', 'running']).execute();
    return queued.length === 0;
  }, 60_000);
}

test('no secret in the store, its WAL, the data dir or the logs; store files 0600 in a 0700 data dir (fake driver)', async (t) => {
  const dataDir = path.join(tmpDir('secrets'), 'data');
  const { log, text } = capturedLog();
  const driver = new FakeDriver();
  const running = await startHangar({
    storeUrl: path.join(dataDir, 'hangar.sqlite'), dataDir, log, config: { headWaitMs: 5000 },
    heads: [{ driver, label: 'head1', resyncMs: 60_000 }],
  } as StartOptions);
  let closed = false;
  t.after(async () => { if (!closed) await running.close(); });

  const { api, token, apiKey, totp } = await giveSecrets(running, [{ storage_grade: 'sata', size: 1024 }]);
  await opsSettled(running);
  const vmId = (await api('GET', VM, token)).body.id as number;
  const disc = (await api('GET', `${VM}/discs/disc-1`, token)).body.id as number;
  const hash1 = driver.images.get(disc)?.firstBoot.rootPasswordHash ?? '';
  assert.match(hash1, /^\$6\$/);
  // Reimage with a second password (the machine is off for it, on again after).
  assert.equal((await api('PUT', VM, token, { power_on: false, autoreboot_on: false })).status, 200);
  const re = await api('POST', `${VM}/reimage`, token, { distribution: 'tiny', root_password: ROOT_2 });
  assert.equal(re.status, 200, re.text);
  await opsSettled(running);
  const hash2 = driver.images.get(disc)?.firstBoot.rootPasswordHash ?? '';
  assert.notEqual(hash2, hash1);
  const vncPassword = await until('machine running', async () => driver.machines.get(vmId)?.spec.vncPassword);
  assert.ok(vncPassword.length >= 6);
  assert.equal(driver.images.get(disc)?.firstBoot.firstbootScript, '', 'the second reimage had no script');

  const secrets = {
    'admin password': ADMIN.password, 'root password 1': ROOT_1, 'root password 2': ROOT_2, 'hash 1': hash1, 'hash 2': hash2,
    'firstboot script': SCRIPT_SECRET, 'VNC password': vncPassword, 'session token': token, 'API key': apiKey, 'TOTP secret': totp,
  };
  // Finished operations keep no secret, sealed or not.
  for (const op of await running.hangar.db.selectFrom('operations').select(['kind', 'state', 'args']).execute()) {
    assert.ok(['done', 'failed'].includes(op.state), `${op.kind} is ${op.state}`);
    assert.doesNotMatch(op.args, /rootPasswordHash|firstbootScript|\$secret/, `${op.kind} args: ${op.args}`);
  }

  const search = (when: string) => {
    for (const f of filesUnder(dataDir)) {
      if (fs.statSync(f).isFile()) assert.deepEqual(found(fs.readFileSync(f), secrets), [], `${when}: ${f}`);
    }
  };
  assert.ok(fs.existsSync(path.join(dataDir, 'hangar.sqlite-wal')), 'the WAL is there to be searched');
  search('while running');
  assertPrivateTree(dataDir);
  await running.close();
  closed = true;
  search('after close');
  assertPrivateTree(dataDir);
  assert.deepEqual(found(text(), secrets), [], 'the log');
  assert.match(text(), /"msg":/, 'the log was captured');
});

test('the logger never writes a secret field, even inside a logged object', () => {
  const { log, text } = capturedLog();
  log.info({ body: { password: ADMIN.password, reimage: { root_password: ROOT_1 } }, args: { firstBoot: { rootPasswordHash: '$6$abc$def' } } }, 'x');
  log.info({ spec: { vncPassword: 'VncPw123' }, headers: { authorization: 'Bearer TokenXyz' } }, 'y');
  assert.deepEqual(found(text(), { a: ADMIN.password, b: ROOT_1, c: '$6$abc$def', d: 'VncPw123', e: 'TokenXyz' }), []);
});

/** A store of the schema before sealing (001 only): an SQLite file, or a fresh PostgreSQL database. */
/** The schema of a store written before public ids (migration 009). */
type BeforePublicIds = { [T in keyof Database]: Omit<Database[T], 'uuid'> };

async function storeBeforeSealing(kind: 'sqlite' | 'postgres', dataDir: string): Promise<{ url: string; db: Kysely<BeforePublicIds>; drop(): Promise<void> }> {
  if (kind === 'sqlite') {
    const url = path.join(dataDir, 'hangar.sqlite');
    const db = new Kysely<BeforePublicIds>({ dialect: new SqliteDialect({ database: new SQLite(url) }) });
    await sql`PRAGMA journal_mode = WAL`.execute(db);
    return { url, db, drop: async () => {} };
  }
  const store = await freshStore({ postgres: true });
  const db = new Kysely<BeforePublicIds>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: store.url }) }) });
  return { url: store.url, db, drop: store.drop };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`a ${kind} store written before sealing: migration 003 seals VNC passwords and TOTP secrets, finished operations lose their secrets, a looser store is tightened`, async (t) => {
    if (kind === 'postgres' && !process.env.HANGAR_TEST_DATABASE_URL) return t.skip('set HANGAR_TEST_DATABASE_URL to run it on PostgreSQL');
    const dataDir = path.join(tmpDir('secrets-old'), 'data');
    fs.mkdirSync(dataDir, { mode: 0o755 });
    fs.chmodSync(dataDir, 0o755);
    // The store as it was: schema 001 only, plain secrets in it, files 0644.
    const { url, db: old, drop } = await storeBeforeSealing(kind, dataDir);
    t.after(drop);
    const { error } = await new Migrator({ db: old, provider: { getMigrations: async () => ({ '001_initial': m001 }) } }).migrateToLatest();
    assert.equal(error, undefined);
    const now = Date.now();
    const acc = await old.insertInto('accounts').values({ name: 'acme', created_at: now }).returning('id').executeTakeFirstOrThrow();
    const grp = await old.insertInto('groups').values({ account_id: acc.id, name: 'default', vlan_num: null, created_at: now }).returning('id').executeTakeFirstOrThrow();
    await old.insertInto('users').values({ username: 'bob', email: '', password_hash: 'x', totp_secret: 'JBSWY3DPEHPK3PXPTOTPSECRET' as never, created_at: now }).execute();
    const vm = await old.insertInto('vms').values({
      group_id: grp.id, name: 'web1', cores: 1, memory: 128, power_on: 0, autoreboot_on: 0, cdrom_url: null, keymap: null,
      hardware_profile: 'virtio2013', hardware_profile_locked: 0, zone_name: 'default', head_id: null, deleted: 0, deleted_at: null,
      last_imaged_with: null, vnc_password: 'OldVncPw' as never, created_at: now, updated_at: now, pid: null, last_seen: null,
      ssh_port: null, vnc_port: null, head_note: null,
    }).returning('id').executeTakeFirstOrThrow();
    const firstBoot = (h: string) => ({ hostname: 'web1', rootPasswordHash: h, authorizedKeys: '', firstbootScript: `echo ${SCRIPT_SECRET}`, instanceId: 'i' });
    for (const [state, h] of [['done', '$6$old$DoneHash'], ['failed', '$6$old$FailedHash'], ['queued', '$6$old$QueuedHash']] as const) {
      // Schema 001's operations (no public id yet).
      await (old as Kysely<any>).insertInto('operations').values({
        kind: 'reimage', vm_id: vm.id, head_id: null, user_id: null, state, result: null, error: null, created_at: now, updated_at: now, deadline: null,
        args: JSON.stringify({ vmId: vm.id, distribution: 'tiny', image: 'tiny', firstBoot: firstBoot(h), afterwards: null }),
      }).execute();
    }
    await old.destroy();
    for (const f of ['hangar.sqlite', 'hangar.sqlite-wal', 'hangar.sqlite-shm'].map((f) => path.join(dataDir, f))) {
      if (fs.existsSync(f)) fs.chmodSync(f, 0o644);
    }

    const { log, text } = capturedLog();
    const running = await startHangar({ storeUrl: url, dataDir, log, heads: [] } as StartOptions);
    let closed = false;
    t.after(async () => { if (!closed) await running.close(); });
    const box = running.hangar.secrets;
    const row = await running.hangar.db.selectFrom('vms').select('vnc_password').where('id', '=', vm.id).executeTakeFirstOrThrow();
    assert.equal(box.open(row.vnc_password), 'OldVncPw');
    const bob = await running.hangar.db.selectFrom('users').select('totp_secret').where('username', '=', 'bob').executeTakeFirstOrThrow();
    assert.equal(box.open(bob.totp_secret!), 'JBSWY3DPEHPK3PXPTOTPSECRET');
    const ops = await running.hangar.db.selectFrom('operations').select(['state', 'args', 'uuid', 'finished_at']).orderBy('id').execute();
    for (const op of ops.filter((o) => o.state !== 'queued')) assert.doesNotMatch(op.args, /rootPasswordHash|firstbootScript/);
    // Migration 007 gave every earlier operation a public id, and the finished ones their finish time.
    assert.equal(new Set(ops.map((o) => o.uuid).filter((u) => /^[0-9a-f-]{36}$/.test(u))).size, ops.length);
    assert.deepEqual(ops.map((o) => [o.state, o.finished_at !== null]), [['done', true], ['failed', true], ['queued', false]]);
    const queued = JSON.parse(ops.find((o) => o.state === 'queued')!.args);
    assert.equal(box.open(queued.firstBoot.rootPasswordHash.$secret), '$6$old$QueuedHash', 'a queued reimage still gets its hash');
    assert.equal(box.open(queued.firstBoot.firstbootScript.$secret), `echo ${SCRIPT_SECRET}`);
    assert.match(text(), /was readable by other users; tightened/);
    await running.close();
    closed = true;
    assertPrivateTree(dataDir);
    const plain = { vnc: 'OldVncPw', totp: 'JBSWY3DPEHPK3PXPTOTPSECRET', done: '$6$old$DoneHash', failed: '$6$old$FailedHash', queued: '$6$old$QueuedHash', script: SCRIPT_SECRET };
    for (const f of filesUnder(dataDir)) assert.deepEqual(found(fs.readFileSync(f), plain), [], f);
  });
}

test('hangar server: a looser data dir is tightened with a warning; store, WAL and secret key are 0600 in it', { timeout: 60_000 }, async (t) => {
  const dataDir = path.join(tmpDir('secrets-cli'), 'data');
  fs.mkdirSync(dataDir, { mode: 0o755 });
  fs.chmodSync(dataDir, 0o755);
  // The server finds its key and store in the data dir, whatever this shell's environment says.
  const serverEnv = { ...process.env };
  for (const k of ['HANGAR_SECRET_KEY', 'HANGAR_DATABASE_URL', 'HANGAR_DATA']) delete serverEnv[k];
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'hangar.js'), 'server', '--driver', 'fake', '--listen', '127.0.0.1:0', '--data', dataDir], {
    env: { ...serverEnv, HANGAR_ADMIN_PASSWORD: ADMIN.password, HANGAR_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => { child.kill('SIGKILL'); });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  await until('serving', () => /hangar is serving/.test(out), 30_000);
  assert.match(out, /"path":"[^"]*data".*was readable by other users; tightened/);
  assert.match(out, /created the secret key/);
  assert.doesNotMatch(out, new RegExp(ADMIN.password));
  for (const f of ['hangar.sqlite', 'hangar.sqlite-wal', 'hangar.sqlite-shm', 'secret.key']) assert.ok(fs.existsSync(path.join(dataDir, f)), f);
  assertPrivateTree(dataDir);
  child.kill('SIGTERM');
  await once(child, 'exit');
  assertPrivateTree(dataDir);
});

test('QEMU driver start: discs, backups and run files an older Hangar left readable are tightened, with a warning', async () => {
  const dataDir = path.join(tmpDir('secrets-drv'), 'qemu');
  const old = [path.join(dataDir, 'discs', 'sata', 'disc-1.qcow2'), path.join(dataDir, 'backups', 'backup-1.qcow2'), path.join(dataDir, 'run', '7', 'console.log')];
  for (const f of old) {
    fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o755 });
    fs.writeFileSync(f, 'guest data', { mode: 0o644 });
  }
  for (const f of old) {
    fs.chmodSync(f, 0o644);
    fs.chmodSync(path.dirname(f), 0o755);
  }
  const { log, text } = capturedLog();
  const driver = new QemuDriver({ dataDir, imagesDir: path.join(dataDir, 'none'), log, statsIntervalMs: 0 });
  await driver.list();
  await driver.close();
  assertPrivateTree(dataDir);
  for (const f of old) assert.match(text(), new RegExp(`"path":"${f}","from":"644","to":"600"`));
});

test('QEMU head: discs of every grade, backups, config drive, run dir, serial log and sockets are 0600 in 0700 dirs; no plain secret in any file', { timeout: 180_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) return t.skip(img.skip);
  const dataDir = path.join(tmpDir('secrets-qemu'), 'data');
  const { log, text } = capturedLog();
  const driver = await makeDriver('qemu', { dataDir, imagesDir: img.imagesDir, log, urls: { isoDir: null, allow: [] } });
  const running = await startHangar({
    storeUrl: path.join(dataDir, 'hangar.sqlite'), dataDir, log, config: { headWaitMs: 60_000 },
    heads: [{ driver, label: 'head1', resyncMs: 500 }],
  } as StartOptions);
  let closed = false;
  t.after(async () => {
    if (!closed) await running.close();
    // Leave no guest behind.
    const d = await makeDriver('qemu', { dataDir, imagesDir: img.imagesDir, log: makeLogger({ level: 'silent' }), urls: { isoDir: null, allow: [] } });
    for (const m of await d.list()) await d.stop(m.vmId);
    await d.close();
  });
  const { api, token, apiKey, totp } = await giveSecrets(running, [
    { storage_grade: 'sata', size: 256 }, { storage_grade: 'ssd', size: 64 }, { storage_grade: 'archive', size: 64 },
  ]);
  await opsSettled(running);
  const vmId = (await api('GET', VM, token)).body.id as number;
  await until('running', async () => (await api('GET', VM, token)).body.state === 'running' || null, 60_000);
  // A backup of a disc in use (a QMP backup job writing a file the driver made).
  const b1 = await api('POST', `${VM}/discs/disc-2/backups`, token);
  assert.equal(b1.status, 201, b1.text);
  await opsSettled(running);

  const run = path.join(dataDir, 'qemu', 'run', String(vmId));
  for (const f of ['qmp.sock', 'serial.sock', 'console.log', 'qemu.log', 'qemu.pid', 'meta.json', 'cidata.iso']) {
    assert.ok(fs.existsSync(path.join(run, f)), `${f} is there to be checked`);
  }
  for (const grade of ['sata', 'ssd', 'archive']) assert.equal(fs.readdirSync(path.join(dataDir, 'qemu', 'discs', grade)).length, 1, grade);
  assert.equal(fs.readdirSync(path.join(dataDir, 'qemu', 'backups')).length, 1);
  assertPrivateTree(dataDir);

  const meta = fs.readFileSync(path.join(run, 'meta.json'), 'utf8');
  assert.doesNotMatch(meta, /vncPassword/i, 'meta.json holds no VNC password');
  const firstbootJson = path.join(dataDir, 'qemu', 'vms', String(vmId), 'firstboot.json');
  const hash = JSON.parse(fs.readFileSync(firstbootJson, 'utf8')).firstBoot.rootPasswordHash as string;
  assert.match(hash, /^\$6\$/);
  const vncRow = await running.hangar.db.selectFrom('vms').select('vnc_password').where('id', '=', vmId).executeTakeFirstOrThrow();
  const plain = {
    'admin password': ADMIN.password, 'root password': ROOT_1, 'session token': token, 'API key': apiKey, 'TOTP secret': totp,
    'VNC password': running.hangar.secrets.open(vncRow.vnc_password),
  };
  // The hash is for the guest: its config drive, the head's copy for later boots, and the guest's discs.
  const mayHoldHash = (f: string) => f === firstbootJson || f === path.join(run, 'cidata.iso') || /\.qcow2$/.test(f);
  for (const f of filesUnder(dataDir)) {
    if (!fs.statSync(f).isFile()) continue;
    const bytes = fs.readFileSync(f);
    assert.deepEqual(found(bytes, plain), [], f);
    if (!mayHoldHash(f)) assert.deepEqual(found(bytes, { hash }), [], f);
  }
  const store = Buffer.concat(['hangar.sqlite', 'hangar.sqlite-wal'].map((f) => fs.readFileSync(path.join(dataDir, f))));
  assert.deepEqual(found(store, { hash, script: SCRIPT_SECRET }), []);
  assert.deepEqual(found(text(), { ...plain, hash, script: SCRIPT_SECRET }), [], 'the log');

  assert.equal((await api('PUT', VM, token, { power_on: false, autoreboot_on: false })).status, 200);
  await until('stopped', async () => (await api('GET', VM, token)).body.state === 'stopped' || null, 30_000);
  await running.close();
  closed = true;
  assertPrivateTree(dataDir);
});
