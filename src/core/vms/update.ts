// PUT on a VM: a partial update (only the attributes sent change), with the rules for what may
// change while it runs, undelete, and moving between groups.
import type { Hangar } from '../context.js';
import { FieldErrors } from '../field-errors.js';
import { checkName, nameTaken } from '../names.js';
import { Forbidden, Invalid, NotFound, PreconditionFailed } from '../errors.js';
import { canSeeGroup, holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import type { VmUpdate } from '../../store/schema.js';
import { claimCompute } from '../../scheduler/place.js';
import { forgetPrincipals } from '../auth.js';
import { loadVmView, type VmView } from '../views.js';
import type { Dialect } from '../urls.js';
import { checkCdromUrl, checkCores, checkHardwareProfile, checkKeymap, checkMemory } from './attributes.js';
import { nextPower } from '../../api/bigv/power.js';
import { sql } from 'kysely';
import { lockVm } from '../locks.js';
import { forKeyShare } from '../../store/dialect.js';
import { withTransaction } from '../transaction.js';

export interface VmPatch {
  name?: string; group_id?: number; cores?: number; memory?: number; power_on?: boolean; autoreboot_on?: boolean;
  cdrom_url?: string | null; keymap?: string | null; hardware_profile?: string; hardware_profile_locked?: boolean;
  deleted?: boolean; appliance?: unknown;
}

/** Attributes that only take effect on a fresh boot, refused while the machine is on. */
const COLD = ['cores', 'memory', 'hardware_profile'] as const;

const DELETED = 'the machine is deleted: undelete it with {"deleted":false} first';

/**
 * `ifVersion`: the versions (migration 008: bumped on every change of the VM's desired state) the
 * caller's change was based on; when the locked row has another, nothing changes (412). Absent: any.
 */
export async function updateVm(
  h: Hangar, p: Principal, at: VmPlace, patch: VmPatch, dialect: Dialect, ifVersion?: readonly number[],
): Promise<VmView> {
  const { group, account } = at;
  const place = { accountId: account.id, groupId: group.id, vmId: at.vm.id };
  if (!holds(p, place, 'vm_admin')) throw new Forbidden('Changing a machine needs vm_admin');
  if (at.vm.deleted && patch.deleted !== false) throw Invalid.field('deleted', DELETED); // said first; checked again below
  if (patch.appliance !== undefined && patch.appliance !== null) {
    throw Invalid.field('appliance', 'no appliances (such as rescue) are available on this cluster');
  }
  const now = h.now();

  // What the patch alone decides (no reading of the VM needed).
  const errs = new FieldErrors();
  const fixed: VmUpdate = { updated_at: now };
  // A name already the machine's is not checked again (it may predate today's rules).
  const name = patch.name !== undefined && patch.name !== at.vm.name ? tryName(errs, patch.name) : patch.name;
  if (patch.cores !== undefined) checkCores(errs, patch.cores);
  if (patch.memory !== undefined) checkMemory(errs, patch.memory);
  if (patch.hardware_profile !== undefined) checkHardwareProfile(errs, patch.hardware_profile);
  if (patch.keymap !== undefined) fixed.keymap = checkKeymap(errs, patch.keymap);
  if ('cdrom_url' in patch) fixed.cdrom_url = checkCdromUrl(errs, patch.cdrom_url, dialect, h.config.urls);
  if (patch.hardware_profile_locked !== undefined) fixed.hardware_profile_locked = patch.hardware_profile_locked ? 1 : 0;
  errs.throwIfAny();
  if (patch.hardware_profile !== undefined) fixed.hardware_profile = patch.hardware_profile;
  if (patch.cores !== undefined) fixed.cores = patch.cores;
  if (patch.memory !== undefined) fixed.memory = patch.memory;

  const targetGroup = patch.group_id !== undefined && patch.group_id !== group.id ? patch.group_id : undefined;
  // Everything that depends on the VM's state is decided on its row as locked here, not as resolved.
  const { vm, power } = await withTransaction(h.db, async (trx) => {
    // Built afresh on each run of the transaction (it may run again: core/transaction.ts).
    const set: VmUpdate = { ...fixed };
    const stateErrs = new FieldErrors();
    const vm = await lockVm(trx, at.vm.id);
    if (!vm || vm.group_id !== group.id) throw new NotFound('virtual_machine'); // purged, or moved away, meanwhile
    if (ifVersion && !ifVersion.includes(vm.version)) throw new PreconditionFailed('The machine has changed since you read it: read it again (its ETag) and retry');
    if (vm.deleted) {
      if (patch.deleted !== false) throw Invalid.field('deleted', DELETED);
      if (!holds(p, place, 'group_admin')) throw new Forbidden('Undeleting needs group_admin');
      if (vm.deleted_at !== null && vm.deleted_at + h.config.undeleteDays * 86_400_000 < now) {
        throw Invalid.field('deleted', `can no longer be undeleted (deleted more than ${h.config.undeleteDays} days ago)`);
      }
      Object.assign(set, { deleted: 0, deleted_at: null });
    } else if (patch.deleted === true) {
      throw Invalid.field('deleted', 'use DELETE to delete a machine');
    }
    const power = nextPower({ powerOn: !!vm.power_on, autorebootOn: !!vm.autoreboot_on }, patch);
    if (account.suspended && power.powerOn && !vm.power_on) throw new Forbidden('The account is suspended: its machines cannot be powered on');
    // A change that needs a fresh boot is accepted when the machine is off, being switched off, or rebooted.
    const staysUp = !!vm.power_on && patch.power_on !== false;
    for (const key of COLD) {
      if (patch[key] !== undefined && patch[key] !== vm[key] && staysUp) {
        stateErrs.add(key, 'cannot be changed while the machine is powered on: power it off first (or reboot it in the same request)');
      }
    }
    stateErrs.throwIfAny();
    set.power_on = power.powerOn ? 1 : 0;
    set.autoreboot_on = power.autorebootOn ? 1 : 0;
    if (power.cycle) set.power_cycle = sql`power_cycle + 1` as unknown as number;
    if (power.powerOn) set.head_note = null;

    let groupId = group.id;
    if (targetGroup !== undefined) {
      // The source first: someone who cannot move machines out of this group learns nothing about the target.
      if (!holds(p, { accountId: account.id, groupId: group.id }, 'group_admin')) throw new Forbidden('Moving a machine needs group_admin on both groups');
      // Held until the move is written: a racing delete of the target group waits, then finds the VM in it.
      const target = await forKeyShare(trx, trx.selectFrom('groups').selectAll().where('id', '=', targetGroup)).executeTakeFirst();
      if (!target || !canSeeGroup(p, target.account_id, target.id)) throw Invalid.field('group_id', 'is not a group you can see');
      if (!holds(p, { accountId: target.account_id, groupId: target.id }, 'group_admin')) throw new Forbidden('Moving a machine needs group_admin on both groups');
      if (vm.power_on || vm.run_state === 'running' || power.powerOn) throw Invalid.field('group_id', 'the machine must be powered off to move it to another group');
      if ((group.vlan_num ?? null) !== (target.vlan_num ?? null)) throw Invalid.field('group_id', 'both groups must be on the same private VLAN');
      groupId = target.id;
      set.group_id = target.id;
    }
    const finalName = name ?? vm.name;
    if (finalName !== vm.name || groupId !== group.id) {
      const clash = await trx.selectFrom('vms').select('id').where('group_id', '=', groupId).where('name', '=', finalName).where('id', '!=', vm.id).executeTakeFirst();
      if (clash) throw Invalid.field('name', 'has already been taken');
      set.name = finalName;
    }
    const dCores = (patch.cores ?? vm.cores) - vm.cores;
    const dMemory = (patch.memory ?? vm.memory) - vm.memory;
    if ((dCores || dMemory) && vm.head_id !== null && !(await claimCompute(trx, vm.head_id, dCores, dMemory))) {
      throw Invalid.field('memory', 'the machine\'s head has no room for that many cores or that much memory');
    }
    await trx.updateTable('vms').set(set).where('id', '=', vm.id).execute();
    return { vm, power };
  }).catch(nameTaken);
  if (targetGroup !== undefined) forgetPrincipals(h); // group-level grants now cover a different VM
  const powerChanged = power.powerOn !== !!vm.power_on || power.cycle || (vm.deleted && patch.deleted === false);
  if (powerChanged && vm.head_id !== null) await h.heads.kick(vm.head_id, vm.id);
  return loadVmView(h.db, h.config.clusterDomain, vm.id);
}

function tryName(errs: FieldErrors, name: string): string | undefined {
  try {
    return checkName('name', name);
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    errs.add('name', (err.fields.name as string[])[0]!);
    return undefined;
  }
}
