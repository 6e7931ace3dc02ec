// Power intents in the domain's words (docs/domain.md §13.3): start, stop (hard), shutdown (ACPI,
// forced off after a timeout), reboot (ACPI, started again when the guest halts, hard reset after a
// timeout), reset (hard), cycle (hard stop, then start). Each is an operation its VM's head runs and
// finishes (heads/agent.ts), so a caller follows it to its end (GET /operations/{id}?wait=).
//
// The desired-state columns end up as the result says: start and stop set `power_on` when asked
// (a desired-state change, accepted while another operation holds the VM and converged after it);
// a shutdown sets `power_on` off when it ends; reboot, reset and cycle leave both columns alone
// (a reboot never touches `autoreboot_on`). A dialect's own power table (BigV's: api/bigv/power.ts)
// maps its requests onto these intents or onto desired state.
import type { Transaction } from 'kysely';
import type { Hangar } from '../context.js';
import { conflict, forbidden, invalid, refused } from '../errors.js';
import { holds, type Principal } from '../principal.js';
import type { VmPlace } from '../resolve.js';
import type { Dialect } from '../urls.js';
import type { Database, OperationRow } from '../../store/schema.js';
import { conflicting, enqueue, getOperation } from '../../operations/queue.js';
import { MAX_POWER_TIMEOUT_MS, type OperationKind, type OperationResult } from '../../operations/kinds.js';
import { lockLiveVm } from '../locks.js';
import { withTransaction } from '../transaction.js';
import { updateVmRow } from '../../store/repos/vms.js';

export type PowerIntent =
  | { intent: 'start' }
  | { intent: 'stop' }
  /** `timeoutMs`: how long the guest has to halt before it is forced off (default: the cluster's). */
  | { intent: 'shutdown'; timeoutMs?: number }
  /** `timeoutMs`: how long the guest has to halt before it is reset (default: the cluster's). */
  | { intent: 'reboot'; timeoutMs?: number }
  | { intent: 'reset' }
  | { intent: 'cycle' };

export type PowerIntentName = PowerIntent['intent'];
export const POWER_INTENTS: readonly PowerIntentName[] = ['start', 'stop', 'shutdown', 'reboot', 'reset', 'cycle'];

/** The operation kind of each intent. */
export const POWER_KINDS = {
  start: 'vm.power.start', stop: 'vm.power.stop', shutdown: 'vm.power.shutdown',
  reboot: 'vm.power.reboot', reset: 'vm.power.reset', cycle: 'vm.power.cycle',
} as const satisfies Record<PowerIntentName, OperationKind>;

type PowerKind = (typeof POWER_KINDS)[PowerIntentName];
const isPowerKind = (kind: string): kind is PowerKind => Object.values<string>(POWER_KINDS).includes(kind);

/** Intents that act on a running guest: refused when the machine is not meant to be on. */
const NEEDS_ON: ReadonlySet<PowerIntentName> = new Set(['shutdown', 'reboot', 'reset', 'cycle']);

/**
 * Ask for a power intent on a VM: its operation's public id. The operation is written in the same
 * transaction as the desired-state change it carries, then its head is told to look.
 */
export async function powerVm(h: Hangar, p: Principal, at: VmPlace, req: PowerIntent, dialect: Dialect | null = null): Promise<string> {
  const { vm, group, account } = at;
  if (!holds(p, { accountId: account.id, groupId: group.id, vmId: vm.id }, 'vm_admin')) throw forbidden('power_vm');
  const timeoutMs = req.intent === 'shutdown' || req.intent === 'reboot' ? checkTimeout(req.timeoutMs ?? h.config.shutdownTimeoutMs) : 0;
  const now = h.now();
  const { opId, headId } = await withTransaction(h.db, async (trx) => {
    const cur = await lockLiveVm(trx, at);
    if (cur.head_id === null) throw refused('powerOn', 'vm_not_placed', {}, 'state');
    if (req.intent === 'start' && account.suspended && !cur.power_on) throw forbidden('account_suspended_power');
    if (NEEDS_ON.has(req.intent) && !cur.power_on) throw refused('powerOn', 'vm_not_powered_on', {}, 'state');
    const busy = await conflicting(trx, cur.id, POWER_KINDS[req.intent]);
    if (busy) throw conflict('resizing', busy.uuid);
    if (req.intent === 'start') await updateVmRow(trx, cur.id, { power_on: 1, head_note: null, updated_at: now });
    if (req.intent === 'stop') await updateVmRow(trx, cur.id, { power_on: 0, updated_at: now });
    const base = { vmId: cur.id, headId: cur.head_id, userId: p.userId, now, dialect };
    const opId = req.intent === 'shutdown' || req.intent === 'reboot'
      ? await enqueue(trx, { ...base, kind: POWER_KINDS[req.intent], args: { timeoutMs } })
      : await enqueue(trx, { ...base, kind: POWER_KINDS[req.intent], args: {} });
    return { opId, headId: cur.head_id };
  });
  void h.heads.kick(headId, vm.id);
  return (await getOperation(h.db, opId))!.uuid;
}

/** A shutdown or reboot timeout as asked for: whole milliseconds, at most MAX_POWER_TIMEOUT_MS. */
export function checkTimeout(ms: number): number {
  if (!Number.isInteger(ms)) throw invalid('timeout', 'not_a_number');
  if (ms < 0 || ms > MAX_POWER_TIMEOUT_MS) throw invalid('timeout', 'out_of_range', { min: 0, max: MAX_POWER_TIMEOUT_MS, unit: 'ms' });
  return ms;
}

/**
 * What an ended power operation changes on its VM's desired state, in the transaction that ends it
 * (whether its head or the sweeper ends it). A start that failed leaves the machine off with why;
 * a shutdown that worked leaves it off, unless it is a step of a resize (which starts it again).
 * Reboot, reset and cycle change nothing desired.
 */
export async function powerEffects(
  trx: Transaction<Database>, op: Pick<OperationRow, 'kind' | 'vm_id' | 'parent_id'>, now: number, error: string | null, _result: OperationResult | null,
): Promise<void> {
  if (!isPowerKind(op.kind) || op.vm_id === null) return;
  if (op.kind === POWER_KINDS.shutdown && error === null && op.parent_id === null) {
    await updateVmRow(trx, op.vm_id, { power_on: 0, updated_at: now });
  } else if (op.kind === POWER_KINDS.start && error !== null) {
    await updateVmRow(trx, op.vm_id, { power_on: 0, head_note: `power on failed: ${error}`, updated_at: now });
  }
}
