// Creating a VM: bare (a machine with one NIC and no disc) or the one-call vm_create with discs
// and an image. One transaction: placement claim, rows, addresses, and the head's operations.
import crypto from 'node:crypto';
import { encrypt as sha512crypt } from 'unixcrypt';
import type { Hangar } from '../context.js';
import type { AccountRow, DiscRow, GroupRow } from '../../store/schema.js';
import { checkName, nameTaken } from '../names.js';
import { invalid, Issues, refused, notFound, forbidden } from '../errors.js';
import { keepRow } from '../locks.js';
import { holds, type Principal } from '../principal.js';
import { LIMITS } from '../definitions.js';
import type { CreateVmInput, DiscSpec, ImageSpec } from './model.js';
import { imageEntry, resolveImage } from '../../images/catalogue.js';
import { checkImageSupports, type Image } from '../images.js';
import { templateFor } from '../templates.js';
import { allocateIp } from '../ipam.js';
import { place } from '../../scheduler/place.js';
import { enqueue, finishIn, getOperation } from '../../operations/queue.js';
import { secretArg, type SealedFirstBoot } from '../../operations/kinds.js';
import type { SecretBox } from '../secrets.js';
import type { DiscRef } from '../../drivers/driver.js';
import { loadVmView, type VmView } from '../views.js';
import type { Dialect } from '../urls.js';
import {
  checkCdromUrl, checkCores, checkDiscLabel, checkSchedule, checkDiscSize, checkGrade, checkHardwareProfile, checkKeymap, checkMemory,
} from './attributes.js';
import net from 'node:net';
import { uniqueViolation } from '../../store/dialect.js';
import type { Transaction } from 'kysely';
import type { Database } from '../../store/schema.js';
import { withTransaction } from '../transaction.js';
import * as repo from '../../store/repos/vms.js';
import { insertDisc, insertSchedule } from '../../store/repos/discs.js';
import { ensureZone } from '../../store/repos/zones.js';
import { ensureNetwork } from '../../store/repos/networks.js';
import { checkGuestHostname, checkLabel, checkNote, deriveName, freeName } from './identity.js';

/** How often a derived name is derived again when racing creates took it. */
const DERIVE_ATTEMPTS = 5;

/** `operation`: the public id of the vm.create intent (its steps build the machine). */
export interface Created { view: VmView; discs: DiscRow[]; operation: string }

export function macFor(vmId: number, index: number): string {
  const n = (vmId * 8 + index) >>> 0;
  const hex = n.toString(16).padStart(8, '0');
  return `fe:ff:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}:${hex.slice(6, 8)}`;
}

export function hashRootPassword(password: string): string {
  return sha512crypt(password, `$6$${crypto.randomBytes(12).toString('base64').replace(/[+=/]/g, '.').slice(0, 16)}`);
}

/** The image to write (the catalogue's name for it), or null with the issues added. `template`: the
 *  account image the distribution names (core/templates.ts templateFor), when it names one. */
export function checkImage(errs: Issues, r: ImageSpec, template: Image | null = null): string | null {
  const image = r.distribution ? resolveImage(r.distribution) ?? template?.name ?? null : null;
  if (!r.distribution) errs.add('distribution', 'required');
  else if (!image) errs.add('distribution', 'not_in_list');
  if (r.sshPublicKey && !/^(ssh-|ecdsa-|sk-)\S+ \S+/m.test(r.sshPublicKey.trim())) errs.add('sshPublicKey', 'invalid');
  if (image) checkImageSupports(errs, imageEntry(image) ?? template!, r);
  return image;
}

/** A reimage operation's FirstBoot, its secrets sealed (operations/kinds.ts). */
export function firstBootFor(box: SecretBox, hostname: string, r: ImageSpec): SealedFirstBoot {
  return {
    hostname,
    rootPasswordHash: r.rootPassword ? secretArg(box, hashRootPassword(r.rootPassword)) : null,
    authorizedKeys: r.sshPublicKey ?? '',
    firstbootScript: secretArg(box, r.firstbootScript ?? ''),
    instanceId: crypto.randomUUID(),
  };
}

/** Each disc's label, grade and size, the disc count and each backup schedule; the schedules' starts. */
export function checkDiscs(errs: Issues, discs: DiscSpec[], now: number): string[][] {
  const starts = discs.map(() => [] as string[]);
  // Too many discs is the one thing to say about them (per-disc issues would hide it).
  if (discs.length > LIMITS.discsPerVm) {
    errs.add('discs', 'too_many', { reason: 'discs_per_vm', max: LIMITS.discsPerVm });
    return starts;
  }
  const labels = new Set<string>();
  discs.forEach((d, i) => {
    const at = `discs[${i}]`;
    const label = d.label || `disc-${i + 1}`;
    const labelErr = checkDiscLabel(label);
    if (labelErr) errs.add(`${at}.label`, labelErr.code, labelErr.params);
    else if (labels.has(label)) errs.add(`${at}.label`, 'taken');
    labels.add(label);
    const gradeErr = checkGrade(d.grade ?? 'sata');
    if (gradeErr) errs.add(`${at}.grade`, gradeErr.code, gradeErr.params);
    const sizeErr = d.sizeMiB === undefined ? { code: 'required' as const } : checkDiscSize(d.sizeMiB);
    if (sizeErr) errs.add(`${at}.sizeMiB`, sizeErr.code, sizeErr.params);
    for (const [j, s] of (d.backupSchedules ?? []).entries()) {
      const c = checkSchedule(s, now);
      if ('code' in c) errs.add(`${at}.backupSchedules[${j}].${c.field}`, c.code, c.params);
      else starts[i]!.push(c.start);
    }
  });
  return starts;
}

export async function createVm(h: Hangar, p: Principal, account: AccountRow, group: GroupRow, input: CreateVmInput, dialect: Dialect): Promise<Created> {
  if (!holds(p, { accountId: account.id, groupId: group.id }, 'group_admin')) throw forbidden('create_vm');
  if (account.suspended) throw forbidden('account_suspended');
  const errs = new Issues();
  // Without a name, a dialect without unique names gets one derived from its text (G4), in the transaction.
  const deriveFrom = input.name === undefined ? input.guestHostname || input.label || undefined : undefined;
  const name = deriveFrom !== undefined ? null : errs.catch(() => checkName('name', input.name)) ?? '';
  const label = checkLabel(errs, input.label) ?? null;
  const guestHostname = checkGuestHostname(errs, input.guestHostname) ?? null;
  const note = checkNote(errs, input.note) ?? null;
  const cores = input.cores ?? 1;
  const memory = input.memoryMiB ?? 1024;
  checkCores(errs, cores);
  checkMemory(errs, memory);
  const hardwareProfile = checkHardwareProfile(errs, input.hardwareProfile);
  const keymap = checkKeymap(errs, input.keymap);
  const cdromUrl = checkCdromUrl(errs, input.cdromUrl, dialect, h.config.urls);
  const discs = input.discs ?? [];
  const now = h.now();
  const starts = checkDiscs(errs, discs, now);
  const image = input.image ? checkImage(errs, input.image, await templateFor(h, p, input.image.distribution)) : null;
  if (input.image && discs.length === 0) errs.add('discs', 'required', { reason: 'image_needs_disc' });
  if (input.ips && (input.ips.ipv4 || input.ips.ipv6)) {
    if (group.vlan_num === null) errs.add('ips', 'invalid', { reason: 'ips_need_vlan' });
    if (input.ips.ipv4 && net.isIP(input.ips.ipv4) !== 4) errs.add('ips', 'invalid', { reason: 'ip_family', family: 'ipv4' });
    if (input.ips.ipv6 && net.isIP(input.ips.ipv6) !== 6) errs.add('ips', 'invalid', { reason: 'ip_family', family: 'ipv6' });
  }
  errs.throwIfAny();

  const power = { powerOn: input.powerOn ?? false, autorebootOn: input.autoreboot ?? input.powerOn ?? false };
  const given = name;
  const build = () => withTransaction(h.db, async (trx) => {
    // Held until the VM is written: a racing delete of the group waits, then finds the group not empty.
    if (!(await keepRow(trx, 'groups', group.id))) throw notFound('group');
    const uuid = crypto.randomUUID();
    const name = given ?? await freeName(trx, group.id, deriveName(deriveFrom!, uuid));
    if (given !== null && await repo.nameUsed(trx, group.id, name)) throw invalid('name', 'taken');
    const placement = await place(trx, {
      zone: input.zone ?? null, cores, memory, image,
      discs: discs.map((d) => ({ grade: d.grade ?? 'sata', size: d.sizeMiB! })),
    });
    const vmId = await repo.insertVm(trx, {
      group_id: group.id, name, cores, memory, power_on: power.powerOn ? 1 : 0, autoreboot_on: power.autorebootOn ? 1 : 0,
      cdrom_url: cdromUrl, boot_from: input.bootFrom ?? 'disc', keymap, hardware_profile: hardwareProfile, hardware_profile_locked: input.hardwareProfileLocked ? 1 : 0,
      zone_name: placement.zone, head_id: placement.headId, deleted: 0, deleted_at: null, last_imaged_with: null,
      vnc_password: h.secrets.seal(crypto.randomBytes(6).toString('base64url').slice(0, 8)),
      created_at: now, updated_at: now, pid: null, last_seen: null, ssh_port: null, vnc_port: null, head_note: null,
      uuid, label, guest_hostname: guestHostname, note, created_by_user_id: p.userId,
      initial_password: input.initialPassword ? h.secrets.seal(input.initialPassword) : null,
      zone_id: await ensureZone(trx, placement.zone, now),
    });
    // The fqdn: what the guest names itself unless the dialect gave it a host name of its own.
    const hostname = `${name}.${group.name}.${account.name}.${h.config.clusterDomain}`;
    const parentId = await enqueue(trx, { kind: 'vm.create', vmId, headId: null, userId: p.userId, args: {}, now, dialect });
    for (const [i, d] of discs.entries()) {
      const disc = await insertDisc(trx, {
        vmId, label: d.label || `disc-${i + 1}`, grade: d.grade ?? 'sata', size: d.sizeMiB!, poolId: placement.poolIds[i]!, now,
      });
      for (const [j, s] of (d.backupSchedules ?? []).entries()) {
        await insertSchedule(trx, {
          discId: disc.id, startAt: starts[i]![j]!, intervalSeconds: s.intervalSeconds!, capacity: Math.max(1, s.capacity ?? 1), now,
        });
      }
      const ref: DiscRef = { id: disc.id, vmId, label: disc.label, grade: disc.storage_grade, size: disc.size };
      await enqueue(trx, { kind: 'disc.create', vmId, headId: placement.headId, userId: p.userId, args: { disc: ref }, now, parentId, dialect });
    }
    const nicId = await repo.insertNic(trx, {
      vm_id: vmId, label: null, mac: macFor(vmId, 0), vlan_num: group.vlan_num ?? h.config.vlanNum, created_at: now,
      // The group's private VLAN is the account's network; else the public one.
      network_id: await ensureNetwork(trx, group.vlan_num === null ? null : account.id, group.vlan_num ?? h.config.vlanNum, now),
    });
    if (group.vlan_num !== null && input.ips && (input.ips.ipv4 || input.ips.ipv6)) {
      await addPrivateIps(trx, nicId, input.ips, now);
    } else {
      await allocateIp(trx, 4, nicId, now);
      await allocateIp(trx, 6, nicId, now);
    }
    if (input.image) {
      await enqueue(trx, {
        kind: 'reimage', vmId, headId: placement.headId, userId: p.userId, now, parentId, dialect,
        args: { vmId, distribution: input.image.distribution!, image: image!, firstBoot: firstBootFor(h.secrets, guestHostname ?? hostname, input.image), afterwards: null },
      });
    }
    // A machine with nothing to build is built already.
    if (!discs.length && !input.image) await finishIn(trx, parentId, now, { error: null });
    return { vmId, headId: placement.headId, parentId };
  });
  const built = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await build();
      } catch (err) {
        // A racing create took the derived name between the look and the insert: derive it again.
        if (given !== null || attempt >= DERIVE_ATTEMPTS || uniqueViolation(err) !== 'vms(group_id, name)') throw err;
      }
    }
  };
  const { vmId, headId, parentId } = await built().catch((err) => {
    // Another create took the same chosen address between the check and the insert.
    if (uniqueViolation(err) === 'ips(address)') throw refused('ips', 'address_in_use', {}, 'taken');
    return nameTaken(err);
  });
  // The machine is built in the background (202): the head runs the disc and image operations, then powers it on.
  if (discs.length || power.powerOn) void h.heads.kick(headId, vmId);
  const view = await loadVmView(h.db, h.config.clusterDomain, vmId);
  const op = await getOperation(h.db, parentId);
  return { view, discs: view.discs, operation: op!.uuid };
}

/** Addresses the user picked on a private VLAN: recorded on the NIC, outside any pool. */
async function addPrivateIps(trx: Transaction<Database>, nicId: number, ips: { ipv4?: string; ipv6?: string }, now: number) {
  for (const [family, address] of [[4, ips.ipv4], [6, ips.ipv6]] as const) {
    if (!address) continue;
    if (await repo.addressUsed(trx, address)) throw refused('ips', 'address_in_use', { address }, 'taken');
    await repo.insertChosenIp(trx, nicId, family, address, now);
  }
}
