// The app's registered routes, for suites that must cover every route: a hand list of requests is
// checked against them, so a new route fails those suites until it is listed.
import type { FastifyInstance } from 'fastify';
import { registeredRoutes, type RegisteredRoute } from '../src/api/app.js';

/** Is this one of the Gigas dialect's routes (src/api/gigas/: tagged `gigas`)? Its own suites cover it (test/gigas/). */
export function isGigas(r: Pick<RegisteredRoute, 'schema'>): boolean {
  return (r.schema?.tags as string[] | undefined)?.includes('gigas') ?? false;
}

/** "METHOD /template" of every BigV route (HEAD twins, hidden routes, the auth endpoint and other dialects' routes left out). */
export function bigvRouteKeys(app: FastifyInstance): string[] {
  return routeKeys(app, (r) => !/\/session(\/|$)/.test(r.url) && !isGigas(r));
}

/** "METHOD /template" of every Gigas route. */
export function gigasRouteKeys(app: FastifyInstance): string[] {
  return routeKeys(app, isGigas);
}

function routeKeys(app: FastifyInstance, keep: (r: RegisteredRoute) => boolean): string[] {
  return [...new Set(registeredRoutes(app)
    .filter((r) => r.method !== 'HEAD' && !r.schema?.hide && keep(r))
    .map((r) => `${r.method} ${r.url}`))].sort();
}

/** The "METHOD /template" a concrete request reaches (a static segment wins over a parameter), or null. */
export function routeKeyOf(app: FastifyInstance, method: string, url: string): string | null {
  const path = url.split('?')[0]!;
  const hits = registeredRoutes(app).filter((r) => r.method === method
    && new RegExp(`^${r.url.replace(/:\w+/g, '[^/]*')}$`).test(path));
  hits.sort((a, b) => (a.url.match(/:/g)?.length ?? 0) - (b.url.match(/:/g)?.length ?? 0));
  return hits[0] ? `${method} ${hits[0].url}` : null;
}

/**
 * The query to send to route `r`: an event stream never ends by itself, so it is asked to end at
 * once (`max_seconds=0`) unless the query already bounds it.
 */
export function boundedQuery(r: RegisteredRoute, query: string): string {
  const stream = (r.schema as { produces?: string[] } | undefined)?.produces?.includes('text/event-stream');
  return stream && !/(^|&)max_seconds=/.test(query) ? [query, 'max_seconds=0'].filter(Boolean).join('&') : query;
}
