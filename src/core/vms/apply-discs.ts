// apply_disks (docs/vm-ops.md): the VM's secondary discs (all but the first, which it boots from)
// that its running machine does not have yet are hot-plugged by its head; a stopped machine gets every
// disc at its next boot. `format` first writes an empty ext4 filesystem (labelled with the disc's
// label) onto each of them that holds no data yet: a disc ever written to, or in use, is never formatted.
// The operation's result names the discs it formatted.
import type { Hangar } from '../context.js';
import { forbidden, refused } from '../errors.js';
import { holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import { lockLiveVm } from '../locks.js';
import { withTransaction } from '../transaction.js';
import { enqueue, getOperation } from '../../operations/queue.js';
import type { Dialect } from '../urls.js';
import { discsOf } from '../../store/repos/discs.js';

/** The public id of the disc.apply operation. */
export async function applyDiscs(h: Hangar, p: Principal, at: VmPlace, input: { format?: boolean }, dialect: Dialect): Promise<string> {
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('change_discs');
  if (at.vm.deleted) throw refused('deleted', 'vm_deleted_discs', {}, 'state');
  const { opId, headId } = await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    if (vm.head_id === null) throw refused('virtual_machine', 'vm_not_placed', {}, 'state');
    const discs = (await discsOf(trx, vm.id)).slice(1).map((d) => ({ id: d.id, vmId: vm.id, label: d.label, grade: d.storage_grade, size: d.size }));
    const opId = await enqueue(trx, { kind: 'disc.apply', vmId: vm.id, headId: vm.head_id, userId: p.userId, args: { discs, format: input.format ?? false }, now: h.now(), dialect });
    return { opId, headId: vm.head_id };
  });
  await h.heads.kick(headId, at.vm.id);
  return (await getOperation(h.db, opId))!.uuid;
}
