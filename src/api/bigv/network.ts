// Network interfaces and IP addresses.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Static } from 'typebox';
import type { Hangar } from '../../core/context.js';
import type { Principal } from '../../core/principal.js';
import { notFoundAsNull, resolveVmById, resolveVmPath } from '../../core/resolve.js';
import { createIps, deleteIp, listNics, resolveIp, resolveNic, resolveNicById, setRdns, swapIps, type IpPlace } from '../../core/network.js';
import { NoParams, NoQuery } from '../parameters.js';
import { changes } from '../wire.js';
import { presentNic } from './present.js';
import { bigv, bigvNoContent, Ip, IpsCreated, IpsSwapped, listOf, Nic } from './responses.js';
import { AddressP, IdP, IpCreate, IpPut, IpSwap, NicP, VmFilterQ, VmP } from './schemas.js';

const presentIp = (ip: IpPlace) => ({ address: ip.address, ip: ip.address, rdns: ip.rdns, routed_via: ip.routedVia, network_interface_id: ip.nicId });

export function networkRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const vmAt = (req: { params: Static<typeof VmP>; principal: Principal; method: string }) =>
      resolveVmPath(h.db, req.principal, req.params.acc, req.params.grp, req.params.vm, { includeDeleted: true, forChange: changes(req) });
    const base = '/accounts/:acc/groups/:grp/virtual_machines/:vm/nics';

    app.get(base, { schema: { tags: ['bigv'], summary: 'The VM\'s network interfaces', response: bigv(listOf(Nic)), params: VmP, querystring: NoQuery } }, async (req) => (await listNics(h, await vmAt(req))).map(presentNic));
    app.get(`${base}/:nic`, { schema: { tags: ['bigv'], summary: 'One network interface of the VM', response: bigv(Nic), params: NicP, querystring: NoQuery } }, async (req) => presentNic(await resolveNic(h, await vmAt(req), req.params.nic)));
    app.post(`${base}/:nic/ip_create`, { schema: { tags: ['bigv'], summary: 'Add extra IPs, routed via the interface\'s primary address', response: bigv(IpsCreated), params: NicP, querystring: NoQuery, body: IpCreate } }, async (req) => {
      const at = await vmAt(req);
      const ips = await createIps(h, req.principal, at, await resolveNic(h, at, req.params.nic), req.body);
      return { ...req.body, ips };
    });

    app.get('/nics', { schema: { tags: ['bigv'], summary: 'The network interfaces of one VM (vm_id)', response: bigv(listOf(Nic)), params: NoParams, querystring: VmFilterQ } }, async (req) => {
      const vmId = req.query.vm_id;
      if (vmId === undefined) return [];
      const at = await resolveVmById(h.db, req.principal, vmId, { includeDeleted: true }).catch(notFoundAsNull);
      return at ? (await listNics(h, at)).map(presentNic) : [];
    });
    app.get('/nics/:id', { schema: { tags: ['bigv'], summary: 'One network interface by id', response: bigv(Nic), params: IdP, querystring: NoQuery } }, async (req) => {
      return presentNic(await resolveNicById(h, req.principal, req.params.id));
    });

    app.get('/ips/:address', { schema: { tags: ['bigv'], summary: 'One IP address', response: bigv(Ip), params: AddressP, querystring: NoQuery } }, async (req) => presentIp(await resolveIp(h, req.principal, req.params.address)));
    app.put('/ips/:address', { schema: { tags: ['bigv'], summary: 'Set an IP\'s reverse DNS name', response: bigv(Ip), params: AddressP, querystring: NoQuery, body: IpPut } }, async (req) => {
      return presentIp(await setRdns(h, req.principal, await resolveIp(h, req.principal, req.params.address), req.body.rdns));
    });
    app.delete('/ips/:address', { schema: { tags: ['bigv'], summary: 'Release an extra IP', success: 204, response: bigvNoContent, params: AddressP, querystring: NoQuery } }, async (req, reply) => {
      await deleteIp(h, req.principal, await resolveIp(h, req.principal, req.params.address));
      return reply.code(204).send();
    });
    app.post('/ips/swap_virtual_machine_ips', { schema: { tags: ['bigv'], summary: 'Swap the IPs of two VMs (both off)', response: bigv(IpsSwapped), params: NoParams, querystring: NoQuery, body: IpSwap } }, async (req) => {
      await swapIps(h, req.principal, req.body);
      return req.body;
    });
  };
}
