// Placement tries heads in turn (src/scheduler/place.ts). A head whose pools could take the first disc
// but not the second was passed over with the first disc's space still claimed in its pool, so the
// pool's `used` no longer equalled the sum of its discs (found while reordering the claims so that a
// head's row is locked before its pools).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest } from '../helpers.js';
import { assertInvariants } from '../invariants.js';
import { FakeDriver } from '../../src/drivers/fake/driver.js';

test('a create that does not fit on the first head tried leaves nothing claimed on it', async () => {
  // `first` has the most free memory (tried first) but too little ssd; `second` has room for both discs.
  const specs = [{ memory: 2048 * 1024, grades: { sata: 1024 * 1024, ssd: 20480 } }, { memory: 1024 * 1024, grades: { sata: 1024 * 1024, ssd: 1024 * 1024 } }];
  const t = await startTest({ heads: [{ label: 'first', zone: 'default' }, { label: 'second', zone: 'default' }], driver: () => new FakeDriver(specs.shift()) });
  try {
    await account(t, 'acme');
    const r = await t.req('POST', '/accounts/acme/groups/default/vm_create', {
      token: t.adminToken,
      body: { virtual_machine: { name: 'big', cores: 2, memory: 2048, power_on: false }, discs: [{ storage_grade: 'sata', size: 10240 }, { storage_grade: 'ssd', size: 40960 }] },
    });
    assert.equal(r.status, 202, r.text);
    const db = t.running.hangar.db;
    const head = await db.selectFrom('vms').innerJoin('heads', 'heads.id', 'vms.head_id').select('heads.label').where('vms.name', '=', 'big').executeTakeFirstOrThrow();
    assert.equal(head.label, 'second');
    await assertInvariants(db, 'after a create passed over the first head');
  } finally {
    await t.close();
  }
});
