// What the core tests (no dialect) share: the stores to run on, and a fresh Hangar with a cluster
// admin principal and an account `acme` with its default group.
import { freshStore, startTest, type TestHangar } from '../helpers.js';
import type { Principal } from '../../src/core/principal.js';
import type { AccountRow, GroupRow } from '../../src/store/schema.js';
import { createAccount } from '../../src/core/tree.js';
import type { VmPlace } from '../../src/core/resolve.js';

export interface StoreCase { name: string; postgres: boolean }

/** SQLite always; PostgreSQL too when HANGAR_TEST_DATABASE_URL is set (else says why it is skipped). */
export function storesFor(suite: string): StoreCase[] {
  if (process.env.HANGAR_TEST_DATABASE_URL) return [{ name: 'SQLite', postgres: false }, { name: 'PostgreSQL', postgres: true }];
  console.log(`# ${suite}: PostgreSQL variant skipped: HANGAR_TEST_DATABASE_URL is not set`);
  return [{ name: 'SQLite', postgres: false }];
}

export interface CoreFx { t: TestHangar; admin: Principal; account: AccountRow; group: GroupRow }

export async function withCore(postgres: boolean, fn: (fx: CoreFx) => Promise<void>, opts: Parameters<typeof startTest>[0] = {}): Promise<void> {
  const store = await freshStore({ postgres });
  const t = await startTest({ ...opts, storeUrl: store.url });
  try {
    const db = t.running.hangar.db;
    const user = await db.selectFrom('users').select(['id', 'username']).where('username', '=', 'admin').executeTakeFirstOrThrow();
    const admin: Principal = {
      userId: user.id, username: user.username, factors: ['password'], apiKeyId: null,
      grants: [{ id: 0, level: 'cluster_admin', accountId: null, groupId: null, vmId: null }],
    };
    const account = await createAccount(t.running.hangar, admin, { name: 'acme' });
    const group = await db.selectFrom('groups').selectAll().where('account_id', '=', account.id).executeTakeFirstOrThrow();
    await fn({ t, admin, account, group });
  } finally {
    await t.close();
    await store.drop();
  }
}

/** The fixture's VM `vmId` as core's commands take it, read afresh. */
export async function placeOf(fx: CoreFx, vmId: number): Promise<VmPlace> {
  const vm = await fx.t.running.hangar.db.selectFrom('vms').selectAll().where('id', '=', vmId).executeTakeFirstOrThrow();
  return { vm, group: fx.group, account: fx.account };
}
