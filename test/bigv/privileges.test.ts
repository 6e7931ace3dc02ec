// The privilege matrix (spec §2.4, docs/privileges.md): seven callers × every BigV route, each
// cell an expected status. 404 for anything the caller cannot read (another tenant's objects
// included), 403 when they can read it but not make the change, and a refused request leaves
// the store exactly as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, SSH_KEY, startTest, until, type Reply, type TestHangar } from '../helpers.js';
import { runningNow, snapshot } from '../snapshot.js';
import { bigvRouteKeys, routeKeyOf } from '../routes.js';

const ROLES = ['cluster', 'account', 'group', 'vm', 'console', 'none', 'key'] as const;
type Role = (typeof ROLES)[number];

/** Who each role is: a user (and, for `key`, an API key bound to a privilege). */
const USERS: Record<Role, string> = {
  cluster: 'root2', account: 'aadmin', group: 'gadmin', vm: 'vmadmin', console: 'vmcons', none: 'nobody', key: 'keyuser',
};

interface Fx {
  t: TestHangar;
  /** Public ids of the vm_create operations of web1 and x1. */
  op: Record<string, string>;
  token: Record<Role, string>;
  uid: Record<string, number>;
  id: Record<string, number>;
  ip: Record<string, string>;
}

const A = '/accounts/acme/groups/default/virtual_machines';
const O = '/accounts/other/groups/default/virtual_machines';

async function ok(r: Reply, status: number, what: string): Promise<Reply> {
  if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.text}`);
  return r;
}

async function fixture(): Promise<Fx> {
  const t = await startTest();
  const admin = (method: string, url: string, body?: unknown) => t.req(method, url, { token: t.adminToken, body });
  const acme = await account(t, 'acme');
  const other = await account(t, 'other');
  const shop = (await ok(await admin('POST', '/accounts/acme/groups', { name: 'shop' }), 201, 'shop')).body.id;
  const withDisc = (name: string) => ({ virtual_machine: { name, power_on: true, autoreboot_on: true }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }] });
  const web1Created = await ok(await admin('POST', '/accounts/acme/groups/default/vm_create', withDisc('web1')), 202, 'web1');
  const web1 = web1Created.body.virtual_machine;
  const web2 = (await ok(await admin('POST', `${A}`, { name: 'web2' }), 202, 'web2')).body;
  const db1 = (await ok(await admin('POST', '/accounts/acme/groups/shop/virtual_machines', { name: 'db1' }), 202, 'db1')).body;
  const x1Created = await ok(await admin('POST', '/accounts/other/groups/default/vm_create', withDisc('x1')), 202, 'x1');
  const x1 = x1Created.body.virtual_machine;
  await runningNow(t, web1.id);
  await runningNow(t, x1.id);

  const token = {} as Record<Role, string>;
  token.cluster = await t.user(USERS.cluster, { level: 'cluster_admin' });
  token.account = await t.user(USERS.account, { level: 'account_admin', account_id: acme.id });
  token.group = await t.user(USERS.group, { level: 'group_admin', group_id: acme.defaultGroupId });
  token.vm = await t.user(USERS.vm, { level: 'vm_admin', virtual_machine_id: web1.id });
  token.console = await t.user(USERS.console, { level: 'vm_console', virtual_machine_id: web1.id });
  token.none = await t.user(USERS.none);
  // The key user's own session may act on acme/shop; its API key only on web1.
  const keySession = await t.user(USERS.key, { level: 'group_admin', group_id: shop });
  const key = (await ok(await t.req('POST', '/api_keys', { token: keySession, body: { label: 'ci' } }), 201, 'api key')).body;
  await ok(await t.req('POST', `/users/${USERS.key}/privileges`, {
    token: t.adminToken, body: { level: 'vm_admin', virtual_machine_id: web1.id, api_key_id: key.id, password_required: false },
  }), 201, 'key privilege');
  token.key = `apikey.${key.api_key}`;
  // spare belongs to acme (its home account), so grants to it in acme are privileges at once;
  // otheruser belongs to `other`, so grants to it in acme are invitations.
  await t.user('spare', undefined, acme.id);
  await t.user('otheruser', { level: 'vm_admin', virtual_machine_id: x1.id }, other.id);

  const users = (await admin('GET', '/users')).body as { id: number; username: string }[];
  const uid = Object.fromEntries(users.map((u) => [u.username, u.id]));
  const privs = (await admin('GET', `/users/${USERS.console}/privileges`)).body;
  const otherPrivs = (await admin('GET', '/users/otheruser/privileges')).body;
  const ipOf = (vm: any) => vm.network_interfaces[0].ips.find((a: string) => a.includes('.'));
  const opOf = (r: Reply) => String(r.headers.location).replace('/operations/', '');
  return {
    t, token, uid, op: { web1: opOf(web1Created), x1: opOf(x1Created) },
    id: {
      acme: acme.id, other: other.id, acmeDefault: acme.defaultGroupId, shop, otherDefault: other.defaultGroupId,
      web1: web1.id, web2: web2.id, db1: db1.id, x1: x1.id,
      web1Disc: web1.discs[0].id, x1Disc: x1.discs[0].id,
      web1Nic: web1.network_interfaces[0].id, x1Nic: x1.network_interfaces[0].id,
      consPriv: privs[0].id, otherPriv: otherPrivs[0].id, key: key.id,
    },
    ip: { web1: ipOf(web1), x1: ipOf(x1) },
  };
}

interface Req { method: string; url: string; body?: unknown }
interface Route {
  req(fx: Fx, role: Role): Req;
  /** Run before each cell (e.g. create the thing a DELETE removes). */
  prepare?(fx: Fx, role: Role): Promise<void>;
  /** Run after each cell, whatever happened, so the next cell starts from the fixture. */
  restore?(fx: Fx, role: Role, r: Reply): Promise<void>;
  /** Extra assertions on a successful reply. */
  check?(fx: Fx, role: Role, r: Reply): void;
}

const admin = (fx: Fx, method: string, url: string, body?: unknown) => fx.t.req(method, url, { token: fx.t.adminToken, body });
const names = (r: Reply): string[] => (r.body as { name?: string; username?: string }[]).map((x) => String(x.name ?? x.username)).sort();
const short = (role: Role) => role.slice(0, 3);

/** Per role, what a list shows. */
function sees(expected: Partial<Record<Role, string[]>>, pick: (r: Reply) => string[] = names) {
  return (_fx: Fx, role: Role, r: Reply) => {
    if (expected[role]) assert.deepEqual(pick(r), expected[role], `what ${role} sees`);
  };
}

/** Back to running (undeleted, operations done), as the fixture made it. */
async function restart(fx: Fx, path: string) {
  const vm = (await admin(fx, 'GET', `${path}?include_deleted=true`)).body;
  if (vm.deleted) await admin(fx, 'PUT', path, { deleted: false });
  await until(`${vm.name} operations done`, async () => {
    const q = await fx.t.running.hangar.db.selectFrom('operations').select('id').where('vm_id', '=', vm.id).where('state', 'in', ['queued', 'running']).execute();
    return q.length === 0;
  });
  await admin(fx, 'PUT', path, { power_on: true, autoreboot_on: true });
  await runningNow(fx.t, vm.id);
}
const startWeb1 = (fx: Fx) => restart(fx, `${A}/web1`);

async function undelete(fx: Fx, path: string) {
  const vm = await admin(fx, 'GET', `${path}?include_deleted=true`);
  if (vm.body?.deleted) await admin(fx, 'PUT', path, { deleted: false });
}

async function purgeIfThere(fx: Fx, path: string) {
  const r = await admin(fx, 'GET', `${path}?include_deleted=true`);
  if (r.status === 200) await admin(fx, 'DELETE', `${path}?purge=true`);
}

async function dropExtraIps(fx: Fx, vmPath: string) {
  const vm = (await admin(fx, 'GET', `${vmPath}?view=overview`)).body;
  for (const extra of Object.keys(vm.network_interfaces[0].extra_ips)) await admin(fx, 'DELETE', `/ips/${extra}`);
}

async function revokeAll(fx: Fx, username: string) {
  for (const p of (await admin(fx, 'GET', `/users/${username}/privileges`)).body) await admin(fx, 'DELETE', `/privileges/${p.id}`);
}

/** aadmin (account_admin on acme) invites otheruser, who belongs to `other`, to vm_console on web1. */
async function inviteOtheruser(fx: Fx) {
  const r = await ok(await fx.t.req('POST', '/users/otheruser/privileges', { token: fx.token.account, body: { level: 'vm_console', virtual_machine_id: fx.id.web1 } }), 201, 'invitation');
  fx.id.invitation = r.body.invitation_id;
}

/** Back to the fixture: no invitations, and otheruser holds only its privilege on x1. */
async function dropOtheruserOnWeb1(fx: Fx) {
  const db = fx.t.running.hangar.db;
  await db.deleteFrom('invitations').execute();
  await db.deleteFrom('privileges').where('user_id', '=', fx.uid.otheruser!).where('virtual_machine_id', '=', fx.id.web1!).execute();
}

const ROUTES: Record<string, Route> = {
  // Accounts ----------------------------------------------------------------------------------
  'GET /accounts': {
    req: () => ({ method: 'GET', url: '/accounts' }),
    check: sees({ cluster: ['acme', 'other'], account: ['acme'], group: ['acme'], vm: ['acme'], console: ['acme'], none: [], key: ['acme'] }),
  },
  'GET /accounts?view=overview': {
    req: () => ({ method: 'GET', url: '/accounts?view=overview' }),
    check: sees({
      cluster: ['acme/default/web1', 'acme/default/web2', 'acme/shop/db1', 'other/default/x1'],
      account: ['acme/default/web1', 'acme/default/web2', 'acme/shop/db1'],
      group: ['acme/default/web1', 'acme/default/web2'],
      vm: ['acme/default/web1'], console: ['acme/default/web1'], none: [], key: ['acme/default/web1'],
    }, (r) => (r.body as any[]).flatMap((a) => a.groups.flatMap((g: any) => [`${a.name}/${g.name}`, ...g.virtual_machines.map((v: any) => `${a.name}/${g.name}/${v.name}`)]))
      .filter((s: string) => s.split('/').length === 3).sort()),
  },
  'GET /accounts/acme': { req: () => ({ method: 'GET', url: '/accounts/acme' }) },
  'GET /accounts/{acme id}': { req: (fx) => ({ method: 'GET', url: `/accounts/${fx.id.acme}` }) },
  'GET /accounts/other': { req: () => ({ method: 'GET', url: '/accounts/other' }) },
  'GET /accounts/{other id}': { req: (fx) => ({ method: 'GET', url: `/accounts/${fx.id.other}` }) },
  'POST /accounts': {
    req: (_fx, role) => ({ method: 'POST', url: '/accounts', body: { name: `new-${short(role)}` } }),
    check: (_fx, role, r) => assert.equal(r.body.name, `new-${short(role)}`),
    // Accounts cannot be deleted over the API.
    restore: async (fx, role) => {
      const db = fx.t.running.hangar.db;
      const a = await db.selectFrom('accounts').select('id').where('name', '=', `new-${short(role)}`).executeTakeFirst();
      if (!a) return;
      await db.deleteFrom('groups').where('account_id', '=', a.id).execute();
      await db.deleteFrom('accounts').where('id', '=', a.id).execute();
    },
  },
  'PUT /accounts/acme': { req: () => ({ method: 'PUT', url: '/accounts/acme', body: { suspended: false } }) },
  'PUT /accounts/other': { req: () => ({ method: 'PUT', url: '/accounts/other', body: { suspended: false } }) },
  'GET /accounts/acme/privileges': {
    req: () => ({ method: 'GET', url: '/accounts/acme/privileges' }),
    check: sees({
      account: ['aadmin account_admin', 'gadmin group_admin', 'keyuser group_admin', 'keyuser vm_admin', 'vmadmin vm_admin', 'vmcons vm_console'],
      group: ['gadmin group_admin', 'keyuser vm_admin', 'vmadmin vm_admin', 'vmcons vm_console'],
      vm: ['vmadmin vm_admin', 'vmcons vm_console'],
      console: ['vmcons vm_console'],
      key: ['keyuser vm_admin', 'vmcons vm_console'],
    }, (r) => (r.body as any[]).map((p) => `${p.username} ${p.level}`).sort()),
  },
  'GET /accounts/other/privileges': { req: () => ({ method: 'GET', url: '/accounts/other/privileges' }) },

  // Groups ------------------------------------------------------------------------------------
  'GET /accounts/acme/groups': {
    req: () => ({ method: 'GET', url: '/accounts/acme/groups' }),
    check: sees({ cluster: ['default', 'shop'], account: ['default', 'shop'], group: ['default'], vm: ['default'], console: ['default'], key: ['default'] }),
  },
  'GET /accounts/other/groups': { req: () => ({ method: 'GET', url: '/accounts/other/groups' }) },
  'GET /groups': {
    req: () => ({ method: 'GET', url: '/groups' }),
    check: sees({ account: ['default', 'shop'], group: ['default'], vm: ['default'], none: [], key: ['default'] }),
  },
  'POST /accounts/acme/groups': {
    req: (_fx, role) => ({ method: 'POST', url: '/accounts/acme/groups', body: { name: `g-${short(role)}` } }),
    restore: async (fx, role) => { await admin(fx, 'DELETE', `/accounts/acme/groups/g-${short(role)}`); },
  },
  'POST /accounts/other/groups': {
    req: (_fx, role) => ({ method: 'POST', url: '/accounts/other/groups', body: { name: `g-${short(role)}` } }),
    restore: async (fx, role) => { await admin(fx, 'DELETE', `/accounts/other/groups/g-${short(role)}`); },
  },
  'GET /accounts/acme/groups/default': { req: () => ({ method: 'GET', url: '/accounts/acme/groups/default' }) },
  'GET /accounts/acme/groups/{default id}?view=overview': {
    req: (fx) => ({ method: 'GET', url: `/accounts/acme/groups/${fx.id.acmeDefault}?view=overview` }),
    check: sees({ cluster: ['web1', 'web2'], group: ['web1', 'web2'], vm: ['web1'], console: ['web1'], key: ['web1'] }, (r) => names({ body: r.body.virtual_machines } as Reply)),
  },
  'GET /accounts/acme/groups/shop': { req: () => ({ method: 'GET', url: '/accounts/acme/groups/shop' }) },
  'GET /accounts/other/groups/default': { req: () => ({ method: 'GET', url: '/accounts/other/groups/default' }) },
  'PUT /accounts/acme/groups/default': { req: () => ({ method: 'PUT', url: '/accounts/acme/groups/default', body: { name: 'default' } }) },
  'PUT /accounts/acme/groups/shop': { req: () => ({ method: 'PUT', url: '/accounts/acme/groups/shop', body: { name: 'shop' } }) },
  'PUT /accounts/other/groups/default': { req: () => ({ method: 'PUT', url: '/accounts/other/groups/default', body: { name: 'default' } }) },
  'DELETE /accounts/acme/groups/{empty}': {
    prepare: async (fx) => { await admin(fx, 'POST', '/accounts/acme/groups', { name: 'tmp' }); },
    req: () => ({ method: 'DELETE', url: '/accounts/acme/groups/tmp' }),
    restore: async (fx) => { await admin(fx, 'DELETE', '/accounts/acme/groups/tmp'); },
  },
  'DELETE /accounts/acme/groups/default': { req: () => ({ method: 'DELETE', url: '/accounts/acme/groups/default' }) },
  'DELETE /accounts/other/groups/{empty}': {
    prepare: async (fx) => { await admin(fx, 'POST', '/accounts/other/groups', { name: 'tmp' }); },
    req: () => ({ method: 'DELETE', url: '/accounts/other/groups/tmp' }),
    restore: async (fx) => { await admin(fx, 'DELETE', '/accounts/other/groups/tmp'); },
  },
  'GET /accounts/acme/groups/default/privileges': { req: () => ({ method: 'GET', url: '/accounts/acme/groups/default/privileges' }) },
  'GET /accounts/acme/groups/shop/privileges': { req: () => ({ method: 'GET', url: '/accounts/acme/groups/shop/privileges' }) },
  'GET /accounts/other/groups/default/privileges': { req: () => ({ method: 'GET', url: '/accounts/other/groups/default/privileges' }) },

  // Virtual machines --------------------------------------------------------------------------
  'GET acme/default/virtual_machines': {
    req: () => ({ method: 'GET', url: A }),
    check: sees({ cluster: ['web1', 'web2'], account: ['web1', 'web2'], group: ['web1', 'web2'], vm: ['web1'], console: ['web1'], key: ['web1'] }),
  },
  'GET acme/shop/virtual_machines': { req: () => ({ method: 'GET', url: '/accounts/acme/groups/shop/virtual_machines' }) },
  'GET other/default/virtual_machines': { req: () => ({ method: 'GET', url: O }) },
  'GET /virtual_machines': {
    req: () => ({ method: 'GET', url: '/virtual_machines' }),
    check: sees({
      cluster: ['db1', 'web1', 'web2', 'x1'], account: ['db1', 'web1', 'web2'], group: ['web1', 'web2'], vm: ['web1'], console: ['web1'], none: [], key: ['web1'],
    }),
  },
  'GET /virtual_machines?account_id=other': {
    req: () => ({ method: 'GET', url: '/virtual_machines?account_id=other' }),
    check: sees({ cluster: ['x1'], account: [], group: [], vm: [], console: [], none: [], key: [] }),
  },
  'GET /virtual_machines?group_id={other default}': {
    req: (fx) => ({ method: 'GET', url: `/virtual_machines?group_id=${fx.id.otherDefault}` }),
    check: sees({ cluster: ['x1'], account: [], group: [], vm: [], console: [], none: [], key: [] }),
  },
  'GET acme/default/web1': { req: () => ({ method: 'GET', url: `${A}/web1?view=overview&include_deleted=true` }) },
  'GET acme/default/{web1 id}': { req: (fx) => ({ method: 'GET', url: `${A}/${fx.id.web1}` }) },
  'GET acme/default/web2': { req: () => ({ method: 'GET', url: `${A}/web2` }) },
  'GET acme/shop/db1': { req: () => ({ method: 'GET', url: '/accounts/acme/groups/shop/virtual_machines/db1' }) },
  'GET other/default/x1': { req: () => ({ method: 'GET', url: `${O}/x1?view=overview&include_deleted=true` }) },
  'GET /virtual_machines/{web1}': { req: (fx) => ({ method: 'GET', url: `/virtual_machines/${fx.id.web1}` }) },
  'GET /virtual_machines/{web2}': { req: (fx) => ({ method: 'GET', url: `/virtual_machines/${fx.id.web2}` }) },
  'GET /virtual_machines/{x1}': { req: (fx) => ({ method: 'GET', url: `/virtual_machines/${fx.id.x1}` }) },
  'POST acme/default/virtual_machines': {
    req: (_fx, role) => ({ method: 'POST', url: A, body: { name: `b-${short(role)}` } }),
    restore: (fx, role) => purgeIfThere(fx, `${A}/b-${short(role)}`),
  },
  'POST acme/default/vm_create': {
    req: (_fx, role) => ({ method: 'POST', url: '/accounts/acme/groups/default/vm_create', body: { virtual_machine: { name: `c-${short(role)}` } } }),
    restore: (fx, role) => purgeIfThere(fx, `${A}/c-${short(role)}`),
  },
  'POST acme/shop/vm_create': {
    req: (_fx, role) => ({ method: 'POST', url: '/accounts/acme/groups/shop/vm_create', body: { virtual_machine: { name: `c-${short(role)}` } } }),
    restore: (fx, role) => purgeIfThere(fx, `/accounts/acme/groups/shop/virtual_machines/c-${short(role)}`),
  },
  'POST other/default/vm_create': {
    req: (_fx, role) => ({ method: 'POST', url: '/accounts/other/groups/default/vm_create', body: { virtual_machine: { name: `c-${short(role)}` } } }),
    restore: (fx, role) => purgeIfThere(fx, `${O}/c-${short(role)}`),
  },
  'POST other/default/virtual_machines': {
    req: (_fx, role) => ({ method: 'POST', url: O, body: { name: `b-${short(role)}` } }),
    restore: (fx, role) => purgeIfThere(fx, `${O}/b-${short(role)}`),
  },
  'PUT acme/default/web1': { req: () => ({ method: 'PUT', url: `${A}/web1`, body: { hardware_profile_locked: false } }) },
  'PUT acme/default/web1 (rename)': {
    req: (fx) => ({ method: 'PUT', url: `${A}/web1`, body: { name: 'web1', group_id: fx.id.acmeDefault } }),
  },
  'PUT acme/default/web2': { req: () => ({ method: 'PUT', url: `${A}/web2`, body: { hardware_profile_locked: false } }) },
  'PUT acme/shop/db1': { req: () => ({ method: 'PUT', url: '/accounts/acme/groups/shop/virtual_machines/db1', body: { hardware_profile_locked: false } }) },
  'PUT other/default/x1': { req: () => ({ method: 'PUT', url: `${O}/x1`, body: { hardware_profile_locked: false } }) },
  'PUT acme/default/web1 {deleted:false}': {
    prepare: async (fx) => { await admin(fx, 'DELETE', `${A}/web1`); },
    req: () => ({ method: 'PUT', url: `${A}/web1`, body: { deleted: false } }),
    restore: (fx) => startWeb1(fx),
  },
  'DELETE acme/default/web1': { req: () => ({ method: 'DELETE', url: `${A}/web1` }), restore: (fx) => startWeb1(fx) },
  'DELETE acme/default/web2': { req: () => ({ method: 'DELETE', url: `${A}/web2` }), restore: (fx) => undelete(fx, `${A}/web2`) },
  'DELETE other/default/x1': { req: () => ({ method: 'DELETE', url: `${O}/x1` }), restore: (fx) => restart(fx, `${O}/x1`) },
  // bigv-python's cad; the fake guest reboots on it.
  'POST acme/default/web1/signal': {
    req: () => ({ method: 'POST', url: `${A}/web1/signal`, body: { signal: 'sendkey', data: 'ctrl-alt-del' } }),
    check: (_fx, _role, r) => assert.deepEqual(r.body, { signal: 'sendkey', data: 'ctrl-alt-del' }),
    restore: (fx) => startWeb1(fx),
  },
  'POST other/default/x1/signal': {
    req: () => ({ method: 'POST', url: `${O}/x1/signal`, body: { signal: 'sendkey', data: 'ctrl-alt-del' } }),
    restore: (fx) => restart(fx, `${O}/x1`),
  },
  'POST acme/default/web1/reimage': {
    prepare: async (fx) => { await admin(fx, 'PUT', `${A}/web1`, { power_on: false, autoreboot_on: false }); },
    req: () => ({ method: 'POST', url: `${A}/web1/reimage`, body: { distribution: 'tiny', root_password: 'pw' } }),
    restore: (fx) => startWeb1(fx),
  },
  'POST other/default/x1/reimage': { req: () => ({ method: 'POST', url: `${O}/x1/reimage`, body: { distribution: 'tiny', root_password: 'pw' } }) },
  'GET acme/default/web1/privileges': { req: () => ({ method: 'GET', url: `${A}/web1/privileges` }) },
  'GET other/default/x1/privileges': { req: () => ({ method: 'GET', url: `${O}/x1/privileges` }) },

  // Discs -------------------------------------------------------------------------------------
  'GET web1/discs': { req: () => ({ method: 'GET', url: `${A}/web1/discs` }) },
  'GET web1/discs/disc-1': { req: () => ({ method: 'GET', url: `${A}/web1/discs/disc-1` }) },
  'GET x1/discs': { req: () => ({ method: 'GET', url: `${O}/x1/discs` }) },
  'GET x1/discs/disc-1': { req: () => ({ method: 'GET', url: `${O}/x1/discs/disc-1` }) },
  'GET /discs/{web1 disc}': { req: (fx) => ({ method: 'GET', url: `/discs/${fx.id.web1Disc}` }) },
  'GET /discs/{x1 disc}': { req: (fx) => ({ method: 'GET', url: `/discs/${fx.id.x1Disc}` }) },
  'POST web1/discs': {
    req: (_fx, role) => ({ method: 'POST', url: `${A}/web1/discs`, body: { label: `d-${short(role)}`, storage_grade: 'sata', size: 1024 } }),
    restore: async (fx, role) => { await admin(fx, 'DELETE', `${A}/web1/discs/d-${short(role)}?purge=true`); },
  },
  'POST x1/discs': {
    req: (_fx, role) => ({ method: 'POST', url: `${O}/x1/discs`, body: { label: `d-${short(role)}`, storage_grade: 'sata', size: 1024 } }),
    restore: async (fx, role) => { await admin(fx, 'DELETE', `${O}/x1/discs/d-${short(role)}?purge=true`); },
  },
  'PUT web1/discs/disc-1': { req: () => ({ method: 'PUT', url: `${A}/web1/discs/disc-1`, body: { size: 1024 } }) },
  'PUT x1/discs/disc-1': { req: () => ({ method: 'PUT', url: `${O}/x1/discs/disc-1`, body: { size: 1024 } }) },
  'PUT /discs/{web1 disc}': { req: (fx) => ({ method: 'PUT', url: `/discs/${fx.id.web1Disc}`, body: { size: 1024 } }) },
  'PUT /discs/{x1 disc}': { req: (fx) => ({ method: 'PUT', url: `/discs/${fx.id.x1Disc}`, body: { size: 1024 } }) },
  'DELETE web1/discs/{spare}': {
    prepare: async (fx) => { await admin(fx, 'POST', `${A}/web1/discs`, { label: 'tmp', size: 1024 }); },
    req: () => ({ method: 'DELETE', url: `${A}/web1/discs/tmp?purge=true` }),
    restore: async (fx) => { await admin(fx, 'DELETE', `${A}/web1/discs/tmp?purge=true`); },
  },
  'DELETE x1/discs/{spare}': {
    prepare: async (fx) => { await admin(fx, 'POST', `${O}/x1/discs`, { label: 'tmp', size: 1024 }); },
    req: () => ({ method: 'DELETE', url: `${O}/x1/discs/tmp?purge=true` }),
    restore: async (fx) => { await admin(fx, 'DELETE', `${O}/x1/discs/tmp?purge=true`); },
  },
  'DELETE /discs/{web1 spare}': {
    prepare: async (fx) => { fx.id.tmpDisc = (await admin(fx, 'POST', `${A}/web1/discs`, { label: 'tmp', size: 1024 })).body.id; },
    req: (fx) => ({ method: 'DELETE', url: `/discs/${fx.id.tmpDisc}?purge=true` }),
    restore: async (fx) => { await admin(fx, 'DELETE', `/discs/${fx.id.tmpDisc}?purge=true`); },
  },
  'DELETE /discs/{x1 spare}': {
    prepare: async (fx) => { fx.id.tmpDisc = (await admin(fx, 'POST', `${O}/x1/discs`, { label: 'tmp', size: 1024 })).body.id; },
    req: (fx) => ({ method: 'DELETE', url: `/discs/${fx.id.tmpDisc}?purge=true` }),
    restore: async (fx) => { await admin(fx, 'DELETE', `/discs/${fx.id.tmpDisc}?purge=true`); },
  },
  // The non-nested filters answer a list to everyone: what the caller cannot read is simply not in it.
  'GET /discs?vm_id={web1}': {
    req: (fx) => ({ method: 'GET', url: `/discs?vm_id=${fx.id.web1}` }),
    check: sees({ cluster: ['disc-1'], account: ['disc-1'], group: ['disc-1'], vm: ['disc-1'], console: ['disc-1'], none: [], key: ['disc-1'] }, (r) => r.body.map((d: any) => d.label)),
  },
  'GET /discs?vm_id={x1}': {
    req: (fx) => ({ method: 'GET', url: `/discs?vm_id=${fx.id.x1}` }),
    check: sees({ cluster: ['disc-1'], account: [], group: [], vm: [], console: [], none: [], key: [] }, (r) => r.body.map((d: any) => d.label)),
  },

  'GET web1/discs/disc-1/backups': { req: () => ({ method: 'GET', url: `${A}/web1/discs/disc-1/backups` }) },
  'GET x1/discs/disc-1/backups': { req: () => ({ method: 'GET', url: `${O}/x1/discs/disc-1/backups` }) },
  'POST web1/discs/disc-1/backups': {
    req: () => ({ method: 'POST', url: `${A}/web1/discs/disc-1/backups` }),
    check: (_fx, _role, r) => assert.equal(r.body.parent_disc_id > 0, true),
    restore: async (fx) => {
      for (const b of (await admin(fx, 'GET', `${A}/web1/discs/disc-1/backups`)).body) await admin(fx, 'DELETE', `${A}/web1/discs/disc-1/backups/${b.id}?purge=true`);
    },
  },
  'POST x1/discs/disc-1/backups': {
    req: () => ({ method: 'POST', url: `${O}/x1/discs/disc-1/backups` }),
    restore: async (fx) => {
      for (const b of (await admin(fx, 'GET', `${O}/x1/discs/disc-1/backups`)).body) await admin(fx, 'DELETE', `${O}/x1/discs/disc-1/backups/${b.id}?purge=true`);
    },
  },
  'POST web1/discs/disc-1/backup_schedules': {
    req: () => ({ method: 'POST', url: `${A}/web1/discs/disc-1/backup_schedules`, body: { start_at: '2030-01-01 00:00:00', interval_seconds: 86400, capacity: 0 } }),
    check: (_fx, _role, r) => assert.equal(r.body.capacity, 1),
    restore: async (fx, _role, r) => { if (r.status === 201) await admin(fx, 'DELETE', `${A}/web1/discs/disc-1/backup_schedules/${r.body.id}`); },
  },
  // Restoring needs the machine off: a 400 for those who may restore shows the privilege was checked first.
  'PUT web1/discs/disc-1/backups/{b} restore (running)': {
    prepare: async (fx) => { fx.id.tmpBackup = (await admin(fx, 'POST', `${A}/web1/discs/disc-1/backups`)).body.id; },
    req: (fx) => ({ method: 'PUT', url: `${A}/web1/discs/disc-1/backups/${fx.id.tmpBackup}`, body: { restore: true } }),
    restore: async (fx) => { await admin(fx, 'DELETE', `${A}/web1/discs/disc-1/backups/${fx.id.tmpBackup}?purge=true`); },
  },
  'PUT x1/discs/disc-1/backups/{b} restore (running)': {
    prepare: async (fx) => { fx.id.tmpBackup = (await admin(fx, 'POST', `${O}/x1/discs/disc-1/backups`)).body.id; },
    req: (fx) => ({ method: 'PUT', url: `${O}/x1/discs/disc-1/backups/${fx.id.tmpBackup}`, body: { restore: true } }),
    restore: async (fx) => { await admin(fx, 'DELETE', `${O}/x1/discs/disc-1/backups/${fx.id.tmpBackup}?purge=true`); },
  },
  'DELETE web1/discs/disc-1/backups/{b}': {
    prepare: async (fx) => { fx.id.tmpBackup = (await admin(fx, 'POST', `${A}/web1/discs/disc-1/backups`)).body.id; },
    req: (fx) => ({ method: 'DELETE', url: `${A}/web1/discs/disc-1/backups/${fx.id.tmpBackup}?purge=true` }),
    restore: async (fx) => { await admin(fx, 'DELETE', `${A}/web1/discs/disc-1/backups/${fx.id.tmpBackup}?purge=true`); },
  },
  'DELETE x1/discs/disc-1/backups/{b}': {
    prepare: async (fx) => { fx.id.tmpBackup = (await admin(fx, 'POST', `${O}/x1/discs/disc-1/backups`)).body.id; },
    req: (fx) => ({ method: 'DELETE', url: `${O}/x1/discs/disc-1/backups/${fx.id.tmpBackup}?purge=true` }),
    restore: async (fx) => { await admin(fx, 'DELETE', `${O}/x1/discs/disc-1/backups/${fx.id.tmpBackup}?purge=true`); },
  },
  'DELETE web1/discs/disc-1/backup_schedules/{id}': {
    prepare: async (fx) => { fx.id.tmpSchedule = (await admin(fx, 'POST', `${A}/web1/discs/disc-1/backup_schedules`, { interval_seconds: 3600 })).body.id; },
    req: (fx) => ({ method: 'DELETE', url: `${A}/web1/discs/disc-1/backup_schedules/${fx.id.tmpSchedule}` }),
    restore: async (fx) => { await admin(fx, 'DELETE', `${A}/web1/discs/disc-1/backup_schedules/${fx.id.tmpSchedule}`); },
  },

  // NICs and IPs ------------------------------------------------------------------------------
  'GET web1/nics': { req: () => ({ method: 'GET', url: `${A}/web1/nics` }) },
  'GET web1/nics/{nic}': { req: (fx) => ({ method: 'GET', url: `${A}/web1/nics/${fx.id.web1Nic}` }) },
  'GET x1/nics': { req: () => ({ method: 'GET', url: `${O}/x1/nics` }) },
  'GET /nics?vm_id={web1}': {
    req: (fx) => ({ method: 'GET', url: `/nics?vm_id=${fx.id.web1}` }),
    check: sees({ cluster: ['1'], account: ['1'], group: ['1'], vm: ['1'], console: ['1'], none: ['0'], key: ['1'] }, (r) => [String(r.body.length)]),
  },
  'GET /nics?vm_id={x1}': {
    req: (fx) => ({ method: 'GET', url: `/nics?vm_id=${fx.id.x1}` }),
    check: sees({ cluster: ['1'], account: ['0'], group: ['0'], vm: ['0'], console: ['0'], none: ['0'], key: ['0'] }, (r) => [String(r.body.length)]),
  },
  'GET /nics/{web1 nic}': { req: (fx) => ({ method: 'GET', url: `/nics/${fx.id.web1Nic}` }) },
  'GET /nics/{x1 nic}': { req: (fx) => ({ method: 'GET', url: `/nics/${fx.id.x1Nic}` }) },
  'POST web1/nics/{nic}/ip_create': {
    req: (fx) => ({ method: 'POST', url: `${A}/web1/nics/${fx.id.web1Nic}/ip_create`, body: { addresses: 1, family: 'ipv4', reason: 'test' } }),
    check: (_fx, _role, r) => assert.equal(r.body.ips.length, 1),
    restore: (fx) => dropExtraIps(fx, `${A}/web1`),
  },
  'POST x1/nics/{nic}/ip_create': {
    req: (fx) => ({ method: 'POST', url: `${O}/x1/nics/${fx.id.x1Nic}/ip_create`, body: { addresses: 1, family: 'ipv4' } }),
    restore: (fx) => dropExtraIps(fx, `${O}/x1`),
  },
  'GET /ips/{web1}': { req: (fx) => ({ method: 'GET', url: `/ips/${fx.ip.web1}` }) },
  'GET /ips/{x1}': { req: (fx) => ({ method: 'GET', url: `/ips/${fx.ip.x1}` }) },
  'PUT /ips/{web1}': { req: (fx) => ({ method: 'PUT', url: `/ips/${fx.ip.web1}`, body: { rdns: 'web1.example.com' } }) },
  'PUT /ips/{x1}': { req: (fx) => ({ method: 'PUT', url: `/ips/${fx.ip.x1}`, body: { rdns: 'x1.example.com' } }) },
  // Both machines must be off: web2 and db1 are. vm_admin is needed on both.
  'POST /ips/swap_virtual_machine_ips web2 db1': {
    req: (fx) => ({ method: 'POST', url: '/ips/swap_virtual_machine_ips', body: { virtual_machine_1_id: fx.id.web2, virtual_machine_2_id: fx.id.db1 } }),
    restore: async (fx, _role, r) => {
      if (r.status === 200) await admin(fx, 'POST', '/ips/swap_virtual_machine_ips', { virtual_machine_1_id: fx.id.web2, virtual_machine_2_id: fx.id.db1 });
    },
  },
  'POST /ips/swap_virtual_machine_ips web2 x1': {
    prepare: async (fx) => { await admin(fx, 'PUT', `${O}/x1`, { power_on: false, autoreboot_on: false }); },
    req: (fx) => ({ method: 'POST', url: '/ips/swap_virtual_machine_ips', body: { virtual_machine_1_id: fx.id.web2, virtual_machine_2_id: fx.id.x1 } }),
    restore: async (fx, _role, r) => {
      if (r.status === 200) await admin(fx, 'POST', '/ips/swap_virtual_machine_ips', { virtual_machine_1_id: fx.id.web2, virtual_machine_2_id: fx.id.x1 });
      await restart(fx, `${O}/x1`);
    },
  },
  'DELETE /ips/{web1 extra}': {
    prepare: async (fx) => {
      const r = await admin(fx, 'POST', `${A}/web1/nics/${fx.id.web1Nic}/ip_create`, { addresses: 1 });
      fx.ip.extra = r.body.ips[0];
    },
    req: (fx) => ({ method: 'DELETE', url: `/ips/${fx.ip.extra}` }),
    restore: (fx) => dropExtraIps(fx, `${A}/web1`),
  },
  'DELETE /ips/{x1 extra}': {
    prepare: async (fx) => {
      const r = await admin(fx, 'POST', `${O}/x1/nics/${fx.id.x1Nic}/ip_create`, { addresses: 1 });
      fx.ip.extra = r.body.ips[0];
    },
    req: (fx) => ({ method: 'DELETE', url: `/ips/${fx.ip.extra}` }),
    restore: (fx) => dropExtraIps(fx, `${O}/x1`),
  },

  // Privileges --------------------------------------------------------------------------------
  'GET /privileges': {
    req: () => ({ method: 'GET', url: '/privileges' }),
    check: sees({
      cluster: ['cluster_admin'], account: ['account_admin'], group: ['group_admin'], vm: ['vm_admin'], console: ['vm_console'], none: [],
      key: ['vm_admin'],
    }, (r) => (r.body as any[]).map((p) => p.level).sort()),
  },
  'GET /privileges/{vmcons on web1}': { req: (fx) => ({ method: 'GET', url: `/privileges/${fx.id.consPriv}` }) },
  'GET /privileges/{otheruser on x1}': { req: (fx) => ({ method: 'GET', url: `/privileges/${fx.id.otherPriv}` }) },
  'PUT /privileges/{vmcons on web1}': { req: (fx) => ({ method: 'PUT', url: `/privileges/${fx.id.consPriv}`, body: { yubikey_otp_max_age: 900 } }) },
  'PUT /privileges/{otheruser on x1}': { req: (fx) => ({ method: 'PUT', url: `/privileges/${fx.id.otherPriv}`, body: { yubikey_otp_max_age: 900 } }) },
  'DELETE /privileges/{spare vm_console on web1}': {
    prepare: async (fx) => { fx.id.tmpPriv = (await admin(fx, 'POST', '/users/spare/privileges', { level: 'vm_console', virtual_machine_id: fx.id.web1 })).body.id; },
    req: (fx) => ({ method: 'DELETE', url: `/privileges/${fx.id.tmpPriv}` }),
    restore: (fx) => revokeAll(fx, 'spare'),
  },
  'DELETE /privileges/{spare vm_console on x1}': {
    prepare: async (fx) => { fx.id.tmpPriv = (await admin(fx, 'POST', '/users/spare/privileges', { level: 'vm_console', virtual_machine_id: fx.id.x1 })).body.id; },
    req: (fx) => ({ method: 'DELETE', url: `/privileges/${fx.id.tmpPriv}` }),
    restore: (fx) => revokeAll(fx, 'spare'),
  },
  'POST /users/spare/privileges vm_console web1': {
    req: (fx) => ({ method: 'POST', url: '/users/spare/privileges', body: { level: 'vm_console', virtual_machine_id: fx.id.web1 } }),
    // spare belongs to acme: a privilege at once, not an invitation.
    check: (fx, _role, r) => assert.deepEqual([r.body.virtual_machine_id, r.body.pending], [fx.id.web1, undefined]),
    restore: (fx) => revokeAll(fx, 'spare'),
  },
  'POST /users/spare/privileges vm_admin web1': {
    req: (fx) => ({ method: 'POST', url: '/users/spare/privileges', body: { level: 'vm_admin', virtual_machine_id: fx.id.web1 } }),
    restore: (fx) => revokeAll(fx, 'spare'),
  },
  'POST /users/spare/privileges vm_console web2': {
    req: (fx) => ({ method: 'POST', url: '/users/spare/privileges', body: { level: 'vm_console', virtual_machine_id: fx.id.web2 } }),
    restore: (fx) => revokeAll(fx, 'spare'),
  },
  'POST /users/spare/privileges group_admin default': {
    req: (fx) => ({ method: 'POST', url: '/users/spare/privileges', body: { level: 'group_admin', group_id: fx.id.acmeDefault } }),
    restore: (fx) => revokeAll(fx, 'spare'),
  },
  'POST /users/spare/privileges group_admin shop': {
    req: (fx) => ({ method: 'POST', url: '/users/spare/privileges', body: { level: 'group_admin', group_id: fx.id.shop } }),
    restore: (fx) => revokeAll(fx, 'spare'),
  },
  'POST /users/spare/privileges account_admin acme': {
    req: (fx) => ({ method: 'POST', url: '/users/spare/privileges', body: { level: 'account_admin', account_id: fx.id.acme } }),
    restore: (fx) => revokeAll(fx, 'spare'),
  },
  'POST /users/spare/privileges cluster_admin': {
    req: () => ({ method: 'POST', url: '/users/spare/privileges', body: { level: 'cluster_admin' } }),
    restore: (fx) => revokeAll(fx, 'spare'),
  },
  'POST /users/spare/privileges vm_console x1': {
    req: (fx) => ({ method: 'POST', url: '/users/spare/privileges', body: { level: 'vm_console', virtual_machine_id: fx.id.x1 } }),
    restore: (fx) => revokeAll(fx, 'spare'),
  },
  'POST /users/spare/privileges account_admin other': {
    req: (fx) => ({ method: 'POST', url: '/users/spare/privileges', body: { level: 'account_admin', account_id: fx.id.other } }),
    restore: (fx) => revokeAll(fx, 'spare'),
  },
  'POST /users/otheruser/privileges vm_console web1 (invitation)': {
    req: (fx) => ({ method: 'POST', url: '/users/otheruser/privileges', body: { level: 'vm_console', virtual_machine_id: fx.id.web1 } }),
    // A cluster admin's grant is a privilege; anyone else's, to a user outside acme, an invitation that grants nothing yet.
    check: (_fx, role, r) => assert.equal(r.body.pending, role === 'cluster' ? undefined : true),
    restore: (fx) => dropOtheruserOnWeb1(fx),
  },
  'GET /invitations': {
    prepare: (fx) => inviteOtheruser(fx),
    req: () => ({ method: 'GET', url: '/invitations' }),
    check: sees({ cluster: ['otheruser'], account: ['otheruser'], group: ['otheruser'], vm: ['otheruser'], console: [], none: [], key: ['otheruser'] }),
    restore: (fx) => dropOtheruserOnWeb1(fx),
  },
  'POST /invitations/{otheruser on web1}/accept': {
    prepare: (fx) => inviteOtheruser(fx),
    req: (fx) => ({ method: 'POST', url: `/invitations/${fx.id.invitation}/accept` }),
    restore: (fx) => dropOtheruserOnWeb1(fx),
  },
  'DELETE /invitations/{otheruser on web1}': {
    prepare: (fx) => inviteOtheruser(fx),
    req: (fx) => ({ method: 'DELETE', url: `/invitations/${fx.id.invitation}` }),
    restore: (fx) => dropOtheruserOnWeb1(fx),
  },
  'GET /users/vmcons/privileges': { req: () => ({ method: 'GET', url: '/users/vmcons/privileges' }) },
  'GET /users/otheruser/privileges': { req: () => ({ method: 'GET', url: '/users/otheruser/privileges' }) },
  'GET /privileges?user_id=otheruser': { req: () => ({ method: 'GET', url: '/privileges?user_id=otheruser' }) },

  // Users -------------------------------------------------------------------------------------
  'GET /users': {
    req: () => ({ method: 'GET', url: '/users' }),
    check: (_fx, role, r) => {
      if (role === 'cluster') assert.ok(names(r).length >= 9);
      else assert.deepEqual(names(r), [USERS[role]]);
    },
  },
  'GET /users/{self}': { req: (_fx, role) => ({ method: 'GET', url: `/users/${USERS[role]}` }) },
  'GET /users/vmcons': { req: () => ({ method: 'GET', url: '/users/vmcons' }) },
  'GET /users/{vmcons id}': { req: (fx) => ({ method: 'GET', url: `/users/${fx.uid.vmcons}` }) },
  'POST /users': {
    req: (_fx, role) => ({ method: 'POST', url: '/users', body: { username: `u-${short(role)}`, password: 'long-enough-1', email: 'u@example.com' } }),
    restore: async (fx, role) => { await admin(fx, 'DELETE', `/users/u-${short(role)}`); },
  },
  'PUT /users/{self}': {
    req: (_fx, role) => ({ method: 'PUT', url: `/users/${USERS[role]}`, body: { authorized_keys: SSH_KEY } }),
    check: (_fx, _role, r) => assert.equal(r.body.authorized_keys, SSH_KEY),
    restore: async (fx, role) => { await admin(fx, 'PUT', `/users/${USERS[role]}`, { authorized_keys: '' }); },
  },
  'PUT /users/vmcons': {
    req: () => ({ method: 'PUT', url: '/users/vmcons', body: { authorized_keys: SSH_KEY } }),
    restore: async (fx) => { await admin(fx, 'PUT', '/users/vmcons', { authorized_keys: '' }); },
  },
  'DELETE /users/{spare2}': {
    prepare: async (fx) => { await admin(fx, 'POST', '/users', { username: 'spare2', password: 'long-enough-1' }); },
    req: () => ({ method: 'DELETE', url: '/users/spare2' }),
    restore: async (fx) => { await admin(fx, 'DELETE', '/users/spare2'); },
  },
  'DELETE /users/{self}': { req: (_fx, role) => ({ method: 'DELETE', url: `/users/${USERS[role]}` }) },

  // API keys ----------------------------------------------------------------------------------
  'GET /api_keys': {
    req: () => ({ method: 'GET', url: '/api_keys?view=overview' }),
    check: (_fx, role, r) => {
      const labels = (r.body as any[]).map((k) => `${k.username}/${k.label}`);
      assert.deepEqual(labels, role === 'cluster' || role === 'key' ? ['keyuser/ci'] : []);
      if (role === 'key') assert.deepEqual(r.body[0].privileges.map((p: any) => p.level), ['vm_admin']);
    },
  },
  'GET /api_keys/{keyuser ci}': { req: (fx) => ({ method: 'GET', url: `/api_keys/${fx.id.key}` }) },
  'POST /api_keys': {
    req: () => ({ method: 'POST', url: '/api_keys', body: { label: 'mine', expires_at: '2099-01-01' } }),
    check: (_fx, role, r) => {
      assert.equal(r.body.username, USERS[role]);
      assert.match(r.body.api_key, /^[A-Za-z0-9_-]{20,}$/);
      assert.equal(r.body.expires_at, '2099-01-01T00:00:00+0000');
    },
    restore: async (fx) => {
      for (const k of (await admin(fx, 'GET', '/api_keys')).body) if (k.label === 'mine') await admin(fx, 'DELETE', `/api_keys/${k.id}`);
    },
  },
  'POST /api_keys for vmcons': {
    req: (fx) => ({ method: 'POST', url: '/api_keys', body: { label: 'theirs', user_id: fx.uid.vmcons } }),
    restore: async (fx) => {
      for (const k of (await admin(fx, 'GET', '/api_keys')).body) if (k.label === 'theirs') await admin(fx, 'DELETE', `/api_keys/${k.id}`);
    },
  },
  'DELETE /api_keys/{spare key}': {
    prepare: async (fx) => { fx.id.tmpKey = (await admin(fx, 'POST', '/api_keys', { label: 'tmp', user_id: fx.uid.spare })).body.id; },
    req: (fx) => ({ method: 'DELETE', url: `/api_keys/${fx.id.tmpKey}` }),
    restore: async (fx) => { await admin(fx, 'DELETE', `/api_keys/${fx.id.tmpKey}`); },
  },

  'GET /definitions': { req: () => ({ method: 'GET', url: '/definitions' }) },

  // Operations (docs/operations.md): readable by whoever may read their VM -------------------
  'GET /operations/{web1 create}': {
    req: (fx) => ({ method: 'GET', url: `/operations/${fx.op.web1}` }),
    check: (fx, _role, r) => assert.deepEqual(r.body.target, { type: 'virtual_machine', id: fx.id.web1 }),
  },
  'GET /operations/{x1 create}': { req: (fx) => ({ method: 'GET', url: `/operations/${fx.op.x1}` }) },
  'GET /operations?vm_id={web1 id}': { req: (fx) => ({ method: 'GET', url: `/operations?vm_id=${fx.id.web1}` }) },
  'GET /operations?vm_id={x1 id}': { req: (fx) => ({ method: 'GET', url: `/operations?vm_id=${fx.id.x1}` }) },
  'GET /events?max_seconds=0': { req: () => ({ method: 'GET', url: '/events?max_seconds=0' }) },
  'GET /operations': {
    req: () => ({ method: 'GET', url: '/operations' }),
    check: (fx, role, r) => {
      const targets = new Set((r.body as any[]).map((o) => o.target?.id));
      if (role === 'cluster') assert.ok(targets.has(fx.id.x1), 'a cluster admin sees every tenant\'s');
      else assert.ok(!targets.has(fx.id.x1), `${role} sees no other tenant's operations`);
      if (role === 'vm' || role === 'console' || role === 'key') assert.deepEqual([...targets], [fx.id.web1]);
      if (role === 'none') assert.deepEqual(r.body, []);
    },
  },
  // Cancelling needs vm_admin over its VM; web1's create has ended, so whoever may cancel gets 409.
  'DELETE /operations/{web1 create}': { req: (fx) => ({ method: 'DELETE', url: `/operations/${fx.op.web1}` }) },
  'GET /audit': {
    req: () => ({ method: 'GET', url: '/audit?limit=1000' }),
    check: (fx, role, r) => {
      const accounts = new Set((r.body as any[]).map((a) => a.account));
      if (role === 'account') assert.equal(accounts.size, 1, 'an account admin reads its own account\'s rows only');
      if (role === 'cluster') assert.ok(accounts.size >= 2, 'a cluster admin reads every tenant\'s rows');
    },
  },
};

// The matrix. Columns: cluster_admin, account_admin on acme, group_admin on acme/default,
// vm_admin on web1, vm_console on web1, no privilege, API key bound to vm_admin on web1.
type Row = [string, number, number, number, number, number, number, number];
const TREE: Row[] = [
  //                                                   clu  acc  grp  vm   con  none key
  ['GET /accounts',                                     200, 200, 200, 200, 200, 200, 200],
  ['GET /accounts?view=overview',                       200, 200, 200, 200, 200, 200, 200],
  ['GET /accounts/acme',                                200, 200, 200, 200, 200, 404, 200],
  ['GET /accounts/{acme id}',                           200, 200, 200, 200, 200, 404, 200],
  ['GET /accounts/other',                               200, 404, 404, 404, 404, 404, 404],
  ['GET /accounts/{other id}',                          200, 404, 404, 404, 404, 404, 404],
  ['POST /accounts',                                    201, 403, 403, 403, 403, 403, 403],
  ['PUT /accounts/acme',                                200, 403, 403, 403, 403, 404, 403],
  ['PUT /accounts/other',                               200, 404, 404, 404, 404, 404, 404],
  ['GET /accounts/acme/privileges',                     200, 200, 200, 200, 200, 404, 200],
  ['GET /accounts/other/privileges',                    200, 404, 404, 404, 404, 404, 404],

  ['GET /accounts/acme/groups',                         200, 200, 200, 200, 200, 404, 200],
  ['GET /accounts/other/groups',                        200, 404, 404, 404, 404, 404, 404],
  ['GET /groups',                                       200, 200, 200, 200, 200, 200, 200],
  ['POST /accounts/acme/groups',                        201, 201, 403, 403, 403, 404, 403],
  ['POST /accounts/other/groups',                       201, 404, 404, 404, 404, 404, 404],
  ['GET /accounts/acme/groups/default',                 200, 200, 200, 200, 200, 404, 200],
  ['GET /accounts/acme/groups/{default id}?view=overview', 200, 200, 200, 200, 200, 404, 200],
  ['GET /accounts/acme/groups/shop',                    200, 200, 404, 404, 404, 404, 404],
  ['GET /accounts/other/groups/default',                200, 404, 404, 404, 404, 404, 404],
  ['PUT /accounts/acme/groups/default',                 200, 200, 403, 403, 403, 404, 403],
  ['PUT /accounts/acme/groups/shop',                    200, 200, 404, 404, 404, 404, 404],
  ['PUT /accounts/other/groups/default',                200, 404, 404, 404, 404, 404, 404],
  ['DELETE /accounts/acme/groups/{empty}',              204, 204, 404, 404, 404, 404, 404],
  ['DELETE /accounts/acme/groups/default',              400, 400, 403, 403, 403, 404, 403],
  ['DELETE /accounts/other/groups/{empty}',             204, 404, 404, 404, 404, 404, 404],
  ['GET /accounts/acme/groups/default/privileges',      200, 200, 200, 200, 200, 404, 200],
  ['GET /accounts/acme/groups/shop/privileges',         200, 200, 404, 404, 404, 404, 404],
  ['GET /accounts/other/groups/default/privileges',     200, 404, 404, 404, 404, 404, 404],
];

const VMS: Row[] = [
  //                                                   clu  acc  grp  vm   con  none key
  ['GET acme/default/virtual_machines',                 200, 200, 200, 200, 200, 404, 200],
  ['GET acme/shop/virtual_machines',                    200, 200, 404, 404, 404, 404, 404],
  ['GET other/default/virtual_machines',                200, 404, 404, 404, 404, 404, 404],
  ['GET /virtual_machines',                             200, 200, 200, 200, 200, 200, 200],
  ['GET /virtual_machines?account_id=other',            200, 200, 200, 200, 200, 200, 200],
  ['GET /virtual_machines?group_id={other default}',    200, 200, 200, 200, 200, 200, 200],
  ['GET acme/default/web1',                             200, 200, 200, 200, 200, 404, 200],
  ['GET acme/default/{web1 id}',                        200, 200, 200, 200, 200, 404, 200],
  ['GET acme/default/web2',                             200, 200, 200, 404, 404, 404, 404],
  ['GET acme/shop/db1',                                 200, 200, 404, 404, 404, 404, 404],
  ['GET other/default/x1',                              200, 404, 404, 404, 404, 404, 404],
  ['GET /virtual_machines/{web1}',                      200, 200, 200, 200, 200, 404, 200],
  ['GET /virtual_machines/{web2}',                      200, 200, 200, 404, 404, 404, 404],
  ['GET /virtual_machines/{x1}',                        200, 404, 404, 404, 404, 404, 404],
  ['POST acme/default/virtual_machines',                202, 202, 202, 403, 403, 404, 403],
  ['POST acme/default/vm_create',                       202, 202, 202, 403, 403, 404, 403],
  ['POST acme/shop/vm_create',                          202, 202, 404, 404, 404, 404, 404],
  ['POST other/default/vm_create',                      202, 404, 404, 404, 404, 404, 404],
  ['POST other/default/virtual_machines',               202, 404, 404, 404, 404, 404, 404],
  ['PUT acme/default/web1',                             200, 200, 200, 200, 403, 404, 200],
  ['PUT acme/default/web1 (rename)',                    200, 200, 200, 200, 403, 404, 200],
  ['PUT acme/default/web2',                             200, 200, 200, 404, 404, 404, 404],
  ['PUT acme/shop/db1',                                 200, 200, 404, 404, 404, 404, 404],
  ['PUT other/default/x1',                              200, 404, 404, 404, 404, 404, 404],
  ['PUT acme/default/web1 {deleted:false}',             200, 200, 200, 403, 403, 404, 403],
  ['DELETE acme/default/web1',                          204, 204, 204, 403, 403, 404, 403],
  ['DELETE acme/default/web2',                          204, 204, 204, 404, 404, 404, 404],
  ['DELETE other/default/x1',                           204, 404, 404, 404, 404, 404, 404],
  ['POST acme/default/web1/signal',                     200, 200, 200, 200, 403, 404, 200],
  ['POST other/default/x1/signal',                      200, 404, 404, 404, 404, 404, 404],
  ['POST acme/default/web1/reimage',                    200, 200, 200, 200, 403, 404, 200],
  ['POST other/default/x1/reimage',                     400, 404, 404, 404, 404, 404, 404],
  ['GET acme/default/web1/privileges',                  200, 200, 200, 200, 200, 404, 200],
  ['GET other/default/x1/privileges',                   200, 404, 404, 404, 404, 404, 404],
];

const DEVICES: Row[] = [
  //                                                   clu  acc  grp  vm   con  none key
  ['GET web1/discs',                                    200, 200, 200, 200, 200, 404, 200],
  ['GET web1/discs/disc-1',                             200, 200, 200, 200, 200, 404, 200],
  ['GET x1/discs',                                      200, 404, 404, 404, 404, 404, 404],
  ['GET x1/discs/disc-1',                               200, 404, 404, 404, 404, 404, 404],
  ['GET /discs/{web1 disc}',                            200, 200, 200, 200, 200, 404, 200],
  ['GET /discs/{x1 disc}',                              200, 404, 404, 404, 404, 404, 404],
  ['POST web1/discs',                                   201, 201, 201, 201, 403, 404, 201],
  ['POST x1/discs',                                     201, 404, 404, 404, 404, 404, 404],
  ['PUT web1/discs/disc-1',                             200, 200, 200, 200, 403, 404, 200],
  ['PUT x1/discs/disc-1',                               200, 404, 404, 404, 404, 404, 404],
  ['PUT /discs/{web1 disc}',                            200, 200, 200, 200, 403, 404, 200],
  ['PUT /discs/{x1 disc}',                              200, 404, 404, 404, 404, 404, 404],
  ['DELETE web1/discs/{spare}',                         204, 204, 204, 204, 403, 404, 204],
  ['DELETE x1/discs/{spare}',                           204, 404, 404, 404, 404, 404, 404],
  ['DELETE /discs/{web1 spare}',                        204, 204, 204, 204, 403, 404, 204],
  ['DELETE /discs/{x1 spare}',                          204, 404, 404, 404, 404, 404, 404],
  ['GET /discs?vm_id={web1}',                           200, 200, 200, 200, 200, 200, 200],
  ['GET /discs?vm_id={x1}',                             200, 200, 200, 200, 200, 200, 200],
  ['GET web1/discs/disc-1/backups',                     200, 200, 200, 200, 200, 404, 200],
  ['GET x1/discs/disc-1/backups',                       200, 404, 404, 404, 404, 404, 404],
  ['POST web1/discs/disc-1/backups',                    201, 201, 201, 201, 403, 404, 201],
  ['POST x1/discs/disc-1/backups',                      201, 404, 404, 404, 404, 404, 404],
  ['POST web1/discs/disc-1/backup_schedules',           201, 201, 201, 201, 403, 404, 201],
  ['PUT web1/discs/disc-1/backups/{b} restore (running)', 400, 400, 400, 400, 403, 404, 400],
  ['PUT x1/discs/disc-1/backups/{b} restore (running)', 400, 404, 404, 404, 404, 404, 404],
  ['DELETE web1/discs/disc-1/backups/{b}',              204, 204, 204, 204, 403, 404, 204],
  ['DELETE x1/discs/disc-1/backups/{b}',                204, 404, 404, 404, 404, 404, 404],
  ['DELETE web1/discs/disc-1/backup_schedules/{id}',    204, 204, 204, 204, 403, 404, 204],

  ['GET web1/nics',                                     200, 200, 200, 200, 200, 404, 200],
  ['GET web1/nics/{nic}',                               200, 200, 200, 200, 200, 404, 200],
  ['GET x1/nics',                                       200, 404, 404, 404, 404, 404, 404],
  ['GET /nics?vm_id={web1}',                            200, 200, 200, 200, 200, 200, 200],
  ['GET /nics?vm_id={x1}',                              200, 200, 200, 200, 200, 200, 200],
  ['GET /nics/{web1 nic}',                              200, 200, 200, 200, 200, 404, 200],
  ['GET /nics/{x1 nic}',                                200, 404, 404, 404, 404, 404, 404],
  ['POST web1/nics/{nic}/ip_create',                    200, 200, 200, 200, 403, 404, 200],
  ['POST x1/nics/{nic}/ip_create',                      200, 404, 404, 404, 404, 404, 404],
  ['GET /ips/{web1}',                                   200, 200, 200, 200, 200, 404, 200],
  ['GET /ips/{x1}',                                     200, 404, 404, 404, 404, 404, 404],
  ['PUT /ips/{web1}',                                   200, 200, 200, 200, 403, 404, 200],
  ['PUT /ips/{x1}',                                     200, 404, 404, 404, 404, 404, 404],
  // A machine named in the body that you cannot read is a 400 on its field, as for one that does not exist.
  ['POST /ips/swap_virtual_machine_ips web2 db1',       200, 200, 400, 400, 400, 400, 400],
  ['POST /ips/swap_virtual_machine_ips web2 x1',        200, 400, 400, 400, 400, 400, 400],
  ['DELETE /ips/{web1 extra}',                          204, 204, 204, 204, 403, 404, 204],
  ['DELETE /ips/{x1 extra}',                            204, 404, 404, 404, 404, 404, 404],
];

const PEOPLE: Row[] = [
  //                                                   clu  acc  grp  vm   con  none key
  ['GET /privileges',                                   200, 200, 200, 200, 200, 200, 200],
  ['GET /privileges/{vmcons on web1}',                  200, 200, 200, 200, 200, 404, 200],
  ['GET /privileges/{otheruser on x1}',                 200, 404, 404, 404, 404, 404, 404],
  ['PUT /privileges/{vmcons on web1}',                  200, 200, 200, 200, 403, 404, 200],
  ['PUT /privileges/{otheruser on x1}',                 200, 404, 404, 404, 404, 404, 404],
  ['DELETE /privileges/{spare vm_console on web1}',     204, 204, 204, 204, 404, 404, 204],
  ['DELETE /privileges/{spare vm_console on x1}',       204, 404, 404, 404, 404, 404, 404],
  // Grants only strictly below your own level; a target you cannot read is a 400 on the field.
  ['POST /users/spare/privileges vm_console web1',      201, 201, 201, 201, 403, 400, 201],
  ['POST /users/spare/privileges vm_admin web1',        201, 201, 201, 403, 403, 400, 403],
  ['POST /users/spare/privileges vm_console web2',      201, 201, 201, 400, 400, 400, 400],
  ['POST /users/spare/privileges group_admin default',  201, 201, 403, 403, 403, 400, 403],
  ['POST /users/spare/privileges group_admin shop',     201, 201, 400, 400, 400, 400, 400],
  ['POST /users/spare/privileges account_admin acme',   201, 403, 403, 403, 403, 400, 403],
  ['POST /users/spare/privileges cluster_admin',        201, 403, 403, 403, 403, 403, 403],
  ['POST /users/spare/privileges vm_console x1',        201, 400, 400, 400, 400, 400, 400],
  ['POST /users/spare/privileges account_admin other',  201, 400, 400, 400, 400, 400, 400],
  // A grant to a user outside acme is an invitation (201, granting nothing yet), except a cluster admin's.
  ['POST /users/otheruser/privileges vm_console web1 (invitation)', 201, 201, 201, 201, 403, 400, 201],
  // Invitations are seen, and revoked, by whoever could grant them; accepted only by the invitee.
  ['GET /invitations',                                  200, 200, 200, 200, 200, 200, 200],
  ['POST /invitations/{otheruser on web1}/accept',      403, 403, 403, 403, 404, 404, 403],
  ['DELETE /invitations/{otheruser on web1}',           204, 204, 204, 204, 404, 404, 204],
  ['GET /users/vmcons/privileges',                      200, 200, 200, 200, 200, 404, 200],
  ['GET /users/otheruser/privileges',                   200, 404, 404, 404, 404, 404, 404],
  ['GET /privileges?user_id=otheruser',                 200, 404, 404, 404, 404, 404, 404],

  ['GET /users',                                        200, 200, 200, 200, 200, 200, 200],
  ['GET /users/{self}',                                 200, 200, 200, 200, 200, 200, 200],
  ['GET /users/vmcons',                                 200, 404, 404, 404, 200, 404, 404],
  ['GET /users/{vmcons id}',                            200, 404, 404, 404, 200, 404, 404],
  ['POST /users',                                       201, 403, 403, 403, 403, 403, 403],
  ['PUT /users/{self}',                                 200, 200, 200, 200, 200, 200, 200],
  ['PUT /users/vmcons',                                 200, 404, 404, 404, 200, 404, 404],
  ['DELETE /users/{spare2}',                            204, 404, 404, 404, 404, 404, 404],
  ['DELETE /users/{self}',                              400, 403, 403, 403, 403, 403, 403],

  ['GET /api_keys',                                     200, 200, 200, 200, 200, 200, 200],
  ['GET /api_keys/{keyuser ci}',                        200, 404, 404, 404, 404, 404, 200],
  ['POST /api_keys',                                    201, 201, 201, 201, 201, 201, 201],
  ['POST /api_keys for vmcons',                         201, 400, 400, 400, 201, 400, 400],
  ['DELETE /api_keys/{spare key}',                      204, 404, 404, 404, 404, 404, 404],

  ['GET /definitions',                                  200, 200, 200, 200, 200, 200, 200],

  ['GET /operations/{web1 create}',                     200, 200, 200, 200, 200, 404, 200],
  ['GET /operations/{x1 create}',                       200, 404, 404, 404, 404, 404, 404],
  ['GET /operations?vm_id={web1 id}',                   200, 200, 200, 200, 200, 404, 200],
  ['GET /operations?vm_id={x1 id}',                     200, 404, 404, 404, 404, 404, 404],
  ['GET /operations',                                   200, 200, 200, 200, 200, 200, 200],
  ['GET /events?max_seconds=0',                         200, 200, 200, 200, 200, 200, 200],
  ['DELETE /operations/{web1 create}',                  409, 409, 409, 409, 403, 404, 409],
  ['GET /audit',                                        200, 200, 403, 403, 403, 403, 403],
];

const MATRIX = [...TREE, ...VMS, ...DEVICES, ...PEOPLE];

/** Runs the rows on their own Hangar; returns the wrong cells and the registered routes no row reached. */
async function runMatrix(rows: Row[]): Promise<{ wrong: string[]; unreached: string[] }> {
  const fx = await fixture();
  const wrong: string[] = [];
  const reached = new Set<string>();
  try {
    for (const [row, ...cells] of rows) {
      const route = ROUTES[row];
      assert.ok(route, `no request for matrix row ${row}`);
      for (const [i, role] of ROLES.entries()) {
        const expected = cells[i]!;
        await route.prepare?.(fx, role);
        const { method, url, body }: Req = route.req(fx, role);
        // A refused change must leave the store as it was (GETs write nothing to begin with).
        const before: Record<string, unknown[]> | null = expected >= 400 && method !== 'GET' ? await snapshot(fx.t) : null;
        const r = await fx.t.req(method, url, { token: fx.token[role], body });
        const cell = `${row} as ${role}`;
        const key = routeKeyOf(fx.t.running.app, method, url);
        if (key) reached.add(key);
        try {
          if (r.status !== expected) {
            wrong.push(`${cell}: expected ${expected}, got ${r.status} ${r.text.slice(0, 200)}`);
          } else if (expected >= 400) {
            assert.equal(r.headers['content-type'], 'application/json', `${cell}: JSON error`);
            if (expected === 400) assert.ok(Object.values(r.body).every((v) => Array.isArray(v)), `${cell}: {"field":["message"]}, got ${r.text}`);
            else assert.equal(typeof r.body.error, 'string', `${cell}: {"error":...}, got ${r.text}`);
            if (before) assert.deepEqual(await snapshot(fx.t), before, `${cell}: a refused request changed the store`);
          } else {
            route.check?.(fx, role, r);
          }
        } catch (err) {
          wrong.push(`${cell}: ${(err as Error).message}`);
        }
        await route.restore?.(fx, role, r);
      }
    }
    return { wrong, unreached: bigvRouteKeys(fx.t.running.app).filter((k) => !reached.has(k)) };
  } finally {
    await fx.t.close();
  }
}

test('the matrix has a request for every row and a row for every request', () => {
  const rows = MATRIX.map(([row]) => row);
  assert.equal(new Set(rows).size, rows.length, 'no duplicate rows');
  assert.deepEqual(rows.slice().sort(), Object.keys(ROUTES).sort());
});

test(`privilege matrix: ${ROLES.length} callers × ${MATRIX.length} routes`, async () => {
  const { wrong, unreached } = await runMatrix(MATRIX);
  assert.deepEqual(wrong, [], `${wrong.length} wrong cells:\n${wrong.join('\n')}`);
  // Every registered route has a row: a new route fails here until the matrix says who may call it.
  assert.deepEqual(unreached, [], `registered routes with no row in the matrix:\n${unreached.join('\n')}`);
});
