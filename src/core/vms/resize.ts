// Resize a VM whatever its power (e24cloud `resize {cores, ram, wait_for}`; docs/domain.md §13.3): a
// machine that is off is changed at once; one that is meant to be on gets a `vm.resize` intent, one
// operation of the core followed to its end by its public id, whose steps its head runs in order:
//   1. `vm.power.shutdown` (ACPI, forced off after `waitMs`); the transaction that records its end
//      applies the change (cores and memory claimed on the head), or fails it when the head has no room;
//   2. `vm.power.start`: the machine boots with its new size.
// The VM's desired power stays on throughout (a stop asked for meanwhile is kept: the start step then
// leaves it off), and its lock is the intent's until the last step ends. Nothing runs in the brain
// between the steps: a brain or head that stops mid-way leaves the intent in the store, and its steps
// are queued again when the head registers anew or its lease passes (RESUMABLE in operations/kinds.ts),
// so the next brain finishes it: the change applied, the VM started again.
import type { Hangar } from '../context.js';
import { Issues, conflict, forbidden, refused } from '../errors.js';
import { holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import type { Dialect } from '../urls.js';
import { checkCores, checkMemory } from './attributes.js';
import { checkTimeout } from './power.js';
import { updateVm } from './update.js';
import { lockLiveVm, lockVm } from '../locks.js';
import { withTransaction } from '../transaction.js';
import { claimCompute } from '../../scheduler/place.js';
import { updateVmRow } from '../../store/repos/vms.js';
import { operationById } from '../../store/repos/operations.js';
import type { OperationRow } from '../../store/schema.js';
import type { Trx } from '../../store/repos/types.js';
import { conflicting, enqueue, getOperation } from '../../operations/queue.js';
import { DEADLINES, storedArgs } from '../../operations/kinds.js';

export interface Resize { cores?: number; memoryMiB?: number; waitMs: number }

/** `operation`: the resize intent's public id when the machine had to stop first; null when it was
 *  off and the change is made already. */
export async function resizeVm(h: Hangar, p: Principal, at: VmPlace, input: Resize, dialect: Dialect): Promise<{ operation: string | null }> {
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('change_vm');
  const errs = new Issues();
  if (input.cores !== undefined) checkCores(errs, input.cores);
  if (input.memoryMiB !== undefined) checkMemory(errs, input.memoryMiB);
  errs.throwIfAny();
  const timeoutMs = checkTimeout(input.waitMs);
  const change = { ...(input.cores !== undefined ? { cores: input.cores } : {}), ...(input.memoryMiB !== undefined ? { memoryMiB: input.memoryMiB } : {}) };
  const now = h.now();
  const asked = await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    if (!vm.power_on) return null;
    if (vm.head_id === null) throw refused('powerOn', 'vm_not_placed', {}, 'state');
    const busy = await conflicting(trx, vm.id, 'vm.resize');
    if (busy) throw conflict(busy.kind === 'vm.resize' ? 'resizing' : 'vm_busy', busy.uuid);
    // Refused now when the head has no room today (the claim is made when the change is applied).
    const dCores = (input.cores ?? vm.cores) - vm.cores;
    const dMemory = (input.memoryMiB ?? vm.memory) - vm.memory;
    if (dCores || dMemory) {
      if (!(await claimCompute(trx, vm.head_id, dCores, dMemory))) throw refused('memoryMiB', 'head_full', {}, 'no_capacity');
      await claimCompute(trx, vm.head_id, -dCores, -dMemory);
    }
    // The steps share the intent's deadline (room for the longest shutdown): the start waits for the whole shutdown.
    const deadline = now + DEADLINES['vm.resize'];
    const base = { vmId: vm.id, headId: vm.head_id, userId: p.userId, now, dialect, deadline };
    const parentId = await enqueue(trx, { ...base, headId: null, kind: 'vm.resize', args: { cores: input.cores ?? null, memoryMiB: input.memoryMiB ?? null } });
    await enqueue(trx, { ...base, kind: 'vm.power.shutdown', args: { timeoutMs }, parentId });
    await enqueue(trx, { ...base, kind: 'vm.power.start', args: {}, parentId });
    return { parentId, headId: vm.head_id };
  });
  if (!asked) {
    // Off (or switched off since it was read): changed at once, and it stays off.
    await updateVm(h, p, at, change, { dialect });
    return { operation: null };
  }
  void h.heads.kick(asked.headId, at.vm.id);
  return { operation: (await getOperation(h.db, asked.parentId))!.uuid };
}

/**
 * The act a step's successful end carries for its intent, in the transaction that records that end:
 * a resize's shutdown applies the change, its cores and memory claimed on the head. An error (the
 * head has no room now) fails the step, and the intent with it; the machine keeps its size and is
 * started again (its desired power is still on).
 */
export async function resizeStepDone(trx: Trx, step: OperationRow, now: number): Promise<string | null> {
  if (step.kind !== 'vm.power.shutdown' || step.parent_id === null || step.vm_id === null) return null;
  const intent = await operationById(trx, step.parent_id);
  if (intent?.kind !== 'vm.resize') return null;
  const { cores, memoryMiB } = storedArgs('vm.resize', intent.args);
  const vm = await lockVm(trx, step.vm_id);
  if (!vm) return 'the machine is gone';
  const dCores = (cores ?? vm.cores) - vm.cores;
  const dMemory = (memoryMiB ?? vm.memory) - vm.memory;
  if ((dCores || dMemory) && vm.head_id !== null && !(await claimCompute(trx, vm.head_id, dCores, dMemory))) {
    return `its head has no room for ${cores ?? vm.cores} cores and ${memoryMiB ?? vm.memory} MiB now: the machine keeps its size`;
  }
  await updateVmRow(trx, vm.id, { cores: cores ?? vm.cores, memory: memoryMiB ?? vm.memory, updated_at: now });
  return null;
}
