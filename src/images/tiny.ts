// The `tiny` image: static busybox (init, shell, udhcpc, acpid, getty), dropbear for SSH, a few
// kernel modules and the guest scripts of guest/tiny/. About 10 MB; built in about a second with
// `mke2fs -d`, and boots to HANGAR-READY in about 5 s under TCG.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { guestFile, guestFiles } from './guest.js';
import { ImageBuildError, requireTools, run, type KernelInfo } from './host.js';
import { buildInitrd } from './initrd.js';
import type { BuildContext, BuiltFiles, Recipe } from './recipe.js';
import {
  copyBinaries, copyHostFile, installModules, makeExt4, mkdirs, putFile, putSymlink, rawToQcow2, roundUp,
  sharedLibraries, treeSize, usrMergedSkeleton,
} from './rootfs.js';

/** Kernel modules in the tiny image (dependencies are added): discs, config drive, CD-ROM, NICs, power button. */
export const TINY_MODULES = [
  'virtio_pci', 'virtio_blk', 'virtio_scsi', 'sd_mod', 'virtio_net', 'virtio_rng', 'virtio_balloon', 'virtio_console',
  'isofs', 'cdrom', 'ata_piix', 'sr_mod', 'vfat', 'nls_utf8', 'nls_ascii', 'nls_iso8859_1', 'nls_cp437',
  'button', 'evdev',
] as const;

const TOOLS = {
  busybox: 'busybox-static',
  dropbear: 'dropbear-bin',
  dropbearkey: 'dropbear-bin',
  dbclient: 'dropbear-bin',
  resize2fs: 'e2fsprogs',
  mke2fs: 'e2fsprogs',
  'qemu-img': 'qemu-utils',
  modprobe: 'kmod',
  depmod: 'kmod',
  ldd: 'libc-bin',
};

export const TINY_CMDLINE = 'root=/dev/vda rw console=ttyS0 no_timer_check panic=1 quiet';

/** Binaries whose identity goes into the build id (a package upgrade rebuilds). */
async function binaryStamp(bin: string): Promise<string> {
  const st = await stat(bin);
  return `${bin}:${st.size}:${st.mtimeMs}`;
}

async function busyboxApplets(busybox: string): Promise<string[]> {
  const { stdout } = await run(busybox, ['--list-full']);
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** The tiny root filesystem tree. */
export async function buildTinyTree(root: string, kernel: KernelInfo, tools: Record<string, string>): Promise<void> {
  await usrMergedSkeleton(root);
  await mkdirs(root, ['dev', 'proc', 'sys', 'run', 'mnt', 'home', 'etc/init.d', 'etc/acpi/PWRF', 'etc/dropbear',
    'etc/hangar', 'usr/lib/hangar', 'var/log', 'var/lib', 'var/spool']);
  await mkdirs(root, ['root', 'var/lib/hangar'], 0o700);
  await mkdirs(root, ['tmp', 'var/tmp'], 0o1777);
  await putSymlink(root, 'var/run', '/run');

  // busybox and its applets (as symlinks in usr/bin and usr/sbin)
  const busybox = tools.busybox!;
  if ((await sharedLibraries(busybox)).length > 0) throw new ImageBuildError(`${busybox} is not static (package busybox-static)`);
  await copyHostFile(root, busybox, '/usr/bin/busybox');
  for (const applet of await busyboxApplets(busybox)) {
    const m = /^(?:usr\/)?(s?bin)\/([^/]+)$/.exec(applet);
    if (!m) continue; // linuxrc
    const rel = `usr/${m[1]}/${m[2]}`;
    if (rel === 'usr/bin/busybox') continue;
    await putSymlink(root, rel, '/usr/bin/busybox');
  }
  // dropbear and resize2fs, with their libraries (replacing any busybox applet of the same name)
  await copyBinaries(root, [tools.dropbear!, tools.dropbearkey!, tools.dbclient!, tools.resize2fs!]);
  await putSymlink(root, 'usr/bin/ssh', 'dbclient');

  const order = await installModules(root, kernel, TINY_MODULES);
  await putFile(root, 'etc/hangar/modules.order', order.join('\n') + '\n');

  // accounts: root is locked until the config drive brings a password hash or a key
  await putFile(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  await putFile(root, 'etc/group', 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  await putFile(root, 'etc/shadow', 'root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n', 0o640);
  await putFile(root, 'etc/shells', '/bin/sh\n/bin/ash\n/usr/bin/sh\n');
  await putFile(root, 'etc/hostname', 'tiny\n');
  await putFile(root, 'etc/hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\ttiny\n');
  await putFile(root, 'etc/fstab', '/dev/root\t/\text4\trw\t0\t1\n');
  await putFile(root, 'etc/nsswitch.conf', 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n');
  await putFile(root, 'etc/resolv.conf', '');
  await putFile(root, 'etc/os-release', 'NAME="Hangar tiny"\nID=hangar-tiny\nPRETTY_NAME="Hangar tiny (busybox + dropbear)"\n');
  await putFile(root, 'etc/issue', 'Hangar tiny \\n \\l\n\n');
  await putFile(root, 'etc/profile', await guestFile('tiny/profile'));

  // init and the guest scripts
  await putFile(root, 'etc/inittab', await guestFile('tiny/inittab'));
  await putFile(root, 'etc/init.d/rcS', await guestFile('tiny/rcS'), 0o755);
  await putFile(root, 'etc/init.d/rcK', await guestFile('tiny/rcK'), 0o755);
  await putFile(root, 'etc/acpi/PWRF/00000080', await guestFile('tiny/power-button'), 0o755);
  await putFile(root, 'usr/lib/hangar/cidata.sh', await guestFile('common/cidata.sh'));
  await putFile(root, 'usr/lib/hangar/network', await guestFile('tiny/network'), 0o755);
  await putFile(root, 'usr/lib/hangar/udhcpc.script', await guestFile('tiny/udhcpc.script'), 0o755);
}

export const tinyRecipe: Recipe = {
  name: 'tiny',
  async prepare(kernel: KernelInfo) {
    const tools = requireTools(TOOLS);
    const inputs = [
      `kernel ${kernel.version}`,
      TINY_CMDLINE,
      TINY_MODULES.join(','),
      ...(await guestFiles(['common', 'tiny'])),
      await binaryStamp(tools.busybox!),
      await binaryStamp(tools.dropbear!),
      await binaryStamp(tools.resize2fs!),
    ];
    return { inputs, tools };
  },
  async build(ctx: BuildContext): Promise<BuiltFiles> {
    const root = path.join(ctx.work, 'rootfs');
    const t0 = Date.now();
    await buildTinyTree(root, ctx.kernel, ctx.tools);
    const used = await treeSize(root);
    ctx.log(`tiny: root tree ${(used / 2 ** 20).toFixed(1)} MiB (${Date.now() - t0} ms)`);
    // room for the journal and for the guest's own files; the guest grows it to its disc
    const size = Math.max(128 * 2 ** 20, roundUp(used * 2 + 32 * 2 ** 20, 16 * 2 ** 20));
    const raw = path.join(ctx.work, 'root.ext4');
    await makeExt4(root, raw, size);
    const discSize = await rawToQcow2(raw, path.join(ctx.out, 'root.qcow2'));
    await copyHostFile(ctx.out, ctx.kernel.vmlinuz, 'vmlinuz');
    await buildInitrd(path.join(ctx.out, 'initrd.img'), ctx.kernel, ctx.tools.busybox!);
    ctx.log(`tiny: root.qcow2 (${discSize / 2 ** 20} MiB virtual), vmlinuz ${ctx.kernel.version}, initrd.img`);
    return { disc: 'root.qcow2', kernel: 'vmlinuz', initrd: 'initrd.img', cmdline: TINY_CMDLINE, discSize };
  },
};
