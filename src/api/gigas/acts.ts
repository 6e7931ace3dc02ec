// A VM's physical acts beyond power (S003 *Get console*, *Reset root password*, *Rebuild network*,
// *Apply disks*, *Create template*, *Clone vm*): each is core's command, run by the VM's head as an
// operation whose public id is the queue token (docs/head-acts.md, docs/vm-ops.md).
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../../core/context.js';
import { Issues } from '../../core/errors.js';
import { openRemoteConsole } from '../../core/console.js';
import { resetRootPassword } from '../../core/passwords.js';
import { rebuildNetwork } from '../../core/vms/rebuild-network.js';
import { applyDiscs } from '../../core/vms/apply-discs.js';
import { createTemplate } from '../../core/templates.js';
import { cloneVm, type CloneInput } from '../../core/vms/clone.js';
import { gradeByRef, listGrades } from '../../core/grades.js';
import { checkSettings, saveSettings } from '../../core/vm-settings.js';
import type { VmPlace } from '../../core/resolve.js';
import { Closed, Int, Str } from '../responses.js';
import { operationUrl } from '../operations.js';
import { GBool, GId, gigas, GInt, GStr, Many, VmP } from './schemas.js';
import { GigasVmQueued, presentVm } from './present.js';
import { presentTemplate, TemplateQueued } from './catalogues.js';
import { gigasAccount, gigasVm, named } from './place.js';
import { checkRootPassword } from './values.js';
import { bool, gigasTime, int, list, MIB_PER_GB } from './values.js';

const NoQ = Type.Object({});
const Console = Closed({ host: Str, port: Int, password: Str, expires_at: Str, virtual_machine_id: Str }, {
  $id: 'GigasConsole', description: 'The VM\'s VNC console: connect to host:port with password (VNC authentication) until expires_at (UTC)',
});
const PasswordB = Type.Object({ password: Type.Optional(GStr(64)) }, { additionalProperties: false });
const PasswordReset = Closed({ queue_token: Str, password: Str }, { $id: 'GigasPasswordReset', description: 'The new root password (shown once) and the operation that sets it' });
const RebuildB = Type.Object({ apply_now: Type.Optional(GBool) }, { additionalProperties: false });
const NetworkRebuilt = Closed({ queue_token: Str, applies: Type.Union([Type.Literal('now'), Type.Literal('next_boot')]) }, {
  $id: 'GigasNetworkRebuilt', description: 'The operation, and when the guest takes its new network configuration: now (restarted) or at its next boot',
});
const DisksB = Type.Object({ required_format_disk: Type.Optional(GBool) }, { additionalProperties: false });
const DisksApplied = Closed({ queue_token: Str }, { $id: 'GigasDisksApplied', description: 'The operation that attaches (and formats) the pending secondary disks' });
const TemplateB = Type.Object({ label: Type.Optional(GStr(255)) }, { additionalProperties: false });
const CloneB = Type.Object({
  hostname: GStr(), label: GStr(), memory: Type.Optional(GInt), max_memory: Type.Optional(GInt), cpus: Type.Optional(GInt),
  cpu_type: Type.Optional(GStr(16)), secondary_disk_size: Type.Optional(Many(GInt)), data_store_group_secondary_id: Type.Optional(Many(GId)),
  clone_user_id: Type.Optional(GId), clone_disk_id: Type.Optional(Many(GId)), clone_disk_size: Type.Optional(Many(GInt)),
  clone_disk_data_store_group_id: Type.Optional(Many(GId)), required_startup: Type.Optional(GBool),
}, { additionalProperties: false });

export function actRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['gigas'];
    const vmOf = async (req: Parameters<typeof gigasAccount>[1] & { params: { account_id: string; virtual_machine_id: string } }): Promise<VmPlace> =>
      gigasVm(h, req, await gigasAccount(h, req, req.params.account_id), req.params.virtual_machine_id);

    app.get('/account/:account_id/virtual_machine/:virtual_machine_id/remote_console', { schema: { tags, summary: 'Open the VM\'s VNC console (it must run): the head\'s console address, port and a password that expires in 10 minutes', response: gigas(Console), params: VmP, querystring: NoQ } }, async (req) => {
      const at = await vmOf(req);
      const c = await openRemoteConsole(h, req.principal, at);
      return { host: c.host, port: c.port, password: c.password, expires_at: gigasTime(c.expiresAt), virtual_machine_id: String(at.vm.id) };
    });

    app.post('/account/:account_id/virtual_machine/:virtual_machine_id/reset_password', { schema: { tags, summary: 'Set a new root password (password: 6-32 of letters, digits, - and _; random when absent); a running VM restarts to take it, a stopped one has it at its next start', success: 202, response: gigas(PasswordReset, 202), params: VmP, querystring: NoQ, body: PasswordB } }, async (req, reply) => {
      const at = await vmOf(req);
      const errs = new Issues();
      if (req.body.password !== undefined) checkRootPassword(errs, 'password', req.body.password);
      errs.throwIfAny();
      const r = await resetRootPassword(h, req.principal, at, req.body.password !== undefined ? { password: req.body.password } : {});
      return reply.code(202).header('location', operationUrl(r.operation)).send({ queue_token: r.operation, password: r.password });
    });

    app.post('/account/:account_id/virtual_machine/:virtual_machine_id/rebuild_network', { schema: { tags, summary: 'Rewrite the guest\'s network configuration from its interfaces and addresses: a running VM is restarted to apply it (apply_now, default true), else at its next boot', success: 202, response: gigas(NetworkRebuilt, 202), params: VmP, querystring: NoQ, body: RebuildB } }, async (req, reply) => {
      const r = await rebuildNetwork(h, req.principal, await vmOf(req), { applyNow: bool(req.body.apply_now, true) }, 'gigas');
      return reply.code(202).header('location', operationUrl(r.operation)).send({ queue_token: r.operation, applies: r.applies });
    });

    app.post('/account/:account_id/virtual_machine/:virtual_machine_id/apply_disks', { schema: { tags, summary: 'Attach the VM\'s secondary disks it lacks (hot-plugged when it runs); required_format_disk: an empty ext4 on each disk never written', response: gigas(DisksApplied), params: VmP, querystring: NoQ, body: DisksB } }, async (req, reply) => {
      const op = await applyDiscs(h, req.principal, await vmOf(req), { format: bool(req.body.required_format_disk, false) }, 'gigas');
      return reply.header('location', operationUrl(op)).send({ queue_token: op });
    });

    app.post('/account/:account_id/virtual_machine/:virtual_machine_id/template', { schema: { tags, summary: 'A new template of the account from the VM\'s first disk (pending until its head has made it, then usable by create and rebuild)', success: 202, response: gigas(TemplateQueued, 202), params: VmP, querystring: NoQ, body: TemplateB } }, async (req, reply) => {
      const made = await createTemplate(h, req.principal, await vmOf(req), req.body.label !== undefined ? { label: req.body.label } : {}, 'gigas');
      return reply.code(202).header('location', operationUrl(made.operation)).send({ ...presentTemplate(made.image), queue_token: made.operation });
    });

    app.post('/account/:account_id/virtual_machine/:virtual_machine_id/clone', { schema: { tags, summary: 'An independent copy of the VM on its hypervisor (full copies of its disks) with the given hostname, label, memory, cpus and cpu_type; clone_disk_id/clone_disk_size/clone_disk_data_store_group_id grow (GB) or move a copied disk, secondary_disk_size/data_store_group_secondary_id add empty disks; started when copied only with required_startup', success: 202, response: gigas(GigasVmQueued, 202), params: VmP, querystring: NoQ, body: CloneB } }, async (req, reply) => {
      const at = await vmOf(req);
      const b = req.body;
      const errs = new Issues();
      if (b.cpu_type !== undefined) checkSettings(errs, { cpuType: b.cpu_type });
      // Repeated fields go in pairs, by position: a value without its partner is refused.
      const ids = list(b.clone_disk_id), sizes = list(b.clone_disk_size), grades = list(b.clone_disk_data_store_group_id);
      const added = list(b.secondary_disk_size), addedGrades = list(b.data_store_group_secondary_id);
      if (sizes.length > ids.length) errs.add('clone_disk_size', 'invalid', { reason: 'unpaired', of: 'clone_disk_id' });
      if (grades.length > ids.length) errs.add('clone_disk_data_store_group_id', 'invalid', { reason: 'unpaired', of: 'clone_disk_id' });
      if (addedGrades.length > added.length) errs.add('data_store_group_secondary_id', 'invalid', { reason: 'unpaired', of: 'secondary_disk_size' });
      const grade = async (field: string, id: string | number | undefined) =>
        id === undefined ? undefined : (await named(errs, field, () => gradeByRef(h, String(id))))?.name;
      const resize: NonNullable<CloneInput['resize']> = [];
      for (const [i, id] of ids.entries()) {
        const g = await grade('clone_disk_data_store_group_id', grades[i]);
        resize.push({ discId: Number(id), ...(sizes[i] !== undefined ? { sizeMiB: int(sizes[i]) * MIB_PER_GB } : {}), ...(g ? { grade: g } : {}) });
      }
      // An added disk without a data store group is on the default one, as at create.
      const defaultGrade = (await listGrades(h)).find((g) => g.isDefault)?.name ?? 'sata';
      const add: NonNullable<CloneInput['add']> = [];
      for (const [i, size] of added.entries()) {
        add.push({ sizeMiB: int(size) * MIB_PER_GB, grade: await grade('data_store_group_secondary_id', addedGrades[i]) ?? defaultGrade });
      }
      errs.throwIfAny();
      const cloned = await cloneVm(h, req.principal, at, {
        label: b.label, guestHostname: b.hostname, ...(b.cpus !== undefined ? { cores: int(b.cpus) } : {}),
        ...(b.memory !== undefined ? { memoryMiB: int(b.memory) } : {}), ...(b.clone_user_id !== undefined ? { owner: String(b.clone_user_id) } : {}),
        startAfterwards: bool(b.required_startup, false), resize, add,
      }, 'gigas');
      const clone: VmPlace = { ...at, vm: { ...at.vm, id: cloned.view.row.id } };
      if (b.cpu_type !== undefined) await saveSettings(h, clone.vm.id, { cpuType: b.cpu_type });
      return reply.code(202).header('location', operationUrl(cloned.operation)).send({ ...(await presentVm(h, req.principal, clone)), queue_token: cloned.operation });
    });
  };
}
