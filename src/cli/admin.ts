// `hangar admin ...`: cluster administration on the store directly (run on a brain host).
// Each command acts as a cluster admin through the same core services the API uses.
import pino from 'pino';
import path from 'node:path';
import type { Command } from 'commander';
import { openStore } from '../store/db.js';
import { makeLogger } from '../core/log.js';
import { loadSecretBox } from '../core/secrets.js';
import { defaultConfig } from '../core/config.js';
import type { Hangar } from '../core/context.js';
import { LoginLimiter } from '../core/login-limiter.js';
import type { Principal } from '../core/principal.js';
import { createAccount } from '../core/tree.js';
import { createApiKey, createUser, deleteApiKey } from '../core/users.js';
import { bindSessionPrivileges, findUser, grant } from '../core/grants.js';
import { admit, invitationsOf, listInvitations, resolveInvitation, type InvitationView } from '../core/invitations.js';
import { enableTotp, totpUri } from '../core/auth.js';
import { operatorKeyPair } from '../core/key-pairs.js';
import { resolveAccount, resolveGroup } from '../core/resolve.js';
import { readAudit } from '../core/audit.js';
import { apiKeyByLabel } from '../store/repos/users.js';
import { holdsSessionPrivilege } from '../store/repos/grants.js';

const ROOT: Principal = { userId: 0, username: 'hangar-admin-cli', factors: ['password'], apiKeyId: null, grants: [{ id: 0, level: 'cluster_admin', accountId: null, groupId: null, vmId: null }] };

async function withHangar(o: { data: string; database?: string }, work: (h: Hangar) => Promise<void>): Promise<void> {
  process.umask(0o077); // what this command creates (a first store, the secret key) is the server's alone
  const dataDir = path.resolve(o.data);
  // Warnings go to stderr: stdout carries the command's JSON answer.
  const log = makeLogger({ level: 'warn' }, pino.destination(2));
  const secrets = loadSecretBox({ dataDir, log })!;
  const db = await openStore({ url: o.database ?? path.join(dataDir, 'hangar.sqlite'), secrets, log });
  const config = defaultConfig();
  const h: Hangar = { db, config, heads: { kick: async () => {} }, log, secrets, limiter: new LoginLimiter(db, config), now: Date.now };
  try {
    await work(h);
  } finally {
    await db.destroy();
  }
}

function out(value: unknown): void {
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);
}

export function adminCommands(program: Command): void {
  const admin = program.command('admin').description('cluster administration (acts on the store directly)')
    .option('--data <dir>', 'data directory', process.env.HANGAR_DATA ?? path.join(process.cwd(), '.data'))
    .option('--database <url>', 'postgres://... when the state is in PostgreSQL', process.env.HANGAR_DATABASE_URL);
  const opts = () => admin.opts() as { data: string; database?: string };

  admin.command('account-create').argument('<name>').description('create an account (with its default group)')
    .action((name: string) => withHangar(opts(), async (h) => out(await createAccount(h, ROOT, { name }))));

  admin.command('user-create').argument('<username>').requiredOption('--password <password>').option('--email <email>', '', '')
    .option('--account <account>', 'home account: the default account of the user\'s clients')
    .description('create a user')
    .action((username: string, o) => withHangar(opts(), async (h) => {
      const home = o.account === undefined ? null : (await resolveAccount(h.db, ROOT, o.account)).id;
      const u = await createUser(h, { username, password: o.password, email: o.email, home_account_id: home });
      out({ id: u.id, username: u.username, home_account_id: u.home_account_id });
    }));

  admin.command('grant').argument('<username>').argument('<level>', 'cluster_admin, account_admin, group_admin, vm_admin or vm_console')
    .option('--account <account>').option('--group <group>', 'group name within --account').option('--vm <id>', 'virtual machine id')
    .option('--api-key <label>', "bind the privilege to this API key of the user's (then it serves only that key)")
    .description('grant a privilege to a user')
    .action((username: string, level: string, o) => withHangar(opts(), async (h) => {
      const user = await findUser(h, username);
      if (!user) throw new Error(`no user ${username}`);
      const input: Record<string, unknown> = { level };
      if ((level === 'account_admin' || level === 'group_admin') && o.account === undefined) throw new Error(`${level} needs --account`);
      if (level === 'account_admin') input.account_id = (await resolveAccount(h.db, ROOT, o.account)).id;
      if (level === 'group_admin') input.group_id = (await resolveGroup(h.db, ROOT, await resolveAccount(h.db, ROOT, o.account), o.group ?? 'default')).id;
      if (level.startsWith('vm_')) input.virtual_machine_id = Number(o.vm);
      if (o.apiKey !== undefined) {
        const key = await apiKeyByLabel(h.db, user.id, o.apiKey);
        if (!key) throw new Error(`${username} has no API key labelled ${o.apiKey}`);
        input.api_key_id = key.id;
      }
      // A cluster admin's grant is always a privilege, never an invitation.
      const granted = await grant(h, ROOT, { segment: username, user }, input as never);
      if (!('privilege' in granted)) throw new Error('expected a direct grant');
      out({ id: granted.privilege.id, username: granted.privilege.username, level: granted.privilege.level });
    }));

  const showInvitation = (v: InvitationView) => ({
    invitation_id: v.id, username: v.username, level: v.level, target: v.target, invited_by: v.creatingUsername,
    expires_at: new Date(v.expiresAt).toISOString(), acceptable: v.userId !== null,
  });
  admin.command('invitations').argument('[username]').description('list pending invitations (all, or those addressed to a user)')
    .action((username: string | undefined) => withHangar(opts(), async (h) => {
      if (username === undefined) return out((await listInvitations(h, ROOT)).map(showInvitation));
      const user = await findUser(h, username);
      if (!user) throw new Error(`no user ${username}`);
      out((await invitationsOf(h, user.id)).map(showInvitation));
    }));

  admin.command('invitation-accept').argument('<id>').description('accept a pending invitation on behalf of its invitee')
    .action((id: string) => withHangar(opts(), async (h) => {
      const v = await resolveInvitation(h, ROOT, id);
      if (v.userId === null) throw new Error(`invitation ${id} names no user (or was declined): it can never be accepted`);
      const p = await admit(h, v);
      out({ id: p.id, username: p.username, level: p.level });
    }));

  admin.command('totp-enable').argument('<username>').description('turn on the TOTP second factor for a user; prints the secret')
    .action((username: string) => withHangar(opts(), async (h) => {
      const secret = await enableTotp(h, username);
      if (!secret) throw new Error(`no user ${username}`);
      out({ secret, uri: totpUri(secret, username) });
    }));

  admin.command('apikey-create').argument('<username>').argument('<label>').option('--expires <date>', 'YYYY-MM-DD')
    .option('--all-privileges', "bind a copy of each of the user's privileges to the key (a key sees nothing without one)")
    .description('create an API key for a user (use it as the token apikey.<key>)')
    .action((username: string, label: string, o) => withHangar(opts(), async (h) => {
      const user = await findUser(h, username);
      if (!user) throw new Error(`no user ${username}`);
      if (o.allPrivileges && !(await holdsSessionPrivilege(h.db, user.id))) {
        throw new Error(`${username} has no privileges to bind: grant one first (hangar admin grant)`);
      }
      const k = await createApiKey(h, ROOT, { user_id: user.id, label, expires_at: o.expires ?? null });
      const bound = o.allPrivileges ? await bindSessionPrivileges(h, ROOT, user, k.row.id).catch(async (err) => {
        await deleteApiKey(h, k); // no half-made key
        throw err;
      }) : [];
      if (!bound.length) {
        process.stderr.write(`The key has no privileges and sees nothing until one is bound: run again with --all-privileges, or \`hangar admin grant ${username} LEVEL ... --api-key ${label}\`\n`);
      }
      out({
        id: k.row.id, token: `apikey.${k.key}`,
        privileges: bound.map((v) => ({
          level: v.level, ...(v.accountName ? { account: v.accountName } : {}), ...(v.groupName ? { group: v.groupName } : {}), ...(v.vmName ? { vm: v.vmName } : {}),
        })),
      });
    }));

  admin.command('e24-key').argument('<username>').description('create an e24cloud key pair for a user (/v2, docs/e24cloud.md); the secret is shown this once')
    .action((username: string) => withHangar(opts(), async (h) => {
      const user = await findUser(h, username);
      if (!user) throw new Error(`no user ${username}`);
      const k = await operatorKeyPair(h, user);
      out({ api_key: k.accessKeyId, secret_key: k.secret });
    }));

  admin.command('audit').description('audit rows of mutating requests, newest first (docs/audit.md)')
    .option('--account <account>').option('--since <time>', 'ISO 8601').option('--limit <n>', 'at most this many rows', '100')
    .action((o) => withHangar(opts(), async (h) => {
      const accountUuid = o.account === undefined ? undefined : (await resolveAccount(h.db, ROOT, o.account)).uuid;
      const since = o.since === undefined ? undefined : Date.parse(o.since);
      if (Number.isNaN(since)) throw new Error(`--since ${o.since} is not a time`);
      out(await readAudit(h, ROOT, { accountUuid, since, limit: Number(o.limit) }));
    }));
}
