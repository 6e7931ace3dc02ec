// Volumes made with no VM (core/holdings.ts createHeldVolume): a create whose head stops answering
// is failed by the sweeper (its lease and deadline passed), and takes the volume's row and pool space with it (the
// volume never existed); the head's late answer changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until } from '../helpers.js';
import { assertInvariants } from '../invariants.js';
import { storesFor, withCore } from './fixture.js';
import { createHeldVolume } from '../../src/core/holdings.js';
import { sweepOperations, LEASE_EXPIRED } from '../../src/operations/sweeper.js';
import { DEADLINES } from '../../src/operations/kinds.js';

for (const { name, postgres } of storesFor('held volumes')) {
  test(`a volume create its head stops answering is failed by the sweeper: no row, no space taken (${name})`, async () => {
    await withCore(postgres, async ({ t, admin, account }) => {
      const h = t.running.hangar;
      const used = async () => Number((await h.db.selectFrom('storage_pools').select('used').where('grade', '=', 'sata').executeTakeFirstOrThrow()).used);
      const before = await used();
      const held = t.drivers[0]!.holdNext('createDisc');
      try {
      const made = createHeldVolume(h, admin, account, { label: 'data', size: 1024, grade: 'sata', zone: 'default' }, 'e24');
      await held.reached;
      const { disc, operation } = await made; // answered after the head wait, the operation still running
      assert.equal(await used(), before + 1024);
      const op = () => h.db.selectFrom('operations').selectAll().where('uuid', '=', operation).executeTakeFirstOrThrow();
      assert.deepEqual([(await op()).state, (await op()).vm_id], ['running', null]);

      const start = Date.now();
      h.now = () => start + DEADLINES['disc.create'] + 1;
      assert.equal((await sweepOperations(h)).failed, 1);
      assert.deepEqual([(await op()).state, (await op()).error], ['failed', LEASE_EXPIRED]);
      assert.equal(await h.db.selectFrom('discs').select('id').where('id', '=', disc.id).executeTakeFirst(), undefined, 'the volume never existed');
      assert.equal(await used(), before, 'its space is back');
      await assertInvariants(h.db, 'after the sweep');

      // The head answers late: the sweeper's verdict stands (the file it made stays, unowned: docs/operations.md).
      held.release();
      await until('the head is done', async () => t.drivers[0]!.discs.has(disc.id) || null);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal((await op()).state, 'failed');
      assert.equal(await used(), before);
      await assertInvariants(h.db, 'after the late answer');
      } finally {
        t.drivers[0]!.releaseAll(); // a failed assertion must not leave the head stuck inside the driver
      }
    });
  });
}
