// What the image builder needs from the head: commands, the guest kernel, the Debian mirror.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** A build that cannot proceed; the message says why and what to do. */
export class ImageBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageBuildError';
  }
}

export type LogFn = (line: string) => void;

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with every complete line of stdout and stderr, as it comes. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Run a command; resolves with its output, rejects with ImageBuildError (with the tail of stderr) on failure. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const partial = { stdout: '', stderr: '' };
    const feed = (stream: 'stdout' | 'stderr', chunk: Buffer): void => {
      (stream === 'stdout' ? out : err).push(chunk);
      if (!opts.onLine) return;
      const text = partial[stream] + chunk.toString('utf8');
      const lines = text.split('\n');
      partial[stream] = lines.pop() ?? '';
      for (const line of lines) opts.onLine(line.replace(/\r$/, ''), stream);
    };
    child.stdout.on('data', (c: Buffer) => feed('stdout', c));
    child.stderr.on('data', (c: Buffer) => feed('stderr', c));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new ImageBuildError(e.code === 'ENOENT' ? `${cmd} not found (run scripts/head-packages.sh)` : `${cmd}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (opts.onLine) {
        for (const s of ['stdout', 'stderr'] as const) if (partial[s] !== '') opts.onLine(partial[s], s);
      }
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) return resolve({ stdout, stderr });
      const tail = (stderr.trim() || stdout.trim()).split('\n').slice(-8).join('\n');
      reject(new ImageBuildError(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`})${tail ? `:\n${tail}` : ''}`));
    });
  });
}

/** The absolute path of a command found in PATH (plus the sbin directories), or null. */
export function which(cmd: string): string | null {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, cmd);
    try {
      const st = statSync(p);
      if (st.isFile() && (st.mode & 0o111) !== 0) return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** Resolve each command to a path; throws one ImageBuildError naming every missing command and its package. */
export function requireTools(tools: Record<string, string>): Record<string, string> {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const [cmd, pkg] of Object.entries(tools)) {
    const p = which(cmd);
    if (p === null) missing.push(`${cmd} (Debian package ${pkg})`);
    else found[cmd] = p;
  }
  if (missing.length > 0) {
    throw new ImageBuildError(`missing on this head: ${missing.join(', ')}; run scripts/head-packages.sh`);
  }
  return found;
}

export interface KernelInfo {
  /** `uname -r` of the guest kernel, e.g. 6.1.0-56-cloud-amd64. */
  version: string;
  vmlinuz: string;
  modulesDir: string;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[^0-9]+/).filter(Boolean).map(Number);
  const pb = b.split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

/**
 * The Debian cloud kernel installed on the head (package linux-image-cloud-amd64): the newest
 * /boot/vmlinuz-*-cloud-amd64 that has its modules. HANGAR_GUEST_KERNEL=<version> picks another.
 */
export function findGuestKernel(bootDir = '/boot', modulesRoot = '/lib/modules'): KernelInfo {
  const wanted = process.env.HANGAR_GUEST_KERNEL;
  let versions: string[] = [];
  try {
    versions = readdirSync(bootDir)
      .filter((f) => f.startsWith('vmlinuz-'))
      .map((f) => f.slice('vmlinuz-'.length))
      .filter((v) => existsSync(path.join(modulesRoot, v, 'modules.dep')));
  } catch {
    versions = [];
  }
  const pick = wanted
    ? versions.find((v) => v === wanted)
    : versions.filter((v) => v.endsWith('-cloud-amd64')).sort(compareVersions).pop();
  if (pick === undefined) {
    throw new ImageBuildError(
      wanted
        ? `guest kernel ${wanted} (HANGAR_GUEST_KERNEL) not found in ${bootDir} with modules in ${modulesRoot}`
        : `no Debian cloud kernel in ${bootDir} (Debian package linux-image-cloud-amd64); run scripts/head-packages.sh`,
    );
  }
  return { version: pick, vmlinuz: path.join(bootDir, `vmlinuz-${pick}`), modulesDir: path.join(modulesRoot, pick) };
}

/**
 * The Debian mirror to debootstrap from: HANGAR_DEBIAN_MIRROR, else the head's own apt sources
 * (deb822 `.sources` files or sources.list), the first entry serving the main archive.
 */
export function debianMirror(): string {
  const env = process.env.HANGAR_DEBIAN_MIRROR;
  if (env) return env.replace(/\/+$/, '');
  const candidates: string[] = [];
  const dir = '/etc/apt/sources.list.d';
  try {
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.sources')) continue;
      const text = readFileSync(path.join(dir, f), 'utf8');
      for (const stanza of text.split(/\n\s*\n/)) {
        const uris = /^URIs:\s*(.+)$/im.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        const suites = /^Suites:\s*(.+)$/im.exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
        const types = /^Types:\s*(.+)$/im.exec(stanza)?.[1] ?? 'deb';
        if (!/\bdeb\b/.test(types) || /^Enabled:\s*no/im.test(stanza)) continue;
        if (suites.some((s) => !s.includes('security'))) candidates.push(...uris);
      }
    }
  } catch {
    // no deb822 sources
  }
  try {
    for (const line of readFileSync('/etc/apt/sources.list', 'utf8').split('\n')) {
      const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
      if (m?.[1] && m[2] && !m[2].includes('security')) candidates.push(m[1]);
    }
  } catch {
    // no sources.list
  }
  const mirror = candidates.find((u) => /^https?:\/\//.test(u) && !u.includes('security'));
  if (!mirror) throw new ImageBuildError('no Debian mirror in the apt sources of this head; set HANGAR_DEBIAN_MIRROR');
  return mirror.replace(/\/+$/, '');
}
