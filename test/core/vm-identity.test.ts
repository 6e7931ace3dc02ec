// A VM's identity across dialects (docs/domain.md §13.1, §13.2, G4, G5, G26), through core alone: the
// label, the guest's own host name, the note, who created it and its sealed initial password; the BigV
// name derived (with `-N` on a clash) when a dialect gives none; and where a VM lands when no group is
// named. SQLite always; PostgreSQL too when HANGAR_TEST_DATABASE_URL is set.
import { test } from 'node:test';
import { withCore } from './fixture.js';
import assert from 'node:assert/strict';
import type { TestHangar } from '../helpers.js';
import type { Grant, Principal } from '../../src/core/principal.js';
import type { AccountRow, GroupRow } from '../../src/store/schema.js';
import { createAccount, createGroup } from '../../src/core/tree.js';
import { createVm } from '../../src/core/vms/create.js';
import { updateVm } from '../../src/core/vms/update.js';
import { vmValue, type CreateVmInput } from '../../src/core/vms/model.js';
import { deriveName, initialPasswordOf } from '../../src/core/vms/identity.js';
import { landingFor } from '../../src/core/landing.js';
import { DomainError, isCode } from '../../src/core/errors.js';
import { presentVm } from '../../src/api/bigv/present.js';
import type { VmPlace } from '../../src/core/resolve.js';

const STORES: { name: string; postgres: boolean }[] = [{ name: 'SQLite', postgres: false }];
if (process.env.HANGAR_TEST_DATABASE_URL) STORES.push({ name: 'PostgreSQL', postgres: true });
else console.log('# vm-identity: PostgreSQL variant skipped: HANGAR_TEST_DATABASE_URL is not set');

interface Fx { t: TestHangar; admin: Principal; account: AccountRow; group: GroupRow }

function principal(userId: number, grants: Grant[]): Principal {
  return { userId, username: `u${userId}`, factors: ['password'], apiKeyId: null, grants };
}

async function make(fx: Fx, input: CreateVmInput, group = fx.group): Promise<VmPlace> {
  const h = fx.t.running.hangar;
  const made = await createVm(h, fx.admin, fx.account, group, { cores: 1, memoryMiB: 512, ...input }, 'bigv');
  const vm = await h.db.selectFrom('vms').selectAll().where('id', '=', made.view.row.id).executeTakeFirstOrThrow();
  return { vm, group, account: fx.account };
}

const issue = (field: string, code: string) => (e: unknown) =>
  e instanceof DomainError && e.issues.some((i) => i.field === field && i.code === code);

test('deriveName: lower case, runs of other characters as one -, no - at the ends, at most 63, vm-<uuid8> when nothing usable is left', () => {
  const uuid = '0a1b2c3d-0000-4000-8000-000000000000';
  assert.equal(deriveName('pruebaApi', uuid), 'pruebaapi');
  assert.equal(deriveName('NewHostname-', uuid), 'newhostname');
  assert.equal(deriveName('  My Web Server (prod) ', uuid), 'my-web-server-prod');
  assert.equal(deriveName('Zażółć gęślą', uuid), 'za-g-l');
  assert.equal(deriveName('x'.repeat(80), uuid), 'x'.repeat(63));
  assert.equal(deriveName(`${'a'.repeat(62)}--b`, uuid), 'a'.repeat(62), 'a cut that ends in - drops it');
  for (const unusable of ['', '!!!', '12345', '---', '0A1B2C3D-0000-4000-8000-000000000000']) {
    assert.equal(deriveName(unusable, uuid), 'vm-0a1b2c3d', `"${unusable}" gives the public-id name`);
  }
});

for (const store of STORES) {
  test(`a VM keeps its label, guest host name, note, creator and sealed initial password; BigV shows none of them (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const at = await make(fx, { label: '  Web server  ', guestHostname: 'pruebaApi', note: 'for the demo', initialPassword: 'Secret-pass-1' });
      assert.equal(at.vm.name, 'pruebaapi', 'the name is derived from the guest host name first');
      assert.equal(at.vm.label, 'Web server', 'the label is trimmed');
      assert.equal(at.vm.guest_hostname, 'pruebaApi', 'the guest host name keeps its case');
      assert.equal(at.vm.created_by_user_id, fx.admin.userId);
      assert.ok(at.vm.initial_password && !at.vm.initial_password.includes('Secret-pass-1'), 'the initial password is stored sealed');
      assert.equal(initialPasswordOf(h, fx.admin, at), 'Secret-pass-1');
      const consoleOnly = principal(999, [{ id: 1, level: 'vm_console', accountId: fx.account.id, groupId: fx.group.id, vmId: at.vm.id }]);
      assert.throws(() => initialPasswordOf(h, consoleOnly, at), (e: unknown) => isCode(e, 'forbidden'));

      const view = await updateVm(h, fx.admin, at, { label: 'Renamed', note: null, guestHostname: 'NewHostname' }, { dialect: 'bigv' });
      const v = vmValue(view.row);
      assert.deepEqual([v.name, v.label, v.note, v.guestHostname, v.createdByUserId], ['pruebaapi', 'Renamed', null, 'NewHostname', fx.admin.userId]);
      assert.equal(v.version, at.vm.version + 1, 'an identity change bumps the version (the ETag)');
      const bigv = presentVm(view, { overview: false });
      for (const key of ['label', 'guest_hostname', 'guestHostname', 'note', 'initial_password', 'created_by_user_id', 'user_id']) {
        assert.equal(key in bigv, false, `BigV does not show ${key}`);
      }

      // A BigV VM: its name as given, no label.
      const plain = await make(fx, { name: 'web1' });
      assert.deepEqual([plain.vm.name, plain.vm.label, plain.vm.guest_hostname, plain.vm.initial_password], ['web1', null, null, null]);
      assert.equal(initialPasswordOf(h, fx.admin, plain), null);
    });
  });

  test(`a derived name takes -2, -3 on a clash in the group, and vm-<uuid8> from an unusable label (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const names = [];
      for (let i = 0; i < 3; i++) names.push((await make(fx, { label: 'My Web' })).vm.name);
      assert.deepEqual(names, ['my-web', 'my-web-2', 'my-web-3']);
      // BigV takes the name it likes; the next derived one steps around it.
      await make(fx, { name: 'my-web-4' });
      assert.equal((await make(fx, { label: 'my web' })).vm.name, 'my-web-5');
      // Racing creates of one label each get a name of their own (on PostgreSQL they overlap; one derives again).
      const raced = await Promise.all([0, 1, 2].map(() => make(fx, { label: 'Race' })));
      assert.deepEqual(raced.map((r) => r.vm.name).sort(), ['race', 'race-2', 'race-3']);
      const digits = await make(fx, { label: '2024' });
      assert.equal(digits.vm.name, `vm-${digits.vm.uuid.slice(0, 8)}`, 'the derived name uses the VM\'s own public id');
      assert.equal(digits.vm.label, '2024');
      const long = 'a'.repeat(70);
      assert.equal((await make(fx, { label: long })).vm.name, 'a'.repeat(63));
      assert.equal((await make(fx, { label: long })).vm.name, `${'a'.repeat(61)}-2`, 'the suffix fits within 63 characters');
    });
  });

  test(`identity fields are checked: guest host name shape, label length, note length (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      await assert.rejects(make(fx, { name: 'a', guestHostname: 'bad_name' }), issue('guestHostname', 'invalid'));
      await assert.rejects(make(fx, { name: 'a', guestHostname: `a${'b'.repeat(25)}` }), issue('guestHostname', 'invalid'), '26 characters');
      await assert.rejects(make(fx, { name: 'a', guestHostname: '1abc' }), issue('guestHostname', 'invalid'));
      await assert.rejects(make(fx, { name: 'a', label: '   ' }), issue('label', 'required'));
      await assert.rejects(make(fx, { name: 'a', label: 'x'.repeat(256) }), issue('label', 'too_long'));
      await assert.rejects(make(fx, { name: 'a', note: 'x'.repeat(5000) }), issue('note', 'too_long'));
      const ok = await make(fx, { name: 'a', guestHostname: `A${'b'.repeat(24)}`, label: 'x'.repeat(255) });
      assert.equal(ok.vm.guest_hostname?.length, 25);
      await assert.rejects(updateVm(fx.t.running.hangar, fx.admin, ok, { guestHostname: 'x.y' }, { dialect: 'bigv' }), issue('guestHostname', 'invalid'));
      // Without a name and without text to derive one from, the name is required as before (BigV).
      await assert.rejects(make(fx, { note: 'only a note' }), issue('name', 'required'));
    });
  });

  test(`a VM lands in the account's default group, else the oldest where the caller is group_admin, else nowhere (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const db = h.db;
      await fx.t.user('gina', undefined, fx.account.id);
      const gina = (await db.selectFrom('users').select('id').where('username', '=', 'gina').executeTakeFirstOrThrow()).id;
      const older = await createGroup(h, fx.admin, fx.account, { name: 'older' });
      const newer = await createGroup(h, fx.admin, fx.account, { name: 'newer' });
      const groupAdmin = (g: GroupRow): Grant => ({ id: g.id, level: 'group_admin', accountId: fx.account.id, groupId: g.id, vmId: null });

      // An account admin: the default group, in the home account or the one named.
      const accountAdmin = principal(gina, [{ id: 1, level: 'account_admin', accountId: fx.account.id, groupId: null, vmId: null }]);
      assert.equal((await landingFor(h, accountAdmin)).group.id, fx.group.id);
      assert.equal((await landingFor(h, accountAdmin, String(fx.account.id))).group.id, fx.group.id);
      assert.equal((await landingFor(h, accountAdmin, fx.account.uuid)).account.id, fx.account.id);
      // group_admin on two non-default groups: the oldest of them.
      const twoGroups = principal(gina, [groupAdmin(newer), groupAdmin(older)]);
      assert.equal((await landingFor(h, twoGroups, 'acme')).group.id, older.id);
      // On default too: default wins, however new.
      assert.equal((await landingFor(h, principal(gina, [groupAdmin(newer), groupAdmin(fx.group)]))).group.id, fx.group.id);
      // vm_admin only: nowhere to create.
      const vmAdmin = principal(gina, [{ id: 2, level: 'vm_admin', accountId: fx.account.id, groupId: fx.group.id, vmId: null }]);
      await assert.rejects(landingFor(h, vmAdmin), (e: unknown) => isCode(e, 'forbidden'));
      // An account the caller cannot see is absent; a caller with no home account has no landing of its own.
      const other = await createAccount(h, fx.admin, { name: 'other' });
      await assert.rejects(landingFor(h, accountAdmin, String(other.id)), (e: unknown) => isCode(e, 'not_found'));
      await assert.rejects(landingFor(h, accountAdmin, 'nosuch'), (e: unknown) => isCode(e, 'not_found'));
      await assert.rejects(landingFor(h, fx.admin), (e: unknown) => isCode(e, 'forbidden'), 'the admin has no home account here');
      // What a landing gives is what createVm takes.
      const { account, group } = await landingFor(h, twoGroups);
      const made = await createVm(h, twoGroups, account, group, { label: 'Landed', cores: 1, memoryMiB: 512 }, 'bigv');
      assert.deepEqual([made.view.row.group_id, made.view.row.name, made.view.row.created_by_user_id], [older.id, 'landed', gina]);
    });
  });
}
