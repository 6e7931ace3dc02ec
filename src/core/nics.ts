// Adding a network interface to a VM (Gigas *Add new interface*, S003): a NIC on one of the networks
// the VM's account may use, with addresses from the pool on a public network. It is desired state:
// a stopped VM's head gives the guest the interface at its next start; on a running VM an operation
// (`nic.attach`) has its head hot-plug it now. Its own rate limit (Mbit/s, 0: none) reaches the head
// with the desired state, from the start or the hot-plug on. A second NIC on the same public network is refused (S003: 412).
import type { Hangar } from './context.js';
import { DomainError, forbidden, invalid } from './errors.js';
import { holds, type Principal } from './principal.js';
import type { VmPlace } from './resolve.js';
import { listNetworks } from './networks.js';
import { lockLiveVm } from './locks.js';
import { withTransaction } from './transaction.js';
import { allocateIp } from './ipam.js';
import { macFor } from './vms/create.js';
import { listNics } from './network.js';
import type { NicView } from './views.js';
import * as repo from '../store/repos/vms.js';
import { nicNetworksOf } from '../store/repos/vm-settings.js';
import { enqueue, getOperation } from '../operations/queue.js';
import type { Dialect } from './urls.js';

/** NICs a VM may have (one per network it needs; a guest's tap count is the head's cost). */
export const NICS_PER_VM = 8;
export const NIC_LABEL_MAX = 63;

/** `operation`: the public id of the hot-plug on a running VM (null: stopped, or not placed on a head). */
export interface NicAdded { nic: NicView; pending: boolean; operation: string | null }

export async function addNic(h: Hangar, p: Principal, at: VmPlace, input: { networkId: number; label?: string | null; rateLimitMbps?: number | null }, dialect?: Dialect): Promise<NicAdded> {
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('change_vm_part');
  const network = (await listNetworks(h, p)).find((n) => n.id === input.networkId && (n.public || n.accountId === at.account.id));
  if (!network) throw invalid('networkId', 'not_in_list');
  const label = input.label?.trim() || null;
  if (label !== null && label.length > NIC_LABEL_MAX) throw invalid('label', 'too_long', { max: NIC_LABEL_MAX });
  const rate = input.rateLimitMbps ?? null;
  if (rate !== null && (!Number.isSafeInteger(rate) || rate < 0)) throw invalid('rateLimitMbps', 'out_of_range', { min: 0 });
  const now = h.now();
  const { nicId, on, opId, headId } = await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    const existing = await nicNetworksOf(trx, vm.id);
    if (existing.length >= NICS_PER_VM) throw invalid('networkId', 'too_many', { max: NICS_PER_VM });
    if (network.public && existing.some((n) => n.network_id === network.id)) {
      throw new DomainError({ code: 'precondition_failed', params: { reason: 'public_nic_exists' } });
    }
    const nicId = await repo.insertNic(trx, {
      vm_id: vm.id, label, mac: macFor(vm.id, existing.length), vlan_num: network.vlanNum, network_id: network.id, created_at: now, rate_limit_mbps: rate || null,
    });
    if (network.public) {
      await allocateIp(trx, 4, nicId, now);
      await allocateIp(trx, 6, nicId, now);
    }
    const on = !!vm.power_on;
    const opId = on && vm.head_id !== null
      ? await enqueue(trx, { kind: 'nic.attach', vmId: vm.id, headId: vm.head_id, userId: p.userId, args: { nicId }, now, dialect })
      : null;
    return { nicId, on, opId, headId: vm.head_id };
  });
  if (opId !== null && headId !== null) void h.heads.kick(headId, at.vm.id);
  const nic = (await listNics(h, at)).find((n) => n.id === nicId)!;
  return { nic, pending: on, operation: opId === null ? null : (await getOperation(h.db, opId))!.uuid };
}

/** Which network each of a VM's NICs is on (NIC id → network id). */
export async function nicNetworks(h: Hangar, at: VmPlace): Promise<Map<number, number | null>> {
  return new Map((await nicNetworksOf(h.db, at.vm.id)).map((n) => [n.id, n.network_id]));
}

/** Each of a VM's NICs' own rate limit in Mbit/s (NIC id → null: none; the primary's is the VM's, vm_settings). */
export async function nicRateLimits(h: Hangar, at: VmPlace): Promise<Map<number, number | null>> {
  return new Map((await nicNetworksOf(h.db, at.vm.id)).map((n) => [n.id, n.rate_limit_mbps]));
}
