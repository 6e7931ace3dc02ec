// e24cloud's virtual machines (seed 004, e24cloud.md §6) over core: create in the caller's home
// account and its default group, list and read with every field of the seed from real data, the
// power acts as core intents, resize with an ACPI shutdown first, rename, delete in core's detach or
// cascade mode. The console is core's remote console: VNC on the VM's head with an expiring password.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Hangar } from '../../core/context.js';
import type { Principal } from '../../core/principal.js';
import { Issues, invalid, refused } from '../../core/errors.js';
import { landingFor } from '../../core/landing.js';
import { resolveVmById, type VmPlace } from '../../core/resolve.js';
import { createVm } from '../../core/vms/create.js';
import { powerVm } from '../../core/vms/power.js';
import { updateVm } from '../../core/vms/update.js';
import { deleteVm } from '../../core/vms/delete.js';
import { resizeVm } from '../../core/vms/resize.js';
import { unendedKinds } from '../../core/vms/activity.js';
import { loadVmView, type VmView } from '../../core/views.js';
import { listAccounts } from '../../core/tree.js';
import { checkImageSupports, imageByRef, isCloudInitData, listImages, type Image } from '../../core/images.js';
import { isoByRef, isoUrl } from '../../core/isos.js';
import { sshKeyByRef } from '../../core/ssh-keys.js';
import { listZones, zoneByRef, type Zone } from '../../core/zones.js';
import { listNetworks, type Network } from '../../core/networks.js';
import { transferUsed } from '../../core/stats.js';
import { vmCost } from '../../core/prices.js';
import { openRemoteConsole } from '../../core/console.js';
import { Console, CreateVmB, DeleteB, EmptyB, IdP, NoParams, NoQuery, RenameB, ResizeB, VirtualMachine, WaitB, e24 } from './schemas.js';
import { Type } from 'typebox';

const TAGS = ['e24cloud'];
/** The system disc of a VM that boots an ISO (no template gives a size). */
export const CDROM_DISC_MIB = 10 * 1024;
/** `wait_for` when absent: the seed's example, 4 minutes. */
export const DEFAULT_WAIT_MINUTES = 4;

/** What presenting many VMs needs once per request. */
export interface Catalogues { images: Map<string, Image>; zones: Map<number, Zone>; networks: Network[] }

export async function catalogues(h: Hangar, p: Principal): Promise<Catalogues> {
  const [images, zones, networks] = await Promise.all([listImages(h, p), listZones(h), listNetworks(h, p)]);
  return { images: new Map(images.map((i) => [i.name, i])), zones: new Map(zones.map((z) => [z.id, z])), networks };
}

/** A resize shows as `installing` (the machine goes down and comes back, as after a create): a
 *  client waiting for `online` waits for its end, and `offline` would be untrue at both ends of it. */
export function e24State(v: VmView, kinds: string[]): 'online' | 'offline' | 'installing' | 'deleting' {
  if (kinds.includes('purge') || v.row.deleted) return 'deleting';
  if (kinds.includes('vm.create') || kinds.includes('reimage') || kinds.includes('vm.resize')) return 'installing';
  return v.row.run_state === 'running' ? 'online' : 'offline';
}

const isV4 = (a: string) => !a.includes(':');

export async function presentVm(h: Hangar, p: Principal, c: Catalogues, at: VmPlace, v: VmView) {
  const image = v.row.last_imaged_with === null ? undefined : c.images.get(v.row.last_imaged_with);
  const zone = v.row.zone_id === null ? undefined : c.zones.get(v.row.zone_id);
  const v4 = v.nics.flatMap((n) => [...n.ips, ...Object.keys(n.extraIps)].filter(isV4).map((a) => ({ id: n.addressIds.get(a)!, ipv4_address: a })));
  return {
    id: v.uuid,
    label: v.row.label ?? v.row.name,
    cores: v.row.cores,
    ram: v.row.memory,
    adm: false,
    system: { id: image?.uuid ?? null, name: image?.label ?? null },
    cost_per_hour: vmCost(h.config.prices, {
      cores: v.row.cores, memoryMiB: v.row.memory, ipv4Count: v4.length,
      discs: v.discs.map((d) => ({ grade: d.storage_grade, sizeMiB: d.size })),
    }),
    state: e24State(v, await unendedKinds(h, v.row.id)),
    transfer_used: await transferUsed(h, p, at),
    owner: { id: at.account.uuid, name: at.account.name },
    public_interface: {
      primary_ip_ipv4address: v.nics[0]?.ips.find(isV4) ?? null,
      ipv4_addresses: v4,
    },
    storage_volumes: v.discs.map((d, i) => ({ id: d.uuid, size: d.size / 1024, system_disk: i === 0, type: d.storage_grade === 'archive' ? 'HDD' : 'SSD' })),
    zone: { id: zone?.publicId ?? null, name: zone?.label ?? null },
    networks: v.nics.map((n) => {
      const net = c.networks.find((x) => x.vlanNum === n.vlanNum && (at.group.vlan_num === null ? x.public : x.accountId === at.account.id));
      return { id: net?.id ?? 0, label: net?.label ?? `vlan-${n.vlanNum}`, mac_address: n.mac, type: net?.public === false ? 'private' : 'public' };
    }),
    groups: [{ id: at.group.uuid, name: at.group.name }],
  };
}

/** Every VM the caller sees, as places with their views. */
export async function visibleVms(h: Hangar, p: Principal): Promise<{ at: VmPlace; view: VmView }[]> {
  const trees = await listAccounts(h, p, { includeDeleted: false, overview: true });
  return trees.flatMap((t) => t.groups.flatMap((g) => g.vms.map((view) => ({ at: { vm: view.row as unknown as VmPlace['vm'], group: g.group, account: t.account }, view }))));
}

const at = (h: Hangar, p: Principal, id: string, forChange = false) => resolveVmById(h.db, p, id, { includeDeleted: false, forChange });
const waitMs = (minutes: number | undefined) => Math.round((minutes ?? DEFAULT_WAIT_MINUTES) * 60_000);

export function vmRoutes(h: Hangar, app: FastifyInstance): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const base = { tags: TAGS, params: IdP, querystring: NoQuery };
  const act = { ...base, response: e24() };

  r.put('/virtual-machines', {
    schema: { tags: TAGS, summary: 'Create a VM in the caller\'s home account (create_vm)', params: NoParams, querystring: NoQuery, body: CreateVmB, response: e24({ virtual_machine: Type.Object({ id: Type.String() }) }) },
    config: { e24Fields: { cores: 'cpus', memoryMiB: 'ram', label: 'name', zone: 'compute_zone_id', discs: 'os', iso: 'cdrom' } },
  }, async (req) => {
    const b = req.body.create_vm;
    const p = req.principal;
    const bootType = b.boot_type ?? 'image';
    const errs = new Issues();
    if (bootType === 'image' && !b.os) errs.add('os', 'required');
    if (bootType === 'cdrom' && !b.cdrom) errs.add('cdrom', 'required');
    if (b.compute_zone_id !== undefined && b.zone_id !== undefined && b.compute_zone_id !== b.zone_id) errs.add('zone_id', 'invalid');
    errs.throwIfAny();
    const zoneRef = b.compute_zone_id ?? b.zone_id;
    const zone = zoneRef === undefined ? null : await zoneByRef(h, zoneRef).catch(() => { throw invalid('compute_zone_id', 'not_in_list'); });
    const { account, group } = await landingFor(h, p);
    let created;
    if (bootType === 'cdrom') {
      if (b.password !== undefined || b.key_id !== undefined || b.user_data !== undefined) throw refused(b.password !== undefined ? 'password' : b.key_id !== undefined ? 'key_id' : 'user_data', 'not_supported');
      const iso = await isoByRef(h, p, b.cdrom!);
      created = await createVm(h, p, account, group, {
        label: b.name, cores: b.cpus, memoryMiB: b.ram, powerOn: true, zone: zone?.name ?? null,
        cdromUrl: await isoUrl(h, iso), discs: [{ label: 'disc-1', grade: 'sata', sizeMiB: CDROM_DISC_MIB }],
      }, 'e24');
    } else {
      const image = await imageByRef(h, p, b.os!).catch(() => { throw invalid('os', 'not_in_list'); });
      // user_data is the config drive's: a `#!` script runs once at first boot on every image, cloud-init's
      // formats (#cloud-config...) only on an image with cloud-init; e24cloud gives no other meaning to it.
      const userData = b.user_data || undefined;
      if (userData !== undefined && !userData.startsWith('#!') && !isCloudInitData(userData)) throw refused('user_data', 'not_script_or_cloud_config');
      const use = new Issues();
      checkImageSupports(use, image, { firstbootScript: userData });
      use.throwIfAny();
      const key = b.key_id === undefined ? undefined : await sshKeyByRef(h, p, String(b.key_id));
      created = await createVm(h, p, account, group, {
        label: b.name, cores: b.cpus, memoryMiB: b.ram, powerOn: true, zone: zone?.name ?? null,
        discs: [{ label: 'disc-1', grade: 'sata', sizeMiB: image.defaultDiscMiB ?? image.minDiscMiB ?? 10 * 1024 }],
        image: {
          distribution: image.name,
          ...(b.password !== undefined ? { rootPassword: b.password } : {}),
          ...(key ? { sshPublicKey: key.publicKey } : {}),
          ...(userData !== undefined ? { firstbootScript: userData } : {}),
        },
      }, 'e24');
    }
    return { success: true, virtual_machine: { id: created.view.uuid } };
  });

  r.get('/virtual-machines', { schema: { tags: TAGS, summary: 'The VMs the caller sees', params: NoParams, querystring: NoQuery, response: e24({ virtual_machines: Type.Array(VirtualMachine) }) } }, async (req) => {
    const c = await catalogues(h, req.principal);
    const out = [];
    for (const { at: place, view } of await visibleVms(h, req.principal)) out.push(await presentVm(h, req.principal, c, place, view));
    return { success: true, virtual_machines: out };
  });

  r.get('/virtual-machines/:id', { schema: { ...base, summary: 'One VM (an object, not the seed\'s one-element array: docs/e24cloud.md)', response: e24({ virtual_machine: VirtualMachine }) } }, async (req) => {
    const place = await at(h, req.principal, req.params.id);
    const view = await loadVmView(h.db, h.config.clusterDomain, place.vm.id);
    return { success: true, virtual_machine: await presentVm(h, req.principal, await catalogues(h, req.principal), place, view) };
  });

  r.post('/virtual-machines/:id/resize', {
    schema: { ...act, summary: 'Resize: a running VM is shut down through ACPI (forced after wait_for minutes), resized and started again, as one operation (Location: /operations/{id}); a stopped one is resized at once', body: ResizeB },
    config: { e24Fields: { memoryMiB: 'ram', timeout: 'wait_for' } },
  }, async (req, reply) => {
    const b = req.body;
    const { operation } = await resizeVm(h, req.principal, await at(h, req.principal, req.params.id, true), {
      ...(b.cores !== undefined ? { cores: b.cores } : {}), ...(b.ram !== undefined ? { memoryMiB: b.ram } : {}), waitMs: waitMs(b.wait_for),
    }, 'e24');
    if (operation !== null) void reply.header('location', `/operations/${operation}`);
    return { success: true };
  });

  r.post('/virtual-machines/:id/shutdown', { schema: { ...act, summary: 'ACPI shutdown, forced off after wait_for minutes (default 4)', body: WaitB } }, async (req) => {
    await powerVm(h, req.principal, await at(h, req.principal, req.params.id, true), { intent: 'shutdown', timeoutMs: waitMs(req.body.wait_for) }, 'e24');
    return { success: true };
  });

  r.post('/virtual-machines/:id/poweroff', { schema: { ...act, summary: 'With wait_for: as shutdown; without: hard power off', body: WaitB } }, async (req) => {
    const place = await at(h, req.principal, req.params.id, true);
    const w = req.body.wait_for;
    await powerVm(h, req.principal, place, w === undefined ? { intent: 'stop' } : { intent: 'shutdown', timeoutMs: waitMs(w) }, 'e24');
    return { success: true };
  });

  for (const [verb, intent, summary] of [
    ['poweron', 'start', 'Power on'], ['reboot', 'reboot', 'Reboot through ACPI (reset if the guest does not halt in 4 minutes)'], ['reset', 'reset', 'Hard reset'],
  ] as const) {
    r.post(`/virtual-machines/:id/${verb}`, { schema: { ...act, summary, body: EmptyB } }, async (req) => {
      await powerVm(h, req.principal, await at(h, req.principal, req.params.id, true), { intent }, 'e24');
      return { success: true };
    });
  }

  r.post('/virtual-machines/:id/rename', { schema: { ...act, summary: 'Change the VM\'s label', body: RenameB }, config: { e24Fields: { label: 'name' } } }, async (req) => {
    await updateVm(h, req.principal, await at(h, req.principal, req.params.id, true), { label: req.body.name }, { dialect: 'e24' });
    return { success: true };
  });

  // Resolved as a read: the console is what vm_console grants (openRemoteConsole checks it).
  r.post('/virtual-machines/:id/console', {
    schema: { ...base, summary: 'VNC console of a running VM: its head, port and a password that expires (expires_at, 10 minutes)', body: EmptyB, response: e24({ console: Console }) },
  }, async (req) => {
    const c = await openRemoteConsole(h, req.principal, await at(h, req.principal, req.params.id));
    return { success: true, console: { host: c.host, port: c.port, password: c.password, expires_at: new Date(c.expiresAt).toISOString() } };
  });

  r.delete('/virtual-machines/:id', { schema: { ...act, summary: 'Delete: deleteResources 0 (default) keeps volumes and addresses, 1 deletes them', body: DeleteB } }, async (req) => {
    const place = await at(h, req.principal, req.params.id, true);
    await deleteVm(h, req.principal, place, { mode: (req.body?.deleteResources ?? 0) === 1 ? 'cascade' : 'detach' });
    return { success: true };
  });
}
