// What every core service is handed: the store, the settings, the way to reach heads, the secret
// box, a clock.
import type { Logger } from 'pino';
import type { Store } from '../store/db.js';
import type { ClusterConfig } from './config.js';
import type { LoginLimiter } from './login-limiter.js';
import type { SecretBox } from './secrets.js';

/** How the brain reaches the head agent that owns a VM (in-process for the embedded head). */
export interface HeadDispatch {
  /** Ask the head to converge this VM now (run its queued operations, then match power state), or,
   *  with `vmId` null, to run its queued acts on volumes with no VM. Resolves when it has, or after
   *  `headWaitMs`; never rejects. */
  kick(headId: number, vmId: number | null): Promise<void>;
}

export interface Hangar {
  db: Store;
  config: ClusterConfig;
  heads: HeadDispatch;
  log: Logger;
  /** Guards every credential check (core/login-limiter.ts). */
  limiter: LoginLimiter;
  /** Seals the secrets the store keeps (core/secrets.ts). */
  secrets: SecretBox;
  now(): number;
}
