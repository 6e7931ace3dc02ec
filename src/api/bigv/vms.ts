// Virtual machines: nested and non-nested reads, create (bare and vm_create), PUT, DELETE,
// signal and reimage.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Static } from 'typebox';
import type { Hangar } from '../../core/context.js';
import { notFoundAsNull, resolveAccount, resolveGroup, resolveVmById, resolveVmPath, visibleAccounts } from '../../core/resolve.js';
import { groupIdsByRef } from '../../store/repos/vms.js';
import type { Store } from '../../store/db.js';
import { isClusterAdmin, type Principal } from '../../core/principal.js';
import { canSeeVm } from '../../core/principal.js';
import { createVm } from '../../core/vms/create.js';
import { updateVm } from '../../core/vms/update.js';
import type { CreateVmInput, DiscSpec, ImageSpec, UpdateVmInput } from '../../core/vms/model.js';
import { deleteVm } from '../../core/vms/delete.js';
import { reimageVm, signalVm } from '../../core/vms/actions.js';
import { loadVmViews, type VmFilter } from '../../core/views.js';
import { notFound, refused } from '../../core/errors.js';
import { nextPower, powerAtCreate } from './power.js';
import { presentDisc, presentVm } from './present.js';
import { poolLabels } from './pools.js';
import { NoParams, NoQuery } from '../parameters.js';
import { changes } from '../wire.js';
import { ifMatchVersions, versionTag } from '../etag.js';
import { operationUrl } from '../operations.js';
import { bigv, bigvNoContent, listOf, Reimaged, SignalSent, VmCreated, VmEither, VmOverview } from './responses.js';
import { DiscCreate, GrpP, IdP, IncludeDeletedQ, PurgeQ, ReadQ, Reimage, Signal, VmAttrs, VmCreate, VmListQ, VmP, VmPut } from './schemas.js';

/**
 * BigV's filters of the non-nested GET /virtual_machines: `account_id` is an account id or name;
 * `group_id` a group id, or a name ("default") looked up in that account, else in every account
 * the caller can see. Both apply together. null when nothing can match.
 */
async function vmListFilter(db: Store, p: Principal, acc: string | undefined, grp: string | undefined): Promise<VmFilter | null> {
  let accounts: number[] | null = null; // null: no account restriction (a cluster admin without account_id)
  if (acc !== undefined) {
    const account = await resolveAccount(db, p, acc).catch(notFoundAsNull);
    if (!account) return null;
    accounts = [account.id];
  } else if (!isClusterAdmin(p)) {
    accounts = (await visibleAccounts(db, p)).map((a) => a.id);
  }
  if (accounts !== null && accounts.length === 0) return null;
  if (grp === undefined) return accounts === null ? { kind: 'all' } : { kind: 'accounts', accountIds: accounts };
  const groupIds = await groupIdsByRef(db, grp, accounts);
  return groupIds.length ? { kind: 'groups', groupIds } : null;
}

/** The fields given (a null stays: it clears), without the ones absent. */
function given<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** BigV's VM attributes as the domain's. */
function vmIn(b: Static<typeof VmAttrs>): CreateVmInput {
  return given({
    name: b.name, cores: b.cores, memoryMiB: b.memory, powerOn: b.power_on, autoreboot: b.autoreboot_on, cdromUrl: b.cdrom_url,
    keymap: b.keymap, hardwareProfile: b.hardware_profile, hardwareProfileLocked: b.hardware_profile_locked, zone: b.zone_name,
  });
}

function discIn(d: Static<typeof DiscCreate>): DiscSpec {
  return given({
    label: d.label, grade: d.storage_grade, sizeMiB: d.size,
    backupSchedules: d.backup_schedules?.map((s) => given({ startAt: s.start_at, intervalSeconds: s.interval_seconds, capacity: s.capacity })),
  });
}

export function imageIn(r: Static<typeof Reimage>): ImageSpec {
  return given({ distribution: r.distribution, rootPassword: r.root_password, sshPublicKey: r.ssh_public_key, firstbootScript: r.firstboot_script });
}

/** BigV's power at creation (powerAtCreate) made explicit for core. */
function withBigvPower(input: CreateVmInput): CreateVmInput {
  return { ...input, ...powerAtCreate(input, !!input.image) };
}

/** A PUT's changes; `deleted` and `appliance` are BigV's and handled by the route. */
function updateIn(b: Static<typeof VmPut>): UpdateVmInput {
  const { powerOn, autoreboot, zone: _zone, ...rest } = vmIn(b);
  return given({ ...rest, groupId: b.group_id, desiredPower: given({ powerOn, autoreboot }) });
}

export function vmRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const vmPath = (req: { params: Static<typeof VmP>; principal: Parameters<typeof resolveVmPath>[1]; method: string }, includeDeleted: boolean) =>
      resolveVmPath(h.db, req.principal, req.params.acc, req.params.grp, req.params.vm, { includeDeleted, forChange: changes(req) });
    /** One VM, with its version as the reply's ETag. */
    const one = async (vmId: number, reply: FastifyReply) => {
      const [view] = await loadVmViews(h.db, h.config.clusterDomain, { kind: 'ids', ids: [vmId] }, { includeDeleted: true, children: true });
      if (!view) throw notFound('virtual_machine');
      reply.header('etag', versionTag(view.row.version));
      return presentVm(view, { overview: true, poolLabels: await poolLabels(h.db) });
    };
    const list = async (principal: Parameters<typeof canSeeVm>[0], filter: VmFilter, query: Static<typeof ReadQ>) => {
      const overview = query.view === 'overview';
      const views = await loadVmViews(h.db, h.config.clusterDomain, filter, { includeDeleted: query.include_deleted ?? false, children: overview });
      const pools = overview ? await poolLabels(h.db) : undefined;
      return views
        .filter((v) => canSeeVm(principal, { accountId: v.accountId, groupId: v.row.group_id, vmId: v.row.id }))
        .map((v) => presentVm(v, { overview, poolLabels: pools }));
    };

    app.get('/accounts/:acc/groups/:grp/virtual_machines', { schema: { tags: ['bigv'], summary: 'The group\'s VMs', response: bigv(listOf(VmEither)), params: GrpP, querystring: ReadQ } }, async (req) => {
      const account = await resolveAccount(h.db, req.principal, req.params.acc);
      const group = await resolveGroup(h.db, req.principal, account, req.params.grp);
      return list(req.principal, { kind: 'groups', groupIds: [group.id] }, req.query);
    });

    app.post('/accounts/:acc/groups/:grp/virtual_machines', { schema: { tags: ['bigv'], summary: 'Create a bare VM (one NIC with IPv4 and IPv6, no disc)', success: 202, response: bigv(VmOverview, 202), params: GrpP, querystring: NoQuery, body: VmAttrs } }, async (req, reply) => {
      const account = await resolveAccount(h.db, req.principal, req.params.acc);
      const group = await resolveGroup(h.db, req.principal, account, req.params.grp);
      const created = await createVm(h, req.principal, account, group, withBigvPower(vmIn(req.body)), 'bigv');
      reply.code(202).header('location', operationUrl(created.operation));
      return presentVm(created.view, { overview: true, poolLabels: await poolLabels(h.db) });
    });

    app.post('/accounts/:acc/groups/:grp/vm_create', { schema: { tags: ['bigv'], summary: 'Create a VM with discs, an image (reimage) and chosen IPs', success: 202, response: bigv(VmCreated, 202), params: GrpP, querystring: NoQuery, body: VmCreate } }, async (req, reply) => {
      const account = await resolveAccount(h.db, req.principal, req.params.acc);
      const group = await resolveGroup(h.db, req.principal, account, req.params.grp);
      const input = req.body;
      const created = await createVm(h, req.principal, account, group, withBigvPower({
        ...vmIn(input.virtual_machine), ...given({ discs: input.discs?.map(discIn), image: input.reimage && imageIn(input.reimage), ips: input.ips }),
      }), 'bigv');
      const pools = await poolLabels(h.db);
      reply.code(202).header('location', operationUrl(created.operation));
      return {
        virtual_machine: presentVm(created.view, { overview: true, poolLabels: pools }),
        discs: created.discs.map((d) => presentDisc(d, pools, created.view.schedules.filter((s) => s.disc_id === d.id))),
        ...(input.reimage ? { reimage: { distribution: input.reimage.distribution, ssh_public_key: input.reimage.ssh_public_key ?? '' } } : {}),
        ...(input.ips ? { ips: input.ips } : {}),
      };
    });

    app.get('/accounts/:acc/groups/:grp/virtual_machines/:vm', { schema: { tags: ['bigv'], summary: 'One VM with its discs and NICs', response: bigv(VmOverview), params: VmP, querystring: IncludeDeletedQ } }, async (req, reply) => {
      const at = await vmPath(req, req.query.include_deleted ?? false);
      return one(at.vm.id, reply);
    });

    app.put('/accounts/:acc/groups/:grp/virtual_machines/:vm', { schema: { tags: ['bigv'], summary: 'Change a VM: power, size, name, group, undelete', response: bigv(VmOverview), params: VmP, querystring: NoQuery, body: VmPut } }, async (req, reply) => {
      const at = await vmPath(req, true);
      const body = req.body;
      // BigV's PUT undeletes with {"deleted":false}; deleting is DELETE's.
      const undelete = body.deleted === false;
      if (body.deleted === true && !at.vm.deleted) throw refused('deleted', 'use_delete');
      // No appliances (rescue) here; a deleted machine says so first.
      if (body.appliance !== undefined && body.appliance !== null && !(at.vm.deleted && !undelete)) throw refused('appliance', 'no_appliances');
      const view = await updateVm(h, req.principal, at, updateIn(body), { dialect: 'bigv', ifVersion: ifMatchVersions(req.headers['if-match']), undelete, powerRule: nextPower });
      reply.header('etag', versionTag(view.row.version));
      return presentVm(view, { overview: true, poolLabels: await poolLabels(h.db) });
    });

    app.delete('/accounts/:acc/groups/:grp/virtual_machines/:vm', { schema: { tags: ['bigv'], summary: 'Delete a VM (undeletable for a while), or purge it', success: 204, response: bigvNoContent, params: VmP, querystring: PurgeQ } }, async (req, reply) => {
      const at = await vmPath(req, true);
      await deleteVm(h, req.principal, at, req.query.purge ?? false);
      return reply.code(204).send();
    });

    app.post('/accounts/:acc/groups/:grp/virtual_machines/:vm/signal', { schema: { tags: ['bigv'], summary: 'Send a signal: powerdown, reset, nmi or sendkey (body or query string)', response: bigv(SignalSent), params: VmP, querystring: Signal, body: Signal } }, async (req) => {
      const at = await vmPath(req, false);
      // The docs' own example passes the signal in the query string; the clients use the body.
      const body = { signal: req.body.signal ?? req.query.signal, data: req.body.data ?? req.query.data };
      await signalVm(h, req.principal, at, body);
      return body.data === undefined ? { signal: body.signal } : body;
    });

    app.post('/accounts/:acc/groups/:grp/virtual_machines/:vm/reimage', { schema: { tags: ['bigv'], summary: 'Write an image to the VM\'s first disc (VM off)', response: bigv(Reimaged), params: VmP, querystring: NoQuery, body: Reimage } }, async (req, reply) => {
      const at = await vmPath(req, false);
      reply.header('location', operationUrl(await reimageVm(h, req.principal, at, imageIn(req.body))));
      return { distribution: req.body.distribution, root_password: req.body.root_password ?? '' };
    });

    // Non-nested reads.
    app.get('/virtual_machines', { schema: { tags: ['bigv'], summary: 'VMs you can see, filtered by account and group', response: bigv(listOf(VmEither)), params: NoParams, querystring: VmListQ } }, async (req) => {
      const filter = await vmListFilter(h.db, req.principal, req.query.account_id, req.query.group_id);
      return filter ? list(req.principal, filter, req.query) : [];
    });

    app.get('/virtual_machines/:id', { schema: { tags: ['bigv'], summary: 'One VM by id', response: bigv(VmOverview), params: IdP, querystring: IncludeDeletedQ } }, async (req, reply) => {
      const at = await resolveVmById(h.db, req.principal, req.params.id, { includeDeleted: req.query.include_deleted ?? false });
      return one(at.vm.id, reply);
    });
  };
}
