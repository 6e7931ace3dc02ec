// Reading operations: who may see one (whoever may read its VM; once the VM is gone, whoever asked
// for it and cluster admins), and its public shape, the same for every dialect's callers.
import type { Store } from '../store/db.js';
import type { OperationRow } from '../store/schema.js';
import { canSeeVm, holds, isClusterAdmin, type Principal } from '../core/principal.js';
import * as repo from '../store/repos/operations.js';
import { vmPlace } from '../store/repos/vms.js';
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
  const vm = await vmPlace(db, op.vm_id);
  if (!vm) return op.user_id === p.userId;
  return canSeeVm(p, { accountId: vm.account_id, groupId: vm.group_id, vmId: vm.id });
}

/** May `p` cancel it: whoever may change its VM (vm_admin over it); once the VM is gone, cluster admins. */
export async function cancellableBy(db: Store, p: Principal, op: Pick<OperationRow, 'vm_id'>): Promise<boolean> {
  if (isClusterAdmin(p)) return true;
  const vm = op.vm_id === null ? undefined : await vmPlace(db, op.vm_id);
  return vm !== undefined && holds(p, { accountId: vm.account_id, groupId: vm.group_id, vmId: vm.id }, 'vm_admin');
}

/** The operation with this public id, if `p` may read it. */
export async function readableOperation(db: Store, p: Principal, uuid: string): Promise<OperationRow | undefined> {
  const op = await repo.operationByUuid(db, uuid);
  return op && (await visibleOn(db, p, op)) ? op : undefined;
}

/** Operations on a VM (which the caller has been found to read), newest first. */
export async function operationsOn(db: Store, vmId: number, limit: number): Promise<OperationRow[]> {
  return repo.operationsOnVm(db, vmId, limit);
}

/** The newest operations `p` may read. */
export async function readableOperations(db: Store, p: Principal, limit: number): Promise<OperationRow[]> {
  const rows = await repo.newestOperations(db, isClusterAdmin(p) ? limit : limit * 10);
  const out: OperationRow[] = [];
  for (const op of rows) {
    if (out.length >= limit) break;
    if (await visibleOn(db, p, op)) out.push(op);
  }
  return out;
}

export async function presentOperations(db: Store, ops: OperationRow[]): Promise<OperationView[]> {
  const ids = [...new Set(ops.flatMap((o) => [o.id, ...(o.parent_id === null ? [] : [o.parent_id])]))];
  const related = await repo.withRelated(db, ids);
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
