// Operations: durable records of work that takes time (issue 8 §2, docs/operations.md). Each is
// written in the same transaction as the change that asks for it, queued -> running -> done |
// failed | cancelled. A head takes it (running, under a lease it renews, holding the VM's lock when
// the kind is imperative) and finishes it; an intent (vm.create) ends when its last step does.
// The sweeper (operations/sweeper.ts) fails what a crashed head or brain left behind.
import type { Transaction } from 'kysely';
import type { Store } from '../store/db.js';
import { forUpdate } from '../store/dialect.js';
import { withTransaction } from '../core/transaction.js';
import type { Database, OperationRow } from '../store/schema.js';
import type { Dialect } from '../core/urls.js';
import { CONFLICTS, DEADLINES, FINISHED, LOCKING, storedArgs, withoutSecrets, type HeadKind, type OperationArgs, type OperationKind } from './kinds.js';

type Db = Store | Transaction<Database>;
type Trx = Transaction<Database>;

export async function enqueue<K extends OperationKind>(
  db: Db, op: {
    kind: K; vmId: number; headId: number | null; userId: number | null; args: OperationArgs[K]; now: number;
    /** The intent this is a step of. */
    parentId?: number; dialect?: Dialect | null;
  },
): Promise<number> {
  const row = await db.insertInto('operations').values({
    uuid: crypto.randomUUID(), kind: op.kind, vm_id: op.vmId, head_id: op.headId, user_id: op.userId, state: 'queued',
    args: JSON.stringify(op.args), result: null, error: null, created_at: op.now, updated_at: op.now,
    deadline: op.now + DEADLINES[op.kind], parent_id: op.parentId ?? null, dialect: op.dialect ?? null, progress: null,
    started_at: null, finished_at: null, lease_owner: null, lease_until: null,
  }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

/** An operation not yet ended on the VM that `kind` may not start beside; call it with the VM row
 *  locked, so two requests cannot both pass. */
export async function conflicting(db: Db, vmId: number, kind: OperationKind): Promise<OperationRow | undefined> {
  const kinds = CONFLICTS[kind];
  if (!kinds?.length) return undefined;
  return db.selectFrom('operations').selectAll().where('vm_id', '=', vmId).where('kind', 'in', [...kinds])
    .where('state', 'in', ['queued', 'running']).orderBy('id').executeTakeFirst();
}

/** Queued operations a head runs for this VM, in the order they were asked for. */
export async function pendingFor(db: Db, vmId: number): Promise<OperationRow[]> {
  return db.selectFrom('operations').selectAll().where('vm_id', '=', vmId).where('state', '=', 'queued')
    .where('kind', '!=', 'vm.create' satisfies Exclude<OperationKind, HeadKind>).orderBy('id').execute();
}

export async function getOperation(db: Db, id: number): Promise<OperationRow | undefined> {
  return db.selectFrom('operations').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * `owner` takes a queued operation: it is running, leased until now + leaseMs, and (imperative
 * kinds) holds its VM for its intent. False when it is no longer queued (swept, taken) or another
 * intent holds the VM (it is taken later).
 */
export async function startOperation(db: Store, id: number, owner: string, now: number, leaseMs: number): Promise<boolean> {
  return withTransaction(db, async (trx) => {
    const op = await forUpdate(trx, trx.selectFrom('operations').selectAll().where('id', '=', id)).executeTakeFirst();
    if (!op || op.state !== 'queued') return false;
    const top = op.parent_id ?? op.id;
    if (op.vm_id !== null && LOCKING.has(op.kind as OperationKind)) {
      const taken = await trx.updateTable('vms').set({ lock_operation_id: top }).where('id', '=', op.vm_id)
        .where((eb) => eb.or([eb('lock_operation_id', 'is', null), eb('lock_operation_id', '=', top)])).executeTakeFirst();
      // A purge runs on a VM whose row is already gone: there is nothing to hold.
      const held = Number(taken.numUpdatedRows) === 0 && await trx.selectFrom('vms').select('id').where('id', '=', op.vm_id).executeTakeFirst();
      if (held) return false;
    }
    const running = { state: 'running', started_at: now, progress: 0, updated_at: now };
    await trx.updateTable('operations').set({ ...running, lease_owner: owner, lease_until: now + leaseMs }).where('id', '=', id).execute();
    if (op.parent_id !== null) await trx.updateTable('operations').set(running).where('id', '=', op.parent_id).where('state', '=', 'queued').execute();
    return true;
  });
}

/** Extend the lease of an operation `owner` runs; false when it no longer runs it (the sweeper failed it). */
export async function renewLease(db: Store, id: number, owner: string, now: number, leaseMs: number): Promise<boolean> {
  const r = await db.updateTable('operations').set({ lease_until: now + leaseMs, updated_at: now })
    .where('id', '=', id).where('state', '=', 'running').where('lease_owner', '=', owner).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
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
  const op = await forUpdate(trx, trx.selectFrom('operations').selectAll().where('id', '=', id)).executeTakeFirst();
  if (!op || FINISHED.includes(op.state as never)) return false;
  if (outcome.owner !== undefined && (op.state !== 'running' || op.lease_owner !== outcome.owner)) return false;
  const { error } = outcome;
  await trx.updateTable('operations').set({
    state: error === null ? 'done' : 'failed', error, args: withoutSecrets(op.args), progress: error === null ? 100 : op.progress,
    finished_at: now, updated_at: now, lease_owner: null, lease_until: null,
  }).where('id', '=', id).execute();
  await effects(trx, op, now, error);
  if (op.parent_id !== null) {
    await stepEnded(trx, op.parent_id, now);
  } else {
    // An intent that fails takes its steps not yet run with it.
    if (error !== null) {
      const steps = await trx.selectFrom('operations').select('id').where('parent_id', '=', id).where('state', 'in', ['queued', 'running']).orderBy('id').execute();
      for (const s of steps) await finishIn(trx, s.id, now, { error: `its ${op.kind} failed: ${error}` });
    }
    await trx.updateTable('vms').set({ lock_operation_id: null }).where('lock_operation_id', '=', id).execute();
  }
  return true;
}

/** A step ended: the intent's progress moves, and it ends with its last step (failed if any failed). */
async function stepEnded(trx: Trx, parentId: number, now: number): Promise<void> {
  const steps = await trx.selectFrom('operations').select(['kind', 'state', 'error']).where('parent_id', '=', parentId).orderBy('id').execute();
  const ended = steps.filter((s) => FINISHED.includes(s.state as never));
  if (ended.length < steps.length) {
    await trx.updateTable('operations').set({ progress: Math.floor((100 * ended.length) / steps.length), updated_at: now }).where('id', '=', parentId).execute();
    return;
  }
  const failed = steps.find((s) => s.state !== 'done');
  await finishIn(trx, parentId, now, { error: failed ? `${failed.kind}: ${failed.error ?? failed.state}` : null });
}

/** What an ended operation changes on its VM (the same whether the head or the sweeper ended it). */
async function effects(trx: Trx, op: OperationRow, now: number, error: string | null): Promise<void> {
  const kind = op.kind as OperationKind;
  if (kind === 'reimage') {
    const args = storedArgs(kind, op.args);
    const change = error === null
      ? { last_imaged_with: args.distribution, head_note: null, ...(args.afterwards ?? {}) }
      // A machine whose image could not be written is not started on a blank disc.
      : { power_on: 0, head_note: `reimage failed: ${error}` };
    await trx.updateTable('vms').set({ ...change, updated_at: now }).where('id', '=', args.vmId).execute();
  } else if (error !== null && kind !== 'signal' && kind !== 'vm.create' && op.vm_id !== null) {
    await trx.updateTable('vms').set({ head_note: `${kind} failed: ${error}` }).where('id', '=', op.vm_id).execute();
  }
}
