// Firewall rules (docs/domain.md §18): ordered rules per NIC, and each NIC's default policy for what
// no rule matches. This is the desired state: a rule is `pending` until a head applies it (nftables on
// the VM's tap in bridge mode: core/firewall-apply.ts, which marks it `applied`; a change makes it
// `pending` again). Every start puts the rules in place too.
import ipaddr from 'ipaddr.js';
import * as repo from '../store/repos/firewall.js';
import type { FirewallRuleRow, RuleValues } from '../store/repos/firewall.js';
import { canSeeVm, holds, type Principal } from './principal.js';
import { forbidden, Issues, notFound } from './errors.js';
import { matchesRef, readRef } from './ids.js';
import { lockLiveVm } from './locks.js';
import { withTransaction } from './transaction.js';
import type { VmPlace } from './resolve.js';
import type { Hangar } from './context.js';

export const COMMANDS = ['accept', 'drop'] as const;
export const PROTOCOLS = ['tcp', 'udp'] as const;
export type FirewallCommand = (typeof COMMANDS)[number];
export type FirewallProtocol = (typeof PROTOCOLS)[number];
/** Items in a rule's port list: a rule is one nftables statement, kept readable. */
export const MAX_PORT_ITEMS = 15;

/** A rule as asked for. `address`: an IP, a CIDR network or a range `a-b` (null: any). `port`: a port,
 *  a range `a:b`, or a comma-separated list of either (null: any; a port needs a protocol).
 *  `position`: 1-based, the rules from there on move down one (absent: last). */
export interface FirewallRuleInput {
  command: string;
  protocol?: string | null;
  address?: string | null;
  port?: string | null;
  position?: number;
}

export interface FirewallRule {
  id: number; uuid: string; nicId: number; position: number;
  command: FirewallCommand; protocol: FirewallProtocol | null; address: string | null; port: string | null;
  /** `applied` once a head has put it in place (core/firewall-apply.ts); `pending` before, and after a change. */
  state: 'pending' | 'applied';
  version: number; createdAt: number; updatedAt: number;
}

export interface NicFirewall { nicId: number; nicUuid: string; defaultPolicy: FirewallCommand; rules: FirewallRule[] }

const view = (r: FirewallRuleRow): FirewallRule => ({
  id: r.id, uuid: r.uuid, nicId: r.nic_id, position: r.position, command: r.command as FirewallCommand,
  protocol: r.protocol as FirewallProtocol | null, address: r.address, port: r.port, state: r.state as FirewallRule['state'],
  version: r.version, createdAt: r.created_at, updatedAt: r.updated_at,
});

const placeOf = (at: VmPlace) => ({ accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id });

function readable(p: Principal, at: VmPlace): void {
  if (!canSeeVm(p, placeOf(at))) throw notFound('virtual_machine');
}

function changeable(p: Principal, at: VmPlace): void {
  readable(p, at);
  if (!holds(p, placeOf(at), 'vm_admin')) throw forbidden('change_vm_part');
}

/** Why an address is not one a rule can match, or null. */
function addressError(value: string): string | null {
  if (value.includes('/')) {
    if (!ipaddr.isValidCIDR(value)) return 'not_an_address';
    const [addr] = ipaddr.parseCIDR(value);
    const network = addr.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(value) : ipaddr.IPv6.networkAddressFromCIDR(value);
    return network.toString() === addr.toString() ? null : 'host_bits_set';
  }
  const range = value.split('-');
  if (range.length === 2) {
    if (!range.every((a) => ipaddr.isValid(a))) return 'not_an_address';
    const [a, b] = range.map((x) => ipaddr.parse(x));
    if (a!.kind() !== b!.kind()) return 'mixed_families';
    const n = (x: ipaddr.IPv4 | ipaddr.IPv6) => x.toByteArray().reduce((acc, byte) => acc * 256n + BigInt(byte), 0n);
    return n(a!) <= n(b!) ? null : 'range_reversed';
  }
  return ipaddr.isValid(value) ? null : 'not_an_address';
}

/** Adds what is wrong with a port list to `issues`; whether it is valid. */
function portValid(value: string, issues: Issues): boolean {
  const items = value.split(',');
  if (items.length > MAX_PORT_ITEMS) {
    issues.add('port', 'too_many', { max: MAX_PORT_ITEMS });
    return false;
  }
  for (const item of items) {
    const m = /^(\d{1,5})(?::(\d{1,5}))?$/.exec(item);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m) {
      issues.add('port', 'invalid', { reason: 'not_a_port' });
      return false;
    }
    if (lo < 1 || hi > 65535) {
      issues.add('port', 'out_of_range', { min: 1, max: 65535 });
      return false;
    }
    if (lo > hi) {
      issues.add('port', 'invalid', { reason: 'range_reversed' });
      return false;
    }
  }
  return true;
}

/** The rule's values as stored (blanks removed from lists; `''` = absent), or every issue at once. */
export function checkRule(input: FirewallRuleInput): RuleValues {
  const issues = new Issues();
  const blank = (v: string | null | undefined) => (v === undefined || v === null || v.trim() === '' ? null : v.replace(/\s+/g, ''));
  const command = input.command;
  if (command === undefined || command === null || command === '') issues.add('command', 'required');
  else if (!(COMMANDS as readonly string[]).includes(command)) issues.add('command', 'not_in_list', { allowed: COMMANDS.join(',') });
  const protocol = blank(input.protocol)?.toLowerCase() ?? null;
  if (protocol !== null && !(PROTOCOLS as readonly string[]).includes(protocol)) issues.add('protocol', 'not_in_list', { allowed: PROTOCOLS.join(',') });
  const address = blank(input.address)?.toLowerCase() ?? null;
  const why = address === null ? null : addressError(address);
  if (why) issues.add('address', 'invalid', { reason: why });
  const port = blank(input.port);
  // nftables matches a port only within a protocol: a port with none would silently match nothing.
  if (port !== null && portValid(port, issues) && protocol === null) issues.add('port', 'invalid', { reason: 'needs_protocol' });
  issues.throwIfAny();
  return { command, protocol, address, port };
}

function checkPosition(position: number | undefined, last: number): number {
  if (position === undefined) return last;
  const issues = new Issues();
  if (!Number.isSafeInteger(position)) issues.add('position', 'not_a_number');
  else if (position < 1 || position > last) issues.add('position', 'out_of_range', { min: 1, max: last });
  issues.throwIfAny();
  return position;
}

async function nicOf(h: Hangar, at: VmPlace, segment: string): Promise<{ id: number; uuid: string }> {
  const nic = (await repo.nicsOf(h.db, at.vm.id)).find((n) => matchesRef(n, null, segment));
  if (!nic) throw notFound('network_interface');
  return nic;
}

async function ruleOf(h: Hangar, at: VmPlace, segment: string): Promise<FirewallRuleRow> {
  const ref = readRef(segment);
  const nics = new Set((await repo.nicsOf(h.db, at.vm.id)).map((n) => n.id));
  const rules = 'id' in ref ? [await repo.ruleById(h.db, ref.id)] : 'uuid' in ref ? await repo.rulesOf(h.db, [...nics]) : [];
  const rule = rules.find((r) => r && nics.has(r.nic_id) && matchesRef(r, null, segment));
  if (!rule) throw notFound('firewall_rule');
  return rule;
}

/** Filters of Gigas *List Virtual Machine firewall rules*: each, when given, must equal the rule's. */
export interface FirewallFilter { nic?: string; command?: string; port?: string; address?: string }

/** The VM's NICs with their default policy and rules (filtered), NICs by id, rules by position. */
export async function firewallOf(h: Hangar, p: Principal, at: VmPlace, filter: FirewallFilter = {}): Promise<NicFirewall[]> {
  readable(p, at);
  const nics = (await repo.nicsOf(h.db, at.vm.id)).filter((n) => filter.nic === undefined || matchesRef(n, null, filter.nic));
  const ids = nics.map((n) => n.id);
  const [rules, policies] = [await repo.rulesOf(h.db, ids), await repo.policiesOf(h.db, ids)];
  const keep = (r: FirewallRuleRow) => (filter.command === undefined || r.command === filter.command)
    && (filter.port === undefined || r.port === filter.port) && (filter.address === undefined || r.address === filter.address?.toLowerCase());
  return nics.map((n) => ({
    nicId: n.id, nicUuid: n.uuid, defaultPolicy: (policies.get(n.id) ?? 'accept') as FirewallCommand,
    rules: rules.filter((r) => r.nic_id === n.id && keep(r)).map(view),
  }));
}

export async function createFirewallRule(h: Hangar, p: Principal, at: VmPlace, nicSegment: string, input: FirewallRuleInput): Promise<FirewallRule> {
  changeable(p, at);
  const values = checkRule(input);
  const nic = await nicOf(h, at, nicSegment);
  const id = await withTransaction(h.db, async (trx) => {
    await lockLiveVm(trx, at);
    const position = checkPosition(input.position, (await repo.ruleCount(trx, nic.id)) + 1);
    return repo.insertRule(trx, nic.id, position, values, h.now());
  });
  return view((await repo.ruleById(h.db, id))!);
}

/** Replace a rule's values (and move it, with `position`). */
export async function updateFirewallRule(h: Hangar, p: Principal, at: VmPlace, ruleSegment: string, input: FirewallRuleInput): Promise<FirewallRule> {
  changeable(p, at);
  const values = checkRule(input);
  const found = await ruleOf(h, at, ruleSegment);
  await withTransaction(h.db, async (trx) => {
    await lockLiveVm(trx, at);
    // Read again under the VM's lock: positions may have moved since.
    const rule = await repo.ruleById(trx, found.id);
    if (!rule) throw notFound('firewall_rule');
    const position = checkPosition(input.position ?? rule.position, await repo.ruleCount(trx, rule.nic_id));
    await repo.updateRule(trx, rule, values, position, h.now());
  });
  return view((await repo.ruleById(h.db, found.id))!);
}

export async function deleteFirewallRule(h: Hangar, p: Principal, at: VmPlace, ruleSegment: string): Promise<void> {
  changeable(p, at);
  const found = await ruleOf(h, at, ruleSegment);
  await withTransaction(h.db, async (trx) => {
    await lockLiveVm(trx, at);
    const rule = await repo.ruleById(trx, found.id);
    if (!rule) throw notFound('firewall_rule');
    await repo.deleteRule(trx, rule);
  });
}

/** What a NIC's firewall does with traffic no rule matches (`accept` until set). */
export async function setDefaultFirewallPolicy(h: Hangar, p: Principal, at: VmPlace, nicSegment: string, policy: string): Promise<void> {
  changeable(p, at);
  if (!(COMMANDS as readonly string[]).includes(policy)) {
    const issues = new Issues();
    issues.add('defaultPolicy', 'not_in_list', { allowed: COMMANDS.join(',') });
    issues.throwIfAny();
  }
  const nic = await nicOf(h, at, nicSegment);
  await withTransaction(h.db, async (trx) => {
    await lockLiveVm(trx, at);
    await repo.setPolicy(trx, nic.id, policy, h.now());
  });
}
