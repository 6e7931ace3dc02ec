// What an account holds with no VM (docs/domain.md §11, §14): the volumes and addresses a VM deleted
// in `detach` mode left behind (e24cloud `deleteResources: 0`). Only whoever holds account_admin over
// the account (or a cluster admin) sees them: they sit in no group. A held address is attached to a
// VM of the same account as an extra address routed via the VM's primary one (as BigV's ip_create
// makes them), and an extra address is detached back to the account. A volume attaches to a powered-off
// VM of its account on the head its file is on, and a VM's disc (not the one it boots from) detaches
// back to the account: only rows change, the file (named by the disc's id) stays where it is.
import net from 'node:net';
import type { Hangar } from './context.js';
import { forbidden, invalid, notFound, refused } from './errors.js';
import { holds, type Principal } from './principal.js';
import { visibleAccounts, type VmPlace } from './resolve.js';
import { LIMITS } from './definitions.js';
import { addressAt } from './ipam.js';
import { lockLiveVm } from './locks.js';
import { withTransaction } from './transaction.js';
import type { IpPlace } from './network.js';
import type { DiscPlace } from './discs.js';
import { loadVmView } from './views.js';
import * as nics from '../store/repos/network.js';
import type { AccountRow, DiscRow } from '../store/schema.js';
import * as discs from '../store/repos/discs.js';
import * as ipam from '../store/repos/ipam.js';

async function heldBy(h: Hangar, p: Principal): Promise<AccountRow[]> {
  return (await visibleAccounts(h.db, p)).filter((a) => holds(p, { accountId: a.id }, 'account_admin'));
}

export interface HeldVolume { disc: DiscRow; zoneId: number | null; account: AccountRow }
/** `uuid`: the address's public id (migration 025). */
export interface HeldAddress { uuid: string; address: string; account: AccountRow }

export async function heldVolumes(h: Hangar, p: Principal): Promise<HeldVolume[]> {
  const accounts = await heldBy(h, p);
  const byId = new Map(accounts.map((a) => [a.id, a]));
  return (await discs.heldVolumes(h.db, accounts.map((a) => a.id))).map(({ zone_id, ...disc }) => ({ disc, zoneId: zone_id, account: byId.get(disc.account_id!)! }));
}

export async function heldAddresses(h: Hangar, p: Principal): Promise<HeldAddress[]> {
  const out: HeldAddress[] = [];
  for (const account of await heldBy(h, p)) {
    for (const a of await ipam.heldAddresses(h.db, account.id)) if (a.family === 4) out.push({ uuid: a.uuid, address: a.address, account });
  }
  return out;
}

/** A new IPv4 address from the pool, held by the caller's home account with no VM (e24cloud `PUT
 *  /v2/ipv4-addresses`): its public id. */
export async function allocateHeldAddress(h: Hangar, p: Principal, account: AccountRow): Promise<string> {
  if (!holds(p, { accountId: account.id }, 'account_admin')) throw forbidden('add_ips');
  return withTransaction(h.db, async (trx) => {
    for (const range of await ipam.rangesOf(trx, 4)) {
      let address = await ipam.takeFreeAddressFor(trx, range.id, account.id);
      if (address === null) {
        const offset = await ipam.takeNextOffset(trx, range.id);
        if (offset === null) continue;
        address = addressAt(range.cidr, offset);
        await ipam.insertHeldAddress(trx, { rangeId: range.id, offset, address, family: 4, accountId: account.id, now: h.now() });
      }
      return (await ipam.addressId(trx, address))!;
    }
    throw refused('ips', 'pool_exhausted', { family: 'ipv4' }, 'no_capacity');
  });
}

/** Give a held address (by its public id) back to the pool. */
export async function releaseHeldAddress(h: Hangar, p: Principal, uuid: string): Promise<void> {
  const held = (await heldAddresses(h, p)).find((a) => a.uuid === uuid);
  if (!held || !(await ipam.releaseHeldAddress(h.db, held.account.id, uuid))) throw notFound('ip');
}

/** Put a held address (by its public id) on a VM of the same account, as an extra address routed via its primary IPv4 address. */
export async function attachHeldAddress(h: Hangar, p: Principal, uuid: string, at: VmPlace): Promise<void> {
  const held = (await heldAddresses(h, p)).find((a) => a.uuid === uuid);
  if (!held) throw notFound('ip');
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('add_ips');
  if (held.account.id !== at.account.id) throw invalid('virtual_machine_id', 'not_in_list');
  const view = await loadVmView(h.db, h.config.clusterDomain, at.vm.id);
  const nic = view.nics.find((n) => n.ips.some((a) => net.isIP(a) === 4));
  if (!nic) throw refused('family', 'no_primary_address', { family: 'ipv4' }, 'state');
  const via = nic.ips.find((a) => net.isIP(a) === 4)!;
  await withTransaction(h.db, async (trx) => {
    await lockLiveVm(trx, at);
    if (Number((await nics.countExtraIps(trx, at.vm.id)).n) + 1 > LIMITS.extraIpsPerVm) throw refused('addresses', 'extra_ips', { max: LIMITS.extraIpsPerVm }, 'too_many');
    if (!(await ipam.attachHeldAddress(trx, held.account.id, uuid, nic.id, via))) throw notFound('ip');
  });
}

/** Take an extra address off its VM and keep it held by the VM's account (a primary address goes only with its VM). */
export async function detachAddress(h: Hangar, p: Principal, ip: IpPlace): Promise<void> {
  const { at } = ip;
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('change_addresses');
  if (ip.routedVia === null) throw refused('address', 'primary_address', {}, 'state');
  if (!(await ipam.detachToAccount(h.db, ip.address, ip.nicId, at.account.id))) throw notFound('ip');
}

const placeOf = (at: VmPlace) => ({ accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id });

/** Take a disc off its powered-off VM; the VM's account holds it as a volume with no VM. */
export async function detachVolume(h: Hangar, p: Principal, at: DiscPlace): Promise<void> {
  // Held volumes are the account admin's to see: a vm_admin alone would lose sight of it.
  if (!holds(p, placeOf(at), 'vm_admin') || !holds(p, { accountId: at.account.id }, 'account_admin')) throw forbidden('change_discs');
  await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    if (vm.power_on) throw refused('virtual_machine', 'power_off_to_attach', {}, 'state');
    if ((await discs.firstDisc(trx, vm.id))?.id === at.disc.id) throw refused('disc', 'boot_disc', {}, 'state');
    if (!(await discs.detachToAccount(trx, at.disc.id, vm.id, at.account.id))) throw notFound('disc');
  });
}

/** Put a volume the account holds on a powered-off VM of the same account, on the head its file is on. */
export async function attachHeldVolume(h: Hangar, p: Principal, discUuid: string, at: VmPlace): Promise<void> {
  const held = (await heldVolumes(h, p)).find((v) => v.disc.uuid === discUuid);
  if (!held) throw notFound('disc');
  if (!holds(p, placeOf(at), 'vm_admin')) throw forbidden('change_discs');
  if (held.account.id !== at.account.id) throw invalid('virtual_machine_id', 'not_in_list');
  await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    if (vm.power_on) throw refused('virtual_machine_id', 'power_off_to_attach', {}, 'state');
    const head = held.disc.storage_pool_id === null ? null : await discs.poolHead(trx, held.disc.storage_pool_id);
    if (head === null || head !== vm.head_id) throw refused('virtual_machine_id', 'different_heads', {}, 'state');
    if (Number((await discs.countDiscs(trx, vm.id)).n) >= LIMITS.discsPerVm) throw refused('virtual_machine_id', 'target_discs_full', { max: LIMITS.discsPerVm }, 'too_many');
    if (await discs.labelUsed(trx, vm.id, held.disc.label)) throw refused('label', 'label_on_target', {}, 'taken');
    if (!(await discs.attachToVm(trx, held.disc.id, held.account.id, vm.id))) throw notFound('disc');
  });
}
