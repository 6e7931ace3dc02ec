// POST /token (gigas.md §2.1): `{"login","password"}` as JSON or a form → `{"token","expires"}`. The
// token is a Hangar session of 30 minutes, made by the same login as BigV's (core/auth.ts: the same
// limiter, the same second factor, sent here as `totp`). `login` is a username or the email of
// exactly one user (G14). `expires` is epoch seconds, an estimate as Gigas says: a token in use is
// kept alive a few minutes past it, as every Hangar session is.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../../core/context.js';
import { login } from '../../core/auth.js';
import { DomainError } from '../../core/errors.js';
import { usernameForLogin } from '../../core/vm-settings.js';
import { NoParams, NoQuery } from '../parameters.js';
import { Closed, Int, Str } from '../responses.js';
import { GBool, gigas } from './schemas.js';

/** Gigas' token lifetime (gigas.md §2.1). */
export const TOKEN_SECONDS = 1800;

const TokenB = Type.Object({
  login: Type.String({ minLength: 1, maxLength: 255 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
  readonly: Type.Optional(GBool),
  totp: Type.Optional(Type.String({ maxLength: 16 })),
}, { additionalProperties: false });
const Token = Closed({ token: Str, expires: Int }, { $id: 'GigasToken', description: 'A token for `Authorization: <token>`, and when it expires (epoch seconds)' });

/** Core's login failures in Gigas' statuses and words. */
const LOGIN: Record<string, [number, string]> = {
  malformed: [422, 'login and password are required'],
  no_such_user: [401, 'Bad login credentials'],
  bad_credentials: [401, 'Bad login credentials'],
  second_factor_missing: [401, 'Missing 2FA token'],
  second_factor_bad: [401, 'Bad 2FA token'],
};

export function tokenRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    app.post('/token', {
      config: { public: true },
      schema: { tags: ['gigas'], summary: 'Log in (JSON or form: login, password, totp): a 30-minute token', response: gigas(Token), params: NoParams, querystring: NoQuery, body: TokenB },
    }, async (req, reply) => {
      try {
        const username = await usernameForLogin(h, req.body.login);
        const token = await login(h, { username, password: req.body.password, validity: TOKEN_SECONDS, otp: req.body.totp }, req.ip);
        return { token, expires: Math.floor(h.now() / 1000) + TOKEN_SECONDS };
      } catch (err) {
        const said = err instanceof DomainError && err.field === 'login' ? LOGIN[String(err.params.reason)] : undefined;
        if (!said) throw err;
        return reply.code(said[0]).send({ error: said[1] });
      }
    });
  };
}
