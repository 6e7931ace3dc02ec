// The Gigas VM resource (S003 *Entities›Virtual Machine* and its create example, docs/gigas.md):
// every field of the seed's table from real state. `status` is observed (unbuilt while a build has
// not ended or was never asked for, online when the head sees it running, offline else); `locked`
// while an operation holds it or waits on it; ids are digits in strings, flags 0/1 (G3).
import { Type } from 'typebox';
import type { Hangar } from '../../core/context.js';
import type { Principal } from '../../core/principal.js';
import { listImages, type Image } from '../../core/images.js';
import { DEFAULT_SETTINGS, settingsOf, vmFactsOf, type VmFacts, type VmSettings } from '../../core/vm-settings.js';
import { loadVmView, type VmView } from '../../core/views.js';
import type { VmPlace } from '../../core/resolve.js';
import { notFound } from '../../core/errors.js';
import { Bool, Closed, Int, NInt, NStr, Str } from '../responses.js';
import { gigasTime, idString } from './values.js';

const Flag = Type.Union([Type.Literal(0), Type.Literal(1)]);
const VM_FIELDS = {
  id: Str, identifier: Str, label: NStr, hostname: NStr, memory: Int, cpus: Int, cpu_shares: Int, cpu_type: NStr,
  template_id: NStr, template_label: NStr, initial_password: NStr, note: NStr, hypervisor_id: NStr, type: Str, vip: Bool,
  status: Type.Union(['unbuilt', 'offline', 'online'].map((s) => Type.Literal(s))), locked: Flag, suspended: Flag,
  strict_virtual_machine_id: NStr, operating_system: NStr, operating_system_distro: NStr, created_at: Str, updated_at: Str,
  cdrom: Flag, boot_type: Str, booted_from: Str, location_id: NStr, account_id: Int, user_id: NStr,
  disk_type: Str, virtualization_type: NStr, custom: Bool, is_deletion_machine: Bool, console_lang: Str,
  local_remote_access_port: NInt, remote_access_password: NStr, error: Flag,
};
export const GigasVm = Closed(VM_FIELDS, { $id: 'GigasVm', description: 'A virtual machine' });
/** The VM with the operation its act started (S003 *Create* example). */
export const GigasVmQueued = Closed({ ...VM_FIELDS, queue_token: Type.Union([Str, Type.Null()]) }, { $id: 'GigasVmQueued', description: 'A virtual machine, and the operation its act started' });

export type GigasVmBody = Record<keyof typeof VM_FIELDS, unknown>;

/** 14 base-36 characters of the public id (docs/domain.md §13.1): S003's `identifier`, a sort key. */
export function identifier(uuid: string): string {
  return BigInt(`0x${uuid.replace(/-/g, '')}`).toString(36).padStart(14, '0').slice(0, 14);
}

export function vmStatus(v: VmView, s: VmSettings, f: VmFacts): 'unbuilt' | 'online' | 'offline' {
  if (f.building || s.buildPending) return 'unbuilt';
  return v.row.run_state === 'running' ? 'online' : 'offline';
}

function present(v: VmView, s: VmSettings, f: VmFacts, images: Image[], suspended: boolean): GigasVmBody {
  const image = s.imageId !== null ? images.find((i) => i.id === s.imageId) : images.find((i) => i.name === v.row.last_imaged_with);
  const cd = v.row.boot_from === 'cdrom';
  const cdrom = cd || v.row.cdrom_url !== null;
  return {
    id: String(v.row.id), identifier: identifier(v.uuid), label: v.row.label ?? v.row.name, hostname: v.row.guest_hostname ?? v.row.name,
    memory: v.row.memory, cpus: v.row.cores, cpu_shares: s.cpuShares ?? 1, cpu_type: s.cpuType,
    template_id: idString(image?.id), template_label: image?.label ?? null, initial_password: f.initialPassword, note: v.row.note,
    hypervisor_id: idString(v.row.head_id), type: 'standard', vip: false, status: vmStatus(v, s, f), locked: f.busy ? 1 : 0,
    suspended: suspended ? 1 : 0, strict_virtual_machine_id: idString(f.strictVmId),
    operating_system: image?.operatingSystem ?? null, operating_system_distro: image?.distro ?? null,
    created_at: gigasTime(f.createdAt), updated_at: gigasTime(f.updatedAt),
    cdrom: cdrom ? 1 : 0, boot_type: cd ? 'cdrom' : 'default', booted_from: cd && v.row.cdrom_url !== null ? 'cdrom' : 'hd',
    location_id: idString(v.row.zone_id), account_id: v.accountId, user_id: idString(v.row.created_by_user_id),
    disk_type: 'vd', virtualization_type: null, custom: false, is_deletion_machine: false, console_lang: 'en',
    local_remote_access_port: null, remote_access_password: null, error: 0,
  };
}

/** The VMs (which the caller has been found to see) as Gigas resources, with what they need read in a few queries. */
export async function presentVms(h: Hangar, p: Principal, views: VmView[], suspended: (accountId: number) => boolean): Promise<GigasVmBody[]> {
  if (views.length === 0) return [];
  const ids = views.map((v) => v.row.id);
  const [settings, facts, images] = await Promise.all([
    settingsOf(h, ids),
    vmFactsOf(h, p, views.map((v) => ({ accountId: v.accountId, groupId: v.row.group_id, vmId: v.row.id }))),
    listImages(h, p),
  ]);
  return views.flatMap((v) => {
    const f = facts.get(v.row.id);
    return f ? [present(v, settings.get(v.row.id) ?? DEFAULT_SETTINGS, f, images, suspended(v.accountId))] : [];
  });
}

/** One VM (resolved by place.ts) as its Gigas resource. */
export async function presentVm(h: Hangar, p: Principal, at: VmPlace): Promise<GigasVmBody> {
  const view = await loadVmView(h.db, h.config.clusterDomain, at.vm.id);
  const [body] = await presentVms(h, p, [view], () => !!at.account.suspended);
  if (!body) throw notFound('virtual_machine');
  return body;
}
