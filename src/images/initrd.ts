// The small initrd every Hangar image boots with: static busybox plus the disc drivers that are
// modules in Debian's cloud kernel (virtio_pci, virtio_blk...), and guest/common/initrd-init,
// which mounts root= and switches to it. About 1.5 MB; the same one serves tiny and bookworm.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CpioWriter } from './cpio.js';
import { guestFile } from './guest.js';
import { ImageBuildError, type KernelInfo } from './host.js';
import { resolveModules, sharedLibraries } from './rootfs.js';

/** Modules the initrd loads before it looks for the root disc. */
export const INITRD_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_scsi', 'sd_mod'] as const;

const APPLETS = ['sh', 'mount', 'umount', 'insmod', 'findfs', 'sleep', 'cat', 'ls', 'switch_root', 'echo'];

function addParents(cpio: CpioWriter, rel: string): void {
  const parts = rel.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    if (!cpio.has(dir)) cpio.dir(dir);
  }
}

export async function buildInitrd(outFile: string, kernel: KernelInfo, busybox: string): Promise<void> {
  if ((await sharedLibraries(busybox)).length > 0) throw new ImageBuildError(`${busybox} is not static (Debian package busybox-static)`);
  const cpio = new CpioWriter();
  for (const d of ['bin', 'dev', 'proc', 'sys', 'newroot', 'lib', 'lib/modules']) cpio.dir(d);
  cpio.charDevice('dev/console', 5, 1, 0o600);
  cpio.charDevice('dev/null', 1, 3, 0o666);
  cpio.file('bin/busybox', await readFile(busybox), 0o755);
  for (const a of APPLETS) cpio.symlink(`bin/${a}`, 'busybox');
  const order = await resolveModules(kernel, INITRD_MODULES);
  for (const rel of order) {
    const dest = `lib/modules/${rel}`;
    addParents(cpio, dest);
    cpio.file(dest, await readFile(path.join(kernel.modulesDir, rel)), 0o644);
  }
  cpio.file('modules.order', order.join('\n') + '\n');
  cpio.file('init', await guestFile('common/initrd-init'), 0o755);
  await writeFile(outFile, cpio.finishGzip());
}
