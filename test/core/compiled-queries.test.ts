// Hot queries compiled once (src/store/compiled.ts): each run binds its own arguments in their places
// and answers exactly as the query built afresh would, on both stores; a build that leaves an
// argument out is refused at once; a store with plugins (a test's statement recorder) sees every run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KyselyPlugin } from 'kysely';
import { storesFor, withCore } from './fixture.js';
import { compiled } from '../../src/store/compiled.js';
import { createVm } from '../../src/core/vms/create.js';
import { vmByPath } from '../../src/store/repos/vms.js';

for (const store of storesFor('compiled queries')) {
  test(`compiled queries bind each run's arguments and answer as built ones (${store.name})`, async () => {
    await withCore(store.postgres, async ({ t, admin, account, group }) => {
      const h = t.running.hangar;
      for (const name of ['web1', 'web2', 'db1']) {
        await createVm(h, admin, account, group, { name, cores: name === 'web2' ? 2 : 1, memoryMiB: 256, powerOn: false }, 'bigv');
      }
      // A constant the builder binds ('web%'), an argument used twice, a string and a number.
      const q = compiled((db, name: string, cores: number) => db.selectFrom('vms').select(['name'])
        .where((eb) => eb.or([eb('name', '=', name), eb('name', 'like', 'web%')]))
        .where('cores', '=', cores).where('name', '!=', name).orderBy('name'));
      const built = (name: string, cores: number) => h.db.selectFrom('vms').select(['name'])
        .where((eb) => eb.or([eb('name', '=', name), eb('name', 'like', 'web%')]))
        .where('cores', '=', cores).where('name', '!=', name).orderBy('name').execute();
      for (const [name, cores] of [['web1', 1], ['db1', 1], ['web2', 2], ['nope', 1]] as const) {
        assert.deepEqual((await q(h.db, name, cores)).rows, await built(name, cores), `${name}/${cores}`);
      }
      assert.deepEqual((await q(h.db, 'db1', 1)).rows.map((r) => r.name), ['web1']);
      assert.deepEqual((await q(h.db, 'web1', 2)).rows.map((r) => r.name), ['web2']);
      // In a transaction, the same compiled form.
      await h.db.transaction().execute(async (trx) => {
        assert.deepEqual((await q(trx, 'web2', 1)).rows.map((r) => r.name), ['web1']);
      });
      // A null argument binds null (= NULL matches nothing), as the built query does.
      const byNote = compiled((db, note: string | null) => db.selectFrom('vms').select('name').where('note', '=', note));
      assert.deepEqual((await byNote(h.db, null)).rows, []);

      // The path query, compiled per kind of segment: names (any case), ids and public ids, mixed.
      const vm = await h.db.selectFrom('vms').selectAll().where('name', '=', 'web2').executeTakeFirstOrThrow();
      for (const [acc, grp, name] of [
        ['acme', 'default', 'web2'], ['ACME', 'Default', 'WEB2'], [String(account.id), String(group.id), String(vm.id)],
        [account.uuid, group.uuid.toUpperCase(), vm.uuid], ['acme', String(group.id), vm.uuid],
      ] as const) {
        assert.equal((await vmByPath(h.db, acc, grp, name))?.vm.id, vm.id, `${acc}/${grp}/${name}`);
      }
      assert.equal(await vmByPath(h.db, 'acme', 'default', 'web3'), undefined);
      assert.equal(await vmByPath(h.db, 'acme', 'default', String(vm.id + 100)), undefined);
    });
  });
}

test('a compiled query that leaves an argument out is refused at its first run', async () => {
  await withCore(false, async ({ t }) => {
    const q = compiled((db, _name: string, id: number) => db.selectFrom('vms').select('name').where('id', '=', id));
    await assert.rejects(q(t.running.hangar.db, 'x', 1), /binds 1 of its 2 arguments/);
  });
});

test('a store with plugins builds every run, so each plugin sees each query', async () => {
  await withCore(false, async ({ t }) => {
    let seen = 0;
    const counter: KyselyPlugin = { transformQuery: (a) => { seen++; return a.node; }, transformResult: async (a) => a.result };
    const db = t.running.hangar.db.withPlugin(counter);
    const q = compiled((d, id: number) => d.selectFrom('vms').select('name').where('id', '=', id));
    for (let i = 1; i <= 3; i++) await q(db, i);
    assert.equal(seen, 3);
  });
});
