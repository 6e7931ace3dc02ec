// Bad input on every BigV endpoint (issue 2, "Bad input"): malformed JSON, wrong types, oversize
// bodies, bad names, bad sizes, unknown vocabulary, unknown or foreign ids in every path segment.
// Each answer is a 4xx in BigV's shape ({"field":["message"]}, vm_create's disc errors aligned
// with the request's discs, {"error":...} for 403/404/413/415), never a 500, and nothing is
// half-written: the whole store is compared before and after every case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import util from 'node:util';
import { account, SSH_KEY, startTest, type Reply, type TestHangar } from '../helpers.js';
import { FakeDriver } from '../../src/drivers/fake/driver.js';
import { runningNow, snapshot } from '../snapshot.js';
import { bigvRouteKeys, routeKeyOf } from '../routes.js';
import { registeredRoutes } from '../../src/api/app.js';

const ACC = '/accounts/acme';
const GRP = `${ACC}/groups/default`;
const VMS = `${GRP}/virtual_machines`;
const WEB1 = `${VMS}/web1`;
const WEB2 = `${VMS}/web2`;
const BIG = '99999999999999999999';
const INT_OVER = 2 ** 31; // beyond PostgreSQL's integer

interface Fx {
  t: TestHangar;
  /** account_admin on acme: the caller for "another tenant's ids". */
  tenant: string;
  id: Record<string, number>;
  ip: Record<string, string>;
  /** The public id of x1's vm_create operation (another tenant's). */
  x1Operation: string;
}

async function fixture(opts: Parameters<typeof startTest>[0] = {}): Promise<Fx> {
  const t = await startTest(opts);
  const admin = (method: string, url: string, body?: unknown) => t.req(method, url, { token: t.adminToken, body });
  const acme = await account(t, 'acme');
  const other = await account(t, 'other');
  const web1 = (await admin('POST', `${GRP}/vm_create`, {
    virtual_machine: { name: 'web1', power_on: true, autoreboot_on: true }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }],
  })).body.virtual_machine;
  // web2: off, with the most discs a VM may have.
  const web2 = (await admin('POST', `${GRP}/vm_create`, {
    virtual_machine: { name: 'web2' }, discs: Array.from({ length: 8 }, (_, i) => ({ label: `disc-${i + 1}`, size: 64 })),
  })).body.virtual_machine;
  const bare = (await admin('POST', VMS, { name: 'bare' })).body;
  const x1Created = await admin('POST', '/accounts/other/groups/default/vm_create', {
    virtual_machine: { name: 'x1' }, discs: [{ label: 'disc-1', size: 1024 }],
  });
  const x1 = x1Created.body.virtual_machine;
  await admin('POST', `${ACC}/groups`, { name: 'shop' });
  await admin('POST', `${ACC}/groups/shop/virtual_machines`, { name: 'db1' });
  await runningNow(t, web1.id);
  const tenant = await t.user('tenant', { level: 'account_admin', account_id: acme.id });
  await t.user('bob');
  const bobKey = (await admin('POST', '/api_keys', { label: 'bob', user_id: (await admin('GET', '/users/bob')).body.id })).body;
  const extra = (await admin('POST', `${WEB1}/nics/${web1.network_interfaces[0].id}/ip_create`, { addresses: 1 })).body.ips[0];
  const priv = (await admin('GET', '/users/tenant/privileges')).body[0];
  const backup = (await admin('POST', `${WEB1}/discs/disc-1/backups`)).body;
  const schedule = (await admin('POST', `${WEB1}/discs/disc-1/backup_schedules`, { interval_seconds: 86400 })).body;
  const ipv4 = (vm: any) => vm.network_interfaces[0].ips.find((a: string) => a.includes('.'));
  return {
    t, tenant,
    id: {
      acme: acme.id, other: other.id, otherDefault: other.defaultGroupId, web1: web1.id, web2: web2.id, bare: bare.id, x1: x1.id,
      web1Disc: web1.discs[0].id, x1Disc: x1.discs[0].id, web1Nic: web1.network_interfaces[0].id, x1Nic: x1.network_interfaces[0].id,
      web2Nic: web2.network_interfaces[0].id, bobKey: bobKey.id, priv: priv.id, backup: backup.id, schedule: schedule.id,
    },
    ip: { web1: ipv4(web1), x1: ipv4(x1), extra },
    x1Operation: String(x1Created.headers.location).replace('/operations/', ''),
  };
}

/** What a case expects of the body: exactly this object, these field names, or a check. */
type Want = Record<string, unknown> | string[] | ((body: any) => void);
interface Case { name: string; method: string; url: string; body?: unknown; raw?: string; headers?: Record<string, string>; as?: 'tenant'; status: number; want?: Want }

async function run(fx: Fx, cases: Case[]): Promise<string[]> {
  const wrong: string[] = [];
  for (const c of cases) {
    // GETs write nothing to begin with; every other refused request must leave the store as it was.
    const before = c.method === 'GET' ? null : await snapshot(fx.t);
    const token = c.as === 'tenant' ? fx.tenant : fx.t.adminToken;
    const r: Reply = await fx.t.req(c.method, c.url, { token, body: c.body, raw: c.raw, headers: c.headers });
    const label = `${c.name} (${c.method} ${c.url.slice(0, 80)})`;
    try {
      assert.equal(r.status, c.status, `status ${r.status}: ${r.text.slice(0, 300)}`);
      assert.equal(r.headers['content-type'], 'application/json', `content-type ${r.headers['content-type']}`);
      if (c.status === 413 || c.status === 415) {
        // Body-level problems keep the field shape, on the pseudo-field `body`.
        assert.deepEqual(Object.keys(r.body), ['body'], r.text);
      } else if (c.status === 400) {
        // BigV's shape: every value a list of messages (or, for vm_create discs, a list of objects).
        for (const [k, v] of Object.entries(r.body)) {
          assert.ok(Array.isArray(v) && v.length > 0, `${k} holds a list: ${r.text}`);
          for (const m of v as unknown[]) assert.ok(typeof m === 'string' || (k === 'discs' && typeof m === 'object' && m !== null), `${k}: ${r.text}`);
        }
      } else {
        assert.equal(typeof r.body.error, 'string', `{"error":...}: ${r.text}`);
      }
      if (Array.isArray(c.want)) assert.deepEqual(Object.keys(r.body).sort(), c.want.slice().sort(), `fields: ${r.text}`);
      else if (typeof c.want === 'function') c.want(r.body);
      else if (c.want) assert.deepEqual(r.body, c.want);
      if (before) assert.deepEqual(await snapshot(fx.t), before, 'the store changed');
    } catch (err) {
      wrong.push(`${label}: ${(err as Error).message.split('\n').slice(0, 12).join('\n')}`);
    }
  }
  return wrong;
}

const NOT_JSON = { body: ['is not valid JSON'] };
const NOT_OBJECT = { body: ['must be an object'] };
const TOO_LARGE = { body: ['is too large'] };

/** Every endpoint that takes a JSON body, with a body it would accept. */
function bodyEndpoints(fx: Fx): [string, string, unknown][] {
  return [
    ['POST', '/accounts', { name: 'fresh' }],
    ['PUT', ACC, { suspended: false }],
    ['POST', `${ACC}/groups`, { name: 'fresh' }],
    ['PUT', `${ACC}/groups/shop`, { name: 'shop' }],
    ['POST', VMS, { name: 'fresh' }],
    ['POST', `${GRP}/vm_create`, { virtual_machine: { name: 'fresh' } }],
    ['PUT', WEB1, { cores: 1 }],
    ['POST', `${WEB1}/signal`, { signal: 'nmi' }],
    ['POST', `${WEB2}/reimage`, { distribution: 'tiny' }],
    ['POST', `${WEB1}/discs`, { label: 'fresh', size: 64 }],
    ['PUT', `${WEB1}/discs/disc-1`, { size: 1024 }],
    ['PUT', `/discs/${fx.id.web1Disc}`, { size: 1024 }],
    ['PUT', `${WEB1}/discs/disc-1/backups/${fx.id.backup}`, { restore: false }],
    ['POST', `${WEB1}/discs/disc-1/backup_schedules`, { interval_seconds: 86400 }],
    ['POST', `${WEB1}/nics/${fx.id.web1Nic}/ip_create`, { addresses: 1 }],
    ['PUT', `/ips/${fx.ip.web1}`, { rdns: null }],
    ['POST', '/ips/swap_virtual_machine_ips', { virtual_machine_1_id: fx.id.web2, virtual_machine_2_id: fx.id.bare }],
    ['POST', '/users', { username: 'fresh', password: 'long-enough-1' }],
    ['PUT', '/users/bob', { email: 'bob@example.com' }],
    ['POST', '/users/bob/privileges', { level: 'vm_console', virtual_machine_id: fx.id.web1 }],
    ['PUT', `/privileges/${fx.id.priv}`, { yubikey_required: false }],
    ['POST', '/api_keys', { label: 'fresh' }],
  ];
}

test('malformed, non-object, oversize and non-JSON bodies on every endpoint that takes one', async () => {
  const fx = await fixture();
  try {
    const cases: Case[] = [];
    for (const [method, url] of bodyEndpoints(fx)) {
      cases.push(
        { name: 'malformed JSON', method, url, raw: '{"name": "x",', status: 400, want: NOT_JSON },
        { name: 'trailing garbage', method, url, raw: '{} {}', status: 400, want: NOT_JSON },
        { name: 'single quotes', method, url, raw: "{'name':'x'}", status: 400, want: NOT_JSON },
        { name: 'an array', method, url, raw: '[]', status: 400, want: NOT_OBJECT },
        { name: 'a string', method, url, raw: '"x"', status: 400, want: NOT_OBJECT },
        { name: 'a number', method, url, raw: '5', status: 400, want: NOT_OBJECT },
        { name: 'null', method, url, raw: 'null', status: 400, want: NOT_OBJECT },
        { name: 'over 1 MiB', method, url, raw: JSON.stringify({ name: 'x'.repeat(1024 * 1024) }), status: 413, want: TOO_LARGE },
        { name: 'text/plain', method, url, raw: '{}', headers: { 'content-type': 'text/plain' }, status: 400, want: NOT_OBJECT },
        { name: 'XML', method, url, raw: '<a/>', headers: { 'content-type': 'application/xml' }, status: 415, want: { body: ['must be application/json'] } },
        { name: 'NUL in a string', method, url, body: { name: 'a\u0000b', label: 'a\u0000b', email: 'a\u0000b', rdns: 'a\u0000b', signal: 'a\u0000b' }, status: 400 },
      );
    }
    const wrong = await run(fx, cases);
    assert.deepEqual(wrong, [], `${wrong.length} wrong:\n${wrong.join('\n')}`);
    // The list above is every registered route that declares a body: a new one fails here until listed.
    const app = fx.t.running.app;
    const withBody = registeredRoutes(app).filter((r) => r.schema?.body).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(bodyEndpoints(fx).map(([m, url]) => routeKeyOf(app, m, url)).sort(), bigvRouteKeys(app).filter((k) => withBody.includes(k)));
    // Oversize or not, the limit is the body: a body just under 1 MiB is read (and judged on its content).
    const r = await fx.t.req('POST', '/accounts', { token: fx.t.adminToken, raw: JSON.stringify({ name: 'x'.repeat(1000 * 1000) }) });
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.body), ['name']);
  } finally {
    await fx.t.close();
  }
});

test('unknown, foreign and malformed ids and names in every path segment are 404', async () => {
  const fx = await fixture();
  try {
    const { id } = fx;
    // Each route template with the segments that may be swapped; a VM path is {acc}/{grp}/{vm}.
    const vmRoutes: [string, string, unknown?][] = [
      ['GET', ''], ['PUT', '', { cores: 1 }], ['DELETE', ''], ['POST', '/signal', { signal: 'nmi' }], ['POST', '/reimage', { distribution: 'tiny' }],
      ['GET', '/privileges'], ['GET', '/discs'], ['POST', '/discs', { size: 64 }], ['GET', '/discs/disc-1'], ['PUT', '/discs/disc-1', { size: 2048 }],
      ['DELETE', '/discs/disc-1?purge=true'], ['GET', '/discs/disc-1/backups'], ['POST', '/discs/disc-1/backups'],
      ['POST', '/discs/disc-1/backup_schedules', { interval_seconds: 60 }], ['GET', '/nics'], ['GET', `/nics/${id.web1Nic}`],
      ['POST', `/nics/${id.web1Nic}/ip_create`, { addresses: 1 }], ['PUT', `/discs/disc-1/backups/${id.backup}`, { restore: false }],
      ['DELETE', `/discs/disc-1/backups/${id.backup}?purge=true`], ['DELETE', `/discs/disc-1/backup_schedules/${id.schedule}`],
    ];
    const badSegments = (mine: string, theirs: string | null) => [
      ['an unknown name', 'nope'], ['an unknown id', '999999'], ['an id past the integer range', BIG], ['an int32 overflow', String(INT_OVER)],
      ['a negative id', '-1'], ['a fractional id', '1.5'], ['a NUL', 'a%00b'], ['spaces', 'a+b'], ['a bad escape', '%ff'], ['an encoded slash', 'a%2Fb'],
      ['upper case of an unknown', 'NOPE'], ...(theirs ? [['another tenant\'s id', theirs]] : []),
    ].map(([what, seg]) => [what!, seg!, mine] as const);
    const cases: Case[] = [];
    for (const [method, tail, body] of vmRoutes) {
      const positions: [string, (seg: string) => string, string | null][] = [
        ['account', (s) => `/accounts/${s}/groups/default/virtual_machines/web1${tail}`, String(id.other)],
        ['group', (s) => `/accounts/acme/groups/${s}/virtual_machines/web1${tail}`, String(id.otherDefault)],
        ['vm', (s) => `/accounts/acme/groups/default/virtual_machines/${s}${tail}`, String(id.x1)],
      ];
      if (tail.startsWith('/discs/disc-1')) positions.push(['disc', (s) => `${WEB1}${tail.replace('disc-1', s)}`, String(id.x1Disc)]);
      if (tail.startsWith('/nics/')) positions.push(['nic', (s) => `${WEB1}${tail.replace(String(id.web1Nic), s)}`, String(id.x1Nic)]);
      if (tail.includes('/backups/')) positions.push(['backup', (s) => `${WEB1}${tail.replace(`/backups/${id.backup}`, `/backups/${s}`)}`, null]);
      if (tail.includes('/backup_schedules/')) positions.push(['schedule', (s) => `${WEB1}${tail.replace(`/backup_schedules/${id.schedule}`, `/backup_schedules/${s}`)}`, null]);
      for (const [pos, url, theirs] of positions) {
        for (const [what, seg] of badSegments('', theirs)) {
          cases.push({ name: `${pos} segment: ${what}`, method, url: url(seg), body: body ?? (method === 'GET' || method === 'DELETE' ? undefined : {}), as: 'tenant', status: 404 });
        }
      }
      // Another tenant's whole path: the same 404 as one that does not exist.
      cases.push({ name: 'another tenant\'s VM by name', method, url: `/accounts/other/groups/default/virtual_machines/x1${tail.replace(String(id.web1Nic), String(id.x1Nic))}`, body, as: 'tenant', status: 404 });
      // A disc or NIC of a sibling VM, by id, under this VM.
      if (tail.startsWith('/discs/disc-1')) cases.push({ name: 'a sibling VM\'s disc id', method, url: `${WEB2}${tail.replace('disc-1', String(id.web1Disc))}`, body, status: 404 });
      if (tail.startsWith('/nics/')) cases.push({ name: 'a sibling VM\'s NIC id', method, url: `${WEB2}${tail}`, body, status: 404 });
    }
    // Accounts and groups alone.
    for (const [method, tail, body] of [['GET', ''], ['PUT', '', { suspended: false }], ['GET', '/groups'], ['POST', '/groups', { name: 'g9' }], ['GET', '/privileges'],
      ['GET', '/groups/default'], ['PUT', '/groups/default', { name: 'default' }], ['DELETE', '/groups/default'], ['GET', '/groups/default/virtual_machines'],
      ['POST', '/groups/default/virtual_machines', { name: 'v9' }], ['POST', '/groups/default/vm_create', { virtual_machine: { name: 'v9' } }], ['GET', '/groups/default/privileges']] as const) {
      for (const [what, seg] of badSegments('', String(id.other))) {
        cases.push({ name: `account segment: ${what}`, method, url: `/accounts/${seg}${tail}`, body, as: 'tenant', status: 404 });
      }
      if (tail.startsWith('/groups/default')) {
        for (const [what, seg] of badSegments('', String(id.otherDefault))) {
          cases.push({ name: `group segment: ${what}`, method, url: `${ACC}${tail.replace('default', seg)}`, body, as: 'tenant', status: 404 });
        }
      }
    }
    // Non-nested objects by id, and users, privileges, API keys, IPs.
    const flat: [string, string, unknown?][] = [
      ['GET', '/virtual_machines/{}'], ['GET', '/discs/{}'], ['PUT', '/discs/{}', { size: 2048 }], ['DELETE', '/discs/{}?purge=true'], ['GET', '/nics/{}'],
      ['GET', '/users/{}'], ['PUT', '/users/{}', { email: 'a@b.c' }], ['DELETE', '/users/{}'], ['GET', '/users/{}/privileges'],
      ['GET', '/privileges/{}'], ['PUT', '/privileges/{}', { yubikey_required: false }], ['DELETE', '/privileges/{}'],
      ['GET', '/api_keys/{}'], ['DELETE', '/api_keys/{}'], ['GET', '/ips/{}'], ['PUT', '/ips/{}', { rdns: 'a.example.com' }], ['DELETE', '/ips/{}'],
      ['POST', '/invitations/{}/accept', {}], ['DELETE', '/invitations/{}'], ['GET', '/operations/{}'],
      ['DELETE', '/operations/{}'],
    ];
    for (const [method, tpl, body] of flat) {
      const theirs = tpl.startsWith('/virtual_machines') ? String(id.x1) : tpl.startsWith('/discs') ? String(id.x1Disc) : tpl.startsWith('/nics') ? String(id.x1Nic)
        : tpl.startsWith('/users') && !tpl.endsWith('privileges') ? 'bob' : tpl.startsWith('/api_keys') ? String(id.bobKey) : tpl.startsWith('/ips') ? fx.ip.x1!
          : tpl.startsWith('/operations') ? fx.x1Operation : null;
      for (const [what, seg] of badSegments('', theirs)) {
        cases.push({ name: `${tpl}: ${what}`, method, url: tpl.replace('{}', seg), body, as: 'tenant', status: 404 });
      }
    }
    const listWrong: string[] = [];
    // The tenant may grant on web1: a grant to a name outside acme is an invitation, answered as one
    // to bob (a user outside acme) whatever the name, so that it tells nothing (docs/privileges.md).
    const invite = (seg: string) => fx.t.req('POST', `/users/${seg}/privileges`, { token: fx.tenant, body: { level: 'vm_console', virtual_machine_id: id.web1 } });
    const shape = (r: Reply) => ({ status: r.status, body: { ...r.body, invitation_id: 0, username: '', created_at: '', expires_at: '', _links: null } });
    const asBob = shape(await invite('bob'));
    assert.equal(asBob.status, 201);
    for (const [what, seg] of badSegments('', null)) {
      const r = await invite(seg);
      // A NUL or a bad escape makes the path itself unusable: 404 on every route, before any lookup.
      if ((what === 'a NUL' || what === 'a bad escape') && r.status === 404) continue;
      if (!util.isDeepStrictEqual(shape(r), asBob)) listWrong.push(`POST /users/{${what}}/privileges: ${r.status} ${r.text.slice(0, 200)}`);
    }
    // Filters with unknown or foreign values: empty lists, never a 500.
    for (const url of ['/virtual_machines?account_id=nope', `/virtual_machines?account_id=${BIG}`, `/virtual_machines?group_id=${BIG}`, `/virtual_machines?group_id=${id.otherDefault}`,
      `/discs?vm_id=${BIG}`, `/discs?vm_id=${id.x1}`, `/nics?vm_id=${BIG}`, `/nics?vm_id=${id.x1}`, `/groups?account_id=${BIG}`, `/groups?account_id=${id.other}`]) {
      const r = await fx.t.req('GET', url, { token: fx.tenant });
      if (r.status !== 200 || r.text !== '[]') listWrong.push(`${url}: ${r.status} ${r.text}`);
    }
    for (const url of [`/privileges?user_id=${BIG}`, `/privileges?user_id=${INT_OVER}`, '/privileges?user_id=nope', '/privileges?user_id=bob']) {
      const r = await fx.t.req('GET', url, { token: fx.tenant });
      if (r.status !== 404) listWrong.push(`${url}: ${r.status} ${r.text}`);
    }
    const wrong = [...listWrong, ...await run(fx, cases)];
    assert.deepEqual(wrong, [], `${wrong.length} of ${cases.length} wrong:\n${wrong.join('\n')}`);
    // The cases reach every registered route with a path parameter: a new one fails here until listed.
    const app = fx.t.running.app;
    // POST /users/{u}/privileges is reached by the invitation cases above (a grant answers the same for any name).
    const reached = new Set([...cases.map((c) => routeKeyOf(app, c.method, c.url)), routeKeyOf(app, 'POST', '/users/bob/privileges')]);
    assert.deepEqual(bigvRouteKeys(app).filter((k) => k.includes(':') && !reached.has(k)), [], 'routes with path parameters no case reaches');
  } finally {
    await fx.t.close();
  }
});

test('accounts, groups and names: DNS labels, never all digits, unique', async () => {
  const fx = await fixture();
  try {
    const names: [string, unknown][] = [
      ['all digits', '123'], ['a leading hyphen', '-web'], ['a trailing hyphen', 'web-'], ['an underscore', 'web_1'], ['a dot', 'web.1'],
      ['a space', 'web 1'], ['64 characters', 'a'.repeat(64)], ['over the schema limit', 'a'.repeat(5000)], ['empty', ''], ['unicode', 'wéb'],
      ['a number', 5], ['a boolean', true], ['null', null], ['an object', { name: 'x' }], ['a list', ['x']],
    ];
    const cases: Case[] = [];
    for (const [what, name] of names) {
      cases.push({ name: `account name: ${what}`, method: 'POST', url: '/accounts', body: { name }, status: 400, want: ['name'] });
      cases.push({ name: `group name: ${what}`, method: 'POST', url: `${ACC}/groups`, body: { name }, status: 400, want: ['name'] });
      cases.push({ name: `group rename: ${what}`, method: 'PUT', url: `${ACC}/groups/shop`, body: { name }, status: 400, want: ['name'] });
      cases.push({ name: `VM name: ${what}`, method: 'POST', url: VMS, body: { name }, status: 400, want: ['name'] });
      cases.push({ name: `vm_create name: ${what}`, method: 'POST', url: `${GRP}/vm_create`, body: { virtual_machine: { name } }, status: 400, want: ['name'] });
      cases.push({ name: `VM rename: ${what}`, method: 'PUT', url: WEB2, body: { name }, status: 400, want: ['name'] });
    }
    cases.push(
      { name: 'no account name', method: 'POST', url: '/accounts', body: {}, status: 400, want: { name: ["can't be blank"] } },
      { name: 'account name taken', method: 'POST', url: '/accounts', body: { name: 'acme' }, status: 400, want: { name: ['has already been taken'] } },
      { name: 'account name in upper case', method: 'POST', url: '/accounts', body: { name: 'ACME' }, status: 400, want: ['name'] },
      { name: 'account renamed', method: 'PUT', url: ACC, body: { name: 'acme2' }, status: 400, want: ['name'] },
      { name: 'suspended as a string', method: 'PUT', url: ACC, body: { suspended: 'yes' }, status: 400, want: { suspended: ['must be true or false'] } },
      { name: 'suspended as 1', method: 'PUT', url: ACC, body: { suspended: 1 }, status: 400, want: { suspended: ['must be true or false'] } },
      { name: 'no group name', method: 'POST', url: `${ACC}/groups`, body: {}, status: 400, want: { name: ["can't be blank"] } },
      { name: 'group name taken', method: 'POST', url: `${ACC}/groups`, body: { name: 'default' }, status: 400, want: { name: ['has already been taken'] } },
      { name: 'group renamed onto another', method: 'PUT', url: `${ACC}/groups/shop`, body: { name: 'default' }, status: 400, want: { name: ['has already been taken'] } },
      { name: 'default renamed', method: 'PUT', url: `${ACC}/groups/default`, body: { name: 'main' }, status: 400, want: ['name'] },
      { name: 'default deleted', method: 'DELETE', url: `${ACC}/groups/default`, status: 400, want: ['group'] },
      { name: 'non-empty group deleted', method: 'DELETE', url: `${ACC}/groups/shop`, status: 400, want: ['group'] },
      { name: 'VM name taken', method: 'POST', url: VMS, body: { name: 'web1' }, status: 400, want: { name: ['has already been taken'] } },
      { name: 'VM name in upper case', method: 'POST', url: `${GRP}/vm_create`, body: { virtual_machine: { name: 'WEB1' } }, status: 400, want: ['name'] },
      { name: 'VM renamed onto another', method: 'PUT', url: WEB2, body: { name: 'web1' }, status: 400, want: { name: ['has already been taken'] } },
    );
    const wrong = await run(fx, cases);
    assert.deepEqual(wrong, [], `${wrong.length} wrong:\n${wrong.join('\n')}`);
  } finally {
    await fx.t.close();
  }
});

test('VM attributes: types, ranges and vocabularies, on create and on PUT', async () => {
  const fx = await fixture();
  try {
    const bad: [string, Record<string, unknown>, string][] = [
      ['cores as a string', { cores: '2' }, 'cores'], ['cores fractional', { cores: 1.5 }, 'cores'], ['cores zero', { cores: 0 }, 'cores'],
      ['cores negative', { cores: -1 }, 'cores'], ['cores too many', { cores: 1000 }, 'cores'], ['cores past int32', { cores: INT_OVER }, 'cores'],
      ['memory as a string', { memory: '1024' }, 'memory'], ['memory fractional', { memory: 1024.5 }, 'memory'], ['memory zero', { memory: 0 }, 'memory'],
      ['memory negative', { memory: -1024 }, 'memory'], ['memory huge', { memory: 1e15 }, 'memory'], ['memory as "Infinity"', { memory: 'Infinity' }, 'memory'],
      ['power_on as a string', { power_on: 'true' }, 'power_on'], ['power_on as 1', { power_on: 1 }, 'power_on'],
      ['autoreboot_on as a string', { autoreboot_on: 'false' }, 'autoreboot_on'], ['hardware_profile_locked as a string', { hardware_profile_locked: 'yes' }, 'hardware_profile_locked'],
      ['unknown hardware_profile', { hardware_profile: 'virtio2099' }, 'hardware_profile'], ['hardware_profile as a number', { hardware_profile: 5 }, 'hardware_profile'],
      ['unknown keymap', { keymap: 'klingon' }, 'keymap'], ['keymap as a number', { keymap: 5 }, 'keymap'],
      ['cdrom_url ftp', { cdrom_url: 'ftp://example.com/x.iso' }, 'cdrom_url'], ['cdrom_url javascript', { cdrom_url: 'javascript:alert(1)' }, 'cdrom_url'],
      ['cdrom_url not a URL', { cdrom_url: 'not a url' }, 'cdrom_url'], ['cdrom_url as a number', { cdrom_url: 5 }, 'cdrom_url'],
    ];
    const cases: Case[] = [];
    for (const [what, attrs, field] of bad) {
      cases.push({ name: `bare POST: ${what}`, method: 'POST', url: VMS, body: { name: 'fresh', ...attrs }, status: 400, want: [field] });
      cases.push({ name: `vm_create: ${what}`, method: 'POST', url: `${GRP}/vm_create`, body: { virtual_machine: { name: 'fresh', ...attrs }, discs: [{ size: 64 }] }, status: 400, want: [field] });
      cases.push({ name: `PUT: ${what}`, method: 'PUT', url: WEB2, body: attrs, status: 400, want: [field] });
    }
    cases.push(
      { name: 'vm_create: unknown zone', method: 'POST', url: `${GRP}/vm_create`, body: { virtual_machine: { name: 'fresh', zone_name: 'mars' } }, status: 400, want: ['zone_name'] },
      { name: 'vm_create: every error at once', method: 'POST', url: `${GRP}/vm_create`, body: { virtual_machine: { name: '1', cores: 0, memory: 1, hardware_profile: 'x', keymap: 'x' } }, status: 400,
        want: ['cores', 'hardware_profile', 'keymap', 'memory', 'name'] },
      { name: 'vm_create: no virtual_machine', method: 'POST', url: `${GRP}/vm_create`, body: { discs: [{ size: 64 }] }, status: 400, want: { virtual_machine: ["can't be blank"] } },
      { name: 'vm_create: virtual_machine a string', method: 'POST', url: `${GRP}/vm_create`, body: { virtual_machine: 'web9' }, status: 400, want: { virtual_machine: ['must be an object'] } },
      { name: 'PUT: cold attributes on a running VM', method: 'PUT', url: WEB1, body: { cores: 2, memory: 2048 }, status: 400, want: ['cores', 'memory'] },
      { name: 'PUT: deleted true', method: 'PUT', url: WEB2, body: { deleted: true }, status: 400, want: ['deleted'] },
      { name: 'PUT: deleted as a string', method: 'PUT', url: WEB2, body: { deleted: 'false' }, status: 400, want: ['deleted'] },
      { name: 'PUT: an appliance', method: 'PUT', url: WEB2, body: { appliance: { name: 'rescue', permanent: false }, power_on: true }, status: 400, want: ['appliance'] },
      { name: 'PUT: group_id as a string', method: 'PUT', url: WEB2, body: { group_id: '1' }, status: 400, want: ['group_id'] },
      { name: 'PUT: group_id past int32', method: 'PUT', url: WEB2, body: { group_id: INT_OVER }, status: 400, want: ['group_id'] },
      { name: 'PUT: group_id unknown', method: 'PUT', url: WEB2, body: { group_id: 999999 }, status: 400, want: ['group_id'] },
      { name: 'PUT: group_id another tenant\'s', method: 'PUT', url: WEB2, body: { group_id: fx.id.otherDefault }, as: 'tenant', status: 400, want: ['group_id'] },
    );
    const wrong = await run(fx, cases);
    assert.deepEqual(wrong, [], `${wrong.length} wrong:\n${wrong.join('\n')}`);
    // What the clients send is still fine: null for a nullable string, unknown attributes ignored.
    const ok = await fx.t.req('PUT', WEB2, { token: fx.t.adminToken, body: { cdrom_url: null, keymap: null, id: 5, hostname: 'x', junk: { a: 1 } } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.id, fx.id.web2);
  } finally {
    await fx.t.close();
  }
});

test('vm_create: disc errors are an array aligned with the request\'s discs; a failed create writes nothing', async () => {
  // A small head, so that placement can fail: 8 GiB of memory, 16 GiB of each grade.
  const fx = await fixture({ driver: () => new FakeDriver({ memory: 8192, grades: { sata: 16384, ssd: 16384, archive: 16384 } }) });
  const { t } = fx;
  try {
    const vmc = (body: unknown) => t.req('POST', `${GRP}/vm_create`, { token: t.adminToken, body });
    const disc = (d: Record<string, unknown> = {}) => ({ label: 'disc-x', storage_grade: 'sata', size: 1024, ...d });
    const cases: Case[] = [
      { name: 'sizes and grades', method: 'POST', url: `${GRP}/vm_create`, status: 400,
        body: { virtual_machine: { name: 'fresh' }, discs: [disc({ label: 'a', size: -1 }), disc({ label: 'b' }), disc({ label: 'c', storage_grade: 'gold' }), disc({ label: 'd', size: 0 })] },
        want: (b) => {
          assert.equal(b.discs.length, 4);
          assert.deepEqual(Object.keys(b.discs[0]), ['size']);
          assert.deepEqual(b.discs[1], {});
          assert.deepEqual(b.discs[2], { storage_grade: ['is not included in the list'] });
          assert.deepEqual(Object.keys(b.discs[3]), ['size']);
          assert.deepEqual(Object.keys(b), ['discs']);
        } },
      { name: 'schema errors aligned too', method: 'POST', url: `${GRP}/vm_create`, status: 400,
        body: { virtual_machine: { name: 'fresh' }, discs: [disc({ label: 'a' }), disc({ label: 'b', size: 'big' }), disc({ label: 'c', size: 1.5 })] },
        want: (b) => assert.deepEqual(b, { discs: [{}, { size: ['is not a number'] }, { size: ['is not a number'] }] }) },
      { name: 'a VM error stays flat beside the discs', method: 'POST', url: `${GRP}/vm_create`, status: 400,
        body: { virtual_machine: { name: 'fresh', memory: 1 }, discs: [disc({ label: 'a' }), disc({ label: 'b', size: 10 })] },
        want: (b) => { assert.deepEqual(Object.keys(b).sort(), ['discs', 'memory']); assert.deepEqual(b.discs[0], {}); assert.deepEqual(Object.keys(b.discs[1]), ['size']); } },
      { name: 'size missing', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, discs: [{ label: 'a' }] },
        want: { discs: [{ size: ["can't be blank"] }] } },
      { name: 'size past the maximum', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, discs: [disc({ size: 2 ** 40 })] },
        want: (b) => assert.deepEqual(Object.keys(b.discs[0]), ['size']) },
      { name: 'duplicate labels', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, discs: [disc({ label: 'a' }), disc({ label: 'a' })] },
        want: { discs: [{}, { label: ['has already been taken'] }] } },
      { name: 'bad labels', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, discs: [disc({ label: 'has space' }), disc({ label: 'x'.repeat(65) })] },
        want: (b) => { assert.equal(b.discs.length, 2); assert.deepEqual(Object.keys(b.discs[0]), ['label']); assert.deepEqual(Object.keys(b.discs[1]), ['label']); } },
      { name: 'a bad backup schedule', method: 'POST', url: `${GRP}/vm_create`, status: 400,
        body: { virtual_machine: { name: 'fresh' }, discs: [disc({ backup_schedules: [{ start_at: '2026-11-23 00:00:00 UTC', interval_seconds: 0, capacity: 1 }] })] },
        want: (b) => assert.deepEqual(Object.keys(b.discs[0]), ['backup_schedules']) },
      { name: 'a backup schedule past int32', method: 'POST', url: `${GRP}/vm_create`, status: 400,
        body: { virtual_machine: { name: 'fresh' }, discs: [disc({ backup_schedules: [{ interval_seconds: INT_OVER, capacity: INT_OVER }] })] },
        want: (b) => assert.ok(b.discs[0].interval_seconds || b.discs[0].backup_schedules, JSON.stringify(b)) },
      { name: 'a backup schedule start_at that is no date', method: 'POST', url: `${GRP}/vm_create`, status: 400,
        body: { virtual_machine: { name: 'fresh' }, discs: [disc({ backup_schedules: [{ start_at: 'tomorrow-ish', interval_seconds: 60 }] })] },
        want: (b) => assert.deepEqual(Object.keys(b.discs[0]), ['backup_schedules']) },
      { name: 'discs not a list', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, discs: { label: 'a' } }, want: { discs: ['must be a list'] } },
      { name: 'nine discs', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, discs: Array.from({ length: 9 }, (_, i) => disc({ label: `d${i}`, size: 64 })) },
        want: (b) => assert.match(JSON.stringify(b.discs), /at most 8/) },
      { name: 'a hundred discs', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, discs: Array.from({ length: 100 }, (_, i) => disc({ label: `d${i}`, size: 64 })) },
        want: ['discs'] },
      { name: 'an unknown distribution', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, discs: [disc()], reimage: { distribution: 'windows95', root_password: 'x' } },
        want: { distribution: ['is not included in the list'] } },
      { name: 'no distribution', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, discs: [disc()], reimage: { root_password: 'x' } },
        want: { distribution: ["can't be blank"] } },
      { name: 'an image but no disc', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, reimage: { distribution: 'tiny' } }, want: ['discs'] },
      { name: 'a bad SSH key', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, discs: [disc()], reimage: { distribution: 'tiny', ssh_public_key: 'hello' } },
        want: { ssh_public_key: ['is invalid'] } },
      { name: 'root_password a number', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, discs: [disc()], reimage: { distribution: 'tiny', root_password: 1234 } },
        want: { root_password: ['must be a string'] } },
      { name: 'ips outside a private VLAN', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh' }, ips: { ipv4: '10.9.9.9' } }, want: ['ips'] },
      { name: 'disc space the head does not have', method: 'POST', url: `${GRP}/vm_create`, status: 400,
        body: { virtual_machine: { name: 'fresh' }, discs: Array.from({ length: 8 }, (_, i) => disc({ label: `d${i}`, size: 2 * 1024 * 1024 })) } },
      { name: 'more memory than the head has', method: 'POST', url: `${GRP}/vm_create`, status: 400, body: { virtual_machine: { name: 'fresh', memory: 131072, cores: 32 } }, want: ['memory'] },
      { name: 'room for the discs but not the memory', method: 'POST', url: `${GRP}/vm_create`, status: 400,
        body: { virtual_machine: { name: 'fresh', memory: 8192 }, discs: [disc({ label: 'a' }), disc({ label: 'b' })] }, want: ['memory'] },
    ];
    const wrong = await run(fx, cases);
    assert.deepEqual(wrong, [], `${wrong.length} wrong:\n${wrong.join('\n')}`);

    // A failure inside the transaction, after the VM, disc and NIC rows were written: a private
    // VLAN address already in use. Nothing is left behind, through the API or in the store.
    await t.running.hangar.db.updateTable('groups').set({ vlan_num: 42 }).where('id', '=', (await t.req('GET', GRP, { token: t.adminToken })).body.id).execute();
    const first = await vmc({ virtual_machine: { name: 'priv1' }, discs: [disc()], ips: { ipv4: '192.168.42.10' } });
    assert.equal(first.status, 202, first.text);
    const before = await snapshot(t);
    const counts = async () => Object.fromEntries(await Promise.all(['vms', 'discs', 'nics', 'ips', 'operations', 'backup_schedules'].map(async (table) =>
      [table, Number((await (t.running.hangar.db as any).selectFrom(table).select((eb: any) => eb.fn.countAll().as('n')).executeTakeFirst()).n)])));
    const n = await counts();
    const r = await vmc({ virtual_machine: { name: 'priv2' }, discs: [disc({ backup_schedules: [{ interval_seconds: 3600 }] })], ips: { ipv4: '192.168.42.10' } });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(Object.keys(r.body), ['ips']);
    assert.deepEqual(await counts(), n);
    assert.deepEqual(await snapshot(t), before);
    assert.equal((await t.req('GET', `${VMS}/priv2?include_deleted=true`, { token: t.adminToken })).status, 404);
    assert.ok(!(await t.req('GET', '/virtual_machines?include_deleted=true', { token: t.adminToken })).body.some((v: any) => v.name === 'priv2'));
    assert.ok(!(await t.req('GET', `${ACC}?view=overview&include_deleted=true`, { token: t.adminToken })).body.groups.some((g: any) => g.virtual_machines.some((v: any) => v.name === 'priv2')));
    // And the name, the head's room and the pool's space are still free for a good request.
    const again = await vmc({ virtual_machine: { name: 'priv2' }, discs: [disc()], ips: { ipv4: '192.168.42.11' } });
    assert.equal(again.status, 202, again.text);
    assert.equal(again.body.virtual_machine.network_interfaces[0].ips[0], '192.168.42.11');
  } finally {
    await t.close();
  }
});

test('actions, discs, NICs, IPs: bad values are field errors', async () => {
  const fx = await fixture();
  try {
    const { id } = fx;
    const nic = `${WEB1}/nics/${id.web1Nic}/ip_create`;
    const cases: Case[] = [
      // signal
      { name: 'unknown signal', method: 'POST', url: `${WEB1}/signal`, body: { signal: 'explode' }, status: 400, want: { signal: ['is not included in the list'] } },
      { name: 'no signal', method: 'POST', url: `${WEB1}/signal`, body: {}, status: 400, want: { signal: ["can't be blank"] } },
      { name: 'signal a number', method: 'POST', url: `${WEB1}/signal`, body: { signal: 5 }, status: 400, want: { signal: ['must be a string'] } },
      { name: 'sendkey with an unknown key', method: 'POST', url: `${WEB1}/signal`, body: { signal: 'sendkey', data: 'ctrl-alt-banana' }, status: 400, want: { data: ['is not included in the list'] } },
      { name: 'sendkey without keys', method: 'POST', url: `${WEB1}/signal`, body: { signal: 'sendkey' }, status: 400, want: { data: ["can't be blank"] } },
      { name: 'sendkey with only dashes', method: 'POST', url: `${WEB1}/signal`, body: { signal: 'sendkey', data: '---' }, status: 400, want: { data: ["can't be blank"] } },
      { name: 'sendkey data a list', method: 'POST', url: `${WEB1}/signal`, body: { signal: 'sendkey', data: ['ctrl'] }, status: 400, want: { data: ['must be a string'] } },
      { name: 'unknown signal in the query', method: 'POST', url: `${WEB1}/signal?signal=explode`, status: 400, want: { signal: ['is not included in the list'] } },
      { name: 'a signal to a VM that is off', method: 'POST', url: `${WEB2}/signal`, body: { signal: 'powerdown' }, status: 400, want: ['signal'] },
      // reimage
      { name: 'reimage a running VM', method: 'POST', url: `${WEB1}/reimage`, body: { distribution: 'tiny' }, status: 400, want: ['power_on'] },
      { name: 'reimage: unknown distribution', method: 'POST', url: `${WEB2}/reimage`, body: { distribution: 'beos' }, status: 400, want: { distribution: ['is not included in the list'] } },
      { name: 'reimage: no distribution', method: 'POST', url: `${WEB2}/reimage`, body: { root_password: 'x' }, status: 400, want: { distribution: ["can't be blank"] } },
      { name: 'reimage: distribution a number', method: 'POST', url: `${WEB2}/reimage`, body: { distribution: 7 }, status: 400, want: { distribution: ['must be a string'] } },
      { name: 'reimage: bad SSH key', method: 'POST', url: `${WEB2}/reimage`, body: { distribution: 'tiny', ssh_public_key: 'nope' }, status: 400, want: { ssh_public_key: ['is invalid'] } },
      { name: 'reimage a VM without discs', method: 'POST', url: `${VMS}/bare/reimage`, body: { distribution: 'tiny' }, status: 400, want: ['discs'] },
      // discs
      { name: 'disc size zero', method: 'POST', url: `${WEB1}/discs`, body: { size: 0 }, status: 400, want: ['size'] },
      { name: 'disc size negative', method: 'POST', url: `${WEB1}/discs`, body: { size: -1024 }, status: 400, want: ['size'] },
      { name: 'disc size too small', method: 'POST', url: `${WEB1}/discs`, body: { size: 63 }, status: 400, want: ['size'] },
      { name: 'disc size too big', method: 'POST', url: `${WEB1}/discs`, body: { size: 2 ** 31 - 1 }, status: 400, want: ['size'] },
      { name: 'disc size past int32', method: 'POST', url: `${WEB1}/discs`, body: { size: INT_OVER }, status: 400, want: ['size'] },
      { name: 'disc size a string', method: 'POST', url: `${WEB1}/discs`, body: { size: '1024' }, status: 400, want: { size: ['is not a number'] } },
      { name: 'disc size fractional', method: 'POST', url: `${WEB1}/discs`, body: { size: 1024.5 }, status: 400, want: { size: ['is not a number'] } },
      { name: 'disc size missing', method: 'POST', url: `${WEB1}/discs`, body: { label: 'x' }, status: 400, want: { size: ["can't be blank"] } },
      { name: 'unknown storage grade', method: 'POST', url: `${WEB1}/discs`, body: { size: 1024, storage_grade: 'gold' }, status: 400, want: { storage_grade: ['is not included in the list'] } },
      { name: 'disc label taken', method: 'POST', url: `${WEB1}/discs`, body: { size: 1024, label: 'disc-1' }, status: 400, want: { label: ['has already been taken'] } },
      { name: 'disc label bad', method: 'POST', url: `${WEB1}/discs`, body: { size: 1024, label: 'no spaces' }, status: 400, want: { label: ['is invalid'] } },
      { name: 'a ninth disc', method: 'POST', url: `${WEB2}/discs`, body: { size: 64 }, status: 400, want: ['discs'] },
      { name: 'shrinking a disc', method: 'PUT', url: `${WEB1}/discs/disc-1`, body: { size: 512 }, status: 400, want: { size: ['discs can only grow'] } },
      { name: 'shrinking by id', method: 'PUT', url: `/discs/${id.web1Disc}`, body: { size: 1 }, status: 400, want: { size: ['discs can only grow'] } },
      { name: 'growing past the maximum', method: 'PUT', url: `${WEB1}/discs/disc-1`, body: { size: 2 ** 30 }, status: 400, want: ['size'] },
      { name: 'disc size zero on PUT', method: 'PUT', url: `${WEB1}/discs/disc-1`, body: { size: 0 }, status: 400, want: ['size'] },
      { name: 'disc PUT size a string', method: 'PUT', url: `${WEB1}/discs/disc-1`, body: { size: 'x' }, status: 400, want: { size: ['is not a number'] } },
      { name: 'disc moved to an unknown VM', method: 'PUT', url: `${WEB2}/discs/disc-8`, body: { virtual_machine_id: 999999 }, status: 400, want: ['virtual_machine_id'] },
      { name: 'disc moved past int32', method: 'PUT', url: `${WEB2}/discs/disc-8`, body: { virtual_machine_id: INT_OVER }, status: 400, want: ['virtual_machine_id'] },
      { name: 'disc moved to another tenant', method: 'PUT', url: `${WEB2}/discs/disc-8`, body: { virtual_machine_id: id.x1 }, as: 'tenant', status: 400, want: ['virtual_machine_id'] },
      { name: 'disc deleted without purge', method: 'DELETE', url: `${WEB1}/discs/disc-1`, status: 400, want: { purge: ['must be true: discs cannot be undeleted'] } },
      { name: 'disc deleted with purge=False', method: 'DELETE', url: `${WEB1}/discs/disc-1?purge=False`, status: 400, want: ['purge'] },
      { name: 'schedule interval zero', method: 'POST', url: `${WEB1}/discs/disc-1/backup_schedules`, body: { interval_seconds: 0 }, status: 400, want: ['interval_seconds'] },
      { name: 'schedule interval negative', method: 'POST', url: `${WEB1}/discs/disc-1/backup_schedules`, body: { interval_seconds: -1 }, status: 400, want: ['interval_seconds'] },
      { name: 'schedule interval missing', method: 'POST', url: `${WEB1}/discs/disc-1/backup_schedules`, body: {}, status: 400, want: { interval_seconds: ['Missing interval_seconds parameter'] } },
      { name: 'schedule interval past int32', method: 'POST', url: `${WEB1}/discs/disc-1/backup_schedules`, body: { interval_seconds: INT_OVER }, status: 400, want: ['interval_seconds'] },
      { name: 'schedule capacity past int32', method: 'POST', url: `${WEB1}/discs/disc-1/backup_schedules`, body: { interval_seconds: 60, capacity: INT_OVER }, status: 400, want: ['capacity'] },
      { name: 'schedule start_at no date', method: 'POST', url: `${WEB1}/discs/disc-1/backup_schedules`, body: { interval_seconds: 60, start_at: 'soon' }, status: 400, want: ['start_at'] },
      { name: 'unknown backup schedule', method: 'DELETE', url: `${WEB1}/discs/disc-1/backup_schedules/abc`, status: 404 },
      { name: 'unknown backup', method: 'PUT', url: `${WEB1}/discs/disc-1/backups/nope`, body: { restore: true }, status: 404 },
      // ip_create
      { name: 'ip_create zero addresses', method: 'POST', url: nic, body: { addresses: 0 }, status: 400, want: ['addresses'] },
      { name: 'ip_create negative', method: 'POST', url: nic, body: { addresses: -1 }, status: 400, want: ['addresses'] },
      { name: 'ip_create a string', method: 'POST', url: nic, body: { addresses: '1' }, status: 400, want: { addresses: ['is not a number'] } },
      { name: 'ip_create too many', method: 'POST', url: nic, body: { addresses: 4 }, status: 400, want: ['addresses'] },
      { name: 'ip_create past int32', method: 'POST', url: nic, body: { addresses: INT_OVER }, status: 400, want: ['addresses'] },
      { name: 'ip_create unknown family', method: 'POST', url: nic, body: { family: 'ipv5' }, status: 400, want: { family: ['is not included in the list'] } },
      { name: 'ip_create contiguous', method: 'POST', url: nic, body: { contiguous: true }, status: 400, want: ['contiguous'] },
      { name: 'ip_create contiguous a string', method: 'POST', url: nic, body: { contiguous: 'no' }, status: 400, want: { contiguous: ['must be true or false'] } },
      // IPs
      { name: 'rDNS not a hostname', method: 'PUT', url: `/ips/${fx.ip.web1}`, body: { rdns: 'not a host!' }, status: 400, want: { rdns: ['is invalid'] } },
      { name: 'rDNS too long', method: 'PUT', url: `/ips/${fx.ip.web1}`, body: { rdns: `${'a'.repeat(63)}.`.repeat(5) }, status: 400, want: ['rdns'] },
      { name: 'rDNS a number', method: 'PUT', url: `/ips/${fx.ip.web1}`, body: { rdns: 5 }, status: 400, want: ['rdns'] },
      { name: 'deleting a primary address', method: 'DELETE', url: `/ips/${fx.ip.web1}`, status: 400, want: ['address'] },
      { name: 'an address not in use', method: 'GET', url: '/ips/10.64.255.254', status: 404 },
      { name: 'not an address', method: 'GET', url: '/ips/not-an-ip', status: 404 },
      { name: 'swap ids as strings', method: 'POST', url: '/ips/swap_virtual_machine_ips', body: { virtual_machine_1_id: '1', virtual_machine_2_id: '2' }, status: 400, want: ['virtual_machine_1_id', 'virtual_machine_2_id'] },
      { name: 'swap without ids', method: 'POST', url: '/ips/swap_virtual_machine_ips', body: {}, status: 400, want: ['virtual_machine_1_id', 'virtual_machine_2_id'] },
      { name: 'swap with itself', method: 'POST', url: '/ips/swap_virtual_machine_ips', body: { virtual_machine_1_id: id.web2, virtual_machine_2_id: id.web2 }, status: 400, want: ['virtual_machine_2_id'] },
      { name: 'swap with a running VM', method: 'POST', url: '/ips/swap_virtual_machine_ips', body: { virtual_machine_1_id: id.web1, virtual_machine_2_id: id.web2 }, status: 400, want: ['virtual_machine_1_id'] },
      { name: 'swap with an unknown VM', method: 'POST', url: '/ips/swap_virtual_machine_ips', body: { virtual_machine_1_id: id.web2, virtual_machine_2_id: 999999 }, status: 400, want: ['virtual_machine_2_id'] },
      { name: 'swap past int32', method: 'POST', url: '/ips/swap_virtual_machine_ips', body: { virtual_machine_1_id: id.web2, virtual_machine_2_id: INT_OVER }, status: 400, want: ['virtual_machine_2_id'] },
      { name: 'swap with another tenant', method: 'POST', url: '/ips/swap_virtual_machine_ips', body: { virtual_machine_1_id: id.web2, virtual_machine_2_id: id.x1 }, as: 'tenant', status: 400, want: ['virtual_machine_2_id'] },
    ];
    const wrong = await run(fx, cases);
    assert.deepEqual(wrong, [], `${wrong.length} wrong:\n${wrong.join('\n')}`);
  } finally {
    await fx.t.close();
  }
});

test('users, privileges and API keys: bad values are field errors', async () => {
  const fx = await fixture();
  try {
    const { id } = fx;
    const cases: Case[] = [
      { name: 'username with a space', method: 'POST', url: '/users', body: { username: 'a b', password: 'long-enough-1' }, status: 400, want: { username: ['is invalid'] } },
      { name: 'username upper case', method: 'POST', url: '/users', body: { username: 'Alice', password: 'long-enough-1' }, status: 400, want: { username: ['is invalid'] } },
      { name: 'username too long', method: 'POST', url: '/users', body: { username: 'a'.repeat(64), password: 'long-enough-1' }, status: 400, want: { username: ['is invalid'] } },
      { name: 'username a number', method: 'POST', url: '/users', body: { username: 5, password: 'long-enough-1' }, status: 400, want: { username: ['must be a string'] } },
      { name: 'username missing', method: 'POST', url: '/users', body: { password: 'long-enough-1' }, status: 400, want: { username: ["can't be blank"] } },
      { name: 'username taken', method: 'POST', url: '/users', body: { username: 'bob', password: 'long-enough-1' }, status: 400, want: { username: ['has already been taken'] } },
      { name: 'password short', method: 'POST', url: '/users', body: { username: 'carol', password: 'short' }, status: 400, want: ['password'] },
      { name: 'password missing', method: 'POST', url: '/users', body: { username: 'carol' }, status: 400, want: { password: ["can't be blank"] } },
      { name: 'email bad', method: 'POST', url: '/users', body: { username: 'carol', password: 'long-enough-1', email: 'nope' }, status: 400, want: { email: ['is invalid'] } },
      { name: 'authorized_keys bad', method: 'POST', url: '/users', body: { username: 'carol', password: 'long-enough-1', authorized_keys: 'hello' }, status: 400, want: ['authorized_keys'] },
      { name: 'PUT authorized_keys bad line', method: 'PUT', url: '/users/bob', body: { authorized_keys: `${SSH_KEY}\nnot a key` }, status: 400, want: { authorized_keys: ['line 2 is not an SSH public key'] } },
      { name: 'PUT authorized_keys a list', method: 'PUT', url: '/users/bob', body: { authorized_keys: [SSH_KEY] }, status: 400, want: { authorized_keys: ['must be a string'] } },
      { name: 'PUT password short', method: 'PUT', url: '/users/bob', body: { password: 'x' }, status: 400, want: ['password'] },
      { name: 'PUT email bad', method: 'PUT', url: '/users/bob', body: { email: 'bob at example' }, status: 400, want: { email: ['is invalid'] } },
      { name: 'deleting yourself', method: 'DELETE', url: '/users/admin', status: 400, want: ['user'] },
      // privileges
      { name: 'unknown level', method: 'POST', url: '/users/bob/privileges', body: { level: 'god' }, status: 400, want: { level: ['is not included in the list'] } },
      { name: 'level missing', method: 'POST', url: '/users/bob/privileges', body: { virtual_machine_id: id.web1 }, status: 400, want: { level: ["can't be blank"] } },
      { name: 'level a number', method: 'POST', url: '/users/bob/privileges', body: { level: 1 }, status: 400, want: { level: ['must be a string'] } },
      { name: 'vm level without a VM', method: 'POST', url: '/users/bob/privileges', body: { level: 'vm_admin' }, status: 400, want: ['virtual_machine_id'] },
      { name: 'vm level with a group', method: 'POST', url: '/users/bob/privileges', body: { level: 'vm_admin', group_id: 1 }, status: 400, want: ['virtual_machine_id'] },
      { name: 'two targets', method: 'POST', url: '/users/bob/privileges', body: { level: 'vm_admin', virtual_machine_id: id.web1, account_id: id.acme }, status: 400, want: ['virtual_machine_id'] },
      { name: 'cluster level with a target', method: 'POST', url: '/users/bob/privileges', body: { level: 'cluster_admin', account_id: id.acme }, status: 400, want: ['level'] },
      { name: 'unknown VM', method: 'POST', url: '/users/bob/privileges', body: { level: 'vm_admin', virtual_machine_id: 999999 }, status: 400, want: ['virtual_machine_id'] },
      { name: 'VM id past int32', method: 'POST', url: '/users/bob/privileges', body: { level: 'vm_admin', virtual_machine_id: INT_OVER }, status: 400, want: ['virtual_machine_id'] },
      { name: 'account id a string', method: 'POST', url: '/users/bob/privileges', body: { level: 'account_admin', account_id: 'acme' }, status: 400, want: ['account_id'] },
      { name: 'unknown account', method: 'POST', url: '/users/bob/privileges', body: { level: 'account_admin', account_id: 999999 }, status: 400, want: ['account_id'] },
      { name: 'another tenant\'s VM', method: 'POST', url: '/users/bob/privileges', body: { level: 'vm_console', virtual_machine_id: id.x1 }, as: 'tenant', status: 400, want: ['virtual_machine_id'] },
      { name: 'someone else\'s API key', method: 'POST', url: '/users/tenant/privileges', body: { level: 'vm_console', virtual_machine_id: id.web1, api_key_id: id.bobKey }, status: 400, want: ['api_key_id'] },
      { name: 'API key id past int32', method: 'POST', url: '/users/bob/privileges', body: { level: 'vm_console', virtual_machine_id: id.web1, api_key_id: INT_OVER }, status: 400, want: ['api_key_id'] },
      { name: 'negative OTP age', method: 'POST', url: '/users/bob/privileges', body: { level: 'vm_console', virtual_machine_id: id.web1, yubikey_otp_max_age: -1 }, status: 400, want: ['yubikey_otp_max_age'] },
      { name: 'OTP age past int32', method: 'POST', url: '/users/bob/privileges', body: { level: 'vm_console', virtual_machine_id: id.web1, yubikey_otp_max_age: INT_OVER }, status: 400, want: ['yubikey_otp_max_age'] },
      { name: 'yubikey_required a string', method: 'POST', url: '/users/bob/privileges', body: { level: 'vm_console', virtual_machine_id: id.web1, yubikey_required: 'no' }, status: 400, want: ['yubikey_required'] },
      { name: 'PUT negative OTP age', method: 'PUT', url: `/privileges/${id.priv}`, body: { yubikey_otp_max_age: -5 }, status: 400, want: ['yubikey_otp_max_age'] },
      { name: 'PUT OTP age a string', method: 'PUT', url: `/privileges/${id.priv}`, body: { yubikey_otp_max_age: '900' }, status: 400, want: { yubikey_otp_max_age: ['is not a number'] } },
      { name: 'PUT OTP age past int32', method: 'PUT', url: `/privileges/${id.priv}`, body: { yubikey_otp_max_age: INT_OVER }, status: 400, want: ['yubikey_otp_max_age'] },
      // API keys
      { name: 'label missing', method: 'POST', url: '/api_keys', body: {}, status: 400, want: { label: ["can't be blank"] } },
      { name: 'label blank', method: 'POST', url: '/api_keys', body: { label: '  ' }, status: 400, want: { label: ["can't be blank"] } },
      { name: 'label a number', method: 'POST', url: '/api_keys', body: { label: 5 }, status: 400, want: { label: ['must be a string'] } },
      { name: 'label taken', method: 'POST', url: '/api_keys', body: { label: 'bob', user_id: (await fx.t.req('GET', '/users/bob', { token: fx.t.adminToken })).body.id }, status: 400, want: { label: ['has already been taken'] } },
      { name: 'expires_at no date', method: 'POST', url: '/api_keys', body: { label: 'k', expires_at: 'whenever' }, status: 400, want: { expires_at: ['is invalid'] } },
      { name: 'expires_at impossible date', method: 'POST', url: '/api_keys', body: { label: 'k', expires_at: '2030-13-45' }, status: 400, want: { expires_at: ['is invalid'] } },
      { name: 'expires_at impossible time', method: 'POST', url: '/api_keys', body: { label: 'k', expires_at: '99:99:99' }, status: 400, want: { expires_at: ['is invalid'] } },
      { name: 'expires_at a number', method: 'POST', url: '/api_keys', body: { label: 'k', expires_at: 1 }, status: 400, want: ['expires_at'] },
      { name: 'unknown user', method: 'POST', url: '/api_keys', body: { label: 'k', user_id: 999999 }, status: 400, want: ['user_id'] },
      { name: 'user id past int32', method: 'POST', url: '/api_keys', body: { label: 'k', user_id: INT_OVER }, status: 400, want: ['user_id'] },
      { name: 'user id a string', method: 'POST', url: '/api_keys', body: { label: 'k', user_id: 'bob' }, status: 400, want: { user_id: ['is not a number'] } },
    ];
    const wrong = await run(fx, cases);
    assert.deepEqual(wrong, [], `${wrong.length} wrong:\n${wrong.join('\n')}`);
  } finally {
    await fx.t.close();
  }
});
