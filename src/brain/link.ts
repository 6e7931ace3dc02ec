// The brain's side of the head protocol (heads/link.ts, docs/head-protocol.md): each up-message a
// head sends is checked (its version first) and handled against the store; the answer is one
// down-message. A message of another protocol version is refused with a clear error and changes
// nothing. The embedded head reaches this in-process (heads/local-link.ts); a remote head will reach
// it over the network with the same messages.
import type { Store } from '../store/db.js';
import type { SecretBox } from '../core/secrets.js';
import { hostname } from '../core/names.js';
import { poolGateway } from '../core/ipam.js';
import { withTransaction } from '../core/transaction.js';
import { powerEffects } from '../core/vms/power.js';
import { recordSamples } from '../core/stats.js';
import { firewallSpecOf } from '../core/firewall-apply.js';
import { limitsOfSettings } from '../core/limits.js';
import { DomainError } from '../core/errors.js';
import { resolveImage } from '../images/catalogue.js';
import { finishIn, pendingFor, pendingWithoutVm, renewLease, resumeStepsOf, startOperation } from '../operations/queue.js';
import { openOperation } from '../operations/kinds.js';
import * as heads from '../store/repos/heads.js';
import { parseUp, PROTOCOL_VERSION, ProtocolError, type DesiredVm, type DownMessage, type PendingOperation, type UpMessage } from '../heads/link.js';

export interface HeadEndpointOptions {
  clusterDomain: string;
  /** Opens what the head needs in plain (the VNC password, operations' secret args). */
  secrets: SecretBox;
  now?: () => number;
  /** How long an operation a head takes stays its own without a renewal. */
  leaseMs?: number;
}

export class HeadEndpoint {
  private readonly now: () => number;
  private readonly leaseMs: number;

  constructor(private readonly db: Store, private readonly opts: HeadEndpointOptions) {
    this.now = opts.now ?? Date.now;
    this.leaseMs = opts.leaseMs ?? 60_000;
  }

  /** Handle one message as received (parsed JSON, unchecked): its answer. Never throws for a bad message: it is refused. */
  async receive(raw: unknown): Promise<DownMessage> {
    let message: UpMessage;
    try {
      message = parseUp(raw);
    } catch (err) {
      if (err instanceof ProtocolError) return { v: PROTOCOL_VERSION, type: 'refused', error: err.message };
      throw err;
    }
    return this.handle(message);
  }

  async handle(m: UpMessage): Promise<DownMessage> {
    const v = PROTOCOL_VERSION;
    const owner = 'headId' in m ? `head:${m.headId}` : '';
    switch (m.type) {
      case 'register': {
        const headId = await heads.upsertHead(this.db, m.label, {
          zone: m.zone, driver: m.facts.driver, accel: m.facts.accel, cores: m.facts.cores, memory: m.facts.memory,
          managementAddress: m.managementAddress, online: !m.facts.problem, note: m.facts.problem, grades: m.facts.grades,
          consoleAddress: m.facts.consoleAddress ?? null,
        }, this.now());
        // A head registers once per life: what it was running when it last went away is no longer running.
        await resumeStepsOf(this.db, `head:${headId}`, this.now());
        return { v, type: 'registered', headId };
      }
      case 'images':
        await heads.setHeadImages(this.db, m.headId, m.images);
        return { v, type: 'ack' };
      case 'sync':
        return {
          v, type: 'sync',
          attention: await heads.vmsNeedingAttention(this.db, m.headId),
          believedRunning: await heads.vmsBelievedRunning(this.db, m.headId),
        };
      case 'desired.get':
        return { v, type: 'desired', vmId: m.vmId, ...(await this.desired(m.headId, m.vmId)) };
      case 'volumes.get':
        return { v, type: 'volumes', ops: (await pendingWithoutVm(this.db, m.headId)).map((o) => openOperation(this.opts.secrets, o)) };
      case 'observed':
        await heads.recordObserved(this.db, m.headId, m.vmId, m.observed, this.now());
        return { v, type: 'ack' };
      case 'event.powered-off':
        await heads.recordPoweredOff(this.db, m.headId, m.vmId, m.note, this.now());
        return { v, type: 'ack' };
      case 'operation.started': {
        const taken = await startOperation(this.db, m.opId, owner, this.now(), this.leaseMs);
        return { v, type: 'lease', opId: m.opId, leaseMs: taken ? this.leaseMs : null };
      }
      case 'operation.renewed':
        return { v, type: 'ack', held: await renewLease(this.db, m.opId, owner, this.now(), this.leaseMs) };
      case 'operation.finished': {
        const { error, result } = m.outcome;
        const now = this.now();
        // The end, its result and what it changes on the VM's desired state are one transaction.
        await withTransaction(this.db, async (trx) => {
          const op = await heads.operationTarget(trx, m.opId);
          if (!op || !(await finishIn(trx, m.opId, now, { error, owner }))) return;
          if (result) await heads.recordResult(trx, m.opId, result);
          await powerEffects(trx, op, now, error, result);
        });
        return { v, type: 'ack' };
      }
      case 'stats':
        try {
          await recordSamples(this.db, m.vmId, m.samples, m.headId);
        } catch (err) {
          if (err instanceof DomainError) return { v, type: 'refused', error: err.message };
          throw err;
        }
        return { v, type: 'ack' };
    }
  }

  private async desired(headId: number, vmId: number): Promise<{ vm: DesiredVm | null; ops: PendingOperation[] }> {
    const [pending, found] = await Promise.all([pendingFor(this.db, vmId), heads.desiredRows(this.db, headId, vmId)]);
    const ops = pending.filter((o) => o.head_id === headId).map((o) => openOperation(this.opts.secrets, o));
    if (!found) return { vm: null, ops };
    const { row, discs, nics, ips, settings, firewall } = found;
    const limits = limitsOfSettings(settings);
    return {
      ops,
      vm: {
        id: row.id, name: row.name, hostname: hostname(row.name, row.group_name, row.account_name, this.opts.clusterDomain),
        cores: row.cores, memory: row.memory, hardwareProfile: row.hardware_profile, keymap: row.keymap,
        cdromUrl: row.cdrom_url, image: row.last_imaged_with ? resolveImage(row.last_imaged_with) ?? row.last_imaged_with : null, vncPassword: this.opts.secrets.open(row.vnc_password),
        firewall: firewallSpecOf(firewall), cpuWeight: limits.cpuWeight, bootFrom: row.boot_from,
        cpuType: cpuTypeOf(settings?.cpu_type ?? null),
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
            rateLimitMbps: n.id === nics[0]?.id ? limits.primaryRateLimitMbps : n.rate_limit_mbps || null,
          };
        }),
      },
    };
  }
}

/** A stored cpu_type as the machine's CPU vendor (anything else: QEMU's generic CPU). */
function cpuTypeOf(v: string | null): 'intel' | 'amd' | null {
  return v === 'intel' || v === 'amd' ? v : null;
}
