// Reads behind the head acts of core/console.ts and core/firewall-apply.ts: a head's address and a
// VM's firewall as its head enforces it.
import type { Db } from './types.js';
import { nicsOf, policiesOf, rulesOf } from './firewall.js';

/** A head's management address and the address its VNC consoles listen on, as it registered them. */
export async function headAddresses(db: Db, headId: number): Promise<{ management: string; console: string | null } | undefined> {
  const row = await db.selectFrom('heads').select(['management_address', 'console_address']).where('id', '=', headId).executeTakeFirst();
  return row && { management: row.management_address, console: row.console_address };
}

/** Mark rules applied, each only while it still has the version that was applied. */
export async function markRulesApplied(db: Db, rules: { id: number; version: number }[], now: number): Promise<void> {
  for (const r of rules) {
    await db.updateTable('firewall_rules').set({ state: 'applied', updated_at: now }).where('id', '=', r.id).where('version', '=', r.version).execute();
  }
}

/** Each NIC of the VM with its default policy (accept when none is set) and its rules in order. */
export async function firewallRows(db: Db, vmId: number) {
  return firewallOfNics(db, (await nicsOf(db, vmId)).map((n) => n.id));
}

/** The same for NICs already read (the desired state of a start reads them anyway). */
export async function firewallOfNics(db: Db, nicIds: number[]) {
  const [rules, policies] = await Promise.all([rulesOf(db, nicIds), policiesOf(db, nicIds)]);
  return nicIds.map((id) => ({ nicId: id, defaultPolicy: policies.get(id) ?? 'accept', rules: rules.filter((r) => r.nic_id === id) }));
}
