// The audit table's queries (core/audit.ts), and the lookups that name an audit row's targets.
import { randomUUID } from 'node:crypto';
import type { Insertable } from 'kysely';
import type { Store } from '../db.js';
import type { AuditRow, AuditTable } from '../schema.js';
import type { AuditEntry } from '../../core/audit.js';
import { refValue, whereRef } from '../../core/ids.js';
import { compiled, type Scalar } from '../compiled.js';

/**
 * One statement for a batch. The connection is taken first and the statement built after: a batch
 * waits behind the requests' transactions, and a statement built before that wait (its rows, its
 * tree, its parameters) would outlive two young-generation collections and fill V8's old space
 * (BENCHMARKS.md, RSS after 100,000 creates).
 */
export async function insertAudit(db: Store, entries: AuditEntry[]): Promise<void> {
  await db.connection().execute((c) => c.insertInto('audit').values(entries.map((e): Insertable<AuditTable> => ({
    uuid: randomUUID(), at: e.at, user_id: e.userId, impersonator_id: e.impersonatorId, api_key_id: e.apiKeyId,
    method: e.method, route: e.route, dialect: e.dialect, status: e.status,
    account_uuid: e.accountUuid, vm_uuid: e.vmUuid, operation_uuid: e.operationUuid, address: e.address,
  }))).execute());
}

export interface AuditFilter {
  /** Only rows about these accounts (public ids); undefined: any. */
  accountUuids?: string[];
  accountUuid?: string;
  vmUuid?: string;
  userId?: number;
  operationUuid?: string;
  dialect?: string;
  since?: number;
  until?: number;
  limit: number;
}

/** Newest first. */
export async function findAudit(db: Store, f: AuditFilter): Promise<AuditRow[]> {
  let q = db.selectFrom('audit').selectAll();
  if (f.accountUuids) q = f.accountUuids.length ? q.where('account_uuid', 'in', f.accountUuids) : q.where('id', '=', 0);
  if (f.accountUuid !== undefined) q = q.where('account_uuid', '=', f.accountUuid);
  if (f.vmUuid !== undefined) q = q.where('vm_uuid', '=', f.vmUuid);
  if (f.userId !== undefined) q = q.where('user_id', '=', f.userId);
  if (f.operationUuid !== undefined) q = q.where('operation_uuid', '=', f.operationUuid);
  if (f.dialect !== undefined) q = q.where('dialect', '=', f.dialect);
  if (f.since !== undefined) q = q.where('at', '>=', f.since);
  if (f.until !== undefined) q = q.where('at', '<', f.until);
  return q.orderBy('id', 'desc').limit(f.limit).execute();
}

export async function deleteAuditBefore(db: Store, cutoff: number): Promise<number> {
  return Number((await db.deleteFrom('audit').where('at', '<', cutoff).executeTakeFirst()).numDeletedRows);
}

export async function accountUuids(db: Store, ids: number[]): Promise<string[]> {
  if (!ids.length) return [];
  return (await db.selectFrom('accounts').select('uuid').where('id', 'in', ids).execute()).map((r) => r.uuid);
}

type RefKind = ReturnType<typeof refValue>['kind'];
const COLUMN = { id: 'id', uuid: 'uuid', name: 'name' } as const;

/** The account's public id by one kind of segment, compiled once per kind (store/compiled.ts). */
const accountQuery = (kind: RefKind) => compiled((db, a: Scalar) => db.selectFrom('accounts as a').select('a.uuid as account')
  .where(`a.${COLUMN[kind]}`, '=', a));

/** The account's and the VM's public ids by a path's three segments, in one query (the account's
 *  even when the group or VM is not there), compiled once per combination of segment kinds. */
const pathQuery = (acc: RefKind, grp: RefKind, vm: RefKind) => compiled((db, a: Scalar, g: Scalar, v: Scalar) => db.selectFrom('accounts as a')
  .leftJoin('groups as g', (j) => j.onRef('g.account_id', '=', 'a.id').on(`g.${COLUMN[grp]}`, '=', g))
  .leftJoin('vms as v', (j) => j.onRef('v.group_id', '=', 'g.id').on(`v.${COLUMN[vm]}`, '=', v))
  .select(['a.uuid as account', 'v.uuid as vm'])
  .where(`a.${COLUMN[acc]}`, '=', a));

const accountQueries = new Map<RefKind, ReturnType<typeof accountQuery>>();
const pathQueries = new Map<string, ReturnType<typeof pathQuery>>();

/** Public ids of the account (and VM) a request's path named, as the id rule reads its segments
 *  (names in lower case: DNS labels). One compiled query: it runs after every mutating request. */
export async function targetsByPath(db: Store, acc: string, grp?: string, vm?: string): Promise<{ account: string | null; vm: string | null }> {
  const a = refValue(acc, true);
  if (grp === undefined || vm === undefined) {
    let q = accountQueries.get(a.kind);
    if (!q) accountQueries.set(a.kind, (q = accountQuery(a.kind)));
    return { account: (await q(db, a.value)).rows[0]?.account ?? null, vm: null };
  }
  const [g, v] = [refValue(grp, true), refValue(vm, true)];
  const key = `${a.kind}/${g.kind}/${v.kind}`;
  let q = pathQueries.get(key);
  if (!q) pathQueries.set(key, (q = pathQuery(a.kind, g.kind, v.kind)));
  const row = (await q(db, a.value, g.value, v.value)).rows[0];
  return { account: row?.account ?? null, vm: row?.vm ?? null };
}

/** Public ids of a VM (by id or public id) and its account. */
export async function targetsOfVm(db: Store, ref: string | number): Promise<{ account: string | null; vm: string | null }> {
  const q = db.selectFrom('vms as v').innerJoin('groups as g', 'g.id', 'v.group_id').innerJoin('accounts as a', 'a.id', 'g.account_id')
    .select(['v.uuid as vm', 'a.uuid as account']);
  const row = await whereRef(q, String(ref), { id: 'v.id', uuid: 'v.uuid', name: null }).executeTakeFirst();
  return row ?? { account: null, vm: null };
}

/** The operation's VM and that VM's account, by the operation's public id: null when there is no such
 *  operation or it is on no VM. One compiled query: it runs after every request that starts one. */
const operationQuery = compiled((db, op: string) => db.selectFrom('operations as o')
  .leftJoin('vms as v', 'v.id', 'o.vm_id').leftJoin('groups as g', 'g.id', 'v.group_id').leftJoin('accounts as a', 'a.id', 'g.account_id')
  .select(['o.vm_id', 'v.uuid as vm', 'a.uuid as account'])
  .where('o.uuid', '=', op));

export async function targetsOfOperation(db: Store, opUuid: string): Promise<{ account: string | null; vm: string | null } | null> {
  const row = (await operationQuery(db, opUuid)).rows[0];
  return row?.vm_id == null ? null : { account: row.account ?? null, vm: row.vm ?? null };
}

/** The admin who made an impersonated session (by its token's hash). */
export async function impersonatorOf(db: Store, tokenHash: string): Promise<number | null> {
  return (await db.selectFrom('sessions').select('impersonator_id').where('token_hash', '=', tokenHash).executeTakeFirst())?.impersonator_id ?? null;
}
