// The VM commands through core alone (no dialect, no HTTP): create, update, move, delete, undelete
// and purge with the fake driver, refusals as DomainError issues (codes, field paths, parameters),
// and the id rule. On SQLite always; on PostgreSQL too when HANGAR_TEST_DATABASE_URL is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshStore, startTest, until, type TestHangar } from '../helpers.js';
import type { Hangar } from '../../src/core/context.js';
import { loadPrincipal, type Principal } from '../../src/core/principal.js';
import { createAccount, createGroup } from '../../src/core/tree.js';
import { createVm } from '../../src/core/vms/create.js';
import { moveVm, undeleteVm, updateVm } from '../../src/core/vms/update.js';
import { deleteVm } from '../../src/core/vms/delete.js';
import { resolveAccount, resolveGroup, resolveVmById, resolveVmPath } from '../../src/core/resolve.js';
import { DomainError, type Issue } from '../../src/core/errors.js';
import type { AccountRow, GroupRow } from '../../src/store/schema.js';
import { LIMITS } from '../../src/core/definitions.js';

interface World { t: TestHangar; h: Hangar; admin: Principal; account: AccountRow; group: GroupRow }

const STORES: { name: string; postgres: boolean }[] = [{ name: 'SQLite', postgres: false }, { name: 'PostgreSQL', postgres: true }];

/** A fresh store of the kind asked for (null, with the reason printed, when PostgreSQL is not available). */
async function world(postgres: boolean): Promise<World | null> {
  let storeUrl: string | undefined;
  let drop = async () => {};
  if (postgres) {
    const store = await freshStore({ postgres: true });
    if (store.url === ':memory:') return null;
    storeUrl = store.url;
    drop = store.drop;
  }
  const t = await startTest(storeUrl ? { storeUrl } : {});
  const close = t.close;
  t.close = async () => {
    await close();
    await drop();
  };
  const h = t.running.hangar;
  const user = await h.db.selectFrom('users').select(['id', 'username']).where('username', '=', 'admin').executeTakeFirstOrThrow();
  const admin = await loadPrincipal(h.db, user, ['password'], null);
  const account = await createAccount(h, admin, { name: 'acme' });
  const group = await resolveGroup(h.db, admin, account, 'default');
  return { t, h, admin, account, group };
}

/** The issues a refused call threw (fails when it did not throw a DomainError). */
async function issues(p: Promise<unknown>): Promise<readonly Issue[]> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DomainError, `not a DomainError: ${String(err)}`);
    return err.issues;
  }
  assert.fail('expected a DomainError');
}

for (const store of STORES) {
  const run = (name: string, fn: (w: World) => Promise<void>) => test(`${name} (${store.name})`, async (ctx) => {
    const w = await world(store.postgres);
    if (!w) {
      ctx.skip('HANGAR_TEST_DATABASE_URL is not set: no PostgreSQL to run on');
      console.log(`# skipped on PostgreSQL: HANGAR_TEST_DATABASE_URL is not set (${name})`);
      return;
    }
    try {
      await fn(w);
    } finally {
      await w.t.close();
    }
  });

  run('createVm refuses with every issue at once: codes, field paths and parameters, no sentences', async ({ h, admin, account, group }) => {
    const got = await issues(createVm(h, admin, account, group, {
      name: 'Web_1', cores: 0, memoryMiB: 64, hardwareProfile: 'nope',
      discs: [{ label: 'disc-1', sizeMiB: 1024 }, { label: 'disc-1', grade: 'gold', sizeMiB: 1 }, { label: '123' }],
    }, 'bigv'));
    assert.deepEqual(got, [
      { code: 'invalid', field: 'name', params: { reason: 'name_case' } },
      { code: 'out_of_range', field: 'cores', params: { min: LIMITS.cores.min, max: LIMITS.cores.max } },
      { code: 'out_of_range', field: 'memoryMiB', params: { min: LIMITS.memory.min, max: LIMITS.memory.max, unit: 'MiB' } },
      { code: 'not_in_list', field: 'hardwareProfile' },
      { code: 'taken', field: 'discs[1].label' },
      { code: 'not_in_list', field: 'discs[1].grade' },
      { code: 'out_of_range', field: 'discs[1].sizeMiB', params: { min: LIMITS.discSize.min } },
      { code: 'invalid', field: 'discs[2].label', params: { reason: 'looks_like_id' } },
      { code: 'required', field: 'discs[2].sizeMiB' },
    ]);
    // One disc-count rule: more than the limit is the one thing said about the discs.
    const many = Array.from({ length: LIMITS.discsPerVm + 1 }, () => ({ sizeMiB: 1024, grade: 'nope' }));
    assert.deepEqual(await issues(createVm(h, admin, account, group, { name: 'many', discs: many }, 'bigv')),
      [{ code: 'too_many', field: 'discs', params: { reason: 'discs_per_vm', max: LIMITS.discsPerVm } }]);
    // An image needs a disc to go on.
    assert.deepEqual(await issues(createVm(h, admin, account, group, { name: 'img', image: { distribution: 'tiny' } }, 'bigv')),
      [{ code: 'required', field: 'discs', params: { reason: 'image_needs_disc' } }]);
  });

  run('create, update, move, delete, undelete and purge through core and the fake driver', async ({ t, h, admin, account, group }) => {
    const created = await createVm(h, admin, account, group, {
      name: 'web1', cores: 1, memoryMiB: 256, discs: [{ grade: 'sata', sizeMiB: 1024 }], powerOn: true,
    }, 'bigv');
    const id = created.view.row.id;
    assert.equal(created.discs[0]!.label, 'disc-1');
    await until('the guest running', async () => t.drivers[0]!.machines.has(id));
    assert.equal([...t.drivers[0]!.discs.values()].filter((d) => d.vmId === id).length, 1);
    let at = await resolveVmPath(h.db, admin, 'acme', 'default', 'web1', { includeDeleted: false });

    // A change that needs a fresh boot is refused while the machine stays on; with the power off it is taken.
    assert.deepEqual(await issues(updateVm(h, admin, at, { cores: 2 }, { dialect: 'bigv' })),
      [{ code: 'state', field: 'cores', params: { reason: 'power_off_to_change' } }]);
    let view = await updateVm(h, admin, at, { cores: 2, desiredPower: { powerOn: false, autoreboot: false } }, { dialect: 'bigv' });
    assert.equal(view.row.cores, 2);
    assert.equal(view.row.power_on, 0);
    await until('the guest stopped', async () => !t.drivers[0]!.machines.has(id));

    // Move: to a group of the same account, powered off; its name must be free there.
    const g2 = await createGroup(h, admin, account, { name: 'g2' });
    at = await resolveVmById(h.db, admin, id, { includeDeleted: false });
    assert.deepEqual(await issues(moveVm(h, admin, at, 999999, 'bigv')), [{ code: 'invalid', field: 'groupId', params: { reason: 'not_visible_group' } }]);
    view = await moveVm(h, admin, at, g2.id, 'bigv');
    assert.equal(view.row.group_id, g2.id);

    // Delete (soft): refused for changes until undeleted; undelete brings it back as it was.
    at = await resolveVmById(h.db, admin, id, { includeDeleted: false });
    await deleteVm(h, admin, at, false);
    at = await resolveVmById(h.db, admin, id, { includeDeleted: true });
    assert.equal(at.vm.deleted, 1);
    assert.deepEqual(await issues(updateVm(h, admin, at, { cores: 1 }, { dialect: 'bigv' })),
      [{ code: 'state', field: 'deleted', params: { reason: 'vm_deleted_undelete_first' } }]);
    await assert.rejects(resolveVmById(h.db, admin, id, { includeDeleted: false }), (e) => e instanceof DomainError && e.code === 'not_found');
    view = await undeleteVm(h, admin, at, 'bigv');
    assert.equal(view.row.deleted, 0);

    // Purge: gone for good, the name free again.
    at = await resolveVmById(h.db, admin, id, { includeDeleted: false });
    await deleteVm(h, admin, at, true);
    assert.equal(await h.db.selectFrom('vms').select('id').where('id', '=', id).executeTakeFirst(), undefined);
    await until('its disc destroyed on the head', async () => ![...t.drivers[0]!.discs.values()].some((d) => d.vmId === id));
    const again = await createVm(h, admin, account, g2, { name: 'web1' }, 'bigv');
    assert.notEqual(again.view.row.id, id);
  });

  run('the id rule through core: digits are an id, a UUID a public id, anything else a name; names cannot look like ids', async ({ h, admin, account, group }) => {
    const created = await createVm(h, admin, account, group, { name: 'web1' }, 'bigv');
    const { id } = created.view.row;
    for (const segment of [String(id), created.view.uuid, created.view.uuid.toUpperCase(), 'web1']) {
      const at = await resolveVmPath(h.db, admin, 'acme', 'default', segment, { includeDeleted: false });
      assert.equal(at.vm.id, id, segment);
    }
    assert.equal((await resolveAccount(h.db, admin, account.uuid)).id, account.id);
    assert.equal((await resolveAccount(h.db, admin, String(account.id))).id, account.id);
    // By id only: a name names nothing there.
    await assert.rejects(resolveVmById(h.db, admin, 'web1', { includeDeleted: false }), (e) => e instanceof DomainError && e.code === 'not_found');
    assert.deepEqual(await issues(createVm(h, admin, account, group, { name: '4242' }, 'bigv')),
      [{ code: 'invalid', field: 'name', params: { reason: 'looks_like_id' } }]);
    assert.deepEqual(await issues(createVm(h, admin, account, group, { name: 'web2', discs: [{ label: created.view.uuid, sizeMiB: 1024 }] }, 'bigv')),
      [{ code: 'invalid', field: 'discs[0].label', params: { reason: 'looks_like_uuid' } }]);
  });
}
