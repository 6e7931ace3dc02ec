// Gigas' virtual machines (S003 *Operations*): create, list, get, edit (and, by the same PUT, start,
// stop and rebuild), reboot and destroy, over core's commands. The translation of each parameter, its
// default and its unit is written in docs/gigas.md.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { Hangar } from '../../core/context.js';
import { Issues, notFound } from '../../core/errors.js';
import { landingFor } from '../../core/landing.js';
import { imageByRef } from '../../core/images.js';
import { zoneByRef } from '../../core/zones.js';
import { gradeByRef, listGrades } from '../../core/grades.js';
import { listNetworks } from '../../core/networks.js';
import { isoByRef, isoUrl } from '../../core/isos.js';
import { createVm } from '../../core/vms/create.js';
import { updateVm } from '../../core/vms/update.js';
import { deleteVm } from '../../core/vms/delete.js';
import { reimageVm } from '../../core/vms/actions.js';
import { powerVm } from '../../core/vms/power.js';
import { updateDisc } from '../../core/discs.js';
import { canSeeVm } from '../../core/principal.js';
import { loadVmView, loadVmViews } from '../../core/views.js';
import { checkSettings, DEFAULT_SETTINGS, newestOperation, saveSettings, settingsOf, vmFactsOf, type VmSettings } from '../../core/vm-settings.js';
import { applyVmLimits, cpuWeightOfShares } from '../../core/limits.js';
import { randomRootPassword } from '../../core/passwords.js';
import { setBootFrom } from '../../core/vms/media.js';
import type { VmView } from '../../core/views.js';
import type { CreateVmInput, DiscSpec, PowerRule, UpdateVmInput } from '../../core/vms/model.js';
import type { VmPlace } from '../../core/resolve.js';
import type { AccountRow } from '../../store/schema.js';
import { NoQuery } from '../parameters.js';
import { operationUrl } from '../operations.js';
import { AccountP, GBool, GId, gigas, GInt, GStr, Many, page, PageQ, Queued, VmP } from './schemas.js';
import { GigasVm, GigasVmQueued, presentVm, presentVms, type GigasVmBody } from './present.js';
import { gigasAccount, named, placeOf, vmOfPath } from './place.js';
import { bool, checkRootPassword, int, list, MIB_PER_GB } from './values.js';


export const VmCreate = Type.Object({
  memory: GInt, max_memory: Type.Optional(GInt), cpus: GInt, hostname: GStr(), label: GStr(), primary_disk_size: GInt,
  template_id: Type.Optional(GId), iso_id: Type.Optional(GId), iso_url: Type.Optional(GStr(2048)), location_id: GId,
  cpu_type: Type.Optional(GStr(16)), cpu_shares: Type.Optional(GInt), swap_disk_size: Type.Optional(GInt),
  initial_root_password: Type.Optional(GStr(64)), primary_network_id: Type.Optional(GId), primary_network_group_id: Type.Optional(GId),
  selected_ip_address: Type.Optional(GStr(64)), selected_ip_netmask: Type.Optional(GStr(64)), selected_ip_gateway: Type.Optional(GStr(64)),
  required_virtual_machine_build: Type.Optional(GBool), data_store_group_primary_id: Type.Optional(GId), data_store_group_id: Type.Optional(GId),
  data_store_group_secondary_id: Type.Optional(Many(GId)), data_store_group_swap_id: Type.Optional(Many(GId)),
  note: Type.Optional(GStr(4096)), secondary_disk_size: Type.Optional(Many(GInt)), rate_limit: Type.Optional(GInt),
}, { additionalProperties: false });

const VmEdit = Type.Object({
  memory: Type.Optional(GInt), max_memory: Type.Optional(GInt), cpus: Type.Optional(GInt), label: Type.Optional(GStr()),
  hostname: Type.Optional(GStr()), primary_disk_size: Type.Optional(GInt), note: Type.Optional(Type.Union([GStr(4096), Type.Null()])),
  status: Type.Optional(Type.Union([Type.Literal('online'), Type.Literal('offline')])), cpu_type: Type.Optional(GStr(16)),
  boot_type: Type.Optional(Type.Union([Type.Literal('default'), Type.Literal('cdrom')])), force: Type.Optional(GBool),
  template_id: Type.Optional(GId), required_startup: Type.Optional(GBool), noreboot: Type.Optional(GBool), rate_limit: Type.Optional(GInt),
  cpu_shares: Type.Optional(GInt),
}, { additionalProperties: false });

const RebootB = Type.Object({ force: Type.Optional(GBool) }, { additionalProperties: false });

const SORTS = ['identifier', 'label', 'memory', 'operating_system', 'operating_system_distro', 'status', 'location_id', 'disks_size'] as const;
const Filter = (description: string) => Type.Optional(Type.String({ maxLength: 255, description }));
const ListQ = Type.Object({
  id: Filter('the VM id: only that one'), type: Filter('standard (the only type here)'), cpu_type: Filter('amd or intel'),
  status: Type.Optional(Type.Union(['online', 'offline', 'unbuilt'].map((s) => Type.Literal(s)))),
  hostname: Filter('VMs whose hostname contains this'), ip_address: Filter('VMs with this address'),
  locked: Type.Optional(Type.String({ pattern: '^(true|false|1|0)$', description: 'true/false or 1/0' })),
  suspended: Type.Optional(Type.String({ pattern: '^(true|false|1|0)$', description: 'true/false or 1/0' })),
  location_id: Filter('the location id'), disk_type: Type.Optional(Type.Union([Type.Literal('vd'), Type.Literal('sd')])),
  label: Filter('VMs whose label contains this'),
  sort: Type.Optional(Type.Union(SORTS.flatMap((s) => [Type.Literal(s), Type.Literal(`-${s}`)]), { description: `one of ${SORTS.join(', ')}; a leading - sorts descending` })),
  ...PageQ,
});

type CreateBody = Static<typeof VmCreate>;

/** A template a VM may be built from: an image of the catalogue the caller sees, and active. */
async function activeImage(h: Hangar, p: FastifyRequest['principal'], ref: string) {
  const image = await imageByRef(h, p, ref);
  if (image.status !== 'active') throw notFound('image');
  return image;
}

/** S003 *Create* as core's create: its discs, image or ISO, place, network and settings. */
async function createInput(h: Hangar, req: FastifyRequest, account: AccountRow, groupVlan: number | null, b: CreateBody) {
  const p = req.principal;
  const errs = new Issues();
  const build = bool(b.required_virtual_machine_build, true);
  const sources = [b.template_id, b.iso_id, b.iso_url].filter((v) => v !== undefined).length;
  if (sources !== 1) errs.add('template_id', sources === 0 ? 'required' : 'invalid', sources === 0 ? undefined : { reason: 'one_source' });
  if (b.initial_root_password !== undefined) checkRootPassword(errs, 'initial_root_password', b.initial_root_password);
  const grade = async (field: string, id: string | number | undefined, fallback: string) =>
    id === undefined ? fallback : (await named(errs, field, () => gradeByRef(h, String(id))))?.name ?? fallback;
  const defaultGrade = (await listGrades(h)).find((g) => g.isDefault)?.name ?? 'sata';
  const baseGrade = await grade('data_store_group_id', b.data_store_group_id, defaultGrade);
  const discs: DiscSpec[] = [{ grade: await grade('data_store_group_primary_id', b.data_store_group_primary_id, baseGrade), sizeMiB: int(b.primary_disk_size) * MIB_PER_GB }];
  if (b.swap_disk_size !== undefined && int(b.swap_disk_size) > 0) {
    discs.push({ label: 'swap', grade: await grade('data_store_group_swap_id', list(b.data_store_group_swap_id)[0], baseGrade), sizeMiB: int(b.swap_disk_size) * MIB_PER_GB });
  }
  const secondaryGrades = list(b.data_store_group_secondary_id);
  for (const [i, size] of list(b.secondary_disk_size).entries()) {
    discs.push({ grade: await grade('data_store_group_secondary_id', secondaryGrades[i], baseGrade), sizeMiB: int(size) * MIB_PER_GB });
  }
  const zone = await named(errs, 'location_id', () => zoneByRef(h, String(b.location_id)));
  const image = b.template_id === undefined ? undefined : await named(errs, 'template_id', () => activeImage(h, p, String(b.template_id)));
  const iso = b.iso_id === undefined ? undefined : await named(errs, 'iso_id', () => isoByRef(h, p, String(b.iso_id)));
  if (b.primary_network_id !== undefined) {
    // The network a VM of this group is on: the group's private VLAN, else the public network.
    const network = (await listNetworks(h, p)).find((n) => String(n.id) === String(b.primary_network_id));
    const fits = network && (groupVlan === null ? network.public && network.vlanNum === h.config.vlanNum : !network.public && network.accountId === account.id && network.vlanNum === groupVlan);
    if (!fits) errs.add('primary_network_id', 'not_in_list');
  }
  const settings: Partial<VmSettings> = {
    cpuShares: b.cpu_shares === undefined ? null : int(b.cpu_shares), cpuType: b.cpu_type ?? null,
    rateLimitMbps: b.rate_limit === undefined ? null : int(b.rate_limit),
    imageId: image?.id ?? null, buildPending: !!image && !build,
  };
  checkSettings(errs, settings);
  errs.throwIfAny();
  const password = b.initial_root_password ?? randomRootPassword();
  // An image that takes no password gets none (a given one is refused by core, as it says).
  const usesPassword = b.initial_root_password !== undefined || !!image?.supports.password;
  const ip = b.selected_ip_address;
  const input: CreateVmInput = {
    label: b.label, guestHostname: b.hostname, note: b.note ?? null, cores: int(b.cpus), memoryMiB: int(b.memory),
    zone: zone!.name, discs, powerOn: build, autoreboot: false, bootFrom: image ? 'disc' : 'cdrom',
    ...(image && build ? { image: { distribution: image.name, ...(usesPassword ? { rootPassword: password } : {}) } } : {}),
    ...(iso ? { cdromUrl: await isoUrl(h, iso) } : b.iso_url !== undefined ? { cdromUrl: b.iso_url } : {}),
    ...(ip !== undefined ? { ips: ip.includes(':') ? { ipv6: ip } : { ipv4: ip } } : {}),
    initialPassword: usesPassword ? password : null,
  };
  return { input, settings };
}

/** Create in `account` (its default group, or the caller's: core/landing.ts); the VM and the create's operation. */
export async function createGigasVm(h: Hangar, req: FastifyRequest, account: AccountRow, body: CreateBody): Promise<GigasVmBody & { queue_token: string }> {
  const { group } = await landingFor(h, req.principal, String(account.id));
  const { input, settings } = await createInput(h, req, account, group.vlan_num, body);
  const created = await createVm(h, req.principal, account, group, input, 'gigas');
  await saveSettings(h, created.view.row.id, settings);
  const at: VmPlace = { vm: { id: created.view.row.id } as VmPlace['vm'], group, account };
  return { ...(await presentVm(h, req.principal, at)), queue_token: created.operation };
}

/** Cold changes on a running VM: applied by a fresh boot now, or (noreboot) at its next boot. */
const coldRule = (noreboot: boolean): PowerRule => (cur) => ({ powerOn: cur.powerOn, autorebootOn: cur.autorebootOn, cycle: cur.powerOn && !noreboot });

/** S003 *Edit*, *Start*, *Stop* and *Rebuild* (one PUT): the VM, and the operation when one runs. */
async function editVm(h: Hangar, req: FastifyRequest, at: VmPlace, b: Static<typeof VmEdit>): Promise<{ status: 200 | 202; body: GigasVmBody & { queue_token?: string | null } }> {
  const p = req.principal;
  if (b.template_id !== undefined) {
    const errs = new Issues();
    const image = await named(errs, 'template_id', () => activeImage(h, p, String(b.template_id)));
    errs.throwIfAny();
    const startup = bool(b.required_startup, true);
    // The image gets the VM's initial password again, where it takes one.
    const password = image!.supports.password ? (await vmFactsOf(h, p, [placeOf(at)])).get(at.vm.id)?.initialPassword ?? undefined : undefined;
    // A running VM is stopped first (hard: its disc is about to be rewritten).
    if (at.vm.power_on) await powerVm(h, p, at, { intent: 'stop' }, 'gigas');
    const op = await reimageVm(h, p, at, { distribution: image!.name, ...(password ? { rootPassword: password } : {}) }, {
      startAfterwards: startup, dialect: 'gigas',
    });
    await saveSettings(h, at.vm.id, { imageId: image!.id, buildPending: false });
    if (at.vm.boot_from !== 'disc') await setBootFrom(h, p, at, 'disc');
    return { status: 202, body: { ...(await presentVm(h, p, at)), queue_token: op } };
  }
  const errs = new Issues();
  const settings: Partial<VmSettings> = {};
  if (b.cpu_type !== undefined) settings.cpuType = b.cpu_type;
  if (b.rate_limit !== undefined) settings.rateLimitMbps = int(b.rate_limit);
  if (b.cpu_shares !== undefined) settings.cpuShares = int(b.cpu_shares);
  checkSettings(errs, settings);
  const view = await loadVmView(h.db, h.config.clusterDomain, at.vm.id);
  const primary = view.discs[0];
  const size = b.primary_disk_size === undefined ? undefined : int(b.primary_disk_size) * MIB_PER_GB;
  if (size !== undefined && (!primary || size < primary.size)) errs.add('primary_disk_size', 'invalid', { reason: primary ? 'discs_only_grow' : 'no_disc_for_image' });
  errs.throwIfAny();
  const change: UpdateVmInput = {
    ...(b.label !== undefined ? { label: b.label } : {}), ...(b.hostname !== undefined ? { guestHostname: b.hostname } : {}),
    ...(b.note !== undefined ? { note: b.note } : {}), ...(b.cpus !== undefined ? { cores: int(b.cpus) } : {}),
    ...(b.memory !== undefined ? { memoryMiB: int(b.memory) } : {}),
  };
  const cold = (change.cores !== undefined && change.cores !== at.vm.cores) || (change.memoryMiB !== undefined && change.memoryMiB !== at.vm.memory);
  if (Object.keys(change).length > 0) {
    // A cold change on a running VM passes core's rule as one made while it goes off; the rule keeps it on.
    const offFirst = cold && !!at.vm.power_on;
    const stopping = b.status === 'offline';
    await updateVm(h, p, at, { ...change, ...(offFirst ? { desiredPower: { powerOn: false } } : {}) }, {
      dialect: 'gigas', powerRule: offFirst ? coldRule(bool(b.noreboot, false) || stopping) : undefined,
    });
  }
  if (Object.keys(settings).length > 0) await saveSettings(h, at.vm.id, settings);
  if (b.boot_type !== undefined) await setBootFrom(h, p, at, b.boot_type === 'cdrom' ? 'cdrom' : 'disc');
  if (size !== undefined && primary && size !== primary.size) await updateDisc(h, p, { ...at, disc: primary }, { size });
  let op: string | null = null;
  // Limits are stored (above) and every start applies them; a placed VM gets them now too (docs/head-acts.md).
  if ((b.cpu_shares !== undefined || b.rate_limit !== undefined) && at.vm.head_id !== null) op = (await applyLimits(h, p, at, view)).operation;
  if (b.status === 'online') op = await powerVm(h, p, at, { intent: 'start' }, 'gigas');
  if (b.status === 'offline') op = await powerVm(h, p, at, bool(b.force, false) ? { intent: 'stop' } : { intent: 'shutdown' }, 'gigas');
  const body = await presentVm(h, p, at);
  return op === null ? { status: 200, body } : { status: 202, body: { ...body, queue_token: op } };
}

/** The VM's stored limits on its head: CPU weight and the primary interface's rate (core/limits.ts). */
async function applyLimits(h: Hangar, p: FastifyRequest['principal'], at: VmPlace, view: VmView) {
  const stored = (await settingsOf(h, [at.vm.id])).get(at.vm.id) ?? DEFAULT_SETTINGS;
  const primaryNic = view.nics[0];
  return applyVmLimits(h, p, at, {
    cpuWeight: cpuWeightOfShares(stored.cpuShares),
    nics: primaryNic ? [{ nicId: primaryNic.id, rateLimitMbps: stored.rateLimitMbps }] : [],
  });
}

type Row = GigasVmBody & { disks_size: number; ips: string[] };

function matches(v: Row, q: Static<typeof ListQ>): boolean {
  const has = (field: unknown, part: string | undefined) => part === undefined || String(field ?? '').toLowerCase().includes(part.toLowerCase());
  const flag = (field: unknown, word: string | undefined) => word === undefined || Number(field) === (/^(true|1)$/.test(word) ? 1 : 0);
  return (q.id === undefined || v.id === q.id) && (q.type === undefined || v.type === q.type) && (q.cpu_type === undefined || v.cpu_type === q.cpu_type)
    && (q.status === undefined || v.status === q.status) && has(v.hostname, q.hostname) && (q.ip_address === undefined || v.ips.includes(q.ip_address))
    && flag(v.locked, q.locked) && flag(v.suspended, q.suspended) && (q.location_id === undefined || v.location_id === q.location_id)
    && (q.disk_type === undefined || v.disk_type === q.disk_type) && has(v.label, q.label);
}

function sortRows(rows: Row[], sort: string | undefined): Row[] {
  if (!sort) return rows;
  const desc = sort.startsWith('-');
  const key = (desc ? sort.slice(1) : sort) as (typeof SORTS)[number];
  const num = key === 'memory' || key === 'disks_size' || key === 'location_id';
  return [...rows].sort((a, b) => {
    const [x, y] = [a[key], b[key]];
    const c = num ? Number(x ?? 0) - Number(y ?? 0) : String(x ?? '').localeCompare(String(y ?? ''));
    return (desc ? -c : c) || Number(a.id) - Number(b.id);
  });
}

export function vmRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();

    app.post('/account/:account_id/virtual_machine', {
      schema: { tags: ['gigas'], summary: 'Create a virtual machine (JSON or form; see docs/gigas.md for each parameter)', success: 202, response: gigas(GigasVmQueued, 202), params: AccountP, querystring: NoQuery, body: VmCreate },
    }, async (req, reply) => {
      const account = await gigasAccount(h, req, req.params.account_id);
      const created = await createGigasVm(h, req, account, req.body);
      // As BigV's: the operation's URL (the audit row names it, and through it the VM).
      return reply.code(202).header('location', operationUrl(created.queue_token)).send(created);
    });

    app.get('/account/:account_id/virtual_machines', {
      schema: { tags: ['gigas'], summary: 'The account\'s virtual machines you can see, filtered, sorted and paginated', response: gigas(Type.Array(GigasVm)), params: AccountP, querystring: ListQ },
    }, async (req, reply) => {
      const account = await gigasAccount(h, req, req.params.account_id);
      const views = (await loadVmViews(h.db, h.config.clusterDomain, { kind: 'accounts', accountIds: [account.id] }, { includeDeleted: false, children: true }))
        .filter((v) => canSeeVm(req.principal, { accountId: v.accountId, groupId: v.row.group_id, vmId: v.row.id }));
      const bodies = await presentVms(h, req.principal, views, () => !!account.suspended);
      const rows: Row[] = bodies.map((b, i) => ({
        ...b, disks_size: views[i]!.discs.reduce((s, d) => s + d.size, 0), ips: views[i]!.nics.flatMap((n) => [...n.ips, ...Object.keys(n.extraIps)]),
      }));
      const shown = sortRows(rows.filter((r) => matches(r, req.query)), req.query.sort ?? 'identifier');
      return page(reply, shown, req.query).map(({ disks_size: _d, ips: _i, ...vm }) => vm);
    });

    app.get('/account/:account_id/virtual_machine/:virtual_machine_id', {
      schema: { tags: ['gigas'], summary: 'A virtual machine', response: gigas(GigasVm), params: VmP, querystring: NoQuery },
    }, async (req) => presentVm(h, req.principal, await vmOfPath(h, req)));

    app.put('/account/:account_id/virtual_machine/:virtual_machine_id', {
      schema: { tags: ['gigas'], summary: 'Edit (memory, cpus, label, hostname, primary_disk_size, note, cpu_type (applies at the next boot), boot_type, rate_limit): 200; start or stop (status) or rebuild (template_id): 202 with the queue token', response: responsesOf(), params: VmP, querystring: NoQuery, body: VmEdit },
    }, async (req, reply) => {
      const r = await editVm(h, req, await vmOfPath(h, req), req.body);
      return r.status === 202 ? reply.code(202).header('location', operationUrl(r.body.queue_token!)).send(r.body) : r.body;
    });

    app.delete('/account/:account_id/virtual_machine/:virtual_machine_id', {
      schema: { tags: ['gigas'], summary: 'Destroy a virtual machine with its disks, interfaces, addresses, backups and snapshots', success: 202, response: gigas(Queued, 202), params: VmP, querystring: NoQuery },
    }, async (req, reply) => reply.code(202).send(await destroyGigasVm(h, req, await vmOfPath(h, req))));

    app.post('/account/:account_id/virtual_machine/:virtual_machine_id/reboot', {
      schema: { tags: ['gigas'], summary: 'Reboot (ACPI, reset at the timeout); force is ignored as S003 says', success: 202, response: gigas(GigasVmQueued, 202), params: VmP, querystring: NoQuery, body: RebootB },
    }, async (req, reply) => {
      const at = await vmOfPath(h, req);
      const op = await powerVm(h, req.principal, at, { intent: 'reboot' }, 'gigas');
      return reply.code(202).header('location', operationUrl(op)).send({ ...(await presentVm(h, req.principal, at)), queue_token: op });
    });
  };
}

/** The PUT answers 200 with the VM (a change with no operation) or 202 with it and its operation. */
function responsesOf(): Record<string, unknown> {
  return { ...gigas(GigasVmQueued, 202), 200: GigasVm };
}

/** Destroy (cascade: docs/domain.md §23): the purge's operation when the VM was on a head. */
export async function destroyGigasVm(h: Hangar, req: FastifyRequest, at: VmPlace): Promise<{ queue_token: string | null }> {
  await deleteVm(h, req.principal, at, { mode: 'cascade' });
  return { queue_token: (await newestOperation(h, at.vm.id, 'purge')) ?? null };
}
