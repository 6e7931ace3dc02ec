// NICs and IP addresses: extra IPs routed via a NIC's primary address, rDNS, swapping addresses.
import net from 'node:net';
import type { Hangar } from './context.js';
import { invalid, refused, notFound, forbidden } from './errors.js';
import { holds, type Principal } from './principal.js';
import { matchesRef } from './ids.js';
import { resolveVmById, whenNotFound, type VmPlace } from './resolve.js';
import { LIMITS } from './definitions.js';
import { allocateIp } from './ipam.js';
import { lockLiveVm, lockVms } from './locks.js';
import { loadVmViews, type NicView } from './views.js';
import { withTransaction } from './transaction.js';
import * as nics from '../store/repos/network.js';

export async function listNics(h: Hangar, at: VmPlace): Promise<NicView[]> {
  const [view] = await loadVmViews(h.db, h.config.clusterDomain, { kind: 'ids', ids: [at.vm.id] }, { includeDeleted: true, children: true });
  return view?.nics ?? [];
}

export async function resolveNic(h: Hangar, at: VmPlace, segment: string): Promise<NicView> {
  const nic = (await listNics(h, at)).find((n) => matchesRef(n, n.label, segment));
  if (!nic) throw notFound('network_interface');
  return nic;
}

/** The non-nested /nics/{id}: by id or public id, on a VM the caller can see. */
export async function resolveNicById(h: Hangar, p: Principal, segment: string): Promise<NicView> {
  const vmId = await nics.vmOfNic(h.db, segment);
  if (vmId === undefined) throw notFound('network_interface');
  const at = await resolveVmById(h.db, p, vmId, { includeDeleted: true }).catch(whenNotFound(() => notFound('network_interface')));
  return resolveNic(h, at, segment);
}

export interface IpCreateInput { addresses?: number; family?: string; reason?: string; contiguous?: boolean }

/** `ip_create`: extra addresses routed via the NIC's primary address of the same family. */
export async function createIps(h: Hangar, p: Principal, at: VmPlace, nic: NicView, input: IpCreateInput): Promise<string[]> {
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('add_ips');
  if (at.vm.deleted) throw refused('deleted', 'vm_deleted', {}, 'state');
  const family = input.family ?? 'ipv4';
  if (family !== 'ipv4' && family !== 'ipv6') throw invalid('family', 'not_in_list');
  const count = input.addresses ?? 1;
  if (!Number.isInteger(count) || count < 1) throw invalid('addresses', 'out_of_range', { min: 1 });
  if (input.contiguous) throw refused('contiguous', 'no_contiguous');
  const fam = family === 'ipv4' ? 4 : 6;
  const via = nic.ips.find((a) => net.isIP(a) === fam);
  if (!via) throw refused('family', 'no_primary_address', { family }, 'state');
  return withTransaction(h.db, async (trx) => {
    // Locked, so that two requests cannot both pass the limit check, nor add to a VM being purged.
    await lockLiveVm(trx, at);
    if (!(await nics.nicOnVm(trx, nic.id, at.vm.id))) throw notFound('network_interface');
    const extra = await nics.countExtraIps(trx, at.vm.id);
    if (Number(extra.n) + count > LIMITS.extraIpsPerVm) throw refused('addresses', 'extra_ips', { max: LIMITS.extraIpsPerVm }, 'too_many');
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push((await allocateIp(trx, fam, nic.id, h.now(), { routedVia: via, reason: input.reason ?? '' })).address);
    return out;
  });
}

export interface IpPlace { address: string; rdns: string | null; routedVia: string | null; nicId: number; at: VmPlace }

export async function resolveIp(h: Hangar, p: Principal, address: string): Promise<IpPlace> {
  const row = await nics.attachedIp(h.db, address);
  if (!row || row.nic_id === null) throw notFound('ip');
  const at = await resolveVmById(h.db, p, row.vm_id, { includeDeleted: true }).catch(whenNotFound(() => notFound('ip')));
  return { address: row.address, rdns: row.rdns, routedVia: row.routed_via, nicId: row.nic_id, at };
}

function requireVmAdmin(p: Principal, at: VmPlace): void {
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('change_addresses');
}

const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export async function setRdns(h: Hangar, p: Principal, ip: IpPlace, rdns: string | null | undefined): Promise<IpPlace> {
  requireVmAdmin(p, ip.at);
  if (rdns === undefined) return ip;
  if (rdns !== null && rdns !== '' && !HOSTNAME.test(rdns)) throw invalid('rdns', 'invalid');
  const value = rdns === '' ? null : rdns;
  // Only while the address is still on the NIC it was resolved on: it may have been given back and
  // handed to another machine since.
  const r = await nics.setIpRdns(h.db, ip.address, ip.nicId, value);
  if (!r) throw notFound('ip');
  return { ...ip, rdns: value };
}

/** Only extra addresses can be given back; a NIC's primary address goes with its VM. */
export async function deleteIp(h: Hangar, p: Principal, ip: IpPlace): Promise<void> {
  requireVmAdmin(p, ip.at);
  if (ip.routedVia === null) throw refused('address', 'primary_address', {}, 'state');
  const r = await nics.releaseExtraIp(h.db, ip.address, ip.nicId);
  if (!r) throw notFound('ip'); // given back (and perhaps handed out again) meanwhile
}

export async function swapIps(h: Hangar, p: Principal, input: { virtual_machine_1_id: number; virtual_machine_2_id: number; move_additional_ips?: boolean }): Promise<void> {
  const a = await resolveVmById(h.db, p, input.virtual_machine_1_id, { includeDeleted: false }).catch(whenNotFound(() => refused('virtual_machine_1_id', 'not_visible_vm')));
  const b = await resolveVmById(h.db, p, input.virtual_machine_2_id, { includeDeleted: false }).catch(whenNotFound(() => refused('virtual_machine_2_id', 'not_visible_vm')));
  requireVmAdmin(p, a);
  requireVmAdmin(p, b);
  if (a.vm.id === b.vm.id) throw refused('virtual_machine_2_id', 'same_vm');
  if (a.vm.power_on || b.vm.power_on) throw refused('virtual_machine_1_id', 'power_off_both', {}, 'state');
  await withTransaction(h.db, async (trx) => {
    const locked = await lockVms(trx, [a.vm.id, b.vm.id]);
    for (const [field, vm] of [['virtual_machine_1_id', locked.get(a.vm.id)], ['virtual_machine_2_id', locked.get(b.vm.id)]] as const) {
      if (!vm || vm.deleted) throw refused(field, 'not_visible_vm');
      if (vm.power_on) throw refused('virtual_machine_1_id', 'power_off_both', {}, 'state');
    }
    const nicOf = async (vmId: number) => {
      const nic = await nics.firstNic(trx, vmId);
      if (nic === undefined) throw refused('virtual_machine_1_id', 'no_nic', {}, 'state');
      return nic;
    };
    const [na, nb] = [await nicOf(a.vm.id), await nicOf(b.vm.id)];
    const moving = (nicId: number) => nics.ipsOfNic(trx, nicId, !input.move_additional_ips);
    const [fromA, fromB] = [await moving(na), await moving(nb)];
    await nics.moveIps(trx, fromA.map((r) => r.id), nb);
    await nics.moveIps(trx, fromB.map((r) => r.id), na);
    if (!input.move_additional_ips) {
      // Extra addresses that stayed behind are now routed via the primary address their NIC received.
      for (const [nic, received] of [[na, fromB], [nb, fromA]] as const) {
        for (const fam of [4, 6]) {
          const primary = received.find((r) => r.family === fam && r.routed_via === null);
          if (primary) await nics.rerouteExtras(trx, nic, fam, primary.address);
        }
      }
    }
  });
}
