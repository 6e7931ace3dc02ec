// BrainLink for the head embedded in `hangar server`: reads and writes the store directly.
import { sql } from 'kysely';
import type { HostFacts } from '../drivers/driver.js';
import type { Store } from '../store/db.js';
import { hostname } from '../core/names.js';
import { poolGateway } from '../core/ipam.js';
import { resolveImage } from '../images/catalogue.js';
import { finishOperation, pendingFor, renewLease, startOperation } from '../operations/queue.js';
import { openOperation } from '../operations/kinds.js';
import type { SecretBox } from '../core/secrets.js';
import type { BrainLink, DesiredVm, Observed, PendingOperation } from './link.js';
import { withTransaction } from '../core/transaction.js';

export class LocalLink implements BrainLink {
  headId = 0;

  /** `secrets` opens what the head needs in plain (the VNC password, operations' secret args). */
  /** `leaseMs`: how long an operation this head takes stays its own without a renewal. */
  constructor(
    private readonly db: Store, private readonly clusterDomain: string, private readonly secrets: SecretBox,
    private readonly now: () => number = Date.now, private readonly leaseMs = 60_000,
  ) {}

  private get owner(): string {
    return `head:${this.headId}`;
  }

  async register(label: string, zone: string, managementAddress: string, facts: HostFacts): Promise<number> {
    const values = {
      zone, driver: facts.driver, accel: facts.accel, cores: facts.cores, memory: facts.memory,
      management_address: managementAddress, online: facts.problem ? 0 : 1, last_seen: this.now(), note: facts.problem,
    };
    const existing = await this.db.selectFrom('heads').select('id').where('label', '=', label).executeTakeFirst();
    if (existing) {
      await this.db.updateTable('heads').set(values).where('id', '=', existing.id).execute();
      this.headId = existing.id;
    } else {
      const row = await this.db.insertInto('heads').values({ label, ...values, created_at: this.now() }).returning('id').executeTakeFirstOrThrow();
      this.headId = row.id;
    }
    for (const [grade, capacity] of Object.entries(facts.grades)) {
      const poolLabel = `${label}-${grade}`;
      const pool = await this.db.selectFrom('storage_pools').select('id').where('label', '=', poolLabel).executeTakeFirst();
      if (pool) await this.db.updateTable('storage_pools').set({ capacity }).where('id', '=', pool.id).execute();
      else await this.db.insertInto('storage_pools').values({ head_id: this.headId, label: poolLabel, grade, capacity }).execute();
    }
    return this.headId;
  }

  async reportImages(images: string[]): Promise<void> {
    await this.db.updateTable('heads').set({ images: JSON.stringify([...images].sort()) }).where('id', '=', this.headId).execute();
  }

  async attention(): Promise<number[]> {
    const differ = await this.db.selectFrom('vms').select('id').where('head_id', '=', this.headId)
      .where((eb) => eb.or([
        eb.and([eb('power_on', '=', 1), eb('deleted', '=', 0), eb('run_state', '!=', 'running')]),
        eb.and([eb.or([eb('power_on', '=', 0), eb('deleted', '=', 1)]), eb('run_state', '!=', 'stopped')]),
        eb('power_cycle', '>', eb.ref('observed_cycle')),
      ])).execute();
    const queued = await this.db.selectFrom('operations').select('vm_id').distinct()
      .where('head_id', '=', this.headId).where('state', '=', 'queued').execute();
    return [...new Set([...differ.map((r) => r.id), ...queued.map((r) => r.vm_id!).filter((id) => id !== null)])];
  }

  async believedRunning(): Promise<number[]> {
    const rows = await this.db.selectFrom('vms').select('id').where('head_id', '=', this.headId).where('run_state', '=', 'running').execute();
    return rows.map((r) => r.id);
  }

  async desired(vmId: number): Promise<{ vm: DesiredVm | null; ops: PendingOperation[] }> {
    const ops = (await pendingFor(this.db, vmId))
      .filter((o) => o.head_id === this.headId)
      .map((o) => openOperation(this.secrets, o));
    const row = await this.db.selectFrom('vms as v')
      .innerJoin('groups as g', 'g.id', 'v.group_id')
      .innerJoin('accounts as a', 'a.id', 'g.account_id')
      .selectAll('v').select(['g.name as group_name', 'a.name as account_name'])
      .where('v.id', '=', vmId).where('v.head_id', '=', this.headId).executeTakeFirst();
    if (!row) return { vm: null, ops };
    const discs = await this.db.selectFrom('discs').selectAll().where('vm_id', '=', vmId).orderBy('id').execute();
    const nics = await this.db.selectFrom('nics').selectAll().where('vm_id', '=', vmId).orderBy('id').execute();
    const ips = nics.length
      ? await this.db.selectFrom('ips').leftJoin('ip_ranges as r', 'r.id', 'ips.range_id')
        .select(['ips.nic_id', 'ips.address', 'ips.family', 'ips.routed_via', 'r.cidr'])
        .where('ips.nic_id', 'in', nics.map((n) => n.id)).orderBy('ips.id').execute()
      : [];
    return {
      ops,
      vm: {
        id: row.id, name: row.name, hostname: hostname(row.name, row.group_name, row.account_name, this.clusterDomain),
        cores: row.cores, memory: row.memory, hardwareProfile: row.hardware_profile, keymap: row.keymap,
        cdromUrl: row.cdrom_url, image: row.last_imaged_with ? resolveImage(row.last_imaged_with) : null, vncPassword: this.secrets.open(row.vnc_password),
        powerOn: !!row.power_on, autorebootOn: !!row.autoreboot_on, deleted: !!row.deleted,
        powerCycle: row.power_cycle, observedCycle: row.observed_cycle, observedRunning: row.run_state === 'running', sshPort: row.ssh_port,
        discs: discs.map((d) => ({ id: d.id, vmId, label: d.label, grade: d.storage_grade, size: d.size })),
        nics: nics.map((n) => {
          const mine = ips.filter((i) => i.nic_id === n.id);
          const primary4 = mine.find((i) => i.family === 4 && !i.routed_via);
          const gw = primary4?.cidr ? poolGateway(primary4.cidr) : null;
          return {
            id: n.id, mac: n.mac,
            ipv4: mine.filter((i) => i.family === 4).map((i) => i.address),
            ipv6: mine.filter((i) => i.family === 6).map((i) => i.address),
            gateway4: gw?.gateway ?? null, prefix4: gw?.prefix ?? null,
          };
        }),
      },
    };
  }

  async startOperation(op: PendingOperation): Promise<number | null> {
    return (await startOperation(this.db, op.id, this.owner, this.now(), this.leaseMs)) ? this.leaseMs : null;
  }

  renewLease(op: PendingOperation): Promise<boolean> {
    return renewLease(this.db, op.id, this.owner, this.now(), this.leaseMs);
  }

  async finishOperation(op: PendingOperation, error: string | null): Promise<void> {
    await finishOperation(this.db, op.id, this.now(), { error, owner: this.owner });
  }

  async report(vmId: number, o: Observed): Promise<void> {
    await this.db.updateTable('vms').set({
      run_state: o.running ? 'running' : 'stopped',
      pid: o.pid,
      last_seen: this.now(),
      ...(o.observedCycle !== undefined ? { observed_cycle: o.observedCycle } : {}),
      ...(o.booted ? { boot_count: sql`boot_count + 1` } : {}),
      ...(o.sshPort !== undefined ? { ssh_port: o.sshPort } : {}),
      ...(o.vncPort !== undefined ? { vnc_port: o.vncPort } : {}),
      ...(o.note !== undefined ? { head_note: o.note } : {}),
    }).where('id', '=', vmId).where('head_id', '=', this.headId).execute();
  }

  async poweredOff(vmId: number, note: string | null): Promise<void> {
    await this.db.updateTable('vms').set({ power_on: 0, head_note: note, updated_at: this.now() })
      .where('id', '=', vmId).where('head_id', '=', this.headId).execute();
  }
}
