// Resize a VM whatever its power (e24cloud `resize {cores, ram, wait_for}`, Gigas edit of cold
// fields; docs/domain.md §13.3): a machine that is meant to be on is shut down through ACPI
// (`shutdown` intent, forced off after `waitMs`), then changed and started again; one that is off is
// changed at once. The wait, change and start run in this brain after the request is answered:
// `settled` ends with them. Brain dies mid-way: the machine stays shut down, with its old size (said
// in docs/e24cloud.md), because the change is only written once the shutdown has ended.
import type { Hangar } from '../context.js';
import { Issues, forbidden } from '../errors.js';
import { holds, type Principal } from '../principal.js';
import { resolveVmById, type VmPlace } from '../resolve.js';
import type { Dialect } from '../urls.js';
import { checkCores, checkMemory } from './attributes.js';
import { powerVm } from './power.js';
import { updateVm } from './update.js';
import { operationByUuid } from '../../store/repos/operations.js';

export interface Resize { cores?: number; memoryMiB?: number; waitMs: number }

const POLL_MS = 200;

/** `operation`: the shutdown's public id when the machine had to stop first, else null. */
export async function resizeWithRestart(h: Hangar, p: Principal, at: VmPlace, input: Resize, dialect: Dialect): Promise<{ operation: string | null; settled: Promise<void> }> {
  if (!holds(p, { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id }, 'vm_admin')) throw forbidden('change_vm');
  const errs = new Issues();
  if (input.cores !== undefined) checkCores(errs, input.cores);
  if (input.memoryMiB !== undefined) checkMemory(errs, input.memoryMiB);
  errs.throwIfAny();
  const change = { ...(input.cores !== undefined ? { cores: input.cores } : {}), ...(input.memoryMiB !== undefined ? { memoryMiB: input.memoryMiB } : {}) };
  if (!at.vm.power_on) {
    await updateVm(h, p, at, change, { dialect });
    return { operation: null, settled: Promise.resolve() };
  }
  const operation = await powerVm(h, p, at, { intent: 'shutdown', timeoutMs: input.waitMs }, dialect);
  const settled = (async () => {
    // The shutdown forces the guest off at its timeout; its deadline bounds this wait too.
    for (;;) {
      const state = (await operationByUuid(h.db, operation))?.state;
      if (state === 'done') break;
      if (state !== 'queued' && state !== 'running') return; // failed or cancelled: nothing changes
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    const fresh = await resolveVmById(h.db, p, at.vm.uuid, { includeDeleted: false, forChange: true });
    await updateVm(h, p, fresh, { ...change, desiredPower: { powerOn: true } }, { dialect });
  })().catch((err) => h.log.error({ err, vm: at.vm.uuid }, 'resize after shutdown failed'));
  return { operation, settled };
}
