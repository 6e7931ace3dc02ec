// PUT on a VM: a partial update (only the attributes sent change), with the rules for what may
// change while it runs, undelete, and moving between groups.
import type { Hangar } from '../context.js';
import { checkName, nameTaken } from '../names.js';
import { invalid, Issues, refused, notFound, forbidden, preconditionFailed } from '../errors.js';
import { powerAsGiven, type PowerRule, type UpdateVmInput } from './model.js';
import { canSeeGroup, holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import type { VmUpdate } from '../../store/schema.js';
import { claimCompute } from '../../scheduler/place.js';
import { forgetPrincipals } from '../auth.js';
import { loadVmView, type VmView } from '../views.js';
import type { Dialect } from '../urls.js';
import { checkCdromUrl, checkCores, checkHardwareProfile, checkKeymap, checkMemory } from './attributes.js';
import { lockVm } from '../locks.js';
import { withTransaction } from '../transaction.js';
import * as repo from '../../store/repos/vms.js';
import { checkGuestHostname, checkLabel, checkNote } from './identity.js';

/** Attributes that only take effect on a fresh boot, refused while the machine is on. */
const COLD = [['cores', 'cores'], ['memoryMiB', 'memory'], ['hardwareProfile', 'hardware_profile']] as const;

export interface UpdateOptions {
  dialect: Dialect;
  /** The versions (migration 008: bumped on every change of the VM's desired state) the caller's change was
   *  based on; when the locked row has another, nothing changes (precondition_failed). Absent: any. */
  ifVersion?: readonly number[];
  /** Undelete the machine (within the retention window) as part of this change. */
  undelete?: boolean;
  /** How `desiredPower` combines with the current power: the dialect's rule, or as given. */
  powerRule?: PowerRule;
}

/** A partial change of a VM: only the fields given change; a deleted VM changes only with `undelete`. */
export async function updateVm(h: Hangar, p: Principal, at: VmPlace, input: UpdateVmInput, opts: UpdateOptions): Promise<VmView> {
  const { group, account } = at;
  const place = { accountId: account.id, groupId: group.id, vmId: at.vm.id };
  if (!holds(p, place, 'vm_admin')) throw forbidden('change_vm');
  if (at.vm.deleted && !opts.undelete) throw refused('deleted', 'vm_deleted_undelete_first', {}, 'state'); // said first; checked again below
  const now = h.now();

  // What the input alone decides (no reading of the VM needed).
  const errs = new Issues();
  const fixed: VmUpdate = { updated_at: now };
  // A name already the machine's is not checked again (it may predate today's rules).
  const name = input.name !== undefined && input.name !== at.vm.name ? errs.catch(() => checkName('name', input.name)) : input.name;
  if (input.cores !== undefined) checkCores(errs, input.cores);
  if (input.memoryMiB !== undefined) checkMemory(errs, input.memoryMiB);
  if (input.hardwareProfile !== undefined) checkHardwareProfile(errs, input.hardwareProfile);
  if (input.keymap !== undefined) fixed.keymap = checkKeymap(errs, input.keymap);
  if ('cdromUrl' in input) fixed.cdrom_url = checkCdromUrl(errs, input.cdromUrl, opts.dialect, h.config.urls);
  if (input.hardwareProfileLocked !== undefined) fixed.hardware_profile_locked = input.hardwareProfileLocked ? 1 : 0;
  const label = checkLabel(errs, input.label);
  if (label !== undefined) fixed.label = label;
  const guestHostname = checkGuestHostname(errs, input.guestHostname);
  if (guestHostname !== undefined) fixed.guest_hostname = guestHostname;
  const note = checkNote(errs, input.note);
  if (note !== undefined) fixed.note = note;
  errs.throwIfAny();
  if (input.hardwareProfile !== undefined) fixed.hardware_profile = input.hardwareProfile;
  if (input.cores !== undefined) fixed.cores = input.cores;
  if (input.memoryMiB !== undefined) fixed.memory = input.memoryMiB;
  const desired = input.desiredPower ?? {};

  const targetGroup = input.groupId !== undefined && input.groupId !== group.id ? input.groupId : undefined;
  // Everything that depends on the VM's state is decided on its row as locked here, not as resolved.
  const { vm, power } = await withTransaction(h.db, async (trx) => {
    // Built afresh on each run of the transaction (it may run again: core/transaction.ts).
    const set: VmUpdate = { ...fixed };
    const stateErrs = new Issues();
    const vm = await lockVm(trx, at.vm.id);
    if (!vm || vm.group_id !== group.id) throw notFound('virtual_machine'); // purged, or moved away, meanwhile
    if (opts.ifVersion && !opts.ifVersion.includes(vm.version)) throw preconditionFailed('vm_changed');
    if (vm.deleted) {
      if (!opts.undelete) throw refused('deleted', 'vm_deleted_undelete_first', {}, 'state');
      if (!holds(p, place, 'group_admin')) throw forbidden('undelete_vm');
      if (vm.deleted_at !== null && vm.deleted_at + h.config.undeleteDays * 86_400_000 < now) {
        throw refused('deleted', 'undelete_expired', { days: h.config.undeleteDays }, 'state');
      }
      Object.assign(set, { deleted: 0, deleted_at: null });
    }
    const power = (opts.powerRule ?? powerAsGiven)({ powerOn: !!vm.power_on, autorebootOn: !!vm.autoreboot_on }, desired);
    if (account.suspended && power.powerOn && !vm.power_on) throw forbidden('account_suspended_power');
    // A change that needs a fresh boot is accepted when the machine is off, being switched off, or rebooted.
    const staysUp = !!vm.power_on && desired.powerOn !== false;
    for (const [key, column] of COLD) {
      if (input[key] !== undefined && input[key] !== vm[column] && staysUp) stateErrs.add(key, 'state', { reason: 'power_off_to_change' });
    }
    stateErrs.throwIfAny();
    set.power_on = power.powerOn ? 1 : 0;
    set.autoreboot_on = power.autorebootOn ? 1 : 0;
    if (power.cycle) set.power_cycle = repo.NEXT_POWER_CYCLE;
    if (power.powerOn) set.head_note = null;

    let groupId = group.id;
    if (targetGroup !== undefined) {
      // The source first: someone who cannot move machines out of this group learns nothing about the target.
      if (!holds(p, { accountId: account.id, groupId: group.id }, 'group_admin')) throw forbidden('move_vm');
      // Held until the move is written: a racing delete of the target group waits, then finds the VM in it.
      const target = await repo.keepGroup(trx, targetGroup);
      if (!target || !canSeeGroup(p, target.account_id, target.id)) throw refused('groupId', 'not_visible_group');
      if (!holds(p, { accountId: target.account_id, groupId: target.id }, 'group_admin')) throw forbidden('move_vm');
      if (vm.power_on || vm.run_state === 'running' || power.powerOn) throw refused('groupId', 'power_off_to_move', {}, 'state');
      if ((group.vlan_num ?? null) !== (target.vlan_num ?? null)) throw refused('groupId', 'same_vlan');
      groupId = target.id;
      set.group_id = target.id;
    }
    const finalName = name ?? vm.name;
    if (finalName !== vm.name || groupId !== group.id) {
      if (await repo.nameUsed(trx, groupId, finalName, vm.id)) throw invalid('name', 'taken');
      set.name = finalName;
    }
    const dCores = (input.cores ?? vm.cores) - vm.cores;
    const dMemory = (input.memoryMiB ?? vm.memory) - vm.memory;
    if ((dCores || dMemory) && vm.head_id !== null && !(await claimCompute(trx, vm.head_id, dCores, dMemory))) {
      throw refused('memoryMiB', 'head_full', {}, 'no_capacity');
    }
    await repo.updateVmRow(trx, vm.id, set);
    return { vm, power };
  }).catch(nameTaken);
  if (targetGroup !== undefined) forgetPrincipals(h); // group-level grants now cover a different VM
  const powerChanged = power.powerOn !== !!vm.power_on || power.cycle || (vm.deleted && opts.undelete);
  if (powerChanged && vm.head_id !== null) await h.heads.kick(vm.head_id, vm.id);
  return loadVmView(h.db, h.config.clusterDomain, vm.id);
}

/** Undelete a deleted VM (within the retention window), as it was when deleted. */
export function undeleteVm(h: Hangar, p: Principal, at: VmPlace, dialect: Dialect): Promise<VmView> {
  return updateVm(h, p, at, {}, { dialect, undelete: true });
}

/** Move a powered-off VM to another group (both need group_admin, the same private VLAN, and its name free there). */
export function moveVm(h: Hangar, p: Principal, at: VmPlace, groupId: number, dialect: Dialect): Promise<VmView> {
  return updateVm(h, p, at, { groupId }, { dialect });
}
