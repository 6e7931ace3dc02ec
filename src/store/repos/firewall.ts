// Firewall rules per NIC and each NIC's default policy (migration 015). Positions run 1..n per NIC
// without gaps; callers hold the VM's row (core/locks.ts) while they shift them.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { FirewallRulesTable } from '../schema.js';
import type { Db, Trx } from './types.js';

/** Past any position (the column is a 32-bit integer on PostgreSQL). */
const LAST = 2_147_483_647;

export type FirewallRuleRow = Selectable<FirewallRulesTable>;
export interface RuleValues { command: string; protocol: string | null; address: string | null; port: string | null }

/** The NICs of a VM (id, public id, label), by id. */
export function nicsOf(db: Db, vmId: number): Promise<{ id: number; uuid: string; label: string | null }[]> {
  return db.selectFrom('nics').select(['id', 'uuid', 'label']).where('vm_id', '=', vmId).orderBy('id').execute();
}

/** The rules of these NICs, by NIC then position. */
export function rulesOf(db: Db, nicIds: number[]): Promise<FirewallRuleRow[]> {
  if (nicIds.length === 0) return Promise.resolve([]);
  return db.selectFrom('firewall_rules').selectAll().where('nic_id', 'in', nicIds).orderBy('nic_id').orderBy('position').execute();
}

export async function ruleCount(trx: Trx, nicId: number): Promise<number> {
  const r = await trx.selectFrom('firewall_rules').select((eb) => eb.fn.countAll<number>().as('n')).where('nic_id', '=', nicId).executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Move the rules at positions [from, to] of a NIC by `by` (±1). */
async function shift(trx: Trx, nicId: number, from: number, to: number, by: number): Promise<void> {
  await trx.updateTable('firewall_rules').set({ position: sql`position + ${by}` })
    .where('nic_id', '=', nicId).where('position', '>=', from).where('position', '<=', to).execute();
}

/** Insert a rule at `position` (1-based, at most count + 1), the rules from there on moving down one. */
export async function insertRule(trx: Trx, nicId: number, position: number, v: RuleValues, now: number): Promise<number> {
  await shift(trx, nicId, position, LAST, 1);
  const r = await trx.insertInto('firewall_rules').values({ uuid: randomUUID(), nic_id: nicId, position, ...v, created_at: now, updated_at: now })
    .returning('id').executeTakeFirstOrThrow();
  return r.id;
}

/** Change a rule's values and/or position; it becomes pending again, its version goes up. */
export async function updateRule(trx: Trx, rule: FirewallRuleRow, v: RuleValues, position: number, now: number): Promise<void> {
  if (position < rule.position) await shift(trx, rule.nic_id, position, rule.position - 1, 1);
  if (position > rule.position) await shift(trx, rule.nic_id, rule.position + 1, position, -1);
  await trx.updateTable('firewall_rules').set({ ...v, position, state: 'pending', version: sql`version + 1`, updated_at: now })
    .where('id', '=', rule.id).execute();
}

export async function deleteRule(trx: Trx, rule: FirewallRuleRow): Promise<void> {
  await trx.deleteFrom('firewall_rules').where('id', '=', rule.id).execute();
  await shift(trx, rule.nic_id, rule.position + 1, LAST, -1);
}

export function ruleById(db: Db, id: number): Promise<FirewallRuleRow | undefined> {
  return db.selectFrom('firewall_rules').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Default policies set on these NICs (a NIC absent here has none set). */
export async function policiesOf(db: Db, nicIds: number[]): Promise<Map<number, string>> {
  if (nicIds.length === 0) return new Map();
  const rows = await db.selectFrom('nic_firewalls').select(['nic_id', 'default_policy']).where('nic_id', 'in', nicIds).execute();
  return new Map(rows.map((r) => [r.nic_id, r.default_policy]));
}

export async function setPolicy(trx: Trx, nicId: number, policy: string, now: number): Promise<void> {
  await trx.insertInto('nic_firewalls').values({ nic_id: nicId, default_policy: policy, updated_at: now })
    .onConflict((oc) => oc.column('nic_id').doUpdateSet({ default_policy: policy, updated_at: now })).execute();
}
