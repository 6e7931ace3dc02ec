// Replays of the real clients' recorded traffic (../shared/spec/client-traffic/*.txt): every request
// bytemark-client, bigv-python and docker-machine-driver-bytemark made, with the exact headers,
// bodies and quirks they send, against a cluster set up so each request makes sense (account acme,
// users alice and bob, VMs web1 and db1, heads in zones york and manchester). Each step asserts
// the fields that client parses (spec §3 "Fields the clients actually read"), not just the status.
// The recording's stub had its own ids (VM 1, group 5, NIC 11...); the replay uses this cluster's.
// Where the right answer is a clear 4xx, the step says why in a comment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { account, startTest, until, type Reply, type TestHangar } from '../helpers.js';

const HEADS = [{ label: 'head1', zone: 'york' }, { label: 'head2', zone: 'manchester' }];

// ---------------------------------------------------------------------------------------------
// How each client dresses its requests (spec §1).

interface Client { name: string; token: string | null; headers(method: string, hasBody: boolean): Record<string, string> }

/** bytemark-client: Accept and Content-Type JSON on every method (GET and DELETE included). */
const BYTEMARK_HEADERS = { accept: 'application/json', 'content-type': 'application/json', 'user-agent': 'bytemark-client-4.0', connection: 'close' };
const bytemark = (token: string | null): Client => ({ name: 'bytemark-client', token, headers: () => BYTEMARK_HEADERS });

/** docker-machine: bytemark-client 3.5's library, always with an API key. */
const dockerMachine = (apiKey: string): Client => ({
  name: 'docker-machine', token: `apikey.${apiKey}`, headers: () => ({ ...BYTEMARK_HEADERS, 'user-agent': 'bytemark-client-3.5' }),
});

/** bigv-python (requests): no Accept of its own, Content-type only when there is a body. */
const python = (token: string | null): Client => ({
  name: 'bigv-python', token,
  headers: (_m, hasBody) => ({ accept: '*/*', 'user-agent': 'python-requests/2.18', ...(hasBody ? { 'content-type': 'application/json' } : {}) }),
});

// ---------------------------------------------------------------------------------------------
// Replay: a table of recorded requests, each with what the client reads from the answer.

interface Step {
  /** The command (or library call) that made the request, as in the recording. */
  cmd: string;
  /** "METHOD /path?query" as recorded, with this cluster's ids. A function when it needs a value an earlier step returned. */
  req: string | (() => string);
  /** The exact bytes the client sent; absent when it sent no body. */
  body?: string | (() => string);
  status: number;
  /** Sent without credentials (bytemark-client's `show images` reads /definitions anonymously). */
  anonymous?: boolean;
  /** The client polls this request until the answer satisfies it (shutdown, GetState, bigv-python's wait). */
  pollUntil?: (body: any) => boolean;
  check?: (body: any, r: Reply) => void | Promise<void>;
}

async function replay(t: TestHangar, client: Client, steps: Step[]): Promise<void> {
  for (const s of steps) {
    const [method, url] = (typeof s.req === 'function' ? s.req() : s.req).split(' ') as [string, string];
    const body = typeof s.body === 'function' ? s.body() : s.body;
    const what = `${client.name} \`${s.cmd}\`: ${method} ${url}`;
    const send = () => t.req(method, url, { token: s.anonymous ? null : client.token, raw: body, headers: client.headers(method, body !== undefined) });
    let r = await send();
    if (s.pollUntil) {
      const done = s.pollUntil;
      r = await until(what, async () => {
        const again = await send();
        return again.status === s.status && done(again.body) ? again : null;
      });
    }
    assert.equal(r.status, s.status, `${what} -> ${r.status} ${r.text}`);
    if (r.status === 204) {
      assert.equal(r.text, '', `${what}: 204 has no body`);
    } else {
      // bigv-python parses a body only when the type is exactly this; the Go clients need valid JSON.
      assert.equal(r.headers['content-type'], 'application/json', `${what}: Content-Type`);
      assert.doesNotThrow(() => JSON.parse(r.text), `${what}: JSON body`);
    }
    if (r.status >= 400) bigvError(what, r);
    try {
      await s.check?.(r.body, r);
    } catch (err) {
      if (err instanceof Error) err.message = `${what}: ${err.message}`;
      throw err;
    }
  }
}

/** A 4xx in BigV's shape: 400 is `{"attribute":["message", ...]}`, the others `{"error":"..."}`. */
function bigvError(what: string, r: Reply): void {
  assert.equal(typeof r.body, 'object', what);
  if (r.status === 400) {
    assert.ok(Object.keys(r.body).length > 0, `${what}: names the attribute`);
    for (const [k, v] of Object.entries(r.body)) {
      assert.ok(typeof v === 'string' || (Array.isArray(v) && v.length > 0 && v.every((m) => typeof m === 'string')), `${what}: ${k} => ${JSON.stringify(v)}`);
    }
  } else {
    assert.equal(typeof r.body.error, 'string', what);
  }
}

// ---------------------------------------------------------------------------------------------
// What the Go clients decode (lib/brain/*.go): ints must be JSON integers, IPs IP strings, bools
// booleans; null is accepted anywhere (it leaves the zero value).

type Go = 'int' | 'string' | 'bool' | 'ip' | 'ips' | 'ipmap';
function goField(kind: Go, v: unknown): boolean {
  if (v === null) return true;
  switch (kind) {
    case 'int': return Number.isInteger(v);
    case 'string': return typeof v === 'string';
    case 'bool': return typeof v === 'boolean';
    case 'ip': return v === '' || (typeof v === 'string' && net.isIP(v) !== 0);
    case 'ips': return Array.isArray(v) && v.every((a) => net.isIP(a) !== 0);
    case 'ipmap': return typeof v === 'object' && Object.entries(v as object).every(([k, a]) => net.isIP(k) !== 0 && net.isIP(a) !== 0);
  }
}
function goDecodes(what: string, obj: Record<string, unknown>, spec: Record<string, Go>): void {
  for (const [k, kind] of Object.entries(spec)) assert.ok(goField(kind, obj[k]), `${what}: ${k} is not a Go ${kind}: ${JSON.stringify(obj[k])}`);
}
const GO_VM: Record<string, Go> = {
  id: 'int', group_id: 'int', cores: 'int', memory: 'int', name: 'string', hostname: 'string', zone_name: 'string', head: 'string',
  hardware_profile: 'string', cdrom_url: 'string', keymap: 'string', management_address: 'ip', last_imaged_with: 'string',
  autoreboot_on: 'bool', power_on: 'bool', deleted: 'bool', hardware_profile_locked: 'bool',
};
const GO_DISC: Record<string, Go> = { id: 'int', label: 'string', size: 'int', storage_grade: 'string', storage_pool: 'string', virtual_machine_id: 'int' };
const GO_NIC: Record<string, Go> = { id: 'int', label: 'string', mac: 'string', vlan_num: 'int', ips: 'ips', extra_ips: 'ipmap', virtual_machine_id: 'int' };
const GO_PRIVILEGE: Record<string, Go> = {
  id: 'int', username: 'string', level: 'string', account_id: 'int', group_id: 'int', virtual_machine_id: 'int', api_key_id: 'int',
  password_required: 'bool', yubikey_required: 'bool', account_name: 'string', group_name: 'string', virtual_machine_name: 'string',
};

/**
 * A VM as bytemark-client reads it in an overview: every field decodes, `hostname` splits into
 * name.group.account, and there is a `network_interfaces[0]` (`add ip` indexes it and panics without).
 */
function overviewVm(what: string, vm: any, place?: { group: string; account: string }): void {
  goDecodes(what, vm, GO_VM);
  const [name, group, acc] = String(vm.hostname).split('.');
  assert.equal(name, vm.name, `${what}: hostname starts with the name`);
  if (place) assert.deepEqual([group, acc], [place.group, place.account], `${what}: hostname is name.group.account`);
  assert.ok(Array.isArray(vm.discs), `${what}: discs`);
  vm.discs.forEach((d: any) => goDecodes(`${what} disc`, d, GO_DISC));
  assert.ok(vm.network_interfaces?.length >= 1, `${what}: network_interfaces[0] is present`);
  vm.network_interfaces.forEach((n: any) => goDecodes(`${what} nic`, n, GO_NIC));
}

/** Every VM of an account overview (bytemark-client's `show account/servers/groups`). */
function overviewAccount(what: string, acc: any): void {
  goDecodes(what, acc, { id: 'int', name: 'string', suspended: 'bool' });
  for (const g of acc.groups) {
    goDecodes(`${what} group`, g, { id: 'int', account_id: 'int', name: 'string' });
    for (const vm of g.virtual_machines) overviewVm(`${what} ${vm.name}`, vm, { group: g.name, account: acc.name });
  }
}

const primaryV4 = (vm: any): string => vm.network_interfaces[0].ips.find((a: string) => net.isIP(a) === 4);

// ---------------------------------------------------------------------------------------------
// The cluster the recordings make sense against.

const ADMIN_VM = (name: string) => ({
  virtual_machine: { name, cores: 1, memory: 1024, autoreboot_on: true, zone_name: 'york' },
  discs: [{ label: 'disc-1', storage_grade: 'sata', size: 25600 }],
  reimage: { distribution: 'stretch', root_password: 'pw', ssh_public_key: '' },
});

interface World {
  t: TestHangar;
  acme: { id: number; defaultGroupId: number };
  otherGroupId: number;
  web1: number;
  db1: number;
  alice: { id: number; password: string };
  bob: { id: number };
  /** Admin reads, for checks outside the replay. */
  get(url: string): Promise<any>;
  vm(id: number): Promise<any>;
}

type Power = 'on' | 'off' | 'deleted';

/** acme (default and `other` groups), alice (account_admin on acme), bob, web1 and db1 imaged in york. */
async function world(state: { web1?: Power; db1?: Power } = {}): Promise<World> {
  const t = await startTest({ heads: HEADS });
  const acme = await account(t, 'acme');
  const other = await t.req('POST', '/accounts/acme/groups', { token: t.adminToken, body: { name: 'other' } });
  await t.user('alice', { level: 'account_admin', account_id: acme.id });
  await t.user('bob');
  const users = (await t.req('GET', '/users', { token: t.adminToken })).body as { id: number; username: string }[];
  const idOf = (u: string) => users.find((x) => x.username === u)!.id;
  const get = async (url: string) => (await t.req('GET', url, { token: t.adminToken })).body;
  const vm = (id: number) => get(`/virtual_machines/${id}?include_deleted=true`);
  const ids: number[] = [];
  for (const name of ['web1', 'db1']) {
    const r = await t.req('POST', '/accounts/acme/groups/default/vm_create', { token: t.adminToken, body: ADMIN_VM(name) });
    assert.equal(r.status, 202, r.text);
    ids.push(r.body.virtual_machine.id);
  }
  for (const id of ids) await until(`VM ${id} running`, async () => (await vm(id)).state === 'running');
  const w: World = {
    t, acme, otherGroupId: other.body.id, web1: ids[0]!, db1: ids[1]!,
    alice: { id: idOf('alice'), password: 'alice-password-1' }, bob: { id: idOf('bob') }, get, vm,
  };
  for (const [id, want] of [[w.web1, state.web1 ?? 'on'], [w.db1, state.db1 ?? 'on']] as const) {
    if (want === 'on') continue;
    const path = `/virtual_machines/${id}`;
    const nested = `/accounts/acme/groups/default/virtual_machines/${id}`;
    await t.req('PUT', nested, { token: t.adminToken, body: { power_on: false, autoreboot_on: false } });
    if (want === 'deleted') await t.req('DELETE', nested, { token: t.adminToken });
    await until(`${path} stopped`, async () => (await vm(id)).state === 'stopped');
  }
  return w;
}

/** bytemark-client's login (a JSON string map) and the session check it makes before every command. */
async function bytemarkLogin(w: World): Promise<string> {
  const r = await w.t.req('POST', '/session', {
    raw: JSON.stringify({ password: w.alice.password, username: 'alice', validity: '1800' }),
    headers: { ...BYTEMARK_HEADERS, accept: 'text/plain' },
  });
  assert.equal(r.status, 200, r.text);
  return r.text;
}

const G = '/accounts/acme/groups/default';
const WEB1 = `${G}/virtual_machines/web1`;
const OVERVIEW = '?view=overview&include_deleted=true';
const VM_OVERVIEW = '?include_deleted=true&view=overview';

// =============================================================================================
// bytemark-client

test('bytemark-client: login, session check and the auth quirks (//session, /auth prefix, 401 text)', async () => {
  const w = await world();
  try {
    const { t } = w;
    const json = { ...BYTEMARK_HEADERS, accept: 'text/plain' };
    const body = JSON.stringify({ password: w.alice.password, username: 'alice', validity: '1800' });
    // POST /session answers the bare token as text/plain (no newline: the client uses the whole body),
    // also at `//session` (an endpoint configured with a trailing slash) and under an `/auth` prefix.
    const tokens: string[] = [];
    for (const url of ['/session', '//session', '/auth/session', '/auth//session']) {
      const r = await t.req('POST', url, { raw: body, headers: json });
      assert.equal(r.status, 200, `${url}: ${r.text}`);
      assert.match(String(r.headers['content-type']), /^text\/plain/);
      assert.match(r.text, /^[A-Za-z0-9_-]{20,}$/, `${url}: just the token`);
      tokens.push(r.text);
    }
    // GET /session/{token}, made before every command: username and factors.
    for (const [url, token] of [['/session', tokens[0]], ['//session', tokens[1]], ['/auth/session', tokens[2]]] as const) {
      const r = await t.req('GET', `${url}/${token}`, { headers: BYTEMARK_HEADERS });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.body.username, 'alice');
      // Exactly `password`: with `impersonated` or `yubikey` the client would throw the token away.
      assert.deepEqual(r.body.factors, ['password']);
    }
    const gone = await t.req('GET', '/session/not-a-session-token', { headers: BYTEMARK_HEADERS });
    assert.equal(gone.status, 404);
    // A wrong password: the client re-prompts only when the text says `Bad login credentials`.
    const bad = await t.req('POST', '/session', { raw: JSON.stringify({ password: 'wrong', username: 'alice', validity: '1800' }), headers: json });
    assert.equal(bad.status, 401);
    assert.match(bad.text, /Bad login credentials/);
    // The token works on the brain as `Bearer`, and nothing else does.
    await replay(t, bytemark(tokens[0]!), [{ cmd: 'show account acme', req: `GET /accounts/acme${OVERVIEW}`, status: 200, check: (a) => assert.equal(a.name, 'acme') }]);
    await replay(t, bytemark('not-a-session-token'), [{ cmd: 'show account acme (stale token)', req: `GET /accounts/acme${OVERVIEW}`, status: 401 }]);
  } finally {
    await w.t.close();
  }
});

test('bytemark-client: show accounts/account/servers/group/server/overview/groups/images/disc', async () => {
  // As recorded: web1 powered off, db1 deleted.
  const w = await world({ web1: 'off', db1: 'deleted' });
  try {
    const { t } = w;
    const token = await bytemarkLogin(w);
    const both = (g: any) => {
      const byName = Object.fromEntries(g.virtual_machines.map((v: any) => [v.name, v]));
      assert.deepEqual(Object.keys(byName).sort(), ['db1', 'web1']);
      assert.deepEqual([byName.web1.power_on, byName.web1.deleted, byName.db1.deleted], [false, false, true]);
      assert.equal(byName.web1.zone_name, 'york', '"in York"');
    };
    await replay(t, bytemark(token), [
      {
        cmd: 'show accounts', req: `GET /accounts${OVERVIEW}`, status: 200,
        check: (list) => {
          assert.deepEqual(list.map((a: any) => a.name), ['acme']);
          overviewAccount('acme', list[0]);
          assert.equal(list[0].suspended, false);
          both(list[0].groups.find((g: any) => g.name === 'default'));
        },
      },
      {
        cmd: 'show account acme', req: `GET /accounts/acme${OVERVIEW}`, status: 200,
        check: (a) => {
          overviewAccount('acme', a);
          assert.deepEqual(a.groups.map((g: any) => g.name), ['default', 'other']);
          both(a.groups[0]);
        },
      },
      {
        cmd: 'show servers --account acme', req: `GET /accounts/acme${OVERVIEW}`, status: 200,
        check: (a) => {
          // Columns: id, hostname, first IP of the first NIC, memory, cores, ...
          for (const vm of a.groups[0].virtual_machines) {
            assert.ok(primaryV4(vm), `${vm.name} has an IPv4 to show`);
            assert.deepEqual([vm.memory, vm.cores], [1024, 1]);
            assert.equal(vm.hostname, `${vm.name}.default.acme.hangar.local`);
          }
        },
      },
      {
        cmd: 'show group default.acme', req: `GET ${G}${OVERVIEW}`, status: 200,
        check: (g) => {
          goDecodes('group', g, { id: 'int', account_id: 'int', name: 'string' });
          assert.deepEqual([g.id, g.account_id, g.name], [w.acme.defaultGroupId, w.acme.id, 'default']);
          both(g);
          for (const vm of g.virtual_machines) overviewVm(vm.name, vm, { group: 'default', account: 'acme' });
        },
      },
      {
        cmd: 'show server web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200,
        check: (vm) => {
          overviewVm('web1', vm, { group: 'default', account: 'acme' });
          assert.equal(vm.id, w.web1);
          assert.deepEqual(vm.network_interfaces[0].ips.map((a: string) => net.isIP(a)), [4, 6], 'the IPv4 and IPv6 it lists');
          assert.deepEqual(vm.discs.map((d: any) => [d.label, d.size, d.storage_grade]), [['disc-1', 25600, 'sata']]);
        },
      },
      {
        // An endpoint configured as `http://host/` makes every path start with `//`.
        cmd: 'show server web1.default.acme (endpoint with a trailing slash)', req: `GET /${WEB1}${VM_OVERVIEW}`, status: 200,
        check: (vm) => assert.equal(vm.id, w.web1),
      },
      {
        // A numeric server name is an id: the client uses the non-nested path.
        cmd: `show server ${w.web1}`, req: `GET /virtual_machines/${w.web1}${VM_OVERVIEW}`, status: 200,
        check: (vm) => {
          overviewVm('web1', vm, { group: 'default', account: 'acme' });
          assert.equal(vm.name, 'web1');
        },
      },
      {
        // With billing blanked the default account is the first of this list.
        cmd: 'show overview', req: `GET /accounts${OVERVIEW}`, status: 200,
        check: (list) => assert.equal(list[0].name, 'acme'),
      },
      {
        cmd: 'show groups acme', req: `GET /accounts/acme${OVERVIEW}`, status: 200,
        check: (a) => assert.deepEqual(a.groups.map((g: any) => [g.name, g.virtual_machines.length]), [['default', 2], ['other', 0]]),
      },
      {
        cmd: 'show disc --server web1.default.acme --disc disc-1', req: `GET ${WEB1}/discs/disc-1`, status: 200,
        check: (d) => {
          goDecodes('disc', d, GO_DISC);
          assert.deepEqual([d.label, d.size, d.storage_grade, d.virtual_machine_id], ['disc-1', 25600, 'sata', w.web1]);
          assert.match(d.storage_pool, /^head1-sata/);
        },
      },
      {
        // show images / zones / hwprofiles / storage: /definitions, read without credentials.
        cmd: 'show images', req: 'GET /definitions', status: 200, anonymous: true,
        check: (defs) => {
          const by = Object.fromEntries(defs.map((d: any) => [d.id, d.data]));
          assert.deepEqual(Object.keys(by).sort(), [
            'distribution_descriptions', 'distributions', 'hardware_profiles', 'keymaps', 'sendkeys', 'storage_grade_descriptions', 'storage_grades', 'zone_names',
          ]);
          for (const d of ['symbiosis', 'stretch', 'wheezy']) {
            assert.ok(by.distributions.includes(d), `distribution ${d}`);
            assert.equal(typeof by.distribution_descriptions[d], 'string', `show images lists ${d}`);
          }
          assert.deepEqual(by.zone_names, ['manchester', 'york']);
          assert.deepEqual(by.storage_grades, ['sata', 'ssd', 'archive']);
          assert.deepEqual(Object.keys(by.storage_grade_descriptions), ['sata', 'ssd', 'archive']);
          assert.deepEqual(by.hardware_profiles, ['virtio2013', 'compatibility2013']);
          assert.ok(by.keymaps.includes('en-gb') && by.sendkeys.includes('ctrl'));
        },
      },
    ]);
  } finally {
    await w.t.close();
  }
});

test('bytemark-client: add server, start/stop/shutdown/reset/restart, reimage, delete/restore/purge', async () => {
  const w = await world({ web1: 'off' });
  try {
    const { t } = w;
    const token = await bytemarkLogin(w);
    const isOff = (vm: any) => vm.power_on === false;
    const web1 = () => w.vm(w.web1);
    await replay(t, bytemark(token), [
      {
        cmd: 'add server --force --image stretch --root-password pw newvm.default.acme', req: `POST ${G}/vm_create`, status: 202,
        body: '{"virtual_machine":{"autoreboot_on":true,"cores":1,"memory":1024,"name":"newvm"},"discs":[{"label":"disc-1","storage_grade":"sata","size":25600,"backup_schedules":[{"start_at":"2026-11-23 00:00:00 UTC","interval_seconds":604800,"capacity":1}]}],"reimage":{"distribution":"stretch","firstboot_script":"","root_password":"pw","ssh_public_key":""}}',
        check: (r) => {
          // Decoded into brain.VirtualMachine and then ignored: it must decode.
          goDecodes('vm_create reply', r.virtual_machine, GO_VM);
          assert.deepEqual([r.virtual_machine.name, r.virtual_machine.power_on, r.virtual_machine.autoreboot_on], ['newvm', true, true]);
          assert.deepEqual(r.discs.map((d: any) => [d.label, d.size]), [['disc-1', 25600]]);
          // The weekly schedule the client asked for shows on the disc, in the reply and in the overview.
          assert.deepEqual(r.discs[0].backup_schedules.map((s: any) => [s.start_at, s.interval_seconds, s.capacity]), [['2026-11-23 00:00:00 UTC', 604800, 1]]);
          assert.deepEqual(r.virtual_machine.discs[0].backup_schedules.map((s: any) => s.interval_seconds), [604800]);
        },
      },
      {
        cmd: 'add server ... newvm.default.acme', req: `GET ${G}/virtual_machines/newvm${VM_OVERVIEW}`, status: 200,
        pollUntil: (vm) => vm.state === 'running',
        check: (vm) => {
          overviewVm('newvm', vm, { group: 'default', account: 'acme' });
          assert.deepEqual([vm.power_on, vm.last_imaged_with], [true, 'stretch']);
          // No zone asked for: any zone will do, and `head` is the one in that zone.
          assert.equal(vm.head, { york: 'head1', manchester: 'head2' }[vm.zone_name as string]);
        },
      },
      {
        // Not in the recording: where the weekly schedule it asked for shows up.
        cmd: '(check) the schedule sent with the disc', req: `GET ${G}/virtual_machines/newvm/discs/disc-1`, status: 200,
        check: (d) => assert.deepEqual(d.backup_schedules.map((s: any) => [s.interval_seconds, s.capacity]), [[604800, 1]]),
      },
      {
        // `ips` may only be chosen in a group on a private VLAN (spec §5.10); acme's default is not: a clear 400.
        cmd: 'add server --force --no-image --backup never --stopped --cores 2 --memory 2 --disc ssd:50 --disc archive:100 --hwprofile virtio2013 --hwprofile-locked --zone manchester --ip 10.0.0.5 --ip fe80::5 vm2.default.acme',
        req: `POST ${G}/vm_create`, status: 400,
        body: '{"virtual_machine":{"cores":2,"memory":2048,"name":"vm2","hardware_profile":"virtio2013","hardware_profile_locked":true,"zone_name":"manchester"},"discs":[{"label":"disc-1","storage_grade":"ssd","size":51200},{"label":"disc-2","storage_grade":"archive","size":102400}],"ips":{"ipv4":"10.0.0.5","ipv6":"fe80::5"}}',
        check: (e) => assert.deepEqual(Object.keys(e), ['ips']),
      },
      {
        cmd: 'add server (same, without --ip)', req: `POST ${G}/vm_create`, status: 202,
        body: '{"virtual_machine":{"cores":2,"memory":2048,"name":"vm2","hardware_profile":"virtio2013","hardware_profile_locked":true,"zone_name":"manchester"},"discs":[{"label":"disc-1","storage_grade":"ssd","size":51200},{"label":"disc-2","storage_grade":"archive","size":102400}]}',
      },
      {
        cmd: 'add server ... vm2.default.acme', req: `GET ${G}/virtual_machines/vm2${VM_OVERVIEW}`, status: 200,
        check: (vm) => {
          overviewVm('vm2', vm, { group: 'default', account: 'acme' });
          // --stopped sends no power flags and --no-image no reimage: it stays off.
          assert.deepEqual([vm.power_on, vm.autoreboot_on, vm.cores, vm.memory, vm.zone_name, vm.hardware_profile, vm.hardware_profile_locked, vm.last_imaged_with],
            [false, false, 2, 2048, 'manchester', 'virtio2013', true, null]);
          assert.deepEqual(vm.discs.map((d: any) => [d.label, d.storage_grade, d.size]), [['disc-1', 'ssd', 51200], ['disc-2', 'archive', 102400]]);
          for (const d of vm.discs) assert.match(d.storage_pool, /^head2-/, 'placed in manchester');
        },
      },
      {
        cmd: 'start server web1.default.acme', req: `PUT ${WEB1}`, body: '{"autoreboot_on":true, "power_on": true}', status: 200,
        check: (vm) => assert.deepEqual([vm.power_on, vm.autoreboot_on, vm.head], [true, true, 'head1']),
      },
      {
        cmd: 'stop server web1.default.acme', req: `PUT ${WEB1}`, body: '{"autoreboot_on":false, "power_on": false}', status: 200,
        check: async (vm) => {
          assert.deepEqual([vm.power_on, vm.autoreboot_on], [false, false]);
          await until('web1 stopped', async () => !t.drivers[0]!.machines.has(w.web1));
        },
      },
      { cmd: '(setup) start server web1.default.acme', req: `PUT ${WEB1}`, body: '{"autoreboot_on":true, "power_on": true}', status: 200 },
      {
        cmd: 'shutdown server web1.default.acme', req: `PUT ${WEB1}`, body: '{"autoreboot_on":false}', status: 200,
        check: (vm) => assert.deepEqual([vm.power_on, vm.autoreboot_on], [true, false]),
      },
      {
        cmd: 'shutdown server web1.default.acme', req: `POST ${WEB1}/signal`, body: '{"signal": "powerdown"}', status: 200,
        check: (r) => assert.deepEqual(r, { signal: 'powerdown' }),
      },
      // The client polls until power_on is false; a machine that never reports off would hang it.
      { cmd: 'shutdown server web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200, pollUntil: isOff },
      {
        // Signals need a running machine (spec §5.2): a clear 400 while it is off.
        cmd: 'reset server web1.default.acme (while off)', req: `POST ${WEB1}/signal`, body: '{"signal":"reset"}', status: 400,
        check: (e) => assert.ok(e.signal),
      },
      { cmd: '(setup) start server web1.default.acme', req: `PUT ${WEB1}`, body: '{"autoreboot_on":true, "power_on": true}', status: 200 },
      {
        cmd: 'reset server web1.default.acme', req: `POST ${WEB1}/signal`, body: '{"signal":"reset"}', status: 200,
        check: (r) => {
          assert.deepEqual(r, { signal: 'reset' });
          assert.ok(t.drivers[0]!.calls.includes(`signal ${w.web1} reset`));
        },
      },
      { cmd: 'restart server web1.default.acme', req: `PUT ${WEB1}`, body: '{"autoreboot_on":false}', status: 200 },
      { cmd: 'restart server web1.default.acme', req: `POST ${WEB1}/signal`, body: '{"signal": "powerdown"}', status: 200 },
      { cmd: 'restart server web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200, pollUntil: isOff },
      {
        cmd: 'restart server web1.default.acme', req: `PUT ${WEB1}`, body: '{"autoreboot_on":true, "power_on": true}', status: 200,
        check: async (vm) => {
          assert.equal(vm.power_on, true);
          await until('web1 running again', async () => t.drivers[0]!.machines.has(w.web1));
        },
      },
      { cmd: 'restart server --rescue web1.default.acme', req: `PUT ${WEB1}`, body: '{"autoreboot_on":false}', status: 200 },
      { cmd: 'restart server --rescue web1.default.acme', req: `POST ${WEB1}/signal`, body: '{"signal": "powerdown"}', status: 200 },
      { cmd: 'restart server --rescue web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200, pollUntil: isOff },
      {
        // There is no rescue appliance on this cluster: a clear 400 naming `appliance`, and nothing changes.
        cmd: 'restart server --rescue web1.default.acme', req: `PUT ${WEB1}`, body: '{"appliance":{"name":"rescue","permanent":false},"autoreboot_on":true,"power_on":true}', status: 400,
        check: async (e) => {
          assert.deepEqual(Object.keys(e), ['appliance']);
          assert.equal((await web1()).power_on, false, 'not started without the appliance');
        },
      },
      {
        cmd: 'reimage server --force --image stretch --root-password pw web1.default.acme', req: `POST ${WEB1}/reimage`, status: 200,
        body: '{"distribution":"stretch","firstboot_script":"","root_password":"pw","ssh_public_key":""}',
        check: async (r) => {
          assert.deepEqual(r, { distribution: 'stretch', root_password: 'pw' });
          // Afterwards the machine is on with autoreboot off.
          const vm = await until('reimaged and on', async () => {
            const v = await web1();
            return v.state === 'running' && v.last_imaged_with === 'stretch' ? v : null;
          });
          assert.deepEqual([vm.power_on, vm.autoreboot_on], [true, false]);
          assert.equal(t.drivers[0]!.calls.filter((c) => c === `reimage ${w.web1} bookworm`).length, 2, 'imaged at create and again');
        },
      },
      { cmd: 'delete server --force web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200, check: (vm) => assert.equal(vm.deleted, false) },
      {
        cmd: 'delete server --force web1.default.acme', req: `DELETE ${WEB1}`, status: 204,
        check: async () => {
          assert.equal((await web1()).deleted, true);
          await until('taken down', async () => !t.drivers[0]!.machines.has(w.web1));
        },
      },
      // `restore server`: the client reads the machine, and undeletes it if it is deleted.
      { cmd: 'restore server web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200, check: (vm) => assert.equal(vm.deleted, true) },
      {
        cmd: 'restore server web1.default.acme', req: `PUT ${WEB1}`, body: '{"deleted":false}', status: 200,
        check: (vm) => assert.deepEqual([vm.deleted, vm.power_on], [false, false]),
      },
      { cmd: 'delete server --force --purge web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200 },
      { cmd: 'delete server --force --purge web1.default.acme', req: `DELETE ${WEB1}?purge=true`, status: 204 },
      // Gone: a purged machine is a 404 even with include_deleted (bytemark-client exits 156).
      { cmd: 'show server web1.default.acme (after purge)', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 404 },
    ]);
  } finally {
    await w.t.close();
  }
});

test('bytemark-client: update server (memory, cores, hwprofile, cd, remove-cd, rename/move, swap ips)', async () => {
  const w = await world({ web1: 'off', db1: 'off' });
  try {
    const { t } = w;
    const token = await bytemarkLogin(w);
    const before = { web1: primaryV4(await w.vm(w.web1)), db1: primaryV4(await w.vm(w.db1)) };
    const UPDATE = 'update server --force --memory 2 --cores 2 --hwprofile virtio2013 --lock-hwprofile --cd-url http://x/y.iso --server web1.default.acme';
    await replay(t, bytemark(token), [
      { cmd: UPDATE, req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200 },
      { cmd: UPDATE, req: `PUT ${WEB1}`, body: '{"memory": 2048}', status: 200, check: (vm) => assert.equal(vm.memory, 2048) },
      { cmd: UPDATE, req: `PUT ${WEB1}`, body: '{"hardware_profile": "virtio2013"}', status: 200, check: (vm) => assert.equal(vm.hardware_profile, 'virtio2013') },
      { cmd: UPDATE, req: `PUT ${WEB1}`, body: '{"hardware_profile_locked": true}', status: 200, check: (vm) => assert.equal(vm.hardware_profile_locked, true) },
      { cmd: UPDATE, req: `PUT ${WEB1}`, body: '{"cores": 2}', status: 200, check: (vm) => assert.deepEqual([vm.cores, vm.memory], [2, 2048]) },
      { cmd: UPDATE, req: `PUT ${WEB1}`, body: '{"cdrom_url":"http://x/y.iso"}', status: 200, check: (vm) => assert.equal(vm.cdrom_url, 'http://x/y.iso') },
      { cmd: 'update server --remove-cd --server web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200 },
      {
        // The client's bug: `--remove-cd` sends `{}`. PUT only changes what it is given, so nothing changes.
        cmd: 'update server --remove-cd --server web1.default.acme', req: `PUT ${WEB1}`, body: '{}', status: 200,
        check: (vm) => {
          goDecodes('web1', vm, GO_VM);
          assert.equal(vm.cdrom_url, 'http://x/y.iso');
        },
      },
      // What it means to send, accepted as an eject in both spellings.
      { cmd: '(eject) update server --remove-cd', req: `PUT ${WEB1}`, body: '{"cdrom_url":""}', status: 200, check: (vm) => assert.equal(vm.cdrom_url, null) },
      { cmd: '(eject) update server --remove-cd', req: `PUT ${WEB1}`, body: '{"cdrom_url":null}', status: 200, check: (vm) => assert.equal(vm.cdrom_url, null) },
      {
        // Cores, memory and hardware profile need a fresh boot: refused while the machine runs.
        cmd: '(setup) start server web1.default.acme', req: `PUT ${WEB1}`, body: '{"autoreboot_on":true, "power_on": true}', status: 200,
      },
      { cmd: 'update server --memory 4 --server web1.default.acme (while on)', req: `PUT ${WEB1}`, body: '{"memory": 4096}', status: 400, check: (e) => assert.ok(e.memory) },
      { cmd: '(setup) stop server web1.default.acme', req: `PUT ${WEB1}`, body: '{"autoreboot_on":false, "power_on": false}', status: 200 },
      { cmd: 'update server --new-name web9.other.acme --server web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200 },
      {
        cmd: 'update server --new-name web9.other.acme --server web1.default.acme', req: `GET /accounts/acme/groups/other${OVERVIEW}`, status: 200,
        check: (g) => assert.deepEqual([g.id, g.name, g.virtual_machines], [w.otherGroupId, 'other', []]),
      },
      {
        cmd: 'update server --new-name web9.other.acme --server web1.default.acme', req: `PUT ${WEB1}`, body: `{"name":"web9","group_id":${w.otherGroupId}}`, status: 200,
        check: (vm) => assert.deepEqual([vm.name, vm.group_id, vm.hostname], ['web9', w.otherGroupId, 'web9.other.acme.hangar.local']),
      },
      {
        // A plain rename still sends group_id (the current group).
        cmd: 'update server --new-name web10 --server web9.other.acme', req: 'PUT /accounts/acme/groups/other/virtual_machines/web9', body: `{"name":"web10","group_id":${w.otherGroupId}}`, status: 200,
        check: (vm) => assert.equal(vm.hostname, 'web10.other.acme.hangar.local'),
      },
      { cmd: 'update server --swap-ips-with db1.default.acme --swap-extra-ips --server web10.other.acme', req: `GET /accounts/acme/groups/other/virtual_machines/web10${VM_OVERVIEW}`, status: 200 },
      { cmd: 'update server --swap-ips-with db1.default.acme --swap-extra-ips --server web10.other.acme', req: `GET ${G}/virtual_machines/db1${VM_OVERVIEW}`, status: 200 },
      {
        cmd: 'update server --swap-ips-with db1.default.acme --swap-extra-ips --server web10.other.acme', req: 'POST /ips/swap_virtual_machine_ips',
        body: `{"move_additional_ips":true,"virtual_machine_1_id":${w.web1},"virtual_machine_2_id":${w.db1}}`, status: 200,
        check: async () => {
          assert.equal(primaryV4(await w.vm(w.web1)), before.db1);
          assert.equal(primaryV4(await w.vm(w.db1)), before.web1);
        },
      },
    ]);
  } finally {
    await w.t.close();
  }
});

test('bytemark-client: add group, delete group --recursive, show groups', async () => {
  const w = await world();
  try {
    const { t } = w;
    const token = await bytemarkLogin(w);
    const NEWGRP = '/accounts/acme/groups/newgrp';
    await replay(t, bytemark(token), [
      {
        cmd: 'add group newgrp.acme', req: 'POST /accounts/acme/groups', body: '{"name":"newgrp"}', status: 201,
        check: (g) => {
          goDecodes('group', g, { id: 'int', account_id: 'int', name: 'string' });
          assert.deepEqual([g.account_id, g.name], [w.acme.id, 'newgrp']);
        },
      },
      // (setup) two machines in it, one of them deleted, as in the recording.
      { cmd: '(setup)', req: `POST ${NEWGRP}/virtual_machines`, body: '{"name":"web1"}', status: 202 },
      { cmd: '(setup)', req: `POST ${NEWGRP}/virtual_machines`, body: '{"name":"db1"}', status: 202 },
      { cmd: '(setup)', req: `DELETE ${NEWGRP}/virtual_machines/db1`, status: 204 },
      {
        cmd: 'delete group --force --recursive newgrp.acme', req: `GET ${NEWGRP}${OVERVIEW}`, status: 200,
        check: (g) => assert.deepEqual(g.virtual_machines.map((v: any) => [v.name, v.deleted]), [['web1', false], ['db1', true]]),
      },
      // Deleted-but-unpurged machines still hold the group: without the purges it is a clear 400.
      { cmd: 'delete group --force newgrp.acme (before the purges)', req: `DELETE ${NEWGRP}`, status: 400 },
      { cmd: 'delete group --force --recursive newgrp.acme', req: `DELETE ${NEWGRP}/virtual_machines/web1?purge=true`, status: 204 },
      { cmd: 'delete group --force --recursive newgrp.acme', req: `DELETE ${NEWGRP}/virtual_machines/db1?purge=true`, status: 204 },
      { cmd: 'delete group --force --recursive newgrp.acme', req: `DELETE ${NEWGRP}`, status: 204 },
      {
        cmd: 'show groups acme', req: `GET /accounts/acme${OVERVIEW}`, status: 200,
        check: (a) => assert.deepEqual(a.groups.map((g: any) => [g.name, g.virtual_machines.length]), [['default', 2], ['other', 0]]),
      },
    ]);
  } finally {
    await w.t.close();
  }
});

test('bytemark-client: add ip, add disc (also with /accounts//groups), update/delete disc', async () => {
  const w = await world({ web1: 'off', db1: 'off' });
  try {
    const { t } = w;
    const token = await bytemarkLogin(w);
    const web1 = await w.vm(w.web1);
    const nic = web1.network_interfaces[0].id;
    const [v4, v6] = web1.network_interfaces[0].ips;
    const discId = (vm: any, label: string) => vm.discs.find((d: any) => d.label === label)?.id;
    let disc3 = 0;
    await replay(t, bytemark(token), [
      { cmd: 'add ip --reason test web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200, check: (vm) => assert.equal(vm.network_interfaces[0].id, nic) },
      {
        cmd: 'add ip --reason test web1.default.acme', req: `POST ${WEB1}/nics/${nic}/ip_create`, body: '{"addresses":1,"family":"ipv4","reason":"test","contiguous":false}', status: 200,
        check: async (r) => {
          assert.deepEqual([r.addresses, r.family, r.reason, r.contiguous], [1, 'ipv4', 'test', false]);
          assert.equal(r.ips.length, 1);
          assert.equal(net.isIP(r.ips[0]), 4);
          // Routed via the NIC's primary IPv4, shown as {extra: via}.
          assert.deepEqual((await w.vm(w.web1)).network_interfaces[0].extra_ips, { [r.ips[0]]: v4 });
        },
      },
      { cmd: 'add ip --ipv6 --reason test web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200 },
      {
        cmd: 'add ip --ipv6 --reason test web1.default.acme', req: `POST ${WEB1}/nics/${nic}/ip_create`, body: '{"addresses":1,"family":"ipv6","reason":"test","contiguous":false}', status: 200,
        check: async (r) => {
          assert.equal(net.isIP(r.ips[0]), 6);
          assert.equal((await w.vm(w.web1)).network_interfaces[0].extra_ips[r.ips[0]], v6);
        },
      },
      { cmd: 'add disc --force --disc ssd:50 web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200 },
      {
        cmd: 'add disc --force --disc ssd:50 web1.default.acme', req: `POST ${WEB1}/discs`, body: '{"label":"disc-2","storage_grade":"ssd","size":51200}', status: 201,
        check: (d) => {
          goDecodes('disc', d, GO_DISC);
          assert.deepEqual([d.label, d.storage_grade, d.size, d.virtual_machine_id], ['disc-2', 'ssd', 51200, w.web1]);
        },
      },
      // Without an account on the command line the client finds the default account, then
      // sends an empty account segment: `/accounts//groups/...` (spec §5.7).
      { cmd: 'add disc --force --disc ssd:50 web1', req: `GET /accounts${OVERVIEW}`, status: 200, check: (list) => assert.equal(list[0].name, 'acme') },
      { cmd: 'add disc --force --disc ssd:50 web1', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200 },
      {
        cmd: 'add disc --force --disc ssd:50 web1', req: 'POST /accounts//groups/default/virtual_machines/web1/discs', body: '{"label":"disc-3","storage_grade":"ssd","size":51200}', status: 201,
        check: async (d) => {
          assert.deepEqual([d.label, d.virtual_machine_id], ['disc-3', w.web1]);
          disc3 = d.id;
          assert.deepEqual((await w.vm(w.web1)).discs.map((x: any) => x.label), ['disc-1', 'disc-2', 'disc-3']);
        },
      },
      { cmd: 'show disc --server web1 --disc disc-2 (default account)', req: 'GET /accounts//groups/default/virtual_machines/web1/discs/disc-2', status: 200, check: (d) => assert.equal(d.size, 51200) },
      // Both quirks at once: a trailing-slash endpoint and no account.
      { cmd: 'show disc --server web1 --disc disc-3 (default account, endpoint with a trailing slash)', req: 'GET //accounts//groups/default/virtual_machines/web1/discs/disc-3', status: 200, check: (d) => assert.equal(d.label, 'disc-3') },
      { cmd: 'update disc --force --new-size 50 --server web1.default.acme --disc disc-1', req: `GET ${WEB1}/discs/disc-1`, status: 200, check: (d) => assert.equal(d.size, 25600) },
      {
        cmd: 'update disc --force --new-size 50 --server web1.default.acme --disc disc-1', req: `PUT ${WEB1}/discs/disc-1`, body: '{"size":51200}', status: 200,
        check: (d) => {
          assert.equal(d.size, 51200);
          assert.ok(t.drivers[0]!.calls.includes(`growDisc ${d.id} 51200`), 'grown on the head');
        },
      },
      { cmd: 'update disc --force --new-server db1.default.acme --server web1.default.acme --disc disc-1', req: `GET ${WEB1}/discs/disc-1`, status: 200 },
      { cmd: 'update disc --force --new-server db1.default.acme --server web1.default.acme --disc disc-1', req: `GET ${G}/virtual_machines/db1${VM_OVERVIEW}`, status: 200 },
      {
        // disc-1 is the disc web1 boots from: BigV keeps it with its machine, a clear 400.
        cmd: 'update disc --force --new-server db1.default.acme --server web1.default.acme --disc disc-1', req: `PUT ${WEB1}/discs/disc-1`, body: `{"virtual_machine_id":${w.db1}}`, status: 400,
        check: (e) => assert.match(e.virtual_machine_id[0], /boots from this disc/),
      },
      {
        cmd: 'update disc --force --new-server db1.default.acme --server web1.default.acme --disc disc-2', req: `PUT ${WEB1}/discs/disc-2`, body: `{"virtual_machine_id":${w.db1}}`, status: 200,
        check: async (d) => {
          assert.equal(d.virtual_machine_id, w.db1);
          assert.equal(discId(await w.vm(w.db1), 'disc-2'), d.id);
          assert.equal(discId(await w.vm(w.web1), 'disc-2'), undefined);
        },
      },
      {
        cmd: 'delete disc --force web1.default.acme disc-1', req: `DELETE ${WEB1}/discs/disc-1?purge=true`, status: 204,
        check: async () => assert.deepEqual((await w.vm(w.web1)).discs.map((x: any) => x.label), ['disc-3']),
      },
      { cmd: 'delete disc --force --id N', req: () => `GET /discs/${disc3}`, status: 200, check: (d) => assert.equal(d.label, 'disc-3') },
      {
        cmd: 'delete disc --force --id N', req: () => `DELETE /discs/${disc3}?purge=true`, status: 204,
        check: async () => {
          assert.deepEqual((await w.vm(w.web1)).discs, []);
          await until('destroyed on the head', async () => !t.drivers[0]!.discs.has(disc3));
        },
      },
      // Discs have no soft delete: without purge=true it is a clear 400.
      { cmd: 'DELETE a disc without purge', req: `DELETE ${G}/virtual_machines/db1/discs/disc-2`, status: 400, check: (e) => assert.ok(e.purge) },
    ]);
  } finally {
    await w.t.close();
  }
});

test('bytemark-client: backup disc (empty POST body), show/restore/delete backups, schedule/unschedule', async () => {
  const w = await world({ web1: 'off' });
  try {
    const { t } = w;
    const token = await bytemarkLogin(w);
    const DISC = `${WEB1}/discs/disc-1`;
    const discId = (await w.vm(w.web1)).discs[0].id;
    let backup = '';
    let schedule = 0;
    await replay(t, bytemark(token), [
      {
        // No body at all, but `Content-Type: application/json`; the reply must be JSON.
        cmd: 'backup disc web1.default.acme disc-1', req: `POST ${DISC}/backups`, status: 201,
        check: (b) => {
          goDecodes('backup', b, { ...GO_DISC, parent_disc_id: 'int', manual: 'bool' });
          assert.deepEqual([b.parent_disc_id, b.manual, b.storage_grade, b.size, b.virtual_machine_id], [discId, true, 'iceberg', 25600, w.web1]);
          assert.match(b.label, /^backup-1/);
          backup = b.label;
          assert.ok(t.drivers[0]!.calls.includes(`backupDisc ${discId} ${b.id}`));
        },
      },
      { cmd: 'show backups web1.default.acme disc-1', req: `GET ${DISC}/backups`, status: 200, check: (list) => assert.deepEqual(list.map((b: any) => b.label), [backup]) },
      // The recording names the backup `backup-1`, which the stub had made up: here there is no such backup, a 404.
      { cmd: 'restore backup web1.default.acme disc-1 backup-1', req: `PUT ${DISC}/backups/backup-1`, body: '{"restore":true}', status: 404 },
      {
        cmd: 'restore backup web1.default.acme disc-1 <label>', req: () => `PUT ${DISC}/backups/${backup}`, body: '{"restore":true}', status: 200,
        check: (b) => {
          assert.equal(b.label, backup);
          assert.ok(t.drivers[0]!.calls.includes(`restoreDisc ${discId} ${b.id}`));
        },
      },
      { cmd: 'delete backup web1.default.acme disc-1 backup-1', req: `DELETE ${DISC}/backups/backup-1?purge=true`, status: 404 },
      { cmd: 'delete backup web1.default.acme disc-1 <label>', req: () => `DELETE ${DISC}/backups/${backup}?purge=true`, status: 204 },
      { cmd: 'show backups web1.default.acme disc-1', req: `GET ${DISC}/backups`, status: 200, check: (list) => assert.deepEqual(list, []) },
      {
        cmd: "schedule backups --start '2030-01-01 00:00:00' web1.default.acme disc-1 86400", req: `POST ${DISC}/backup_schedules`,
        body: '{"start_at":"2030-01-01 00:00:00","interval_seconds":86400,"capacity":0}', status: 201,
        check: (s) => {
          goDecodes('schedule', s, { id: 'int', start_at: 'string', interval_seconds: 'int', capacity: 'int' });
          // capacity 0 from the client means "the default": at least one backup is kept.
          assert.deepEqual([s.start_at, s.interval_seconds, s.capacity], ['2030-01-01 00:00:00', 86400, 1]);
          schedule = s.id;
        },
      },
      {
        cmd: 'show disc --server web1.default.acme --disc disc-1', req: `GET ${DISC}`, status: 200,
        check: (d) => assert.deepEqual(d.backup_schedules.map((s: any) => s.id), [schedule]),
      },
      // The recording unschedules id 44, which does not exist here either: 404.
      { cmd: 'unschedule backups web1.default.acme disc-1 44', req: `DELETE ${DISC}/backup_schedules/44`, status: 404 },
      { cmd: 'unschedule backups web1.default.acme disc-1 <id>', req: () => `DELETE ${DISC}/backup_schedules/${schedule}`, status: 204 },
      { cmd: 'show disc --server web1.default.acme --disc disc-1', req: `GET ${DISC}`, status: 200, check: (d) => assert.deepEqual(d.backup_schedules, []) },
    ]);
  } finally {
    await w.t.close();
  }
});

test('bytemark-client: show privileges (4 ways), grant (3 kinds), revoke by matching the listed fields', async () => {
  const w = await world();
  try {
    const { t } = w;
    // bob can already use db1's console; he has an API key `ci` for the --api-key-id grant.
    assert.equal((await t.req('POST', '/users/bob/privileges', { token: t.adminToken, body: { level: 'vm_console', virtual_machine_id: w.db1 } })).status, 201);
    const key = await t.req('POST', '/api_keys', { token: t.adminToken, body: { user_id: w.bob.id, label: 'ci' } });
    assert.equal(key.status, 201, key.text);
    const token = await bytemarkLogin(w);
    const row = (p: any) => `${p.username} ${p.level} ${p.account_name ?? p.group_name ?? p.virtual_machine_name}`;
    const rows = (list: any[]) => {
      list.forEach((p) => goDecodes('privilege', p, GO_PRIVILEGE));
      return list.map(row).sort();
    };
    let revoked = 0;
    const aliceAdmin = 'alice account_admin acme';
    const bobConsole = 'bob vm_console db1';
    await replay(t, bytemark(token), [
      {
        cmd: 'show privileges', req: 'GET /privileges', status: 200,
        check: (list) => {
          assert.deepEqual(rows(list), [aliceAdmin]);
          const [p] = list;
          // The table: ID, Username, Level, APIKeyID, PasswordRequired, YubikeyRequired, Target.
          assert.deepEqual([p.account_id, p.group_id, p.virtual_machine_id, p.api_key_id, p.password_required, p.yubikey_required],
            [w.acme.id, null, null, 0, true, false]);
        },
      },
      { cmd: 'show privileges --user bob', req: 'GET /users/bob/privileges', status: 200, check: (list) => assert.deepEqual(rows(list), [bobConsole]) },
      { cmd: 'show privileges --account acme', req: 'GET /accounts/acme/privileges', status: 200, check: (list) => assert.deepEqual(rows(list), [aliceAdmin, bobConsole]) },
      { cmd: 'show privileges --group default.acme', req: `GET ${G}/privileges`, status: 200, check: (list) => assert.deepEqual(rows(list), [bobConsole]) },
      { cmd: 'show privileges --server web1.default.acme', req: `GET ${WEB1}/privileges`, status: 200, check: (list) => assert.deepEqual(list, []) },
      { cmd: "grant privilege 'vm_admin on web1.default.acme to bob'", req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200 },
      {
        cmd: "grant privilege 'vm_admin on web1.default.acme to bob'", req: 'POST /users/bob/privileges', status: 201,
        body: `{"virtual_machine_id":${w.web1},"level":"vm_admin","password_required":true,"yubikey_required":false}`,
        check: (p) => {
          goDecodes('privilege', p, GO_PRIVILEGE);
          assert.deepEqual([p.username, p.level, p.virtual_machine_id, p.virtual_machine_name, p.password_required, p.yubikey_required, p.api_key_id],
            ['bob', 'vm_admin', w.web1, 'web1', true, false, 0]);
        },
      },
      { cmd: "grant privilege --yubikey-required 'group_admin on default.acme to bob'", req: `GET ${G}${OVERVIEW}`, status: 200 },
      {
        cmd: "grant privilege --yubikey-required 'group_admin on default.acme to bob'", req: 'POST /users/bob/privileges', status: 201,
        body: `{"group_id":${w.acme.defaultGroupId},"level":"group_admin","password_required":true,"yubikey_required":true}`,
        check: (p) => assert.deepEqual([p.level, p.group_id, p.group_name, p.yubikey_required], ['group_admin', w.acme.defaultGroupId, 'default', true]),
      },
      { cmd: "grant privilege --api-key-id N 'vm_console on web1.default.acme to bob'", req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200 },
      {
        cmd: "grant privilege --api-key-id N 'vm_console on web1.default.acme to bob'", req: 'POST /users/bob/privileges', status: 201,
        body: `{"virtual_machine_id":${w.web1},"api_key_id":${key.body.id},"level":"vm_console","password_required":false,"yubikey_required":false}`,
        check: (p) => assert.deepEqual([p.level, p.api_key_id, p.password_required], ['vm_console', key.body.id, false]),
      },
      {
        cmd: 'show privileges --server web1.default.acme', req: `GET ${WEB1}/privileges`, status: 200,
        check: (list) => assert.deepEqual(rows(list), ['bob vm_admin web1', 'bob vm_console web1']),
      },
      { cmd: "revoke privilege 'account_admin on acme from alice'", req: `GET /accounts/acme${OVERVIEW}`, status: 200 },
      {
        cmd: "revoke privilege 'account_admin on acme from alice'", req: 'GET /accounts/acme/privileges', status: 200,
        check: (list) => {
          // The client's match: (virtual_machine_id, group_id, account_id, yubikey_required, level, username), nulls read as 0.
          const want = { virtual_machine_id: 0, group_id: 0, account_id: w.acme.id, yubikey_required: false, level: 'account_admin', username: 'alice' };
          const hits = list.filter((p: any) => Object.entries(want).every(([k, v]) => (p[k] ?? (typeof v === 'number' ? 0 : null)) === v));
          assert.equal(hits.length, 1, 'exactly one privilege matches');
          revoked = hits[0].id;
        },
      },
      { cmd: "revoke privilege 'account_admin on acme from alice'", req: () => `DELETE /privileges/${revoked}`, status: 204 },
      // Alice gave away her only privilege on acme: it no longer exists for her.
      { cmd: 'show account acme (after the revoke)', req: `GET /accounts/acme${OVERVIEW}`, status: 404 },
      { cmd: 'show privileges (after the revoke)', req: 'GET /privileges', status: 200, check: (list) => assert.deepEqual(list, []) },
    ]);
  } finally {
    await w.t.close();
  }
});

test('bytemark-client: show/add/delete keys (the whole user PUT back), show/add/delete api keys', async () => {
  const w = await world();
  try {
    const { t } = w;
    const token = await bytemarkLogin(w);
    // alice's keys and an API key `ci`, as in the recording.
    const keys = 'ssh-rsa AAAA alice@laptop\nssh-ed25519 BBBB alice@desk';
    assert.equal((await t.req('PUT', '/users/alice', { token, body: { authorized_keys: keys } })).status, 200);
    assert.equal((await t.req('POST', '/api_keys', { token, body: { label: 'ci', expires_at: '2030-01-01' } })).status, 201);
    const user = (u: any) => {
      goDecodes('user', u, { id: 'int', username: 'string', email: 'string', authorized_keys: 'string' });
      assert.deepEqual([u.id, u.username, u.email], [w.alice.id, 'alice', 'alice@example.com']);
    };
    const GO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{4}$/; // 2006-01-02T15:04:05-0700
    let newKey = '';
    let ciId = 0;
    await replay(t, bytemark(token), [
      {
        cmd: 'show keys', req: 'GET /users/alice', status: 200,
        check: (u) => {
          user(u);
          // One newline-separated string; the client splits it on \n.
          assert.equal(u.authorized_keys, keys);
        },
      },
      { cmd: "add key 'ssh-rsa CCCC new@key'", req: 'GET /users/alice', status: 200 },
      {
        cmd: "add key 'ssh-rsa CCCC new@key'", req: 'PUT /users/alice', status: 200,
        body: `{"id":${w.alice.id},"username":"alice","email":"alice@example.com","authorized_keys":"ssh-rsa AAAA alice@laptop\\nssh-ed25519 BBBB alice@desk\\nssh-rsa CCCC new@key"}`,
        check: (u) => assert.equal(u.authorized_keys, `${keys}\nssh-rsa CCCC new@key`),
      },
      { cmd: 'delete key alice@laptop', req: 'GET /users/alice', status: 200 },
      {
        cmd: 'delete key alice@laptop', req: 'PUT /users/alice', status: 200,
        body: `{"id":${w.alice.id},"username":"alice","email":"alice@example.com","authorized_keys":"ssh-ed25519 BBBB alice@desk"}`,
        check: (u) => {
          user(u);
          assert.equal(u.authorized_keys, 'ssh-ed25519 BBBB alice@desk');
        },
      },
      {
        cmd: 'show api keys', req: 'GET /api_keys?view=overview', status: 200,
        check: (list) => {
          assert.equal(list.length, 1);
          const [k] = list;
          goDecodes('api key', k, { id: 'int', user_id: 'int', label: 'string', expires_at: 'string' });
          assert.deepEqual([k.label, k.user_id, k.expires_at, k.expired, k.privileges], ['ci', w.alice.id, '2030-01-01T00:00:00+0000', false, []]);
          assert.match(k.expires_at, GO_TIME);
          assert.ok(!('api_key' in k), 'the secret is only shown at creation');
        },
      },
      { cmd: 'show api keys', req: 'GET /users/alice', status: 200, check: user },
      { cmd: 'add api key --expires-at 2030-01-01 ci2', req: 'GET /users/alice', status: 200, check: user },
      {
        cmd: 'add api key --expires-at 2030-01-01 ci2', req: 'POST /api_keys', body: `{"user_id":${w.alice.id},"label":"ci2","expires_at":"2030-01-01"}`, status: 201,
        check: (k) => {
          assert.deepEqual([k.label, k.user_id, k.expires_at], ['ci2', w.alice.id, '2030-01-01T00:00:00+0000']);
          assert.match(k.api_key, /^[A-Za-z0-9_-]{20,}$/);
          newKey = k.api_key;
        },
      },
      {
        cmd: 'delete api key ci', req: 'GET /api_keys?view=overview', status: 200,
        check: (list) => {
          assert.deepEqual(list.map((k: any) => k.label), ['ci', 'ci2']);
          ciId = list[0].id;
        },
      },
      { cmd: 'delete api key ci', req: () => `DELETE /api_keys/${ciId}`, status: 204 },
      { cmd: 'show api keys', req: 'GET /api_keys?view=overview', status: 200, check: (list) => assert.deepEqual(list.map((k: any) => k.label), ['ci2']) },
    ]);
    // The new key is a token of its own (`~/.bytemark/token` = apikey.<key>): valid, with only the
    // privileges bound to it, which are none yet.
    await replay(t, bytemark(`apikey.${newKey}`), [
      { cmd: 'show accounts (apikey token)', req: `GET /accounts${OVERVIEW}`, status: 200, check: (list) => assert.deepEqual(list, []) },
      { cmd: 'show account acme (apikey token)', req: `GET /accounts/acme${OVERVIEW}`, status: 404 },
    ]);
  } finally {
    await w.t.close();
  }
});

// =============================================================================================
// bigv-python (python output: groups ['default'], machines [('web1', id, group, False)], ...)

test('bigv-python: form login, listings by numeric ids, power, signals, delete/undelete/purge, create, discs, definitions', async () => {
  const w = await world({ web1: 'off' });
  try {
    const { t } = w;
    // The library logs in form-encoded (with its yubikey field) and takes the text/plain body as the token.
    const login = await t.req('POST', '/session', {
      raw: `username=alice&password=${w.alice.password}&yubikey=ccccyubi`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: '*/*' },
    });
    assert.equal(login.status, 200, login.text);
    assert.match(String(login.headers['content-type']), /^text\/plain/);
    // Only web1 in the group, as in the recording.
    await t.req('DELETE', `${G}/virtual_machines/db1?purge=true`, { token: t.adminToken });
    const gid = w.acme.defaultGroupId;
    const VM = `/accounts/acme/groups/${gid}/virtual_machines/${w.web1}`;
    let vmx = 0;
    const machines = (list: any[]) => list.map((m) => [m.name, m.id, m.group_id, m.deleted]);
    await replay(t, python(login.text), [
      {
        cmd: 'BigVAccount.groups()', req: 'GET /accounts/acme/groups', status: 200,
        check: (list) => assert.deepEqual(list.map((g: any) => [g.name, g.id, g.account_id]), [['default', gid, w.acme.id], ['other', w.otherGroupId, w.acme.id]]),
      },
      {
        cmd: 'BigVGroup.machines()', req: `GET /accounts/acme/groups/${gid}/virtual_machines?include_deleted=True`, status: 200,
        check: (list) => {
          assert.deepEqual(machines(list), [['web1', w.web1, gid, false]]);
          const [m] = list;
          // Everything BigVMachine reads.
          assert.deepEqual([m.cores, m.memory, m.power_on, m.autoreboot_on, m.hardware_profile, m.zone_name, m.hostname],
            [1, 1024, false, false, 'virtio2013', 'york', 'web1.default.acme.hangar.local']);
        },
      },
      {
        cmd: 'BigVMachine.discs()', req: `GET ${VM}/discs`, status: 200,
        check: (list) => assert.deepEqual(list.map((d: any) => ({ label: d.label, grade: d.storage_grade, size: d.size })), [{ label: 'disc-1', grade: 'sata', size: 25600 }]),
      },
      {
        cmd: 'BigVMachine.nics()', req: `GET ${VM}/nics`, status: 200,
        check: (list) => {
          assert.equal(list.length, 1);
          assert.deepEqual(list[0].ips.map((a: string) => net.isIP(a)), [4, 6]);
          assert.match(list[0].mac, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
        },
      },
      { cmd: 'start', req: `PUT ${VM}`, body: '{"power_on": true}', status: 200, check: (m) => assert.deepEqual([m.type, m.id, m.power_on], ['application/vnd.bigv.virtual-machine', w.web1, true]) },
      { cmd: 'stop', req: `PUT ${VM}`, body: '{"power_on": false, "autoreboot_on": false}', status: 200, check: (m) => assert.deepEqual([m.power_on, m.autoreboot_on], [false, false]) },
      {
        // Recorded right after `stop`; a signal needs a running machine, so it is a clear 400 here.
        cmd: 'reset (machine off)', req: `POST ${VM}/signal`, body: '{"signal": "reset"}', status: 400, check: (e) => assert.ok(e.signal),
      },
      {
        cmd: '(setup) start', req: `PUT ${VM}`, body: '{"power_on": true}', status: 200,
        check: () => until('web1 running', async () => t.drivers[0]!.machines.has(w.web1)),
      },
      { cmd: 'reset', req: `POST ${VM}/signal`, body: '{"signal": "reset"}', status: 200, check: (r) => assert.deepEqual(r, { signal: 'reset' }) },
      {
        cmd: 'shutdown', req: `POST ${VM}/signal`, body: '{"signal": "powerdown"}', status: 200,
        check: async (r) => {
          assert.deepEqual(r, { signal: 'powerdown' });
          await until('off (autoreboot is off)', async () => (await w.vm(w.web1)).power_on === false);
        },
      },
      {
        cmd: '(setup) start', req: `PUT ${VM}`, body: '{"power_on": true}', status: 200,
        check: () => until('web1 running', async () => t.drivers[0]!.machines.has(w.web1)),
      },
      {
        // `cad` names the key `del` (spec §4.4's own example): it must reach the guest as ctrl-alt-delete.
        cmd: 'cad', req: `POST ${VM}/signal`, body: '{"signal": "sendkey", "data": "ctrl-alt-del"}', status: 200,
        check: (r) => {
          assert.deepEqual(r, { signal: 'sendkey', data: 'ctrl-alt-del' });
          assert.ok(t.drivers[0]!.calls.includes(`signal ${w.web1} sendkey ctrl-alt-delete`), t.drivers[0]!.calls.join(', '));
        },
      },
      { cmd: 'delete', req: `DELETE ${VM}?purge=False`, status: 204 },
      {
        cmd: 'BigVGroup.machines()', req: `GET /accounts/acme/groups/${gid}/virtual_machines?include_deleted=True`, status: 200,
        check: (list) => assert.deepEqual(machines(list), [['web1', w.web1, gid, true]], 'purge=False is a soft delete'),
      },
      { cmd: 'undelete', req: `PUT ${VM}`, body: '{"deleted": false}', status: 200, check: (m) => assert.equal(m.deleted, false) },
      { cmd: 'purge', req: `DELETE ${VM}?purge=True`, status: 204 },
      { cmd: 'BigVGroup.machines()', req: `GET /accounts/acme/groups/${gid}/virtual_machines?include_deleted=True`, status: 200, check: (list) => assert.deepEqual(list, []) },
      { cmd: 'create_group', req: 'GET /accounts/acme/groups', status: 200 },
      { cmd: 'create_group', req: 'POST /accounts/acme/groups', body: '{"name": "shop"}', status: 201, check: (g) => assert.equal(g.name, 'shop') },
      { cmd: 'create_group', req: 'GET /accounts/acme/groups', status: 200, check: (list) => assert.deepEqual(list.map((g: any) => g.name), ['default', 'other', 'shop']) },
      { cmd: 'create_machine', req: `GET /accounts/acme/groups/${gid}/virtual_machines?include_deleted=True`, status: 200, check: (list) => assert.deepEqual(list, []) },
      {
        // Names are DNS labels kept exactly as given, so an upper-case name is refused (not silently
        // lowercased, which would hide the machine from bigv-python's exact-name lookup).
        cmd: 'create_machine', req: `POST /accounts/acme/groups/${gid}/vm_create`, status: 400,
        body: '{"virtual_machine": {"name": "vmX", "cores": 2, "memory": 2048, "zone_name": "york"}, "discs": [{"label": "disc-a", "storage_grade": "sata", "size": 25600}], "reimage": {"distribution": "stretch", "root_password": "pw"}}',
        check: (r) => assert.deepEqual(r, { name: ['is invalid: use lower-case letters (names are DNS labels)'] }),
      },
      {
        cmd: 'create_machine', req: `POST /accounts/acme/groups/${gid}/vm_create`, status: 202,
        body: '{"virtual_machine": {"name": "vmx", "cores": 2, "memory": 2048, "zone_name": "york"}, "discs": [{"label": "disc-a", "storage_grade": "sata", "size": 25600}, {"label": "disc-b", "storage_grade": "archive", "size": 102400}], "reimage": {"distribution": "stretch", "root_password": "pw", "ssh_public_key": "ssh-rsa AAA"}}',
        check: (r) => {
          vmx = r.virtual_machine.id;
        },
      },
      {
        // The library polls the group's list until the machine is on (no power flags were sent: an imaged machine starts).
        cmd: 'create_machine (wait for power_on)', req: `GET /accounts/acme/groups/${gid}/virtual_machines?include_deleted=True`, status: 200,
        pollUntil: (list) => list[0]?.power_on === true,
        check: (list) => assert.deepEqual(list.map((m: any) => [m.name, m.cores, m.memory, m.zone_name]), [['vmx', 2, 2048, 'york']]),
      },
      {
        cmd: 'create_disc', req: () => `GET /accounts/acme/groups/${gid}/virtual_machines/${vmx}/discs`, status: 200,
        check: (list) => assert.deepEqual(list.map((d: any) => [d.label, d.storage_grade, d.size]), [['disc-a', 'sata', 25600], ['disc-b', 'archive', 102400]]),
      },
      {
        cmd: 'create_disc', req: () => `POST /accounts/acme/groups/${gid}/virtual_machines/${vmx}/discs`, body: '{"label": "data", "storage_grade": "ssd", "size": 51200}', status: 201,
        check: (d) => assert.deepEqual([d.label, d.storage_grade, d.size, d.virtual_machine_id], ['data', 'ssd', 51200, vmx]),
      },
      { cmd: 'create_disc', req: () => `GET /accounts/acme/groups/${gid}/virtual_machines/${vmx}/discs`, status: 200, check: (list) => assert.equal(list.length, 3) },
      {
        cmd: 'BigVDefinitions', req: 'GET /definitions', status: 200, anonymous: true,
        check: (defs) => assert.deepEqual(defs.find((d: any) => d.id === 'storage_grades').data, ['sata', 'ssd', 'archive']),
      },
    ]);
  } finally {
    await w.t.close();
  }
});

// =============================================================================================
// docker-machine-driver-bytemark (an API key, bytemark-client 3.5's library)

test('docker-machine: apikey token, pre-create check, create with junk discs, GetState/GetIP, start/stop/kill/remove', async () => {
  const w = await world();
  try {
    const { t } = w;
    // alice makes a key for the driver and gives it group_admin on acme's default group (bytemark-client's
    // `add api key` and `grant --api-key-id`).
    const alice = await bytemarkLogin(w);
    const key = await t.req('POST', '/api_keys', { token: alice, body: { user_id: w.alice.id, label: 'docker', expires_at: '2030-01-01' } });
    assert.equal(key.status, 201, key.text);
    const grant = await t.req('POST', '/users/alice/privileges', { token: alice, body: { group_id: w.acme.defaultGroupId, api_key_id: key.body.id, level: 'group_admin', password_required: false, yubikey_required: false } });
    assert.equal(grant.status, 201, grant.text);
    await replay(t, bytemark(alice), [
      {
        // The Privileges column of `show api keys` lists what is bound to each key.
        cmd: 'show api keys', req: 'GET /api_keys?view=overview', status: 200,
        check: (list) => {
          assert.deepEqual(list.map((k: any) => k.label), ['docker']);
          list[0].privileges.forEach((p: any) => goDecodes('key privilege', p, GO_PRIVILEGE));
          assert.deepEqual(list[0].privileges.map((p: any) => [p.level, p.group_id, p.api_key_id, p.username]), [['group_admin', w.acme.defaultGroupId, key.body.id, 'alice']]);
        },
      },
    ]);

    const SSH = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDFnKeJ8uJRgNWJ24frdZ8mxmRI0s+l7wZxfwFL1gTlklhnmPEXom+YVlz/pn/I7aHma1AdDLdODJh/6PlWD3cBmMDZaexM4hb51R1NxQMwhPBVcKIx5sOyKtjorKcIJvuAD4LQ54DtmBjmWFflFj4QgA20LVE5ZMGopVfsWQzAvANx5zHUfTpzNL4D78UlNe3aISwSMGGFCp0099rMC90d8BG3jMH5Dn/mAgHUYIApAfiggSvFafe/cvgyjBWsyva2H19qvdWTDxw8ZE8NCzOTQnNPOuP2TFFc62K8CzEmPIwrN4YHZw+XvE711+iItN2TXQSHUJgIRgJIYu7gczmN\n';
    const DMVM = `${G}/virtual_machines/dmvm`;
    let ip = '';
    let dmvm = 0;
    await replay(t, dockerMachine(key.body.api_key), [
      {
        // Machine name without an account: the first account of this list.
        cmd: 'create (default account)', req: `GET /accounts${OVERVIEW}`, status: 200,
        check: (list) => assert.deepEqual(list.map((a: any) => a.name), ['acme']),
      },
      {
        cmd: 'PreCreateCheck', req: `GET ${G}${OVERVIEW}`, status: 200,
        check: (g) => {
          assert.deepEqual(g.virtual_machines.map((v: any) => v.name).sort(), ['db1', 'web1'], 'dmvm is not there yet');
          for (const vm of g.virtual_machines) overviewVm(vm.name, vm, { group: 'default', account: 'acme' });
        },
      },
      {
        // No power flags, and a junk `discs` inside `virtual_machine` (ignored).
        cmd: 'Create', req: `POST ${G}/vm_create`, status: 202,
        body: JSON.stringify({
          virtual_machine: { cores: 1, memory: 1024, name: 'dmvm', zone_name: 'york', discs: [{ label: 'disk-1', storage_grade: 'sata', size: 25600 }] },
          discs: [{ label: 'disc-1', storage_grade: 'sata', size: 25600 }],
          reimage: { distribution: 'stretch', firstboot_script: '', root_password: 'Shohshu9mi9aephahnaigi5l', ssh_public_key: SSH },
        }),
        check: (r) => {
          dmvm = r.virtual_machine.id;
          assert.deepEqual(r.discs.map((d: any) => d.label), ['disc-1'], 'only the real discs');
        },
      },
      {
        // GetState polls until power_on; GetIP is the first IP of the first NIC.
        cmd: 'GetState / GetIP', req: `GET ${DMVM}${VM_OVERVIEW}`, status: 200,
        pollUntil: (vm) => vm.power_on === true && vm.state === 'running',
        check: (vm) => {
          overviewVm('dmvm', vm, { group: 'default', account: 'acme' });
          ip = vm.network_interfaces.find((n: any) => n.ips.length)?.ips[0];
          assert.equal(net.isIP(ip), 4, 'the primary address is IPv4');
          const disc = vm.discs[0].id;
          assert.equal(t.drivers[0]!.images.get(disc)?.firstBoot.authorizedKeys.trim(), SSH.trim(), 'the generated key reaches the guest');
        },
      },
      { cmd: 'Start', req: `PUT ${DMVM}`, body: '{"autoreboot_on":true,"power_on":true}', status: 200, check: (vm) => assert.equal(vm.power_on, true) },
      { cmd: 'Stop', req: `PUT ${DMVM}`, body: '{"autoreboot_on":false}', status: 200 },
      { cmd: 'Stop', req: `POST ${DMVM}/signal`, body: '{"signal":"powerdown"}', status: 200 },
      { cmd: 'GetState', req: `GET ${DMVM}${VM_OVERVIEW}`, status: 200, pollUntil: (vm) => vm.power_on === false },
      { cmd: 'Start', req: `PUT ${DMVM}`, body: '{"autoreboot_on":true,"power_on":true}', status: 200 },
      { cmd: 'Kill', req: `PUT ${DMVM}`, body: '{"autoreboot_on":false,"power_on":false}', status: 200, check: (vm) => assert.equal(vm.power_on, false) },
      { cmd: 'GetIP (same address while it exists)', req: `GET ${DMVM}${VM_OVERVIEW}`, status: 200, check: (vm) => assert.equal(vm.network_interfaces[0].ips[0], ip) },
      { cmd: 'Remove', req: `DELETE ${DMVM}?purge=true`, status: 204 },
      { cmd: 'GetState (after Remove)', req: `GET ${DMVM}${VM_OVERVIEW}`, status: 404 },
      // The key carries only the privileges bound to it: alice's account_admin does not come with it.
      { cmd: '(key scope) add group', req: 'POST /accounts/acme/groups', body: '{"name":"dm"}', status: 403 },
    ]);
    assert.ok(dmvm > 0);
  } finally {
    await w.t.close();
  }
});

// =============================================================================================
// A head configured with a host name (`hangar server --listen 0.0.0.0` uses os.hostname()) must
// not break the Go clients: management_address is a net.IP there.

test('bytemark-client: management_address decodes as an IP even when the head was given a host name', async () => {
  const t = await startTest({ heads: [{ label: 'head1', zone: 'york', managementAddress: 'brain.example' }] });
  try {
    await account(t, 'acme');
    assert.equal((await t.req('POST', `${G}/virtual_machines`, { token: t.adminToken, body: { name: 'web1' } })).status, 202);
    await replay(t, bytemark(t.adminToken), [
      { cmd: 'show server web1.default.acme', req: `GET ${WEB1}${VM_OVERVIEW}`, status: 200, check: (vm) => overviewVm('web1', vm, { group: 'default', account: 'acme' }) },
    ]);
  } finally {
    await t.close();
  }
});
