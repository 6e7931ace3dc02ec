// Storage pool labels, shown as a disc's `storage_pool`. Pools change only when a head registers.
import type { Store } from '../../store/db.js';
import { poolLabelRows } from '../../store/repos/pools.js';

const cache = new WeakMap<Store, { at: number; labels: Map<number, string> }>();

export async function poolLabels(db: Store): Promise<Map<number, string>> {
  const hit = cache.get(db);
  if (hit && Date.now() - hit.at < 5000) return hit.labels;
  const rows = await poolLabelRows(db);
  const labels = new Map(rows.map((r) => [r.id, r.label]));
  cache.set(db, { at: Date.now(), labels });
  return labels;
}
