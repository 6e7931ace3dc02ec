// The rules for VM attribute values, shared by create and update.
import { DEFAULT_HARDWARE_PROFILE, HARDWARE_PROFILES, KEYMAPS, LIMITS, STORAGE_GRADES } from '../definitions.js';
import type { FieldErrors } from '../field-errors.js';
import { tenantUrlRefusal, type Dialect, type UrlPolicy } from '../urls.js';

export function checkCores(errs: FieldErrors, v: number): void {
  if (!Number.isInteger(v)) errs.add('cores', 'is not a number');
  else if (v < LIMITS.cores.min || v > LIMITS.cores.max) errs.add('cores', `must be between ${LIMITS.cores.min} and ${LIMITS.cores.max}`);
}

export function checkMemory(errs: FieldErrors, v: number): void {
  if (!Number.isInteger(v)) errs.add('memory', 'is not a number');
  else if (v < LIMITS.memory.min || v > LIMITS.memory.max) errs.add('memory', `must be between ${LIMITS.memory.min} and ${LIMITS.memory.max} (MiB)`);
}

export function checkHardwareProfile(errs: FieldErrors, v: string | undefined): string {
  if (v === undefined) return DEFAULT_HARDWARE_PROFILE;
  if (!(HARDWARE_PROFILES as readonly string[]).includes(v)) errs.add('hardware_profile', 'is not included in the list');
  return v;
}

export function checkKeymap(errs: FieldErrors, v: string | null | undefined): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (!KEYMAPS.includes(v)) errs.add('keymap', 'is not included in the list');
  return v;
}

/** cdrom_url: an ISO the head may fetch for a tenant of this dialect (src/core/urls.ts). null or "" ejects. */
export function checkCdromUrl(errs: FieldErrors, v: string | null | undefined, dialect: Dialect, policy: UrlPolicy): string | null {
  if (v === undefined || v === null || v === '') return null;
  const refusal = tenantUrlRefusal(v, dialect, policy);
  if (refusal) errs.add('cdrom_url', refusal);
  return v;
}

export function checkGrade(v: string): string | null {
  return v in STORAGE_GRADES ? null : 'is not included in the list';
}

export function checkDiscSize(v: number): string | null {
  if (!Number.isInteger(v)) return 'is not a number';
  if (v < LIMITS.discSize.min) return `must be greater than or equal to ${LIMITS.discSize.min}`;
  if (v > LIMITS.discSize.max) return `must be less than or equal to ${LIMITS.discSize.max}`;
  return null;
}
