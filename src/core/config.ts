// Cluster-wide settings, read once at start-up. Everything has a working default so that
// `hangar server` runs with no configuration at all.
import type { UrlPolicy } from './urls.js';

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
  };
}
