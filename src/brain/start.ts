// Composes a running Hangar: store, cluster settings, the embedded head(s) and the HTTP API.
// `hangar server` and the tests both start Hangar through here.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { openStore, type Store } from '../store/db.js';
import { makeLogger } from '../core/log.js';
import { loadSecretBox, SecretBox } from '../core/secrets.js';
import { keepPrivate, mkdirPrivate } from '../core/private-files.js';
import { defaultConfig, type ClusterConfig } from '../core/config.js';
import { checkUrlPolicy } from '../core/urls.js';
import type { Hangar } from '../core/context.js';
import { LoginLimiter } from '../core/login-limiter.js';
import { ensurePool } from '../core/ipam.js';
import { linkPoolsToNetworks } from '../core/networks.js';
import { purgeExpired } from '../core/vms/delete.js';
import { sweepOperations } from '../operations/sweeper.js';
import { pruneStats } from '../core/stats.js';
import type { Driver } from '../drivers/driver.js';
import { HeadAgent, type HeadAgentOptions } from '../heads/agent.js';
import { LocalLink } from '../heads/local-link.js';
import { LocalDispatch } from '../heads/local-dispatch.js';
import { buildApp } from '../api/app.js';
import { gigasDialect } from '../api/gigas/index.js';
import { e24cloudDialect } from '../api/e24cloud/index.js';
import { forgetExpiredIdempotency } from '../api/idempotency.js';
import { flushAudit } from '../core/audit.js';

export interface HeadSpec extends Partial<Omit<HeadAgentOptions, 'log'>> { driver: Driver; label: string }

export interface StartOptions {
  /** SQLite path, ':memory:', or postgres:// URL. */
  storeUrl: string;
  /** The server's data directory: made 0700 (a looser one is tightened with a warning); holds secret.key. */
  dataDir?: string;
  /** The secret box; default: HANGAR_SECRET_KEY or `<dataDir>/secret.key` (core/secrets.ts). */
  secrets?: SecretBox;
  config?: Partial<ClusterConfig>;
  heads: HeadSpec[];
  log?: Logger;
  authPrefix?: string;
  /** Serve HTTPS with this PEM certificate (chain) and key (see brain/tls.ts). */
  tls?: { cert: string; key: string };
}

export interface Running {
  hangar: Hangar;
  app: FastifyInstance;
  agents: HeadAgent[];
  close(): Promise<void>;
}

export async function startHangar(opts: StartOptions): Promise<Running> {
  const log = opts.log ?? makeLogger();
  const config = { ...defaultConfig(), ...opts.config };
  checkUrlPolicy(config.urls);
  if (opts.dataDir) {
    await mkdirPrivate(opts.dataDir);
    keepPrivate([opts.dataDir], log);
  }
  const secrets = opts.secrets ?? loadSecretBox({ dataDir: opts.dataDir, log }) ?? (opts.storeUrl === ':memory:' ? SecretBox.ephemeral() : null);
  // A store that outlives this process needs a key that does too.
  if (!secrets) throw new Error('a secret key is needed: give a data dir (its secret.key) or set HANGAR_SECRET_KEY');
  const db: Store = await openStore({ url: opts.storeUrl, secrets, log });
  await ensurePool(db, config.ipv4Pool, config.vlanNum);
  await ensurePool(db, config.ipv6Pool, config.vlanNum);
  await linkPoolsToNetworks({ db }, Date.now());
  const dispatch = new LocalDispatch(config.headWaitMs);
  const hangar: Hangar = { db, config, heads: dispatch, log, secrets, limiter: new LoginLimiter(db, config), now: Date.now };
  const agents: HeadAgent[] = [];
  for (const spec of opts.heads) {
    const agent = new HeadAgent(new LocalLink(db, config.clusterDomain, secrets, () => hangar.now(), config.operationLeaseMs), spec.driver, {
      label: spec.label, zone: spec.zone ?? 'default', managementAddress: spec.managementAddress ?? '127.0.0.1',
      network: spec.network ?? { mode: 'user' }, resyncMs: spec.resyncMs ?? 5000, log: log.child({ head: spec.label }),
    });
    await agent.start();
    dispatch.add(agent);
    agents.push(agent);
  }
  const app = await buildApp(hangar, { authPrefix: opts.authPrefix, tls: opts.tls, dialects: [gigasDialect(), e24cloudDialect()] });
  await app.ready();
  const sweeper = setInterval(() => {
    void purgeExpired(hangar).catch((err) => log.error({ err }, 'purge sweep failed'));
    void hangar.limiter.forgetExpired(hangar.now()).catch((err) => log.error({ err }, 'login failure sweep failed'));
    void forgetExpiredIdempotency(hangar).catch((err) => log.error({ err }, 'idempotency record sweep failed'));
    void pruneStats(hangar.db, hangar.now()).catch((err) => log.error({ err }, 'stats retention sweep failed'));
  }, 3_600_000);
  sweeper.unref();
  const opSweeper = setInterval(() => {
    void sweepOperations(hangar).catch((err) => log.error({ err }, 'operation sweep failed'));
  }, config.operationSweepMs);
  opSweeper.unref();
  return {
    hangar, app, agents,
    async close() {
      clearInterval(sweeper);
      clearInterval(opSweeper);
      await app.close();
      for (const a of agents) await a.stop();
      await flushAudit(hangar);
      await db.destroy();
    },
  };
}
