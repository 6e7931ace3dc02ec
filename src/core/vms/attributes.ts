// The rules for VM attribute values, shared by create and update: each written once, here.
import { DEFAULT_HARDWARE_PROFILE, HARDWARE_PROFILES, KEYMAPS, LIMITS, STORAGE_GRADES } from '../definitions.js';
import type { ErrorCode, ErrorParams, Issues } from '../errors.js';
import { idShapeError } from '../ids.js';
import { scheduleStart } from '../schedule-start.js';
import type { ScheduleSpec } from './model.js';
import { tenantUrlRefusal, type Dialect, type UrlPolicy } from '../urls.js';

/** What is wrong with one value (its field is the caller's to say), or null. */
export type Problem = { code: ErrorCode; params?: ErrorParams } | null;

function inRange(v: number, range: { min: number; max: number }, unit?: string): Problem {
  if (!Number.isInteger(v)) return { code: 'not_a_number' };
  if (v < range.min || v > range.max) return { code: 'out_of_range', params: { min: range.min, max: range.max, ...(unit ? { unit } : {}) } };
  return null;
}

/** A check's problem, if any, as an issue on `field`. */
export function add(errs: Issues, field: string, p: Problem): void {
  if (p) errs.add(field, p.code, p.params);
}

export function checkCores(errs: Issues, v: number, field = 'cores'): void {
  add(errs, field, inRange(v, LIMITS.cores));
}

export function checkMemory(errs: Issues, v: number, field = 'memoryMiB'): void {
  add(errs, field, inRange(v, LIMITS.memory, 'MiB'));
}

export function checkHardwareProfile(errs: Issues, v: string | undefined, field = 'hardwareProfile'): string {
  if (v === undefined) return DEFAULT_HARDWARE_PROFILE;
  if (!(HARDWARE_PROFILES as readonly string[]).includes(v)) errs.add(field, 'not_in_list');
  return v;
}

export function checkKeymap(errs: Issues, v: string | null | undefined, field = 'keymap'): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (!KEYMAPS.includes(v)) errs.add(field, 'not_in_list');
  return v;
}

/** An ISO the head may fetch for a tenant of this dialect (src/core/urls.ts). null or "" ejects. */
export function checkCdromUrl(errs: Issues, v: string | null | undefined, dialect: Dialect, policy: UrlPolicy, field = 'cdromUrl'): string | null {
  if (v === undefined || v === null || v === '') return null;
  const refusal = tenantUrlRefusal(v, dialect, policy);
  // urls.ts words its refusals itself; carried as a detail until it gives reasons.
  if (refusal) errs.add(field, 'invalid', { reason: 'url_refused', detail: refusal });
  return v;
}

/** A disc's label: letters, digits and `_.-`, at most 64, and not shaped like an id (core/ids.ts). */
export function checkDiscLabel(v: string): Problem {
  if (v.length > 64) return { code: 'too_long', params: { max: 64 } };
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v)) return { code: 'invalid' };
  const notId = idShapeError(v);
  return notId ? { code: 'invalid', params: { reason: notId } } : null;
}

/** A backup schedule: the start to store, or what is wrong with which of its fields (one rule for a
 *  create's discs and core/discs.ts). */
export function checkSchedule(s: ScheduleSpec, now: number): { start: string } | { field: 'intervalSeconds' | 'startAt'; code: ErrorCode; params?: ErrorParams } {
  if (s.intervalSeconds === undefined) return { field: 'intervalSeconds', code: 'required' };
  if (!Number.isInteger(s.intervalSeconds) || s.intervalSeconds <= 0) return { field: 'intervalSeconds', code: 'out_of_range', params: { gt: 0 } };
  const start = scheduleStart(s.startAt, now);
  return start === null ? { field: 'startAt', code: 'invalid' } : { start };
}

export function checkGrade(v: string): Problem {
  return v in STORAGE_GRADES ? null : { code: 'not_in_list' };
}

export function checkDiscSize(v: number): Problem {
  if (!Number.isInteger(v)) return { code: 'not_a_number' };
  if (v < LIMITS.discSize.min) return { code: 'out_of_range', params: { min: LIMITS.discSize.min } };
  if (v > LIMITS.discSize.max) return { code: 'out_of_range', params: { max: LIMITS.discSize.max } };
  return null;
}
