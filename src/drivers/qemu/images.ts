// Built images as the driver boots them: the manifest (read by src/images/manifest.ts, the one
// reader of docs/config-drive.md's layout) resolved to absolute paths and a boot method.
import { DriverError } from '../driver.js';
import { ImageError, manifestPaths, readManifest, type Manifest } from '../../images/manifest.js';
import type { DirectBoot } from './args.js';

export interface Image {
  name: string;
  dir: string;
  manifest: Manifest;
  /** Absolute path of the disc image. */
  disc: string;
  /** Direct kernel boot, or null for firmware boot. */
  boot: DirectBoot | null;
}

/** The built image behind a distribution name (aliases resolved); DriverError when there is none. */
export async function loadImage(imagesDir: string, distribution: string): Promise<Image> {
  let manifest: Manifest;
  try {
    manifest = await readManifest(imagesDir, distribution);
  } catch (err) {
    if (err instanceof ImageError) throw new DriverError(err.message, 'distribution');
    throw err;
  }
  const paths = manifestPaths(imagesDir, manifest);
  const boot: DirectBoot | null = paths.kernel ? { kernel: paths.kernel, initrd: paths.initrd, cmdline: manifest.cmdline } : null;
  return { name: manifest.name, dir: paths.dir, manifest, disc: paths.disc, boot };
}
