// The store layer (issue 8 §4): Kysely queries live in src/store/ (repositories in src/store/repos/),
// core depends on them and routes never touch the database. This scans src/ and fails on a query
// builder (selectFrom, insertInto, updateTable, deleteFrom, sql``) anywhere else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SRC = path.join(ROOT, 'src');

const QUERY = /\b(selectFrom|insertInto|updateTable|deleteFrom)\s*\(|\bsql\s*`/;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

/** Lines with a query builder, comments left out. */
function queryLines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n')
    .map((line, i) => ({ line: line.replace(/\/\/.*$/, ''), n: i + 1 }))
    .filter(({ line }) => !/^\s*\*/.test(line) && QUERY.test(line))
    .map(({ line, n }) => `${n}: ${line.trim()}`);
}

test('no file outside src/store/ builds a Kysely query', () => {
  const offenders: string[] = [];
  const files = sources(SRC).map((f) => path.relative(ROOT, f).split(path.sep).join('/'));
  assert.ok(files.includes('src/store/repos/discs.ts'), 'the scan sees src/ (and the repositories)');
  for (const rel of files) {
    if (rel.startsWith('src/store/')) continue;
    const lines = queryLines(path.join(ROOT, rel));
    if (lines.length) offenders.push(`${rel}\n    ${lines.slice(0, 5).join('\n    ')}`);
  }
  assert.deepEqual(offenders, [], 'queries belong in a repository under src/store/repos/');
});

test('the scan would catch a query builder outside src/store/', () => {
  for (const line of ["await h.db.selectFrom('vms').selectAll()", "trx.deleteFrom('x')", 'await sql`SELECT 1`.execute(db)', "db.insertInto ('a')", "db.updateTable('vms')"]) {
    assert.ok(QUERY.test(line), line);
  }
  for (const line of ["import { sql } from 'kysely';", 'const selectFromCache = 1;', "'deleteFromPool'"]) assert.ok(!QUERY.test(line), line);
});
