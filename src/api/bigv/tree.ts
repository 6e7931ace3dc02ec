// Accounts and groups.
import { matchesRef } from '../../core/ids.js';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Hangar } from '../../core/context.js';
import { defaultAccount, resolveAccount, resolveGroup } from '../../core/resolve.js';
import { createAccount, createGroup, deleteGroup, listAccounts, loadTrees, renameGroup, updateAccount, type AccountTree, type GroupTree } from '../../core/tree.js';
import { NoParams, NoQuery } from '../parameters.js';
import { presentAccount, presentGroup, presentVm } from './present.js';
import { AccP, AccountFilterQ, AccountPut, GrpP, Name, ReadQ } from './schemas.js';
import { poolLabels } from './pools.js';
import { Account, AccountEither, bigv, bigvNoContent, Group, GroupEither, listOf } from './responses.js';

/**
 * bytemark-client sends `/accounts//groups/...` when no account was given: BigV reads the empty
 * account as the caller's default (home) account. Rewritten to its id before any route resolves it;
 * a caller without one names no account ("0" is no row's id).
 */
export function emptyAccountRule(h: Hangar) {
  return async (req: FastifyRequest): Promise<void> => {
    const params = req.params as { acc?: string } | undefined;
    if (params?.acc !== '' || !req.principal) return;
    params.acc = String((await defaultAccount(h.db, req.principal))?.id ?? 0);
  };
}

export function treeRoutes(h: Hangar): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<TypeBoxTypeProvider>();
    const groupJson = async (t: GroupTree, overview: boolean) => {
      if (!overview) return presentGroup(t.group);
      const pools = await poolLabels(h.db);
      return presentGroup(t.group, t.vms.map((v) => presentVm(v, { overview: true, poolLabels: pools })));
    };
    const accountJson = async (t: AccountTree, overview: boolean) =>
      presentAccount(t.account, overview ? await Promise.all(t.groups.map((g) => groupJson(g, true))) : undefined);

    app.get('/accounts', { schema: { tags: ['bigv'], summary: 'Accounts you can see (yours first), with groups and VMs under view=overview', response: bigv(listOf(AccountEither)), params: NoParams, querystring: ReadQ } }, async (req) => {
      const overview = req.query.view === 'overview';
      const trees = await listAccounts(h, req.principal, { overview, includeDeleted: req.query.include_deleted ?? false });
      return Promise.all(trees.map((t) => accountJson(t, overview)));
    });

    app.post('/accounts', { schema: { tags: ['bigv'], summary: 'Create an account with its default group (cluster admin)', success: 201, response: bigv(Account, 201), params: NoParams, querystring: NoQuery, body: Name } }, async (req, reply) => {
      reply.code(201);
      return presentAccount(await createAccount(h, req.principal, req.body));
    });

    app.get('/accounts/:acc', { schema: { tags: ['bigv'], summary: 'One account, with groups and VMs under view=overview', response: bigv(AccountEither), params: AccP, querystring: ReadQ } }, async (req) => {
      const account = await resolveAccount(h.db, req.principal, req.params.acc);
      const overview = req.query.view === 'overview';
      if (!overview) return presentAccount(account);
      const [tree] = await loadTrees(h, req.principal, [account], { includeDeleted: req.query.include_deleted ?? false, vms: true });
      return accountJson(tree!, true);
    });

    app.put('/accounts/:acc', { schema: { tags: ['bigv'], summary: 'Suspend or resume an account', response: bigv(Account), params: AccP, querystring: NoQuery, body: AccountPut } }, async (req) => {
      const account = await resolveAccount(h.db, req.principal, req.params.acc);
      return presentAccount(await updateAccount(h, req.principal, account, req.body as { suspended?: boolean; name?: string }));
    });

    app.get('/accounts/:acc/groups', { schema: { tags: ['bigv'], summary: 'The account\'s groups, with VMs under view=overview', response: bigv(listOf(GroupEither)), params: AccP, querystring: ReadQ } }, async (req) => {
      const account = await resolveAccount(h.db, req.principal, req.params.acc);
      const overview = req.query.view === 'overview';
      const [tree] = await loadTrees(h, req.principal, [account], { includeDeleted: req.query.include_deleted ?? false, vms: overview });
      return Promise.all(tree!.groups.map((g) => groupJson(g, overview)));
    });

    app.post('/accounts/:acc/groups', { schema: { tags: ['bigv'], summary: 'Create a group in the account', success: 201, response: bigv(Group, 201), params: AccP, querystring: NoQuery, body: Name } }, async (req, reply) => {
      const account = await resolveAccount(h.db, req.principal, req.params.acc);
      reply.code(201);
      return presentGroup(await createGroup(h, req.principal, account, req.body as { name?: string }));
    });

    app.get('/accounts/:acc/groups/:grp', { schema: { tags: ['bigv'], summary: 'One group, with its VMs under view=overview', response: bigv(GroupEither), params: GrpP, querystring: ReadQ } }, async (req) => {
      const account = await resolveAccount(h.db, req.principal, req.params.acc);
      const group = await resolveGroup(h.db, req.principal, account, req.params.grp);
      const overview = req.query.view === 'overview';
      if (!overview) return presentGroup(group);
      const [tree] = await loadTrees(h, req.principal, [account], { includeDeleted: req.query.include_deleted ?? false, vms: true, onlyGroup: group.id });
      return groupJson(tree!.groups[0]!, true);
    });

    app.put('/accounts/:acc/groups/:grp', { schema: { tags: ['bigv'], summary: 'Rename a group (not default)', response: bigv(Group), params: GrpP, querystring: NoQuery, body: Name } }, async (req) => {
      const account = await resolveAccount(h.db, req.principal, req.params.acc);
      const group = await resolveGroup(h.db, req.principal, account, req.params.grp);
      return presentGroup(await renameGroup(h, req.principal, account, group, req.body as { name?: string }));
    });

    app.delete('/accounts/:acc/groups/:grp', { schema: { tags: ['bigv'], summary: 'Delete an empty group (not default)', success: 204, response: bigvNoContent, params: GrpP, querystring: NoQuery } }, async (req, reply) => {
      const account = await resolveAccount(h.db, req.principal, req.params.acc);
      const group = await resolveGroup(h.db, req.principal, account, req.params.grp);
      await deleteGroup(h, req.principal, account, group);
      return reply.code(204).send();
    });

    // Non-nested group reads.
    app.get('/groups', { schema: { tags: ['bigv'], summary: 'Groups you can see, optionally of one account', response: bigv(listOf(Group)), params: NoParams, querystring: AccountFilterQ } }, async (req) => {
      const trees = await listAccounts(h, req.principal, { overview: true, includeDeleted: false });
      const wanted = req.query.account_id;
      return trees
        .filter((t) => wanted === undefined || matchesRef(t.account, t.account.name, wanted.toLowerCase()))
        .flatMap((t) => t.groups.map((g) => presentGroup(g.group)));
    });
  };
}
