// The Gigas dialect (issue 9, seed 003, docs/gigas.md): Gigas' API at its real paths, over the same
// core as BigV. Its routes live at the root beside BigV's, under the paths below; a path BigV has
// (`/accounts`, `/virtual_machines`) stays BigV's. Bodies are JSON or forms (the legacy clients
// post forms); every refusal is Gigas' `{"error": ...}` (errors.ts).
//
// Adding routes: write `src/api/gigas/<feature>.ts` exporting `(h: Hangar) => FastifyPluginAsync` that
// registers full paths (`/account/:account_id/virtual_machine/:virtual_machine_id/...`) with
// `tags: ['gigas']` and every schema (params, querystring, body, `response: gigas(...)` from
// schemas.ts); resolve the VM with place.ts (`vmOfPath`, which keeps it to the path's account), show
// it with present.ts, throw core's errors (errors.ts renders them); then append it to GIGAS_ROUTES.
// A path under none of GIGAS_PATHS needs its first segment added there.
import type { FastifyPluginAsync } from 'fastify';
import formbody from '@fastify/formbody';
import type { Hangar } from '../../core/context.js';
import { installDialect, type Dialect } from '../dialect.js';
import { installExactJsonType, installInputGuard, installJsonParser } from '../wire.js';
import { installAudit } from '../audit.js';
import { gigasCredentials } from './credentials.js';
import { gigasErrorHandler } from './errors.js';
import { tokenRoutes } from './auth.js';
import { transactionRoutes } from './transactions.js';
import { vmRoutes } from './vms.js';
import { catalogueRoutes } from './catalogues.js';
import { deviceRoutes } from './devices.js';
import { segregationRoutes } from './segregation.js';
import { statsRoutes } from './stats.js';
import { mediaRoutes } from './media.js';
import { actRoutes } from './acts.js';
import { legacyRoutes } from './legacy.js';

/** Every Gigas route file. */
export const GIGAS_ROUTES: ((h: Hangar) => FastifyPluginAsync)[] = [
  tokenRoutes,
  transactionRoutes,
  vmRoutes,
  catalogueRoutes,
  deviceRoutes,
  segregationRoutes,
  statsRoutes,
  mediaRoutes,
  actRoutes,
  legacyRoutes,
];

/** The root paths Gigas claims (its 404s and pre-routing refusals are Gigas'). */
export const GIGAS_PATHS = ['/account', '/token', '/transaction', '/virtual_machine', '/ip_addresses', '/network'] as const;

const NOT_FOUND = { error: 'Not found' };

export function gigasDialect(): Dialect {
  return {
    name: 'gigas',
    prefix: '',
    paths: GIGAS_PATHS,
    refusedBodies: { notFound: NOT_FOUND, badRequest: { error: 'Bad request' } },
    plugin: (h) => async (app) => {
      installJsonParser(app);
      installExactJsonType(app);
      installInputGuard(app);
      await app.register(formbody);
      installDialect(app, h, { credentials: gigasCredentials, renderError: gigasErrorHandler, notFoundBody: NOT_FOUND, notFoundPaths: GIGAS_PATHS });
      installAudit(app, h, 'gigas');
      for (const routes of GIGAS_ROUTES) await app.register(routes(h));
    },
  };
}
