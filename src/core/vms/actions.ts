// Imperative acts on a VM: signals (ACPI power button, reset, NMI, keys) and reimage.
// Each is an operation addressed to the VM's head.
import type { Hangar } from '../context.js';
import { FieldErrors } from '../field-errors.js';
import { Conflict, Forbidden, Invalid, Unavailable } from '../errors.js';
import { holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import { SENDKEYS } from '../definitions.js';
import { conflicting, enqueue, getOperation } from '../../operations/queue.js';
import { lockLiveVm, lockVm } from '../locks.js';
import type { Signal } from '../../drivers/driver.js';
import { checkReimage, firstBootFor, type ReimageInput } from './create.js';
import { hasImage } from '../../scheduler/place.js';
import { withTransaction } from '../transaction.js';

export const SIGNALS = ['powerdown', 'reset', 'sendkey', 'nmi'] as const;

const KEY_ALIASES: Record<string, string> = {
  del: 'delete', control: 'ctrl', enter: 'ret', return: 'ret', space: 'spc', escape: 'esc', pageup: 'pgup', pagedown: 'pgdn', ins: 'insert',
};

export async function signalVm(h: Hangar, p: Principal, at: VmPlace, input: { signal?: string; data?: string }): Promise<void> {
  const { vm, group, account } = at;
  if (!holds(p, { accountId: account.id, groupId: group.id, vmId: vm.id }, 'vm_admin')) throw new Forbidden('Signals need vm_admin');
  const errs = new FieldErrors();
  let signal: Signal | null = null;
  if (!input.signal) errs.add('signal', "can't be blank");
  else if (!(SIGNALS as readonly string[]).includes(input.signal)) errs.add('signal', 'is not included in the list');
  else if (input.signal === 'sendkey') {
    // bigv-python's cad sends `ctrl-alt-del`: the usual short names stand for the listed ones.
    const keys = (input.data ?? '').split('-').filter(Boolean).map((k) => KEY_ALIASES[k.toLowerCase()] ?? k.toLowerCase());
    if (keys.length === 0) errs.add('data', "can't be blank");
    else if (keys.some((k) => !SENDKEYS.includes(k))) errs.add('data', 'is not included in the list');
    else signal = { kind: 'sendkey', keys };
  } else {
    signal = { kind: input.signal as 'powerdown' | 'reset' | 'nmi' };
  }
  errs.throwIfAny();
  // Queued only for the machine as it is now (it may have been powered off or purged since it was read).
  const { opId, headId } = await withTransaction(h.db, async (trx) => {
    const cur = await lockVm(trx, vm.id);
    if (!cur || cur.deleted || !cur.power_on || cur.head_id === null) throw Invalid.field('signal', 'the machine is not powered on');
    return { opId: await enqueue(trx, { kind: 'signal', vmId: cur.id, headId: cur.head_id, userId: p.userId, args: { signal: signal! }, now: h.now() }), headId: cur.head_id };
  });
  await h.heads.kick(headId, vm.id);
  const op = await getOperation(h.db, opId);
  if (op?.state === 'failed') throw Invalid.field('signal', op.error ?? 'failed');
  if (op?.state === 'queued' || op?.state === 'running') throw new Unavailable('the machine\'s head did not answer in time; the signal will be sent when it does');
}

/** Queues the reimage; its operation's public id. */
export async function reimageVm(h: Hangar, p: Principal, at: VmPlace, input: ReimageInput): Promise<string> {
  const { vm, group, account } = at;
  if (!holds(p, { accountId: account.id, groupId: group.id, vmId: vm.id }, 'vm_admin')) throw new Forbidden('Reimaging needs vm_admin');
  const errs = new FieldErrors();
  const image = checkReimage(errs, input);
  errs.throwIfAny();
  if (vm.deleted) throw Invalid.field('deleted', 'the machine is deleted');
  const opId = await withTransaction(h.db, async (trx) => {
    const cur = await lockLiveVm(trx, at);
    const busy = await conflicting(trx, cur.id, 'reimage');
    if (busy) throw new Conflict(`the machine is already being imaged (operation ${busy.uuid})`, busy.uuid);
    if (cur.power_on) throw Invalid.field('power_on', 'the machine must be powered off to reimage it');
    const disc = await trx.selectFrom('discs').select('id').where('vm_id', '=', cur.id).executeTakeFirst();
    if (!disc) throw Invalid.field('discs', 'the machine has no disc to install an image on');
    const head = cur.head_id === null ? undefined : await trx.selectFrom('heads').select('images').where('id', '=', cur.head_id).executeTakeFirst();
    if (head && !hasImage(head.images, image!)) {
      throw Invalid.field('distribution', `is not available on this machine's head (it does not have the ${image} image)`);
    }
    const hostname = `${cur.name}.${group.name}.${account.name}.${h.config.clusterDomain}`;
    return enqueue(trx, {
      kind: 'reimage', vmId: cur.id, headId: cur.head_id, userId: p.userId, now: h.now(), dialect: 'bigv',
      // Afterwards the machine is on, with autoreboot off (BigV docs).
      args: { vmId: cur.id, distribution: input.distribution!, image: image!, firstBoot: firstBootFor(h.secrets, hostname, input), afterwards: { power_on: 1, autoreboot_on: 0 } },
    });
  });
  if (vm.head_id !== null) void h.heads.kick(vm.head_id, vm.id);
  return (await getOperation(h.db, opId))!.uuid;
}
