// Storage grades (docs/domain.md §8): a public catalogue every caller may read (BigV
// `storage_grades`, Gigas data store groups by id, e24 volume `type`).
import type { Hangar } from './context.js';
import { notFound } from './errors.js';
import * as repo from '../store/repos/grades.js';

export type { Grade } from '../store/repos/grades.js';

export function listGrades(h: Hangar): Promise<repo.Grade[]> {
  return repo.gradesList(h.db);
}

/** The grade a segment names (id, public id or name; Gigas `data_store_group_*_id` is the id). */
export async function gradeByRef(h: Hangar, segment: string): Promise<repo.Grade> {
  const g = await repo.gradeByRef(h.db, segment);
  if (!g) throw notFound('grade');
  return g;
}
