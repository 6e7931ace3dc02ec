// A VM's identity across dialects (docs/domain.md §13.1, §13.2, G4, G26): BigV's unique DNS-label
// `name`, and the free text the others use instead: `label` (Gigas `label`, e24 `name`), the guest's
// own `guestHostname` (Gigas `hostname`), a `note`, who created it, and its initial password (sealed).
import type { Hangar } from '../context.js';
import type { Issues } from '../errors.js';
import { forbidden } from '../errors.js';
import { idShapeError } from '../ids.js';
import { holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import type { Db } from '../../store/repos/types.js';
import * as repo from '../../store/repos/vms.js';

export const LABEL_MAX = 255;
export const NOTE_MAX = 4096;
const NAME_MAX = 63;
/** Gigas `hostname` (S003 *Parameters format*), case kept as the seed's examples (`pruebaApi`). */
const GUEST_HOSTNAME = /^[A-Za-z][A-Za-z0-9-]{0,24}$/;

/** Free text (label, note): trimmed; null when absent, null or empty, unless `required`. */
function checkText(errs: Issues, field: string, value: unknown, max: number, required = false): string | null | undefined {
  if (value === undefined) return undefined;
  if (value !== null && typeof value !== 'string') { errs.add(field, 'invalid'); return undefined; }
  const text = value?.trim() ?? '';
  if (!text) {
    if (required) errs.add(field, 'required');
    return null;
  }
  if (text.length > max) errs.add(field, 'too_long', { max });
  return text;
}

/** A label given is 1–255 characters once trimmed (null clears it); undefined when absent. */
export function checkLabel(errs: Issues, value: unknown): string | null | undefined {
  return checkText(errs, 'label', value, LABEL_MAX, value !== null);
}

export function checkNote(errs: Issues, value: unknown): string | null | undefined {
  return checkText(errs, 'note', value, NOTE_MAX);
}

export function checkGuestHostname(errs: Issues, value: unknown): string | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== 'string' || !GUEST_HOSTNAME.test(value)) {
    errs.add('guestHostname', 'invalid', { reason: 'guest_hostname' });
    return undefined;
  }
  return value;
}

/**
 * BigV's name for a VM made by a dialect without unique names (G4): lower case, runs of characters a DNS
 * label cannot hold become `-`, no `-` at either end, at most 63 characters; `vm-<first 8 of its public id>`
 * when nothing is left or it would read as an id (core/ids.ts).
 */
export function deriveName(source: string, publicId: string): string {
  const name = source.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+/, '').slice(0, NAME_MAX).replace(/-+$/, '');
  return name && !idShapeError(name) ? name : `vm-${publicId.slice(0, 8)}`;
}

/** `base`, or `base-2`, `base-3` … (cut so it stays within 63 characters): the first no VM of the group has. */
export async function freeName(db: Db, groupId: number, base: string): Promise<string> {
  const taken = new Set(await repo.namesLike(db, groupId, base.slice(0, NAME_MAX - 10).replace(/-+$/, '')));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const candidate = `${base.slice(0, NAME_MAX - suffix.length).replace(/-+$/, '')}${suffix}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** The password the VM was created with (Gigas `initial_password`): vm_admin and above only; null when none. */
export function initialPasswordOf(h: Hangar, p: Principal, at: VmPlace): string | null {
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('read_initial_password');
  return at.vm.initial_password === null ? null : h.secrets.open(at.vm.initial_password);
}
