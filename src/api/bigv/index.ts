// The BigV (Bytemark Cloud) brain API: /accounts, /virtual_machines, discs, NICs, IPs, users,
// privileges, API keys and /definitions. Routes translate; rules live in core/.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Hangar } from '../../core/context.js';
import { authenticate } from '../../core/auth.js';
import type { Principal } from '../../core/principal.js';
import { catalogue } from '../../core/definitions.js';
import { presentDefinitions } from './present.js';
import { emptyAccountRule } from './tree.js';
import { NoParams, NoQuery } from '../parameters.js';
import { authorizationOf } from '../wire.js';
import { bigvErrorHandler } from './errors.js';
import { installIdempotency } from '../idempotency.js';
import { treeRoutes } from './tree.js';
import { vmRoutes } from './vms.js';
import { discRoutes } from './discs.js';
import { networkRoutes } from './network.js';
import { userRoutes } from './users.js';
import { invitationRoutes } from './invitations.js';

declare module 'fastify' {
  interface FastifyRequest { principal: Principal }
  interface FastifyContextConfig { public?: boolean }
}

export function bigvRoutes(h: Hangar): FastifyPluginAsync {
  return async (app) => {
    app.setErrorHandler(bigvErrorHandler);
    app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'Not found' }));
    app.decorateRequest('principal', null as unknown as Principal);
    app.addHook('onRequest', async (req: FastifyRequest) => {
      if (req.routeOptions.config?.public) return;
      req.principal = await authenticate(h, authorizationOf(req), req.ip);
    });
    installIdempotency(app, h);
    app.addHook('preHandler', emptyAccountRule(h));

    app.get('/definitions', { config: { public: true }, schema: { tags: ['bigv'], summary: 'The cluster\'s vocabularies: distributions, storage grades, zones, keymaps (no login)', params: NoParams, querystring: NoQuery } }, async () => presentDefinitions(await catalogue(h.db)));

    await app.register(treeRoutes(h));
    await app.register(vmRoutes(h));
    await app.register(discRoutes(h));
    await app.register(networkRoutes(h));
    await app.register(userRoutes(h));
    await app.register(invitationRoutes(h));
  };
}
