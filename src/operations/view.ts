// Reading operations: who may see one (whoever may read its VM; once the VM is gone, whoever asked
// for it and cluster admins), and its public shape, the same for every dialect's callers.
import type { Store } from '../store/db.js';
import type { OperationRow } from '../store/schema.js';
import { canSeeVm, isClusterAdmin, type Principal } from '../core/principal.js';
import { FINISHED, type OperationState } from './kinds.js';

export interface OperationView {
  id: string;
  kind: string;
  state: OperationState;
  progress: number | null;
  error: string | null;
  target: { type: 'virtual_machine'; id: number } | null;
  dialect: string | null;
  requester_id: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  deadline: string | null;
  /** The intent this is a step of. */
  parent: string | null;
  /** An intent's steps, in order. */
  steps: { id: string; kind: string; state: OperationState; error: string | null }[];
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function ended(op: Pick<OperationRow, 'state'>): boolean {
  return FINISHED.includes(op.state as OperationState);
}

/** May `p` read operations on this VM (or, when it is gone, this one)? */
export async function visibleOn(db: Store, p: Principal, op: Pick<OperationRow, 'vm_id' | 'user_id'>): Promise<boolean> {
  if (isClusterAdmin(p)) return true;
  if (op.vm_id === null) return op.user_id === p.userId;
  const vm = await db.selectFrom('vms as v').innerJoin('groups as g', 'g.id', 'v.group_id')
    .select(['v.id', 'v.group_id', 'g.account_id']).where('v.id', '=', op.vm_id).executeTakeFirst();
  if (!vm) return op.user_id === p.userId;
  return canSeeVm(p, { accountId: vm.account_id, groupId: vm.group_id, vmId: vm.id });
}

/** The operation with this public id, if `p` may read it. */
export async function readableOperation(db: Store, p: Principal, uuid: string): Promise<OperationRow | undefined> {
  const op = await db.selectFrom('operations').selectAll().where('uuid', '=', uuid).executeTakeFirst();
  return op && (await visibleOn(db, p, op)) ? op : undefined;
}

/** Operations on a VM (which the caller has been found to read), newest first. */
export async function operationsOn(db: Store, vmId: number, limit: number): Promise<OperationRow[]> {
  return db.selectFrom('operations').selectAll().where('vm_id', '=', vmId).orderBy('id', 'desc').limit(limit).execute();
}

/** The newest operations `p` may read. */
export async function readableOperations(db: Store, p: Principal, limit: number): Promise<OperationRow[]> {
  const rows = await db.selectFrom('operations').selectAll().orderBy('id', 'desc').limit(isClusterAdmin(p) ? limit : limit * 10).execute();
  const out: OperationRow[] = [];
  for (const op of rows) {
    if (out.length >= limit) break;
    if (await visibleOn(db, p, op)) out.push(op);
  }
  return out;
}

export async function presentOperations(db: Store, ops: OperationRow[]): Promise<OperationView[]> {
  const ids = [...new Set(ops.flatMap((o) => [o.id, ...(o.parent_id === null ? [] : [o.parent_id])]))];
  const related = ids.length
    ? await db.selectFrom('operations').select(['id', 'uuid', 'kind', 'state', 'error', 'parent_id'])
      .where((eb) => eb.or([eb('id', 'in', ids), eb('parent_id', 'in', ids)])).orderBy('id').execute()
    : [];
  const uuidOf = new Map(related.map((r) => [r.id, r.uuid]));
  return ops.map((o) => ({
    id: o.uuid, kind: o.kind, state: o.state as OperationState, progress: o.progress, error: o.error,
    target: o.vm_id === null ? null : { type: 'virtual_machine', id: o.vm_id },
    dialect: o.dialect, requester_id: o.user_id,
    created_at: iso(o.created_at)!, started_at: iso(o.started_at), finished_at: iso(o.finished_at), deadline: iso(o.deadline),
    parent: o.parent_id === null ? null : uuidOf.get(o.parent_id) ?? null,
    steps: related.filter((r) => r.parent_id === o.id).map((r) => ({ id: r.uuid, kind: r.kind, state: r.state as OperationState, error: r.error })),
  }));
}
