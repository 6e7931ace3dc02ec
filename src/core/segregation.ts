// Segregation (anti-affinity, docs/domain.md §19): pairs of VMs of one account that must not share a
// head. Placement honours them (scheduler/segregation.ts). A running pair already sharing a head is
// left alone ("actual segregation will take place on reboot", S003): only the next placement moves it.
import * as repo from '../store/repos/segregation.js';
import { canSeeVm, holds, type Principal } from './principal.js';
import { forbidden, notFound, refused } from './errors.js';
import { lockVms } from './locks.js';
import { withTransaction } from './transaction.js';
import type { VmPlace } from './resolve.js';
import type { Hangar } from './context.js';

export interface Segregation {
  id: number; uuid: string;
  /** The other VM of the pair. */
  vmId: number; vmUuid: string;
  createdByUserId: number | null; createdAt: number;
}

const placeOf = (at: VmPlace) => ({ accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id });

/** Both VMs readable (else 404), changeable by the caller (else 403), distinct, live and of one account. */
function checkPair(p: Principal, at: VmPlace, target: VmPlace): void {
  for (const v of [at, target]) if (!canSeeVm(p, placeOf(v))) throw notFound('virtual_machine');
  for (const v of [at, target]) if (!holds(p, placeOf(v), 'vm_admin')) throw forbidden('change_vm_part');
  if (at.vm.id === target.vm.id) throw refused('target', 'same_vm');
  if (at.account.id !== target.account.id) throw refused('target', 'other_account');
}

/** Keep two VMs on different heads from their next placement on. Adding a pair that is there already
 *  changes nothing (Gigas `PUT`): `created` says which. */
export async function segregate(h: Hangar, p: Principal, at: VmPlace, target: VmPlace): Promise<{ created: boolean }> {
  checkPair(p, at, target);
  return withTransaction(h.db, async (trx) => {
    const rows = await lockVms(trx, [at.vm.id, target.vm.id]);
    for (const v of [at, target]) {
      const row = rows.get(v.vm.id);
      if (!row || row.group_id !== v.group.id) throw notFound('virtual_machine');
      if (row.deleted) throw refused(v === at ? 'deleted' : 'target', 'vm_deleted', {}, 'state');
    }
    return { created: await repo.insertPair(trx, at.vm.id, target.vm.id, p.userId, h.now()) };
  });
}

/** Let two VMs share a head again. NotFound when they were not a pair. */
export async function unsegregate(h: Hangar, p: Principal, at: VmPlace, target: VmPlace): Promise<void> {
  for (const v of [at, target]) if (!canSeeVm(p, placeOf(v))) throw notFound('virtual_machine');
  for (const v of [at, target]) if (!holds(p, placeOf(v), 'vm_admin')) throw forbidden('change_vm_part');
  const gone = await withTransaction(h.db, async (trx) => {
    await lockVms(trx, [at.vm.id, target.vm.id]);
    return repo.deletePair(trx, at.vm.id, target.vm.id);
  });
  if (!gone) throw notFound('segregation');
}

/** A VM's pairs, lowest partner id first; a partner the caller may not see is not shown (§0 Visibility). */
export async function segregations(h: Hangar, p: Principal, at: VmPlace): Promise<Segregation[]> {
  if (!canSeeVm(p, placeOf(at))) throw notFound('virtual_machine');
  const pairs = await repo.pairsOf(h.db, at.vm.id);
  return pairs.filter((r) => canSeeVm(p, { accountId: at.account.id, groupId: r.partnerGroupId, vmId: r.partnerId }))
    .map((r) => ({ id: r.id, uuid: r.uuid, vmId: r.partnerId, vmUuid: r.partnerUuid, createdByUserId: r.createdByUserId, createdAt: r.createdAt }));
}

/** Gigas `strict_virtual_machine_id`: the lowest-id partner the caller may see, or null (S003 *Entities*). */
export async function strictVmId(h: Hangar, p: Principal, at: VmPlace): Promise<number | null> {
  return (await segregations(h, p, at))[0]?.vmId ?? null;
}
