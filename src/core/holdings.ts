// What an account holds with no VM (docs/domain.md §11, §14): the volumes and addresses a VM deleted
// in `detach` mode left behind (e24cloud `deleteResources: 0`). Only whoever holds account_admin over
// the account (or a cluster admin) sees them: they sit in no group. A held address is attached to a
// VM of the same account as an extra address routed via the VM's primary one (as BigV's ip_create
// makes them), and an extra address is detached back to the account. A volume attaches to a powered-off
// VM of its account on the head its file is on, and a VM's disc (not the one it boots from) detaches
// back to the account: only rows change, the file (named by the disc's id) stays where it is. A volume
// is also made with no VM (its space claimed on a head of the zone, its file made there) and deleted
// (its file removed, its space back): acts of the head outside any VM's order, operations with no VM
// (`HeadDispatch.kick(head, null)`). While one of those runs on a volume, it is not attached, deleted
// or imaged (`volume_busy`, with the operation).
import net from 'node:net';
import type { Hangar } from './context.js';
import { conflict, forbidden, invalid, notFound, refused } from './errors.js';
import { holds, type Principal } from './principal.js';
import { visibleAccounts, type VmPlace } from './resolve.js';
import { LIMITS } from './definitions.js';
import { addressAt } from './ipam.js';
import { lockLiveVm } from './locks.js';
import { checkDiscLabel, checkDiscSize, checkGrade } from './vms/attributes.js';
import type { Dialect } from './urls.js';
import { placeVolume, releaseDisc } from '../scheduler/place.js';
import { enqueue, getOperation } from '../operations/queue.js';
import { unendedOn, unendedWithoutVm } from '../store/repos/operations.js';
import type { Trx } from '../store/repos/types.js';
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
    // An act of the VM's head on this disc (an image made from it) keeps it on the VM until it ends.
    const busy = naming(await unendedOn(trx, vm.id), at.disc.id);
    if (busy) throw conflict('volume_busy', busy.uuid);
    if (!(await discs.detachToAccount(trx, at.disc.id, vm.id, at.account.id))) throw notFound('disc');
  });
}

/** The operation not yet ended that names this disc in its args, among those given. */
const naming = (ops: { uuid: string; args: string }[], discId: number) => ops.find((o) => (JSON.parse(o.args) as { disc?: { id?: number } }).disc?.id === discId);

/** Refused while an act on the volume (its file made, removed or copied) has not ended. */
export async function checkVolumeIdle(trx: Trx, headId: number | null, discId: number): Promise<void> {
  const busy = headId === null ? undefined : naming(await unendedWithoutVm(trx, headId), discId);
  if (busy) throw conflict('volume_busy', busy.uuid);
}

/** A new volume held by the account with no VM (e24cloud `PUT /v2/storage-volumes`): its space taken
 *  in the grade on a head of the zone, its file made there by a `disc.create` operation with no VM. */
export async function createHeldVolume(
  h: Hangar, p: Principal, account: AccountRow, input: { label: string; size: number; grade: string; zone: string }, dialect: Dialect,
): Promise<{ disc: DiscRow; operation: string }> {
  if (!holds(p, { accountId: account.id }, 'account_admin')) throw forbidden('change_discs');
  const labelErr = checkDiscLabel(input.label);
  if (labelErr) throw invalid('label', labelErr.code, labelErr.params);
  const sizeErr = checkDiscSize(input.size);
  if (sizeErr) throw invalid('size', sizeErr.code, sizeErr.params);
  const gradeErr = checkGrade(input.grade);
  if (gradeErr) throw invalid('storage_grade', gradeErr.code, gradeErr.params);
  const now = h.now();
  const { disc, opId, headId } = await withTransaction(h.db, async (trx) => {
    const { headId, poolId } = await placeVolume(trx, { zone: input.zone, grade: input.grade, size: input.size });
    const disc = await discs.insertHeldVolume(trx, { accountId: account.id, label: input.label, grade: input.grade, size: input.size, poolId, now });
    const opId = await enqueue(trx, { kind: 'disc.create', vmId: null, headId, userId: p.userId, args: { disc: volumeRef(disc) }, now, dialect });
    return { disc, opId, headId };
  });
  await h.heads.kick(headId, null);
  const op = (await getOperation(h.db, opId))!;
  // A failed create took its row and space back with it (operations/queue.ts effects).
  if (op.state === 'failed') throw refused('size', 'head_failed', { detail: op.error ?? null }, 'failed');
  return { disc, operation: op.uuid };
}

/** Delete a volume the account holds: its row goes and its space comes back now; its head removes the
 *  file (a `disc.delete` operation with no VM, whose public id this returns). */
export async function deleteHeldVolume(h: Hangar, p: Principal, discUuid: string, dialect: Dialect): Promise<string | null> {
  const held = (await heldVolumes(h, p)).find((v) => v.disc.uuid === discUuid);
  if (!held) throw notFound('disc');
  const headId = held.disc.storage_pool_id === null ? null : await discs.poolHead(h.db, held.disc.storage_pool_id);
  const now = h.now();
  const opId = await withTransaction(h.db, async (trx) => {
    if (!(await discs.lockHeldVolume(trx, held.disc.id, held.account.id))) throw notFound('disc');
    await checkVolumeIdle(trx, headId, held.disc.id);
    const gone = await discs.deleteHeldVolume(trx, held.disc.id, held.account.id);
    if (!gone) throw notFound('disc');
    await releaseDisc(trx, gone.storage_pool_id, gone.size);
    if (headId === null) return null;
    return enqueue(trx, { kind: 'disc.delete', vmId: null, headId, userId: p.userId, args: { disc: volumeRef(gone) }, now, dialect });
  });
  if (opId === null || headId === null) return null;
  await h.heads.kick(headId, null);
  return (await getOperation(h.db, opId))!.uuid;
}

/** A volume as its head's driver names it (no VM). */
export const volumeRef = (d: DiscRow) => ({ id: d.id, vmId: null, label: d.label, grade: d.storage_grade, size: d.size });

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
    if (!(await discs.lockHeldVolume(trx, held.disc.id, held.account.id))) throw notFound('disc');
    await checkVolumeIdle(trx, head, held.disc.id);
    if (Number((await discs.countDiscs(trx, vm.id)).n) >= LIMITS.discsPerVm) throw refused('virtual_machine_id', 'target_discs_full', { max: LIMITS.discsPerVm }, 'too_many');
    if (await discs.labelUsed(trx, vm.id, held.disc.label)) throw refused('label', 'label_on_target', {}, 'taken');
    if (!(await discs.attachToVm(trx, held.disc.id, held.account.id, vm.id))) throw notFound('disc');
  });
}
