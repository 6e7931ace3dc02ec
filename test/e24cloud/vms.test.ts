// e24cloud's VM routes over the fake driver: create (zone_id as the clients send it, a template, a
// password, an SSH key of the account, `#!` user_data) lands in the caller's home account and default
// group with the template's disc size; list and get give every seed field from real data; the VM is
// the same machine over BigV; rename, the power acts, resize of a running machine (shutdown, apply,
// start: one operation, at its Location, `installing` while it runs, a second resize meanwhile 409)
// and of one that ignores ACPI (forced off after a fractional wait_for); delete 0 keeps the
// volumes, 1 removes them. Refusals are in the envelope and write nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SSH_KEY, freshStore, startTest, until, type TestHangar } from '../helpers.js';
import { snapshot } from '../snapshot.js';
import { e24Tenant, type E24Tenant } from './client.js';
import { e24State } from '../../src/api/e24cloud/vms.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PRICES = { core: 0.01, ramGiB: 0.004, discGiB: { sata: 0.002 }, ipv4: 0.001 };

interface Fx { t: TestHangar; a: E24Tenant; b: E24Tenant; zone: string; tiny: string; keyId: number }

async function withFx(fn: (fx: Fx) => Promise<void>, storeUrl?: string): Promise<void> {
  const t = await startTest({ config: { prices: PRICES }, ...(storeUrl ? { storeUrl } : {}) });
  try {
    const a = await e24Tenant(t, 'acme');
    const b = await e24Tenant(t, 'beta');
    const regions = await a.signed('GET', '/v2/regions');
    assert.equal(regions.status, 200, regions.text);
    const zone = regions.body.regions[0].zones[0];
    assert.match(zone.id, UUID);
    assert.equal(zone.available, true);
    const templates = await a.signed('GET', '/v2/templates');
    const tiny = templates.body.templates.find((x: { label: string }) => /tiny/i.test(x.label));
    assert.deepEqual(tiny.supports, ['password', 'sshkey'], 'tiny has no cloud-init');
    const key = await a.signed('PUT', '/v2/account/sshkey', { name: 'laptop', method: 'upload', content: SSH_KEY });
    assert.equal(key.status, 200, key.text);
    assert.equal(typeof key.body.sshkeys.id, 'number');
    await fn({ t, a, b, zone: zone.id, tiny: tiny.id, keyId: key.body.sshkeys.id });
  } finally {
    await t.close();
  }
}

async function create(fx: Fx, name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await fx.a.signed('PUT', '/v2/virtual-machines', { create_vm: { cpus: 1, ram: 256, zone_id: fx.zone, name, boot_type: 'image', os: fx.tiny, ...extra } });
  assert.equal(r.status, 200, r.text);
  assert.match(r.body.virtual_machine.id, UUID);
  return r.body.virtual_machine.id;
}

const vm = async (fx: Fx, id: string) => {
  const r = await fx.a.signed('GET', `/v2/virtual-machines/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.body.virtual_machine;
};
const inState = (fx: Fx, id: string, state: string, check: (v: any) => boolean = () => true) =>
  until(`${id} ${state}`, async () => { const v = await vm(fx, id); return v.state === state && check(v) ? v : null; }, 10_000);
const act = async (fx: Fx, id: string, verb: string, body?: unknown) => {
  const r = await fx.a.signed('POST', `/v2/virtual-machines/${id}/${verb}`, body);
  assert.equal(r.status, 200, `${verb}: ${r.text}`);
  assert.deepEqual(r.body, { success: true });
};

test('create, read with every seed field, the same VM over BigV, rename, power acts, resize, delete keeping or removing the volumes (SQLite)', async () => {
  await withFx(lifecycle);
});

test('create, read with every seed field, the same VM over BigV, rename, power acts, resize, delete keeping or removing the volumes (PostgreSQL)', async (ctx) => {
  if (!process.env.HANGAR_TEST_DATABASE_URL) {
    ctx.skip('set HANGAR_TEST_DATABASE_URL=postgres://user@host/db to run the e24cloud VM lifecycle on PostgreSQL');
    return;
  }
  const store = await freshStore({ postgres: true });
  try {
    await withFx(lifecycle, store.url);
  } finally {
    await store.drop();
  }
});

async function lifecycle(fx: Fx): Promise<void> {
  const { t, a } = fx;
  const id = await create(fx, 'Web server #1', { password: 'root-pw-123', key_id: fx.keyId, user_data: '#!/bin/sh\necho hello > /root/mark\n' });
  // Right after the create: installing while its operation runs (then offline until the guest runs).
  const first = await vm(fx, id);
  assert.ok(['installing', 'offline', 'online'].includes(first.state), first.state);
  const v = await inState(fx, id, 'online');
  assert.equal(v.label, 'Web server #1');
  assert.equal(v.cores, 1);
  assert.equal(v.ram, 256);
  assert.equal(v.adm, false);
  assert.equal(v.system.id, fx.tiny);
  assert.equal(v.owner.name, 'acme');
  assert.match(v.owner.id, UUID);
  assert.equal(v.zone.id, fx.zone);
  assert.deepEqual(v.storage_volumes.map((s: any) => [s.size, s.system_disk]), [[1, true]], 'the template\'s default disc size (1 GiB)');
  assert.match(v.storage_volumes[0].id, UUID);
  assert.ok(v.public_interface.primary_ip_ipv4address);
  assert.equal(v.public_interface.ipv4_addresses[0].ipv4_address, v.public_interface.primary_ip_ipv4address);
  assert.match(v.public_interface.ipv4_addresses[0].id, UUID);
  assert.equal(typeof v.networks[0].id, 'number');
  assert.match(v.networks[0].mac_address, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  assert.deepEqual(v.groups.map((g: any) => g.name), ['default']);
  // 1 core, 0.25 GiB, 1 GiB of sata, one IPv4 address.
  assert.equal(v.cost_per_hour, 0.014);
  assert.ok(v.transfer_used === null || typeof v.transfer_used === 'number');
  const list = await a.signed('GET', '/v2/virtual-machines');
  assert.deepEqual(list.body.virtual_machines.map((x: any) => x.id), [id]);
  assert.deepEqual(list.body.virtual_machines[0], v);
  // The same machine over BigV: its name derived from the label, same size, running.
  const bigv = await t.req('GET', '/accounts/acme/groups/default/virtual_machines?view=overview', { token: a.token });
  const same = bigv.body.find((x: any) => x.name === 'web-server-1');
  assert.ok(same, bigv.text);
  assert.equal(same.cores, 1);
  assert.equal(same.memory, 256);
  assert.equal(same.power_on, true);
  assert.equal(same.discs[0].size, 1024);
  assert.equal(same.network_interfaces[0].mac, v.networks[0].mac_address);
  assert.ok(same.network_interfaces[0].ips.includes(v.public_interface.primary_ip_ipv4address));
  const firstboot = await t.running.hangar.db.selectFrom('operations').select(['kind', 'dialect']).where('vm_id', '=', same.id).execute();
  assert.ok(firstboot.some((o) => o.kind === 'reimage' && o.dialect === 'e24'), 'the image written by an e24 operation');

  await act(fx, id, 'rename', { name: 'Web server (prod)' });
  assert.equal((await vm(fx, id)).label, 'Web server (prod)');
  assert.equal((await t.req('GET', `/accounts/acme/groups/default/virtual_machines/web-server-1`, { token: a.token })).status, 200, 'BigV name unchanged');

  await act(fx, id, 'reboot');
  await inState(fx, id, 'online');
  await act(fx, id, 'reset');
  await inState(fx, id, 'online');
  await act(fx, id, 'shutdown', { wait_for: 0.01 });
  await inState(fx, id, 'offline');
  await act(fx, id, 'poweron');
  await inState(fx, id, 'online');
  await act(fx, id, 'poweroff');
  await inState(fx, id, 'offline');
  await act(fx, id, 'resize', { cores: 2, ram: 512 });
  const off = await vm(fx, id);
  assert.deepEqual([off.cores, off.ram, off.state], [2, 512, 'offline'], 'an offline machine is resized at once and stays off');
  await act(fx, id, 'poweron');
  await inState(fx, id, 'online');
  // A running machine: shut down, resized, started again.
  await act(fx, id, 'resize', { cores: 3, ram: 768, wait_for: 0.05 });
  await inState(fx, id, 'online', (x) => x.cores === 3 && x.ram === 768);

  // A guest that ignores ACPI is forced off after wait_for (3 s here), then resized and started.
  // It is one operation (Location), shown as installing while it runs; a second resize meanwhile is 409 naming it.
  for (const d of t.drivers) d.acpi = false;
  const before = Date.now();
  const resizing = await a.signed('POST', `/v2/virtual-machines/${id}/resize`, { cores: 1, wait_for: 0.05 });
  assert.deepEqual([resizing.status, resizing.body], [200, { success: true }], resizing.text);
  const location = String(resizing.headers.location);
  assert.match(location, /^\/operations\/[0-9a-f-]{36}$/);
  assert.equal((await vm(fx, id)).state, 'installing');
  const again = await a.signed('POST', `/v2/virtual-machines/${id}/resize`, { cores: 2 });
  assert.deepEqual([again.status, again.body.code, again.body.success], [409, 'conflict', false], again.text);
  assert.ok(again.body.error.includes(location.split('/')[2]!), again.text);
  const followed = await t.req('GET', `${location}?wait=20`, { token: a.token });
  assert.deepEqual([followed.body.kind, followed.body.state, followed.body.steps.map((s: any) => s.kind)], ['vm.resize', 'done', ['vm.power.shutdown', 'vm.power.start']]);
  await inState(fx, id, 'online', (x) => x.cores === 1);
  assert.ok(Date.now() - before >= 2500, 'waited for wait_for before forcing');
  const forced = await t.running.hangar.db.selectFrom('operations').select(['result']).where('vm_id', '=', same.id).where('kind', '=', 'vm.power.shutdown').orderBy('id', 'desc').executeTakeFirstOrThrow();
  assert.match(String(forced.result), /"forced":true/);
  for (const d of t.drivers) d.acpi = true;

  const vnc = await a.signed('POST', `/v2/virtual-machines/${id}/console`);
  assert.equal(vnc.status, 200, vnc.text);
  assert.match(vnc.body.console.password, /^[A-Za-z0-9]{8}$/);

  // Delete with 0 (and with no body, as the clients send it): the volumes stay, held by the account.
  const disc = v.storage_volumes[0].id;
  const del = await a.signed('DELETE', `/v2/virtual-machines/${id}`);
  assert.equal(del.status, 200, del.text);
  assert.equal((await a.signed('GET', `/v2/virtual-machines/${id}`)).status, 404);
  const kept = await t.running.hangar.db.selectFrom('discs').select(['vm_id', 'account_id']).where('uuid', '=', disc).executeTakeFirst();
  assert.equal(kept?.vm_id, null);
  assert.equal(kept?.account_id, fx.a.accountId);
  // Both are listed as the account's, with no VM; each can be released (the volume's file removed).
  const held = (await a.signed('GET', `/v2/storage-volumes/${disc}`)).body.storage_volume;
  assert.deepEqual([held.owner.name, held.virtual_machine, held.size], ['acme', undefined, 1]);
  const ip = v.public_interface.ipv4_addresses[0];
  const heldIp = (await a.signed('GET', '/v2/ipv4-addresses')).body.ipv4_addresses.find((x: any) => x.id === ip.id);
  assert.deepEqual([heldIp?.ipv4_address, heldIp?.virtual_machine], [ip.ipv4_address, undefined]);
  assert.equal((await fx.b.signed('GET', `/v2/ipv4-addresses/${ip.id}`)).status, 404, 'not another tenant\'s');
  assert.equal((await fx.b.signed('DELETE', `/v2/ipv4-addresses/${ip.id}`)).status, 404);
  assert.equal((await fx.b.signed('DELETE', `/v2/storage-volumes/${disc}`)).status, 404);
  assert.equal((await a.signed('DELETE', `/v2/storage-volumes/${disc}`)).status, 200);
  assert.equal((await a.signed('GET', `/v2/storage-volumes/${disc}`)).status, 404);
  // The held address attaches to another VM of the account as an extra address, and detaches back.
  const other = await create(fx, 'other');
  const ov = await inState(fx, other, 'online');
  assert.equal((await fx.b.signed('POST', `/v2/ipv4-addresses/${ip.id}/attach`, { virtual_machine_id: other })).status, 404);
  const attached = await a.signed('POST', `/v2/ipv4-addresses/${ip.id}/attach`, { virtual_machine_id: other });
  assert.equal(attached.status, 200, attached.text);
  assert.deepEqual((await vm(fx, other)).public_interface.ipv4_addresses.map((x: any) => x.ipv4_address), [ov.public_interface.primary_ip_ipv4address, ip.ipv4_address]);
  assert.equal((await a.signed('GET', `/v2/ipv4-addresses/${ip.id}`)).body.ipv4_address.virtual_machine.id, other);
  const primary = ov.public_interface.ipv4_addresses[0].id;
  assert.equal((await a.signed('POST', `/v2/ipv4-addresses/${primary}/detach`)).status, 409, 'a primary address goes only with its VM');
  assert.equal((await a.signed('POST', `/v2/ipv4-addresses/${ip.id}/detach`)).status, 200);
  assert.equal((await a.signed('GET', `/v2/ipv4-addresses/${ip.id}`)).body.ipv4_address.virtual_machine, undefined);
  assert.equal((await a.signed('DELETE', `/v2/virtual-machines/${other}`, { deleteResources: 1 })).status, 200);
  assert.equal((await a.signed('DELETE', `/v2/ipv4-addresses/${ip.id}`)).status, 200);
  assert.equal((await a.signed('GET', `/v2/ipv4-addresses/${ip.id}`)).status, 404, 'back in the pool');
  const pooled = await t.running.hangar.db.selectFrom('ips').select(['account_id', 'nic_id']).where('address', '=', ip.ipv4_address).executeTakeFirstOrThrow();
  assert.deepEqual([pooled.account_id, pooled.nic_id], [null, null]);
  // A new address for the account, with no VM.
  assert.equal((await a.signed('PUT', '/v2/ipv4-addresses', { zone_id: '00000000-0000-4000-8000-000000000000' })).body.field, 'zone_id');
  const fresh = await a.signed('PUT', '/v2/ipv4-addresses', { zone_id: fx.zone });
  assert.equal(fresh.status, 200, fresh.text);
  assert.deepEqual([fresh.body.ipv4_address.owner.name, fresh.body.ipv4_address.virtual_machine], ['acme', undefined]);
  assert.equal((await fx.b.signed('GET', `/v2/ipv4-addresses/${fresh.body.ipv4_address.id}`)).status, 404);
  assert.equal((await a.signed('DELETE', `/v2/ipv4-addresses/${fresh.body.ipv4_address.id}`)).status, 200);
  // Delete with 1: gone with its volumes.
  const id2 = await create(fx, 'second');
  const v2 = await inState(fx, id2, 'online');
  assert.equal((await a.signed('DELETE', `/v2/virtual-machines/${id2}`, { deleteResources: 1 })).status, 200);
  assert.equal(await t.running.hangar.db.selectFrom('discs').select('id').where('uuid', '=', v2.storage_volumes[0].id).executeTakeFirst(), undefined);
}

test('refusals in the envelope: unsupported template features, unknown templates and zones, malformed bodies, unknown ids, another tenant\'s VM; nothing written', async () => {
  await withFx(async (fx) => {
    const { t, a, b } = fx;
    const id = await create(fx, 'mine');
    await inState(fx, id, 'online');
    const before = await snapshot(t);
    const bad = async (method: string, url: string, body: unknown, status: number, field?: string, o: { raw?: string; by?: E24Tenant } = {}) => {
      const r = await (o.by ?? a).signed(method, url, body, o.raw !== undefined ? { raw: o.raw } : {});
      assert.equal(r.status, status, `${method} ${url}: ${r.text}`);
      assert.equal(r.body.success, false, r.text);
      assert.equal(typeof r.body.error, 'string');
      if (field) assert.equal(r.body.field, field, r.text);
    };
    const base = { cpus: 1, ram: 256, zone_id: fx.zone, name: 'x', os: fx.tiny };
    await bad('PUT', '/v2/virtual-machines', { create_vm: { ...base, user_data: '#cloud-config\nruncmd: [ls]\n' } }, 400, 'user_data');
    await bad('PUT', '/v2/virtual-machines', { create_vm: { ...base, os: '00000000-0000-4000-8000-000000000000' } }, 400, 'os');
    await bad('PUT', '/v2/virtual-machines', { create_vm: { ...base, zone_id: '00000000-0000-4000-8000-000000000000' } }, 400, 'compute_zone_id');
    await bad('PUT', '/v2/virtual-machines', { create_vm: { ...base, os: undefined } }, 400, 'os');
    await bad('PUT', '/v2/virtual-machines', { create_vm: { ...base, cpus: 999 } }, 400, 'cpus');
    await bad('PUT', '/v2/virtual-machines', { create_vm: { ...base, key_id: 999999 } }, 404);
    await bad('PUT', '/v2/virtual-machines', { create_vm: { ...base, colour: 'red' } }, 400, 'create_vm.colour');
    await bad('PUT', '/v2/virtual-machines', { create_vm: { ...base, cpus: '1' } }, 400, 'create_vm.cpus');
    await bad('PUT', '/v2/virtual-machines', {}, 400, 'create_vm');
    await bad('PUT', '/v2/virtual-machines', undefined, 400, 'body', { raw: '{"create_vm": ' });
    await bad('PUT', '/v2/virtual-machines', undefined, 400, undefined, { raw: '{"__proto__": {"x": 1}}' });
    await bad('POST', `/v2/virtual-machines/${id}/resize`, { cores: 0 }, 400, 'cores');
    await bad('POST', `/v2/virtual-machines/${id}/shutdown`, { wait_for: -1 }, 400, 'wait_for');
    await bad('POST', `/v2/virtual-machines/${id}/rename`, { name: '' }, 400, 'name');
    await bad('DELETE', `/v2/virtual-machines/${id}`, { deleteResources: 2 }, 400, 'deleteResources');
    await bad('GET', '/v2/virtual-machines/00000000-0000-4000-8000-000000000000', undefined, 404);
    await bad('GET', '/v2/virtual-machines/1', undefined, 404);
    await bad('GET', '/v2/no-such-thing', undefined, 404);
    await bad('POST', '/v2/vlans/1/attach', { virtual_machine_id: id }, 501);
    // Another tenant's VM is not found, for every act.
    for (const [method, url, body] of [
      ['GET', `/v2/virtual-machines/${id}`, undefined], ['POST', `/v2/virtual-machines/${id}/poweroff`, undefined],
      ['POST', `/v2/virtual-machines/${id}/resize`, { cores: 2 }], ['POST', `/v2/virtual-machines/${id}/rename`, { name: 'x' }],
      ['POST', `/v2/virtual-machines/${id}/console`, undefined], ['DELETE', `/v2/virtual-machines/${id}`, { deleteResources: 1 }],
    ] as const) await bad(method, url, body, 404, undefined, { by: b });
    assert.deepEqual((await b.signed('GET', '/v2/virtual-machines')).body.virtual_machines, []);
    assert.deepEqual((await b.signed('GET', '/v2/storage-volumes')).body.storage_volumes, []);
    assert.deepEqual((await b.signed('GET', '/v2/ipv4-addresses')).body.ipv4_addresses, []);
    const v = await vm(fx, id);
    await bad('GET', `/v2/storage-volumes/${v.storage_volumes[0].id}`, undefined, 404, undefined, { by: b });
    await bad('DELETE', `/v2/storage-volumes/${v.storage_volumes[0].id}`, undefined, 404, undefined, { by: b });
    await bad('GET', `/v2/ipv4-addresses/${v.public_interface.ipv4_addresses[0].id}`, undefined, 404, undefined, { by: b });
    await bad('DELETE', `/v2/ipv4-addresses/${v.public_interface.ipv4_addresses[0].id}`, undefined, 404, undefined, { by: b });
    assert.deepEqual(await snapshot(t), before, 'nothing written');
    // The owner sees them.
    assert.equal((await a.signed('GET', `/v2/storage-volumes/${v.storage_volumes[0].id}`)).body.storage_volume.system_disk, true);
    assert.equal((await a.signed('GET', `/v2/ipv4-addresses/${v.public_interface.ipv4_addresses[0].id}`)).body.ipv4_address.virtual_machine.id, id);
  });
});

test('state: installing while a create or image write runs, deleting while a purge runs, else the observed run state', () => {
  const view = (runState: string) => ({ row: { run_state: runState, deleted: 0 } }) as unknown as Parameters<typeof e24State>[0];
  assert.equal(e24State(view('stopped'), ['vm.create']), 'installing');
  assert.equal(e24State(view('running'), ['reimage']), 'installing');
  assert.equal(e24State(view('running'), ['purge']), 'deleting');
  assert.equal(e24State(view('running'), ['vm.power.shutdown']), 'online');
  assert.equal(e24State(view('stopped'), ['vm.resize', 'vm.power.shutdown', 'vm.power.start']), 'installing');
  assert.equal(e24State(view('stopped'), []), 'offline');
});
