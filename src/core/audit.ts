// Audit rows (docs/audit.md): one per mutating request of every dialect, written after its answer
// by the dialect's hook (api/audit.ts), never delaying or failing it. Read by cluster admins (all)
// and account admins (their accounts'); kept HANGAR_AUDIT_RETENTION_DAYS (90) days.
import type { Hangar } from './context.js';
import type { AuditRow } from '../store/schema.js';
import { forbidden } from './errors.js';
import { isClusterAdmin, type Principal } from './principal.js';
import * as repo from '../store/repos/audit.js';

export const AUDIT_LIMIT_MAX = 1000;

export interface AuditEntry {
  at: number;
  userId: number | null; impersonatorId: number | null; apiKeyId: number | null;
  method: string; route: string; dialect: string; status: number;
  accountUuid: string | null; vmUuid: string | null; operationUuid: string | null; address: string | null;
}

/** Rows wait this long at most, or until this many are waiting, and are then written together. */
const FLUSH_MS = 50;
const BATCH_MAX = 200;

interface Pending { rows: AuditEntry[]; timer: NodeJS.Timeout | null }
const pending = new WeakMap<Hangar['db'], Pending>();

/**
 * Queues one row. Rows are written together, at most FLUSH_MS later, in one statement: on SQLite's
 * one writer a transaction per request was a fifth of a create's cost (BENCHMARKS.md). A row is
 * never worth a request: a batch the store refuses is logged and dropped.
 */
export function recordAudit(h: Hangar, e: AuditEntry): void {
  let p = pending.get(h.db);
  if (!p) pending.set(h.db, p = { rows: [], timer: null });
  p.rows.push(e);
  if (p.rows.length >= BATCH_MAX) void flushAudit(h);
  else if (!p.timer) (p.timer = setTimeout(() => void flushAudit(h), FLUSH_MS)).unref();
}

/** Writes the queued rows now (the brain calls it before closing its store). */
export async function flushAudit(h: Hangar): Promise<void> {
  const p = pending.get(h.db);
  if (!p) return;
  if (p.timer) clearTimeout(p.timer);
  p.timer = null;
  const rows = p.rows.splice(0);
  if (!rows.length) return;
  try {
    await repo.insertAudit(h.db, rows);
  } catch (err) {
    h.log.error({ err, rows: rows.length }, 'audit rows not written');
  }
}

export interface AuditView {
  id: string; at: string;
  user_id: number | null; impersonator_id: number | null; api_key_id: number | null;
  method: string; route: string; dialect: string; status: number;
  account: string | null; virtual_machine: string | null; operation: string | null; address: string | null;
}

export type AuditQuery = Omit<repo.AuditFilter, 'accountUuids'>;

/** Rows `p` may read, newest first: every row for cluster admins, their accounts' rows for account admins. */
export async function readAudit(h: Hangar, p: Principal, q: AuditQuery): Promise<AuditView[]> {
  let accountUuids: string[] | undefined;
  if (!isClusterAdmin(p)) {
    const ids = p.grants.filter((g) => g.level === 'account_admin' && g.accountId !== null).map((g) => g.accountId!);
    if (!ids.length) throw forbidden('read_audit');
    accountUuids = await repo.accountUuids(h.db, ids);
  }
  const rows = await repo.findAudit(h.db, { ...q, accountUuids, limit: Math.min(q.limit, AUDIT_LIMIT_MAX) });
  return rows.map(present);
}

function present(r: AuditRow): AuditView {
  return {
    id: r.uuid, at: new Date(r.at).toISOString(), user_id: r.user_id, impersonator_id: r.impersonator_id, api_key_id: r.api_key_id,
    method: r.method, route: r.route, dialect: r.dialect, status: r.status,
    account: r.account_uuid, virtual_machine: r.vm_uuid, operation: r.operation_uuid, address: r.address,
  };
}

/** The sweeper's part: rows older than the retention. */
export async function forgetOldAudit(h: Hangar): Promise<number> {
  return repo.deleteAuditBefore(h.db, h.now() - h.config.auditRetentionDays * 86_400_000);
}
