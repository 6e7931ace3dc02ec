// What a refused or failed request must not have touched: the store's rows, minus the columns
// the head agent writes while it observes machines (run state, pids, ports, timestamps).
import type { TestHangar } from './helpers.js';

const SNAPSHOT: Record<string, string[]> = {
  accounts: ['id', 'name', 'suspended'],
  groups: ['id', 'account_id', 'name', 'vlan_num'],
  users: ['id', 'username', 'email', 'password_hash', 'authorized_keys', 'totp_secret', 'home_account_id'],
  privileges: ['id', 'user_id', 'level', 'account_id', 'group_id', 'virtual_machine_id', 'api_key_id', 'yubikey_required', 'yubikey_otp_max_age', 'ip_restrictions'],
  invitations: ['id', 'user_id', 'username', 'level', 'account_id', 'group_id', 'virtual_machine_id', 'expires_at'],
  api_keys: ['id', 'user_id', 'label', 'key_hash', 'expires_at'],
  vms: ['id', 'group_id', 'name', 'cores', 'memory', 'power_on', 'autoreboot_on', 'cdrom_url', 'keymap', 'hardware_profile', 'hardware_profile_locked', 'deleted', 'power_cycle'],
  discs: ['id', 'vm_id', 'label', 'storage_grade', 'size', 'storage_pool_id'],
  backups: ['id', 'disc_id', 'label'],
  backup_schedules: ['id', 'disc_id', 'interval_seconds'],
  nics: ['id', 'vm_id', 'mac', 'vlan_num'],
  ips: ['id', 'uuid', 'address', 'nic_id', 'account_id', 'routed_via', 'rdns'],
  operations: ['id', 'kind', 'vm_id'],
  heads: ['id', 'used_cores', 'used_memory'],
  storage_pools: ['id', 'used'],
};

export type Snapshot = Record<string, unknown[]>;

export async function snapshot(t: TestHangar): Promise<Snapshot> {
  const tables = await Promise.all(Object.entries(SNAPSHOT).map(async ([table, cols]) => {
    const rows = await (t.running.hangar.db as any).selectFrom(table).selectAll().orderBy('id').execute();
    return [table, rows.map((r: Record<string, unknown>) => cols.map((c) => (r[c] === null || r[c] === undefined ? null : String(r[c]))))] as const;
  }));
  return Object.fromEntries(tables);
}

/**
 * Until the VM runs on the fake head and the brain has heard so, with the driver's `started`
 * event handled too (a late one would otherwise report an already stopped VM as running).
 */
export async function runningNow(t: TestHangar, vmId: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const row = await t.running.hangar.db.selectFrom('vms').select('run_state').where('id', '=', vmId).executeTakeFirst();
    if (row?.run_state === 'running' && t.drivers.some((d) => d.machines.has(vmId))) break;
    if (Date.now() > deadline) throw new Error(`timed out waiting for VM ${vmId} to run`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 5));
}
