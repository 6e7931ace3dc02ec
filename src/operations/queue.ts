// Durable records of imperative acts addressed to a head (disc work, reimage, signals, purge):
// queued -> done | failed, with the reason. They are written in the same transaction as the
// change that asks for them, and the head runs them in order before converging power state.
import type { Transaction } from 'kysely';
import type { Store } from '../store/db.js';
import type { Database, OperationRow } from '../store/schema.js';
import type { Sealed, SecretBox } from '../core/secrets.js';

type Db = Store | Transaction<Database>;

export type OperationKind =
  | 'disc.create' | 'disc.grow' | 'disc.delete' | 'reimage' | 'signal' | 'purge'
  | 'backup.create' | 'backup.restore' | 'backup.delete';

export type OperationState = 'queued' | 'done' | 'failed';

export async function enqueue(
  db: Db, op: { kind: OperationKind; vmId: number; headId: number | null; userId: number | null; args: unknown; now: number; deadlineMs?: number },
): Promise<number> {
  const row = await db.insertInto('operations').values({
    kind: op.kind, vm_id: op.vmId, head_id: op.headId, user_id: op.userId, state: 'queued',
    args: JSON.stringify(op.args), result: null, error: null, created_at: op.now, updated_at: op.now,
    deadline: op.deadlineMs ? op.now + op.deadlineMs : null,
  }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

/**
 * A secret inside an operation's args (a root password hash, a firstboot script): sealed where the
 * args are built, opened only for the head that runs the operation (openArgs), and removed from the
 * row when the operation finishes, done or failed.
 */
export interface SecretArg { $secret: Sealed }

export function secretArg(box: SecretBox, value: string): SecretArg {
  return { $secret: box.seal(value) };
}

const isSecretArg = (v: unknown): v is SecretArg =>
  typeof v === 'object' && v !== null && typeof (v as SecretArg).$secret === 'string' && Object.keys(v).length === 1;

/** An operation's stored args with every secret opened (for the head). */
export function openArgs(box: SecretBox, args: string): any {
  return JSON.parse(args, (_k, v) => (isSecretArg(v) ? box.open(v.$secret) : v));
}

/** An operation's stored args without its secrets. */
export function withoutSecrets(args: string): string {
  return JSON.stringify(JSON.parse(args, (_k, v) => (isSecretArg(v) ? undefined : v)));
}

export async function pendingFor(db: Db, vmId: number): Promise<OperationRow[]> {
  return db.selectFrom('operations').selectAll().where('vm_id', '=', vmId).where('state', '=', 'queued').orderBy('id').execute();
}

/** Record how an operation ended; its secrets leave the store with it. */
export async function finish(db: Db, id: number, now: number, outcome: { error: string | null; result?: unknown }): Promise<void> {
  const op = await db.selectFrom('operations').select('args').where('id', '=', id).executeTakeFirst();
  if (!op) return;
  await db.updateTable('operations').set({
    state: outcome.error === null ? 'done' : 'failed', error: outcome.error, args: withoutSecrets(op.args),
    result: outcome.result === undefined ? null : JSON.stringify(outcome.result), updated_at: now,
  }).where('id', '=', id).execute();
}

export async function getOperation(db: Db, id: number): Promise<OperationRow | undefined> {
  return db.selectFrom('operations').selectAll().where('id', '=', id).executeTakeFirst();
}
