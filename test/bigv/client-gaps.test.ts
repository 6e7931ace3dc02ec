// Regressions from running the unchanged real clients against Hangar (issue 7, defect 9):
// `schedule backups` without --start, `add server` with an image no head has, an API key made by
// `hangar admin apikey-create` that saw nothing, and a VM's root disc moved to another VM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { account, SSH_KEY, startTest, until, type TestHangar } from '../helpers.js';
import { snapshot } from '../snapshot.js';
import { FakeDriver } from '../../src/drivers/fake/driver.js';

const GRP = '/accounts/acme/groups/default';
const VMS = `${GRP}/virtual_machines`;

function vmCreate(t: TestHangar, name: string, distribution: string, vm: Record<string, unknown> = {}) {
  return t.req('POST', `${GRP}/vm_create`, {
    token: t.adminToken,
    body: {
      virtual_machine: { name, cores: 1, memory: 1024, autoreboot_on: true, ...vm },
      discs: [{ label: 'disc-1', storage_grade: 'sata', size: 25600 }],
      reimage: { distribution, root_password: 'pw', ssh_public_key: SSH_KEY, firstboot_script: '' },
    },
  });
}

// ---- schedule backups without --start ---------------------------------------------------------

test('schedule backups without --start: start_at "00:00" is accepted as the next midnight UTC, not refused as invalid', async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    const c = await t.req('POST', `${GRP}/vm_create`, { token: t.adminToken, body: { virtual_machine: { name: 'web1' }, discs: [{ label: 'disc-1', size: 1024 }] } });
    assert.equal(c.status, 202, c.text);
    // The brain's clock: 30 November 2026, 21:15:07 UTC.
    t.running.hangar.now = () => Date.UTC(2026, 10, 30, 21, 15, 7);
    const schedule = (start_at: string) => t.req('POST', `${VMS}/web1/discs/disc-1/backup_schedules`, {
      token: t.adminToken, body: { start_at, interval_seconds: 86400, capacity: 0 },
    });
    // bytemark-client sends "00:00" when --start is not given; its help shows `--start 00:00` too.
    let r = await schedule('00:00');
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.start_at, '2026-12-01 00:00:00 UTC', 'the next midnight, in UTC');
    // Other times of day: later today, or tomorrow once passed; seconds may be given.
    assert.equal((await schedule('23:30')).body.start_at, '2026-11-30 23:30:00 UTC');
    assert.equal((await schedule('21:15:07')).body.start_at, '2026-11-30 21:15:07 UTC', 'now is not in the past');
    assert.equal((await schedule('9:05')).body.start_at, '2026-12-01 09:05:00 UTC');
    assert.equal((await schedule('14:37 UTC')).body.start_at, '2026-12-01 14:37:00 UTC');
    // Full dates are kept as sent (the forms the clients send).
    assert.equal((await schedule('2030-01-01 00:00:00')).body.start_at, '2030-01-01 00:00:00');
    assert.equal((await schedule('2017-04-05T14:37:00+02:00')).body.start_at, '2017-04-05T14:37:00+02:00');
    // What is no time of day stays a field error.
    for (const bad of ['24:00', '12:60', '00:00:61', '7', 'soon', '']) {
      r = await schedule(bad);
      assert.equal(r.status, 400, `${bad}: ${r.text}`);
      assert.deepEqual(Object.keys(r.body), ['start_at'], bad);
    }
    // The same rule inside vm_create.
    r = await t.req('POST', `${GRP}/vm_create`, {
      token: t.adminToken,
      body: { virtual_machine: { name: 'web2' }, discs: [{ label: 'disc-1', size: 1024, backup_schedules: [{ start_at: '00:00', interval_seconds: 604800, capacity: 1 }] }] },
    });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.discs[0].backup_schedules[0].start_at, '2026-12-01 00:00:00 UTC');
    const shown = await t.req('GET', `${VMS}/web1/discs/disc-1`, { token: t.adminToken });
    assert.equal(shown.body.backup_schedules[0].start_at, '2026-12-01 00:00:00 UTC');
  } finally {
    await t.close();
  }
});

// ---- an image that no head has -----------------------------------------------------------------

/** Heads in two zones: head1 (default) has only bookworm, head2 (york) has tiny and bookworm. */
async function imageFixture(): Promise<TestHangar> {
  const images = [['bookworm'], ['tiny', 'bookworm']];
  let n = 0;
  const t = await startTest({
    heads: [{ label: 'head1', zone: 'default' }, { label: 'head2', zone: 'york' }],
    driver: () => new FakeDriver({ images: images[n++]! }),
  });
  await account(t, 'acme');
  return t;
}

test('add server with an image no head in the zone has: a 400 naming the image, and nothing is created', async () => {
  const t = await imageFixture();
  try {
    const before = await snapshot(t);
    let r = await vmCreate(t, 'web1', 'tiny', { zone_name: 'default' });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body, { distribution: ['is not available in zone default (no head there has the tiny image)'] });
    assert.deepEqual(await snapshot(t), before, 'a refused create writes nothing');
    // An alias names the image that really backs it; without a zone, every zone is looked at.
    const headless = await startTest({ driver: () => new FakeDriver({ images: ['tiny'] }) });
    try {
      await account(headless, 'acme');
      r = await vmCreate(headless, 'web1', 'stretch');
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.body, { distribution: ['is not available in any zone (no head has the bookworm image)'] });
    } finally {
      await headless.close();
    }
    // Without a zone, placement picks a head that has the image.
    r = await vmCreate(t, 'web1', 'tiny');
    assert.equal(r.status, 202, r.text);
    assert.equal(r.body.virtual_machine.zone_name, 'york');
    const vm = await until('imaged and running', async () => {
      const g = await t.req('GET', `${VMS}/web1`, { token: t.adminToken });
      return g.body.state === 'running' ? g.body : null;
    });
    assert.equal(vm.head, 'head2');
    assert.equal(vm.last_imaged_with, 'tiny');
    assert.equal(vm.head_note, null);
    // An image the zone's head has is placed there.
    r = await vmCreate(t, 'db1', 'stretch', { zone_name: 'default' });
    assert.equal(r.status, 202, r.text);
  } finally {
    await t.close();
  }
});

test('a head without the image is not a candidate: placement skips it for one in the same zone that has it', async () => {
  const images = [['bookworm'], ['tiny']];
  let n = 0;
  const t = await startTest({
    heads: [{ label: 'big', zone: 'default' }, { label: 'small', zone: 'default' }],
    // "big" has the most free memory, so it would be chosen first.
    driver: () => new FakeDriver({ images: images[n]!, memory: n++ === 0 ? 1024 * 1024 : 64 * 1024 }),
  });
  try {
    await account(t, 'acme');
    const r = await vmCreate(t, 'web1', 'tiny');
    assert.equal(r.status, 202, r.text);
    const vm = await until('running', async () => {
      const g = await t.req('GET', `${VMS}/web1`, { token: t.adminToken });
      return g.body.state === 'running' ? g.body : null;
    });
    assert.equal(vm.head, 'small');
  } finally {
    await t.close();
  }
});

test('reimage with an image the machine\'s head lacks: a 400 naming it, the machine untouched', async () => {
  const t = await imageFixture();
  try {
    const c = await vmCreate(t, 'web1', 'bookworm', { zone_name: 'default' });
    assert.equal(c.status, 202, c.text);
    await until('running', async () => (await t.req('GET', `${VMS}/web1`, { token: t.adminToken })).body.state === 'running');
    await t.req('PUT', `${VMS}/web1`, { token: t.adminToken, body: { power_on: false, autoreboot_on: false } });
    const before = await snapshot(t);
    const r = await t.req('POST', `${VMS}/web1/reimage`, { token: t.adminToken, body: { distribution: 'tiny', root_password: 'pw' } });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body, { distribution: ["is not available on this machine's head (it does not have the tiny image)"] });
    assert.deepEqual(await snapshot(t), before);
    const vm = (await t.req('GET', `${VMS}/web1`, { token: t.adminToken })).body;
    assert.equal(vm.last_imaged_with, 'bookworm');
    assert.equal(vm.power_on, false);
  } finally {
    await t.close();
  }
});

test('an image built on a head after it started is offered once the head reports it', async () => {
  const driver = new FakeDriver({ images: ['bookworm'] });
  const t = await startTest({ driver: () => driver });
  try {
    await account(t, 'acme');
    assert.equal((await vmCreate(t, 'web1', 'tiny')).status, 400);
    driver.builtImages.push('tiny'); // `hangar images build tiny` on the head
    await t.running.agents[0]!.resync();
    const r = await vmCreate(t, 'web1', 'tiny');
    assert.equal(r.status, 202, r.text);
  } finally {
    await t.close();
  }
});

test('why a machine is off (head_note) shows wherever its state does: the VM, VM lists, group and account overviews', async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    t.drivers[0]!.failNext('reimage', 'the image file is unreadable');
    assert.equal((await vmCreate(t, 'web1', 'tiny')).status, 202);
    const note = 'reimage failed: the image file is unreadable';
    await until('the failure reported', async () => (await t.req('GET', `${VMS}/web1`, { token: t.adminToken })).body.head_note);
    const views: [string, (b: any) => any][] = [
      [`${VMS}/web1`, (b) => b],
      [`${VMS}/web1?view=overview`, (b) => b],
      [VMS, (b) => b[0]],
      [`/virtual_machines?account_id=acme`, (b) => b[0]],
      [`${GRP}?view=overview`, (b) => b.virtual_machines[0]],
      ['/accounts/acme?view=overview', (b) => b.groups[0].virtual_machines[0]],
      ['/accounts?view=overview', (b) => b[0].groups[0].virtual_machines[0]],
    ];
    for (const [url, pick] of views) {
      const vm = pick((await t.req('GET', url, { token: t.adminToken })).body);
      assert.deepEqual([vm.name, vm.power_on, vm.state, vm.head_note], ['web1', false, 'stopped', note], url);
    }
  } finally {
    await t.close();
  }
});

// ---- hangar admin apikey-create ----------------------------------------------------------------

const HANGAR = fileURLToPath(new URL('../../../bin/hangar.js', import.meta.url));

function hangarCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [HANGAR, ...args], { encoding: 'utf8', env: { ...process.env, HANGAR_DATABASE_URL: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('hangar admin apikey-create --all-privileges: the README\'s token works with bytemark-client (it saw nothing before)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-apikey-'));
  const t = await startTest({ sqliteFile: path.join(dir, 'hangar.sqlite') });
  try {
    const acme = await account(t, 'acme');
    await account(t, 'beta');
    await t.req('POST', `${VMS}`, { token: t.adminToken, body: { name: 'web1' } });
    await t.user('alice', { level: 'account_admin', account_id: acme.id });
    const database = ['admin', '--database', t.storeUrl];

    // Without a flag the key has no privilege, and the command says so and what to run.
    let cli = hangarCli([...database, 'apikey-create', 'alice', 'bare']);
    assert.equal(cli.status, 0, cli.stderr);
    const bare = JSON.parse(cli.stdout);
    assert.deepEqual(bare.privileges, []);
    assert.match(cli.stderr, /--all-privileges/);
    assert.deepEqual((await t.req('GET', '/accounts', { token: bare.token })).body, []);

    // What the README says to run: the key carries alice's privileges.
    cli = hangarCli([...database, 'apikey-create', 'alice', 'ci', '--all-privileges']);
    assert.equal(cli.status, 0, cli.stderr);
    const made = JSON.parse(cli.stdout);
    assert.match(made.token, /^apikey\./);
    assert.deepEqual(made.privileges, [{ level: 'account_admin', account: 'acme' }]);
    const key = made.token as string;
    // bytemark-client with `apikey.<key>` in its token file: no auth server, Bearer apikey.<key> to the brain.
    let r = await t.req('GET', '/accounts?view=overview', { token: key });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.map((a: any) => a.name), ['acme']);
    r = await t.req('GET', '/accounts//groups/default/virtual_machines/web1?view=overview', { token: key });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.name, 'web1');
    assert.equal((await t.req('GET', '/accounts/beta', { token: key })).status, 404, 'only what alice may see');
    // The key's privileges are bound to it, need no password factor, and show as its own.
    r = await t.req('GET', '/privileges', { token: key });
    assert.deepEqual(r.body.map((p: any) => [p.level, p.account_name, p.api_key_id > 0, p.password_required]), [['account_admin', 'acme', true, false]]);

    // Or one privilege at a time, bound to the bare key with `hangar admin grant --api-key`.
    const web1 = (await t.req('GET', `${VMS}/web1`, { token: t.adminToken })).body.id;
    cli = hangarCli([...database, 'grant', 'alice', 'vm_console', '--vm', String(web1), '--api-key', 'bare']);
    assert.equal(cli.status, 0, cli.stderr);
    assert.deepEqual((await t.req('GET', '/accounts', { token: bare.token })).body.map((a: any) => a.name), ['acme']);
    assert.equal((await t.req('PUT', `${VMS}/web1`, { token: bare.token, body: { cores: 2 } })).status, 403, 'vm_console only');

    // A user without privileges: nothing to bind is an error, not a useless key.
    await t.user('bob');
    cli = hangarCli([...database, 'apikey-create', 'bob', 'ci', '--all-privileges']);
    assert.notEqual(cli.status, 0);
    assert.match(cli.stderr, /bob has no privileges/);
    const keys = await t.running.hangar.db.selectFrom('api_keys as k').innerJoin('users as u', 'u.id', 'k.user_id').select('u.username').execute();
    assert.deepEqual(keys.map((k) => k.username).sort(), ['alice', 'alice'], 'no key was left for bob');
  } finally {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- moving a root disc ------------------------------------------------------------------------

test('moving a VM\'s root disc to another VM is refused with a 400, as BigV does; other discs still move', async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    for (const [name, data] of [['web1', 'web1-data'], ['db1', 'db1-data'], ['cache', 'web1-data']] as const) {
      const c = await t.req('POST', `${GRP}/vm_create`, {
        token: t.adminToken,
        body: { virtual_machine: { name }, discs: [{ label: `${name}-root`, size: 1024 }, { label: data, size: 1024 }] },
      });
      assert.equal(c.status, 202, c.text);
    }
    const db1 = (await t.req('GET', `${VMS}/db1`, { token: t.adminToken })).body.id;
    const rootId = (await t.req('GET', `${VMS}/web1/discs/web1-root`, { token: t.adminToken })).body.id;
    const before = await snapshot(t);
    for (const url of [`${VMS}/web1/discs/web1-root`, `/discs/${rootId}`]) {
      const r = await t.req('PUT', url, { token: t.adminToken, body: { virtual_machine_id: db1 } });
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.body, { virtual_machine_id: ['the machine boots from this disc: its first disc cannot be moved to another machine'] });
    }
    // A data disc whose label the target already uses is refused too.
    const cache = (await t.req('GET', `${VMS}/cache`, { token: t.adminToken })).body.id;
    const clash = await t.req('PUT', `${VMS}/web1/discs/web1-data`, { token: t.adminToken, body: { virtual_machine_id: cache } });
    assert.equal(clash.status, 400, clash.text);
    assert.deepEqual(Object.keys(clash.body), ['label']);
    assert.deepEqual(await snapshot(t), before, 'the refused moves changed nothing');
    const r = await t.req('PUT', `${VMS}/web1/discs/web1-data`, { token: t.adminToken, body: { virtual_machine_id: db1 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.virtual_machine_id, db1);
    // The moved disc has a smaller id than db1's own, and still comes after them: db1 boots from its root disc.
    const labels = async (vm: string) => (await t.req('GET', `${VMS}/${vm}/discs`, { token: t.adminToken })).body.map((d: { label: string }) => d.label);
    assert.deepEqual(await labels('db1'), ['db1-root', 'db1-data', 'web1-data']);
    // "Moving" the root disc to its own machine changes nothing and is fine.
    const web1 = (await t.req('GET', `${VMS}/web1`, { token: t.adminToken })).body.id;
    assert.equal((await t.req('PUT', `${VMS}/web1/discs/web1-root`, { token: t.adminToken, body: { virtual_machine_id: web1 } })).status, 200);
  } finally {
    await t.close();
  }
});
