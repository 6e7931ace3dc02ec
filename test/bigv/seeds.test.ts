// The user's spec, seeds 000-002 (the BigV "Virtual Machines" pages): every example request with
// its documented response. Each test sends the request as the docs' curl does (with
// `Content-type: application/json` even on GET and DELETE) and checks the documented status, the
// exact `Content-Type`, every documented attribute with its JSON type, and the values the example
// shows. The cluster domain is the docs' `uk0.bigv.io`, so hostnames match the examples exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { account, SSH_KEY, startTest, until, type Reply, type TestHangar } from '../helpers.js';

const ACC = 'myaccountname';
const GROUP = `/accounts/${ACC}/groups/default`;
const VMS = `${GROUP}/virtual_machines`;
const CURL = { 'content-type': 'application/json' };

type Kind = 'integer' | 'boolean' | 'string' | 'null' | 'ip' | 'string|null' | 'array' | 'object';

/** The attributes of the documented VM examples (seed 000 and 002), with their JSON types. */
const VM_DOC: Record<string, Kind> = {
  autoreboot_on: 'boolean', cdrom_url: 'null', cores: 'integer', group_id: 'integer', id: 'integer',
  management_address: 'ip', memory: 'integer', name: 'string', power_on: 'boolean', keymap: 'null',
  deleted: 'boolean', hostname: 'string', head: 'string', hardware_profile: 'string', hardware_profile_locked: 'boolean',
};
/** Read-only attributes seed 001/002 add to the list. */
const VM_DOC_EXTRA: Record<string, Kind> = { zone_name: 'string', last_imaged_with: 'string|null' };
const DISC: Record<string, Kind> = {
  id: 'integer', label: 'string', size: 'integer', storage_grade: 'string', storage_pool: 'string', virtual_machine_id: 'integer', type: 'string',
};
const NIC: Record<string, Kind> = {
  id: 'integer', mac: 'string', vlan_num: 'integer', ips: 'array', extra_ips: 'object', virtual_machine_id: 'integer', type: 'string',
};
const GROUP_DOC: Record<string, Kind> = { id: 'integer', account_id: 'integer', name: 'string' };
const ACCOUNT_DOC: Record<string, Kind> = { id: 'integer', name: 'string', suspended: 'boolean' };

function typeOk(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'integer': return Number.isInteger(v);
    case 'boolean': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    case 'null': return v === null;
    case 'ip': return typeof v === 'string' && net.isIP(v) !== 0;
    case 'string|null': return v === null || typeof v === 'string';
    case 'array': return Array.isArray(v);
    case 'object': return typeof v === 'object' && v !== null && !Array.isArray(v);
  }
}

/** Every documented attribute is present with its documented JSON type. */
function shape(what: string, obj: Record<string, unknown>, spec: Record<string, Kind>): void {
  assert.equal(typeof obj, 'object', `${what} is an object`);
  assert.ok(!Array.isArray(obj), `${what} is an object, not an array`);
  for (const [key, kind] of Object.entries(spec)) {
    assert.ok(key in obj, `${what}: attribute ${key} is present`);
    assert.ok(typeOk(kind, obj[key]), `${what}: ${key} should be ${kind}, got ${JSON.stringify(obj[key])}`);
  }
}

/** A VM in overview form: documented attributes, plus discs and NICs with integer ids and IP strings. */
function overviewVm(what: string, vm: Record<string, any>): void {
  shape(what, vm, { ...VM_DOC, ...VM_DOC_EXTRA, head: 'string|null', cdrom_url: 'string|null', keymap: 'string|null' });
  assert.ok(Array.isArray(vm.discs), `${what}: discs`);
  vm.discs.forEach((d: Record<string, unknown>, i: number) => shape(`${what} disc ${i}`, d, DISC));
  assert.ok(vm.network_interfaces.length >= 1, `${what}: at least one NIC`);
  vm.network_interfaces.forEach((n: Record<string, any>, i: number) => {
    shape(`${what} nic ${i}`, n, NIC);
    for (const ip of n.ips) assert.ok(net.isIP(ip), `${what} nic ${i}: ${ip} is an IP`);
  });
}

/** Status as documented and `Content-Type` exactly `application/json` (bigv-python parses nothing else). */
function json(r: Reply, status: number): any {
  assert.equal(r.status, status, `status ${r.status}: ${r.text}`);
  assert.equal(r.headers['content-type'], 'application/json');
  return r.body;
}

/** A 4xx in BigV's shape: JSON, and for a 400 a map from attribute to messages. */
function bigvError(r: Reply, status: number, field?: string): any {
  const body = json(r, status);
  assert.equal(typeof body, 'object');
  if (status === 400) {
    for (const [k, v] of Object.entries(body)) {
      assert.ok(typeof v === 'string' || (Array.isArray(v) && v.every((m) => typeof m === 'string')), `${k}: ${JSON.stringify(v)}`);
    }
    if (field) assert.ok(Array.isArray(body[field]) && body[field].length > 0, `a message for ${field}: ${r.text}`);
  } else {
    assert.equal(typeof body.error, 'string');
  }
  return body;
}

interface World { t: TestHangar; accountId: number; groupId: number; get(url: string, token?: string): Promise<Reply> }

/** A cluster with the docs' names: account `myaccountname`, domain `uk0.bigv.io`. */
async function world(): Promise<World> {
  const t = await startTest({ config: { clusterDomain: 'uk0.bigv.io' } });
  const a = await account(t, ACC);
  return {
    t, accountId: a.id, groupId: a.defaultGroupId,
    get: (url, token = t.adminToken) => t.req('GET', url, { token, headers: CURL }),
  };
}

/** A running imaged VM like the docs' `www1` (1 core, 1024 MiB, autoreboot on). */
async function www1(w: World, name = 'www1'): Promise<number> {
  const r = await w.t.req('POST', `${GROUP}/vm_create`, {
    token: w.t.adminToken,
    body: {
      virtual_machine: { name, cores: 1, memory: 1024, autoreboot_on: true },
      discs: [{ label: 'disc-1', storage_grade: 'sata', size: 25600 }],
      reimage: { distribution: 'tiny', root_password: 'pw', ssh_public_key: SSH_KEY },
    },
  });
  const id = json(r, 202).virtual_machine.id;
  await until(`${name} running`, async () => (await w.get(`${VMS}/${id}`)).body.state === 'running');
  return id;
}

/** The example VM of seed 000/002, with the values that do not depend on this cluster. */
const WWW1 = {
  autoreboot_on: true, cdrom_url: null, cores: 1, memory: 1024, name: 'www1', power_on: true, keymap: null, deleted: false,
  hostname: `www1.default.${ACC}.uk0.bigv.io`, hardware_profile: 'virtio2013', hardware_profile_locked: false,
};
function pick(obj: Record<string, unknown>, keys: string[]) {
  return Object.fromEntries(keys.map((k) => [k, obj[k]]));
}

test('seed 000/002: GET .../groups/default/virtual_machines lists the documented attributes', async () => {
  const w = await world();
  try {
    const id = await www1(w);
    const list = json(await w.get(VMS), 200);
    assert.ok(Array.isArray(list));
    assert.equal(list.length, 1);
    const vm = list[0];
    shape('listed VM', vm, { ...VM_DOC, ...VM_DOC_EXTRA });
    assert.deepEqual(pick(vm, Object.keys(WWW1)), WWW1);
    assert.equal(vm.id, id);
    assert.equal(vm.group_id, w.groupId);
    assert.equal(vm.head, 'head1');
    assert.equal(vm.zone_name, 'default');
    assert.equal(vm.last_imaged_with, 'tiny');
    assert.ok(!('discs' in vm), 'children only with view=overview');
    // With view=overview the same list embeds discs and NICs.
    const over = json(await w.get(`${VMS}?view=overview`), 200);
    overviewVm('overview VM', over[0]);
    assert.equal(over[0].discs[0].size, 25600);
  } finally {
    await w.t.close();
  }
});

test('seed 000/002: GET .../virtual_machines/{id} returns the one VM', async () => {
  const w = await world();
  try {
    const id = await www1(w);
    // Both doc pages print this response wrapped in `[...]`, a copy of the list example. The
    // clients decode a single object (bytemark-client into brain.VirtualMachine, docker-machine
    // likewise), so an object is the right answer; the array is a documentation slip.
    for (const segment of [String(id), 'www1']) {
      const vm = json(await w.get(`${VMS}/${segment}`), 200);
      shape(`GET by ${segment}`, vm, { ...VM_DOC, ...VM_DOC_EXTRA });
      assert.deepEqual(pick(vm, Object.keys(WWW1)), WWW1);
      assert.equal(vm.id, id);
    }
    bigvError(await w.get(`${VMS}/999999`), 404);
  } finally {
    await w.t.close();
  }
});

test('seed 002: PUT {"power_on":false,"autoreboot_on":false} stops the VM and answers with it (head null)', async () => {
  const w = await world();
  try {
    const id = await www1(w, 'myserver1');
    const r = await w.t.req('PUT', `${VMS}/${id}`, { token: w.t.adminToken, raw: '{"power_on":false,"autoreboot_on":false}', headers: CURL });
    const vm = json(r, 200);
    // The documented response: a stopped VM is on no head, so `head` is null.
    shape('PUT response', vm, { ...VM_DOC, ...VM_DOC_EXTRA, head: 'null' });
    assert.deepEqual(pick(vm, ['autoreboot_on', 'cdrom_url', 'cores', 'memory', 'name', 'power_on', 'keymap', 'deleted', 'hostname', 'head', 'hardware_profile', 'hardware_profile_locked']), {
      autoreboot_on: false, cdrom_url: null, cores: 1, memory: 1024, name: 'myserver1', power_on: false, keymap: null, deleted: false,
      hostname: `myserver1.default.${ACC}.uk0.bigv.io`, head: null, hardware_profile: 'virtio2013', hardware_profile_locked: false,
    });
    assert.equal(vm.id, id);
    assert.equal(vm.group_id, w.groupId);
    await until('machine stopped on the head', async () => !w.t.drivers[0]!.machines.has(id));
    assert.equal(json(await w.get(`${VMS}/${id}`), 200).power_on, false, 'and it stays off');
  } finally {
    await w.t.close();
  }
});

test('seed 000-002: DELETE answers 204; the VM is then only shown with include_deleted=true', async () => {
  const w = await world();
  try {
    const id = await www1(w, 'myserver1');
    const r = await w.t.req('DELETE', `${VMS}/${id}`, { token: w.t.adminToken, headers: CURL });
    assert.equal(r.status, 204);
    assert.equal(r.text, '');
    await until('taken down', async () => !w.t.drivers[0]!.machines.has(id));

    assert.deepEqual(json(await w.get(VMS), 200), [], 'hidden from the list');
    bigvError(await w.get(`${VMS}/${id}`), 404);
    const listed = json(await w.get(`${VMS}?include_deleted=true`), 200);
    assert.equal(listed.length, 1);
    shape('deleted VM', listed[0], { ...VM_DOC, ...VM_DOC_EXTRA, head: 'null' });
    assert.equal(listed[0].deleted, true);
    assert.equal(listed[0].power_on, false, 'taken down');
    assert.equal(json(await w.get(`${VMS}/${id}?include_deleted=true`), 200).deleted, true);

    // "Or if you are using the overview parameter in accounts".
    const without = json(await w.get('/accounts?view=overview'), 200);
    assert.deepEqual(without[0].groups[0].virtual_machines, []);
    const withDeleted = json(await w.get('/accounts?view=overview&include_deleted=true'), 200);
    assert.deepEqual(withDeleted[0].groups[0].virtual_machines.map((v: any) => [v.id, v.deleted]), [[id, true]]);

    // "It can be undeleted by setting deleted back to false".
    const back = json(await w.t.req('PUT', `${VMS}/${id}`, { token: w.t.adminToken, raw: '{"deleted":false}' }), 200);
    assert.equal(back.deleted, false);
    assert.equal(json(await w.get(VMS), 200).length, 1);
  } finally {
    await w.t.close();
  }
});

test('seed 000/002: GET /accounts?view=overview embeds groups, VMs, discs and NICs', async () => {
  const w = await world();
  try {
    const id = await www1(w);
    const plain = json(await w.get('/accounts'), 200);
    assert.equal(plain.length, 1);
    shape('account', plain[0], ACCOUNT_DOC);
    assert.deepEqual(pick(plain[0], ['id', 'name', 'suspended']), { id: w.accountId, name: ACC, suspended: false });
    assert.ok(!('groups' in plain[0]), 'groups only with view=overview');

    for (const url of ['/accounts?view=overview', `/accounts/${ACC}?view=overview`]) {
      const body = json(await w.get(url), 200);
      const acc = Array.isArray(body) ? body[0] : body;
      shape(url, acc, ACCOUNT_DOC);
      assert.equal(acc.groups.length, 1);
      const g = acc.groups[0];
      shape(`${url} group`, g, GROUP_DOC);
      assert.deepEqual(pick(g, ['id', 'account_id', 'name']), { id: w.groupId, account_id: w.accountId, name: 'default' });
      assert.equal(g.virtual_machines.length, 1);
      overviewVm(`${url} VM`, g.virtual_machines[0]);
      assert.equal(g.virtual_machines[0].id, id);
      assert.deepEqual(pick(g.virtual_machines[0], Object.keys(WWW1)), WWW1);
    }
  } finally {
    await w.t.close();
  }
});

test('seed 001/002: DELETE ?purge=true removes a live or deleted VM for good, frees its name and IPs', async () => {
  const w = await world();
  try {
    const id = await www1(w);
    const before = json(await w.get(`${VMS}/${id}?view=overview`), 200).network_interfaces[0].ips;
    let r = await w.t.req('DELETE', `${VMS}/${id}?purge=true`, { token: w.t.adminToken, headers: CURL });
    assert.equal(r.status, 204);
    assert.equal(r.text, '');
    assert.deepEqual(json(await w.get(`${VMS}?include_deleted=true`), 200), [], 'gone even with include_deleted');
    bigvError(await w.get(`${VMS}/${id}?include_deleted=true`), 404);
    await until('discs destroyed', async () => w.t.drivers[0]!.discs.size === 0);

    // The name can be re-used and the address went back to the pool.
    const again = await www1(w);
    assert.notEqual(again, id);
    assert.deepEqual(json(await w.get(`${VMS}/${again}?view=overview`), 200).network_interfaces[0].ips, before);

    // Purging an already deleted VM.
    r = await w.t.req('DELETE', `${VMS}/${again}`, { token: w.t.adminToken, headers: CURL });
    assert.equal(r.status, 204);
    r = await w.t.req('DELETE', `${VMS}/${again}?purge=true`, { token: w.t.adminToken, headers: CURL });
    assert.equal(r.status, 204);
    assert.deepEqual(json(await w.get(`${VMS}?include_deleted=true`), 200), []);
  } finally {
    await w.t.close();
  }
});

test('seed 001/002: PUT group_id moves a powered-off VM to another group, in any account, with the rules', async () => {
  const w = await world();
  try {
    const { t } = w;
    const id = await www1(w);
    const shop = json(await t.req('POST', `/accounts/${ACC}/groups`, { token: t.adminToken, body: { name: 'shop' } }), 201);
    const beta = await account(t, 'beta');
    const put = (body: unknown, token = t.adminToken, vm: string | number = id, group = 'default', acc = ACC) =>
      t.req('PUT', `/accounts/${acc}/groups/${group}/virtual_machines/${vm}`, { token, body, headers: CURL });

    // "Currently, the virtual machine must be powered off."
    bigvError(await put({ group_id: shop.id }), 400, 'group_id');
    assert.equal(json(await w.get(`${VMS}/${id}`), 200).group_id, w.groupId, 'not moved');

    // A plain rename sends the current group_id too (bytemark-client always does): fine while on.
    let vm = json(await put({ name: 'www2', group_id: w.groupId }), 200);
    assert.equal(vm.hostname, `www2.default.${ACC}.uk0.bigv.io`);
    assert.equal(vm.power_on, true);

    json(await put({ power_on: false, autoreboot_on: false }, t.adminToken, id), 200);
    vm = json(await put({ group_id: shop.id }), 200);
    assert.equal(vm.group_id, shop.id);
    assert.equal(vm.hostname, `www2.shop.${ACC}.uk0.bigv.io`, 'the hostname follows the group');
    bigvError(await w.get(`${VMS}/${id}`), 404);
    assert.equal(json(await w.get(`/accounts/${ACC}/groups/shop/virtual_machines/${id}`), 200).name, 'www2');

    // Into another account, renaming on the way.
    vm = json(await put({ name: 'www3', group_id: beta.defaultGroupId }, t.adminToken, id, 'shop'), 200);
    assert.equal(vm.group_id, beta.defaultGroupId);
    assert.equal(vm.hostname, 'www3.default.beta.uk0.bigv.io');

    // "The requester must be at least a group administrator for both groups."
    const carol = await t.user('carol', { level: 'group_admin', group_id: beta.defaultGroupId });
    // carol administers the VM's group but holds nothing on `shop`: to her it is not a group at all.
    bigvError(await put({ group_id: shop.id }, carol, id, 'default', 'beta'), 400, 'group_id');
    const seen = await makeVm(w, 'shop', 'seen');
    await t.req('POST', '/users/carol/privileges', { token: t.adminToken, body: { level: 'vm_console', virtual_machine_id: seen.id } });
    // Now she can see `shop` (through a vm_console there) but is not its group admin: 403.
    bigvError(await put({ group_id: shop.id }, carol, id, 'default', 'beta'), 403);
    assert.equal(json(await w.get(`/accounts/beta/groups/default/virtual_machines/${id}`), 200).group_id, beta.defaultGroupId, 'not moved');

    // "If one of the groups is associated with a private VLAN, the second group must be associated with the same private VLAN."
    await t.running.hangar.db.updateTable('groups').set({ vlan_num: 42 }).where('id', '=', shop.id).execute();
    bigvError(await put({ group_id: shop.id }, t.adminToken, id, 'default', 'beta'), 400, 'group_id');
    await t.running.hangar.db.updateTable('groups').set({ vlan_num: 42 }).where('id', '=', beta.defaultGroupId).execute();
    vm = json(await put({ group_id: shop.id }, t.adminToken, id, 'default', 'beta'), 200);
    assert.equal(vm.group_id, shop.id);
  } finally {
    await w.t.close();
  }
});

async function makeVm(w: World, group: string, name: string, acc = ACC) {
  return json(await w.t.req('POST', `/accounts/${acc}/groups/${group}/virtual_machines`, { token: w.t.adminToken, body: { name }, headers: CURL }), 202);
}

test('seed 001/002: non-nested GET /virtual_machines with ?account_id= and ?group_id=, and /virtual_machines/{id}', async () => {
  const w = await world();
  try {
    const { t } = w;
    const a = await makeVm(w, 'default', 'a1');
    json(await t.req('POST', `/accounts/${ACC}/groups`, { token: t.adminToken, body: { name: 'shop' } }), 201);
    const s = await makeVm(w, 'shop', 's1');
    const beta = await account(t, 'beta');
    const b = await makeVm(w, 'default', 'b1', 'beta');
    const gone = await makeVm(w, 'default', 'gone');
    assert.equal((await t.req('DELETE', `${VMS}/gone`, { token: t.adminToken })).status, 204);
    const ids = (r: Reply) => json(r, 200).map((v: any) => v.id).sort((x: number, y: number) => x - y);

    assert.deepEqual(ids(await w.get('/virtual_machines')), [a.id, s.id, b.id]);
    assert.deepEqual(ids(await w.get('/virtual_machines?include_deleted=true')), [a.id, s.id, b.id, gone.id]);
    assert.deepEqual(ids(await w.get(`/virtual_machines?account_id=${w.accountId}`)), [a.id, s.id], 'account by id');
    assert.deepEqual(ids(await w.get(`/virtual_machines?account_id=${ACC}`)), [a.id, s.id], 'account by name');
    assert.deepEqual(ids(await w.get(`/virtual_machines?group_id=${w.groupId}`)), [a.id], 'group by id');
    assert.deepEqual(ids(await w.get(`/virtual_machines?group_id=${beta.defaultGroupId}`)), [b.id]);
    // "Replace {group-id} with the group id or name (or default if you don't use groups!)".
    assert.deepEqual(ids(await w.get(`/virtual_machines?account_id=${ACC}&group_id=default`)), [a.id], 'group by name within the account');
    assert.deepEqual(ids(await w.get('/virtual_machines?account_id=beta&group_id=default')), [b.id]);
    assert.deepEqual(ids(await w.get(`/virtual_machines?account_id=beta&group_id=${w.groupId}`)), [], 'both filters apply');

    const list = json(await w.get('/virtual_machines'), 200);
    for (const vm of list) shape('non-nested VM', vm, { ...VM_DOC, ...VM_DOC_EXTRA, head: 'string|null' });
    const one = json(await w.get(`/virtual_machines/${s.id}`), 200);
    overviewVm('GET /virtual_machines/{id}', one);
    assert.equal(one.hostname, `s1.shop.${ACC}.uk0.bigv.io`);
    bigvError(await w.get(`/virtual_machines/${gone.id}`), 404);
    assert.equal(json(await w.get(`/virtual_machines/${gone.id}?include_deleted=true`), 200).deleted, true);

    // A user sees only what they hold privileges on.
    const bob = await t.user('bob', { level: 'vm_console', virtual_machine_id: b.id });
    assert.deepEqual(ids(await w.get('/virtual_machines', bob)), [b.id]);
    assert.deepEqual(ids(await w.get(`/virtual_machines?account_id=${ACC}`, bob)), []);
    bigvError(await w.get(`/virtual_machines/${a.id}`, bob), 404);
  } finally {
    await w.t.close();
  }
});

test('seed 001/002: bare POST .../virtual_machines creates a machine with no disc and no image: 202', async () => {
  const w = await world();
  try {
    const r = await w.t.req('POST', VMS, { token: w.t.adminToken, raw: '{"name":"bare1","cores":2,"memory":2048}', headers: CURL });
    const vm = json(r, 202);
    shape('created VM', vm, { ...VM_DOC, ...VM_DOC_EXTRA, head: 'null' });
    assert.deepEqual(pick(vm, ['name', 'cores', 'memory', 'power_on', 'deleted', 'last_imaged_with', 'hostname', 'group_id']), {
      name: 'bare1', cores: 2, memory: 2048, power_on: false, deleted: false, last_imaged_with: null,
      hostname: `bare1.default.${ACC}.uk0.bigv.io`, group_id: w.groupId,
    });
    assert.deepEqual(vm.discs, [], '"it will not have a disc"');
    assert.equal(vm.network_interfaces.length, 1);
    const listed = json(await w.get(VMS), 200);
    assert.deepEqual(listed.map((v: any) => v.id), [vm.id]);
    bigvError(await w.t.req('POST', VMS, { token: w.t.adminToken, raw: '{"name":"bare1"}', headers: CURL }), 400, 'name');
    bigvError(await w.t.req('POST', VMS, { token: w.t.adminToken, raw: '{"name":"bare2","memory":"lots"}', headers: CURL }), 400, 'memory');
  } finally {
    await w.t.close();
  }
});

test('seed 001/002: read-only attributes sent in a PUT change nothing ("can not be set by the user")', async () => {
  const w = await world();
  try {
    const id = await www1(w);
    const before = json(await w.get(`${VMS}/${id}`), 200);
    const readOnly = {
      id: id + 1000, management_address: '192.0.2.99', hostname: 'evil.default.other.uk0.bigv.io', head: 'head9',
      zone_name: 'manchester', last_imaged_with: 'wheezy',
    };
    const vm = json(await w.t.req('PUT', `${VMS}/${id}`, { token: w.t.adminToken, body: readOnly, headers: CURL }), 200);
    const keys = Object.keys(readOnly);
    assert.deepEqual(pick(vm, keys), pick(before, keys));
    assert.deepEqual(pick(json(await w.get(`${VMS}/${id}`), 200), keys), pick(before, keys));
  } finally {
    await w.t.close();
  }
});
