// The hypervisor driver `hangar server` (and later `hangar head`) runs its head agent with.
import path from 'node:path';
import type { Logger } from 'pino';
import type { Driver } from '../drivers/driver.js';
import type { UrlPolicy } from '../core/urls.js';

export interface MakeDriverOptions {
  /** The server's data dir; the QEMU driver keeps its files under `<dataDir>/qemu`. */
  dataDir: string;
  imagesDir: string;
  log: Logger;
  /** What cdrom_urls may reach beyond the public Internet: the head checks every fetch against it. */
  urls: UrlPolicy;
}

export async function makeDriver(kind: 'qemu' | 'fake', opts: MakeDriverOptions): Promise<Driver> {
  if (kind === 'fake') {
    const { FakeDriver } = await import('../drivers/fake/driver.js');
    return new FakeDriver();
  }
  const { QemuDriver } = await import('../drivers/qemu/index.js');
  const env = process.env;
  // HANGAR_QEMU_ACCEL=kvm|tcg|auto (default auto: KVM only where it really works);
  // HANGAR_QEMU_RUN_DIR when <dataDir>/qemu/run is too deep for unix socket paths.
  const accel = env.HANGAR_QEMU_ACCEL;
  return new QemuDriver({
    dataDir: path.join(opts.dataDir, 'qemu'),
    imagesDir: opts.imagesDir,
    log: opts.log.child({ driver: 'qemu' }),
    urls: opts.urls,
    ...(env.HANGAR_QEMU_RUN_DIR ? { runDir: env.HANGAR_QEMU_RUN_DIR } : {}),
    ...(accel === 'kvm' || accel === 'tcg' || accel === 'auto' ? { accel } : {}),
  });
}
