// Transactions that take the same rows in opposite orders (issue 7 follow-up): on PostgreSQL two
// creates whose discs claim the ssd and sata pools in opposite orders, or a create racing a purge
// of a VM holding those pools, could deadlock; PostgreSQL then aborts one (40P01) and the request
// answered 500. Every race must end in the answers a serial order would give, never a 5xx.
// Runs on SQLite and, with HANGAR_TEST_STORE=postgres, on PostgreSQL (scripts/test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type TestHangar, withAcme } from '../helpers.js';
import { assertInvariants } from '../invariants.js';

const ROUNDS = 12;
const vms = '/accounts/acme/groups/default/virtual_machines';

/** A powered-off VM whose discs are on the given grades, in that order. */
const create = (t: TestHangar, name: string, grades: string[]) => t.req('POST', '/accounts/acme/groups/default/vm_create', {
  token: t.adminToken,
  body: { virtual_machine: { name, cores: 1, memory: 1024, power_on: false }, discs: grades.map((g) => ({ storage_grade: g, size: 10240 })) },
});
const both = <A, B>(round: number, a: () => Promise<A>, b: () => Promise<B>) =>
  round % 2 ? Promise.all([a(), b()]) : Promise.all([b(), a()]).then(([y, x]) => [x, y] as [A, B]);

test('two creates claiming the ssd and sata pools in opposite orders both succeed (no 500 from a deadlock)', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      const [a, b] = await both(i, () => create(t, `ab${i}`, ['ssd', 'sata', 'ssd']), () => create(t, `ba${i}`, ['sata', 'ssd', 'sata']));
      assert.equal(a.status, 202, `round ${i}: ${a.text}`);
      assert.equal(b.status, 202, `round ${i}: ${b.text}`);
      await assertInvariants(t.running.hangar.db, `opposite-order creates round ${i}`);
    }
  });
});

test('a create racing a purge that releases the same pools both succeed (no 500 from a deadlock)', async () => {
  await withAcme(async (t) => {
    for (let i = 0; i < ROUNDS; i++) {
      assert.equal((await create(t, `old${i}`, ['sata', 'ssd', 'sata'])).status, 202);
      const purge = () => t.req('DELETE', `${vms}/old${i}?purge=true`, { token: t.adminToken });
      const [p, c] = await both(i, purge, () => create(t, `new${i}`, ['ssd', 'sata', 'ssd']));
      assert.equal(p.status, 204, `round ${i}: ${p.text}`);
      assert.equal(c.status, 202, `round ${i}: ${c.text}`);
      await assertInvariants(t.running.hangar.db, `purge/create round ${i}`);
    }
  });
});
