// Helpers for the image tests: what the head has, a minimal QMP client, a config drive per the
// contract of docs/config-drive.md, and ssh.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

export const execFileP = promisify(execFile);

export function have(cmd: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((d) => {
    try {
      const st = statSync(path.join(d, cmd));
      return st.isFile() && (st.mode & 0o111) !== 0;
    } catch {
      return false;
    }
  });
}

/** Why the tiny image cannot be built here, or null when it can. */
export function cannotBuildTiny(): string | null {
  const missing = ['busybox', 'dropbear', 'mke2fs', 'resize2fs', 'qemu-img', 'modprobe', 'depmod', 'ldd'].filter((c) => !have(c));
  if (missing.length > 0) return `missing ${missing.join(', ')} (run scripts/head-packages.sh)`;
  const busybox = spawnSync('sh', ['-c', 'command -v busybox']).stdout.toString().trim();
  const ldd = spawnSync('ldd', [busybox]);
  if (!`${ldd.stdout}${ldd.stderr}`.includes('not a dynamic')) {
    return 'busybox is not static (install busybox-static)';
  }
  let kernels: string[] = [];
  try {
    kernels = readdirSync('/boot').filter((f) => /^vmlinuz-.*-cloud-amd64$/.test(f));
  } catch {
    kernels = [];
  }
  if (kernels.length === 0) return 'no Debian cloud kernel in /boot (linux-image-cloud-amd64)';
  if (process.getuid?.() !== 0) return 'needs root (the image tree must be owned by root)';
  return null;
}

/** Why a tiny guest cannot be booted here, or null. */
export function cannotBoot(): string | null {
  const missing = ['qemu-system-x86_64', 'genisoimage', 'ssh', 'ssh-keygen'].filter((c) => !have(c));
  return missing.length > 0 ? `missing ${missing.join(', ')} (run scripts/head-packages.sh)` : null;
}

export interface ConfigDrive {
  instanceId: string;
  hostname: string;
  rootPasswordHash?: string;
  authorizedKeys?: string;
  userData?: string;
  network?: string;
}

/** A cidata ISO (Rock Ridge + Joliet) as the QEMU driver makes it. */
export async function makeConfigDrive(dir: string, cfg: ConfigDrive): Promise<string> {
  const files = path.join(dir, 'cidata');
  await mkdir(files, { recursive: true });
  await writeFile(path.join(files, 'instance-id'), cfg.instanceId + '\n');
  await writeFile(path.join(files, 'hostname'), cfg.hostname + '\n');
  if (cfg.rootPasswordHash) await writeFile(path.join(files, 'root-password-hash'), cfg.rootPasswordHash + '\n');
  if (cfg.authorizedKeys) await writeFile(path.join(files, 'authorized_keys'), cfg.authorizedKeys);
  if (cfg.userData) await writeFile(path.join(files, 'user-data'), cfg.userData);
  await writeFile(path.join(files, 'network'), cfg.network ?? 'MODE=dhcp\n');
  const iso = path.join(dir, 'cidata.iso');
  await execFileP('genisoimage', ['-quiet', '-output', iso, '-volid', 'cidata', '-joliet', '-rock', files]);
  return iso;
}

/** A minimal QMP client: commands in order, events ignored. */
export class Qmp {
  private buf = '';
  private waiting: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];
  private greeted!: Promise<void>;

  private constructor(private readonly sock: net.Socket) {}

  static async connect(socketPath: string, timeoutMs = 10000): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const sock = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(socketPath);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        const q = new Qmp(sock);
        q.start();
        await q.greeted;
        await q.command('qmp_capabilities');
        return q;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private start(): void {
    let greet!: () => void;
    this.greeted = new Promise((r) => (greet = r));
    this.sock.on('data', (chunk) => {
      this.buf += chunk.toString('utf8');
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
        if (msg.QMP) greet();
        else if (msg.event) continue;
        else {
          const w = this.waiting.shift();
          if (!w) continue;
          if (msg.error) w.reject(new Error(msg.error.desc));
          else w.resolve(msg.return);
        }
      }
    });
    this.sock.on('error', () => {});
    this.sock.on('close', () => {
      for (const w of this.waiting.splice(0)) w.reject(new Error('QMP closed'));
    });
  }

  command(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n');
    });
  }

  close(): void {
    this.sock.destroy();
  }
}

/** Run a command in the guest over SSH (user-mode forward on 127.0.0.1). */
export async function ssh(key: string, port: number, command: string): Promise<string> {
  const { stdout } = await execFileP('ssh', ['-i', key, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', '-o', 'LogLevel=ERROR', '-p', String(port), 'root@127.0.0.1', command],
    { timeout: 30000 });
  return stdout;
}

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined> | T | null | undefined, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = null;
  for (;;) {
    try {
      const v = await probe();
      if (v !== null && v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function fileExists(p: string): boolean {
  return existsSync(p);
}
