// The one transaction runner of core (src/core/transaction.ts): a transaction PostgreSQL aborts for a
// deadlock or a serialization failure runs again, a bounded number of times; every other error is
// the answer at once (SQLite's SQLITE_BUSY included: busy_timeout has already waited); a write
// pointing at a row that is gone is a 404. Runs on SQLite and PostgreSQL (scripts/test.mjs).
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTest, type TestHangar } from '../helpers.js';
import { ATTEMPTS, withTransaction } from '../../src/core/transaction.js';
import { invalid, isCode } from '../../src/core/errors.js';
import { isPostgres } from '../../src/store/dialect.js';

async function withHangar(fn: (t: TestHangar) => Promise<void>): Promise<void> {
  const t = await startTest();
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

const coded = (code: string) => Object.assign(new Error(`fake ${code}`), { code });

test('a transaction aborted for a deadlock or a serialization failure runs again, and its writes happen once', async () => {
  await withHangar(async (t) => {
    const db = t.running.hangar.db;
    let runs = 0;
    const id = await withTransaction(db, async (trx) => {
      const row = await trx.insertInto('accounts').values({ uuid: randomUUID(), name: `retried${runs}`, created_at: 0 }).returning('id').executeTakeFirstOrThrow();
      if (++runs <= 2) throw coded(runs === 1 ? '40P01' : '40001');
      return row.id;
    });
    assert.equal(runs, 3);
    assert.deepEqual((await db.selectFrom('accounts').select(['id', 'name']).where('name', 'like', 'retried%').execute()), [{ id, name: 'retried2' }], 'the aborted runs left nothing');
  });
});

test('retries are bounded: a conflict every time is the answer after the last run', async () => {
  await withHangar(async (t) => {
    let runs = 0;
    await assert.rejects(withTransaction(t.running.hangar.db, async () => { runs++; throw coded('40P01'); }), { code: '40P01' });
    assert.equal(runs, ATTEMPTS);
  });
});

test('other errors are not retried: a refusal, SQLITE_BUSY, a unique violation', async () => {
  await withHangar(async (t) => {
    const db = t.running.hangar.db;
    for (const err of [invalid('name', 'invalid'), coded('SQLITE_BUSY')]) {
      let runs = 0;
      await assert.rejects(withTransaction(db, async () => { runs++; throw err; }), (e) => e === err);
      assert.equal(runs, 1, String(err));
    }
    let runs = 0;
    await assert.rejects(withTransaction(db, async (trx) => {
      runs++;
      await trx.insertInto('accounts').values({ uuid: randomUUID(), name: 'twin', created_at: 0 }).execute();
      await trx.insertInto('accounts').values({ uuid: randomUUID(), name: 'twin', created_at: 0 }).execute();
    }), (e: { code?: string }) => e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE');
    assert.equal(runs, 1);
  });
});

test('a write pointing at a row that is gone is a 404, not a foreign-key 500', async () => {
  await withHangar(async (t) => {
    await assert.rejects(
      withTransaction(t.running.hangar.db, (trx) => trx.insertInto('groups').values({ uuid: randomUUID(), account_id: 987654, name: 'orphan', vlan_num: null, created_at: 0 }).execute()),
      (e) => isCode(e, 'not_found'),
    );
  });
});

test('two transactions locking two rows in opposite orders both commit (PostgreSQL aborts one, which runs again)', async (ctx) => {
  await withHangar(async (t) => {
    const db = t.running.hangar.db;
    if (!isPostgres(db)) return ctx.skip('SQLite runs one transaction at a time: no deadlock');
    const [a, b] = await Promise.all(['lock-a', 'lock-b'].map(async (name) =>
      (await db.insertInto('accounts').values({ uuid: randomUUID(), name, created_at: 0 }).returning('id').executeTakeFirstOrThrow()).id));
    // Each first run takes its first row, waits until the other has taken its own, then asks for the other's.
    let firstRowsTaken = 0;
    const bothHold = async () => {
      firstRowsTaken++;
      while (firstRowsTaken < 2) await new Promise((r) => setTimeout(r, 5));
    };
    const runs = [0, 0];
    const cross = (i: number, first: number, second: number) => withTransaction(db, async (trx) => {
      runs[i]!++;
      await trx.updateTable('accounts').set({ suspended: 1 }).where('id', '=', first).execute();
      if (runs[i] === 1) await bothHold();
      await trx.updateTable('accounts').set({ suspended: 1 }).where('id', '=', second).execute();
    });
    await Promise.all([cross(0, a!, b!), cross(1, b!, a!)]);
    assert.deepEqual(runs.sort(), [1, 2], 'one of them was aborted and ran again');
  });
});
