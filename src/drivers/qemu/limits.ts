// Resource limits a head enforces where its host can:
// - CPU weight: the QEMU process in its own cgroup, `hangar/vm<id>`, with cgroup v2 `cpu.weight`
//   (1..10000, 100 = an ordinary process), or on a cgroup v1 host `cpu.shares` (weight × 1024 / 100).
//   A weight only matters when the host's CPUs are contended: it divides them, it caps nothing.
//   Hosts with no writable cpu controller (a container without one) cannot: reported, not pretended.
// - NIC rate limit (Mbit/s, bridged NICs): traffic to the guest is shaped on its tap (tc tbf, the tap's
//   egress); traffic from the guest is policed with nftables (`limit rate over ... drop`), since tc
//   ingress classifiers are not on every head. User-mode networking has no tap: it cannot.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { run } from './exec.js';
import { tableName } from './firewall.js';

export interface CpuCgroups { version: 1 | 2; root: string }

/** Where this host lets the head weigh CPU, or null. v2 needs the cpu controller enabled at its root. */
export function findCpuCgroups(base = '/sys/fs/cgroup'): CpuCgroups | null {
  try {
    const controllers = fs.readFileSync(path.join(base, 'cgroup.controllers'), 'utf8').split(/\s+/);
    if (controllers.includes('cpu')) return { version: 2, root: base };
  } catch {
    // not a pure v2 host
  }
  return fs.existsSync(path.join(base, 'cpu', 'cpu.shares')) ? { version: 1, root: path.join(base, 'cpu') } : null;
}

export function cgroupDir(cg: CpuCgroups, vmId: number): string {
  return path.join(cg.root, 'hangar', `vm${vmId}`);
}

/** Put the process in the VM's cgroup with this weight (null: the default, 100). */
export async function setCpuWeight(cg: CpuCgroups, vmId: number, pid: number, weight: number | null): Promise<void> {
  const parent = path.join(cg.root, 'hangar');
  await fsp.mkdir(parent, { recursive: true });
  // v2: a child's cpu.weight exists only when its parent hands the cpu controller down.
  if (cg.version === 2) await fsp.writeFile(path.join(parent, 'cgroup.subtree_control'), '+cpu').catch(() => undefined);
  const dir = cgroupDir(cg, vmId);
  await fsp.mkdir(dir, { recursive: true });
  const w = Math.min(10_000, Math.max(1, Math.round(weight ?? 100)));
  if (cg.version === 2) await fsp.writeFile(path.join(dir, 'cpu.weight'), String(w));
  else await fsp.writeFile(path.join(dir, 'cpu.shares'), String(Math.max(2, Math.round((w * 1024) / 100))));
  await fsp.writeFile(path.join(dir, 'cgroup.procs'), String(pid));
}

/** Remove the VM's cgroup once its process is gone (an empty cgroup is removed with rmdir). */
export async function removeCgroup(cg: CpuCgroups, vmId: number): Promise<void> {
  await fsp.rmdir(cgroupDir(cg, vmId)).catch(() => undefined);
}

function inNs(netns: string | null, cmd: string, args: string[]): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, args];
}

/** The nft script of a tap's rate limit table (`bridge hangar_rl_<tap>`), replacing the one there. */
export function rateLimitScript(tap: string, mbps: number | null): string {
  const table = tableName(tap).replace(/^hangar_/, 'hangar_rl_');
  const lines = [`table bridge ${table}`, `delete table bridge ${table}`];
  if (mbps && mbps > 0) {
    const kbytes = Math.max(1, Math.round((mbps * 1000) / 8));
    const police = `iifname "${tap}" limit rate over ${kbytes} kbytes/second burst 64 kbytes drop`;
    lines.push(
      `table bridge ${table} {`,
      '  chain forward {', '    type filter hook forward priority -10; policy accept;', `    ${police}`, '  }',
      '  chain input {', '    type filter hook input priority -10; policy accept;', `    ${police}`, '  }',
      '}',
    );
  }
  return lines.join('\n') + '\n';
}

/** Remove a tap's rate limit table (the tap is going away; its qdisc goes with it). */
export async function removeRateLimit(tap: string, netns: string | null): Promise<void> {
  const [cmd, args] = inNs(netns, 'nft', ['-f', '-']);
  await run(cmd, args, { input: rateLimitScript(tap, null) }).catch(() => undefined);
}

/** Limit a tap to `mbps` each way (null or 0: unlimited, what is there removed). */
export async function setRateLimit(tap: string, mbps: number | null, netns: string | null): Promise<void> {
  const limited = mbps !== null && mbps > 0;
  if (limited) {
    const [cmd, args] = inNs(netns, 'tc', ['qdisc', 'replace', 'dev', tap, 'root', 'tbf', 'rate', `${mbps}mbit`, 'burst', '64kb', 'latency', '400ms']);
    await run(cmd, args);
  } else {
    const [cmd, args] = inNs(netns, 'tc', ['qdisc', 'del', 'dev', tap, 'root']);
    await run(cmd, args).catch(() => undefined); // none there
  }
  const [cmd, args] = inNs(netns, 'nft', ['-f', '-']);
  await run(cmd, args, { input: rateLimitScript(tap, mbps) });
}
