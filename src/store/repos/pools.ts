// Storage pools as the API shows them (a disc's `storage_pool` label).
import type { Db } from './types.js';

export function poolLabelRows(db: Db): Promise<{ id: number; label: string }[]> {
  return db.selectFrom('storage_pools').select(['id', 'label']).execute();
}
