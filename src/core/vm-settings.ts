// A VM's settings that only some dialects set (migration 017, docs/domain.md §13.1): Gigas
// `cpu_shares`, `cpu_type`, `rate_limit`, the template it was built from, and a build
// still to be asked for (G25). Stored; what a head enforces of them is the head's (docs/gigas.md).
// Also the facts a Gigas VM shows beyond the read model: times, lock, operations not yet ended.
import type { Hangar } from './context.js';
import { forbidden, type Issues } from './errors.js';
import { canSeeVm, holds, type Principal } from './principal.js';
import { pairsOf } from '../store/repos/segregation.js';

type Place = { accountId: number; groupId: number; vmId: number };
import type { VmPlace } from './resolve.js';
import * as repo from '../store/repos/vm-settings.js';
import { usernamesByEmail } from '../store/repos/vm-settings.js';

export const CPU_TYPES = ['amd', 'intel'] as const;

export interface VmSettings {
  cpuShares: number | null;
  cpuType: string | null;
  rateLimitMbps: number | null;
  imageId: number | null;
  /** Created without a build (Gigas `required_virtual_machine_build=false`): unbuilt until a rebuild. */
  buildPending: boolean;
}

export const DEFAULT_SETTINGS: VmSettings = { cpuShares: null, cpuType: null, rateLimitMbps: null, imageId: null, buildPending: false };

/** Settings by VM id; VMs without a row have the defaults. */
export async function settingsOf(h: Hangar, vmIds: readonly number[]): Promise<Map<number, VmSettings>> {
  const out = new Map<number, VmSettings>();
  for (const r of await repo.settingsOf(h.db, vmIds)) {
    out.set(r.vm_id, {
      cpuShares: r.cpu_shares, cpuType: r.cpu_type, rateLimitMbps: r.rate_limit_mbps,
      imageId: r.image_id, buildPending: !!r.build_pending,
    });
  }
  return out;
}

/** Each given setting's issues (the fields are the settings' names). */
export function checkSettings(errs: Issues, s: Partial<VmSettings>): void {
  if (s.cpuShares !== undefined && s.cpuShares !== null && (!Number.isInteger(s.cpuShares) || s.cpuShares < 1 || s.cpuShares > 10_000)) {
    errs.add('cpuShares', 'out_of_range', { min: 1, max: 10_000 });
  }
  if (s.cpuType !== undefined && s.cpuType !== null && !(CPU_TYPES as readonly string[]).includes(s.cpuType)) errs.add('cpuType', 'not_in_list');
  if (s.rateLimitMbps !== undefined && s.rateLimitMbps !== null && (!Number.isInteger(s.rateLimitMbps) || s.rateLimitMbps < 0 || s.rateLimitMbps > 100_000)) {
    errs.add('rateLimitMbps', 'out_of_range', { min: 0, max: 100_000, unit: 'Mbit/s' });
  }
}

/** Change the given settings of a VM the caller may administer (checked beforehand with checkSettings). */
export async function setSettings(h: Hangar, p: Principal, at: VmPlace, s: Partial<VmSettings>): Promise<void> {
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('change_vm');
  await saveSettings(h, at.vm.id, s);
}

/** Writes settings without a privilege check: for the command that has just checked it (a create). */
export async function saveSettings(h: Hangar, vmId: number, s: Partial<VmSettings>): Promise<void> {
  const row: Parameters<typeof repo.upsertSettings>[1] = { vm_id: vmId, updated_at: h.now() };
  if (s.cpuShares !== undefined) row.cpu_shares = s.cpuShares;
  if (s.cpuType !== undefined) row.cpu_type = s.cpuType;
  if (s.rateLimitMbps !== undefined) row.rate_limit_mbps = s.rateLimitMbps;
  if (s.imageId !== undefined) row.image_id = s.imageId;
  if (s.buildPending !== undefined) row.build_pending = s.buildPending ? 1 : 0;
  await repo.upsertSettings(h.db, row);
}

export interface VmFacts {
  /** Opened for callers who may administer the VM (vm_admin and above), else null. */
  initialPassword: string | null;
  /** Gigas `strict_virtual_machine_id`: its lowest-id segregation partner the caller may see. */
  strictVmId: number | null;
  createdAt: number;
  updatedAt: number;
  /** An operation holds the VM, or one is queued or running on it (Gigas `locked`). */
  busy: boolean;
  /** A create or reimage has not ended (Gigas `unbuilt`). */
  building: boolean;
}

const BUILDING = new Set(['vm.create', 'reimage', 'disc.create']);

/** The facts of VMs the caller has been found to see (`places`: where each is). */
export async function vmFactsOf(h: Hangar, p: Principal, places: readonly Place[]): Promise<Map<number, VmFacts>> {
  const vmIds = places.map((v) => v.vmId);
  const unended = await repo.unendedKinds(h.db, vmIds);
  const out = new Map<number, VmFacts>();
  for (const r of await repo.vmFacts(h.db, vmIds)) {
    const place = places.find((v) => v.vmId === r.id)!;
    const mine = unended.filter((o) => o.vm_id === r.id);
    const partners = (await pairsOf(h.db, r.id)).filter((x) => canSeeVm(p, { accountId: place.accountId, groupId: x.partnerGroupId, vmId: x.partnerId }));
    out.set(r.id, {
      initialPassword: r.initial_password !== null && holds(p, place, 'vm_admin') ? h.secrets.open(r.initial_password) : null,
      strictVmId: partners[0]?.partnerId ?? null,
      createdAt: r.created_at, updatedAt: r.updated_at,
      busy: r.lock_operation_id !== null || mine.length > 0, building: mine.some((o) => BUILDING.has(o.kind)),
    });
  }
  return out;
}

/** The public id of the newest operation of a kind on a VM (it may be gone since): what a dialect
 *  answers for an act whose command gives no operation back (a destroy's purge). */
export function newestOperation(h: Hangar, vmId: number, kind: string): Promise<string | undefined> {
  return repo.newestOperationUuid(h.db, vmId, kind);
}

/**
 * The username a login names (Gigas `login`, G14): a username, else the email of exactly one user.
 * Anything else is returned as given, and fails as an unknown username does.
 */
export async function usernameForLogin(h: Hangar, login: string): Promise<string> {
  if (!login.includes('@')) return login;
  const users = await usernamesByEmail(h.db, login);
  return users.length === 1 ? users[0]! : login;
}
