// Segregation (anti-affinity, docs/domain.md §19) through core alone: pairs added, listed and removed
// with privileges and visibility, and placement keeping partners on different heads (a conflict when
// it cannot). SQLite always; PostgreSQL too when HANGAR_TEST_DATABASE_URL is set.
import { test } from 'node:test';
import { storesFor, withCore, type CoreFx } from './fixture.js';
import assert from 'node:assert/strict';
import type { Principal } from '../../src/core/principal.js';
import { createAccount } from '../../src/core/tree.js';
import { createVm } from '../../src/core/vms/create.js';
import { isCode } from '../../src/core/errors.js';
import type { VmPlace } from '../../src/core/resolve.js';
import { segregate, segregations, strictVmId, unsegregate } from '../../src/core/segregation.js';
import { place } from '../../src/scheduler/place.js';
import { withTransaction } from '../../src/core/transaction.js';

const STORES = storesFor('segregation');

type Fx = CoreFx;

/** A core fixture on these heads (all in zone default). */
const withHeads = (postgres: boolean, fn: (fx: Fx) => Promise<void>, heads = ['head1']) =>
  withCore(postgres, fn, { heads: heads.map((label) => ({ label, zone: 'default' })) });

async function makeVm(fx: Fx, name: string, account = fx.account, group = fx.group): Promise<VmPlace> {
  const h = fx.t.running.hangar;
  const made = await createVm(h, fx.admin, account, group, {
    name, cores: 1, memoryMiB: 1024, powerOn: false, discs: [{ label: 'disc-1', grade: 'sata', sizeMiB: 1024 }],
  }, 'bigv');
  const vm = await h.db.selectFrom('vms').selectAll().where('id', '=', made.view.row.id).executeTakeFirstOrThrow();
  return { vm, group, account };
}

/** The admin user seen through narrower grants (a real user: pairs record who made them). */
const someone = (fx: Fx, grants: Principal['grants']): Principal => ({ userId: fx.admin.userId, username: 'someone', factors: ['password'], apiKeyId: null, grants });
const onVm = (at: VmPlace, level: 'vm_admin' | 'vm_console') => ({ id: 1, level, accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id });
const placeFor = (fx: Fx, req: { vmId?: number; apartFrom?: number[] }) => withTransaction(fx.t.running.hangar.db,
  (trx) => place(trx, { zone: null, cores: 1, memory: 512, discs: [], image: null, ...req }));

for (const store of STORES) {
  test(`a pair is added once, listed from both sides lowest partner first, and removed; strict_virtual_machine_id is the lowest partner (${store.name})`, async () => {
    await withHeads(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const a = await makeVm(fx, 'a');
      const b = await makeVm(fx, 'b');
      const c = await makeVm(fx, 'c');
      assert.deepEqual(await segregate(h, fx.admin, c, b), { created: true });
      assert.deepEqual(await segregate(h, fx.admin, b, c), { created: false }, 'the pair is unordered and added once');
      await segregate(h, fx.admin, c, a);
      assert.deepEqual((await segregations(h, fx.admin, c)).map((s) => [s.vmId, s.vmUuid]), [[a.vm.id, a.vm.uuid], [b.vm.id, b.vm.uuid]]);
      assert.deepEqual((await segregations(h, fx.admin, b)).map((s) => s.vmId), [c.vm.id]);
      assert.equal(await strictVmId(h, fx.admin, c), a.vm.id);
      assert.equal((await segregations(h, fx.admin, c))[0]!.createdByUserId, fx.admin.userId);
      await unsegregate(h, fx.admin, a, c);
      assert.deepEqual((await segregations(h, fx.admin, c)).map((s) => s.vmId), [b.vm.id]);
      await assert.rejects(unsegregate(h, fx.admin, a, c), (e) => isCode(e, 'not_found') && e.params.entity === 'segregation');
      assert.equal(await strictVmId(h, fx.admin, a), null);
    });
  });

  test(`pairs are refused for one VM with itself, across accounts and for a deleted VM; vm_console is forbidden, an unseen VM is not found and an unseen partner is not listed (${store.name})`, async () => {
    await withHeads(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const a = await makeVm(fx, 'a');
      const b = await makeVm(fx, 'b');
      await assert.rejects(segregate(h, fx.admin, a, a), (e) => isCode(e, 'invalid') && e.field === 'target' && e.params.reason === 'same_vm');
      const other = await createAccount(h, fx.admin, { name: 'other' });
      const otherGroup = await h.db.selectFrom('groups').selectAll().where('account_id', '=', other.id).executeTakeFirstOrThrow();
      const x = await makeVm(fx, 'x', other, otherGroup);
      await assert.rejects(segregate(h, fx.admin, a, x), (e) => isCode(e, 'invalid') && e.params.reason === 'other_account');
      // Admin of a only: b is not visible to them.
      const onlyA = someone(fx, [onVm(a, 'vm_admin')]);
      await assert.rejects(segregate(h, onlyA, a, b), (e) => isCode(e, 'not_found'));
      const consoleOnB = someone(fx, [onVm(a, 'vm_admin'), onVm(b, 'vm_console')]);
      await assert.rejects(segregate(h, consoleOnB, a, b), (e) => isCode(e, 'forbidden'));
      const both = someone(fx, [onVm(a, 'vm_admin'), onVm(b, 'vm_admin')]);
      assert.deepEqual(await segregate(h, both, a, b), { created: true });
      assert.deepEqual((await segregations(h, onlyA, a)), [], 'a partner the caller cannot see is not shown');
      await assert.rejects(segregations(h, someone(fx, []), a), (e) => isCode(e, 'not_found'));
      await assert.rejects(unsegregate(h, consoleOnB, a, b), (e) => isCode(e, 'forbidden'));
      await h.db.updateTable('vms').set({ deleted: 1 }).where('id', '=', b.vm.id).execute();
      const c = await makeVm(fx, 'c');
      await assert.rejects(segregate(h, fx.admin, c, b), (e) => isCode(e, 'state') && e.field === 'target');
      assert.deepEqual(await segregations(h, fx.admin, a), [], 'a deleted partner is not listed');
    });
  });

  test(`placement keeps a VM off the heads of its partners, and refuses with a conflict when no other head is left (${store.name})`, async () => {
    await withHeads(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const a = await makeVm(fx, 'a');
      const b = await makeVm(fx, 'b');
      await segregate(h, fx.admin, a, b);
      for (let i = 0; i < 4; i++) {
        assert.notEqual((await placeFor(fx, { vmId: b.vm.id })).headId, a.vm.head_id, 'never where its partner is');
        assert.notEqual((await placeFor(fx, { apartFrom: [a.vm.id] })).headId, a.vm.head_id, 'never where a named VM is');
      }
    }, ['head1', 'head2']);
    await withHeads(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const a = await makeVm(fx, 'a');
      const b = await makeVm(fx, 'b');
      await segregate(h, fx.admin, a, b);
      assert.equal(a.vm.head_id, b.vm.head_id, 'one head: a pair made later shares it until placed again');
      await assert.rejects(placeFor(fx, { vmId: b.vm.id }), (e) => isCode(e, 'conflict') && e.params.reason === 'segregation' && e.params.heads === 'head1');
      const used = await h.db.selectFrom('heads').select(['used_cores', 'used_memory']).executeTakeFirstOrThrow();
      assert.deepEqual(used, { used_cores: 2, used_memory: 2048 }, 'the refused placement claimed nothing');
      assert.equal(typeof (await placeFor(fx, { vmId: a.vm.id + 1000 })).headId, 'number', 'a VM with no pairs is placed as before');
    });
  });
}
