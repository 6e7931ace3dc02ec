// Building a root filesystem tree without mounting anything, and turning it into a qcow2 disc:
// files, binaries with their shared libraries, kernel modules with their dependencies,
// `mke2fs -d` (ext4 from a directory) and `qemu-img convert`.
import { chmod, copyFile, mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ImageBuildError, run, type KernelInfo } from './host.js';

/** Label of every Hangar root filesystem (fstab and tools can use LABEL=hangar-root). */
export const ROOT_LABEL = 'hangar-root';

/** A path inside the tree; `rel` may start with '/'. Refuses to leave the tree. */
export function inTree(root: string, rel: string): string {
  const p = path.join(root, rel);
  if (p !== root && !p.startsWith(root + path.sep)) throw new Error(`path escapes the tree: ${rel}`);
  return p;
}

export async function mkdirs(root: string, dirs: readonly string[], mode = 0o755): Promise<void> {
  for (const d of dirs) {
    const p = inTree(root, d);
    await mkdir(p, { recursive: true });
    await chmod(p, mode);
  }
}

export async function putFile(root: string, rel: string, content: string | Buffer, mode = 0o644): Promise<void> {
  const p = inTree(root, rel);
  await mkdir(path.dirname(p), { recursive: true });
  await rm(p, { force: true });
  await writeFile(p, content);
  await chmod(p, mode);
}

export async function putSymlink(root: string, rel: string, target: string): Promise<void> {
  const p = inTree(root, rel);
  await mkdir(path.dirname(p), { recursive: true });
  await rm(p, { force: true });
  await symlink(target, p);
}

/**
 * Copy a host file to the same path in the tree (following symlinks in the host path, so the
 * tree gets the real file). Intermediate directories of the tree are followed, so a usr-merged
 * tree (/lib -> usr/lib) puts /lib/x into /usr/lib/x.
 */
export async function copyHostFile(root: string, hostPath: string, treePath = hostPath): Promise<void> {
  const dest = inTree(root, treePath);
  await mkdir(path.dirname(dest), { recursive: true });
  await rm(dest, { force: true });
  await copyFile(hostPath, dest);
  await chmod(dest, (await stat(hostPath)).mode & 0o7777);
}

/** The usr-merged skeleton Debian uses: /bin, /sbin, /lib, /lib64 are symlinks into /usr. */
export async function usrMergedSkeleton(root: string): Promise<void> {
  await mkdirs(root, ['usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64']);
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) await putSymlink(root, d, `usr/${d}`);
}

/** The shared libraries (and the dynamic loader) a host binary needs, from ldd. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('ldd', [binary]));
  } catch (err) {
    // "not a dynamic executable": nothing to copy
    if (String(err).includes('not a dynamic executable')) return [];
    throw err;
  }
  const libs = new Set<string>();
  for (const line of stdout.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    if (arrow?.[1]) libs.add(arrow[1]);
    else {
      const direct = /^\s*(\/\S+)\s+\(/.exec(line);
      if (direct?.[1]) libs.add(direct[1]);
    }
  }
  return [...libs];
}

/** Copy host binaries into the tree at the same paths, with every shared library they need. */
export async function copyBinaries(root: string, binaries: readonly string[]): Promise<void> {
  const libs = new Set<string>();
  for (const bin of binaries) {
    await copyHostFile(root, bin);
    for (const lib of await sharedLibraries(bin)) libs.add(lib);
  }
  for (const lib of libs) await copyHostFile(root, lib);
}

/**
 * The module files (relative to the kernel's modules dir) needed to load `names`, dependencies
 * first, from `modprobe --show-depends`. Built-in modules need nothing. Unknown names throw.
 */
export async function resolveModules(kernel: KernelInfo, names: readonly string[]): Promise<string[]> {
  const order: string[] = [];
  for (const name of names) {
    const { stdout } = await run('modprobe', ['-S', kernel.version, '--show-depends', name]);
    for (const line of stdout.split('\n')) {
      const m = /^insmod\s+(\S+)/.exec(line.trim());
      if (!m?.[1]) continue;
      let file = m[1];
      if (file.startsWith(kernel.modulesDir + '/')) file = file.slice(kernel.modulesDir.length + 1);
      else {
        // modprobe may print the /usr/lib path of a usr-merged system
        const idx = file.indexOf(`/modules/${kernel.version}/`);
        if (idx < 0) throw new ImageBuildError(`unexpected module path from modprobe: ${m[1]}`);
        file = file.slice(idx + `/modules/${kernel.version}/`.length);
      }
      if (!order.includes(file)) order.push(file);
    }
  }
  return order;
}

/**
 * Copy the given modules (with dependencies) into the tree's /lib/modules/<version>, run depmod
 * on the tree so `modprobe` works in the guest, and return the load order (paths relative to
 * the modules dir).
 */
export async function installModules(root: string, kernel: KernelInfo, names: readonly string[]): Promise<string[]> {
  const order = await resolveModules(kernel, names);
  const destDir = `/lib/modules/${kernel.version}`;
  for (const rel of order) await copyHostFile(root, path.join(kernel.modulesDir, rel), path.join(destDir, rel));
  for (const f of ['modules.order', 'modules.builtin', 'modules.builtin.modinfo']) {
    try {
      await copyHostFile(root, path.join(kernel.modulesDir, f), path.join(destDir, f));
    } catch {
      // optional
    }
  }
  await run('depmod', ['-b', root, kernel.version]);
  return order;
}

/** Total size in bytes of the regular files under a directory (hard links counted once). */
export async function treeSize(root: string): Promise<number> {
  const { stdout } = await run('du', ['-sxb', root]);
  return Number(stdout.split(/\s+/)[0] ?? 0);
}

/** Round up to a multiple of `unit`. */
export function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}

/**
 * Make an ext4 filesystem image of `sizeBytes` holding the tree (mke2fs -d: no mount, no loop
 * device), 4 KiB blocks so it can grow online to the VM's disc size.
 */
export async function makeExt4(tree: string, rawFile: string, sizeBytes: number): Promise<void> {
  await rm(rawFile, { force: true });
  const sizeK = Math.ceil(sizeBytes / 1024);
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-T', 'default', '-b', '4096', '-m', '1', '-L', ROOT_LABEL,
    '-E', 'root_owner=0:0', '-d', tree, rawFile, `${sizeK}k`], { env: { ...process.env, MKE2FS_CONFIG: '/etc/mke2fs.conf' } });
}

/** Convert a raw disc image to qcow2 (zeros are not stored); returns the virtual size. */
export async function rawToQcow2(rawFile: string, qcow2File: string): Promise<number> {
  await rm(qcow2File, { force: true });
  await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', rawFile, qcow2File]);
  const { stdout } = await run('qemu-img', ['info', '--output=json', qcow2File]);
  const info = JSON.parse(stdout) as { 'virtual-size': number; format: string };
  if (info.format !== 'qcow2') throw new ImageBuildError(`qemu-img made ${info.format}, not qcow2`);
  return info['virtual-size'];
}
