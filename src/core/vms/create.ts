// Creating a VM: bare (a machine with one NIC and no disc) or the one-call vm_create with discs
// and an image. One transaction: placement claim, rows, addresses, and the head's operations.
import { randomUUID } from 'node:crypto';
import crypto from 'node:crypto';
import { encrypt as sha512crypt } from 'unixcrypt';
import type { Hangar } from '../context.js';
import type { AccountRow, DiscRow, GroupRow } from '../../store/schema.js';
import { FieldErrors } from '../field-errors.js';
import { checkName, nameTaken } from '../names.js';
import { idShapeError } from '../ids.js';
import { Forbidden, Invalid, NotFound } from '../errors.js';
import { keepRow } from '../locks.js';
import { holds, type Principal } from '../principal.js';
import { LIMITS } from '../definitions.js';
import { scheduleStart } from '../schedule-start.js';
import { resolveImage } from '../../images/catalogue.js';
import { allocateIp } from '../ipam.js';
import { place } from '../../scheduler/place.js';
import { enqueue, finishIn, getOperation } from '../../operations/queue.js';
import { secretArg, type SealedFirstBoot } from '../../operations/kinds.js';
import type { SecretBox } from '../secrets.js';
import type { DiscRef } from '../../drivers/driver.js';
import { loadVmView, type VmView } from '../views.js';
import type { Dialect } from '../urls.js';
import {
  checkCdromUrl, checkCores, checkDiscSize, checkGrade, checkHardwareProfile, checkKeymap, checkMemory,
} from './attributes.js';
import { powerAtCreate } from '../../api/bigv/power.js';
import net from 'node:net';
import { uniqueViolation } from '../../store/dialect.js';
import type { Transaction } from 'kysely';
import type { Database } from '../../store/schema.js';
import { withTransaction } from '../transaction.js';

export interface VmAttrs {
  name?: string; cores?: number; memory?: number; autoreboot_on?: boolean; power_on?: boolean;
  cdrom_url?: string | null; keymap?: string | null; hardware_profile?: string; hardware_profile_locked?: boolean;
  zone_name?: string | null;
}
export interface ScheduleInput { start_at?: string; interval_seconds?: number; capacity?: number }
export interface DiscInput { label?: string; storage_grade?: string; size?: number; backup_schedules?: ScheduleInput[] }
export interface ReimageInput { distribution?: string; root_password?: string; ssh_public_key?: string; firstboot_script?: string }
export interface CreateInput { virtual_machine: VmAttrs; discs?: DiscInput[]; reimage?: ReimageInput; ips?: { ipv4?: string; ipv6?: string } }

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

export function checkReimage(errs: FieldErrors, r: ReimageInput): string | null {
  const image = r.distribution ? resolveImage(r.distribution) : null;
  if (!r.distribution) errs.add('distribution', "can't be blank");
  else if (!image) errs.add('distribution', 'is not included in the list');
  if (r.ssh_public_key && !/^(ssh-|ecdsa-|sk-)\S+ \S+/m.test(r.ssh_public_key.trim())) errs.add('ssh_public_key', 'is invalid');
  return image;
}

/** A reimage operation's FirstBoot, its secrets sealed (operations/kinds.ts). */
export function firstBootFor(box: SecretBox, hostname: string, r: ReimageInput): SealedFirstBoot {
  return {
    hostname,
    rootPasswordHash: r.root_password ? secretArg(box, hashRootPassword(r.root_password)) : null,
    authorizedKeys: r.ssh_public_key ?? '',
    firstbootScript: secretArg(box, r.firstboot_script ?? ''),
    instanceId: crypto.randomUUID(),
  };
}

/** The schedule's start_at to store, or what is wrong with the schedule. */
function checkSchedule(s: ScheduleInput, now: number): { start: string } | { error: string } {
  if (s.interval_seconds === undefined || !Number.isInteger(s.interval_seconds) || s.interval_seconds <= 0) return { error: 'interval_seconds must be greater than 0' };
  const start = scheduleStart(s.start_at, now);
  return start === null ? { error: 'start_at is invalid' } : { start };
}

export async function createVm(h: Hangar, p: Principal, account: AccountRow, group: GroupRow, input: CreateInput, dialect: Dialect): Promise<Created> {
  if (!holds(p, { accountId: account.id, groupId: group.id }, 'group_admin')) throw new Forbidden('Creating machines needs group_admin on the group');
  if (account.suspended) throw new Forbidden('The account is suspended');
  const vm = input.virtual_machine;
  const errs = new FieldErrors();
  let name = '';
  try {
    name = checkName('name', vm.name);
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    errs.add('name', (err.fields.name as string[])[0]!);
  }
  const cores = vm.cores ?? 1;
  const memory = vm.memory ?? 1024;
  checkCores(errs, cores);
  checkMemory(errs, memory);
  const hardwareProfile = checkHardwareProfile(errs, vm.hardware_profile);
  const keymap = checkKeymap(errs, vm.keymap);
  const cdromUrl = checkCdromUrl(errs, vm.cdrom_url, dialect, h.config.urls);
  const discs = input.discs ?? [];
  // Too many discs is the one thing to say about them (per-disc errors would replace the message).
  const tooMany = discs.length > LIMITS.discsPerVm;
  if (tooMany) errs.add('discs', `at most ${LIMITS.discsPerVm} discs per machine`);
  const labels = new Set<string>();
  const now = h.now();
  const starts = discs.map(() => [] as string[]);
  if (!tooMany) discs.forEach((d, i) => {
    const label = d.label || `disc-${i + 1}`;
    const shapeErr = idShapeError(label);
    if (shapeErr) errs.disc(i, discs.length, 'label', shapeErr);
    else if (labels.has(label)) errs.disc(i, discs.length, 'label', 'has already been taken');
    labels.add(label);
    const gradeErr = checkGrade(d.storage_grade ?? 'sata');
    if (gradeErr) errs.disc(i, discs.length, 'storage_grade', gradeErr);
    const sizeErr = d.size === undefined ? "can't be blank" : checkDiscSize(d.size);
    if (sizeErr) errs.disc(i, discs.length, 'size', sizeErr);
    for (const s of d.backup_schedules ?? []) {
      const c = checkSchedule(s, now);
      if ('error' in c) errs.disc(i, discs.length, 'backup_schedules', c.error);
      else starts[i]!.push(c.start);
    }
  });
  const image = input.reimage ? checkReimage(errs, input.reimage) : null;
  if (input.reimage && discs.length === 0) errs.add('discs', 'a disc is needed to install an image on');
  if (input.ips && (input.ips.ipv4 || input.ips.ipv6)) {
    if (group.vlan_num === null) errs.add('ips', 'can only be chosen in groups on a private VLAN');
    if (input.ips.ipv4 && net.isIP(input.ips.ipv4) !== 4) errs.add('ips', 'ipv4 is invalid');
    if (input.ips.ipv6 && net.isIP(input.ips.ipv6) !== 6) errs.add('ips', 'ipv6 is invalid');
  }
  errs.throwIfAny();

  const power = powerAtCreate(vm, !!input.reimage);
  const { vmId, headId, parentId } = await withTransaction(h.db, async (trx) => {
    // Held until the VM is written: a racing delete of the group waits, then finds the group not empty.
    if (!(await keepRow(trx, 'groups', group.id))) throw new NotFound('group');
    const taken = await trx.selectFrom('vms').select('id').where('group_id', '=', group.id).where('name', '=', name).executeTakeFirst();
    if (taken) throw Invalid.field('name', 'has already been taken');
    const placement = await place(trx, {
      zone: vm.zone_name ?? null, cores, memory, image,
      discs: discs.map((d) => ({ grade: d.storage_grade ?? 'sata', size: d.size! })),
    });
    const row = await trx.insertInto('vms').values({
      uuid: randomUUID(), group_id: group.id, name, cores, memory, power_on: power.powerOn ? 1 : 0, autoreboot_on: power.autorebootOn ? 1 : 0,
      cdrom_url: cdromUrl, keymap, hardware_profile: hardwareProfile, hardware_profile_locked: vm.hardware_profile_locked ? 1 : 0,
      zone_name: placement.zone, head_id: placement.headId, deleted: 0, deleted_at: null, last_imaged_with: null,
      vnc_password: h.secrets.seal(crypto.randomBytes(6).toString('base64url').slice(0, 8)),
      created_at: now, updated_at: now, pid: null, last_seen: null, ssh_port: null, vnc_port: null, head_note: null,
    }).returning('id').executeTakeFirstOrThrow();
    const vmId = row.id;
    const hostname = `${name}.${group.name}.${account.name}.${h.config.clusterDomain}`;
    const parentId = await enqueue(trx, { kind: 'vm.create', vmId, headId: null, userId: p.userId, args: {}, now, dialect });
    for (const [i, d] of discs.entries()) {
      const disc = await trx.insertInto('discs').values({
        uuid: randomUUID(), vm_id: vmId, label: d.label || `disc-${i + 1}`, storage_grade: d.storage_grade ?? 'sata', size: d.size!,
        storage_pool_id: placement.poolIds[i]!, created_at: now,
      }).returning(['id', 'label', 'storage_grade', 'size']).executeTakeFirstOrThrow();
      for (const [j, s] of (d.backup_schedules ?? []).entries()) {
        await trx.insertInto('backup_schedules').values({
          uuid: randomUUID(), disc_id: disc.id, start_at: starts[i]![j]!, interval_seconds: s.interval_seconds!,
          capacity: Math.max(1, s.capacity ?? 1), created_at: now,
        }).execute();
      }
      const ref: DiscRef = { id: disc.id, vmId, label: disc.label, grade: disc.storage_grade, size: disc.size };
      await enqueue(trx, { kind: 'disc.create', vmId, headId: placement.headId, userId: p.userId, args: { disc: ref }, now, parentId, dialect });
    }
    const nic = await trx.insertInto('nics').values({
      uuid: randomUUID(), vm_id: vmId, label: null, mac: macFor(vmId, 0), vlan_num: group.vlan_num ?? h.config.vlanNum, created_at: now,
    }).returning('id').executeTakeFirstOrThrow();
    if (group.vlan_num !== null && input.ips && (input.ips.ipv4 || input.ips.ipv6)) {
      await addPrivateIps(trx, nic.id, input.ips, now);
    } else {
      await allocateIp(trx, 4, nic.id, now);
      await allocateIp(trx, 6, nic.id, now);
    }
    if (input.reimage) {
      await enqueue(trx, {
        kind: 'reimage', vmId, headId: placement.headId, userId: p.userId, now, parentId, dialect,
        args: { vmId, distribution: input.reimage.distribution!, image: image!, firstBoot: firstBootFor(h.secrets, hostname, input.reimage), afterwards: null },
      });
    }
    // A machine with nothing to build is built already.
    if (!discs.length && !input.reimage) await finishIn(trx, parentId, now, { error: null });
    return { vmId, headId: placement.headId, parentId };
  }).catch((err) => {
    // Another create took the same chosen address between the check and the insert.
    if (uniqueViolation(err) === 'ips(address)') throw Invalid.field('ips', 'an address is already in use');
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
    const taken = await trx.selectFrom('ips').select('id').where('address', '=', address).executeTakeFirst();
    if (taken) throw Invalid.field('ips', `${address} is already in use`);
    await trx.insertInto('ips').values({
      range_id: null, offset: null, address, family, nic_id: nicId, routed_via: null, rdns: null, reason: 'chosen on a private VLAN', created_at: now,
    }).execute();
  }
}
