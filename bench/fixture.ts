// Filling a store quickly with VMs that are not the ones being measured: rows of exactly the
// shape a bare POST .../virtual_machines writes (VM, one NIC with its MAC, one IPv4 and one IPv6
// from the pools, the head's claim), in one SQLite transaction beside the running Hangar (WAL).
// The create path itself is measured through the API in bench/scale.ts; here it only costs time.
import crypto from 'node:crypto';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { addressAt } from '../src/core/ipam.js';
import { macFor } from '../src/core/vms/create.js';
import { loadSecretBox } from '../src/core/secrets.js';

export interface Filler { account: string; groups: number; perGroup: number; groupPrefix?: string }

/** Adds `groups` × `perGroup` VMs in a new account; returns how many VMs the store now holds. */
export function fillStore(dbFile: string, f: Filler): number {
  // The store's VNC passwords are sealed with the key beside it (bench/lib.ts starts Hangar there).
  const secrets = loadSecretBox({ dataDir: path.dirname(dbFile) })!;
  const db = new SQLite(dbFile);
  try {
    db.pragma('busy_timeout = 10000');
    const now = Date.now();
    const head = db.prepare('SELECT id, zone FROM heads ORDER BY id LIMIT 1').get() as { id: number; zone: string };
    const range = (family: number) =>
      db.prepare('SELECT id, cidr, next_offset, last_offset FROM ip_ranges WHERE family = ? ORDER BY id LIMIT 1').get(family) as
        { id: number; cidr: string; next_offset: number; last_offset: number };
    const v4 = range(4);
    const v6 = range(6);
    const insAccount = db.prepare('INSERT INTO accounts (uuid, name, suspended, created_at) VALUES (?, ?, 0, ?)');
    const insGroup = db.prepare('INSERT INTO groups (uuid, account_id, name, vlan_num, created_at) VALUES (?, ?, ?, NULL, ?)');
    const insVm = db.prepare(`INSERT INTO vms (uuid, group_id, name, cores, memory, power_on, autoreboot_on, cdrom_url, keymap,
      hardware_profile, hardware_profile_locked, zone_name, head_id, deleted, deleted_at, last_imaged_with, vnc_password,
      created_at, updated_at, pid, last_seen, ssh_port, vnc_port, head_note)
      VALUES (?, ?, ?, 1, 128, 0, 0, NULL, NULL, 'virtio2013', 0, ?, ?, 0, NULL, NULL, ?, ?, ?, NULL, NULL, NULL, NULL, NULL)`);
    const insNic = db.prepare('INSERT INTO nics (uuid, vm_id, label, mac, vlan_num, created_at) VALUES (?, ?, NULL, ?, 1, ?)');
    const insIp = db.prepare(`INSERT INTO ips (uuid, range_id, "offset", address, family, nic_id, routed_via, rdns, reason, created_at)
      VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?)`);
    const fill = db.transaction(() => {
      const accountId = Number(insAccount.run(crypto.randomUUID(), f.account, now).lastInsertRowid);
      insGroup.run(crypto.randomUUID(), accountId, 'default', now);
      let off4 = v4.next_offset;
      let off6 = v6.next_offset;
      for (let g = 0; g < f.groups; g++) {
        const groupId = Number(insGroup.run(crypto.randomUUID(), accountId, `${f.groupPrefix ?? 'g'}${g}`, now).lastInsertRowid);
        for (let i = 0; i < f.perGroup; i++) {
          const vmId = Number(insVm.run(crypto.randomUUID(), groupId, `vm${i}`, head.zone, head.id, secrets.seal(crypto.randomBytes(6).toString('base64url')), now, now).lastInsertRowid);
          const nicId = Number(insNic.run(crypto.randomUUID(), vmId, macFor(vmId, 0), now).lastInsertRowid);
          if (off4 > v4.last_offset) throw new Error('the IPv4 pool is too small for this fixture');
          insIp.run(crypto.randomUUID(), v4.id, off4, addressAt(v4.cidr, off4), 4, nicId, now);
          off4++;
          insIp.run(crypto.randomUUID(), v6.id, off6, addressAt(v6.cidr, off6), 6, nicId, now);
          off6++;
        }
      }
      db.prepare('UPDATE ip_ranges SET next_offset = ? WHERE id = ?').run(off4, v4.id);
      db.prepare('UPDATE ip_ranges SET next_offset = ? WHERE id = ?').run(off6, v6.id);
      const n = f.groups * f.perGroup;
      db.prepare('UPDATE heads SET used_cores = used_cores + ?, used_memory = used_memory + ? WHERE id = ?').run(n, n * 128, head.id);
    });
    fill();
    db.pragma('wal_checkpoint(TRUNCATE)');
    return (db.prepare('SELECT count(*) AS n FROM vms').get() as { n: number }).n;
  } finally {
    db.close();
  }
}
