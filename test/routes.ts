// The app's registered routes, for suites that must cover every route: a hand list of requests is
// checked against them, so a new route fails those suites until it is listed.
import type { FastifyInstance } from 'fastify';
import { registeredRoutes, type RegisteredRoute } from '../src/api/app.js';

/** The routes of one dialect (`bigv`: the root one, with the auth endpoint and Hangar's own routes). */
export function routesOf(app: FastifyInstance, dialect: string): RegisteredRoute[] {
  return registeredRoutes(app).filter((r) => r.dialect === dialect);
}

/** "METHOD /template" of every BigV route (HEAD twins, hidden routes and the auth endpoint left out). */
export function bigvRouteKeys(app: FastifyInstance): string[] {
  return routeKeys(routesOf(app, 'bigv').filter((r) => !/\/session(\/|$)/.test(r.url)));
}

/** "METHOD /template" of every Gigas route. */
export function gigasRouteKeys(app: FastifyInstance): string[] {
  return routeKeys(routesOf(app, 'gigas'));
}

function routeKeys(routes: RegisteredRoute[]): string[] {
  return [...new Set(routes
    .filter((r) => r.method !== 'HEAD' && !r.schema?.hide)
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
