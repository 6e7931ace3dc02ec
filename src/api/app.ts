// The HTTP server: one Fastify instance serving every dialect at its real paths.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Hangar } from '../core/context.js';
import { collapseSlashes, installExactJsonType, installJsonParser, installInputGuard } from './wire.js';
import { authRoutes } from './auth/routes.js';
import { bigvRoutes } from './bigv/index.js';

export interface AppOptions { /** Serve the auth endpoint under this prefix too (e.g. /auth), besides the root. */ authPrefix?: string }

export async function buildApp(h: Hangar, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: h.log as FastifyBaseLogger,
    // req.ip is the address the login limiter counts by: behind a TLS proxy, trust it (HANGAR_TRUST_PROXY).
    trustProxy: h.config.trustProxy,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    rewriteUrl: (req) => collapseSlashes(req.url ?? '/'),
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { coerceTypes: false, allErrors: true, removeAdditional: false, useDefaults: false } },
    // A path that cannot be decoded (`%ff`) names nothing: 404 in the dialect's shape, not Fastify's.
    frameworkErrors: (err, _req, reply) => {
      const [status, body] = err.code === 'FST_ERR_BAD_URL' ? [404, { error: 'Not found' }] : [400, { error: err.message }];
      const text = JSON.stringify(body);
      reply.raw.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      reply.raw.end(text);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  installJsonParser(app);
  installExactJsonType(app);
  installInputGuard(app);
  await app.register(formbody);
  await app.register(swagger, {
    openapi: { info: { title: 'Hangar API', version: '0.1.0', description: 'BigV (Bytemark Cloud) dialect and the auth endpoint' } },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(authRoutes(h));
  if (opts.authPrefix) await app.register(authRoutes(h), { prefix: opts.authPrefix });
  await app.register(bigvRoutes(h));
  return app as unknown as FastifyInstance;
}
