// The price table a cluster admin sets (docs/domain.md G23), and the hourly costs e24cloud shows
// (`cost_per_hour` of a VM, a volume, an address). HANGAR_PRICES is JSON, every price per hour:
// `{"core":0.01,"ramGiB":0.005,"discGiB":{"sata":0.0002,"ssd":0.0004},"ipv4":0.001}`. What is not
// set costs 0: with no table, everything is free, never a made-up price.

export interface PriceTable {
  core: number;
  ramGiB: number;
  /** Per GiB of disc, by storage grade name. */
  discGiB: Record<string, number>;
  ipv4: number;
}

export const FREE: PriceTable = { core: 0, ramGiB: 0, discGiB: {}, ipv4: 0 };

const price = (v: unknown, what: string): number => {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`HANGAR_PRICES: ${what} must be a number ≥ 0`);
  return v;
};

/** HANGAR_PRICES as a table; throws (at start-up) on a malformed one rather than charging wrongly. */
export function parsePrices(text: string | undefined): PriceTable {
  if (text === undefined || text.trim() === '') return FREE;
  const raw = JSON.parse(text) as Record<string, unknown>;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('HANGAR_PRICES must be a JSON object');
  const disc = raw.discGiB ?? {};
  if (disc === null || typeof disc !== 'object' || Array.isArray(disc)) throw new Error('HANGAR_PRICES: discGiB must be an object of grade → price');
  return {
    core: price(raw.core, 'core'), ramGiB: price(raw.ramGiB, 'ramGiB'), ipv4: price(raw.ipv4, 'ipv4'),
    discGiB: Object.fromEntries(Object.entries(disc).map(([g, v]) => [g, price(v, `discGiB.${g}`)])),
  };
}

/** Rounded to 6 decimals: sums of binary fractions print as the admin's prices, not 0.030000000000000002. */
const round = (n: number) => Math.round(n * 1e6) / 1e6;

export function discCost(t: PriceTable, d: { grade: string; sizeMiB: number }): number {
  return round((t.discGiB[d.grade] ?? 0) * (d.sizeMiB / 1024));
}

/** A VM's hourly cost: its cores, memory, discs and IPv4 addresses. */
export function vmCost(t: PriceTable, vm: { cores: number; memoryMiB: number; discs: { grade: string; sizeMiB: number }[]; ipv4Count: number }): number {
  return round(t.core * vm.cores + t.ramGiB * (vm.memoryMiB / 1024) + vm.discs.reduce((s, d) => s + discCost(t, d), 0) + t.ipv4 * vm.ipv4Count);
}
