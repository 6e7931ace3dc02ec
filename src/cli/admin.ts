// `hangar admin ...`: cluster administration on the store directly (run on a brain host).
// Each command acts as a cluster admin through the same core services the API uses.
import path from 'node:path';
import type { Command } from 'commander';
import { openStore } from '../store/db.js';
import { makeLogger } from '../core/log.js';
import { loadSecretBox } from '../core/secrets.js';
import { defaultConfig } from '../core/config.js';
import type { Hangar } from '../core/context.js';
import type { Principal } from '../core/principal.js';
import { createAccount } from '../core/tree.js';
import { createApiKey, createUser } from '../core/users.js';
import { findUser, grant } from '../core/grants.js';
import { enableTotp, totpUri } from '../core/auth.js';
import { resolveAccount, resolveGroup } from '../core/resolve.js';

const ROOT: Principal = { userId: 0, username: 'hangar-admin-cli', factors: ['password'], apiKeyId: null, grants: [{ id: 0, level: 'cluster_admin', accountId: null, groupId: null, vmId: null }] };

async function withHangar(o: { data: string; database?: string }, work: (h: Hangar) => Promise<void>): Promise<void> {
  process.umask(0o077); // what this command creates (a first store, the secret key) is the server's alone
  const dataDir = path.resolve(o.data);
  const log = makeLogger({ level: 'warn' });
  const secrets = loadSecretBox({ dataDir, log })!;
  const db = await openStore({ url: o.database ?? path.join(dataDir, 'hangar.sqlite'), secrets, log });
  const h: Hangar = { db, config: defaultConfig(), heads: { kick: async () => {} }, log, secrets, now: Date.now };
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
    .description('create a user')
    .action((username: string, o) => withHangar(opts(), async (h) => {
      const u = await createUser(h, { username, password: o.password, email: o.email });
      out({ id: u.id, username: u.username });
    }));

  admin.command('grant').argument('<username>').argument('<level>', 'cluster_admin, account_admin, group_admin, vm_admin or vm_console')
    .option('--account <account>').option('--group <group>', 'group name within --account').option('--vm <id>', 'virtual machine id')
    .description('grant a privilege to a user')
    .action((username: string, level: string, o) => withHangar(opts(), async (h) => {
      const user = await findUser(h, username);
      if (!user) throw new Error(`no user ${username}`);
      const input: Record<string, unknown> = { level };
      if (level === 'account_admin') input.account_id = (await resolveAccount(h.db, ROOT, o.account ?? '')).id;
      if (level === 'group_admin') input.group_id = (await resolveGroup(h.db, ROOT, await resolveAccount(h.db, ROOT, o.account ?? ''), o.group ?? 'default')).id;
      if (level.startsWith('vm_')) input.virtual_machine_id = Number(o.vm);
      const p = await grant(h, ROOT, user, input as never);
      out({ id: p.id, username: p.username, level: p.level });
    }));

  admin.command('totp-enable').argument('<username>').description('turn on the TOTP second factor for a user; prints the secret')
    .action((username: string) => withHangar(opts(), async (h) => {
      const secret = await enableTotp(h, username);
      if (!secret) throw new Error(`no user ${username}`);
      out({ secret, uri: totpUri(secret, username) });
    }));

  admin.command('apikey-create').argument('<username>').argument('<label>').option('--expires <date>', 'YYYY-MM-DD')
    .description('create an API key for a user (use it as the token apikey.<key>)')
    .action((username: string, label: string, o) => withHangar(opts(), async (h) => {
      const user = await findUser(h, username);
      if (!user) throw new Error(`no user ${username}`);
      const k = await createApiKey(h, ROOT, { user_id: user.id, label, expires_at: o.expires ?? null });
      out({ id: k.row.id, token: `apikey.${k.key}` });
    }));
}
