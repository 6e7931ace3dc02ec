// Moving a VM between groups and accounts with PUT {"group_id":N} (spec §5.3): the VM must be
// powered off, the caller group_admin on both groups, both groups on the same private VLAN (or
// none), and the name free in the target. A plain rename sends the current group_id and must
// succeed, even while the VM runs. The hostname follows the VM. A refused move changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest, until, type TestHangar } from '../helpers.js';
import { runningNow, snapshot } from '../snapshot.js';

const DEFAULT = '/accounts/acme/groups/default/virtual_machines';
const SHOP = '/accounts/acme/groups/shop/virtual_machines';

interface Fx { t: TestHangar; acme: number; beta: number; other: number; dflt: number; shop: number; betaDefault: number; otherDefault: number; web1: number }

async function fixture(): Promise<Fx> {
  const t = await startTest();
  const a = await account(t, 'acme');
  const b = await account(t, 'beta');
  const o = await account(t, 'other');
  const shop = (await t.req('POST', '/accounts/acme/groups', { token: t.adminToken, body: { name: 'shop' } })).body.id;
  const c = await t.req('POST', '/accounts/acme/groups/default/vm_create', {
    token: t.adminToken,
    body: { virtual_machine: { name: 'web1', power_on: true, autoreboot_on: true }, discs: [{ label: 'disc-1', size: 1024 }] },
  });
  assert.equal(c.status, 202, c.text);
  await runningNow(t, c.body.virtual_machine.id);
  return { t, acme: a.id, beta: b.id, other: o.id, dflt: a.defaultGroupId, shop, betaDefault: b.defaultGroupId, otherDefault: o.defaultGroupId, web1: c.body.virtual_machine.id };
}

const stop = (fx: Fx, path = `${DEFAULT}/web1`) => fx.t.req('PUT', path, { token: fx.t.adminToken, body: { power_on: false, autoreboot_on: false } });

/** A refused move: the status, the field error, and the store exactly as before. */
async function refused(fx: Fx, token: string, body: unknown, status: number, path = `${DEFAULT}/web1`) {
  const before = await snapshot(fx.t);
  const r = await fx.t.req('PUT', path, { token, body });
  assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.deepEqual(await snapshot(fx.t), before, `${JSON.stringify(body)} changed the store`);
  const vm = await fx.t.req('GET', `${DEFAULT}/web1`, { token: fx.t.adminToken });
  assert.equal(vm.body.hostname, 'web1.default.acme.hangar.local');
  return r.body;
}

test('a running VM cannot move; powered off it moves, its hostname and path follow it', async () => {
  const fx = await fixture();
  const { t } = fx;
  try {
    const admin = t.adminToken;
    let body = await refused(fx, admin, { name: 'web1', group_id: fx.shop }, 400);
    assert.deepEqual(Object.keys(body), ['group_id']);
    assert.match(body.group_id[0], /powered off/);
    assert.ok(t.drivers[0]!.machines.has(fx.web1), 'still running');

    // Powering off in the same request is not enough: the move needs a machine that is off.
    body = await refused(fx, admin, { group_id: fx.shop, power_on: false, autoreboot_on: true }, 400);
    assert.match(body.group_id[0], /powered off/);

    await stop(fx);
    // Switching it on in the same request is refused too.
    body = await refused(fx, admin, { group_id: fx.shop, power_on: true }, 400);
    assert.match(body.group_id[0], /powered off/);

    const r = await t.req('PUT', `${DEFAULT}/web1`, { token: admin, body: { name: 'web1', group_id: fx.shop } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.group_id, fx.shop);
    assert.equal(r.body.hostname, 'web1.shop.acme.hangar.local');
    assert.equal(r.body.id, fx.web1);
    assert.equal((await t.req('GET', `${DEFAULT}/web1`, { token: admin })).status, 404, 'gone from the old group');
    const g = await t.req('GET', `${SHOP}/web1?view=overview`, { token: admin });
    assert.equal(g.status, 200);
    assert.equal(g.body.hostname, 'web1.shop.acme.hangar.local');
    assert.equal(g.body.discs.length, 1, 'discs move with it');
    assert.equal(g.body.network_interfaces[0].ips.length, 2, 'addresses move with it');
    assert.deepEqual((await t.req('GET', DEFAULT, { token: admin })).body, []);

    // It starts in its new group, and the head is told its new hostname.
    const on = await t.req('PUT', `${SHOP}/web1`, { token: admin, body: { power_on: true, autoreboot_on: true } });
    assert.equal(on.status, 200);
    assert.equal(on.body.hostname, 'web1.shop.acme.hangar.local');
    await until('running again', async () => t.drivers[0]!.machines.has(fx.web1));

    // A move back by numeric ids in the path works the same way.
    await stop(fx, `${SHOP}/web1`);
    const back = await t.req('PUT', `/accounts/${fx.acme}/groups/${fx.shop}/virtual_machines/${fx.web1}`, { token: admin, body: { group_id: fx.dflt } });
    assert.equal(back.status, 200, back.text);
    assert.equal(back.body.hostname, 'web1.default.acme.hangar.local');
  } finally {
    await t.close();
  }
});

test('a plain rename sends the current group_id and succeeds, running or not; names stay unique per group', async () => {
  const fx = await fixture();
  const { t } = fx;
  try {
    const vmadmin = await t.user('vmadmin', { level: 'vm_admin', virtual_machine_id: fx.web1 });
    // bytemark-client always sends group_id: a rename on a running VM, by a vm_admin, must pass.
    let r = await t.req('PUT', `${DEFAULT}/web1`, { token: vmadmin, body: { name: 'web9', group_id: fx.dflt } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.name, 'web9');
    assert.equal(r.body.group_id, fx.dflt);
    assert.equal(r.body.power_on, true);
    assert.equal(r.body.hostname, 'web9.default.acme.hangar.local');
    assert.equal((await t.req('GET', `${DEFAULT}/web1`, { token: vmadmin })).status, 404);
    assert.equal((await t.req('GET', `${DEFAULT}/web9`, { token: vmadmin })).status, 200);
    assert.ok(t.drivers[0]!.machines.has(fx.web1), 'a rename does not stop the machine');
    // group_id alone, equal to the current group: nothing changes.
    r = await t.req('PUT', `${DEFAULT}/web9`, { token: vmadmin, body: { group_id: fx.dflt } });
    assert.equal(r.status, 200);
    assert.equal(r.body.hostname, 'web9.default.acme.hangar.local');

    // A rename onto a name taken in the same group.
    await t.req('POST', DEFAULT, { token: t.adminToken, body: { name: 'web2' } });
    const before = await snapshot(t);
    r = await t.req('PUT', `${DEFAULT}/web9`, { token: vmadmin, body: { name: 'web2', group_id: fx.dflt } });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { name: ['has already been taken'] });
    assert.deepEqual(await snapshot(t), before);
    // Names are DNS labels, never all digits, case-folded.
    for (const bad of ['123', 'web_9', '-web', 'a'.repeat(64), '', 'Web8']) {
      r = await t.req('PUT', `${DEFAULT}/web9`, { token: vmadmin, body: { name: bad, group_id: fx.dflt } });
      assert.equal(r.status, 400, bad);
      assert.deepEqual(Object.keys(r.body), ['name'], bad);
    }
    r = await t.req('PUT', `${DEFAULT}/web9`, { token: vmadmin, body: { name: 'web8' } });
    assert.equal(r.body.name, 'web8');
    assert.deepEqual(await snapshot(t).then((s) => s.vms!.length), before.vms!.length);
  } finally {
    await t.close();
  }
});

test('moving needs group_admin on both groups: 403 when you can read the target, 400 when you cannot', async () => {
  const fx = await fixture();
  const { t } = fx;
  try {
    await stop(fx);
    const dbOnShop = (await t.req('POST', SHOP, { token: t.adminToken, body: { name: 'db1' } })).body.id;
    const vmadmin = await t.user('vmadmin', { level: 'vm_admin', virtual_machine_id: fx.web1 });
    const gadmin = await t.user('gadmin', { level: 'group_admin', group_id: fx.dflt });
    // group_admin on default, and a vm_console in shop, so shop is readable but not administered.
    const gsees = await t.user('gsees', { level: 'group_admin', group_id: fx.dflt });
    await t.req('POST', '/users/gsees/privileges', { token: t.adminToken, body: { level: 'vm_console', virtual_machine_id: dbOnShop } });
    // group_admin on shop only: can't read web1 at all.
    const shopadmin = await t.user('shopadmin', { level: 'group_admin', group_id: fx.shop });
    const console1 = await t.user('console1', { level: 'vm_console', virtual_machine_id: fx.web1 });

    // A vm_admin may rename but not move.
    let body = await refused(fx, vmadmin, { group_id: fx.shop }, 403);
    assert.match(body.error, /group_admin/);
    body = await refused(fx, console1, { group_id: fx.shop }, 403);
    assert.match(body.error, /vm_admin|group_admin/);
    // group_admin on the source, the target readable but not administered.
    body = await refused(fx, gsees, { group_id: fx.shop }, 403);
    assert.match(body.error, /both groups/);
    // group_admin on the source, the target not even readable: the same answer as a group that does not exist.
    const unseen = await refused(fx, gadmin, { group_id: fx.shop }, 400);
    const missing = await refused(fx, gadmin, { group_id: 999_999 }, 400);
    assert.deepEqual(unseen, missing);
    assert.deepEqual(Object.keys(unseen), ['group_id']);
    // Another tenant's group, even for an account admin of acme.
    const aadmin = await t.user('aadmin', { level: 'account_admin', account_id: fx.acme });
    assert.deepEqual(await refused(fx, aadmin, { group_id: fx.otherDefault }, 400), missing);
    // The target's admin cannot reach the VM at all.
    await refused(fx, shopadmin, { group_id: fx.shop }, 404);
    // Wrong types for group_id.
    for (const bad of ['5', 1.5, true, null, { id: 5 }]) {
      body = await refused(fx, t.adminToken, { group_id: bad }, 400);
      assert.deepEqual(Object.keys(body), ['group_id'], JSON.stringify(bad));
    }

    // group_admin on both groups (two privileges) may move, and then sees it only through shop.
    await t.req('POST', '/users/gsees/privileges', { token: t.adminToken, body: { level: 'group_admin', group_id: fx.shop } });
    const r = await t.req('PUT', `${DEFAULT}/web1`, { token: gsees, body: { group_id: fx.shop } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.hostname, 'web1.shop.acme.hangar.local');
    // Group-level privileges follow the groups; the VM's own privileges follow the VM.
    assert.equal((await t.req('GET', `${SHOP}/web1`, { token: gadmin })).status, 404, 'default\'s admin no longer sees it');
    assert.equal((await t.req('GET', `/virtual_machines/${fx.web1}`, { token: gadmin })).status, 404);
    assert.equal((await t.req('GET', `${SHOP}/web1`, { token: shopadmin })).status, 200, 'shop\'s admin now does');
    assert.equal((await t.req('GET', `${SHOP}/web1`, { token: vmadmin })).status, 200, 'its vm_admin still does');
  } finally {
    await t.close();
  }
});

test('groups on a private VLAN only exchange VMs with groups on the same VLAN', async () => {
  const fx = await fixture();
  const { t } = fx;
  const setVlan = (groupId: number, vlan: number | null) => t.running.hangar.db.updateTable('groups').set({ vlan_num: vlan }).where('id', '=', groupId).execute();
  try {
    await stop(fx);
    for (const [from, to] of [[10, null], [null, 10], [10, 11]] as const) {
      await setVlan(fx.dflt, from);
      await setVlan(fx.shop, to);
      const body = await refused(fx, t.adminToken, { group_id: fx.shop }, 400);
      assert.deepEqual(Object.keys(body), ['group_id']);
      assert.match(body.group_id[0], /VLAN/, `${from} -> ${to}`);
    }
    await setVlan(fx.dflt, 10);
    await setVlan(fx.shop, 10);
    const r = await t.req('PUT', `${DEFAULT}/web1`, { token: t.adminToken, body: { group_id: fx.shop } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.hostname, 'web1.shop.acme.hangar.local');
  } finally {
    await t.close();
  }
});

test('the name must be free in the target group (deleted VMs still hold theirs); a rename in the same request resolves it', async () => {
  const fx = await fixture();
  const { t } = fx;
  try {
    await stop(fx);
    const other = await t.req('POST', SHOP, { token: t.adminToken, body: { name: 'web1' } });
    assert.equal(other.status, 202);
    let body = await refused(fx, t.adminToken, { name: 'web1', group_id: fx.shop }, 400);
    assert.deepEqual(body, { name: ['has already been taken'] });
    // Soft-deleted, it still holds the name (it can be undeleted); purged, it frees it.
    await t.req('DELETE', `${SHOP}/web1`, { token: t.adminToken });
    body = await refused(fx, t.adminToken, { group_id: fx.shop }, 400);
    assert.deepEqual(body, { name: ['has already been taken'] });

    const r = await t.req('PUT', `${DEFAULT}/web1`, { token: t.adminToken, body: { name: 'web2', group_id: fx.shop } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.name, 'web2');
    assert.equal(r.body.hostname, 'web2.shop.acme.hangar.local');
    const list = await t.req('GET', `${SHOP}?include_deleted=true`, { token: t.adminToken });
    assert.deepEqual(list.body.map((v: any) => `${v.name}${v.deleted ? ' (deleted)' : ''}`).sort(), ['web1 (deleted)', 'web2']);
  } finally {
    await t.close();
  }
});

test('a VM moves to another account its caller administers, and nowhere else', async () => {
  const fx = await fixture();
  const { t } = fx;
  try {
    await stop(fx);
    const both = await t.user('both', { level: 'account_admin', account_id: fx.acme });
    await t.req('POST', '/users/both/privileges', { token: t.adminToken, body: { level: 'account_admin', account_id: fx.beta } });
    const acmeOnly = await t.user('acmeonly', { level: 'account_admin', account_id: fx.acme });

    const unseen = await refused(fx, acmeOnly, { group_id: fx.betaDefault }, 400);
    assert.deepEqual(Object.keys(unseen), ['group_id']);
    await refused(fx, both, { group_id: fx.otherDefault }, 400);

    const r = await t.req('PUT', `${DEFAULT}/web1`, { token: both, body: { name: 'web1', group_id: fx.betaDefault } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.hostname, 'web1.default.beta.hangar.local');
    assert.equal(r.body.group_id, fx.betaDefault);
    const g = await t.req('GET', '/accounts/beta/groups/default/virtual_machines/web1', { token: both });
    assert.equal(g.status, 200);
    assert.equal((await t.req('GET', `${DEFAULT}/web1`, { token: both })).status, 404);
    // acme's admin lost it with the move.
    assert.equal((await t.req('GET', `/virtual_machines/${fx.web1}`, { token: acmeOnly })).status, 404);
    const overview = await t.req('GET', '/accounts/beta?view=overview', { token: both });
    assert.deepEqual(overview.body.groups[0].virtual_machines.map((v: any) => v.hostname), ['web1.default.beta.hangar.local']);
    // The VM starts in its new account.
    const on = await t.req('PUT', '/accounts/beta/groups/default/virtual_machines/web1', { token: both, body: { power_on: true, autoreboot_on: true } });
    assert.equal(on.status, 200);
    await until('running in beta', async () => t.drivers[0]!.machines.has(fx.web1));
  } finally {
    await t.close();
  }
});

test('a deleted VM cannot move until it is undeleted', async () => {
  const fx = await fixture();
  const { t } = fx;
  try {
    await t.req('DELETE', `${DEFAULT}/web1`, { token: t.adminToken });
    const before = await snapshot(t);
    const r = await t.req('PUT', `${DEFAULT}/web1`, { token: t.adminToken, body: { group_id: fx.shop } });
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.body), ['deleted']);
    assert.deepEqual(await snapshot(t), before);
    // Undelete and move in one request: it is off after the delete, so this is allowed.
    const u = await t.req('PUT', `${DEFAULT}/web1`, { token: t.adminToken, body: { deleted: false, group_id: fx.shop } });
    assert.equal(u.status, 200, u.text);
    assert.equal(u.body.deleted, false);
    assert.equal(u.body.hostname, 'web1.shop.acme.hangar.local');
  } finally {
    await t.close();
  }
});
