// Which URLs a tenant may hand a head (cdrom_url; later Gigas' iso_url and e24's cdrom). The brain
// checks the form and any literal address when the request comes in; the head checks again, with
// the addresses it resolved itself, right before it connects (src/drivers/checked-fetch.ts).
// Only public addresses by default: file:// and internal hosts only where a cluster admin opened them.
import path from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';

/** What a cluster admin opened beyond the public Internet. */
export interface UrlPolicy {
  /** file:// URLs may name files under this directory (symlinks resolved), nothing else. null: no file://. */
  isoDir: string | null;
  /** Internal mirrors: host names (exact), addresses and CIDRs (10.1.2.0/24, fd00::/8) a URL may reach. */
  allow: string[];
}

export const CLOSED_POLICY: UrlPolicy = { isoDir: null, allow: [] };

/** The schemes each dialect lets a tenant give (Gigas' seed adds ftp and ftps; e24cloud names ISOs of the library only). */
export const TENANT_SCHEMES = { bigv: ['http', 'https'], gigas: ['http', 'https', 'ftp', 'ftps'], e24: [] } as const satisfies Record<string, readonly string[]>;
export type Dialect = keyof typeof TENANT_SCHEMES;

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** The allow-list split into names and ranges; throws on an entry that is neither. */
function parseAllow(allow: string[]): { names: Set<string>; ranges: Cidr[] } {
  const names = new Set<string>();
  const ranges: Cidr[] = [];
  for (const raw of allow) {
    const entry = raw.trim().toLowerCase();
    if (ipaddr.isValidCIDR(entry)) ranges.push(normalise(ipaddr.parseCIDR(entry)));
    else if (net.isIP(entry)) {
      const a = ipaddr.process(entry);
      ranges.push([a, a.kind() === 'ipv4' ? 32 : 128]);
    } else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/.test(entry)) names.add(entry.replace(/\.$/, ''));
    else throw new Error(`URL allow-list entry "${raw}" is not a host name, an address or a CIDR`);
  }
  return { names, ranges };
}

/** ::ffff:10.0.0.0/104 is 10.0.0.0/8: ranges are compared in the family addresses are processed to. */
function normalise([addr, bits]: Cidr): Cidr {
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96];
  }
  return [addr, bits];
}

/** Throws when the policy cannot be used (a bad allow-list entry, a relative ISO directory). */
export function checkUrlPolicy(policy: UrlPolicy): void {
  parseAllow(policy.allow);
  if (policy.isoDir !== null && !path.isAbsolute(policy.isoDir)) throw new Error(`ISO directory must be an absolute path: ${policy.isoDir}`);
}

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/** Public: routable on the Internet. Everything else (loopback, link-local, private, CGNAT, unique-local,
 *  IPv4-mapped or -embedding IPv6, unspecified, multicast, reserved) is internal. */
function isPublic(addr: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  if (addr.range() !== 'unicast') return false;
  return addr.kind() === 'ipv4' || addr.match(GLOBAL_UNICAST_V6);
}

/** Why a head may not connect to this address, or null when it may (public, or allow-listed). */
export function addressRefusal(address: string, policy: UrlPolicy): string | null {
  if (!net.isIP(address)) return `${address} is not an address`;
  const addr = ipaddr.process(address); // ::ffff:127.0.0.1 is 127.0.0.1
  if (isPublic(addr)) return null;
  const { ranges } = parseAllow(policy.allow);
  if (ranges.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits))) return null;
  return `${address} is an internal address`;
}

/** A host name the cluster admin allow-listed: its addresses are trusted whatever they are. */
export function hostAllowed(host: string, policy: UrlPolicy): boolean {
  return parseAllow(policy.allow).names.has(host.toLowerCase().replace(/\.$/, ''));
}

/** The URL's host as connect() wants it: IPv6 literals without their brackets. */
export function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * The path a file:// URL names inside the ISO library, or a reason why it does not. Lexical only:
 * the head resolves symlinks before it opens anything.
 */
export function isoLibraryPath(url: URL, policy: UrlPolicy): { file: string } | { refusal: string } {
  if (policy.isoDir === null) return { refusal: 'file URLs are not enabled on this cluster' };
  let file: string;
  try {
    file = fileURLToPath(url);
  } catch {
    return { refusal: 'is not a valid file URL' };
  }
  if (!insideDir(path.resolve(policy.isoDir), path.resolve(file))) return { refusal: LIBRARY_ONLY };
  return { file };
}

export const LIBRARY_ONLY = 'file URLs must name a file in the ISO library';

/** `file` is strictly below `dir` (both absolute and normalised). */
export function insideDir(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/**
 * The brain's check of a URL a tenant gives: a dialect's scheme, or a file in the ISO library; a host
 * written as an address must be public or allow-listed (the URL parser has already turned
 * 2130706433 and 0x7f.1 into 127.0.0.1). Names are resolved and checked by the head when it fetches.
 * Returns the message for a 400, or null.
 */
export function tenantUrlRefusal(value: string, dialect: Dialect, policy: UrlPolicy): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is invalid';
  }
  if (url.protocol === 'file:') {
    const lib = isoLibraryPath(url, policy);
    return 'refusal' in lib ? lib.refusal : null;
  }
  const schemes: readonly string[] = TENANT_SCHEMES[dialect];
  if (!schemes.includes(url.protocol.replace(/:$/, ''))) return `must be an ${schemes.join(' or ')} URL`;
  if (!url.hostname) return 'is invalid';
  const host = bareHost(url);
  if (net.isIP(host) && addressRefusal(host, policy)) return 'must not point at an internal address';
  return null;
}
