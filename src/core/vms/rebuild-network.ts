// rebuild_network (docs/vm-ops.md): the guest's network configuration is the `network` file of its
// config drive, written by its head from the VM's NICs and addresses (bridge: static address, prefix
// and gateway of its first NIC; user-mode: DHCP), which the guest reads at every boot. The head
// rewrites it now; it applies at the next boot, or at once with `applyNow` on a running machine, which
// its head then reboots (ACPI, reset after `timeoutMs` when the guest ignores it).
import type { Hangar } from '../context.js';
import { forbidden, refused } from '../errors.js';
import { holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import { lockLiveVm } from '../locks.js';
import { withTransaction } from '../transaction.js';
import { enqueue, getOperation } from '../../operations/queue.js';
import { checkTimeout } from './power.js';
import type { Dialect } from '../urls.js';

/** `applies`: when the guest takes the new configuration. */
export interface NetworkRebuilt { operation: string; applies: 'now' | 'next_boot' }

export async function rebuildNetwork(h: Hangar, p: Principal, at: VmPlace, input: { applyNow?: boolean; timeoutMs?: number }, dialect: Dialect): Promise<NetworkRebuilt> {
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('change_network');
  if (at.vm.deleted) throw refused('deleted', 'vm_deleted', {}, 'state');
  const timeoutMs = checkTimeout(input.timeoutMs ?? h.config.shutdownTimeoutMs);
  const { opId, headId, now } = await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    if (vm.head_id === null) throw refused('virtual_machine', 'vm_not_placed', {}, 'state');
    const now = !!vm.power_on && (input.applyNow ?? false);
    const opId = await enqueue(trx, { kind: 'vm.network.rebuild', vmId: vm.id, headId: vm.head_id, userId: p.userId, args: { applyNow: now, timeoutMs }, now: h.now(), dialect });
    return { opId, headId: vm.head_id, now };
  });
  void h.heads.kick(headId, at.vm.id);
  return { operation: (await getOperation(h.db, opId))!.uuid, applies: now ? 'now' : 'next_boot' };
}
