// Discs, backups and backup schedules.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Static } from 'typebox';
import type { Hangar } from '../../core/context.js';
import type { Principal } from '../../core/principal.js';
import { notFoundAsNull, resolveVmById, resolveVmPath } from '../../core/resolve.js';
import {
  createBackup, createDisc, createSchedule, deleteBackup, deleteDisc, deleteSchedule, listBackups, listDiscs,
  resolveBackup, resolveDisc, resolveDiscById, restoreBackup, schedulesOf, updateDisc,
} from '../../core/discs.js';
import type { DiscRow } from '../../store/schema.js';
import { NoParams, NoQuery } from '../parameters.js';
import { changes } from '../wire.js';
import { presentBackup, presentDisc, presentSchedule } from './present.js';
import { poolLabels } from './pools.js';
import { Backup, bigv, bigvNoContent, Disc, listOf, Schedule as ScheduleAnswer } from './responses.js';
import { BackupP, BackupPut, DiscCreate, DiscP, DiscPut, IdP, PurgeQ, Schedule, ScheduleP, VmFilterQ, VmP } from './schemas.js';

export function discRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const vmAt = (req: { params: Static<typeof VmP>; principal: Principal; method: string }) =>
      resolveVmPath(h.db, req.principal, req.params.acc, req.params.grp, req.params.vm, { includeDeleted: true, forChange: changes(req) });
    const discAt = async (req: { params: Static<typeof DiscP>; principal: Principal; method: string }) => resolveDisc(h, await vmAt(req), req.params.disc);
    const show = async (discs: DiscRow[]) => {
      const pools = await poolLabels(h.db);
      const schedules = await schedulesOf(h, discs.map((d) => d.id));
      return discs.map((d) => presentDisc(d, pools, schedules.get(d.id)));
    };
    const showOne = async (d: DiscRow) => (await show([d]))[0];

    const base = '/accounts/:acc/groups/:grp/virtual_machines/:vm/discs';
    app.get(base, { schema: { tags: ['bigv'], summary: 'The VM\'s discs', response: bigv(listOf(Disc)), params: VmP, querystring: NoQuery } }, async (req) => show(await listDiscs(h, await vmAt(req))));
    app.post(base, { schema: { tags: ['bigv'], summary: 'Add a disc to the VM', success: 201, response: bigv(Disc, 201), params: VmP, querystring: NoQuery, body: DiscCreate } }, async (req, reply) => {
      const disc = await createDisc(h, req.principal, await vmAt(req), req.body);
      reply.code(201);
      return showOne(disc);
    });
    app.get(`${base}/:disc`, { schema: { tags: ['bigv'], summary: 'One disc of the VM', response: bigv(Disc), params: DiscP, querystring: NoQuery } }, async (req) => showOne((await discAt(req)).disc));
    app.put(`${base}/:disc`, { schema: { tags: ['bigv'], summary: 'Grow a disc, or move it to another VM', response: bigv(Disc), params: DiscP, querystring: NoQuery, body: DiscPut } }, async (req) => {
      return showOne(await updateDisc(h, req.principal, await discAt(req), req.body));
    });
    app.delete(`${base}/:disc`, { schema: { tags: ['bigv'], summary: 'Delete a disc (purge=true required)', success: 204, response: bigvNoContent, params: DiscP, querystring: PurgeQ } }, async (req, reply) => {
      await deleteDisc(h, req.principal, await discAt(req), req.query.purge ?? false);
      return reply.code(204).send();
    });

    // Non-nested.
    app.get('/discs', { schema: { tags: ['bigv'], summary: 'The discs of one VM (vm_id)', response: bigv(listOf(Disc)), params: NoParams, querystring: VmFilterQ } }, async (req) => {
      const vmId = req.query.vm_id;
      if (vmId === undefined) return [];
      const at = await resolveVmById(h.db, req.principal, vmId, { includeDeleted: true }).catch(notFoundAsNull);
      return at ? show(await listDiscs(h, at)) : [];
    });
    const byId = (id: string, principal: Principal) => resolveDiscById(h, principal, id);
    app.get('/discs/:id', { schema: { tags: ['bigv'], summary: 'One disc by id', response: bigv(Disc), params: IdP, querystring: NoQuery } }, async (req) => showOne((await byId(req.params.id, req.principal)).disc));
    app.put('/discs/:id', { schema: { tags: ['bigv'], summary: 'Grow a disc, or move it to another VM, by id', response: bigv(Disc), params: IdP, querystring: NoQuery, body: DiscPut } }, async (req) => {
      return showOne(await updateDisc(h, req.principal, await byId(req.params.id, req.principal), req.body));
    });
    app.delete('/discs/:id', { schema: { tags: ['bigv'], summary: 'Delete a disc by id (purge=true required)', success: 204, response: bigvNoContent, params: IdP, querystring: PurgeQ } }, async (req, reply) => {
      await deleteDisc(h, req.principal, await byId(req.params.id, req.principal), req.query.purge ?? false);
      return reply.code(204).send();
    });

    // Backups and schedules.
    app.get(`${base}/:disc/backups`, { schema: { tags: ['bigv'], summary: 'The disc\'s backups', response: bigv(listOf(Backup)), params: DiscP, querystring: NoQuery } }, async (req) => {
      const at = await discAt(req);
      return (await listBackups(h, at)).map((b) => presentBackup(b, at.disc));
    });
    app.post(`${base}/:disc/backups`, { schema: { tags: ['bigv'], summary: 'Take a backup of the disc now', success: 201, response: bigv(Backup, 201), params: DiscP, querystring: NoQuery } }, async (req, reply) => {
      const at = await discAt(req);
      reply.code(201);
      return presentBackup(await createBackup(h, req.principal, at), at.disc);
    });
    app.put(`${base}/:disc/backups/:backup`, { schema: { tags: ['bigv'], summary: 'Restore the disc from a backup (restore: true)', response: bigv(Backup), params: BackupP, querystring: NoQuery, body: BackupPut } }, async (req) => {
      const at = await discAt(req);
      const backup = await resolveBackup(h, at, req.params.backup);
      if (req.body.restore) await restoreBackup(h, req.principal, at, backup);
      return presentBackup(backup, at.disc);
    });
    app.delete(`${base}/:disc/backups/:backup`, { schema: { tags: ['bigv'], summary: 'Delete a backup (purge=true required)', success: 204, response: bigvNoContent, params: BackupP, querystring: PurgeQ } }, async (req, reply) => {
      const at = await discAt(req);
      await deleteBackup(h, req.principal, at, await resolveBackup(h, at, req.params.backup), req.query.purge ?? false);
      return reply.code(204).send();
    });
    app.post(`${base}/:disc/backup_schedules`, { schema: { tags: ['bigv'], summary: 'Add a backup schedule to the disc', success: 201, response: bigv(ScheduleAnswer, 201), params: DiscP, querystring: NoQuery, body: Schedule } }, async (req, reply) => {
      const at = await discAt(req);
      reply.code(201);
      return presentSchedule(await createSchedule(h, req.principal, at, req.body));
    });
    app.delete(`${base}/:disc/backup_schedules/:id`, { schema: { tags: ['bigv'], summary: 'Remove a backup schedule', success: 204, response: bigvNoContent, params: ScheduleP, querystring: NoQuery } }, async (req, reply) => {
      const at = await discAt(req);
      await deleteSchedule(h, req.principal, at, req.params.id);
      return reply.code(204).send();
    });
  };
}
