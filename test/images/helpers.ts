// Helpers for the image tests: what the head has, a minimal QMP client, a config drive per the
// contract of docs/config-drive.md, and ssh.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { manifestPaths, type Manifest } from '../../src/images/manifest.js';
import { metaData, writeConfigDrive } from '../../src/drivers/qemu/config-drive.js';

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

/** A cidata ISO with the files the QEMU driver puts on it (drivers/qemu/config-drive.ts). */
export async function makeConfigDrive(dir: string, cfg: ConfigDrive): Promise<string> {
  const iso = path.join(dir, 'cidata.iso');
  await writeConfigDrive(iso, {
    'instance-id': cfg.instanceId + '\n',
    'meta-data': metaData(cfg.instanceId, cfg.hostname),
    hostname: cfg.hostname + '\n',
    network: cfg.network ?? 'MODE=dhcp\n',
    ...(cfg.rootPasswordHash ? { 'root-password-hash': cfg.rootPasswordHash + '\n' } : {}),
    ...(cfg.authorizedKeys ? { authorized_keys: cfg.authorizedKeys } : {}),
    ...(cfg.userData ? { 'user-data': cfg.userData } : {}),
  });
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

export interface BootOptions {
  imagesDir: string;
  manifest: Manifest;
  /** A folder for the VM's files (a temp folder of its own is made inside). */
  workDir: string;
  memory: number;
  /** The config drive's user-data (default: a `#!` script appending a line to /root/user-data-marker). */
  userData?: string;
}

/** A guest booted by bootGuest: its SSH port and key, what the drive gave it, its console and QMP. */
export interface Guest {
  hostname: string;
  publicKey: string;
  t0: number;
  ssh(command: string): Promise<string>;
  /** Wait until the serial console has said `HANGAR-READY` `count` times (1: the first boot); ms since start. */
  ready(timeoutMs: number, count?: number): Promise<number>;
  serial(): Promise<string>;
  /** ACPI power button; resolves with the time QEMU took to exit (it must exit 0). */
  powerdown(timeoutMs: number): Promise<number>;
  /** Kill QEMU if still running; print the console and QEMU's stderr when `failed`. */
  close(failed: boolean): Promise<void>;
}

export const USER_DATA_SCRIPT = '#!/bin/sh\necho "user-data ran as $(id -un)" >> /root/user-data-marker\n';

/**
 * Boot an image as the QEMU driver would (docs/config-drive.md: virtio disc /dev/vda grown to
 * 512M, cidata ISO, virtio-net user mode with an SSH forward on a port QEMU picks).
 */
export async function bootGuest(o: BootOptions): Promise<Guest> {
  const dir = await mkdtemp(path.join(o.workDir, 'vm-'));
  const paths = manifestPaths(o.imagesDir, o.manifest);
  const disc = path.join(dir, 'disc.qcow2');
  await execFileP('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', paths.disc, '-F', 'qcow2', disc, `${Math.max(512, Math.ceil((o.manifest.discSize ?? 0) / 2 ** 20) + 256)}M`]);
  const key = path.join(dir, 'id_ed25519');
  await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hangar-test', '-f', key]);
  const pub = await readFile(`${key}.pub`, 'utf8');
  const hostname = `${o.manifest.name}-test.example.org`;
  const iso = await makeConfigDrive(dir, {
    instanceId: `test-${process.pid}-${Date.now()}`,
    hostname,
    authorizedKeys: pub,
    // openssl passwd -6 -salt hangarsalt secret
    rootPasswordHash: '$6$hangarsalt$.siTYvmdInyWOi/rLWufPJVcje9GFUngo47b/ehuhgILn6bexzWNtaAdZePGNeG3hCMC7hid9QBoCvlXcXoM./',
    userData: o.userData ?? USER_DATA_SCRIPT,
    // as the QEMU driver writes it in user mode
    network: "MODE=dhcp\nMAC='52:54:00:12:34:56'\n",
  });
  const serialLog = path.join(dir, 'serial.log');
  const qmpSock = path.join(dir, 'qmp.sock');
  const args = [
    '-name', `hangar-images-test-${o.manifest.name}`, '-accel', 'tcg', '-machine', 'pc', '-m', String(o.memory), '-smp', '1',
    '-nodefaults', '-display', 'none', '-qmp', `unix:${qmpSock},server=on,wait=off`, '-serial', `file:${serialLog}`,
    '-kernel', paths.kernel!, ...(paths.initrd ? ['-initrd', paths.initrd] : []), '-append', o.manifest.cmdline,
    '-drive', `file=${disc},format=qcow2,if=virtio`,
    '-drive', `file=${iso},format=raw,if=virtio,readonly=on`,
    '-netdev', 'user,id=n0,hostfwd=tcp:127.0.0.1:0-:22', '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56',
  ];
  const t0 = Date.now();
  const qemu: ChildProcess = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  qemu.stderr!.pipe(createWriteStream(path.join(dir, 'qemu.stderr')));
  const exited = new Promise<number | null>((resolve) => qemu.once('exit', (code) => resolve(code)));
  const serial = async (): Promise<string> => readFile(serialLog, 'utf8').catch(() => '');
  let qmp: Qmp | null = null;
  const close = async (failed: boolean): Promise<void> => {
    if (failed) {
      console.log(`# serial log:\n${await readFile(serialLog, 'utf8').catch(() => '(none)')}`);
      console.log(`# qemu stderr:\n${await readFile(path.join(dir, 'qemu.stderr'), 'utf8').catch(() => '(none)')}`);
    }
    qmp?.close();
    if (qemu.exitCode === null && qemu.signalCode === null) {
      qemu.kill('SIGKILL');
      await exited;
    }
  };
  try {
    qmp = await Qmp.connect(qmpSock);
    // the host port QEMU picked for the SSH forward
    const usernet = String(await qmp.command('human-monitor-command', { 'command-line': 'info usernet' }));
    const port = Number(/HOST_FORWARD\]?\s+\d+\s+127\.0\.0\.1\s+(\d+)/.exec(usernet)?.[1]);
    assert.ok(port > 0, `ssh port from: ${usernet}`);
    const q = qmp;
    return {
      hostname, publicKey: pub.trim(), t0, serial, close,
      ssh: (command) => ssh(key, port, command),
      async ready(timeoutMs, count = 1) {
        await waitFor(`HANGAR-READY ×${count} on ttyS0`, timeoutMs, async () => (await serial()).match(READY)?.length === count, 100);
        return Date.now() - t0;
      },
      async powerdown(timeoutMs) {
        const p0 = Date.now();
        await q.command('system_powerdown');
        let timer: NodeJS.Timeout | undefined;
        const code = await Promise.race([exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)))]);
        clearTimeout(timer);
        assert.equal(code, 0, 'QEMU exits after the ACPI powerdown');
        return Date.now() - p0;
      },
    };
  } catch (err) {
    await close(true);
    throw err;
  }
}

export interface BootCheck extends Omit<BootOptions, 'userData'> {
  readyTimeoutMs: number;
  powerdownTimeoutMs?: number;
}

/** The guest's own `HANGAR-READY` line (systemd's "Starting hangar-ready.service… HANGAR-READY" is not it). */
const READY = /HANGAR-READY \S+ uptime=[\d.]+/g;

/** The last boot's `HANGAR-READY` line in a console log (the guest's uptime then). */
export function readyLine(serial: string): string {
  return serial.match(READY)?.pop() ?? 'no HANGAR-READY';
}

export interface BootFigures {
  readyMs: number;
  readyLine: string;
  sshMs: number;
  powerdownMs: number;
}

/**
 * Boot an image (bootGuest) with a `#!` user-data, wait for HANGAR-READY, check over SSH that the
 * config drive was applied (hostname, key, password hash, user-data run once) and the root
 * filesystem grew, then ACPI powerdown must end QEMU. `more`: further checks on the booted guest.
 */
export async function bootAndCheck(o: BootCheck, more?: (g: Guest) => Promise<void>): Promise<BootFigures> {
  const g = await bootGuest(o);
  let failed = true;
  try {
    const readyMs = await g.ready(o.readyTimeoutMs);
    const out = await waitFor('ssh', 30_000, () =>
      g.ssh('hostname; cat /root/user-data-marker; cat /root/.ssh/authorized_keys; df -k / | tail -n 1; grep ^root: /etc/shadow | cut -d: -f2'), 250);
    const sshMs = Date.now() - g.t0;
    const [gotHost, marker, gotKey, df, shadowHash] = out.trim().split('\n');
    assert.equal(gotHost, g.hostname);
    assert.equal(marker, 'user-data ran as root', 'the #! user-data ran, once');
    assert.equal(gotKey, g.publicKey);
    const rootKiB = Number(df?.trim().split(/\s+/)[1]);
    assert.ok(rootKiB > ((o.manifest.discSize ?? 0) / 1024) + 128 * 1024, `root filesystem grown to the disc: ${df}`);
    assert.ok(shadowHash?.startsWith('$6$hangarsalt$'), 'root password hash applied');
    assert.match(await g.serial(), /login:/, 'a login prompt on ttyS0');
    await more?.(g);
    // ACPI power button: the guest powers off and QEMU exits
    const powerdownMs = await g.powerdown(o.powerdownTimeoutMs ?? 60_000);
    failed = false;
    return { readyMs, readyLine: readyLine(await g.serial()), sshMs, powerdownMs };
  } finally {
    await g.close(failed);
  }
}
