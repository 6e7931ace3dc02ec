// Storage grades (docs/domain.md §8) through core alone: the table migration 014 fills from the
// constant BigV's /definitions shows, pools pointing to their grade's row (the ones a head registers
// and the ones that existed before the migration), and the one id rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stores, withCatalogue } from './catalogues.js';
import { migratableStore } from '../helpers.js';
import { migrations } from '../../src/store/db.js';
import { SecretBox } from '../../src/core/secrets.js';
import { STORAGE_GRADES } from '../../src/core/definitions.js';
import { gradeByRef, listGrades } from '../../src/core/grades.js';
import { isCode } from '../../src/core/errors.js';

for (const store of stores('grades')) {
  test(`the grades are the ones /definitions shows, sata the default, and every pool points to its grade's row (${store.name})`, async () => {
    await withCatalogue(store.postgres, async (fx) => {
      const grades = await listGrades(fx.h);
      assert.deepEqual(grades.map((g) => [g.name, g.description]), Object.entries(STORAGE_GRADES));
      assert.deepEqual(grades.filter((g) => g.isDefault).map((g) => g.name), ['sata']);
      assert.deepEqual(grades.map((g) => g.e24Type), ['SSD', 'SSD', 'HDD']);
      const pools = await fx.h.db.selectFrom('storage_pools').select(['grade', 'grade_id']).execute();
      assert.ok(pools.length >= 1, 'the test head registered pools');
      for (const p of pools) assert.equal(p.grade_id, grades.find((g) => g.name === p.grade)?.id, `pool of ${p.grade}`);
      const ssd = grades.find((g) => g.name === 'ssd')!;
      for (const ref of ['ssd', 'SSD', String(ssd.id), ssd.uuid]) assert.equal((await gradeByRef(fx.h, ref)).id, ssd.id, ref);
      await assert.rejects(gradeByRef(fx.h, 'iceberg'), (e) => isCode(e, 'not_found') && e.params.entity === 'grade');
    });
  });
}

test('migration 014 points the pools that existed before it to their grade, and leaves a grade it has no row for null', async () => {
  const { db, migrator, close } = await migratableStore();
  try {
    const all = Object.keys(migrations(SecretBox.ephemeral())).sort();
    assert.ok(all.includes('014_catalogues'), 'migration 014 is registered');
    assert.equal((await migrator.migrateTo(all.filter((m) => m < '014').at(-1)!)).error, undefined);
    const head = (await db.insertInto('heads').values({
      label: 'h1', zone: 'default', driver: 'fake', cores: 4, memory: 4096, management_address: '127.0.0.1', online: 1, images: '[]', created_at: 1,
    }).returning('id').executeTakeFirstOrThrow()).id as number;
    for (const grade of ['sata', 'archive', 'gold']) {
      await db.insertInto('storage_pools').values({ head_id: head, label: `h1-${grade}`, grade, capacity: 1024 }).execute();
    }
    assert.equal((await migrator.migrateToLatest()).error, undefined);
    const rows = await db.selectFrom('storage_pools as p').leftJoin('storage_grades as g', 'g.id', 'p.grade_id')
      .select(['p.grade', 'g.name']).orderBy('p.id').execute();
    assert.deepEqual(rows.map((r) => [r.grade, r.name]), [['sata', 'sata'], ['archive', 'archive'], ['gold', null]]);
    const uuids = await db.selectFrom('storage_grades').select('uuid').execute();
    assert.ok(uuids.length === 3 && uuids.every((r) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(r.uuid as string)), 'each grade has a public id');
  } finally {
    await close();
  }
});
