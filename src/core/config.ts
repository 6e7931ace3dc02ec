// Cluster-wide settings, read once at start-up. Everything has a working default so that
// `hangar server` runs with no configuration at all.
import type { UrlPolicy } from './urls.js';
import { parsePrices, type PriceTable } from './prices.js';

export interface ClusterConfig {
  /** Suffix of VM hostnames: name.group.account.<domain>. */
  clusterDomain: string;
  /** Days a deleted VM can still be undeleted before it is purged. */
  undeleteDays: number;
  /** IP pools handed out to NICs. */
  ipv4Pool: string;
  ipv6Pool: string;
  vlanNum: number;
  /** Session lifetime bounds in seconds (the client asks for `validity`). */
  sessionDefault: number;
  sessionMax: number;
  /** How long an API call waits for a head to act before answering anyway. */
  headWaitMs: number;
  /** Days an invitation (a grant to a user outside the granter's account) waits to be accepted. */
  invitationDays: number;
  /** What URLs handed to heads may reach beyond the public Internet (src/core/urls.ts). */
  urls: UrlPolicy;
  /** Failed credential checks (docs/login-throttling.md): how many are free per username from one
   *  address, and per address, before each further failure makes that key wait a growing delay
   *  (Fibonacci seconds, at most `loginMaxDelay`); counts are forgotten `loginWindow` seconds after
   *  the first failure. */
  loginFreePerUser: number;
  loginFreePerAddress: number;
  loginMaxDelay: number;
  loginWindow: number;
  /** Fastify's trustProxy: take the client address from X-Forwarded-For when the peer is one of
   *  these proxies (false: the peer's own address). */
  trustProxy: boolean | string;
  /** Operations (docs/operations.md): a running one's lease, renewed by its head every third of it;
   *  how often the sweeper looks; the longest `?wait=` in seconds; days a finished one is kept. */
  operationLeaseMs: number;
  operationSweepMs: number;
  operationWaitMax: number;
  operationRetentionDays: number;
  /** HANGAR_AUDIT_RETENTION_DAYS: days an audit row is kept (docs/audit.md). */
  auditRetentionDays: number;
  /** How long a shutdown or reboot waits for the guest to halt after the ACPI power button before it
   *  forces it (docs/domain.md §13.3, G9): HANGAR_SHUTDOWN_TIMEOUT seconds, 240 by default. */
  shutdownTimeoutMs: number;
  /** HANGAR_PRICES: what e24cloud's `cost_per_hour` is computed from (core/prices.ts); free when unset. */
  prices: PriceTable;
}

/** HANGAR_URL_ALLOW: host names, addresses and CIDRs separated by commas or spaces. */
export function allowList(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter(Boolean);
}

export function defaultConfig(env: NodeJS.ProcessEnv = process.env): ClusterConfig {
  return {
    clusterDomain: env.HANGAR_CLUSTER_DOMAIN ?? 'hangar.local',
    undeleteDays: Number(env.HANGAR_UNDELETE_DAYS ?? 28),
    ipv4Pool: env.HANGAR_IPV4_POOL ?? '10.64.0.0/14',
    ipv6Pool: env.HANGAR_IPV6_POOL ?? 'fd00:6861:6e67::/64',
    vlanNum: Number(env.HANGAR_VLAN ?? 1),
    sessionDefault: 1800,
    sessionMax: 3600,
    headWaitMs: Number(env.HANGAR_HEAD_WAIT_MS ?? 15000),
    urls: { isoDir: env.HANGAR_ISO_DIR ?? null, allow: allowList(env.HANGAR_URL_ALLOW) },
    invitationDays: Number(env.HANGAR_INVITATION_DAYS ?? 7),
    loginFreePerUser: Number(env.HANGAR_LOGIN_FREE_PER_USER ?? 10),
    loginFreePerAddress: Number(env.HANGAR_LOGIN_FREE_PER_ADDRESS ?? 100),
    loginMaxDelay: Number(env.HANGAR_LOGIN_MAX_DELAY ?? 900),
    loginWindow: Number(env.HANGAR_LOGIN_WINDOW ?? 86400),
    trustProxy: trustProxy(env.HANGAR_TRUST_PROXY),
    operationLeaseMs: Number(env.HANGAR_OPERATION_LEASE_MS ?? 60_000),
    operationSweepMs: Number(env.HANGAR_OPERATION_SWEEP_MS ?? 30_000),
    operationWaitMax: Number(env.HANGAR_OPERATION_WAIT_MAX ?? 60),
    operationRetentionDays: Number(env.HANGAR_OPERATION_RETENTION_DAYS ?? 7),
    auditRetentionDays: Number(env.HANGAR_AUDIT_RETENTION_DAYS ?? 90),
    shutdownTimeoutMs: Number(env.HANGAR_SHUTDOWN_TIMEOUT ?? 240) * 1000,
    prices: parsePrices(env.HANGAR_PRICES),
  };
}

/** HANGAR_TRUST_PROXY: unset or `false` trusts no proxy; `true` trusts any; else a comma-separated
 *  list of proxy addresses or CIDRs. */
function trustProxy(value: string | undefined): boolean | string {
  if (value === undefined || value === '' || value === 'false') return false;
  return value === 'true' ? true : value;
}
