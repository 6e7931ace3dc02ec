// Invitations: Hangar's own routes (BigV has none), served beside the BigV routes with the same
// authentication and error shapes. A grant to a user outside the granter's account
// (POST /users/{u}/privileges) answers with one; its invitee accepts or declines it here, and the
// granter sees and revokes it here too (docs/privileges.md).
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Hangar } from '../../core/context.js';
import { acceptInvitation, listInvitations, removeInvitation, resolveInvitation } from '../../core/invitations.js';
import { presentInvitation, presentPrivilege } from './present.js';
import { NoParams, NoQuery } from '../parameters.js';
import { IdP } from './schemas.js';
import { bigv, bigvNoContent, Invitation, listOf, Privilege } from './responses.js';

const tags = ['hangar'];

export function invitationRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();

    app.get('/invitations', {
      schema: { tags, summary: 'Pending invitations addressed to you, and those you could revoke', response: bigv(listOf(Invitation)), params: NoParams, querystring: NoQuery },
    }, async (req) => (await listInvitations(h, req.principal)).map(presentInvitation));

    app.post('/invitations/:id/accept', {
      schema: { tags, summary: 'Accept an invitation addressed to you (with a session): it becomes a privilege', success: 201, response: bigv(Privilege, 201), params: IdP, querystring: NoQuery },
    }, async (req, reply) => {
      const privilege = await acceptInvitation(h, req.principal, await resolveInvitation(h, req.principal, req.params.id));
      reply.code(201);
      return presentPrivilege(privilege);
    });

    app.delete('/invitations/:id', {
      schema: { tags, summary: 'Decline an invitation addressed to you, or revoke one you could grant', success: 204, response: bigvNoContent, params: IdP, querystring: NoQuery },
    }, async (req, reply) => {
      await removeInvitation(h, req.principal, await resolveInvitation(h, req.principal, req.params.id));
      return reply.code(204).send();
    });
  };
}
