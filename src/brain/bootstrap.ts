// First start with an empty store: a cluster admin (from HANGAR_ADMIN_USER / HANGAR_ADMIN_PASSWORD,
// or generated and printed) and a demo account.
import crypto from 'node:crypto';
import type { Hangar } from '../core/context.js';
import { createUser } from '../core/users.js';
import { anyUser, updateUserRow } from '../store/repos/users.js';
import { insertPrivilege } from '../store/repos/grants.js';
import { insertAccount } from '../store/repos/tree.js';

export interface Bootstrapped { username: string; password: string | null; account: string | null }

export async function bootstrap(h: Hangar, env: NodeJS.ProcessEnv = process.env): Promise<Bootstrapped | null> {
  if (await anyUser(h.db)) return null;
  const username = env.HANGAR_ADMIN_USER || 'admin';
  const given = env.HANGAR_ADMIN_PASSWORD;
  const password = given || crypto.randomBytes(12).toString('base64url');
  const user = await createUser(h, { username, password, email: '' });
  const now = h.now();
  await insertPrivilege(h.db, {
    user_id: user.id, level: 'cluster_admin', account_id: null, group_id: null, virtual_machine_id: null, api_key_id: null,
    password_required: 0, yubikey_required: 0, yubikey_otp_max_age: 900, ip_restrictions: null, creating_user_id: null, created_at: now,
  });
  let account: string | null = null;
  if (env.HANGAR_DEMO_ACCOUNT !== '') {
    account = env.HANGAR_DEMO_ACCOUNT || 'demo';
    const row = await insertAccount(h.db, account, now);
    // The admin's default account (the `/accounts//...` of bytemark-client).
    await updateUserRow(h.db, user.id, { home_account_id: row.id });
  }
  return { username, password: given ? null : password, account };
}
