// When a backup schedule starts (BigV `start_at`, spec §3.12). The clients send a date and time
// (`vm_create`: "2026-11-23 00:00:00 UTC"; `schedule backups --start`: whatever was typed, e.g.
// "2030-01-01 00:00:00" or "2017-04-05T14:37:00+02:00") or, without --start, bytemark-client's
// default "00:00": a time of day. A time of day is its next occurrence in UTC (now included),
// stored as a full "YYYY-MM-DD HH:MM:SS UTC"; a date and time is kept as sent. Times without a
// zone are UTC: every brain and head reads them the same, whatever the host's TZ.

const TIME_OF_DAY = /^(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*(?:UTC|Z))?$/i;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(UTC|Z|[+-](\d{2}):?(\d{2}))?$/i;
const DAY_MS = 86_400_000;

const clock = (h: number, m: number, s: number): boolean => h <= 23 && m <= 59 && s <= 59;

/** A moment as the schedules store it: "YYYY-MM-DD HH:MM:SS UTC". */
export function utcStamp(at: number): string {
  const iso = new Date(at).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/** The start_at to store for what the client sent (now when it sent none), or null when it is no time. */
export function scheduleStart(value: string | undefined, now: number): string | null {
  if (value === undefined) return utcStamp(now);
  const text = value.trim();
  const t = TIME_OF_DAY.exec(text);
  if (t) {
    const [h, m, s] = [Number(t[1]), Number(t[2]), Number(t[3] ?? 0)];
    if (!clock(h, m, s)) return null;
    const today = new Date(now);
    const at = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate(), h, m, s);
    return utcStamp(at < now ? at + DAY_MS : at);
  }
  const d = DATE_TIME.exec(text);
  if (!d) return null;
  const [y, mo, day, h, m, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(d[i] ?? 0)) as [number, number, number, number, number, number];
  // Date.UTC rolls 31 February over into March: a date that does not come back unchanged is no date.
  const date = new Date(Date.UTC(y, mo - 1, day));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== day) return null;
  if (!clock(h, m, s)) return null;
  if (d[8] !== undefined && (Number(d[8]) > 23 || Number(d[9]) > 59)) return null;
  return value;
}
