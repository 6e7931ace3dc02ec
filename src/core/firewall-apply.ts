// Applying a VM's firewall rules (core/firewall.ts holds them) on its head: the `firewall.apply`
// operation puts the rules as they stand now in place on the running machine (nftables on each NIC's
// tap, drivers/qemu/firewall.ts), and every start puts them in place before the guest runs
// (brain/link.ts sends them with the desired state). Where the head's networking cannot filter
// (user-mode networking: no tap), the operation reports `enforced: false` and callers must say so.
import type { Hangar } from './context.js';
import type { NicFirewallSpec } from '../drivers/driver.js';
import { firewallRows, markRulesApplied } from '../store/repos/head-acts.js';
import { enqueue, getOperation } from '../operations/queue.js';
import { forbidden, notFound, refused } from './errors.js';
import { canSeeVm, holds, type Principal } from './principal.js';
import { lockLiveVm } from './locks.js';
import { withTransaction } from './transaction.js';
import type { VmPlace } from './resolve.js';

/** The VM's firewall as a head enforces it, from its NICs' rows (each NIC's default policy and its
 *  rules in order: store/repos/heads.ts desiredRows, head-acts.ts firewallRows). */
export function firewallSpecOf(rows: Awaited<ReturnType<typeof firewallRows>>): NicFirewallSpec[] {
  return rows.map((n) => ({
    nicId: n.nicId, defaultPolicy: n.defaultPolicy === 'drop' ? 'drop' : 'accept',
    rules: n.rules.map((r) => ({
      command: r.command === 'drop' ? 'drop' : 'accept', protocol: r.protocol === 'tcp' || r.protocol === 'udp' ? r.protocol : null,
      address: r.address, port: r.port,
    })),
  }));
}

/** What an apply asked for: its operation, and once the head has run it whether the rules are
 *  enforced (`null` while it has not answered yet, `false` where the head cannot filter). Rules an
 *  enforced apply put in place become `applied`. */
export interface FirewallApply { operation: string; state: string; enforced: boolean | null; error: string | null }

export async function applyFirewallRules(h: Hangar, p: Principal, at: VmPlace): Promise<FirewallApply> {
  const place = { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id };
  if (!canSeeVm(p, place)) throw notFound('virtual_machine');
  if (!holds(p, place, 'vm_admin')) throw forbidden('change_vm_part');
  const { opId, headId, sent } = await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    if (vm.head_id === null) throw refused('virtual_machine', 'vm_not_placed', {}, 'state');
    const rows = await firewallRows(trx, vm.id);
    const nics = firewallSpecOf(rows);
    const opId = await enqueue(trx, { kind: 'firewall.apply', vmId: vm.id, headId: vm.head_id, userId: p.userId, args: { nics }, now: h.now() });
    return { opId, headId: vm.head_id, sent: rows.flatMap((n) => n.rules.map((r) => ({ id: r.id, version: r.version }))) };
  });
  await h.heads.kick(headId, at.vm.id);
  const op = (await getOperation(h.db, opId))!;
  const result = op.result ? (JSON.parse(op.result) as { enforced?: boolean }) : null;
  const enforced = op.state === 'done' ? result?.enforced ?? false : null;
  // `applied`: in place on the head (a rule changed since keeps `pending`: its version moved on).
  if (enforced) await markRulesApplied(h.db, sent, h.now());
  return { operation: op.uuid, state: op.state, enforced, error: op.error };
}
