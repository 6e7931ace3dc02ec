// The HTTP server: one Fastify instance serving every dialect at its real paths, each in its own
// encapsulated context (src/api/dialect.ts). Only what Fastify does before routing is the root's:
// the URL rewrite and the answer to a request refused before routing, both dispatched by prefix.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifySchema } from 'fastify';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Hangar } from '../core/context.js';
import { dialectOf, rewriteFor, type Dialect } from './dialect.js';
import { bigvDialect } from './bigv/index.js';
import { responseContract } from './responses.js';
import { ajvOptions, lazyValidators } from './lazy-validators.js';

export interface AppOptions {
  /** Serve the auth endpoint under this prefix too (e.g. /auth), besides the root. */
  authPrefix?: string;
  /** PEM certificate (chain) and key: the API and the auth endpoint are then served over HTTPS only. */
  tls?: { cert: string; key: string };
  /** More dialects, each under its own prefix, beside the root one (BigV, auth, Hangar's own routes). */
  dialects?: Dialect[];
}

declare module 'fastify' {
  interface FastifySchema {
    /**
     * The status a successful call answers when it is not 200. Documentation only (the handler sets
     * the status): docs/endpoints.md and /openapi.json show it, and a test holds it to the handler.
     */
    success?: 201 | 202 | 204;
  }
}

/** A route as registered: what the tests enumerate instead of keeping hand lists of routes. */
export interface RegisteredRoute {
  method: string; url: string; schema: FastifySchema | undefined; handler: (...args: never[]) => unknown;
  /** The name of the dialect whose prefix claims the route (`bigv` for the root one). */
  dialect: string;
}

const routeTables = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route the app registered (HEAD twins of GET routes included), in registration order. */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return routeTables.get(app) ?? [];
}

export async function buildApp(h: Hangar, opts: AppOptions = {}): Promise<FastifyInstance> {
  const dialects = [bigvDialect({ authPrefix: opts.authPrefix }), ...(opts.dialects ?? [])];
  const app = Fastify({
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key } } : {}),
    loggerInstance: h.log as FastifyBaseLogger,
    // req.ip is the address the login limiter counts by: behind a TLS proxy, trust it (HANGAR_TRUST_PROXY).
    trustProxy: h.config.trustProxy,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    // The one server-wide hook: each dialect rewrites only its own URLs (req.originalUrl keeps the URL as sent).
    rewriteUrl: (req) => rewriteFor(dialects, req.url ?? '/'),
    bodyLimit: 1024 * 1024,
    ajv: ajvOptions,
    schemaController: { compilersFactory: lazyValidators },
    // A path that cannot be decoded (`%ff`) or whose segment is longer than any name, id or token
    // names nothing: 404 in the dialect's shape, not Fastify's. No answer echoes the request.
    frameworkErrors: (err, req, reply) => {
      const namesNothing = err.code === 'FST_ERR_BAD_URL' || err.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const { refusedBodies } = dialectOf(dialects, req.originalUrl ?? req.url);
      const [status, body] = namesNothing ? [404, refusedBodies.notFound] : [400, refusedBodies.badRequest];
      const text = JSON.stringify(body);
      reply.raw.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      reply.raw.end(text);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  const routes: RegisteredRoute[] = [];
  routeTables.set(app as unknown as FastifyInstance, routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, schema: r.schema, handler: r.handler, dialect: dialectOf(dialects, r.url).name });
  });
  // Response schemas are contracts, not filters: fast-json-stringify would drop any field a schema
  // does not list (the real clients parse fields we could forget), so every answer is JSON.stringify'd.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  if (responseContract.check) {
    const check = responseContract.check;
    app.addHook('onSend', async (req, reply, payload) => {
      check(app, { req, reply, payload });
      return payload;
    });
  }
  await app.register(swagger, {
    openapi: { info: { title: 'Hangar API', version: '0.1.0', description: 'BigV (Bytemark Cloud) and Gigas dialects, the auth endpoint and Hangar\'s own operations' } },
    // A response schema with a `$id` (src/api/responses.ts) is one component, referenced by name.
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    // `success` is ours (documentation of the status): the responses are the route's schema.response.
    transform: ({ schema, url }) => {
      if (!schema) return { schema, url };
      const { success: _success, response, ...rest } = schema;
      if (!response) return { schema: rest, url };
      // A response's own schema is hoisted into a component only when nested: nest it.
      const named = Object.fromEntries(Object.entries(response as Record<string, { $id?: string; description?: string }>)
        .map(([status, s]) => [status, s.$id ? { description: s.description, allOf: [s] } : s]));
      return { schema: { ...rest, response: named }, url };
    },
  });
  for (const d of dialects) await app.register(d.plugin(h), { prefix: d.prefix });
  return app as unknown as FastifyInstance;
}
