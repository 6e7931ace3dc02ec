// Regression (issue 7, defect 2): the account admin of one tenant (mallory, alpha) granted a
// privilege on an alpha group to another tenant's user (victor, victimco): 201 for an existing
// user, 404 for an unknown one. Victor's client then asked for its default account (the first of
// GET /accounts, or `/accounts//groups/default/...`) and was given the lowest-id account he could
// see, alpha: his next VM was created in the attacker's account. Now every user has a home
// account, which is the default account; a grant to a user outside the granter's account is an
// invitation that grants nothing until the invitee accepts it, answered the same whether or not
// the username exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest, type Reply, type TestHangar } from '../helpers.js';

const DAY = 86_400_000;

interface Tenants {
  t: TestHangar;
  alpha: { id: number; defaultGroupId: number };
  victimco: { id: number; defaultGroupId: number };
  /** account_admin on alpha, whose home it is: the attacker. */
  mallory: string;
  /** account_admin on victimco, whose home it is: the victim. */
  victor: string;
  /** another user of victimco, with a privilege there. */
  eve: string;
}

/** alpha is created first, so it has the lower id: the account the old rule picked. */
async function tenants(): Promise<Tenants> {
  const t = await startTest();
  const alpha = await account(t, 'alpha');
  const victimco = await account(t, 'victimco');
  const mallory = await t.user('mallory', { level: 'account_admin', account_id: alpha.id }, alpha.id);
  const victor = await t.user('victor', { level: 'account_admin', account_id: victimco.id }, victimco.id);
  const eve = await t.user('eve', { level: 'group_admin', group_id: victimco.defaultGroupId }, victimco.id);
  return { t, alpha, victimco, mallory, victor, eve };
}

async function withTenants(work: (x: Tenants) => Promise<void>): Promise<void> {
  const x = await tenants();
  try {
    await work(x);
  } finally {
    await x.t.close();
  }
}

/** Mallory offers `username` group_admin on alpha's default group. */
const offer = (x: Tenants, username: string): Promise<Reply> =>
  x.t.req('POST', `/users/${username}/privileges`, { token: x.mallory, body: { level: 'group_admin', group_id: x.alpha.defaultGroupId } });

/** What may differ between two answers: the ids, the username as given, the times. */
function comparable(r: Reply) {
  const { date: _date, ...headers } = r.headers;
  const body = r.body && typeof r.body === 'object' && !Array.isArray(r.body)
    ? { ...r.body, id: 'ID', invitation_id: 'ID', username: 'USER', created_at: 'TIME', expires_at: 'TIME', _links: 'LINK' }
    : r.body;
  return { status: r.status, headers, body };
}

const names = (r: Reply): string[] => (r.body as { name: string }[]).map((a) => a.name);

test("a grant from another tenant does not steer the victim's new VMs into the granter's account", () => withTenants(async (x) => {
  const { t } = x;
  assert.equal((await offer(x, 'victor')).status, 201);
  // bytemark-client takes the first account of this list as the default account.
  const list = await t.req('GET', '/accounts?view=overview&include_deleted=true', { token: x.victor });
  assert.equal(list.status, 200);
  assert.equal(list.body[0]?.name, 'victimco', `victor's default account (first of ${JSON.stringify(names(list))})`);
  const made = [
    await t.req('POST', '/accounts//groups/default/vm_create', { token: x.victor, body: { virtual_machine: { name: 'next1' } } }),
    await t.req('POST', '/accounts//groups/default/virtual_machines', { token: x.victor, body: { name: 'next2' } }),
  ];
  for (const r of made) {
    assert.equal(r.status, 202, r.text);
    const vm = r.body.virtual_machine ?? r.body;
    assert.equal(vm.group_id, x.victimco.defaultGroupId, `${vm.name} lands in victor's home account`);
    assert.match(vm.hostname, /\.default\.victimco\./);
    // The attacker cannot see it, by any path.
    assert.equal((await t.req('GET', `/virtual_machines/${vm.id}`, { token: x.mallory })).status, 404);
    assert.equal((await t.req('GET', `/accounts/alpha/groups/default/virtual_machines/${vm.name}`, { token: x.mallory })).status, 404);
  }
  const seen = (await t.req('GET', '/virtual_machines', { token: x.mallory })).body as { name: string }[];
  assert.deepEqual(seen.map((v) => v.name), []);
  // The other default-account reads answer with the home account too.
  assert.equal((await t.req('GET', '/accounts//groups/default', { token: x.victor })).body.account_id, x.victimco.id);
  assert.deepEqual((await t.req('GET', '/accounts//groups/default/virtual_machines', { token: x.victor })).body.map((v: any) => v.name).sort(), ['next1', 'next2']);
}));

test('the answer to a grant is the same whether the username exists or not', () => withTenants(async (x) => {
  const { t } = x;
  // Same length, so that even content-length cannot differ.
  const known = await offer(x, 'victor');
  const unknown = await offer(x, 'ghost1');
  assert.equal(known.status, 201, known.text);
  assert.deepEqual(comparable(unknown), comparable(known));
  assert.equal(known.body.pending, true);
  assert.equal(known.body.username, 'victor');
  assert.equal(unknown.body.username, 'ghost1');
  // The user listings tell nothing either: neither has a privilege mallory can see.
  for (const u of ['victor', 'ghost1']) {
    assert.equal((await t.req('GET', `/users/${u}/privileges`, { token: x.mallory })).status, 404, u);
    assert.equal((await t.req('GET', `/privileges?user_id=${u}`, { token: x.mallory })).status, 404, u);
  }
  // Nor do mallory's pending invitations.
  const pending = await t.req('GET', '/invitations', { token: x.mallory });
  assert.equal(pending.status, 200);
  const [a, b] = pending.body as any[];
  assert.deepEqual([a.username, b.username], ['victor', 'ghost1']);
  assert.deepEqual(comparable({ ...pending, body: b }).body, comparable({ ...pending, body: a }).body);
  // An API key cannot be bound through an invitation: the same refusal for both names.
  const withKey = (u: string) => t.req('POST', `/users/${u}/privileges`, {
    token: x.mallory, body: { level: 'group_admin', group_id: x.alpha.defaultGroupId, api_key_id: 1 },
  });
  const [k1, k2] = [await withKey('victor'), await withKey('ghost1')];
  assert.equal(k1.status, 400);
  assert.deepEqual(comparable(k2), comparable(k1));
}));

test('a pending invitation grants nothing', () => withTenants(async (x) => {
  const { t } = x;
  assert.equal((await offer(x, 'victor')).status, 201);
  assert.deepEqual(names(await t.req('GET', '/accounts', { token: x.victor })), ['victimco']);
  for (const url of ['/accounts/alpha', '/accounts/alpha/groups/default', '/accounts/alpha/groups/default/virtual_machines']) {
    assert.equal((await t.req('GET', url, { token: x.victor })).status, 404, url);
  }
  const create = await t.req('POST', '/accounts/alpha/groups/default/vm_create', { token: x.victor, body: { virtual_machine: { name: 'v1' } } });
  assert.equal(create.status, 404);
  assert.deepEqual((await t.req('GET', '/privileges', { token: x.victor })).body.map((p: any) => `${p.level} ${p.account_name}`), ['account_admin victimco']);
  // Mallory's own view of alpha's privileges shows no victor either.
  const onAlpha = await t.req('GET', '/accounts/alpha/privileges', { token: x.mallory });
  assert.deepEqual(onAlpha.body.map((p: any) => p.username), ['mallory']);
}));

test('only the invitee accepts an invitation, which then becomes a privilege; the default account stays home', () => withTenants(async (x) => {
  const { t } = x;
  const inv = (await offer(x, 'victor')).body;
  const ghost = (await offer(x, 'ghost1')).body;
  const mine = await t.req('GET', '/invitations', { token: x.victor });
  assert.equal(mine.status, 200);
  assert.deepEqual(mine.body.map((i: any) => [i.invitation_id, i.level, i.group_id, i.target, i.creating_username]),
    [[inv.invitation_id, 'group_admin', x.alpha.defaultGroupId, 'default.alpha', 'mallory']]);
  assert.deepEqual((await t.req('GET', '/invitations', { token: x.eve })).body, []);

  // The granter may revoke it but not accept it; anyone else does not see it.
  assert.equal((await t.req('POST', `/invitations/${inv.invitation_id}/accept`, { token: x.mallory })).status, 403);
  assert.equal((await t.req('POST', `/invitations/${inv.invitation_id}/accept`, { token: x.eve })).status, 404);
  assert.equal((await t.req('DELETE', `/invitations/${inv.invitation_id}`, { token: x.eve })).status, 404);
  // An invitation to a name that did not exist can never be accepted, by anyone.
  for (const token of [x.victor, x.eve, x.mallory]) assert.notEqual((await t.req('POST', `/invitations/${ghost.invitation_id}/accept`, { token })).status, 201);
  assert.equal((await t.req('POST', `/invitations/${ghost.invitation_id}/accept`, { token: x.victor })).status, 404);
  // Nor through an API key of the invitee: accepting takes a session.
  const key = (await t.req('POST', '/api_keys', { token: x.victor, body: { label: 'ci' } })).body;
  assert.equal((await t.req('POST', `/invitations/${inv.invitation_id}/accept`, { token: `apikey.${key.api_key}` })).status, 404);

  const ok = await t.req('POST', `/invitations/${inv.invitation_id}/accept`, { token: x.victor });
  assert.equal(ok.status, 201, ok.text);
  assert.deepEqual([ok.body.username, ok.body.level, ok.body.group_id, ok.body.creating_username], ['victor', 'group_admin', x.alpha.defaultGroupId, 'mallory']);
  assert.equal((await t.req('POST', `/invitations/${inv.invitation_id}/accept`, { token: x.victor })).status, 404, 'accepted once');
  assert.deepEqual((await t.req('GET', '/invitations', { token: x.victor })).body, []);
  assert.equal((await t.req('GET', '/accounts/alpha/groups/default', { token: x.victor })).status, 200);
  assert.deepEqual(names(await t.req('GET', '/accounts', { token: x.victor })), ['victimco', 'alpha'], 'home first');
  const vm = await t.req('POST', '/accounts//groups/default/vm_create', { token: x.victor, body: { virtual_machine: { name: 'after' } } });
  assert.equal(vm.body.virtual_machine.group_id, x.victimco.defaultGroupId);
  // Victor is now inside alpha: mallory's next grant to him is direct.
  const direct = await t.req('POST', '/users/victor/privileges', { token: x.mallory, body: { level: 'vm_console', virtual_machine_id: (await t.req('POST', '/accounts/alpha/groups/default/virtual_machines', { token: x.mallory, body: { name: 'm1' } })).body.id } });
  assert.equal(direct.status, 201);
  assert.equal(direct.body.pending, undefined);
}));

test('declining, revoking and expiry remove an invitation; a declined one looks to the granter like one to nobody', () => withTenants(async (x) => {
  const { t } = x;
  const declined = (await offer(x, 'victor')).body;
  const revoked = (await offer(x, 'victor')).body;
  const expiring = (await offer(x, 'victor')).body;
  const ghost = (await offer(x, 'ghost1')).body;

  assert.equal((await t.req('DELETE', `/invitations/${declined.invitation_id}`, { token: x.victor })).status, 204);
  assert.equal((await t.req('POST', `/invitations/${declined.invitation_id}/accept`, { token: x.victor })).status, 404);
  assert.equal((await t.req('DELETE', `/invitations/${revoked.invitation_id}`, { token: x.mallory })).status, 204);
  assert.equal((await t.req('POST', `/invitations/${revoked.invitation_id}/accept`, { token: x.victor })).status, 404);
  assert.deepEqual((await t.req('GET', '/invitations', { token: x.victor })).body.map((i: any) => i.invitation_id), [expiring.invitation_id]);
  // Until it expires, mallory sees the declined invitation as she sees the one to a name that does not exist.
  const granter = (await t.req('GET', '/invitations', { token: x.mallory })).body as any[];
  assert.deepEqual(granter.map((i) => i.invitation_id), [declined.invitation_id, expiring.invitation_id, ghost.invitation_id]);
  const strip = (i: any) => comparable({ status: 200, headers: {}, text: '', body: i }).body;
  assert.deepEqual(strip(granter[0]), strip(granter[2]));

  // Invitations last HANGAR_INVITATION_DAYS (7 by default).
  assert.equal(t.running.hangar.config.invitationDays, 7);
  assert.equal(Date.parse(expiring.expires_at.replace(/\+0000$/, 'Z')) - Date.parse(expiring.created_at.replace(/\+0000$/, 'Z')), 7 * DAY);
  const realNow = t.running.hangar.now;
  t.running.hangar.now = () => realNow() + 7 * DAY + 1000;
  // A week later the sessions have expired too: log in again.
  const victor = await t.login('victor', 'victor-password-1');
  const mallory = await t.login('mallory', 'mallory-password-1');
  assert.deepEqual((await t.req('GET', '/invitations', { token: victor })).body, []);
  assert.deepEqual((await t.req('GET', '/invitations', { token: mallory })).body, []);
  assert.equal((await t.req('POST', `/invitations/${expiring.invitation_id}/accept`, { token: victor })).status, 404);
  const rows = await t.running.hangar.db.selectFrom('invitations').select('id').execute();
  assert.deepEqual(rows, [], 'expired invitations are deleted');
  assert.equal((await t.req('GET', '/accounts/alpha', { token: victor })).status, 404);
}));

test('the home account changes only by its user (to an account where they hold a privilege) or a cluster admin', () => withTenants(async (x) => {
  const { t } = x;
  const me = (await t.req('GET', '/users/victor', { token: x.victor })).body;
  assert.equal(me.home_account_id, x.victimco.id);
  const toAlpha = { home_account_id: x.alpha.id };
  const refused = await t.req('PUT', '/users/victor', { token: x.victor, body: toAlpha });
  assert.equal(refused.status, 400);
  assert.deepEqual(Object.keys(refused.body), ['home_account_id']);
  assert.deepEqual(await t.req('PUT', '/users/victor', { token: x.victor, body: { home_account_id: 999999 } }).then((r) => r.body), refused.body);
  assert.equal((await t.req('PUT', '/users/victor', { token: x.mallory, body: toAlpha })).status, 404);
  // The whole user sent back unchanged (bytemark-client's PUT) is fine.
  assert.equal((await t.req('PUT', '/users/victor', { token: x.victor, body: me })).status, 200);

  const inv = (await offer(x, 'victor')).body;
  assert.equal((await t.req('POST', `/invitations/${inv.invitation_id}/accept`, { token: x.victor })).status, 201);
  const moved = await t.req('PUT', '/users/victor', { token: x.victor, body: toAlpha });
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.body.home_account_id, x.alpha.id);
  assert.equal((await t.req('GET', '/accounts//groups/default', { token: x.victor })).body.account_id, x.alpha.id);

  // A cluster admin may set any account, or none: then there is no default account.
  assert.equal((await t.req('PUT', '/users/victor', { token: t.adminToken, body: { home_account_id: null } })).status, 200);
  assert.equal((await t.req('GET', '/accounts//groups/default', { token: x.victor })).status, 404);
  assert.equal((await t.req('POST', '/accounts//groups/default/vm_create', { token: x.victor, body: { virtual_machine: { name: 'v' } } })).status, 404);
}));

test('users are created in a home account; it is their default only where they hold a privilege, and cluster admin grants are direct', () => withTenants(async (x) => {
  const { t } = x;
  const created = await t.req('POST', '/users', { token: t.adminToken, body: { username: 'newbie', password: 'newbie-password-1', home_account_id: x.victimco.id } });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.home_account_id, x.victimco.id);
  const bad = await t.req('POST', '/users', { token: t.adminToken, body: { username: 'newbie2', password: 'newbie-password-1', home_account_id: 999999 } });
  assert.equal(bad.status, 400);
  assert.deepEqual(Object.keys(bad.body), ['home_account_id']);
  const newbie = await t.login('newbie', 'newbie-password-1');
  // A home account gives no privilege by itself.
  assert.deepEqual(names(await t.req('GET', '/accounts', { token: newbie })), []);
  assert.equal((await t.req('GET', '/accounts//groups/default', { token: newbie })).status, 404);
  // A cluster admin's grant is direct, even into another account.
  const g = await t.req('POST', '/users/newbie/privileges', { token: t.adminToken, body: { level: 'group_admin', group_id: x.alpha.defaultGroupId } });
  assert.equal(g.status, 201);
  assert.equal(g.body.pending, undefined);
  assert.deepEqual(names(await t.req('GET', '/accounts', { token: newbie })), ['alpha']);
  assert.equal((await t.req('GET', '/accounts//groups/default', { token: newbie })).status, 404, 'the home account is still victimco, which newbie cannot see');

  // A user without a home account gets the account of the first privilege a cluster admin grants them.
  assert.equal((await t.req('POST', '/users', { token: t.adminToken, body: { username: 'drifter', password: 'drifter-password-1' } })).status, 201);
  const drifter = await t.login('drifter', 'drifter-password-1');
  assert.equal((await t.req('GET', '/users/drifter', { token: drifter })).body.home_account_id, null);
  assert.equal((await t.req('GET', '/accounts//groups/default', { token: drifter })).status, 404);
  await t.req('POST', '/users/drifter/privileges', { token: t.adminToken, body: { level: 'account_admin', account_id: x.victimco.id } });
  await t.req('POST', '/users/drifter/privileges', { token: t.adminToken, body: { level: 'account_admin', account_id: x.alpha.id } });
  assert.equal((await t.req('GET', '/users/drifter', { token: drifter })).body.home_account_id, x.victimco.id);
}));

test('the invitation routes are in the OpenAPI document', () => withTenants(async (x) => {
  const doc = (await x.t.req('GET', '/openapi.json')).body;
  assert.ok(doc.paths['/invitations']?.get, 'GET /invitations');
  assert.ok(doc.paths['/invitations/{id}/accept']?.post, 'POST /invitations/{id}/accept');
  assert.ok(doc.paths['/invitations/{id}']?.delete, 'DELETE /invitations/{id}');
  assert.ok(doc.paths['/invitations/{id}/accept'].post.parameters.some((p: any) => p.in === 'path' && p.name === 'id'));
}));
