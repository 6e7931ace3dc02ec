// Discs, backups and backup schedules.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Hangar } from '../../core/context.js';
import type { Principal } from '../../core/principal.js';
import { notFoundAsNull, resolveVmById, resolveVmPath, rowId } from '../../core/resolve.js';
import { isIdSegment } from '../../core/names.js';
import { NotFound } from '../../core/errors.js';
import {
  createBackup, createDisc, createSchedule, deleteBackup, deleteDisc, deleteSchedule, listBackups, listDiscs,
  resolveBackup, resolveDisc, resolveDiscById, restoreBackup, schedulesOf, updateDisc,
} from '../../core/discs.js';
import type { DiscRow } from '../../store/schema.js';
import { queryBool } from '../wire.js';
import { presentBackup, presentDisc, presentSchedule } from './present.js';
import { poolLabels } from './pools.js';
import { BackupPut, DiscCreate, DiscPut, Schedule , type B } from './schemas.js';

type Q = { Querystring: Record<string, string | undefined> };
type VmP = { Params: { acc: string; grp: string; vm: string } };
type DiscP = { Params: { acc: string; grp: string; vm: string; disc: string } };
type BackupP = { Params: { acc: string; grp: string; vm: string; disc: string; backup: string } };

export function discRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const vmAt = (p: VmP['Params'], principal: Principal) => resolveVmPath(h.db, principal, p.acc, p.grp, p.vm, { includeDeleted: true });
    const discAt = async (p: DiscP['Params'], principal: Principal) => resolveDisc(h, await vmAt(p, principal), p.disc);
    const show = async (discs: DiscRow[]) => {
      const pools = await poolLabels(h.db);
      const schedules = await schedulesOf(h, discs.map((d) => d.id));
      return discs.map((d) => presentDisc(d, pools, schedules.get(d.id)));
    };
    const showOne = async (d: DiscRow) => (await show([d]))[0];

    const base = '/accounts/:acc/groups/:grp/virtual_machines/:vm/discs';
    app.get<VmP>(base, async (req) => show(await listDiscs(h, await vmAt(req.params, req.principal))));
    app.post<VmP & B<typeof DiscCreate>>(base, { schema: { body: DiscCreate } }, async (req, reply) => {
      const disc = await createDisc(h, req.principal, await vmAt(req.params, req.principal), req.body);
      reply.code(201);
      return showOne(disc);
    });
    app.get<DiscP>(`${base}/:disc`, async (req) => showOne((await discAt(req.params, req.principal)).disc));
    app.put<DiscP & B<typeof DiscPut>>(`${base}/:disc`, { schema: { body: DiscPut } }, async (req) => {
      return showOne(await updateDisc(h, req.principal, await discAt(req.params, req.principal), req.body));
    });
    app.delete<DiscP & Q>(`${base}/:disc`, async (req, reply) => {
      await deleteDisc(h, req.principal, await discAt(req.params, req.principal), queryBool(req.query.purge));
      return reply.code(204).send();
    });

    // Non-nested.
    app.get<Q>('/discs', async (req) => {
      const vmId = req.query.vm_id;
      if (vmId === undefined || !isIdSegment(vmId)) return [];
      const at = await resolveVmById(h.db, req.principal, rowId(vmId), { includeDeleted: true }).catch(notFoundAsNull);
      return at ? show(await listDiscs(h, at)) : [];
    });
    const byId = (id: string, principal: Principal) => {
      if (!isIdSegment(id)) throw new NotFound('disc');
      return resolveDiscById(h, principal, rowId(id));
    };
    app.get<{ Params: { id: string } }>('/discs/:id', async (req) => showOne((await byId(req.params.id, req.principal)).disc));
    app.put<{ Params: { id: string } } & B<typeof DiscPut>>('/discs/:id', { schema: { body: DiscPut } }, async (req) => {
      return showOne(await updateDisc(h, req.principal, await byId(req.params.id, req.principal), req.body));
    });
    app.delete<{ Params: { id: string } } & Q>('/discs/:id', async (req, reply) => {
      await deleteDisc(h, req.principal, await byId(req.params.id, req.principal), queryBool(req.query.purge));
      return reply.code(204).send();
    });

    // Backups and schedules.
    app.get<DiscP>(`${base}/:disc/backups`, async (req) => {
      const at = await discAt(req.params, req.principal);
      return (await listBackups(h, at)).map((b) => presentBackup(b, at.disc));
    });
    app.post<DiscP>(`${base}/:disc/backups`, async (req, reply) => {
      const at = await discAt(req.params, req.principal);
      reply.code(201);
      return presentBackup(await createBackup(h, req.principal, at), at.disc);
    });
    app.put<BackupP & B<typeof BackupPut>>(`${base}/:disc/backups/:backup`, { schema: { body: BackupPut } }, async (req) => {
      const at = await discAt(req.params, req.principal);
      const backup = await resolveBackup(h, at, req.params.backup);
      if (req.body.restore) await restoreBackup(h, req.principal, at, backup);
      return presentBackup(backup, at.disc);
    });
    app.delete<BackupP & Q>(`${base}/:disc/backups/:backup`, async (req, reply) => {
      const at = await discAt(req.params, req.principal);
      await deleteBackup(h, req.principal, at, await resolveBackup(h, at, req.params.backup), queryBool(req.query.purge));
      return reply.code(204).send();
    });
    app.post<DiscP & B<typeof Schedule>>(`${base}/:disc/backup_schedules`, { schema: { body: Schedule } }, async (req, reply) => {
      const at = await discAt(req.params, req.principal);
      reply.code(201);
      return presentSchedule(await createSchedule(h, req.principal, at, req.body));
    });
    app.delete<DiscP & { Params: { id: string } }>(`${base}/:disc/backup_schedules/:id`, async (req, reply) => {
      const at = await discAt(req.params, req.principal);
      await deleteSchedule(h, req.principal, at, req.params.id);
      return reply.code(204).send();
    });
  };
}
