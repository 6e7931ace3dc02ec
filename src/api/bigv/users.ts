// Users, privileges and API keys.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Hangar } from '../../core/context.js';
import type { UserRow } from '../../store/schema.js';

import { resolveAccount, resolveGroup, resolveVmPath } from '../../core/resolve.js';
import { canSeePrivilege, findUser, grant, loadPrivileges, privilegesOn, privilegesOfUser, resolvePrivilege, revoke, updatePrivilege, type GrantInput } from '../../core/grants.js';
import { userValue, adminCreateUser, createApiKey, deleteApiKey, deleteUser, listApiKeys, listUsers, resolveApiKey, resolveUser, updateUser, type ApiKeyView } from '../../core/users.js';
import { NoParams, NoQuery } from '../parameters.js';
import { goTime, presentInvitation, presentPrivilege } from './present.js';
import { Type } from 'typebox';
import { ApiKey, bigv, bigvNoContent, Invitation, listOf, Privilege, User } from './responses.js';
import { AccP, ApiKeyCreate, GrpP, IdP, PrivilegeCreate, PrivilegePut, UserCreate, UserFilterQ, UserP, UserPut, ViewQ, VmP } from './schemas.js';

const presentUser = (row: UserRow) => {
  const u = userValue(row);
  return { id: u.id, username: u.username, email: u.email, authorized_keys: u.authorizedKeys, totp_enabled: u.totpEnabled, home_account_id: u.homeAccountId };
};

export function userRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();

    app.get('/users', { schema: { tags: ['bigv'], summary: 'Users you can see', response: bigv(listOf(User)), params: NoParams, querystring: NoQuery } }, async (req) => (await listUsers(h, req.principal)).map(presentUser));
    app.post('/users', { schema: { tags: ['bigv'], summary: 'Create a user', success: 201, response: bigv(User, 201), params: NoParams, querystring: NoQuery, body: UserCreate } }, async (req, reply) => {
      reply.code(201);
      return presentUser(await adminCreateUser(h, req.principal, req.body));
    });
    app.get('/users/:user', { schema: { tags: ['bigv'], summary: 'One user', response: bigv(User), params: UserP, querystring: NoQuery } }, async (req) => presentUser(await resolveUser(h, req.principal, req.params.user)));
    app.put('/users/:user', { schema: { tags: ['bigv'], summary: 'Change a user\'s password, email, SSH keys or home account', response: bigv(User), params: UserP, querystring: NoQuery, body: UserPut } }, async (req) => {
      const user = await resolveUser(h, req.principal, req.params.user);
      return presentUser(await updateUser(h, req.principal, user, req.body));
    });
    app.delete('/users/:user', { schema: { tags: ['bigv'], summary: 'Delete a user', success: 204, response: bigvNoContent, params: UserP, querystring: NoQuery } }, async (req, reply) => {
      await deleteUser(h, req.principal, await resolveUser(h, req.principal, req.params.user));
      return reply.code(204).send();
    });

    // Privileges.
    app.get('/privileges', { schema: { tags: ['bigv'], summary: 'Your privileges, or those of one user (user_id)', response: bigv(listOf(Privilege)), params: NoParams, querystring: UserFilterQ } }, async (req) => {
      if (req.query.user_id !== undefined) return (await privilegesOfUser(h, req.principal, await findUser(h, req.query.user_id))).map(presentPrivilege);
      const list = await loadPrivileges(h, { kind: 'user', userId: req.principal.userId });
      return list.filter((v) => canSeePrivilege(req.principal, v)).map(presentPrivilege);
    });
    app.get('/privileges/:id', { schema: { tags: ['bigv'], summary: 'One privilege', response: bigv(Privilege), params: IdP, querystring: NoQuery } }, async (req) => presentPrivilege(await resolvePrivilege(h, req.principal, req.params.id)));
    app.put('/privileges/:id', { schema: { tags: ['bigv'], summary: 'Change a privilege\'s second-factor and address rules', response: bigv(Privilege), params: IdP, querystring: NoQuery, body: PrivilegePut } }, async (req) => {
      return presentPrivilege(await updatePrivilege(h, req.principal, await resolvePrivilege(h, req.principal, req.params.id), req.body));
    });
    app.delete('/privileges/:id', { schema: { tags: ['bigv'], summary: 'Revoke a privilege', success: 204, response: bigvNoContent, params: IdP, querystring: NoQuery } }, async (req, reply) => {
      await revoke(h, req.principal, await resolvePrivilege(h, req.principal, req.params.id));
      return reply.code(204).send();
    });
    app.get('/users/:user/privileges', { schema: { tags: ['bigv'], summary: 'The user\'s privileges', response: bigv(listOf(Privilege)), params: UserP, querystring: NoQuery } }, async (req) => {
      return (await privilegesOfUser(h, req.principal, await findUser(h, req.params.user))).map(presentPrivilege);
    });
    app.post('/users/:user/privileges', { schema: { tags: ['bigv'], summary: 'Grant a privilege (an invitation to a user outside the account)', success: 201, response: bigv(Type.Union([Privilege, Invitation], { description: 'The privilege granted, or an invitation when the user is outside the account' }), 201), params: UserP, querystring: NoQuery, body: PrivilegeCreate } }, async (req, reply) => {
      const granted = await grant(h, req.principal, { segment: req.params.user, user: await findUser(h, req.params.user) }, req.body as GrantInput);
      reply.code(201);
      return 'invitation' in granted ? presentInvitation(granted.invitation) : presentPrivilege(granted.privilege);
    });
    app.get('/accounts/:acc/privileges', { schema: { tags: ['bigv'], summary: 'Privileges on the account', response: bigv(listOf(Privilege)), params: AccP, querystring: NoQuery } }, async (req) => {
      const a = await resolveAccount(h.db, req.principal, req.params.acc);
      return (await privilegesOn(h, req.principal, { kind: 'account', accountId: a.id })).map(presentPrivilege);
    });
    app.get('/accounts/:acc/groups/:grp/privileges', { schema: { tags: ['bigv'], summary: 'Privileges on the group', response: bigv(listOf(Privilege)), params: GrpP, querystring: NoQuery } }, async (req) => {
      const a = await resolveAccount(h.db, req.principal, req.params.acc);
      const g = await resolveGroup(h.db, req.principal, a, req.params.grp);
      return (await privilegesOn(h, req.principal, { kind: 'group', groupId: g.id })).map(presentPrivilege);
    });
    app.get('/accounts/:acc/groups/:grp/virtual_machines/:vm/privileges', { schema: { tags: ['bigv'], summary: 'Privileges on the VM', response: bigv(listOf(Privilege)), params: VmP, querystring: NoQuery } }, async (req) => {
      const at = await resolveVmPath(h.db, req.principal, req.params.acc, req.params.grp, req.params.vm, { includeDeleted: true });
      return (await privilegesOn(h, req.principal, { kind: 'vm', vmId: at.vm.id })).map(presentPrivilege);
    });

    // API keys.
    const presentKey = async (k: ApiKeyView, overview: boolean) => ({
      id: k.row.id, user_id: k.row.user_id, username: k.username, label: k.row.label,
      ...(k.key ? { api_key: k.key } : {}),
      expires_at: goTime(k.row.expires_at),
      expired: k.row.expires_at !== null && k.row.expires_at <= h.now(),
      ...(overview ? { privileges: (await loadPrivileges(h, { kind: 'apiKeys', apiKeyIds: [k.row.id] })).map(presentPrivilege) } : {}),
    });
    app.get('/api_keys', { schema: { tags: ['bigv'], summary: 'Your API keys (with their privileges under view=overview)', response: bigv(listOf(ApiKey)), params: NoParams, querystring: ViewQ } }, async (req) => {
      const overview = req.query.view === 'overview';
      return Promise.all((await listApiKeys(h, req.principal)).map((k) => presentKey(k, overview)));
    });
    app.get('/api_keys/:id', { schema: { tags: ['bigv'], summary: 'One API key', response: bigv(ApiKey), params: IdP, querystring: ViewQ } }, async (req) => presentKey(await resolveApiKey(h, req.principal, req.params.id), req.query.view === 'overview'));
    app.post('/api_keys', { schema: { tags: ['bigv'], summary: 'Create an API key (the key is shown only in this answer)', success: 201, response: bigv(ApiKey, 201), params: NoParams, querystring: NoQuery, body: ApiKeyCreate } }, async (req, reply) => {
      reply.code(201);
      return presentKey(await createApiKey(h, req.principal, req.body), false);
    });
    app.delete('/api_keys/:id', { schema: { tags: ['bigv'], summary: 'Delete an API key', success: 204, response: bigvNoContent, params: IdP, querystring: NoQuery } }, async (req, reply) => {
      await deleteApiKey(h, await resolveApiKey(h, req.principal, req.params.id));
      return reply.code(204).send();
    });
  };
}
