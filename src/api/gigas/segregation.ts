// Segregation (S003 *Segregate Virtual Machine*): keep two VMs of the account on different heads from
// their next placement on (core/segregation.ts). Each answer is the origin VM, whose
// `strict_virtual_machine_id` shows the pair; the list is the partners as VM resources.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../../core/context.js';
import { segregate, segregations, unsegregate } from '../../core/segregation.js';
import { loadVmViews } from '../../core/views.js';
import { AccountP, gigas, page, PageQ, VmP } from './schemas.js';
import { GigasVm, presentVm, presentVms } from './present.js';
import { gigasAccount, gigasVm, vmOfPath } from './place.js';

const PairP = Type.Object({ ...AccountP.properties, origin_id: Type.String({ maxLength: 64 }), target_id: Type.String({ maxLength: 64 }) });
const NoQ = Type.Object({});

export function segregationRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['gigas'];
    const pair = async (req: Parameters<typeof gigasAccount>[1] & { params: { account_id: string; origin_id: string; target_id: string } }) => {
      const account = await gigasAccount(h, req, req.params.account_id);
      return [await gigasVm(h, req, account, req.params.origin_id), await gigasVm(h, req, account, req.params.target_id)] as const;
    };

    app.get('/account/:account_id/virtual_machine/:virtual_machine_id/segregations', { schema: { tags, summary: 'The VMs this one is kept apart from', response: gigas(Type.Array(GigasVm)), params: VmP, querystring: Type.Object({ ...PageQ }) } }, async (req, reply) => {
      const at = await vmOfPath(h, req);
      const ids = (await segregations(h, req.principal, at)).map((s) => s.vmId);
      const views = await loadVmViews(h.db, h.config.clusterDomain, { kind: 'ids', ids }, { includeDeleted: false, children: false });
      return page(reply, await presentVms(h, req.principal, views, () => !!at.account.suspended), req.query);
    });

    app.put('/account/:account_id/virtual_machine/:origin_id/segregation/:target_id', { schema: { tags, summary: 'Keep the VM on a different hypervisor from the target (from its next start)', response: gigas(GigasVm), params: PairP, querystring: NoQ } }, async (req) => {
      const [origin, target] = await pair(req);
      await segregate(h, req.principal, origin, target);
      return presentVm(h, req.principal, origin);
    });

    app.delete('/account/:account_id/virtual_machine/:origin_id/segregation/:target_id', { schema: { tags, summary: 'Remove the segregation between two VMs', response: gigas(GigasVm), params: PairP, querystring: NoQ } }, async (req) => {
      const [origin, target] = await pair(req);
      await unsegregate(h, req.principal, origin, target);
      return presentVm(h, req.principal, origin);
    });
  };
}
