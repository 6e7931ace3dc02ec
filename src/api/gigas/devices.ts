// A VM's disks, network interfaces and IP addresses (S003 *Get disks*, *Add new interface*, *Get
// interfaces*, *List Virtual Machine ip addresses*; gigas.md §7–§8 for the resources' fields), and the
// account's and a network's addresses (gigas.md §6–§7).
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { Hangar } from '../../core/context.js';
import type { Principal } from '../../core/principal.js';
import { canSeeVm } from '../../core/principal.js';
import { Issues, notFound } from '../../core/errors.js';
import { listGrades } from '../../core/grades.js';
import type { Network } from '../../core/networks.js';
import { addNic, nicNetworks, nicRateLimits } from '../../core/nics.js';
import { firewallOf } from '../../core/firewall.js';
import { settingsOf, vmFactsOf } from '../../core/vm-settings.js';
import { responses } from '../responses.js';
import { operationUrl } from '../operations.js';
import { loadVmView, loadVmViews, type NicView, type VmView } from '../../core/views.js';
import type { VmPlace } from '../../core/resolve.js';
import type { AccountRow } from '../../store/schema.js';
import { Bool, Closed, Int, NInt, NStr, Str } from '../responses.js';
import { AccountP, GBool, GId, gigas, GInt, GStr, page, PageQ, VmP } from './schemas.js';
import { gigasAccount, placeOf, vmOfPath } from './place.js';
import { networksOf } from './catalogues.js';
import { bool, gigasTime, int } from './values.js';

const Flag = Type.Union([Type.Literal(0), Type.Literal(1)]);
export const GigasDisk = Closed({
  id: Str, label: Str, status: Str, add_to_linux_fstab: Bool, mount_point: NStr, locked: Flag, data_store_group_id: NStr, data_store_id: NStr,
  created_at: Str, updated_at: Str, is_swap: Bool, autobackup: Bool, error: Flag, disk_size: Type.Number(), virtual_machine_id: Str,
}, { $id: 'GigasDisk', description: 'A disk; disk_size in GB' });
export const GigasInterface = Closed({
  id: Str, label: NStr, network_id: NStr, vlan: Int, primary: Bool, rate_limit: NInt, status: Str, virtual_machine_id: Str,
  default_firewall_policy: Str, mac_address: Str,
}, { $id: 'GigasNetworkInterface', description: 'A network interface; rate_limit: the primary\'s is the VM\'s, every other its own (Mbit/s, null: none)' });
const InterfaceAdded = Closed({ ...GigasInterface.properties, queue_token: NStr }, { $id: 'GigasNetworkInterfaceAdded', description: 'The interface added; on a running VM queue_token is the hot-plug (GET /transaction/<queue_token>/status), null on a stopped one (attached at its next start)' });
export const GigasIp = Closed({
  address: Str, family: Int, interface_id: Str, network_id: NStr, public: Bool, virtual_machine_id: Str,
}, { $id: 'GigasIpAddress', description: 'An IP address of a VM\'s interface' });

const Filter = (description: string) => Type.Optional(Type.String({ maxLength: 255, description }));
const Public = Type.Optional(Type.String({ pattern: '^(true|false|1|0)$', description: 'true/false or 1/0' }));
const InterfacesQ = Type.Object({ interface_label: Filter('exact'), network_id: Filter('the network id'), public: Public, ...PageQ });
const IpsQ = Type.Object({ network_id: Filter('the network id'), interface_id: Filter('the interface id'), public: Public, ...PageQ });
const AccountIpsQ = Type.Object({ ip: Filter('exact address'), ...PageQ });
const ListQ = Type.Object({ ...PageQ });
const NetworkIpsP = Type.Object({ ...AccountP.properties, network_id: Type.String({ maxLength: 64 }) });
const NicCreate = Type.Object({
  network_id: GId, label: Type.Optional(GStr(63)), primary: Type.Optional(GBool), rate_limit: Type.Optional(GInt), network_interface_id: Type.Optional(GId),
}, { additionalProperties: false });

type Iface = Static<typeof GigasInterface>;
type Ip = Static<typeof GigasIp>;

/** The VM's interfaces as Gigas shows them; the first is the primary (its gateway), and carries the VM's rate limit; the others their own. */
async function interfacesOf(h: Hangar, p: Principal, at: VmPlace, view: VmView): Promise<Iface[]> {
  const [networks, firewalls, settings, rates] = await Promise.all([nicNetworks(h, at), firewallOf(h, p, at), settingsOf(h, [at.vm.id]), nicRateLimits(h, at)]);
  return view.nics.map((n, i) => ({
    id: String(n.id), label: n.label, network_id: networks.get(n.id) == null ? null : String(networks.get(n.id)), vlan: n.vlanNum, primary: i === 0,
    rate_limit: i === 0 ? settings.get(at.vm.id)?.rateLimitMbps ?? null : rates.get(n.id) ?? null,
    status: 'active',
    virtual_machine_id: String(at.vm.id), default_firewall_policy: firewalls.find((f) => f.nicId === n.id)?.defaultPolicy ?? 'accept', mac_address: n.mac,
  }));
}

function ipsOf(view: VmView, nics: NicView[], networkOf: (nicId: number) => Network | undefined): Ip[] {
  return nics.flatMap((n) => [...n.ips, ...Object.keys(n.extraIps)].map((address) => {
    const network = networkOf(n.id);
    return {
      address, family: address.includes(':') ? 6 : 4, interface_id: String(n.id), network_id: network ? String(network.id) : null,
      public: network?.public ?? false, virtual_machine_id: String(view.row.id),
    };
  }));
}

/** Every address of the account's VMs the caller can see (the legacy `GET /ip_addresses` too). */
export async function accountIps(h: Hangar, p: Principal, account: AccountRow): Promise<Ip[]> {
  const views = (await loadVmViews(h.db, h.config.clusterDomain, { kind: 'accounts', accountIds: [account.id] }, { includeDeleted: false, children: true }))
    .filter((v) => canSeeVm(p, { accountId: v.accountId, groupId: v.row.group_id, vmId: v.row.id }));
  const networks = await networksOf(h, p, account);
  const out: Ip[] = [];
  for (const v of views) {
    const at = { vm: { id: v.row.id }, group: { id: v.row.group_id }, account } as VmPlace;
    const byNic = await nicNetworks(h, at);
    out.push(...ipsOf(v, v.nics, (nicId) => networks.find((n) => n.id === byNic.get(nicId))));
  }
  return out;
}

/** A network's addresses in the account (the legacy `GET /network/<id>/ip_addresses` too). */
export async function networkIps(h: Hangar, p: Principal, account: AccountRow, networkId: string): Promise<Ip[]> {
  if (!(await networksOf(h, p, account)).some((n) => String(n.id) === networkId)) throw notFound('network');
  return (await accountIps(h, p, account)).filter((ip) => ip.network_id === networkId);
}

/** A VM's interfaces (the legacy `GET /virtual_machine/<id>/network_interfaces` too). */
export async function vmInterfaces(h: Hangar, p: Principal, at: VmPlace): Promise<Iface[]> {
  return interfacesOf(h, p, at, await loadVmView(h.db, h.config.clusterDomain, at.vm.id));
}

export function deviceRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['gigas'];

    app.get('/account/:account_id/virtual_machine/:virtual_machine_id/disks', { schema: { tags, summary: 'The VM\'s disks', response: gigas(Type.Array(GigasDisk)), params: VmP, querystring: ListQ } }, async (req, reply) => {
      const at = await vmOfPath(h, req);
      const [view, grades, facts] = await Promise.all([loadVmView(h.db, h.config.clusterDomain, at.vm.id), listGrades(h), vmFactsOf(h, req.principal, [placeOf(at)])]);
      const locked = facts.get(at.vm.id)?.busy ? 1 : 0;
      const disks = view.discs.map((d) => ({
        id: String(d.id), label: d.label, status: 'active', add_to_linux_fstab: false, mount_point: null, locked: locked as 0 | 1,
        data_store_group_id: grades.find((g) => g.name === d.storage_grade)?.id.toString() ?? null,
        data_store_id: d.storage_pool_id === null ? null : String(d.storage_pool_id), created_at: gigasTime(d.created_at), updated_at: gigasTime(d.created_at),
        is_swap: d.label === 'swap', autobackup: view.schedules.some((s) => s.disc_id === d.id), error: 0 as const,
        disk_size: Math.round((d.size / 1024) * 1000) / 1000, virtual_machine_id: String(at.vm.id),
      }));
      return page(reply, disks, req.query);
    });

    app.get('/account/:account_id/virtual_machine/:virtual_machine_id/network_interfaces', { schema: { tags, summary: 'The VM\'s network interfaces', response: gigas(Type.Array(GigasInterface)), params: VmP, querystring: InterfacesQ } }, async (req, reply) => {
      const at = await vmOfPath(h, req);
      const account = at.account;
      const networks = await networksOf(h, req.principal, account);
      const q = req.query;
      const shown = (await vmInterfaces(h, req.principal, at)).filter((n) => (q.interface_label === undefined || n.label === q.interface_label)
        && (q.network_id === undefined || n.network_id === q.network_id)
        && (q.public === undefined || (networks.find((x) => String(x.id) === n.network_id)?.public ?? false) === /^(true|1)$/.test(q.public)));
      return page(reply, shown, q);
    });

    app.post('/account/:account_id/virtual_machine/:virtual_machine_id/network_interface', { schema: { tags, summary: 'Add an interface on a network: 201 when the VM is off (attached at its next start), 202 when on (hot-plugged now; queue_token), 412 for a second one on a public network', success: 201, response: responses({ ...gigas(InterfaceAdded, 201), 202: InterfaceAdded } as never), params: VmP, querystring: Type.Object({}), body: NicCreate } }, async (req, reply) => {
      const at = await vmOfPath(h, req);
      const b = req.body;
      // The first interface is the primary one (its gateway; its rate limit is the VM's, PUT rate_limit),
      // and interfaces are not moved between machines: asking for these is refused. An added one keeps its own rate limit.
      const errs = new Issues();
      if (bool(b.primary, false)) errs.add('primary', 'invalid');
      if (b.network_interface_id !== undefined) errs.add('network_interface_id', 'invalid');
      errs.throwIfAny();
      const networkId = typeof b.network_id === 'number' ? b.network_id : /^[0-9]{1,9}$/.test(b.network_id) ? Number(b.network_id) : -1;
      const added = await addNic(h, req.principal, at, { networkId, label: b.label ?? null, rateLimitMbps: b.rate_limit === undefined ? null : int(b.rate_limit) }, 'gigas');
      const iface = (await vmInterfaces(h, req.principal, at)).find((n) => n.id === String(added.nic.id))!;
      if (added.pending) {
        if (added.operation !== null) reply.header('location', operationUrl(added.operation));
        return reply.code(202).send({ ...iface, status: 'pending', queue_token: added.operation });
      }
      return reply.code(201).send({ ...iface, queue_token: null });
    });

    app.get('/account/:account_id/virtual_machine/:virtual_machine_id/ip_addresses', { schema: { tags, summary: 'The VM\'s IP addresses', response: gigas(Type.Array(GigasIp)), params: VmP, querystring: IpsQ } }, async (req, reply) => {
      const at = await vmOfPath(h, req);
      const q = req.query;
      const shown = (await accountIps(h, req.principal, at.account)).filter((ip) => ip.virtual_machine_id === String(at.vm.id)
        && (q.network_id === undefined || ip.network_id === q.network_id) && (q.interface_id === undefined || ip.interface_id === q.interface_id)
        && (q.public === undefined || ip.public === /^(true|1)$/.test(q.public)));
      return page(reply, shown, q);
    });

    app.get('/account/:account_id/ip_addresses', { schema: { tags, summary: 'The addresses of the account\'s VMs you can see (ip: one address)', response: gigas(Type.Array(GigasIp)), params: AccountP, querystring: AccountIpsQ } }, async (req, reply) => {
      const all = await accountIps(h, req.principal, await gigasAccount(h, req, req.params.account_id));
      return page(reply, all.filter((ip) => req.query.ip === undefined || ip.address === req.query.ip), req.query);
    });

    app.get('/account/:account_id/network/:network_id/ip_addresses', { schema: { tags, summary: 'A network\'s addresses held by the account\'s VMs', response: gigas(Type.Array(GigasIp)), params: NetworkIpsP, querystring: ListQ } }, async (req, reply) => {
      const account = await gigasAccount(h, req, req.params.account_id);
      return page(reply, await networkIps(h, req.principal, account, req.params.network_id), req.query);
    });
  };
}
