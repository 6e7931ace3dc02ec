// What a dialect is to the server (docs/dialects.md). A dialect is a Fastify plugin registered in its
// own encapsulated context under its path prefix: its parsers, hooks, error renderer, not-found
// body and credential extractor apply to its routes only. The root app knows of it only what it
// needs before routing (Fastify's server-wide steps): which URLs are its (the prefix), how to
// rewrite them (BigV's `//`), and its bodies for a request refused before any route.
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Hangar } from '../core/context.js';
import type { Principal } from '../core/principal.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, as the dialect's credential extractor proved it. */
    principal: Principal;
    /** The body's bytes as received, where the dialect keeps them (`keepRawBody`): what a signature covers. */
    rawBody?: Buffer;
  }
  interface FastifyContextConfig { public?: boolean }
}

/** Reads the request's credential, in the dialect's own wire form, into a Principal (core/auth.ts
 *  builds it, and counts every failed check in h.limiter). Throws a DomainError (unauthorized, or throttled). */
export type CredentialExtractor = (h: Hangar, req: FastifyRequest) => Promise<Principal>;

/** Renders any error (core's, a schema's, a parser's) in the dialect's shape and words. */
export type ErrorRenderer = (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => unknown;

export interface Dialect {
  name: string;
  /** Every route's path prefix (`/toy/v1`); '' for the root dialect (BigV, with its auth endpoint and
   *  Hangar's own routes), which also answers every URL no other dialect's prefix claims. */
  prefix: string;
  /** A dialect whose routes live at the root beside BigV's (Gigas: `/account`, `/token` ...): it is
   *  registered with prefix '' and claims the URLs under these paths (`/virtual_machine` claims
   *  `/virtual_machine/1`, never BigV's `/virtual_machines`). */
  paths?: readonly string[];
  /** Rewrites one of its URLs before routing (BigV: collapse `//`); `req.originalUrl` keeps the original. */
  rewriteUrl?(url: string): string;
  /** The body of a 404 for a path that cannot be decoded or is too long to name anything, and of a 400
   *  for another request Fastify refuses before routing (both before any of the dialect's hooks). */
  refusedBodies: { notFound: unknown; badRequest: unknown };
  /** Registers the dialect's wire rules and routes (its context is already under `prefix`). */
  plugin(h: Hangar): FastifyPluginAsync;
}

/**
 * The usual setup of a dialect's context: its error renderer, its 404 body, and its credential
 * extractor on every route but those with `config: { public: true }`. Fastify allows one 404
 * handler per prefix: a dialect under its own prefix sets it here. `credentialsAfterBody`: the
 * extractor needs the body (a signature over it), so it runs once the body is parsed, not before.
 */
export function installDialect(app: FastifyInstance, h: Hangar, rules: {
  credentials: CredentialExtractor; renderError: ErrorRenderer; notFoundBody?: unknown; credentialsAfterBody?: boolean;
  /** A dialect at the root (`paths`) cannot take the root's 404 (BigV's): its 404 is set under each of its paths. */
  notFoundPaths?: readonly string[];
}): void {
  app.setErrorHandler(rules.renderError);
  const notFound = (_req: FastifyRequest, reply: FastifyReply) => reply.code(404).send(rules.notFoundBody);
  if (rules.notFoundBody !== undefined && !rules.notFoundPaths) app.setNotFoundHandler(notFound);
  for (const path of rules.notFoundPaths ?? []) void app.register(async (sub) => sub.setNotFoundHandler(notFound), { prefix: path });
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook(rules.credentialsAfterBody ? 'preValidation' : 'onRequest', async (req: FastifyRequest) => {
    if (req.routeOptions.config?.public) return;
    req.principal = await rules.credentials(h, req);
  });
}

/**
 * A body parser that keeps the bytes as received in `req.rawBody` (what a signature is computed
 * over) and hands them to `parse`. Fastify's parsers are per context: this one applies inside the
 * dialect that installs it only.
 */
export function keepRawBody(app: FastifyInstance, contentType: string, parse: (raw: Buffer) => unknown): void {
  app.removeContentTypeParser(contentType);
  app.addContentTypeParser(contentType, { parseAs: 'buffer' }, (req, body, done) => {
    req.rawBody = body as Buffer;
    try {
      done(null, parse(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/** Does this URL (as received) belong under `prefix`? */
export function underPrefix(url: string, prefix: string): boolean {
  if (prefix === '') return true;
  if (!url.startsWith(prefix)) return false;
  const next = url.charAt(prefix.length);
  return next === '' || next === '/' || next === '?';
}

/** Does this dialect claim this URL (as received)? The root dialect claims none by itself. */
function claims(d: Dialect, url: string): boolean {
  return d.paths ? d.paths.some((p) => underPrefix(url, p)) : d.prefix !== '' && underPrefix(url, d.prefix);
}

/** The dialect a URL (as received) belongs to: the one whose prefix or paths claim it, else the root one. */
export function dialectOf(dialects: readonly Dialect[], url: string): Dialect {
  return dialects.find((d) => claims(d, url)) ?? dialects.find((d) => d.prefix === '' && !d.paths)!;
}

/**
 * Fastify's one server-wide URL rewrite, dispatched by prefix: a URL is rewritten only by the
 * dialect it belongs to, and never into another dialect's prefix (`//toy/v1/...` is BigV's, and
 * stays a BigV path that names nothing, not a way round the toy's rules).
 */
export function rewriteFor(dialects: readonly Dialect[], url: string): string {
  const d = dialectOf(dialects, url);
  if (!d.rewriteUrl) return url;
  const out = d.rewriteUrl(url);
  return dialectOf(dialects, out) === d ? out : url;
}
