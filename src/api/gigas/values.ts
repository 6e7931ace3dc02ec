// Gigas' input values: clients send numbers and booleans as JSON values, as strings (the docs' own
// examples send `"memory": "1024"`), or as form fields, and repeat a form field to make a list. The
// schemas (schemas.ts) accept exactly these spellings; these read them.
import type { Issues } from '../../core/errors.js';

/** S003 *Parameters format*: a root password is 6–32 of letters, digits, `-` and `_`. */
export function checkRootPassword(errs: Issues, field: string, pw: string): void {
  if (pw.length < 6) errs.add(field, 'too_short', { min: 6 });
  else if (pw.length > 32) errs.add(field, 'too_long', { max: 32 });
  else if (!/^[A-Za-z0-9_-]*$/.test(pw)) errs.add(field, 'invalid');
}

/** An integer given as a number or a string of digits (the schema has checked which). */
/** Gigas gives disk sizes in GB. */
export const MIB_PER_GB = 1024;

export function int(v: number | string): number;
export function int(v: number | string | undefined): number | undefined;
export function int(v: number | string | undefined): number | undefined {
  return v === undefined ? undefined : typeof v === 'number' ? v : Number(v);
}

/** A boolean given as true/false, 1/0, or those words as strings. */
export function bool(v: boolean | number | string | undefined, absent: boolean): boolean {
  if (v === undefined) return absent;
  if (typeof v === 'boolean') return v;
  return v === 1 || /^(true|1)$/i.test(String(v));
}

/** A field a form may repeat: always a list. */
export function list<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** An id shown as Gigas shows them: digits in a string (S003's example), null for none. */
export function idString(id: number | null | undefined): string | null {
  return id === null || id === undefined ? null : String(id);
}

/** A time as S003's example shows it: `2018-05-29T08:20:49` (UTC). */
export function gigasTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}
