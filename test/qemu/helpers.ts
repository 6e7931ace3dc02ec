// Shared pieces of the QEMU tests: temp dirs, the tiny image (built with the real builder when
// missing), SSH keys and commands, and an in-memory BrainLink for driving the head agent.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FirstBoot, HostFacts } from '../../src/drivers/driver.js';
import type { BrainLink, DesiredVm, Observed, PendingOperation } from '../../src/heads/link.js';
import type { OperationResult } from '../../src/operations/kinds.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const dirs: string[] = [];
process.on('exit', () => {
  if (process.env.HANGAR_KEEP_TEST_DIRS) return;
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh directory under /tmp (short, so unix socket paths fit), removed when the test process exits. */
export function tmpDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `hg-${prefix}-`));
  dirs.push(d);
  return d;
}

/** Why QEMU tests cannot run here, or null. */
export function qemuMissing(): string | null {
  const missing = ['qemu-system-x86_64', 'qemu-img', 'genisoimage'].filter((c) => !have(c));
  return missing.length ? `not installed: ${missing.join(', ')} (scripts/head-packages.sh)` : null;
}

let tinyPromise: Promise<{ imagesDir: string } | { skip: string }> | null = null;

/**
 * The images dir holding the tiny image, built by the real builder (src/images) when it is not
 * there yet: `$HANGAR_IMAGES_DIR`, default `<repo>/.data/images`. Resolves with a skip reason
 * when it cannot be had.
 */
export function tinyImage(): Promise<{ imagesDir: string } | { skip: string }> {
  tinyPromise ??= (async () => {
    const missing = qemuMissing();
    if (missing) return { skip: missing };
    if (!have('ssh') || !have('ssh-keygen')) return { skip: 'not installed: ssh, ssh-keygen (openssh-client)' };
    const imagesDir = process.env.HANGAR_IMAGES_DIR ?? path.join(repoRoot, '.data', 'images');
    try {
      const mod = (await import('../../src/images/build.js')) as {
        buildImage: (name: string, opts: { imagesDir: string; log?: (l: string) => void }) => Promise<unknown>;
      };
      await mod.buildImage('tiny', { imagesDir });
    } catch (err) {
      if (fs.existsSync(path.join(imagesDir, 'tiny', 'manifest.json'))) return { imagesDir };
      return { skip: `the tiny image is not available: ${(err as Error).message}` };
    }
    return { imagesDir };
  })();
  return tinyPromise;
}

export interface KeyPair { private: string; public: string }

export function sshKeyPair(dir: string): KeyPair {
  const file = path.join(dir, 'id_ed25519');
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hangar-test', '-f', file], { stdio: 'ignore' });
  return { private: file, public: fs.readFileSync(`${file}.pub`, 'utf8') };
}

export function ssh(port: number, key: string, command: string, timeoutMs = 15_000, host = '127.0.0.1', netns: string | null = null): Promise<{ code: number; stdout: string; stderr: string }> {
  const sshArgs = ['-i', key, '-p', String(port), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', `root@${host}`, command];
  const [file, args] = netns ? ['ip', ['netns', 'exec', netns, 'ssh', ...sshArgs]] : ['ssh', sshArgs];
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 255) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Retry until an SSH command succeeds; resolves with its output. */
export async function sshWhenReady(port: number, key: string, command: string, timeoutMs = 90_000, host = '127.0.0.1', netns: string | null = null): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await ssh(port, key, command, 15_000, host, netns);
    if (r.code === 0) return r.stdout;
    last = r.stderr;
    await sleep(300);
  }
  throw new Error(`ssh to port ${port} never worked: ${last}`);
}

export async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 30_000, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function firstBoot(over: Partial<FirstBoot> = {}): FirstBoot {
  return {
    hostname: 'test', rootPasswordHash: null, authorizedKeys: '', firstbootScript: '',
    instanceId: `i-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, ...over,
  };
}

/** A BrainLink over plain objects: what a test sets is what the agent wants. */
export class MemoryLink implements BrainLink {
  readonly vms = new Map<number, DesiredVm>();
  readonly ops = new Map<number, PendingOperation[]>();
  readonly observed = new Map<number, Observed & { bootCount: number }>();
  readonly finished: { op: PendingOperation; error: string | null; result: OperationResult | null }[] = [];
  readonly notes = new Map<number, string | null>();
  facts: HostFacts | null = null;
  private nextOp = 1;

  async register(_label: string, _zone: string, _addr: string, facts: HostFacts): Promise<number> {
    this.facts = facts;
    return 1;
  }

  images: string[] = [];

  async reportImages(images: string[]): Promise<void> {
    this.images = images;
  }

  queue<K extends PendingOperation['kind']>(vmId: number, kind: K, args: Extract<PendingOperation, { kind: K }>['args']): PendingOperation {
    const op = { id: this.nextOp++, kind, args } as PendingOperation;
    this.ops.set(vmId, [...(this.ops.get(vmId) ?? []), op]);
    return op;
  }

  async attention(): Promise<number[]> {
    const ids: number[] = [];
    for (const vm of this.vms.values()) {
      const running = this.observed.get(vm.id)?.running ?? false;
      const want = vm.powerOn && !vm.deleted;
      if (want !== running || vm.powerCycle > vm.observedCycle || (this.ops.get(vm.id)?.length ?? 0) > 0) ids.push(vm.id);
    }
    return ids;
  }

  async believedRunning(): Promise<number[]> {
    return [...this.observed.entries()].filter(([, o]) => o.running).map(([id]) => id);
  }

  async desired(vmId: number): Promise<{ vm: DesiredVm | null; ops: PendingOperation[] }> {
    const vm = this.vms.get(vmId);
    const copy = vm ? { ...structuredClone(vm), observedRunning: this.observed.get(vmId)?.running ?? false } : null;
    return { vm: copy, ops: [...(this.ops.get(vmId) ?? [])] };
  }

  async startOperation(): Promise<number | null> {
    return 60_000;
  }

  async renewLease(): Promise<boolean> {
    return true;
  }

  async finishOperation(op: PendingOperation, error: string | null, result: OperationResult | null = null): Promise<void> {
    for (const [vmId, list] of this.ops) {
      if (!list.some((o) => o.id === op.id)) continue;
      this.ops.set(vmId, list.filter((o) => o.id !== op.id));
      // The brain's effect (core/vms/power.ts): a shutdown that worked leaves the machine off.
      const vm = this.vms.get(vmId);
      if (vm && op.kind === 'vm.power.shutdown' && error === null) vm.powerOn = false;
    }
    this.finished.push({ op, error, result });
    if (op.kind === 'reimage' && error === null) {
      const vm = this.vms.get(op.args.vmId);
      if (vm) vm.image = op.args.image;
    }
  }

  async report(vmId: number, o: Observed): Promise<void> {
    const prev = this.observed.get(vmId);
    const next = { ...prev, ...o, bootCount: (prev?.bootCount ?? 0) + (o.booted ? 1 : 0) };
    this.observed.set(vmId, next);
    const vm = this.vms.get(vmId);
    if (vm && o.observedCycle !== undefined) vm.observedCycle = o.observedCycle;
    if (vm && o.sshPort !== undefined && o.sshPort !== null) vm.sshPort = o.sshPort;
  }

  async poweredOff(vmId: number, note: string | null): Promise<void> {
    const vm = this.vms.get(vmId);
    if (vm) vm.powerOn = false;
    this.notes.set(vmId, note);
  }

  /** Wait until the head has finished an operation; its error (null when it worked). */
  async opResult(op: PendingOperation, timeoutMs = 60_000): Promise<string | null> {
    return (await this.opEnd(op, timeoutMs)).error;
  }

  /** Wait until the head has finished an operation; its error and result. */
  async opEnd(op: PendingOperation, timeoutMs = 60_000): Promise<{ error: string | null; result: OperationResult | null }> {
    const { error, result } = await until(`operation ${op.kind}`, () => this.finished.find((f) => f.op.id === op.id), timeoutMs);
    return { error, result };
  }
}

/**
 * Kill every QEMU a brain's QEMU head left under `dataDir` (its run directories' pidfiles). A brain's
 * close leaves guests running for the next agent to adopt, and a test's brain has no next agent.
 */
export function killGuests(dataDir: string): void {
  const run = path.join(dataDir, 'qemu', 'run');
  for (const id of fs.existsSync(run) ? fs.readdirSync(run) : []) {
    let pid = 0;
    try { pid = Number(fs.readFileSync(path.join(run, id, 'qemu.pid'), 'utf8').trim()) || 0; } catch { /* none */ }
    if (pid > 0) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
}
