// The fixture of the catalogue tests (images, SSH keys, ISOs, grades): a Hangar on a fresh store
// (SQLite, and PostgreSQL when HANGAR_TEST_DATABASE_URL is set), driven through core alone, with a
// cluster admin, two accounts and a user who holds a privilege in the first only.
import { freshStore, startTest, type TestHangar } from '../helpers.js';
import type { Principal } from '../../src/core/principal.js';
import type { Hangar } from '../../src/core/context.js';
import type { AccountRow } from '../../src/store/schema.js';
import type { ClusterConfig } from '../../src/core/config.js';
import { createAccount } from '../../src/core/tree.js';

export function stores(file: string): { name: string; postgres: boolean }[] {
  const list = [{ name: 'SQLite', postgres: false }];
  if (process.env.HANGAR_TEST_DATABASE_URL) list.push({ name: 'PostgreSQL', postgres: true });
  else console.log(`# ${file}: PostgreSQL variant skipped: HANGAR_TEST_DATABASE_URL is not set`);
  return list;
}

export interface Fx { t: TestHangar; h: Hangar; admin: Principal; acme: AccountRow; other: AccountRow; alice: Principal; bob: Principal }

function principal(userId: number, username: string, grants: Principal['grants']): Principal {
  return { userId, username, factors: ['password'], apiKeyId: null, grants };
}

export async function withCatalogue(postgres: boolean, fn: (fx: Fx) => Promise<void>, config: Partial<ClusterConfig> = {}): Promise<void> {
  const store = await freshStore({ postgres });
  const t = await startTest({ storeUrl: store.url, config });
  try {
    const h = t.running.hangar;
    const adminRow = await h.db.selectFrom('users').select(['id', 'username']).where('username', '=', 'admin').executeTakeFirstOrThrow();
    const admin = principal(adminRow.id, adminRow.username, [{ id: 0, level: 'cluster_admin', accountId: null, groupId: null, vmId: null }]);
    const acme = await createAccount(h, admin, { name: 'acme' });
    const other = await createAccount(h, admin, { name: 'other' });
    await t.user('alice');
    await t.user('bob');
    const ids = await h.db.selectFrom('users').select(['id', 'username']).where('username', 'in', ['alice', 'bob']).execute();
    const id = (name: string) => ids.find((u) => u.username === name)!.id;
    const alice = principal(id('alice'), 'alice', [{ id: 0, level: 'account_admin', accountId: acme.id, groupId: null, vmId: null }]);
    const bob = principal(id('bob'), 'bob', [{ id: 0, level: 'account_admin', accountId: other.id, groupId: null, vmId: null }]);
    await fn({ t, h, admin, acme, other, alice, bob });
  } finally {
    await t.close();
    await store.drop();
  }
}
