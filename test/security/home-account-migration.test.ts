// Migration 002 gives existing users a home account (issue 7, defect 2): the account of their
// oldest account-level privilege, else the oldest account they can see, else none. Before it, the
// default account was the lowest-id account a user could see, which anyone's grant could change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { migratableStore } from '../helpers.js';

test('migration 002 fills each existing user\'s home account from their privileges', async () => {
  const { db, migrator, close } = await migratableStore();
  try {
    assert.equal((await migrator.migrateTo('001_initial')).error, undefined);
    const t = 1_700_000_000_000;
    const ids: Record<string, number> = {};
    for (const name of ['a1', 'a2', 'a3']) {
      ids[name] = (await db.insertInto('accounts').values({ name, created_at: t }).returning('id').executeTakeFirstOrThrow()).id;
      ids[`${name}g`] = (await db.insertInto('groups').values({ account_id: ids[name], name: 'default', created_at: t }).returning('id').executeTakeFirstOrThrow()).id;
    }
    ids.vm = (await db.insertInto('vms').values({
      group_id: ids.a1g, name: 'web1', cores: 1, memory: 256, power_on: 0, autoreboot_on: 0, hardware_profile: 'virtio2013',
      hardware_profile_locked: 0, zone_name: 'default', vnc_password: 'x', created_at: t, updated_at: t,
    }).returning('id').executeTakeFirstOrThrow()).id;
    const user = async (username: string) => (ids[username] = (await db.insertInto('users').values({ username, email: '', password_hash: 'x', created_at: t }).returning('id').executeTakeFirstOrThrow()).id);
    const grant = (username: string, level: string, at: number, target: Record<string, number>) => db.insertInto('privileges').values({
      user_id: ids[username], level, account_id: null, group_id: null, virtual_machine_id: null, ...target,
      password_required: 1, yubikey_required: 0, yubikey_otp_max_age: 900, created_at: t + at,
    }).execute();
    // oldest: account_admin on a3 first, then on a1 (a lower id) and a group in a2: a3.
    await user('oldest');
    await grant('oldest', 'account_admin', 1, { account_id: ids.a3! });
    await grant('oldest', 'account_admin', 2, { account_id: ids.a1! });
    await grant('oldest', 'group_admin', 0, { group_id: ids.a2g! });
    // seer: no account-level privilege; a group in a3 and a VM in a1: the oldest account it sees, a1.
    await user('seer');
    await grant('seer', 'group_admin', 1, { group_id: ids.a3g! });
    await grant('seer', 'vm_console', 2, { virtual_machine_id: ids.vm! });
    // root: a cluster admin sees every account: the oldest, a1.
    await user('root');
    await grant('root', 'cluster_admin', 1, {});
    // nobody: no privilege, no home, no default account.
    await user('nobody');

    assert.equal((await migrator.migrateToLatest()).error, undefined);
    const rows = await db.selectFrom('users').select(['username', 'home_account_id']).orderBy('id').execute();
    assert.deepEqual(rows.map((r) => [r.username, r.home_account_id]), [['oldest', ids.a3], ['seer', ids.a1], ['root', ids.a1], ['nobody', null]]);
    assert.deepEqual(await db.selectFrom('invitations').selectAll().execute(), []);
  } finally {
    await close();
  }
});
