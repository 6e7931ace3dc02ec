// A VM's ISO (S003 *Get ISO mounted*, *Mount an ISO*, *Unmount an ISO*), firewall rules (S003 *List
// Virtual Machine firewall rules*, *Apply firewall rules*, and our `POST …/firewall_rules` with OnApp's
// field names, which the seed lacks) and snapshots (S003 *Get snapshots*, *Delete all the snapshots …
// and merge*, and our `POST …/snapshots`). A VM has one CD drive: its "ISO join" is that drive, and its
// id is the VM's. Firewall rules are desired state until applied (core/firewall-apply.ts).
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { Hangar } from '../../core/context.js';
import { notFound, Issues } from '../../core/errors.js';
import { isoByRef, isoUrl, listIsos } from '../../core/isos.js';
import { mountIso, unmountIso } from '../../core/vms/media.js';
import { applyFirewallRules } from '../../core/firewall-apply.js';
import { operationUrl } from '../operations.js';
import { createFirewallRule, firewallOf, type FirewallRule } from '../../core/firewall.js';
import { createSnapshot, deleteSnapshot, listSnapshots, type Snapshot } from '../../core/snapshots.js';
import type { VmPlace } from '../../core/resolve.js';
import type { Principal } from '../../core/principal.js';
import { Bool, Closed, Int, NStr, Str } from '../responses.js';
import { GId, gigas, GInt, GStr, page, PageQ, Queued, VmP } from './schemas.js';
import { named, vmOfPath } from './place.js';
import { gigasTime } from './values.js';

const IsoJoin = Closed({ id: Str, iso_id: NStr, iso_url: Str, label: NStr, virtual_machine_id: Str }, { $id: 'GigasIsoJoin', description: 'The ISO in the VM\'s CD drive (the join\'s id is the VM\'s)' });
const IsoMounted = Closed({ ...IsoJoin.properties, queue_token: Type.Union([Str, Type.Null()]) }, { $id: 'GigasIsoMounted', description: 'The ISO now in the drive, and the operation that put it in a running VM (null: the VM is off, its next boot has it)' });
const FirewallApplied = Closed({ queue_token: Str, enforced: Type.Union([Bool, Type.Null()]) }, {
  $id: 'GigasFirewallApplied', description: 'The apply\'s operation; enforced: the head filters (true), cannot in this network mode (false: stored only), has not answered yet (null)',
});
const IsoB = Type.Object({ iso_id: Type.Optional(GId), iso_url: Type.Optional(GStr(2048)) }, { additionalProperties: false });
const JoinP = Type.Object({ ...VmP.properties, iso_join_id: Type.String({ maxLength: 64 }) });
const Rule = Closed({
  id: Str, network_interface_id: Str, command: Str, protocol: NStr, address: NStr, port: NStr, status: Str, order: Int,
}, { $id: 'GigasFirewallRule', description: 'A firewall rule (desired state: status pending until its head applies it)' });
const RuleB = Type.Object({
  network_interface_id: GId, command: GStr(16), protocol: Type.Optional(Type.Union([GStr(16), Type.Null()])),
  address: Type.Optional(Type.Union([GStr(100), Type.Null()])), port: Type.Optional(Type.Union([GStr(200), Type.Null()])), order: Type.Optional(GInt),
}, { additionalProperties: false });
const RulesQ = Type.Object({
  command: Type.Optional(Type.String({ pattern: '^(accept|drop|ACCEPT|DROP)$', description: 'accept or drop' })),
  port: Type.Optional(Type.String({ maxLength: 200 })), address: Type.Optional(Type.String({ maxLength: 100 })), ...PageQ,
});
const GigasSnapshot = Closed({
  id: Str, label: Str, identifier: Str, virtual_machine_id: Str, locked: Type.Union([Type.Literal(0), Type.Literal(1)]), error: NStr, in_use: Bool, created_at: Str,
}, { $id: 'GigasSnapshot', description: 'A snapshot (qcow2 internal, of every disk of the stopped VM); locked while an operation acts on it' });
const SnapshotQueued = Closed({ ...GigasSnapshot.properties, queue_token: Str }, { $id: 'GigasSnapshotQueued', description: 'The snapshot being taken, and its operation' });
const SnapshotB = Type.Object({ label: Type.Optional(GStr(63)) }, { additionalProperties: false });
const ListQ = Type.Object({ ...PageQ });
const NoQ = Type.Object({});

/** The ISO in the drive: the library's when its URL is one of the library's (iso_id), else the URL given. */
async function joinOf(h: Hangar, p: Principal, at: VmPlace, url: string | null): Promise<Static<typeof IsoJoin>[]> {
  if (url === null) return [];
  const isos = await listIsos(h, p);
  let iso: (typeof isos)[number] | undefined;
  for (const i of isos) if (await isoUrl(h, i).then((u) => u === url, () => false)) iso = i;
  return [{ id: String(at.vm.id), iso_id: iso ? String(iso.id) : null, iso_url: url, label: iso?.label ?? null, virtual_machine_id: String(at.vm.id) }];
}

const rule = (nicId: number, r: FirewallRule): Static<typeof Rule> => ({
  id: String(r.id), network_interface_id: String(nicId), command: r.command.toUpperCase(), protocol: r.protocol?.toUpperCase() ?? null,
  address: r.address, port: r.port, status: r.state, order: r.position,
});

const snapshot = (s: Snapshot): Static<typeof GigasSnapshot> => ({
  id: String(s.id), label: s.label, identifier: s.publicId, virtual_machine_id: String(s.vmId), locked: s.state === 'pending' ? 1 : 0,
  error: s.state === 'failed' ? s.error ?? 'failed' : null, in_use: false, created_at: gigasTime(s.createdAt),
});

export function mediaRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['gigas'];

    app.get('/account/:account_id/virtual_machine/:virtual_machine_id/isos', { schema: { tags, summary: 'The ISO mounted in the VM (none: [])', response: gigas(Type.Array(IsoJoin)), params: VmP, querystring: ListQ } }, async (req, reply) => {
      const at = await vmOfPath(h, req);
      return page(reply, await joinOf(h, req.principal, at, at.vm.cdrom_url), req.query);
    });

    app.post('/account/:account_id/virtual_machine/:virtual_machine_id/iso', { schema: { tags, summary: 'Mount an ISO: iso_id (the library) or iso_url (http, https, ftp, ftps under the URL policy); in the drive at once when the VM runs (its operation), else at its next boot (queue_token null)', response: gigas(IsoMounted), params: VmP, querystring: NoQ, body: IsoB } }, async (req) => {
      const at = await vmOfPath(h, req);
      const b = req.body;
      const errs = new Issues();
      if ((b.iso_id === undefined) === (b.iso_url === undefined)) errs.add('iso_id', b.iso_id === undefined ? 'required' : 'invalid', b.iso_id === undefined ? undefined : { reason: 'one_source' });
      const iso = b.iso_id === undefined ? undefined : await named(errs, 'iso_id', () => isoByRef(h, req.principal, String(b.iso_id)));
      errs.throwIfAny();
      const changed = await mountIso(h, req.principal, at, iso ? { isoId: String(iso.id) } : { url: b.iso_url! }, 'gigas');
      const [join] = await joinOf(h, req.principal, at, changed.cdromUrl);
      return { ...join!, queue_token: changed.operation };
    });

    app.delete('/account/:account_id/virtual_machine/:virtual_machine_id/iso/:iso_join_id', { schema: { tags, summary: 'Unmount the ISO (the join\'s id is the VM\'s): ejected at once when the VM runs (its operation), else gone at its next boot (queue_token null)', response: gigas(Queued), params: JoinP, querystring: NoQ } }, async (req) => {
      const at = await vmOfPath(h, req);
      if (req.params.iso_join_id !== String(at.vm.id) || at.vm.cdrom_url === null) throw notFound('iso');
      return { queue_token: (await unmountIso(h, req.principal, at, 'gigas')).operation };
    });

    app.get('/account/:account_id/virtual_machine/:virtual_machine_id/firewall_rules', { schema: { tags, summary: 'The VM\'s firewall rules, every interface\'s, in order', response: gigas(Type.Array(Rule)), params: VmP, querystring: RulesQ } }, async (req, reply) => {
      const at = await vmOfPath(h, req);
      const q = req.query;
      const nics = await firewallOf(h, req.principal, at, { command: q.command?.toLowerCase(), port: q.port, address: q.address });
      return page(reply, nics.flatMap((n) => n.rules.map((r) => rule(n.nicId, r))), q);
    });

    app.post('/account/:account_id/virtual_machine/:virtual_machine_id/firewall_rules', { schema: { tags, summary: 'Add a firewall rule (ours, OnApp\'s fields): command ACCEPT/DROP, protocol TCP/UDP, address, port, order', success: 201, response: gigas(Rule, 201), params: VmP, querystring: NoQ, body: RuleB } }, async (req, reply) => {
      const at = await vmOfPath(h, req);
      const b = req.body;
      const created = await createFirewallRule(h, req.principal, at, String(b.network_interface_id), {
        command: b.command.toLowerCase(), protocol: b.protocol?.toLowerCase() ?? null, address: b.address ?? null, port: b.port ?? null,
        ...(b.order !== undefined ? { position: typeof b.order === 'number' ? b.order : Number(b.order) } : {}),
      });
      return reply.code(201).send(rule(created.nicId, created));
    });

    app.post('/account/:account_id/virtual_machine/:virtual_machine_id/apply_firewall_rules', { schema: { tags, summary: 'Apply the VM\'s firewall rules on its head (nftables on each bridged tap); enforced false where its network mode cannot filter (user-mode networking), null until the head answers', success: 202, response: gigas(FirewallApplied, 202), params: VmP, querystring: NoQ, body: Type.Object({}, { additionalProperties: false }) } }, async (req, reply) => {
      const applied = await applyFirewallRules(h, req.principal, await vmOfPath(h, req));
      return reply.code(202).header('location', operationUrl(applied.operation)).send({ queue_token: applied.operation, enforced: applied.enforced });
    });

    app.get('/account/:account_id/virtual_machine/:virtual_machine_id/snapshots', { schema: { tags, summary: 'The VM\'s snapshots', response: gigas(Type.Array(GigasSnapshot)), params: VmP, querystring: ListQ } }, async (req, reply) => {
      const at = await vmOfPath(h, req);
      return page(reply, (await listSnapshots(h, req.principal, at)).map(snapshot), req.query);
    });

    app.post('/account/:account_id/virtual_machine/:virtual_machine_id/snapshots', { schema: { tags, summary: 'Take a snapshot (ours; the VM must be off): 202 with its operation', success: 202, response: gigas(SnapshotQueued, 202), params: VmP, querystring: NoQ, body: SnapshotB } }, async (req, reply) => {
      const at = await vmOfPath(h, req);
      const taken = await createSnapshot(h, req.principal, at, req.body.label !== undefined ? { label: req.body.label } : {});
      return reply.code(202).send({ ...snapshot(taken.snapshot), queue_token: taken.operation });
    });

    app.delete('/account/:account_id/virtual_machine/:virtual_machine_id/snapshots', { schema: { tags, summary: 'Delete every snapshot (the VM must be off), merging them into the disks', response: gigas(Type.Null({ description: 'Empty content' })), params: VmP, querystring: NoQ } }, async (req, reply) => {
      const at = await vmOfPath(h, req);
      for (const s of await listSnapshots(h, req.principal, at)) await deleteSnapshot(h, req.principal, at, String(s.id));
      return reply.send();
    });
  };
}
