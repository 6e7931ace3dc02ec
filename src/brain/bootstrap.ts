// First start with an empty store: a cluster admin (from HANGAR_ADMIN_USER / HANGAR_ADMIN_PASSWORD,
// or generated and printed) and a demo account.
import { randomUUID } from 'node:crypto';
import crypto from 'node:crypto';
import type { Hangar } from '../core/context.js';
import { createUser } from '../core/users.js';

export interface Bootstrapped { username: string; password: string | null; account: string | null }

export async function bootstrap(h: Hangar, env: NodeJS.ProcessEnv = process.env): Promise<Bootstrapped | null> {
  const anyUser = await h.db.selectFrom('users').select('id').limit(1).executeTakeFirst();
  if (anyUser) return null;
  const username = env.HANGAR_ADMIN_USER || 'admin';
  const given = env.HANGAR_ADMIN_PASSWORD;
  const password = given || crypto.randomBytes(12).toString('base64url');
  const user = await createUser(h, { username, password, email: '' });
  const now = h.now();
  await h.db.insertInto('privileges').values({
    uuid: randomUUID(), user_id: user.id, level: 'cluster_admin', account_id: null, group_id: null, virtual_machine_id: null, api_key_id: null,
    password_required: 0, yubikey_required: 0, yubikey_otp_max_age: 900, ip_restrictions: null, creating_user_id: null, created_at: now,
  }).execute();
  let account: string | null = null;
  if (env.HANGAR_DEMO_ACCOUNT !== '') {
    account = env.HANGAR_DEMO_ACCOUNT || 'demo';
    const row = await h.db.insertInto('accounts').values({ uuid: randomUUID(), name: account, created_at: now }).returning('id').executeTakeFirstOrThrow();
    await h.db.insertInto('groups').values({ uuid: randomUUID(), account_id: row.id, name: 'default', vlan_num: null, created_at: now }).execute();
    // The admin's default account (the `/accounts//...` of bytemark-client).
    await h.db.updateTable('users').set({ home_account_id: row.id }).where('id', '=', user.id).execute();
  }
  return { username, password: given ? null : password, account };
}
