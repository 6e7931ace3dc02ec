// The BigV auth server's API (spec §2.1), served by the same process (optionally under a prefix).
// Replies are text/plain tokens; errors are text whose wording bytemark-client reacts to.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../../core/context.js';
import { impersonate, login, readSession } from '../../core/auth.js';
import { DomainError, isCode } from '../../core/errors.js';
import { throttledText } from '../bigv/errors.js';
import { UnusableInput } from '../wire.js';
import { NoParams, NoQuery, Segment } from '../parameters.js';
import { Closed, responses } from '../responses.js';

const TokenP = Type.Object({ token: Segment });
const Token = Type.String({ description: 'the session token (text/plain)' });
const Session = Closed({ username: Type.String(), factors: Type.Array(Type.String()), group_memberships: Type.Array(Type.String()) }, { $id: 'Session', description: 'A session' });
/** The auth server's refusals are text, worded as bytemark-client expects (LOGIN below). */
const AuthRefusal = Type.String({ description: 'Refused (text/plain)' });

/** Core's login failures in the auth server's statuses and words (bytemark-client reacts to them). */
const LOGIN: Record<string, [number, string]> = {
  malformed: [400, 'Badly-formed parameters'],
  no_such_user: [400, 'Badly-formed parameters: no such user'],
  bad_credentials: [401, 'Bad login credentials'],
  second_factor_missing: [403, 'Missing 2FA token'],
  second_factor_bad: [401, 'Authentication failed: bad 2FA token'],
  not_admin: [403, 'Authentication failed: only cluster admins may impersonate'],
};

export function authRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    app.setErrorHandler((err: Error & { statusCode?: number; validationContext?: string }, _req, reply) => {
      const failed = err instanceof DomainError && err.field === 'login' ? LOGIN[String(err.params.reason)] : undefined;
      if (failed) return reply.code(failed[0]).type('text/plain').send(failed[1]);
      if (isCode(err, 'throttled')) {
        const after = Number(err.params.retryAfter);
        return reply.code(429).header('retry-after', String(after)).type('text/plain').send(throttledText(after));
      }
      // A token with a NUL, or longer than any token, names no session.
      if (isCode(err, 'not_found') || (err instanceof UnusableInput && err.part === 'params') || err.validationContext === 'params') {
        return reply.code(404).type('text/plain').send('Session not found');
      }
      if (err.statusCode === 413) return reply.code(413).type('text/plain').send('Request body is too large');
      if (err.statusCode && err.statusCode < 500) return reply.code(400).type('text/plain').send('Badly-formed parameters');
      h.log.error({ err }, 'auth error');
      return reply.code(500).type('text/plain').send('Internal error');
    });

    app.post('/session', { schema: { tags: ['auth'], summary: 'Log in (JSON or form: username, password, validity, 2fa): a session token as text', produces: ['text/plain'], response: responses({ 200: Token, '4xx': AuthRefusal }), params: NoParams, querystring: NoQuery } }, async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const token = await login(h, { username: body.username, password: body.password, validity: body.validity, otp: body['2fa'] ?? body.otp }, req.ip);
      return reply.type('text/plain').send(token);
    });

    app.get('/session/:token', { schema: { tags: ['auth'], summary: 'What a session is: username, factors proved, group memberships', response: responses({ 200: Session, '4xx': AuthRefusal }), params: TokenP, querystring: NoQuery } }, async (req, reply) => {
      return reply.type('application/json').send(await readSession(h, req.params.token, req.ip));
    });

    app.post('/session/:token', { schema: { tags: ['auth'], summary: 'Impersonate a user (cluster admin): a new session token as text', produces: ['text/plain'], response: responses({ 200: Token, '4xx': AuthRefusal }), params: TokenP, querystring: NoQuery } }, async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      return reply.type('text/plain').send(await impersonate(h, req.params.token, body.username, req.ip));
    });
  };
}
