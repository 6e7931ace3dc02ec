// e24cloud's supporting routes (e24cloud.md §3, §5, §7–10): regions and zones, templates from the
// image catalogue, storage volumes, disk images, IPv4 addresses. VLANs are not part of this
// dialect's work (issue 10): they answer 501 in the envelope (errors.ts NotImplemented).
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../../core/context.js';
import type { Principal } from '../../core/principal.js';
import { invalid, notFound, refused } from '../../core/errors.js';
import { imageByRef, listImages, type Image } from '../../core/images.js';
import { deleteDisc, resolveDiscById } from '../../core/discs.js';
import { deleteIp, resolveIp } from '../../core/network.js';
import { discCost } from '../../core/prices.js';
import {
  allocateHeldAddress, attachHeldAddress, attachHeldVolume, createHeldVolume, deleteHeldVolume, detachAddress, detachVolume, heldAddresses, heldVolumes, releaseHeldAddress,
} from '../../core/holdings.js';
import { listGrades } from '../../core/grades.js';
import { operationUrl } from '../operations.js';
import { landingFor } from '../../core/landing.js';
import { createTemplate, createTemplateFromVolume, deleteTemplate } from '../../core/templates.js';
import { listZones, zoneByRef } from '../../core/zones.js';
import { resolveVmById, visibleAccounts } from '../../core/resolve.js';
import { Closed, Str, Bool, NStr } from '../responses.js';
import { NotImplemented } from './errors.js';
import { IdP, IdRef, NIdRef, NoParams, NoQuery, e24, EmptyB, UUID } from './schemas.js';
import { catalogues, visibleVms } from './vms.js';

const TAGS = ['e24cloud'];
const Num = Type.Number();
const Zone = Closed({ id: Str, label: Str, name: Str, available: Bool });
const Template = Closed({ id: Str, label: Str, supports: Type.Array(Str), owner: Type.Optional(IdRef) });
const VmRef = Closed({ id: Str, label: Str });
const Volume = Closed({
  id: Str, label: Str, size: Num, cost_per_hour: Num, type: Str, system_disk: Bool, shared_disk: Bool,
  owner: IdRef, zone: NIdRef, virtual_machine: Type.Optional(VmRef),
});
const Address = Closed({
  id: Str, ipv4_address: Str, cost_per_hour: Num, owner: IdRef, zone: NIdRef, virtual_machine: Type.Optional(VmRef), dhcp: Bool,
});
const AttachB = Type.Object({ virtual_machine_id: UUID }, { additionalProperties: false });
const VolumeCreateB = Type.Object({
  size: Type.Integer({ minimum: 1 }), zone_id: UUID, label: Type.String({ maxLength: 255 }), type: Type.Optional(Type.Union([Type.Literal('SSD'), Type.Literal('HDD')])),
}, { additionalProperties: false });
const ImageCreateB = Type.Object({ storage_volume_id: UUID, label: Type.String({ maxLength: 255 }) }, { additionalProperties: false });
const ZoneB = Type.Object({ zone_id: UUID }, { additionalProperties: false });
const VlanIdP = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,10}$' }) });

function template(i: Image, owners: Map<number, { id: string; name: string }>) {
  const supports = [...(i.supports.password ? ['password'] : []), ...(i.supports.sshKey ? ['sshkey'] : []), ...(i.supports.cloudInit ? ['cloudinit'] : [])];
  const owner = i.ownerAccountId === null ? undefined : owners.get(i.ownerAccountId);
  return { id: i.uuid, label: i.label, supports, ...(owner ? { owner } : {}) };
}

/** Every volume and address on the caller's VMs, and those its accounts hold with no VM, presented. */
async function holdings(h: Hangar, p: Principal) {
  const c = await catalogues(h, p);
  const volumes = [];
  const addresses = [];
  for (const { at, view } of await visibleVms(h, p)) {
    const zone = view.row.zone_id === null ? undefined : c.zones.get(view.row.zone_id);
    const common = { owner: { id: at.account.uuid, name: at.account.name }, zone: { id: zone?.publicId ?? null, name: zone?.label ?? null }, virtual_machine: { id: view.uuid, label: view.row.label ?? view.row.name } };
    for (const [i, d] of view.discs.entries()) {
      volumes.push({
        id: d.uuid, label: d.label, size: d.size / 1024, cost_per_hour: discCost(h.config.prices, { grade: d.storage_grade, sizeMiB: d.size }),
        type: d.storage_grade === 'archive' ? 'HDD' : 'SSD', system_disk: i === 0, shared_disk: false, ...common,
      });
    }
    for (const [n, nic] of view.nics.entries()) {
      for (const a of [...nic.ips, ...Object.keys(nic.extraIps)].filter((x) => !x.includes(':'))) {
        addresses.push({ id: nic.addressIds.get(a)!, ipv4_address: a, cost_per_hour: h.config.prices.ipv4, dhcp: n === 0 && nic.ips[0] === a, ...common });
      }
    }
  }
  const owner = (a: { uuid: string; name: string }) => ({ id: a.uuid, name: a.name });
  for (const { disc: d, zoneId, account } of await heldVolumes(h, p)) {
    const zone = zoneId === null ? undefined : c.zones.get(zoneId);
    volumes.push({
      id: d.uuid, label: d.label, size: d.size / 1024, cost_per_hour: discCost(h.config.prices, { grade: d.storage_grade, sizeMiB: d.size }),
      type: d.storage_grade === 'archive' ? 'HDD' : 'SSD', system_disk: false, shared_disk: false, owner: owner(account),
      zone: { id: zone?.publicId ?? null, name: zone?.label ?? null }, held: true,
    });
  }
  for (const { uuid, address, account } of await heldAddresses(h, p)) {
    addresses.push({ id: uuid, ipv4_address: address, cost_per_hour: h.config.prices.ipv4, dhcp: false, owner: owner(account), zone: { id: null, name: null }, held: true });
  }
  return { volumes, addresses };
}

/** The accounts the caller sees, as an image's `owner` (a caller with no VM still owns its images). */
async function ownersFor(h: Hangar, p: Principal): Promise<Map<number, { id: string; name: string }>> {
  return new Map((await visibleAccounts(h.db, p)).map((a) => [a.id, { id: a.uuid, name: a.name }]));
}

/** Without the internal mark of a thing held with no VM. */
const present = <T extends { held?: boolean }>({ held: _held, ...rest }: T) => rest;

export function catalogueRoutes(h: Hangar, app: FastifyInstance): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const none = { tags: TAGS, params: NoParams, querystring: NoQuery };
  const one = { tags: TAGS, params: IdP, querystring: NoQuery };
  const missing = (what: string) => async () => { throw new NotImplemented(what); };

  r.get('/regions', { schema: { ...none, summary: 'Regions and their zones (label: set by a cluster admin)', response: e24({ regions: Type.Array(Closed({ name: Str, zones: Type.Array(Zone) })) }) } }, async () => {
    const byRegion = new Map<string, { id: string; label: string; name: string; available: boolean }[]>();
    for (const z of await listZones(h)) byRegion.set(z.region, [...(byRegion.get(z.region) ?? []), { id: z.publicId, label: z.label, name: z.name, available: z.available }]);
    return { success: true, regions: [...byRegion].map(([name, zones]) => ({ name, zones })) };
  });

  r.get('/templates', { schema: { ...none, summary: 'Operating systems: the image catalogue and the caller\'s own images', response: e24({ templates: Type.Array(Template) }) } }, async (req) => {
    const images = await listImages(h, req.principal);
    const owners = await ownersFor(h, req.principal);
    return { success: true, templates: images.filter((i) => i.aliasOf === null).map((i) => template(i, owners)) };
  });

  // Storage volumes: the discs of the caller's VMs and the volumes its accounts hold with no VM, which
  // attach to and detach from powered-off VMs, and are made and deleted with no VM (core/holdings.ts).
  r.get('/storage-volumes', { schema: { ...none, summary: 'The volumes of the caller\'s VMs', response: e24({ storage_volumes: Type.Array(Volume) }) } }, async (req) => {
    return { success: true, storage_volumes: (await holdings(h, req.principal)).volumes.map(present) };
  });
  r.get('/storage-volumes/:id', { schema: { ...one, summary: 'One volume', response: e24({ storage_volume: Volume }) } }, async (req) => {
    return { success: true, storage_volume: present(await volume(req.principal, req.params.id)) };
  });
  r.put('/storage-volumes', {
    schema: { ...none, summary: 'Create a volume {size GB, zone_id, label, type} held by the caller\'s home account with no VM (Location: the operation making its file)', body: VolumeCreateB, response: e24({ storage_volume: Volume }) },
    config: { e24Fields: { label: 'label', storage_grade: 'type' } },
  }, async (req, reply) => {
    const zone = await zoneByRef(h, req.body.zone_id).catch(() => { throw invalid('zone_id', 'not_in_list'); });
    const grade = await gradeOfType(req.body.type);
    const { account } = await landingFor(h, req.principal);
    const made = await createHeldVolume(h, req.principal, account, { label: req.body.label, size: req.body.size * 1024, grade, zone: zone.name }, 'e24');
    reply.header('location', operationUrl(made.operation));
    return { success: true, storage_volume: present(await volume(req.principal, made.disc.uuid)) };
  });
  /** The grade of an e24 volume type: the default grade when it is of that type (or none is given), else the first that is. */
  const gradeOfType = async (type: 'SSD' | 'HDD' | undefined) => {
    const grades = await listGrades(h);
    const fits = [...grades.filter((g) => g.isDefault), ...grades.filter((g) => !g.isDefault)].find((g) => type === undefined ? g.isDefault : g.e24Type === type);
    if (!fits) throw invalid('type', 'not_in_list');
    return fits.name;
  };
  // Another tenant's id is not found (404) before anything else is said.
  const volume = async (p: Principal, id: string) => {
    const v = (await holdings(h, p)).volumes.find((x) => x.id === id.toLowerCase());
    if (!v) throw notFound('storage_volume');
    return v;
  };
  const address = async (p: Principal, id: string) => {
    const a = (await holdings(h, p)).addresses.find((x) => x.id === id.toLowerCase());
    if (!a) throw notFound('ipv4_address');
    return a;
  };
  r.post('/storage-volumes/:id/attach', { schema: { ...one, summary: 'Attach a volume the account holds to one of its powered-off VMs on the same head', body: AttachB, response: e24() } }, async (req) => {
    const v = await volume(req.principal, req.params.id);
    if (!v.held) throw refused('id', 'volume_attached', {}, 'state');
    const at = await resolveVmById(h.db, req.principal, req.body.virtual_machine_id, { includeDeleted: false, forChange: true });
    await attachHeldVolume(h, req.principal, v.id, at);
    return { success: true };
  });
  r.post('/storage-volumes/:id/detach', { schema: { ...one, summary: 'Detach a volume (not the system disc) from its powered-off VM; the account keeps it', body: EmptyB, response: e24() } }, async (req) => {
    const v = await volume(req.principal, req.params.id);
    if (v.held) throw refused('id', 'volume_not_attached', {}, 'state');
    await detachVolume(h, req.principal, await resolveDiscById(h, req.principal, v.id).catch(() => { throw notFound('storage_volume'); }));
    return { success: true };
  });
  r.delete('/storage-volumes/:id', { schema: { ...one, summary: 'Delete a volume: of one of the caller\'s VMs, or held with no VM (Location: the operation removing its file)', body: EmptyB, response: e24() } }, async (req, reply) => {
    const v = await volume(req.principal, req.params.id);
    if (v.held) {
      const op = await deleteHeldVolume(h, req.principal, v.id, 'e24');
      if (op !== null) reply.header('location', operationUrl(op));
      return { success: true };
    }
    await deleteDisc(h, req.principal, await resolveDiscById(h, req.principal, v.id).catch(() => { throw notFound('storage_volume'); }), true);
    return { success: true };
  });

  // Disk images: the caller's accounts' own images (templates), listed, made and deleted.
  r.get('/disk-images', { schema: { ...none, summary: 'The caller\'s own images', response: e24({ disk_images: Type.Array(Closed({ id: Str, label: Str, size: Num, cost_per_hour: Num, owner: IdRef })) }) } }, async (req) => {
    const owners = await ownersFor(h, req.principal);
    const own = (await listImages(h, req.principal)).filter((i) => i.ownerAccountId !== null);
    return {
      success: true,
      disk_images: own.map((i) => ({ id: i.uuid, label: i.label, size: (i.defaultDiscMiB ?? 0) / 1024, cost_per_hour: 0, owner: owners.get(i.ownerAccountId!) ?? { id: '', name: '' } })),
    };
  });
  // An image is made by a head from a volume: a disc of one of the caller's VMs (by the VM's head, live
  // when it runs) or a volume its account holds (core/templates.ts).
  r.put('/disk-images', {
    schema: { ...none, summary: 'An image in the catalogue from a volume: a VM\'s disc or a held one (Location: the operation making it)', body: ImageCreateB, response: e24({ disk_image: Closed({ id: Str }) }) },
    config: { e24Fields: { label: 'label' } },
  }, async (req, reply) => {
    const v = await volume(req.principal, req.body.storage_volume_id);
    const label = req.body.label;
    const onVm = 'virtual_machine' in v ? v.virtual_machine : undefined;
    const made = onVm === undefined
      ? await createTemplateFromVolume(h, req.principal, v.id, { label }, 'e24')
      : await createTemplate(h, req.principal, await resolveVmById(h.db, req.principal, onVm.id, { includeDeleted: false, forChange: true }), {
        label, discId: (await resolveDiscById(h, req.principal, v.id).catch(() => { throw notFound('storage_volume'); })).disc.id,
      }, 'e24');
    reply.header('location', operationUrl(made.operation));
    return { success: true, disk_image: { id: made.image.uuid } };
  });
  r.delete('/disk-images/:id', { schema: { ...one, summary: 'Take one of the caller\'s images out of the catalogue', body: EmptyB, response: e24() } }, async (req) => {
    const image = await imageByRef(h, req.principal, req.params.id).catch(() => { throw notFound('disk_image'); });
    if (image.ownerAccountId === null) throw notFound('disk_image');
    await deleteTemplate(h, req.principal, image);
    return { success: true };
  });

  // IPv4 addresses: those on the caller's VMs and those its accounts hold with no VM (core/holdings.ts);
  // a new one is held by the home account, a held one attaches to a VM of its account, an extra one detaches back.
  r.get('/ipv4-addresses', { schema: { ...none, summary: 'The IPv4 addresses of the caller\'s VMs', response: e24({ ipv4_addresses: Type.Array(Address) }) } }, async (req) => {
    return { success: true, ipv4_addresses: (await holdings(h, req.principal)).addresses.map(present) };
  });
  r.get('/ipv4-addresses/:id', { schema: { ...one, summary: 'One address', response: e24({ ipv4_address: Address }) } }, async (req) => {
    return { success: true, ipv4_address: present(await address(req.principal, req.params.id)) };
  });
  r.put('/ipv4-addresses', { schema: { ...none, summary: 'A new address from the pool, held by the caller\'s home account with no VM', body: ZoneB, response: e24({ ipv4_address: Address }) } }, async (req) => {
    // Addresses are not bound to zones in core yet: the zone is checked, the pool is the cluster's.
    await zoneByRef(h, req.body.zone_id).catch(() => { throw invalid('zone_id', 'not_in_list'); });
    const made = await allocateHeldAddress(h, req.principal, (await landingFor(h, req.principal)).account);
    return { success: true, ipv4_address: present(await address(req.principal, made)) };
  });
  r.post('/ipv4-addresses/:id/attach', { schema: { ...one, summary: 'Attach an address the account holds to one of its VMs (an extra address)', body: AttachB, response: e24() } }, async (req) => {
    const a = await address(req.principal, req.params.id);
    if (!a.held) throw invalid('id', 'state');
    const at = await resolveVmById(h.db, req.principal, req.body.virtual_machine_id, { includeDeleted: false, forChange: true });
    await attachHeldAddress(h, req.principal, a.id, at);
    return { success: true };
  });
  r.post('/ipv4-addresses/:id/detach', { schema: { ...one, summary: 'Detach an extra address from its VM; the account keeps it', body: EmptyB, response: e24() } }, async (req) => {
    const a = await address(req.principal, req.params.id);
    if (a.held) throw invalid('id', 'state');
    await detachAddress(h, req.principal, await resolveIp(h, req.principal, a.ipv4_address));
    return { success: true };
  });
  r.delete('/ipv4-addresses/:id', { schema: { ...one, summary: 'Release an extra address of one of the caller\'s VMs', body: EmptyB, response: e24() } }, async (req) => {
    const a = await address(req.principal, req.params.id);
    if (a.held) return releaseHeldAddress(h, req.principal, a.id).then(() => ({ success: true }));
    await deleteIp(h, req.principal, await resolveIp(h, req.principal, a.ipv4_address));
    return { success: true };
  });

  r.get('/vlans', { schema: { ...none, summary: 'VLANs (501: not part of this dialect yet)', response: e24({ vlans: Type.Array(Closed({ id: Type.Integer(), label: NStr })) }) } }, missing('private networks (VLANs)'));
  r.post('/vlans/:id/attach', { schema: { tags: TAGS, params: VlanIdP, querystring: NoQuery, summary: 'Attach a VLAN (501)', body: AttachB, response: e24() } }, missing('private networks (VLANs)'));
  r.post('/vlans/:id/detach', { schema: { tags: TAGS, params: VlanIdP, querystring: NoQuery, summary: 'Detach a VLAN (501)', body: Type.Object({ virtual_machine_id: Type.Optional(UUID) }, { additionalProperties: false }), response: e24() } }, missing('private networks (VLANs)'));
}
