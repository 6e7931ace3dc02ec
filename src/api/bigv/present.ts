// Core read models -> BigV JSON (spec §3). Field names and types exactly as the clients parse them.
import net from 'node:net';
import type { AccountRow, BackupRow, BackupScheduleRow, DiscRow, GroupRow } from '../../store/schema.js';
import { accountValue, groupValue } from '../../core/tree.js';
import { backupValue, discValue } from '../../core/discs.js';
import type { NicView, VmView } from '../../core/views.js';
import { vmValue } from '../../core/vms/model.js';
import type { Catalogue } from '../../core/definitions.js';
import type { PrivilegeView } from '../../core/grants.js';
import type { InvitationView } from '../../core/invitations.js';

/** Go's layout 2006-01-02T15:04:05-0700, which bytemark-client parses. */
export function goTime(ms: number | null): string | null {
  if (ms === null) return null;
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000');
}

export function presentDisc(row: DiscRow, poolLabels: Map<number, string>, schedules: BackupScheduleRow[] = []) {
  const d = discValue(row);
  return {
    id: d.id, label: d.label, size: d.sizeMiB, storage_grade: d.grade,
    storage_pool: d.poolId !== null ? poolLabels.get(d.poolId) ?? null : null,
    virtual_machine_id: d.vmId, type: 'application/vnd.bigv.disc',
    backup_schedules: schedules.map(presentSchedule),
  };
}

export function presentSchedule(s: BackupScheduleRow) {
  return { id: s.id, start_at: s.start_at, interval_seconds: s.interval_seconds, capacity: s.capacity };
}

export function presentBackup(row: BackupRow, discRow: DiscRow) {
  const [b, disc] = [backupValue(row), discValue(discRow)];
  return {
    id: b.id, label: b.label, size: b.sizeMiB, storage_grade: b.grade, storage_pool: null,
    manual: b.manual, parent_disc_id: disc.id, virtual_machine_id: disc.vmId, type: 'application/vnd.bigv.disc',
  };
}

export function presentNic(n: NicView) {
  return {
    id: n.id, label: n.label, mac: n.mac, vlan_num: n.vlanNum, ips: n.ips, extra_ips: n.extraIps,
    virtual_machine_id: n.vmId, type: 'application/vnd.bigv.network-interface',
  };
}

export function presentVm(v: VmView, opts: { overview: boolean; poolLabels?: Map<number, string> }) {
  const r = vmValue(v.row);
  const out: Record<string, unknown> = {
    id: r.id, type: 'application/vnd.bigv.virtual-machine', name: r.name, group_id: r.groupId, hostname: v.hostname,
    autoreboot_on: r.autoreboot, power_on: r.powerOn, cores: r.cores, memory: r.memoryMiB,
    cdrom_url: r.cdromUrl, keymap: r.keymap, hardware_profile: r.hardwareProfile,
    hardware_profile_locked: r.hardwareProfileLocked, zone_name: r.zone,
    // A machine that is off runs on no head: BigV shows `head: null` then (seed 002's PUT example).
    // The Go clients decode management_address as a net.IP: a head known by a host name gives null.
    management_address: v.managementAddress !== null && net.isIP(v.managementAddress) ? v.managementAddress : null,
    head: r.powerOn ? v.headLabel : null, deleted: r.deleted,
    last_imaged_with: r.lastImagedWith,
    // Hangar extensions: what the head observed, and how to reach the guest on a single machine.
    state: r.runState, ssh_forward: r.sshPort ? `127.0.0.1:${r.sshPort}` : null,
    vnc_port: r.vncPort, head_note: r.headNote,
  };
  if (opts.overview) {
    out.discs = v.discs.map((d) => presentDisc(d, opts.poolLabels ?? new Map(), v.schedules.filter((s) => s.disc_id === d.id)));
    out.network_interfaces = v.nics.map(presentNic);
  }
  return out;
}

export function presentGroup(row: GroupRow, vms?: unknown[]) {
  const g = groupValue(row);
  const out: Record<string, unknown> = { id: g.id, account_id: g.accountId, name: g.name, type: 'application/vnd.bigv.group' };
  if (vms) out.virtual_machines = vms;
  return out;
}

export function presentAccount(row: AccountRow, groups?: unknown[]) {
  const a = accountValue(row);
  const out: Record<string, unknown> = { id: a.id, name: a.name, suspended: a.suspended, type: 'application/vnd.bigv.account' };
  if (groups) out.groups = groups;
  return out;
}

export function presentPrivilege(p: PrivilegeView) {
  return {
    id: p.id, username: p.username, level: p.level,
    account_id: p.accountId, account_name: p.accountName,
    group_id: p.groupId, group_name: p.groupName,
    virtual_machine_id: p.vmId, virtual_machine_name: p.vmName,
    api_key_id: p.apiKeyId ?? 0, password_required: p.passwordRequired, yubikey_required: p.yubikeyRequired,
    yubikey_otp_max_age: p.yubikeyOtpMaxAge, ip_restrictions: p.ipRestrictions, creating_username: p.creatingUsername,
    _links: { self: { href: `/privileges/${p.id}` } },
  };
}

/**
 * A pending invitation: the privilege's fields (what a BigV client expects back from a grant), and
 * `pending`, its `target`, when it was made and when it expires. Nothing tells whether the invitee exists.
 */
/** A pending invitation. It is no privilege yet, so `id` (a privilege's id in this very shape) is
 *  null: a client revoking the 201 of a grant as a privilege must not hit the privilege that
 *  happens to have the invitation's number. The number is `invitation_id`, used under /invitations. */
export function presentInvitation(v: InvitationView) {
  return {
    id: null, invitation_id: v.id, username: v.username, level: v.level,
    account_id: v.accountId, account_name: v.accountName,
    group_id: v.groupId, group_name: v.groupName,
    virtual_machine_id: v.vmId, virtual_machine_name: v.vmName,
    api_key_id: 0, password_required: v.passwordRequired, yubikey_required: v.yubikeyRequired,
    yubikey_otp_max_age: v.yubikeyOtpMaxAge, ip_restrictions: v.ipRestrictions, creating_username: v.creatingUsername,
    pending: true, target: v.target, created_at: goTime(v.createdAt), expires_at: goTime(v.expiresAt),
    _links: { self: { href: `/invitations/${v.id}` }, accept: { href: `/invitations/${v.id}/accept` } },
  };
}

/** GET /definitions (spec §3.13): the catalogue as a list of `{id, data}`. */
export function presentDefinitions(c: Catalogue) {
  return [
    { id: 'distributions', data: c.images.map((i) => i.name) },
    { id: 'distribution_descriptions', data: Object.fromEntries(c.images.map((i) => [i.name, i.description])) },
    { id: 'storage_grades', data: c.grades.map((g) => g.name) },
    { id: 'storage_grade_descriptions', data: Object.fromEntries(c.grades.map((g) => [g.name, g.description])) },
    { id: 'zone_names', data: c.zones },
    { id: 'hardware_profiles', data: c.hardwareProfiles },
    { id: 'keymaps', data: c.keymaps },
    { id: 'sendkeys', data: c.sendkeys },
  ];
}
