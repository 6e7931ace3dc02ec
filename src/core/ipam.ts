// IP address management: NICs take addresses from configured pools; a purged VM puts them back
// (the row stays, with nic_id null) and the lowest free address is handed out first. An address an
// account holds (account_id) is never handed out (docs/domain.md §11).
import net from 'node:net';
import type { Store } from '../store/db.js';
import type { Db } from '../store/repos/types.js';
import * as ips from '../store/repos/ipam.js';
import { refused } from './errors.js';

interface Cidr { family: 4 | 6; base: bigint; prefix: number; size: bigint }

export function parseCidr(cidr: string): Cidr {
  const [addr, bits] = cidr.split('/');
  const family = net.isIP(addr ?? '');
  const prefix = Number(bits);
  const width = family === 4 ? 32 : 128;
  if ((family !== 4 && family !== 6) || !Number.isInteger(prefix) || prefix < 8 || prefix > width - 2) {
    throw new Error(`bad IP pool ${cidr}`);
  }
  const size = 1n << BigInt(width - prefix);
  const base = (toBig(addr!, family) / size) * size;
  return { family, base, prefix, size };
}

function toBig(address: string, family: 4 | 6): bigint {
  if (family === 4) return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  const [head = '', tail = ''] = address.includes('::') ? address.split('::') : [address, ''];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function fromBig(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16));
  // Canonical form: collapse the longest run of zero groups.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export function addressAt(cidr: string, offset: number): string {
  const c = parseCidr(cidr);
  return fromBig(c.base + BigInt(offset), c.family);
}

/** Gateway (first host) and prefix length of a pool, for static guest configuration. */
export function poolGateway(cidr: string): { gateway: string; prefix: number } {
  const c = parseCidr(cidr);
  return { gateway: fromBig(c.base + 1n, c.family), prefix: c.prefix };
}

/** Register a pool once; offsets 0 (network) and 1 (gateway) and the IPv4 broadcast are never handed out. */
export async function ensurePool(db: Store, cidr: string, vlanNum: number): Promise<void> {
  const c = parseCidr(cidr);
  if (await ips.rangeExists(db, cidr)) return;
  const last = c.family === 4 ? c.size - 2n : c.size - 1n;
  const lastOffset = Number(last > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : last);
  await ips.insertRange(db, { cidr, family: c.family, vlanNum, lastOffset });
}

export interface Allocation { address: string; family: 4 | 6 }

export async function allocateIp(
  db: Db, family: 4 | 6, nicId: number, now: number, extra: { routedVia?: string; reason?: string } = {},
): Promise<Allocation> {
  const holder = { nicId, routedVia: extra.routedVia ?? null, reason: extra.reason ?? null };
  for (const range of await ips.rangesOf(db, family)) {
    const reused = await ips.takeFreeAddress(db, range.id, holder);
    if (reused !== null) return { address: reused, family };
    const offset = await ips.takeNextOffset(db, range.id);
    if (offset === null) continue;
    const address = addressAt(range.cidr, offset);
    await ips.insertAddress(db, { rangeId: range.id, offset, address, family, now, ...holder });
    return { address, family };
  }
  throw refused('ips', 'pool_exhausted', { family }, 'no_capacity');
}

/** Put every address of these NICs back in the pool (addresses chosen by the user, with no pool, go away). */
export async function releaseIps(db: Db, nicIds: number[]): Promise<void> {
  await ips.releaseAddresses(db, nicIds);
}

/** Take every address off these NICs and keep it for the account, unattached (e24cloud `deleteResources: 0`). */
export async function keepIps(db: Db, nicIds: number[], accountId: number): Promise<void> {
  await ips.detachAddresses(db, nicIds, accountId);
}
