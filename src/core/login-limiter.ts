// Failed credential checks are limited per username+address and per address (issue 7, defect 5).
// Every credential check of every dialect (passwords, second factors, session tokens, API keys,
// later signatures) goes through one LoginLimiter: `check` before verifying anything, then `fail`
// or `succeed`. The counting is rate-limiter-flexible's, in the store (src/store/counters.ts).
//
// Growing delays, not a lockout: the first `free` failures of a key cost nothing; each further one
// makes the key wait 1, 1, 2, 3, 5, 8 ... seconds (at most `loginMaxDelay`), so a guesser slows to
// a crawl while the owner can still log in from their own address, or from the same one after the
// wait. While a key waits, every check for it is refused (429) before any password is hashed.
import crypto from 'node:crypto';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Store } from '../store/db.js';
import { storeCounter } from '../store/counters.js';
import type { ClusterConfig } from './config.js';
import { Throttled } from './errors.js';

/** Who is trying: the client's address, and the username when the credential names one. */
export interface Attempt { address: string; username?: string }

interface Tier {
  free: number;
  /** Failures in the window. */
  failures: RateLimiterAbstract;
  /** The wait the last failure started (a blocked key, expiring when the wait ends). */
  waits: RateLimiterAbstract;
  key(a: Attempt): string | null;
}

/** The `n`th Fibonacci number (1, 1, 2, 3, 5 ...), or `cap` if that is smaller. */
function fibonacci(n: number, cap: number): number {
  let [a, b] = [1, 1];
  for (let i = 1; i < n && a < cap; i++) [a, b] = [b, a + b];
  return Math.min(a, cap);
}

export class LoginLimiter {
  private readonly tiers: Tier[];
  private readonly maxDelay: number;

  constructor(private readonly db: Store, config: ClusterConfig) {
    this.maxDelay = Math.max(1, config.loginMaxDelay);
    const tier = (name: string, free: number, key: Tier['key']): Tier => ({
      free, key,
      failures: storeCounter(db, { keyPrefix: `${name}-failures`, points: free, duration: config.loginWindow }),
      waits: storeCounter(db, { keyPrefix: `${name}-wait`, points: 0, duration: this.maxDelay }),
    });
    this.tiers = [
      // Usernames are hashed: any length fits the key column, and the table holds no names.
      tier('user', config.loginFreePerUser, (a) => a.username === undefined ? null
        : `${crypto.createHash('sha256').update(a.username).digest('hex')}@${a.address}`),
      tier('address', config.loginFreePerAddress, (a) => a.address),
    ];
  }

  /** Throws Throttled while this address, or this username from it, waits. */
  async check(a: Attempt): Promise<void> {
    let ms = 0;
    for (const t of this.tiers) {
      const key = t.key(a);
      const wait = key === null ? null : await t.waits.get(key);
      if (wait) ms = Math.max(ms, wait.msBeforeNext);
    }
    if (ms > 0) throw new Throttled(Math.ceil(ms / 1000));
  }

  /** Count a failed check; past the free ones it starts the key's next, longer wait. */
  async fail(a: Attempt): Promise<void> {
    for (const t of this.tiers) {
      const key = t.key(a);
      if (key === null) continue;
      const { consumedPoints } = await t.failures.penalty(key);
      if (consumedPoints > t.free) await t.waits.block(key, fibonacci(consumedPoints - t.free, this.maxDelay));
    }
  }

  /** A passed check forgets the failures of this username from this address (not the address's). */
  async succeed(a: Attempt): Promise<void> {
    const key = this.tiers[0]!.key(a);
    if (key === null) return;
    await this.tiers[0]!.failures.delete(key);
    await this.tiers[0]!.waits.delete(key);
  }

  /** Drop counts and waits that have run out (the brain's sweeper). */
  async forgetExpired(now: number): Promise<void> {
    await this.db.deleteFrom('login_failures').where('expire', '<', now).execute();
  }
}
