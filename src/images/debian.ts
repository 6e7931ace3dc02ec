// The `bookworm` image: debootstrap of Debian 12 with a bootable package set (systemd, udev,
// dbus so logind handles the ACPI power button, systemd-networkd, OpenSSH, cloud-init for
// cloud-config user-data), the guest kernel's modules, and the first-boot units of guest/bookworm/.
// Takes about 2 minutes (debootstrap); boots to HANGAR-READY in 30-40 s under TCG.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { guestFile, guestFiles } from './guest.js';
import { debianMirror, ImageBuildError, requireTools, run, which, type KernelInfo, type LogFn } from './host.js';
import { buildInitrd } from './initrd.js';
import type { BuildContext, BuiltFiles, Recipe } from './recipe.js';
import { copyHostFile, inTree, makeExt4, putFile, rawToQcow2, roundUp, treeSize } from './rootfs.js';

export const SUITE = 'bookworm';

/** Packages on top of debootstrap's minbase. */
export const DEBIAN_PACKAGES = [
  'systemd-sysv', 'udev', 'kmod', 'dbus', 'systemd-resolved', 'iproute2', 'iputils-ping', 'netbase',
  'openssh-server', 'openssh-sftp-server', 'e2fsprogs', 'procps', 'less', 'ca-certificates',
  // cloud-init; debootstrap does not follow virtual packages, so python3-cryptography's cffi backend is named
  'cloud-init', 'python3-cffi-backend',
] as const;

export const DEBIAN_CMDLINE = 'root=/dev/vda rw console=ttyS0 no_timer_check panic=1 net.ifnames=0';

const TOOLS = {
  debootstrap: 'debootstrap',
  chroot: 'coreutils',
  busybox: 'busybox-static',
  mke2fs: 'e2fsprogs',
  'qemu-img': 'qemu-utils',
  modprobe: 'kmod',
  cp: 'coreutils',
};

const PHASES: Record<string, string> = { Retrieving: 'downloading', Validating: 'downloading' };

/**
 * Turns debootstrap's output into progress lines: each phase when it starts, then a summary at
 * most every `everyMs` (elapsed time, packages so far, the current one). Warnings and errors pass.
 */
export function debootstrapProgress(log: LogFn, everyMs = 5000): { line: (l: string) => void; tick: () => void } {
  const t0 = Date.now();
  let phase = '';
  let count = 0;
  let current = '';
  let lastSaid = 0;
  const elapsed = (): string => `${Math.round((Date.now() - t0) / 1000)}s`;
  const summary = (): void => {
    lastSaid = Date.now();
    log(`debootstrap ${elapsed()}: ${phase || 'starting'}${count ? ` (${count} so far${current ? `, ${current}` : ''})` : ''}`);
  };
  return {
    line(l: string): void {
      const m = /^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) (\S+)/.exec(l);
      if (m?.[1] && m[2] && !['Release', 'Packages', 'the'].includes(m[2]) && !m[2].startsWith('InRelease')) {
        const p = PHASES[m[1]] ?? m[1].toLowerCase();
        if (m[1] === 'Validating') return;
        if (p !== phase) {
          phase = p;
          count = 0;
          log(`debootstrap ${elapsed()}: ${phase} packages`);
          lastSaid = Date.now();
        }
        count++;
        current = m[2].replace(/\.+$/, '');
        if (Date.now() - lastSaid >= everyMs) summary();
        return;
      }
      if (/^[WE]: /.test(l) || /^I: (Base system|Installing|Resolving|Checking|Found|Keyring)/.test(l)) {
        log(`debootstrap ${elapsed()}: ${l.slice(3)}`);
        lastSaid = Date.now();
        if (l.startsWith('I: ')) {
          phase = l.slice(3).replace(/\.+$/, '').toLowerCase();
          count = 0;
        }
      }
    },
    tick(): void {
      if (Date.now() - lastSaid >= everyMs) summary();
    },
  };
}

async function debootstrap(root: string, mirror: string, cacheDir: string, log: LogFn): Promise<void> {
  const debs = path.join(cacheDir, 'debs');
  await run('mkdir', ['-p', debs]);
  const progress = debootstrapProgress(log);
  const timer = setInterval(progress.tick, 1000);
  try {
    await run('debootstrap', ['--variant=minbase', `--include=${DEBIAN_PACKAGES.join(',')}`, `--cache-dir=${debs}`,
      SUITE, root, mirror], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' },
      onLine: (l) => progress.line(l),
    });
  } finally {
    clearInterval(timer);
  }
}

/** Enable units in the tree: the head's systemctl --root when it has one, else systemctl in a chroot. */
async function enableUnits(root: string, units: string[], mask: string[]): Promise<void> {
  const viaHost = which('systemctl') !== null;
  const systemctl = (args: string[]): Promise<unknown> =>
    viaHost ? run('systemctl', [`--root=${root}`, ...args]) : run('chroot', [root, 'systemctl', ...args]);
  await systemctl(['enable', ...units]);
  if (mask.length > 0) await systemctl(['mask', ...mask]);
}

/** Configure a debootstrapped tree for Hangar (no mounts: files, symlinks and systemctl only). */
export async function configureDebianTree(root: string, kernel: KernelInfo, mirror: string, log: LogFn): Promise<void> {
  await putFile(root, 'etc/hostname', 'debian\n');
  await putFile(root, 'etc/hosts', '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n');
  await putFile(root, 'etc/fstab', `# <file system> <mount point> <type> <options> <dump> <pass>\nLABEL=hangar-root / ext4 defaults,errors=remount-ro 0 1\n`);
  await putFile(root, 'etc/apt/sources.list', `deb ${mirror} ${SUITE} main\ndeb ${mirror} ${SUITE}-updates main\n`);

  // the guest side of the config drive
  await putFile(root, 'usr/lib/hangar/cidata.sh', await guestFile('common/cidata.sh'));
  await putFile(root, 'usr/lib/hangar/hangar-config', await guestFile('bookworm/hangar-config'), 0o755);
  await putFile(root, 'usr/lib/hangar/hangar-ready', await guestFile('bookworm/hangar-ready'), 0o755);
  await putFile(root, 'etc/systemd/system/hangar-config.service', await guestFile('bookworm/hangar-config.service'));
  await putFile(root, 'etc/systemd/system/hangar-ready.service', await guestFile('bookworm/hangar-ready.service'));
  await putFile(root, 'etc/systemd/network/90-hangar-default.network', await guestFile('bookworm/90-hangar-default.network'));
  await putFile(root, 'etc/systemd/system/systemd-networkd-wait-online.service.d/hangar.conf', await guestFile('bookworm/wait-online.conf'));
  await putFile(root, 'etc/ssh/sshd_config.d/hangar.conf', await guestFile('bookworm/sshd-hangar.conf'));
  // cloud-init: the drive as NoCloud, user cloud-config only, and only on a boot whose drive has some:
  // hangar-config starts it then, instead of its generator at every boot (which would also order
  // sysinit.target after the network: seconds of every boot under TCG)
  await putFile(root, 'etc/cloud/cloud.cfg.d/90-hangar.cfg', await guestFile('bookworm/cloud-init.cfg'));
  await mkdir(inTree(root, 'etc/systemd/system-generators'), { recursive: true });
  await symlink('/dev/null', inTree(root, 'etc/systemd/system-generators/cloud-init-generator'));
  await putFile(root, 'var/lib/hangar/.keep', '', 0o600);
  await run('chmod', ['700', inTree(root, 'var/lib/hangar')]);
  // e2scrub_reap costs ~10 s of boot under TCG and is of no use on a VM disc
  // cloud-init's hotplug socket: Hangar's NICs are the drive's business, never cloud-init's
  await enableUnits(root, ['systemd-networkd.service', 'systemd-resolved.service', 'hangar-config.service', 'hangar-ready.service'],
    ['e2scrub_reap.service', 'cloud-init-hotplugd.socket']);

  // the guest kernel's modules (udev loads what the machine needs)
  const modules = inTree(root, `usr/lib/modules/${kernel.version}`);
  await rm(modules, { recursive: true, force: true });
  await run('mkdir', ['-p', path.dirname(modules)]);
  await run('cp', ['-a', kernel.modulesDir, modules]);

  // nothing that must be unique per machine: SSH host keys (hangar-config makes them), machine-id
  const sshDir = inTree(root, 'etc/ssh');
  for (const f of await readdir(sshDir)) if (f.startsWith('ssh_host_')) await rm(path.join(sshDir, f));
  await writeFile(inTree(root, 'etc/machine-id'), '');
  await rm(inTree(root, 'var/lib/dbus/machine-id'), { force: true });
  // downloaded packages and indexes (apt update brings them back)
  await run('find', [inTree(root, 'var/cache/apt/archives'), '-name', '*.deb', '-delete']);
  await run('find', [inTree(root, 'var/lib/apt/lists'), '-mindepth', '1', '-maxdepth', '1', '-type', 'f', '-delete']);
  await rm(inTree(root, 'var/cache/apt/pkgcache.bin'), { force: true });
  await rm(inTree(root, 'var/cache/apt/srcpkgcache.bin'), { force: true });
  for (const f of ['var/log/dpkg.log', 'var/log/bootstrap.log', 'var/log/alternatives.log']) await rm(inTree(root, f), { force: true });
  log('bookworm: tree configured');
}

export const debianRecipe: Recipe = {
  name: 'bookworm',
  async prepare(kernel: KernelInfo) {
    if (process.getuid?.() !== 0) throw new ImageBuildError('building bookworm needs root (debootstrap)');
    const tools = requireTools(TOOLS);
    const mirror = debianMirror();
    tools.mirror = mirror;
    const inputs = [`kernel ${kernel.version}`, `mirror ${mirror}`, SUITE, DEBIAN_CMDLINE, DEBIAN_PACKAGES.join(','),
      ...(await guestFiles(['common', 'bookworm']))];
    return { inputs, tools };
  },
  async build(ctx: BuildContext): Promise<BuiltFiles> {
    const root = path.join(ctx.work, 'rootfs');
    const mirror = ctx.tools.mirror!;
    ctx.log(`bookworm: debootstrap from ${mirror} (about 2 minutes)`);
    const t0 = Date.now();
    await debootstrap(root, mirror, ctx.cacheDir, ctx.log);
    ctx.log(`bookworm: debootstrap done in ${Math.round((Date.now() - t0) / 1000)} s`);
    if (!existsSync(inTree(root, 'sbin/init'))) throw new ImageBuildError('debootstrap made a tree without /sbin/init');
    await configureDebianTree(root, ctx.kernel, mirror, ctx.log);
    const used = await treeSize(root);
    const size = roundUp(used * 1.25 + 256 * 2 ** 20, 256 * 2 ** 20);
    ctx.log(`bookworm: root tree ${(used / 2 ** 20).toFixed(0)} MiB, making a ${size / 2 ** 20} MiB ext4 disc`);
    const raw = path.join(ctx.work, 'root.ext4');
    await makeExt4(root, raw, size);
    const discSize = await rawToQcow2(raw, path.join(ctx.out, 'root.qcow2'));
    await rm(raw, { force: true });
    await copyHostFile(ctx.out, ctx.kernel.vmlinuz, 'vmlinuz');
    await buildInitrd(path.join(ctx.out, 'initrd.img'), ctx.kernel, ctx.tools.busybox!);
    return { disc: 'root.qcow2', kernel: 'vmlinuz', initrd: 'initrd.img', cmdline: DEBIAN_CMDLINE, discSize };
  },
};
