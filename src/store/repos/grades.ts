// Storage grades (migration 014): the kinds of disc space pools offer.
import type { Selectable } from 'kysely';
import type { Db } from './types.js';
import type { StorageGradesTable } from '../schema.js';
import { whereRef } from '../../core/ids.js';

export interface Grade { id: number; uuid: string; name: string; description: string; e24Type: 'SSD' | 'HDD'; isDefault: boolean }

function grade(r: Selectable<StorageGradesTable>): Grade {
  return { id: r.id, uuid: r.uuid, name: r.name, description: r.description, e24Type: r.e24_type as Grade['e24Type'], isDefault: !!r.is_default };
}

export async function gradesList(db: Db): Promise<Grade[]> {
  return (await db.selectFrom('storage_grades').selectAll().orderBy('id').execute()).map(grade);
}

/** The grade a segment names: id, public id, or name. */
export async function gradeByRef(db: Db, segment: string): Promise<Grade | undefined> {
  const row = await whereRef(db.selectFrom('storage_grades').selectAll(), segment, { id: 'id', uuid: 'uuid', name: 'name', lower: true }).executeTakeFirst();
  return row && grade(row);
}

