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

/**
 * BigV power semantics (spec §5.2): power_on is "should be on", autoreboot_on "restart after a
 * power-off". Start = {true,true}; stop = {false,false}; reboot = {power_on:false, autoreboot_on:true}
 * on a running VM: it goes off and straight back on, so it stays on with a fresh boot (`cycle`).
 */
export function nextPower(
  current: { powerOn: boolean; autorebootOn: boolean },
  req: { power_on?: boolean; autoreboot_on?: boolean },
): { powerOn: boolean; autorebootOn: boolean; cycle: boolean } {
  const autorebootOn = req.autoreboot_on ?? current.autorebootOn;
  if (req.power_on === true) return { powerOn: true, autorebootOn, cycle: false };
  if (req.power_on === false) {
    if (current.powerOn && autorebootOn) return { powerOn: true, autorebootOn, cycle: true };
    return { powerOn: false, autorebootOn, cycle: false };
  }
  return { powerOn: current.powerOn, autorebootOn, cycle: false };
}

/** Power at creation (spec §4.5): docker-machine sends no flags yet waits for power_on with an image. */
export function powerAtCreate(req: { power_on?: boolean; autoreboot_on?: boolean }, imaged: boolean): { powerOn: boolean; autorebootOn: boolean } {
  const powerOn = req.power_on === true || req.autoreboot_on === true || (imaged && req.power_on !== false && req.autoreboot_on !== false);
  return { powerOn, autorebootOn: req.autoreboot_on ?? powerOn };
}
