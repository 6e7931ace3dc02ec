// Operations: durable records of work that takes time (issue 8 §2, docs/operations.md). Each is
// written in the same transaction as the change that asks for it, queued -> running -> done |
// failed | cancelled. A head takes it (running, under a lease it renews, holding the VM's lock when
// the kind is imperative) and finishes it; an intent (vm.create) ends when its last step does.
// The sweeper (operations/sweeper.ts) fails what a crashed head or brain left behind.
import type { Store } from '../store/db.js';
import { withTransaction } from '../core/transaction.js';
import { lockRow, lockVm } from '../core/locks.js';
import { releaseDisc } from '../scheduler/place.js';
import type { OperationRow } from '../store/schema.js';
import type { Dialect } from '../core/urls.js';
import * as repo from '../store/repos/operations.js';
import { deleteDiscOf, deleteHeldVolume } from '../store/repos/discs.js';
import { snapshotEnded } from '../core/snapshots.js';
import { templateEnded } from '../core/templates.js';
import type { Db, Trx } from '../store/repos/types.js';
import { publishOperationsChanged } from '../store/notify.js';
import { resizeStepDone } from '../core/vms/resize.js';
import { CONFLICTS, DEADLINES, FINISHED, INTENTS, LOCKING, RESUMABLE, storedArgs, withoutSecrets, type HeadKind, type OperationArgs, type OperationKind } from './kinds.js';

export async function enqueue<K extends OperationKind>(
  db: Db, op: {
    /** null: an act on a volume its account holds with no VM (run by `headId` outside any VM's order). */
    kind: K; vmId: number | null; headId: number | null; userId: number | null; args: OperationArgs[K]; now: number;
    /** The intent this is a step of. */
    parentId?: number; dialect?: Dialect | null;
    /** When it must have ended (default: its kind's DEADLINES from now); an intent's steps share its own. */
    deadline?: number;
  },
): Promise<number> {
  const id = await repo.insertOperation(db, {
    uuid: crypto.randomUUID(), kind: op.kind, vm_id: op.vmId, head_id: op.headId, user_id: op.userId, state: 'queued',
    args: JSON.stringify(op.args), result: null, error: null, created_at: op.now, updated_at: op.now,
    deadline: op.deadline ?? op.now + DEADLINES[op.kind], parent_id: op.parentId ?? null, dialect: op.dialect ?? null, progress: null,
    started_at: null, finished_at: null, lease_owner: null, lease_until: null,
  });
  await publishOperationsChanged(db);
  return id;
}

/** An operation not yet ended on the VM that `kind` may not start beside; call it with the VM row
 *  locked, so two requests cannot both pass. */
export async function conflicting(db: Db, vmId: number, kind: OperationKind): Promise<OperationRow | undefined> {
  const kinds = CONFLICTS[kind];
  if (!kinds?.length) return undefined;
  return repo.firstUnendedOf(db, vmId, kinds);
}

/** Queued operations a head runs for this VM, in the order they were asked for. */
export const pendingFor: (db: Db, vmId: number) => Promise<OperationRow[]> = repo.queuedOn(INTENTS satisfies readonly Exclude<OperationKind, HeadKind>[]);

/** Queued operations with no VM (on held volumes) that this head runs, in the order they were asked for. */
export async function pendingWithoutVm(db: Db, headId: number): Promise<OperationRow[]> {
  return repo.unendedWithoutVm(db, headId, ['queued']);
}

export async function getOperation(db: Db, id: number): Promise<OperationRow | undefined> {
  return repo.operationById(db, id);
}

/**
 * `owner` takes a queued operation: it is running, leased until now + leaseMs, and (imperative
 * kinds) holds its VM for its intent. False when it is no longer queued (swept, taken, cancelled) or
 * another intent holds the VM (it is taken later).
 */
export async function startOperation(db: Store, id: number, owner: string, now: number, leaseMs: number): Promise<boolean> {
  return withTransaction(db, async (trx) => {
    const op = await repo.lockOperation(trx, id);
    if (!op || op.state !== 'queued') return false;
    // An intent's steps run in their order: a later one waits while an earlier one has not ended.
    if (op.parent_id !== null && (await repo.earlierStepUnended(trx, op.parent_id, op.id))) return false;
    const top = op.parent_id ?? op.id;
    // A purge runs on a VM whose row is already gone: there is nothing to hold.
    if (op.vm_id !== null && LOCKING.has(op.kind as OperationKind) && (await repo.takeVmLock(trx, op.vm_id, top)) === 'held') return false;
    const running = { state: 'running', started_at: now, progress: 0, updated_at: now };
    await repo.updateOperation(trx, id, { ...running, lease_owner: owner, lease_until: now + leaseMs });
    if (op.parent_id !== null) await repo.markQueuedRunning(trx, op.parent_id, running);
    await publishOperationsChanged(trx);
    return true;
  });
}

/** Extend the lease of an operation `owner` runs; false when it no longer runs it (the sweeper failed it).
 *  No notification: a renewal is no change anyone watches. */
export async function renewLease(db: Store, id: number, owner: string, now: number, leaseMs: number): Promise<boolean> {
  return repo.renewLeaseRow(db, id, owner, now, now + leaseMs);
}

export interface Outcome {
  error: string | null;
  /** Only the lease's owner may finish a running operation (a swept one stays as the sweeper left it). */
  owner?: string;
}

/** Record how an operation ended, with its effects on the VM; its secrets leave the store with it.
 *  False when it had already ended (or is not `owner`'s). */
export async function finishOperation(db: Store, id: number, now: number, outcome: Outcome): Promise<boolean> {
  return withTransaction(db, (trx) => finishIn(trx, id, now, outcome));
}

export async function finishIn(trx: Trx, id: number, now: number, outcome: Outcome): Promise<boolean> {
  const op = await repo.lockOperation(trx, id);
  if (!op || FINISHED.includes(op.state as never)) return false;
  if (outcome.owner !== undefined && (op.state !== 'running' || op.lease_owner !== outcome.owner)) return false;
  // A step that worked may carry its intent's act (a resize's change), which can still fail it.
  const error = outcome.error ?? (op.parent_id === null ? null : await resizeStepDone(trx, op, now));
  await repo.updateOperation(trx, id, {
    state: error === null ? 'done' : 'failed', error, args: withoutSecrets(op.args), progress: error === null ? 100 : op.progress,
    finished_at: now, updated_at: now, lease_owner: null, lease_until: null,
  });
  await effects(trx, op, now, error);
  if (op.parent_id !== null) {
    await stepEnded(trx, op.parent_id, now);
  } else {
    // An intent that fails takes its steps not yet run with it.
    if (error !== null) {
      const steps = (await repo.stepsOf(trx, id)).filter((s) => !FINISHED.includes(s.state as never));
      for (const s of steps) await finishIn(trx, s.id, now, { error: `its ${op.kind} failed: ${error}` });
    }
    await repo.releaseVmLock(trx, id);
  }
  await publishOperationsChanged(trx);
  return true;
}

/** A step ended: the intent's progress moves, and it ends with its last step (failed if any failed). */
async function stepEnded(trx: Trx, parentId: number, now: number): Promise<void> {
  const steps = await repo.stepsOf(trx, parentId);
  const ended = steps.filter((s) => FINISHED.includes(s.state as never));
  if (ended.length < steps.length) {
    await repo.updateOperation(trx, parentId, { progress: Math.floor((100 * ended.length) / steps.length), updated_at: now });
    return;
  }
  const failed = steps.find((s) => s.state !== 'done');
  await finishIn(trx, parentId, now, { error: failed ? `${failed.kind}: ${failed.error ?? failed.state}` : null });
}

/** What an ended operation changes on its VM (the same whether the head or the sweeper ended it). */
async function effects(trx: Trx, op: OperationRow, now: number, error: string | null): Promise<void> {
  const kind = op.kind as OperationKind;
  if (kind === 'snapshot.create' || kind === 'snapshot.restore' || kind === 'snapshot.delete') {
    await snapshotEnded(trx, kind, storedArgs(kind, op.args).snapshotId, error);
  }
  if (kind === 'image.template') await templateEnded(trx, storedArgs(kind, op.args).imageId, error);
  if (kind === 'disc.create' && op.vm_id === null && error !== null) {
    // A volume with no VM whose file was never made never existed: its row goes, its space comes back.
    const gone = await deleteHeldVolume(trx, storedArgs(kind, op.args).disc.id, null);
    if (gone) await releaseDisc(trx, gone.storage_pool_id, gone.size);
  }
  if (kind === 'vm.clone' && error === null) {
    const { afterwards } = storedArgs(kind, op.args);
    if (afterwards) await repo.updateVmAfter(trx, op.vm_id!, { ...afterwards, updated_at: now });
  }
  if (kind === 'reimage') {
    const args = storedArgs(kind, op.args);
    const change = error === null
      ? { last_imaged_with: args.distribution, head_note: null, ...(args.afterwards ?? {}) }
      // A machine whose image could not be written is not started on a blank disc.
      : { power_on: 0, head_note: `reimage failed: ${error}` };
    await repo.updateVmAfter(trx, args.vmId, { ...change, updated_at: now });
  } else if (error !== null && kind !== 'signal' && kind !== 'vm.create' && op.vm_id !== null) {
    await repo.updateVmAfter(trx, op.vm_id, { head_note: `${kind} failed: ${error}` });
  }
}

/**
 * Put a running step of a RESUMABLE intent back in the queue, to be run again by its head: the head
 * that took it went away (its lease passed, or it registered anew). `resumed` with its head and VM, to
 * be told; `ended` when it no longer runs (another brain's sweeper got there first); null when it is
 * not such a step or its deadline has passed (the sweeper fails it then).
 */
export async function resumeStep(db: Store, id: number, now: number): Promise<{ resumed: { headId: number | null; vmId: number | null } } | 'ended' | null> {
  return withTransaction(db, async (trx) => {
    const op = await repo.lockOperation(trx, id);
    if (!op || op.state !== 'running') return 'ended' as const;
    if (op.parent_id === null || (op.deadline !== null && op.deadline < now)) return null;
    const intent = await repo.operationById(trx, op.parent_id);
    if (!intent || !RESUMABLE.has(intent.kind as OperationKind)) return null;
    await repo.updateOperation(trx, id, { state: 'queued', lease_owner: null, lease_until: null, started_at: null, progress: null, updated_at: now });
    await publishOperationsChanged(trx);
    return { resumed: { headId: op.head_id, vmId: op.vm_id } };
  });
}

/** A head registering anew runs nothing it ran before: the steps of resumable intents it held go back
 *  to the queue at once (anything else it held waits for the sweeper, as before). */
export async function resumeStepsOf(db: Store, owner: string, now: number): Promise<void> {
  for (const { id } of await repo.leasedTo(db, owner)) await resumeStep(db, id, now);
}

// Cancellation ------------------------------------------------------------------------------------

/**
 * Kinds a caller may cancel while they are queued (docs/operations.md). None can be cancelled once
 * running: no head act can be stopped half-way and leave its disc in a known state. Not here: disc
 * grows and deletes, backup creates and deletes, purges (the store already shows their result: a
 * grown size, a row gone), and the steps of an intent (cancel the intent).
 */
export const CANCELLABLE: ReadonlySet<OperationKind> = new Set<OperationKind>(['vm.create', 'reimage', 'disc.create', 'signal', 'backup.restore']);

export type CancelRefusal = 'running' | 'ended' | 'kind' | 'step' | 'needed';

/**
 * Cancel a queued operation: it (and, for an intent, each of its steps) ends `cancelled`, its
 * secrets removed. A disc whose create is cancelled never existed: its row goes and its space comes
 * back; a machine whose create is cancelled is left off, without those discs, with a note. Refused
 * (with the reason) when it runs, has ended, is of a kind that cannot be cancelled, is a step, or a
 * later operation needs what it would make.
 */
export async function cancelOperation(db: Store, id: number, now: number): Promise<{ cancelled: true } | { refused: CancelRefusal; op: OperationRow }> {
  return withTransaction(db, async (trx) => {
    const op = await repo.lockOperation(trx, id);
    if (!op) throw new Error(`no operation ${id}`);
    const refuse = (refused: CancelRefusal) => ({ refused, op });
    if (FINISHED.includes(op.state as never)) return refuse('ended');
    if (op.state !== 'queued') return refuse('running');
    if (op.parent_id !== null) return refuse('step');
    if (!CANCELLABLE.has(op.kind as OperationKind)) return refuse('kind');
    // Operation, then VM, then head, then pools: the order a head's start and a create take them.
    if (op.vm_id !== null) await lockVm(trx, op.vm_id);
    const steps = await repo.stepsOf(trx, op.id);
    const creates = [op, ...steps].filter((o) => o.kind === 'disc.create');
    // A disc it would make (itself, or an intent's step) that other work asked for since needs.
    if (creates.length && op.vm_id !== null) {
      const made = new Set(creates.map((c) => storedArgs('disc.create', c.args).disc.id));
      const own = new Set([op.id, ...steps.map((s) => s.id)]);
      const later = (await repo.unendedOn(trx, op.vm_id)).filter((o) => !own.has(o.id));
      if (later.some((o) => made.has((JSON.parse(o.args) as { disc?: { id?: number } }).disc?.id ?? -1))) return refuse('needed');
    }
    const headId = op.head_id ?? steps.find((s) => s.head_id !== null)?.head_id ?? null;
    if (creates.length && headId !== null) await lockRow(trx, 'heads', headId);
    for (const c of creates) {
      // A disc whose queued create is cancelled never existed: its rows go, its pool's space comes back.
      const gone = await deleteDiscOf(trx, null, storedArgs('disc.create', c.args).disc.id);
      if (gone) await releaseDisc(trx, gone.storage_pool_id, gone.size);
    }
    const cancelled = (o: OperationRow) => ({ state: 'cancelled', args: withoutSecrets(o.args), finished_at: now, updated_at: now });
    for (const s of steps) await repo.updateOperation(trx, s.id, cancelled(s));
    await repo.updateOperation(trx, op.id, cancelled(op));
    if (op.kind === 'vm.create' && op.vm_id !== null) {
      await repo.updateVmAfter(trx, op.vm_id, { power_on: 0, head_note: 'its creation was cancelled', updated_at: now });
    }
    await repo.releaseVmLock(trx, op.id);
    await publishOperationsChanged(trx);
    return { cancelled: true as const };
  });
}
