// Failed credential checks are limited per username+address and per address (issue 7, defect 5).
// Every credential check of every dialect (passwords, second factors, session tokens, API keys,
// later signatures) goes through one LoginLimiter: `begin` before verifying anything, then
// `passed` on success, `uncount` when the answer was neither (a second factor still to come), and
// nothing on failure. The counting is rate-limiter-flexible's, in the store (src/store/counters.ts).
//
// Growing waits, not a lockout: the first `free` attempts of a key are checked at once; past them
// the key may try once per wait, and the waits grow 1, 1, 2, 3, 5, 8 ... seconds (at most
// `loginMaxDelay`). A guesser slows to a crawl, while the owner can still log in from their own
// address at once, or from the guesser's after the wait. A refused attempt is answered 429 before
// any password is hashed, and is not counted.
//
// An attempt is counted as a failure when it begins (an atomic increment in the store) and taken
// back when it passes: two hundred guesses sent in parallel are counted before any is checked, so
// only the free ones and one per wait get through, on every brain alike.
import crypto from 'node:crypto';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Store } from '../store/db.js';
import { deleteExpiredFailures } from '../store/repos/limiter.js';
import { storeCounter } from '../store/counters.js';
import type { ClusterConfig } from './config.js';
import { throttled } from './errors.js';

/** Who is trying: the client's address, and the username when the credential names one. */
export interface Attempt { address: string; username?: string }

interface Tier {
  free: number;
  /** Attempts that did not pass, in the window. */
  attempts: RateLimiterAbstract;
  /** One attempt per wait once the free ones are spent: a point per wait, expiring when it ends. */
  waits: RateLimiterAbstract;
}

/** The `n`th Fibonacci number (1, 1, 2, 3, 5 ...), or `cap` if that is smaller. */
function fibonacci(n: number, cap: number): number {
  let [a, b] = [1, 1];
  for (let i = 1; i < n && a < cap; i++) [a, b] = [b, a + b];
  return Math.min(a, cap);
}

export class LoginLimiter {
  private readonly address: Tier;
  private readonly user: Tier;
  private readonly maxDelay: number;

  constructor(private readonly db: Store, config: ClusterConfig) {
    this.maxDelay = Math.max(1, config.loginMaxDelay);
    const tier = (name: string, free: number): Tier => ({
      free,
      attempts: storeCounter(db, { keyPrefix: `${name}-attempts`, points: free, duration: config.loginWindow }),
      waits: storeCounter(db, { keyPrefix: `${name}-wait`, points: 1, duration: 1 }),
    });
    this.address = tier('address', config.loginFreePerAddress);
    this.user = tier('user', config.loginFreePerUser);
  }

  /** The tiers this attempt is counted in, with its key in each. */
  private keys(a: Attempt): [Tier, string][] {
    if (a.username === undefined) return [[this.address, a.address]];
    // Usernames are hashed: any length fits the key column, and the table holds no names.
    const user = `${crypto.createHash('sha256').update(a.username).digest('hex')}@${a.address}`;
    return [[this.address, a.address], [this.user, user]];
  }

  /** Count this attempt (as failed until `passed` or `uncount`); throws Throttled while it must wait. */
  async begin(a: Attempt): Promise<void> {
    const keys = this.keys(a);
    // The common refusal, a key whose wait's one try is taken, costs reads only (no commits).
    for (const [tier, key] of keys) {
      const wait = await tier.waits.get(key);
      if (wait && wait.consumedPoints >= 1) throw throttled(Math.max(1, Math.ceil(wait.msBeforeNext / 1000)));
    }
    const counted: [Tier, string][] = [];
    for (const [tier, key] of keys) {
      const { consumedPoints } = await tier.attempts.penalty(key);
      if (consumedPoints > tier.free) {
        const duration = fibonacci(consumedPoints - tier.free, this.maxDelay);
        const refused = await tier.waits.consume(key, 1, { customDuration: duration })
          .then(() => null, (err: unknown) => { if (err instanceof RateLimiterRes) return err; throw err; });
        if (refused) {
          // Refused, not checked: nothing this attempt counted stays counted.
          await tier.attempts.reward(key);
          await tier.waits.reward(key);
          for (const [t, k] of counted) await this.takeBack(t, k);
          throw throttled(Math.max(1, Math.ceil(refused.msBeforeNext / 1000)));
        }
      }
      counted.push([tier, key]);
    }
  }

  /**
   * For bearer credentials (random tokens and keys, guessed only by flooding): refuses while a wait
   * holds, with reads only. Their failures are counted after the check (`failed`), so a right
   * credential costs no write: a login counts first because parallel password guesses must not all
   * be checked (argon2) before any is counted; a token lookup costs nothing to guard.
   */
  async check(a: Attempt): Promise<void> {
    for (const [tier, key] of this.keys(a)) {
      const wait = await tier.waits.get(key);
      if (wait && wait.consumedPoints >= 1) throw throttled(Math.max(1, Math.ceil(wait.msBeforeNext / 1000)));
    }
  }

  /** A bearer credential was wrong: counted, and past the free ones a wait starts (its try taken by this one). */
  async failed(a: Attempt): Promise<void> {
    for (const [tier, key] of this.keys(a)) {
      const { consumedPoints } = await tier.attempts.penalty(key);
      if (consumedPoints > tier.free) {
        await tier.waits.consume(key, 1, { customDuration: fibonacci(consumedPoints - tier.free, this.maxDelay) })
          .catch((err: unknown) => { if (!(err instanceof RateLimiterRes)) throw err; });
      }
    }
  }

  /** The credential was right: the username's failures from this address are forgotten. */
  async passed(a: Attempt): Promise<void> {
    for (const [tier, key] of this.keys(a)) {
      if (tier === this.user) {
        await tier.attempts.delete(key);
        await tier.waits.delete(key);
      } else {
        await this.takeBack(tier, key);
      }
    }
  }

  /** Neither right nor wrong (a second factor is still to come): the attempt is not counted. */
  async uncount(a: Attempt): Promise<void> {
    for (const [tier, key] of this.keys(a)) await this.takeBack(tier, key);
  }

  /** Take back a counted attempt, and the try it was given during a wait if it had one. */
  private async takeBack(tier: Tier, key: string): Promise<void> {
    const { consumedPoints } = await tier.attempts.reward(key);
    if (consumedPoints >= tier.free) await tier.waits.reward(key);
  }

  /** Drop counts and waits that have run out (the brain's sweeper). */
  async forgetExpired(now: number): Promise<void> {
    await deleteExpiredFailures(this.db, now);
  }
}
