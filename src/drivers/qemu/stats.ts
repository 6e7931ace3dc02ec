// Per-VM counters: CPU time from /proc/<pid>/stat, disc bytes from QMP query-blockstats, network
// bytes from the tap's counters, in all and per NIC (bridge mode; user-mode networking has no counters
// anywhere, so those read 0 here and the head agent reports them as null, not measured). Counters are
// from the guest's point of view: netRx is what the guest received.
// A small ring of samples per VM makes the time series the Gigas and e24 dialects expose.
import type { MachineStats } from '../driver.js';
import type { QmpClient } from './qmp.js';
import { cpuMs, tapCounters } from './process.js';

export interface StatsSource {
  vmId: number;
  pid: number;
  qmp: QmpClient | null;
  taps: string[];
  netns: string | null;
  /** NIC id → tap, for per-NIC counters. */
  nicTaps?: Record<string, string>;
}

interface BlockStats { device?: string; qdev?: string; 'node-name'?: string; stats: { rd_bytes: number; wr_bytes: number } }

/** Sum of the VM's own discs (not the config drive or the CD-ROM). */
export function discBytes(entries: BlockStats[]): { read: number; write: number } {
  let read = 0;
  let write = 0;
  for (const e of entries) {
    const isDisc = /^disc\d+$/.test(e['node-name'] ?? '') || /\/disc\d+-dev\//.test(e.qdev ?? '');
    if (!isDisc) continue;
    read += e.stats.rd_bytes;
    write += e.stats.wr_bytes;
  }
  return { read, write };
}

export async function sample(src: StatsSource, now = Date.now()): Promise<MachineStats | null> {
  const cpu = cpuMs(src.pid);
  if (cpu === null) return null;
  let discs = { read: 0, write: 0 };
  if (src.qmp && !src.qmp.closed) {
    try {
      discs = discBytes(await src.qmp.execute<BlockStats[]>('query-blockstats', undefined, 2000));
    } catch {
      // the machine is going away; keep zeros
    }
  }
  let rx = 0;
  let tx = 0;
  const nicOf = new Map(Object.entries(src.nicTaps ?? {}).map(([nicId, tap]) => [tap, Number(nicId)]));
  const nics: { nicId: number; rxBytes: number; txBytes: number }[] = [];
  for (const tap of src.taps) {
    const c = await tapCounters(tap, src.netns);
    if (!c) continue;
    rx += c.tx; // what the host sent into the tap, the guest received
    tx += c.rx;
    const nicId = nicOf.get(tap);
    if (nicId !== undefined) nics.push({ nicId, rxBytes: c.tx, txBytes: c.rx });
  }
  return {
    vmId: src.vmId, at: now, cpuMs: Math.round(cpu),
    netRxBytes: rx, netTxBytes: tx, discReadBytes: discs.read, discWriteBytes: discs.write,
    ...(nics.length ? { nics } : {}),
  };
}

/** The last `capacity` samples of each VM. */
export class StatsSeries {
  private readonly series = new Map<number, MachineStats[]>();

  constructor(readonly capacity = 360) {}

  push(s: MachineStats): void {
    let list = this.series.get(s.vmId);
    if (!list) this.series.set(s.vmId, (list = []));
    list.push(s);
    if (list.length > this.capacity) list.splice(0, list.length - this.capacity);
  }

  get(vmId: number): MachineStats[] {
    return [...(this.series.get(vmId) ?? [])];
  }

  drop(vmId: number): void {
    this.series.delete(vmId);
  }
}
