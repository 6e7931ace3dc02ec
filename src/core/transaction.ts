// The one way core runs a transaction. On PostgreSQL transactions run side by side at READ COMMITTED;
// locks are taken in one order where that is cheap (core/locks.ts), but when two still end up waiting
// for each other the server aborts one (deadlock_detected) and that is no fault of the request: the
// whole transaction runs again, a bounded number of times, after a short random wait. A foreign key
// refusing a write means a row was deleted or gained a child while the transaction ran: a delete that
// met a new child runs again (and then sees it); a write pointing at a row deleted meanwhile is the
// 404 a request naming that row now gets. Any other error is the request's answer, as it was.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Transaction } from 'kysely';
import type { Store } from '../store/db.js';
import type { Database } from '../store/schema.js';
import { foreignKeyViolation, transientConflict } from '../store/dialect.js';
import { notFound } from './errors.js';

/** Runs of one transaction before its last error is the answer. */
export const ATTEMPTS = 5;

/** What the 404 calls a row of a table that a foreign key found missing. */
const NAMES: Record<string, string> = {
  groups: 'group', vms: 'virtual_machine', users: 'user', api_keys: 'api_key', discs: 'disc', nics: 'network_interface', accounts: 'account',
};

/**
 * Runs `fn` in a transaction, again from the start on a transient conflict (see above): `fn` must do
 * nothing outside the transaction that cannot be done twice (read the store, compute, write through `trx`).
 */
export async function withTransaction<T>(db: Store, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(fn);
    } catch (err) {
      const fk = foreignKeyViolation(err);
      const again = transientConflict(err) || (fk !== null && 'referencedFrom' in fk);
      if (again && attempt < ATTEMPTS) {
        // 5-15 ms, doubling: the other transaction usually needs only a few milliseconds to finish.
        await sleep((5 + Math.random() * 10) * 2 ** (attempt - 1));
        continue;
      }
      if (fk && 'missing' in fk) throw notFound(NAMES[fk.missing ?? ''] ?? 'resource');
      throw err;
    }
  }
}
