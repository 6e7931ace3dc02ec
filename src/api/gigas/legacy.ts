// The older Gigas API the public clients still call (issue 9 *Public clients*: pygigas, the Ansible
// role), without the account prefix: each acts on the caller's home account, as the same routes under
// `/account/<id>` do. The create answers `{"queue_token", "resource": <the VM>}` (the clients read
// `resource.id`). `/transaction/<token>/status` is transactions.ts's.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../../core/context.js';
import { NoParams, NoQuery } from '../parameters.js';
import { Closed, Str } from '../responses.js';
import { gigas, page, PageQ, Queued } from './schemas.js';
import { GigasVm, presentVm } from './present.js';
import { gigasVm, homeAccountOf } from './place.js';
import { createGigasVm, destroyGigasVm, VmCreate } from './vms.js';
import { accountIps, GigasInterface, GigasIp, networkIps, vmInterfaces } from './devices.js';

const LegacyVmP = Type.Object({ virtual_machine_id: Type.String({ maxLength: 64 }) });
const LegacyNetworkP = Type.Object({ network_id: Type.String({ maxLength: 64 }) });
const Created = Closed({ queue_token: Str, resource: GigasVm }, { $id: 'GigasLegacyCreated', description: 'The create\'s operation and the VM' });
const ListQ = Type.Object({ ...PageQ });

export function legacyRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const tags = ['gigas'];
    const vm = async (req: Parameters<typeof homeAccountOf>[1] & { params: { virtual_machine_id: string } }) =>
      gigasVm(h, req, await homeAccountOf(h, req), req.params.virtual_machine_id);

    app.post('/virtual_machine', { schema: { tags, summary: 'Legacy: create a VM in your home account (form or JSON)', success: 202, response: gigas(Created, 202), params: NoParams, querystring: NoQuery, body: VmCreate } }, async (req, reply) => {
      const { queue_token, ...resource } = await createGigasVm(h, req, await homeAccountOf(h, req), req.body);
      return reply.code(202).send({ queue_token, resource });
    });
    app.get('/virtual_machine/:virtual_machine_id', { schema: { tags, summary: 'Legacy: a VM of your home account', response: gigas(GigasVm), params: LegacyVmP, querystring: NoQuery } }, async (req) =>
      presentVm(h, req.principal, await vm(req)));
    app.delete('/virtual_machine/:virtual_machine_id', { schema: { tags, summary: 'Legacy: destroy a VM of your home account', success: 202, response: gigas(Queued, 202), params: LegacyVmP, querystring: NoQuery } }, async (req, reply) =>
      reply.code(202).send(await destroyGigasVm(h, req, await vm(req))));
    app.get('/virtual_machine/:virtual_machine_id/network_interfaces', { schema: { tags, summary: 'Legacy: a VM\'s network interfaces', response: gigas(Type.Array(GigasInterface)), params: LegacyVmP, querystring: ListQ } }, async (req, reply) =>
      page(reply, await vmInterfaces(h, req.principal, await vm(req)), req.query));
    app.get('/ip_addresses', { schema: { tags, summary: 'Legacy: the addresses of your home account\'s VMs', response: gigas(Type.Array(GigasIp)), params: NoParams, querystring: ListQ } }, async (req, reply) =>
      page(reply, await accountIps(h, req.principal, await homeAccountOf(h, req)), req.query));
    app.get('/network/:network_id/ip_addresses', { schema: { tags, summary: 'Legacy: a network\'s addresses held by your home account\'s VMs', response: gigas(Type.Array(GigasIp)), params: LegacyNetworkP, querystring: ListQ } }, async (req, reply) =>
      page(reply, await networkIps(h, req.principal, await homeAccountOf(h, req), req.params.network_id), req.query));
  };
}
