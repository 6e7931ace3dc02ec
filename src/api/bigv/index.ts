// The BigV (Bytemark Cloud) brain API: /accounts, /virtual_machines, discs, NICs, IPs, users,
// privileges, API keys and /definitions. Routes translate; rules live in core/.
// `bigvDialect` is the root dialect: BigV, its auth endpoint and Hangar's own routes (operations,
// events, the OpenAPI document), with BigV's wire rules (wire.ts, parameters.ts) in their context only.
import type { FastifyPluginAsync } from 'fastify';
import formbody from '@fastify/formbody';
import type { Hangar } from '../../core/context.js';
import { catalogue } from '../../core/definitions.js';
import { presentDefinitions } from './present.js';
import { emptyAccountRule } from './tree.js';
import { installQueryBooleans, NoParams, NoQuery } from '../parameters.js';
import { collapseSlashes, installExactJsonType, installInputGuard, installJsonParser } from '../wire.js';
import { installDialect, type Dialect } from '../dialect.js';
import { bearerCredentials } from '../credentials/bearer.js';
import { bigvErrorHandler } from './errors.js';
import { installIdempotency } from '../idempotency.js';
import { authRoutes } from '../auth/routes.js';
import { operationRoutes } from '../operations.js';
import { eventRoutes } from '../events.js';
import { installAudit } from '../audit.js';
import { treeRoutes } from './tree.js';
import { vmRoutes } from './vms.js';
import { discRoutes } from './discs.js';
import { networkRoutes } from './network.js';
import { userRoutes } from './users.js';
import { invitationRoutes } from './invitations.js';
import { Type } from 'typebox';
import { bigv, Definitions } from './responses.js';

export function bigvDialect(opts: { authPrefix?: string }): Dialect {
  return {
    name: 'bigv',
    prefix: '',
    rewriteUrl: collapseSlashes,
    refusedBodies: { notFound: { error: 'Not found' }, badRequest: { error: 'Bad request' } },
    plugin: (h) => async (app) => {
      installJsonParser(app);
      installExactJsonType(app);
      installInputGuard(app);
      installQueryBooleans(app);
      await app.register(formbody);
      app.get('/openapi.json', { schema: { hide: true, querystring: NoQuery, response: bigv(Type.Object({}, { additionalProperties: true, description: 'This document' })), params: NoParams } }, async () => app.swagger());
      await app.register(authRoutes(h));
      if (opts.authPrefix) await app.register(authRoutes(h), { prefix: opts.authPrefix });
      await app.register(bigvRoutes(h));
      await app.register(operationRoutes(h));
      await app.register(eventRoutes(h));
    },
  };
}

export function bigvRoutes(h: Hangar): FastifyPluginAsync {
  return async (app) => {
    installDialect(app, h, { credentials: bearerCredentials, renderError: bigvErrorHandler, notFoundBody: { error: 'Not found' } });
    installIdempotency(app, h);
    installAudit(app, h, 'bigv');
    app.addHook('preHandler', emptyAccountRule(h));

    app.get('/definitions', { config: { public: true }, schema: { tags: ['bigv'], summary: 'The cluster\'s vocabularies: distributions, storage grades, zones, keymaps (no login)', response: bigv(Definitions), params: NoParams, querystring: NoQuery } }, async () => presentDefinitions(await catalogue(h.db)));

    await app.register(treeRoutes(h));
    await app.register(vmRoutes(h));
    await app.register(discRoutes(h));
    await app.register(networkRoutes(h));
    await app.register(userRoutes(h));
    await app.register(invitationRoutes(h));
  };
}
