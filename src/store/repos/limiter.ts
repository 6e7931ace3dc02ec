// The login limiter's counters (`login_failures`, kept by rate-limiter-flexible: store/counters.ts).
import type { Db } from './types.js';

/** Counts and waits that ran out before `now`. */
export async function deleteExpiredFailures(db: Db, now: number): Promise<void> {
  await db.deleteFrom('login_failures').where('expire', '<', now).execute();
}
