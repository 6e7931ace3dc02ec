// The VM in the domain's words: the inputs of its commands and the value they read back. camelCase,
// booleans as booleans, sizes with their unit; each dialect translates its wire names to and from these.
import type { VmViewRow } from '../views.js';

export interface ScheduleSpec { startAt?: string; intervalSeconds?: number; capacity?: number }
export interface DiscSpec { label?: string; grade?: string; sizeMiB?: number; backupSchedules?: ScheduleSpec[] }
/** What to write on the first disc: an image and the first boot's secrets. */
export interface ImageSpec { distribution?: string; rootPassword?: string; sshPublicKey?: string; firstbootScript?: string }

export interface CreateVmInput {
  name?: string;
  cores?: number;
  memoryMiB?: number;
  /** Absent: off (a dialect with its own default, such as BigV's, says so here). */
  powerOn?: boolean;
  /** Restart after the guest powers off. */
  autoreboot?: boolean;
  cdromUrl?: string | null;
  /** `cdrom`: boot the ISO (cdromUrl) through the firmware before the discs (docs/vm-ops.md); default `disc`. */
  bootFrom?: 'disc' | 'cdrom';
  keymap?: string | null;
  hardwareProfile?: string;
  hardwareProfileLocked?: boolean;
  zone?: string | null;
  discs?: DiscSpec[];
  image?: ImageSpec;
  /** Addresses chosen on a private VLAN. */
  ips?: { ipv4?: string; ipv6?: string };
  // Identity across dialects (docs/domain.md §13.2). Without `name`, the name is derived from
  // `guestHostname`, else `label` (core/vms/identity.ts: deriveName), with `-N` on a clash in the group.
  /** Free text, 1–255 characters once trimmed (Gigas `label`, e24 `name`). */
  label?: string | null;
  /** The guest's own host name (Gigas `hostname`), case kept: `[A-Za-z][A-Za-z0-9-]{0,24}`. */
  guestHostname?: string | null;
  note?: string | null;
  /** Stored sealed; read back only by a vm_admin (initialPasswordOf). */
  initialPassword?: string | null;
}

/** The power the caller wants; how it combines with the current power is the dialect's PowerRule's. */
export interface DesiredPower { powerOn?: boolean; autoreboot?: boolean }

/** How a dialect's power request combines with the machine's current power (BigV's: api/bigv/power.ts);
 *  `cycle` asks for a fresh boot (stop, then start) of a machine that stays on. */
export type PowerRule = (current: { powerOn: boolean; autorebootOn: boolean }, desired: DesiredPower) => { powerOn: boolean; autorebootOn: boolean; cycle: boolean };

/** The neutral rule: what is given is set, nothing else; a fresh boot is a power intent (core/vms/power.ts). */
export const powerAsGiven: PowerRule = (cur, d) => ({ powerOn: d.powerOn ?? cur.powerOn, autorebootOn: d.autoreboot ?? cur.autorebootOn, cycle: false });

/** A partial change: only the fields given change. */
export interface UpdateVmInput {
  name?: string;
  cores?: number;
  memoryMiB?: number;
  cdromUrl?: string | null;
  keymap?: string | null;
  hardwareProfile?: string;
  hardwareProfileLocked?: boolean;
  desiredPower?: DesiredPower;
  /** Move to another group (of an account the caller can see): see moveVm. */
  groupId?: number;
  /** Informational only: the guest is not changed (S003 *Edit*). */
  label?: string | null;
  guestHostname?: string | null;
  note?: string | null;
}

/** A VM as the domain knows it. */
export interface Vm {
  id: number;
  publicId: string;
  groupId: number;
  name: string;
  cores: number;
  memoryMiB: number;
  powerOn: boolean;
  autoreboot: boolean;
  cdromUrl: string | null;
  keymap: string | null;
  hardwareProfile: string;
  hardwareProfileLocked: boolean;
  zone: string | null;
  headId: number | null;
  deleted: boolean;
  lastImagedWith: string | null;
  /** What the head last observed (running, stopped ...), null before it reported. */
  runState: string | null;
  sshPort: number | null;
  vncPort: number | null;
  headNote: string | null;
  version: number;
  label: string | null;
  guestHostname: string | null;
  note: string | null;
  createdByUserId: number | null;
  zoneId: number | null;
}

export function vmValue(r: VmViewRow): Vm {
  return {
    id: r.id, publicId: r.uuid, groupId: r.group_id, name: r.name, cores: r.cores, memoryMiB: r.memory,
    powerOn: !!r.power_on, autoreboot: !!r.autoreboot_on, cdromUrl: r.cdrom_url, keymap: r.keymap,
    hardwareProfile: r.hardware_profile, hardwareProfileLocked: !!r.hardware_profile_locked, zone: r.zone_name,
    headId: r.head_id, deleted: !!r.deleted, lastImagedWith: r.last_imaged_with, runState: r.run_state,
    sshPort: r.ssh_port, vncPort: r.vnc_port, headNote: r.head_note, version: r.version,
    label: r.label, guestHostname: r.guest_hostname, note: r.note, createdByUserId: r.created_by_user_id, zoneId: r.zone_id,
  };
}
