// e24cloud's account routes (e24cloud.md §4): the caller's user with its key pairs (secrets never
// shown again: `secret_key` null, G12), SSH keys and groups; key pairs made, renewed and deleted
// (also from a Hangar session, `Authorization: Bearer`); SSH keys uploaded and deleted.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Hangar } from '../../core/context.js';
import { createKeyPair } from '../../core/auth.js';
import { deleteKeyPair, listKeyPairs, renewKeyPairSecret } from '../../core/key-pairs.js';
import { createSshKey, deleteSshKey, listSshKeys } from '../../core/ssh-keys.js';
import { resolveUser } from '../../core/users.js';
import { listAccounts } from '../../core/tree.js';
import { Closed, NStr, Str, Int } from '../responses.js';
import { NoParams, NoQuery, e24 } from './schemas.js';

const TAGS = ['e24cloud'];
const KeyPair = Closed({ api_key: Str, secret_key: Str });
const SshKey = Closed({ id: Int, name: Str, fingerprint: Str });
const ApiKeyB = Type.Object({ api_key: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });
const SshKeyB = Type.Object({ name: Type.String({ maxLength: 255 }), method: Type.Literal('upload'), content: Str }, { additionalProperties: false });
const SshIdP = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,10}$' }) });

export function accountRoutes(h: Hangar, app: FastifyInstance): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const session = { e24Session: true };

  r.get('/account', {
    schema: {
      tags: TAGS, summary: 'The caller: key pairs (secrets not shown again), SSH keys, groups', params: NoParams, querystring: NoQuery,
      response: e24({
        account: Closed({
          id: Str, name: Str, email: Str, phone: NStr, notification: Closed({ email: Str, phone: NStr }),
          api: Type.Array(Closed({ api_key: Str, secret_key: Type.Null() })), sshkeys: Type.Array(SshKey),
          groups: Type.Array(Closed({ id: Str, name: Str })),
        }),
      }),
    },
  }, async (req) => {
    const p = req.principal;
    const user = await resolveUser(h, p, String(p.userId));
    const trees = await listAccounts(h, p, { includeDeleted: false, overview: false });
    return {
      success: true,
      account: {
        id: user.uuid, name: user.username, email: user.email, phone: null, notification: { email: user.email, phone: null },
        api: (await listKeyPairs(h, p)).map((k) => ({ api_key: k, secret_key: null })),
        sshkeys: (await listSshKeys(h, p)).map((k) => ({ id: k.id, name: k.label, fingerprint: k.fingerprint })),
        groups: trees.flatMap((t) => t.groups.map((g) => ({ id: g.group.uuid, name: `${t.account.name}/${g.group.name}` }))),
      },
    };
  });

  r.put('/account/api', { schema: { tags: TAGS, summary: 'A new key pair (the secret is shown this once)', params: NoParams, querystring: NoQuery, body: Type.Object({}, { additionalProperties: false }), response: e24({ api: KeyPair }) }, config: session }, async (req) => {
    const k = await createKeyPair(h, req.principal);
    return { success: true, api: { api_key: k.accessKeyId, secret_key: k.secret } };
  });

  r.post('/account/api-new-secret-key', { schema: { tags: TAGS, summary: 'A new secret for a key pair (shown this once)', params: NoParams, querystring: NoQuery, body: ApiKeyB, response: e24({ api: KeyPair }) }, config: session }, async (req) => {
    const secret = await renewKeyPairSecret(h, req.principal, req.body.api_key);
    return { success: true, api: { api_key: req.body.api_key, secret_key: secret } };
  });

  r.delete('/account/api', { schema: { tags: TAGS, summary: 'Delete a key pair', params: NoParams, querystring: NoQuery, body: ApiKeyB, response: e24() }, config: session }, async (req) => {
    await deleteKeyPair(h, req.principal, req.body.api_key);
    return { success: true };
  });

  r.put('/account/sshkey', {
    schema: { tags: TAGS, summary: 'Upload an SSH public key (method "upload"; "generate" is not offered)', params: NoParams, querystring: NoQuery, body: SshKeyB, response: e24({ sshkeys: SshKey }) },
    config: { e24Fields: { label: 'name', publicKey: 'content' } },
  }, async (req) => {
    const k = await createSshKey(h, req.principal, { label: req.body.name, publicKey: req.body.content });
    return { success: true, sshkeys: { id: k.id, name: k.label, fingerprint: k.fingerprint } };
  });

  r.delete('/account/:id/sshkey', { schema: { tags: TAGS, summary: 'Delete one of the caller\'s SSH keys', params: SshIdP, querystring: NoQuery, body: Type.Object({}, { additionalProperties: false }), response: e24() } }, async (req) => {
    await deleteSshKey(h, req.principal, req.params.id);
    return { success: true };
  });
}
