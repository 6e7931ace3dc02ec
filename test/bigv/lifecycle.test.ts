// VM lifecycle through the BigV API over the fake driver: create, power table, delete/undelete/purge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, SSH_KEY, startTest, until, type TestHangar } from '../helpers.js';
import { FakeDriver } from '../../src/drivers/fake/driver.js';

const path = '/accounts/acme/groups/default/virtual_machines';

async function vmCreate(t: TestHangar, name: string, extra: Record<string, unknown> = {}) {
  return t.req('POST', '/accounts/acme/groups/default/vm_create', {
    token: t.adminToken,
    body: {
      virtual_machine: { name, cores: 1, memory: 1024, ...extra },
      discs: [{ label: 'disc-1', storage_grade: 'sata', size: 25600 }],
      reimage: { distribution: 'tiny', root_password: 'pw', ssh_public_key: SSH_KEY, firstboot_script: '' },
    },
  });
}

test('vm_create builds discs, images and powers on; GET shows the documented fields', async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    const r = await vmCreate(t, 'web1');
    assert.equal(r.status, 202);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.body.virtual_machine.name, 'web1');
    assert.equal(r.body.discs[0].size, 25600);
    const vm = await until('power on', async () => {
      const g = await t.req('GET', `${path}/web1?include_deleted=true&view=overview`, { token: t.adminToken });
      return g.body.state === 'running' ? g.body : null;
    });
    assert.equal(vm.power_on, true);
    assert.equal(vm.autoreboot_on, true);
    assert.equal(vm.hostname, 'web1.default.acme.hangar.local');
    assert.equal(vm.last_imaged_with, 'tiny');
    assert.equal(vm.head, 'head1');
    assert.equal(vm.discs.length, 1);
    assert.equal(vm.network_interfaces.length, 1);
    assert.equal(vm.network_interfaces[0].ips.length, 2, 'an IPv4 and an IPv6 address');
    for (const k of ['id', 'group_id', 'cores', 'memory', 'cdrom_url', 'keymap', 'hardware_profile', 'hardware_profile_locked', 'zone_name', 'management_address', 'deleted', 'type']) {
      assert.ok(k in vm, `field ${k}`);
    }
    const d = t.drivers[0]!;
    assert.deepEqual(d.calls.slice(0, 3), [`createDisc ${vm.discs[0].id}`, `reimage ${vm.id} tiny`, `start ${vm.id}`]);
    const image = d.images.get(vm.discs[0].id)!;
    assert.match(image.firstBoot.rootPasswordHash!, /^\$6\$/);
    assert.equal(image.firstBoot.authorizedKeys, SSH_KEY);
  } finally {
    await t.close();
  }
});

test('power table: start, stop, reboot; powerdown honours autoreboot_on', async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    await t.req('POST', path, { token: t.adminToken, body: { name: 'web1' } });
    const d = t.drivers[0]!;
    const put = (body: unknown) => t.req('PUT', `${path}/web1`, { token: t.adminToken, body });
    const get = async () => (await t.req('GET', `${path}/web1`, { token: t.adminToken })).body;

    let r = await put({ autoreboot_on: true, power_on: true }); // start
    assert.equal(r.status, 200);
    assert.equal(r.body.power_on, true);
    assert.equal(d.machines.size, 1);
    const pid = d.machines.get(r.body.id)!.pid;

    r = await put({ autoreboot_on: true, power_on: false }); // reboot: off then straight back on
    assert.equal(r.body.power_on, true);
    assert.equal(d.machines.size, 1);
    assert.notEqual(d.machines.get(r.body.id)!.pid, pid, 'a fresh QEMU process');

    r = await put({ autoreboot_on: false, power_on: false }); // stop
    assert.equal(r.body.power_on, false);
    assert.equal(d.machines.size, 0);
    assert.equal((await get()).state, 'stopped');

    await put({ power_on: true, autoreboot_on: true });
    // ACPI powerdown with autoreboot on: the guest goes off and is powered straight back up.
    const before = d.calls.filter((c) => c.startsWith('start')).length;
    r = await t.req('POST', `${path}/web1/signal`, { token: t.adminToken, body: { signal: 'powerdown' } });
    assert.equal(r.status, 200);
    await until('restart', async () => d.calls.filter((c) => c.startsWith('start')).length > before && d.machines.size === 1);
    assert.equal((await get()).power_on, true);

    // bytemark-client's shutdown: autoreboot off, powerdown, poll until power_on is false.
    await put({ autoreboot_on: false });
    r = await t.req('POST', `${path}/web1/signal`, { token: t.adminToken, body: { signal: 'powerdown' } });
    assert.equal(r.status, 200);
    await until('power_on false', async () => (await get()).power_on === false);
    assert.equal(d.machines.size, 0);

    // Signals need a powered-on machine.
    r = await t.req('POST', `${path}/web1/signal`, { token: t.adminToken, body: { signal: 'reset' } });
    assert.equal(r.status, 400);
    assert.ok(r.body.signal);

    // A crash (kill -9) with autoreboot off reports the machine off; with it on, it comes back.
    await put({ power_on: true, autoreboot_on: false });
    const id = (await get()).id;
    d.crash(id);
    await until('crash reported off', async () => (await get()).power_on === false);
    await put({ power_on: true, autoreboot_on: true });
    d.crash(id);
    await until('crash restarted', async () => d.machines.has(id));
  } finally {
    await t.close();
  }
});

test('soft delete, undelete, purge: name and IPs come back to the pool', async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    const c = await vmCreate(t, 'web1');
    const id = c.body.virtual_machine.id;
    const ips = c.body.virtual_machine.network_interfaces[0].ips;
    await until('running', async () => t.drivers[0]!.machines.has(id));

    let r = await t.req('DELETE', `${path}/web1`, { token: t.adminToken });
    assert.equal(r.status, 204);
    assert.equal(t.drivers[0]!.machines.size, 0, 'taken down');
    r = await t.req('GET', path, { token: t.adminToken });
    assert.deepEqual(r.body, [], 'hidden without include_deleted');
    r = await t.req('GET', `${path}?include_deleted=True`, { token: t.adminToken });
    assert.equal(r.body.length, 1);
    assert.equal(r.body[0].deleted, true);
    r = await t.req('GET', `${path}/web1`, { token: t.adminToken });
    assert.equal(r.status, 404);

    // The name stays taken while the VM can still be undeleted.
    r = await vmCreate(t, 'web1');
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.name, ['has already been taken']);

    r = await t.req('PUT', `${path}/web1`, { token: t.adminToken, body: { deleted: false } });
    assert.equal(r.status, 200);
    assert.equal(r.body.deleted, false);
    assert.equal(r.body.power_on, false);

    r = await t.req('DELETE', `${path}/web1?purge=true`, { token: t.adminToken });
    assert.equal(r.status, 204);
    r = await t.req('GET', `${path}?include_deleted=true`, { token: t.adminToken });
    assert.deepEqual(r.body, []);
    await until('discs destroyed', async () => t.drivers[0]!.discs.size === 0);

    r = await vmCreate(t, 'web1');
    assert.equal(r.status, 202, 'the name is free again');
    assert.notEqual(r.body.virtual_machine.id, id, 'ids are never reused');
    assert.deepEqual(r.body.virtual_machine.network_interfaces[0].ips, ips, 'the addresses went back to the pool');
  } finally {
    await t.close();
  }
});

test('undelete is refused after the retention window', async () => {
  const t = await startTest({ config: { undeleteDays: 0 } });
  try {
    await account(t, 'acme');
    await t.req('POST', path, { token: t.adminToken, body: { name: 'old' } });
    await t.req('DELETE', `${path}/old?purge=False`, { token: t.adminToken });
    await new Promise((r) => setTimeout(r, 5));
    const r = await t.req('PUT', `${path}/old`, { token: t.adminToken, body: { deleted: false } });
    assert.equal(r.status, 400);
    assert.match(r.body.deleted[0], /can no longer be undeleted/);
  } finally {
    await t.close();
  }
});

test('faults end in a clear state, never a VM stuck in progress', async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    const d = t.drivers[0]!;
    // The image cannot be written: the machine is not started on a blank disc, and says why.
    d.failNext('reimage', 'image tiny is not built on this head');
    let r = await vmCreate(t, 'web1');
    assert.equal(r.status, 202);
    const vm = await until('reimage failure reported', async () => {
      const g = await t.req('GET', `${path}/web1`, { token: t.adminToken });
      return g.body.head_note ? g.body : null;
    });
    assert.equal(vm.power_on, false);
    assert.equal(vm.state, 'stopped');
    assert.match(vm.head_note, /reimage failed: image tiny is not built/);
    assert.equal(d.machines.size, 0);

    // Power on fails on the head (e.g. a cdrom_url that cannot be fetched): off, with the reason.
    d.failNext('start', 'cdrom_url http://x/y.iso: download failed');
    r = await t.req('PUT', `${path}/web1`, { token: t.adminToken, body: { power_on: true, autoreboot_on: true } });
    assert.equal(r.status, 200);
    assert.equal(r.body.power_on, false);
    assert.match(r.body.head_note, /power on failed: cdrom_url http:\/\/x\/y.iso: download failed/);

    // A signal the head cannot deliver is a 400 with the reason.
    await t.req('PUT', `${path}/web1`, { token: t.adminToken, body: { power_on: true } });
    d.failNext('signal', 'QMP did not answer');
    r = await t.req('POST', `${path}/web1/signal`, { token: t.adminToken, body: { signal: 'reset' } });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { signal: ['QMP did not answer'] });
  } finally {
    await t.close();
  }
});

test('a head that cannot run machines (QEMU missing) gives a clear 400 at create', async () => {
  const t = await startTest({ driver: () => new FakeDriver({ problem: 'qemu-system-x86_64 is not installed' }) });
  try {
    await account(t, 'acme');
    const r = await t.req('POST', path, { token: t.adminToken, body: { name: 'web1' } });
    assert.equal(r.status, 400);
    assert.match(r.body.zone_name[0], /head1: qemu-system-x86_64 is not installed/);
    const list = await t.req('GET', `${path}?include_deleted=true`, { token: t.adminToken });
    assert.deepEqual(list.body, [], 'nothing half-written');
  } finally {
    await t.close();
  }
});

test('a guest reboot (ctrl-alt-del) comes back even with autoreboot_on false', async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    await t.req('POST', path, { token: t.adminToken, body: { name: 'web1' } });
    const r = await t.req('PUT', `${path}/web1`, { token: t.adminToken, body: { power_on: true, autoreboot_on: false } });
    const d = t.drivers[0]!;
    const pid = d.machines.get(r.body.id)!.pid;
    const s = await t.req('POST', `${path}/web1/signal`, { token: t.adminToken, body: { signal: 'sendkey', data: 'ctrl-alt-delete' } });
    assert.equal(s.status, 200);
    await until('rebooted', async () => d.machines.has(r.body.id) && d.machines.get(r.body.id)!.pid !== pid);
    await new Promise((res) => setTimeout(res, 50)); // let the stop event land too
    const g = await t.req('GET', `${path}/web1`, { token: t.adminToken });
    assert.equal(g.body.power_on, true);
    assert.equal(d.machines.size, 1);
  } finally {
    await t.close();
  }
});

test('a suspended account cannot create or power on machines', async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    await t.req('POST', path, { token: t.adminToken, body: { name: 'web1' } });
    let r = await t.req('PUT', '/accounts/acme', { token: t.adminToken, body: { suspended: true } });
    assert.equal(r.status, 200);
    assert.equal(r.body.suspended, true);
    r = await t.req('PUT', `${path}/web1`, { token: t.adminToken, body: { power_on: true } });
    assert.equal(r.status, 403);
    r = await t.req('POST', path, { token: t.adminToken, body: { name: 'web2' } });
    assert.equal(r.status, 403);
    r = await t.req('PUT', `${path}/web1`, { token: t.adminToken, body: { cores: 2 } });
    assert.equal(r.status, 200, 'other changes still work');
    await t.req('PUT', '/accounts/acme', { token: t.adminToken, body: { suspended: false } });
    r = await t.req('PUT', `${path}/web1`, { token: t.adminToken, body: { power_on: true } });
    assert.equal(r.status, 200);
    assert.equal(r.body.power_on, true);
  } finally {
    await t.close();
  }
});

test('guards: the last cluster admin stays, too many discs is said plainly, iops_limit is not offered', async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    const mine = await t.req('GET', '/privileges', { token: t.adminToken });
    const admin = mine.body.find((p: { level: string }) => p.level === 'cluster_admin');
    let r = await t.req('DELETE', `/privileges/${admin.id}`, { token: t.adminToken });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { level: ['the last cluster admin cannot be revoked'] });

    const discs = Array.from({ length: 9 }, (_, i) => ({ label: `d${i}`, storage_grade: i === 0 ? 'nope' : 'sata', size: 1024 }));
    r = await t.req('POST', '/accounts/acme/groups/default/vm_create', { token: t.adminToken, body: { virtual_machine: { name: 'many' }, discs } });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { discs: ['at most 8 discs per machine'] });

    await vmCreate(t, 'web1');
    r = await t.req('PUT', `${path}/web1/discs/disc-1`, { token: t.adminToken, body: { iops_limit: 100 } });
    assert.equal(r.status, 400);
    assert.ok(r.body.iops_limit);
  } finally {
    await t.close();
  }
});
