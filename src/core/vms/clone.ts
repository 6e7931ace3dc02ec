// Cloning a VM (docs/vm-ops.md): a new VM in the source's group, on the source's head (its discs are
// files there), with discs of the same labels, grades and sizes that the head fills with full qcow2
// copies of the source's (live copies when it runs), so the clone is independent from the start: no
// backing file, nothing shared. Overrides: name, label, guest hostname, cores, memory, a copied disc's
// size (grown after the copy, never shrunk) and grade, and added discs created empty; the clone is
// started afterwards only when asked (Gigas' required_startup defaults to false). Its own NIC and
// addresses; the image it boots is the source's last one, and it takes its own hostname at its first
// boot (a new instance id on its config drive) without running the source's firstboot script again.
import crypto from 'node:crypto';
import type { Hangar } from '../context.js';
import { checkName, nameTaken } from '../names.js';
import { conflict, forbidden, invalid, Issues, notFound, refused } from '../errors.js';
import { holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import { keepRow, lockLiveVm } from '../locks.js';
import { add, checkCores, checkDiscSize, checkGrade, checkMemory } from './attributes.js';
import { LIMITS } from '../definitions.js';
import { checkGuestHostname, checkLabel, deriveName, freeName } from './identity.js';
import { macFor } from './create.js';
import { place } from '../../scheduler/place.js';
import { enqueue, getOperation } from '../../operations/queue.js';
import { firstUnendedOf } from '../../store/repos/operations.js';
import { allocateIp } from '../ipam.js';
import { loadVmView, type VmView } from '../views.js';
import { withTransaction } from '../transaction.js';
import type { Dialect } from '../urls.js';
import type { DiscRef } from '../../drivers/driver.js';
import * as repo from '../../store/repos/vms.js';
import { discsOf, insertDisc } from '../../store/repos/discs.js';
import type { VmDiscRow } from '../../store/repos/discs.js';
import { ensureNetwork } from '../../store/repos/networks.js';
import { holdsPrivilegeIn } from '../../store/repos/invitations.js';
import { findUser } from '../grants.js';

/** Acts that rewrite or remove a VM's discs: a clone is refused while one is queued or running on its source. */
const REWRITES_DISCS: readonly string[] = ['reimage', 'backup.restore', 'snapshot.restore', 'disc.delete', 'purge'];

export interface CloneInput {
  /** BigV's unique name; derived from the label (or the source's name) when absent. */
  name?: string;
  label?: string | null;
  guestHostname?: string | null;
  cores?: number;
  memoryMiB?: number;
  /** Power the clone on once its discs are copied (default false). */
  startAfterwards?: boolean;
  /** The user the clone is made for (its creator): id, public id or username of a user of the source's
   *  account (home there, or holding a privilege in it); default the caller. */
  owner?: string;
  /** Changes to copied discs: the source's disc `discId` is copied at `sizeMiB` (grown, never shrunk)
   *  and/or onto `grade`. */
  resize?: { discId: number; sizeMiB?: number; grade?: string }[];
  /** Discs added after the copied ones, created empty (attached at boot or by apply_disks). */
  add?: { sizeMiB: number; grade: string }[];
}

/** `operation`: the public id of the vm.clone operation that copies the discs. */
export interface Cloned { view: VmView; operation: string }

export async function cloneVm(h: Hangar, p: Principal, at: VmPlace, input: CloneInput, dialect: Dialect): Promise<Cloned> {
  const { account, group } = at;
  if (!holds(p, { accountId: account.id, groupId: group.id }, 'group_admin')) throw forbidden('create_vm');
  if (account.suspended) throw forbidden('account_suspended');
  if (at.vm.deleted) throw refused('deleted', 'vm_deleted', {}, 'state');
  const errs = new Issues();
  const given = input.name === undefined ? null : errs.catch(() => checkName('name', input.name)) ?? '';
  const label = input.label === undefined ? at.vm.label : checkLabel(errs, input.label) ?? null;
  const guestHostname = input.guestHostname === undefined ? null : checkGuestHostname(errs, input.guestHostname) ?? null;
  const cores = input.cores ?? at.vm.cores;
  const memory = input.memoryMiB ?? at.vm.memory;
  checkCores(errs, cores);
  checkMemory(errs, memory);
  const owner = input.owner === undefined ? undefined : await findUser(h, input.owner);
  if (owner === undefined ? input.owner !== undefined : owner.home_account_id !== account.id && !(await holdsPrivilegeIn(h.db, owner.id, account.id))) {
    errs.add('owner', 'not_in_list');
  }
  for (const [i, r] of (input.resize ?? []).entries()) {
    if (r.sizeMiB !== undefined) add(errs, `resize[${i}].sizeMiB`, checkDiscSize(r.sizeMiB));
    if (r.grade !== undefined) add(errs, `resize[${i}].grade`, checkGrade(r.grade));
  }
  for (const [i, a] of (input.add ?? []).entries()) {
    add(errs, `add[${i}].sizeMiB`, checkDiscSize(a.sizeMiB));
    add(errs, `add[${i}].grade`, checkGrade(a.grade));
  }
  errs.throwIfAny();
  const now = h.now();
  const start = input.startAfterwards ?? false;

  const { vmId, headId, opId } = await withTransaction(h.db, async (trx) => {
    const source = await lockLiveVm(trx, at);
    if (source.head_id === null) throw refused('virtual_machine', 'vm_not_placed', {}, 'state');
    // The clone's operation holds the clone, not the source: no copy of discs an act is rewriting.
    const busy = await firstUnendedOf(trx, source.id, REWRITES_DISCS);
    if (busy) throw conflict('source_discs_changing', busy.uuid);
    const discs = await discsOf(trx, source.id);
    const copies = copiedDiscs(discs, input.resize ?? []);
    const added = (input.add ?? []).map((a, i) => ({ label: freeLabel(discs, i), grade: a.grade, size: a.sizeMiB }));
    if (discs.length + added.length > LIMITS.discsPerVm) throw invalid('add', 'too_many', { reason: 'discs_per_vm', max: LIMITS.discsPerVm });
    if (!(await keepRow(trx, 'groups', group.id))) throw notFound('group');
    const uuid = crypto.randomUUID();
    const name = given ?? await freeName(trx, group.id, deriveName(label ?? `${source.name}-clone`, uuid));
    if (given !== null && await repo.nameUsed(trx, group.id, name)) throw invalid('name', 'taken');
    // The copies are made by the head that holds the source's files: the clone lives there.
    const placement = await place(trx, {
      zone: source.zone_name, cores, memory, image: null, onHead: source.head_id,
      discs: [...copies, ...added].map((d) => ({ grade: d.grade, size: d.size })),
    });
    const vmId = await repo.insertVm(trx, {
      group_id: group.id, name, cores, memory, power_on: 0, autoreboot_on: start ? 1 : 0,
      cdrom_url: null, boot_from: 'disc', keymap: source.keymap, hardware_profile: source.hardware_profile, hardware_profile_locked: source.hardware_profile_locked,
      zone_name: placement.zone, head_id: placement.headId, deleted: 0, deleted_at: null, last_imaged_with: source.last_imaged_with,
      vnc_password: h.secrets.seal(crypto.randomBytes(6).toString('base64url').slice(0, 8)),
      created_at: now, updated_at: now, pid: null, last_seen: null, ssh_port: null, vnc_port: null, head_note: null,
      uuid, label, guest_hostname: guestHostname, note: null, created_by_user_id: owner?.id ?? p.userId,
      // The clone's root password is the source's (its disc is a copy): the source's initial one, if any.
      initial_password: source.initial_password, zone_id: source.zone_id,
    });
    const pairs: { from: DiscRef; to: DiscRef }[] = [];
    for (const [i, d] of discs.entries()) {
      const c = copies[i]!;
      const copy = await insertDisc(trx, { vmId, label: d.label, grade: c.grade, size: c.size, poolId: placement.poolIds[i]!, now });
      pairs.push({
        from: { id: d.id, vmId: source.id, label: d.label, grade: d.storage_grade, size: d.size },
        to: { id: copy.id, vmId, label: copy.label, grade: copy.storage_grade, size: copy.size },
      });
    }
    // Queued before the copy: the clone, started when copied, boots with its added discs there.
    for (const [i, a] of added.entries()) {
      const disc = await insertDisc(trx, { vmId, label: a.label, grade: a.grade, size: a.size, poolId: placement.poolIds[discs.length + i]!, now });
      await enqueue(trx, {
        kind: 'disc.create', vmId, headId: placement.headId, userId: p.userId, now, dialect,
        args: { disc: { id: disc.id, vmId, label: disc.label, grade: disc.storage_grade, size: disc.size } },
      });
    }
    const nicId = await repo.insertNic(trx, {
      vm_id: vmId, label: null, mac: macFor(vmId, 0), vlan_num: group.vlan_num ?? h.config.vlanNum, created_at: now,
      network_id: await ensureNetwork(trx, group.vlan_num === null ? null : account.id, group.vlan_num ?? h.config.vlanNum, now),
    });
    await allocateIp(trx, 4, nicId, now);
    await allocateIp(trx, 6, nicId, now);
    const opId = await enqueue(trx, {
      kind: 'vm.clone', vmId, headId: placement.headId, userId: p.userId, now, dialect,
      args: { sourceVmId: source.id, pairs, instanceId: crypto.randomUUID(), afterwards: start ? { power_on: 1, autoreboot_on: 1 } : null },
    });
    return { vmId, headId: placement.headId, opId };
  }).catch(nameTaken);
  void h.heads.kick(headId, vmId);
  const view = await loadVmView(h.db, h.config.clusterDomain, vmId);
  return { view, operation: (await getOperation(h.db, opId))!.uuid };
}

/** The source's discs as copied: each at its changed size and grade, if any (a disc never shrinks). */
function copiedDiscs(discs: readonly VmDiscRow[], resize: NonNullable<CloneInput['resize']>): { grade: string; size: number }[] {
  const errs = new Issues();
  const copies = discs.map((d) => ({ grade: d.storage_grade, size: d.size }));
  for (const [i, r] of resize.entries()) {
    const at = discs.findIndex((d) => d.id === r.discId);
    if (at < 0) { errs.add(`resize[${i}].discId`, 'not_in_list'); continue; }
    if (r.sizeMiB !== undefined && r.sizeMiB < discs[at]!.size) errs.add(`resize[${i}].sizeMiB`, 'invalid', { reason: 'discs_only_grow' });
    copies[at] = { grade: r.grade ?? copies[at]!.grade, size: Math.max(r.sizeMiB ?? 0, copies[at]!.size) };
  }
  errs.throwIfAny();
  return copies;
}

/** The label of the `i`th added disc: the first free disc-N after the source's. */
function freeLabel(discs: readonly VmDiscRow[], i: number): string {
  const taken = new Set(discs.map((d) => d.label));
  let n = discs.length;
  for (let k = 0; k <= i; k++) while (taken.has(`disc-${++n}`));
  return `disc-${n}`;
}
