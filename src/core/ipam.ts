// IP address management: NICs take addresses from configured pools; a purged VM puts them back
// (the row stays, with nic_id null) and the lowest free address is handed out first.
import net from 'node:net';
import { sql, type Transaction } from 'kysely';
import type { Store } from '../store/db.js';
import type { Database } from '../store/schema.js';
import { isPostgres } from '../store/dialect.js';
import { refused } from './errors.js';

type Db = Store | Transaction<Database>;

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
  const exists = await db.selectFrom('ip_ranges').select('id').where('cidr', '=', cidr).executeTakeFirst();
  if (exists) return;
  const last = c.family === 4 ? c.size - 2n : c.size - 1n;
  const lastOffset = Number(last > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : last);
  await db.insertInto('ip_ranges').values({ cidr, family: c.family, vlan_num: vlanNum, zone: null, next_offset: 2, first_offset: 2, last_offset: lastOffset }).execute();
}

export interface Allocation { address: string; family: 4 | 6 }

export async function allocateIp(
  db: Db, family: 4 | 6, nicId: number, now: number, extra: { routedVia?: string; reason?: string } = {},
): Promise<Allocation> {
  const ranges = await db.selectFrom('ip_ranges').select(['id', 'cidr']).where('family', '=', family).orderBy('id').execute();
  const pg = isPostgres(db as Store);
  for (const range of ranges) {
    // The lowest free address, taken only if it is still free when written (a racing allocation may
    // have taken it: then the next one).
    for (;;) {
      let freeQ = db.selectFrom('ips').select(['id', 'address']).where('range_id', '=', range.id).where('nic_id', 'is', null).orderBy('offset').limit(1);
      if (pg) freeQ = freeQ.forUpdate().skipLocked();
      const free = await freeQ.executeTakeFirst();
      if (!free) break;
      const taken = await db.updateTable('ips').set({ nic_id: nicId, routed_via: extra.routedVia ?? null, reason: extra.reason ?? null, rdns: null })
        .where('id', '=', free.id).where('nic_id', 'is', null).executeTakeFirst();
      if (Number(taken.numUpdatedRows) === 1) return { address: free.address, family };
    }
    const bumped = await db.updateTable('ip_ranges')
      .set({ next_offset: sql`next_offset + 1` })
      .where('id', '=', range.id).whereRef('next_offset', '<=', 'last_offset')
      .returning('next_offset').executeTakeFirst();
    if (!bumped) continue;
    const offset = bumped.next_offset - 1;
    const address = addressAt(range.cidr, offset);
    await db.insertInto('ips').values({
      range_id: range.id, offset, address, family, nic_id: nicId,
      routed_via: extra.routedVia ?? null, rdns: null, reason: extra.reason ?? null, created_at: now,
    }).execute();
    return { address, family };
  }
  throw refused('ips', 'pool_exhausted', { family }, 'no_capacity');
}

/** Put every address of these NICs back in the pool. */
export async function releaseIps(db: Db, nicIds: number[]): Promise<void> {
  if (nicIds.length === 0) return;
  // Addresses chosen by the user (no pool) simply go away.
  await db.deleteFrom('ips').where('nic_id', 'in', nicIds).where('range_id', 'is', null).execute();
  await db.updateTable('ips').set({ nic_id: null, routed_via: null, rdns: null, reason: null }).where('nic_id', 'in', nicIds).execute();
}
