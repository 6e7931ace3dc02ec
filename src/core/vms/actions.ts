// Imperative acts on a VM: signals (ACPI power button, reset, NMI, keys) and reimage.
// Each is an operation addressed to the VM's head.
import type { Hangar } from '../context.js';
import { conflict, Issues, refused, forbidden, unavailable } from '../errors.js';
import { holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import { SENDKEYS } from '../definitions.js';
import { conflicting, enqueue, getOperation } from '../../operations/queue.js';
import { lockLiveVm, lockVm } from '../locks.js';
import type { Signal } from '../../drivers/driver.js';
import { checkImage, firstBootFor } from './create.js';
import { templateFor } from '../templates.js';
import type { ImageSpec } from './model.js';
import type { Dialect } from '../urls.js';
import { hasImage } from '../../scheduler/place.js';
import { withTransaction } from '../transaction.js';
import { snapshotLabels } from '../../store/repos/snapshots.js';
import * as repo from '../../store/repos/vms.js';

export const SIGNALS = ['powerdown', 'reset', 'sendkey', 'nmi'] as const;

const KEY_ALIASES: Record<string, string> = {
  del: 'delete', control: 'ctrl', enter: 'ret', return: 'ret', space: 'spc', escape: 'esc', pageup: 'pgup', pagedown: 'pgdn', ins: 'insert',
};

export async function signalVm(h: Hangar, p: Principal, at: VmPlace, input: { signal?: string; data?: string }): Promise<void> {
  const { vm, group, account } = at;
  if (!holds(p, { accountId: account.id, groupId: group.id, vmId: vm.id }, 'vm_admin')) throw forbidden('signal_vm');
  const errs = new Issues();
  let signal: Signal | null = null;
  if (!input.signal) errs.add('signal', 'required');
  else if (!(SIGNALS as readonly string[]).includes(input.signal)) errs.add('signal', 'not_in_list');
  else if (input.signal === 'sendkey') {
    // bigv-python's cad sends `ctrl-alt-del`: the usual short names stand for the listed ones.
    const keys = (input.data ?? '').split('-').filter(Boolean).map((k) => KEY_ALIASES[k.toLowerCase()] ?? k.toLowerCase());
    if (keys.length === 0) errs.add('data', 'required');
    else if (keys.some((k) => !SENDKEYS.includes(k))) errs.add('data', 'not_in_list');
    else signal = { kind: 'sendkey', keys };
  } else {
    signal = { kind: input.signal as 'powerdown' | 'reset' | 'nmi' };
  }
  errs.throwIfAny();
  // Queued only for the machine as it is now (it may have been powered off or purged since it was read).
  const { opId, headId } = await withTransaction(h.db, async (trx) => {
    const cur = await lockVm(trx, vm.id);
    if (!cur || cur.deleted || !cur.power_on || cur.head_id === null) throw refused('signal', 'vm_not_powered_on', {}, 'state');
    return { opId: await enqueue(trx, { kind: 'signal', vmId: cur.id, headId: cur.head_id, userId: p.userId, args: { signal: signal! }, now: h.now() }), headId: cur.head_id };
  });
  await h.heads.kick(headId, vm.id);
  const op = await getOperation(h.db, opId);
  if (op?.state === 'failed') throw refused('signal', 'signal_failed', { detail: op.error ?? null }, 'failed');
  if (op?.state === 'queued' || op?.state === 'running') throw unavailable('signal_pending');
}

/** Queues the reimage; its operation's public id. `opts`: the desired power once it is written
 *  (default BigV's: on, autoreboot off; `startAfterwards: false`: left as it is) and the dialect that asked. */
export async function reimageVm(
  h: Hangar, p: Principal, at: VmPlace, input: ImageSpec,
  opts: { afterwards?: { power_on: number; autoreboot_on: number }; startAfterwards?: boolean; dialect?: Dialect } = {},
): Promise<string> {
  const { vm, group, account } = at;
  if (!holds(p, { accountId: account.id, groupId: group.id, vmId: vm.id }, 'vm_admin')) throw forbidden('reimage_vm');
  const errs = new Issues();
  const image = checkImage(errs, input, await templateFor(h, p, input.distribution));
  errs.throwIfAny();
  if (vm.deleted) throw refused('deleted', 'vm_deleted', {}, 'state');
  const opId = await withTransaction(h.db, async (trx) => {
    const cur = await lockLiveVm(trx, at);
    const busy = await conflicting(trx, cur.id, 'reimage');
    if (busy) throw conflict('reimaging', busy.uuid);
    if (cur.power_on) throw refused('power_on', 'power_off_to_reimage', {}, 'state');
    if (!(await repo.hasDisc(trx, cur.id))) throw refused('discs', 'no_disc_for_image', {}, 'state');
    // Writing the image replaces the disc's file, and the qcow2 snapshots inside it with it.
    const held = await snapshotLabels(trx, cur.id);
    if (held.length) throw refused('snapshots', 'vm_has_snapshots', { snapshots: held.join(', ') }, 'conflict');
    const images = cur.head_id === null ? undefined : await repo.headImages(trx, cur.head_id);
    if (images !== undefined && !hasImage(images, image!)) {
      throw refused('distribution', 'image_not_on_head', { image: image! }, 'not_in_list');
    }
    const hostname = `${cur.name}.${group.name}.${account.name}.${h.config.clusterDomain}`;
    return enqueue(trx, {
      kind: 'reimage', vmId: cur.id, headId: cur.head_id, userId: p.userId, now: h.now(), dialect: opts.dialect ?? 'bigv',
      // Afterwards the machine is on, with autoreboot off (BigV docs), unless the dialect says otherwise.
      args: {
        vmId: cur.id, distribution: input.distribution!, image: image!, firstBoot: firstBootFor(h.secrets, cur.guest_hostname ?? hostname, input),
        afterwards: opts.startAfterwards === false ? null : opts.afterwards ?? { power_on: 1, autoreboot_on: 0 },
      },
    });
  });
  if (vm.head_id !== null) void h.heads.kick(vm.head_id, vm.id);
  return (await getOperation(h.db, opId))!.uuid;
}
