// A VM's CD and what it boots from (docs/vm-ops.md). Mounting an ISO (from the library by id, or a
// URL under the URL rules of core/urls.ts) sets the VM's cdrom_url; a running machine gets it in its
// CD drive at once (a vm.cdrom operation: QMP blockdev-change-medium), a stopped one at its next boot.
// `boot_from` cdrom boots the ISO through the firmware before the discs (an installer) from the next
// boot; with no ISO mounted the machine boots its disc.
import type { Hangar } from '../context.js';
import { forbidden, invalid, Issues, refused } from '../errors.js';
import { holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import { lockLiveVm } from '../locks.js';
import { withTransaction } from '../transaction.js';
import { isoByRef, isoUrl } from '../isos.js';
import { checkCdromUrl } from './attributes.js';
import { enqueue, getOperation } from '../../operations/queue.js';
import type { Dialect } from '../urls.js';
import * as repo from '../../store/repos/vms.js';

function requireAdmin(p: Principal, at: VmPlace): void {
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('change_media');
  if (at.vm.deleted) throw refused('deleted', 'vm_deleted', {}, 'state');
}

/** `operation`: the public id of the vm.cdrom operation that changes a running machine's drive; null
 *  when the machine is off (its next boot has the ISO). */
export interface MediaChanged { cdromUrl: string | null; operation: string | null }

async function setCdrom(h: Hangar, p: Principal, at: VmPlace, url: string | null, dialect: Dialect): Promise<MediaChanged> {
  const { opId, headId } = await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    const now = h.now();
    await repo.updateVmRow(trx, vm.id, { cdrom_url: url, updated_at: now });
    if (!vm.power_on || vm.head_id === null) return { opId: null, headId: vm.head_id };
    const opId = await enqueue(trx, { kind: 'vm.cdrom', vmId: vm.id, headId: vm.head_id, userId: p.userId, args: { url }, now, dialect });
    return { opId, headId: vm.head_id };
  });
  if (opId === null) return { cdromUrl: url, operation: null };
  await h.heads.kick(headId!, at.vm.id);
  return { cdromUrl: url, operation: (await getOperation(h.db, opId))!.uuid };
}

/** Mount an ISO of the library (`isoId`: id, public id or name) or one a URL names (`url`). */
export async function mountIso(h: Hangar, p: Principal, at: VmPlace, source: { isoId?: string; url?: string }, dialect: Dialect): Promise<MediaChanged> {
  requireAdmin(p, at);
  const errs = new Issues();
  if (!source.isoId && !source.url) errs.add('isoId', 'required');
  const url = source.isoId ? await isoUrl(h, await isoByRef(h, p, source.isoId)) : checkCdromUrl(errs, source.url, dialect, h.config.urls, 'url');
  errs.throwIfAny();
  return setCdrom(h, p, at, url, dialect);
}

export function unmountIso(h: Hangar, p: Principal, at: VmPlace, dialect: Dialect): Promise<MediaChanged> {
  requireAdmin(p, at);
  return setCdrom(h, p, at, null, dialect);
}

/** What the VM boots from at its next boot: its disc, or its ISO through the firmware. */
export async function setBootFrom(h: Hangar, p: Principal, at: VmPlace, bootFrom: 'disc' | 'cdrom'): Promise<void> {
  requireAdmin(p, at);
  if (bootFrom !== 'disc' && bootFrom !== 'cdrom') throw invalid('bootFrom', 'not_in_list');
  await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    await repo.updateVmRow(trx, vm.id, { boot_from: bootFrom, updated_at: h.now() });
  });
}
