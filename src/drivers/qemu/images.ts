// Reading built images (docs/config-drive.md: `<images dir>/<name>/manifest.json` and its files).
import fsp from 'node:fs/promises';
import path from 'node:path';
import { DriverError } from '../driver.js';
import { resolveImage } from '../../images/catalogue.js';
import type { DirectBoot } from './args.js';

export interface ImageManifest {
  name: string;
  description: string;
  disc: string;
  kernel: string | null;
  initrd: string | null;
  cmdline: string;
  builtAt: string;
}

export interface Image {
  name: string;
  dir: string;
  manifest: ImageManifest;
  /** Absolute path of the disc image. */
  disc: string;
  /** Direct kernel boot, or null for firmware boot. */
  boot: DirectBoot | null;
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/;

function inside(dir: string, file: string, what: string, image: string): string {
  const p = path.resolve(dir, file);
  if (!p.startsWith(dir + path.sep)) throw new DriverError(`image ${image}: ${what} ${file} is outside the image`);
  return p;
}

/** The built image behind a distribution name (aliases resolved); DriverError when there is none. */
export async function loadImage(imagesDir: string, distribution: string): Promise<Image> {
  const name = resolveImage(distribution) ?? distribution;
  if (!NAME.test(name)) throw new DriverError(`unknown distribution ${distribution}`, 'distribution');
  const dir = path.resolve(imagesDir, name);
  let raw: string;
  try {
    raw = await fsp.readFile(path.join(dir, 'manifest.json'), 'utf8');
  } catch {
    throw new DriverError(`image ${name} is not built on this head (no ${path.join(dir, 'manifest.json')}; run \`hangar images build ${name}\`)`, 'distribution');
  }
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(raw) as ImageManifest;
  } catch (err) {
    throw new DriverError(`image ${name}: bad manifest.json (${(err as Error).message})`);
  }
  if (typeof manifest.disc !== 'string' || !manifest.disc) throw new DriverError(`image ${name}: manifest names no disc`);
  const boot: DirectBoot | null = manifest.kernel
    ? {
      kernel: inside(dir, manifest.kernel, 'kernel', name),
      initrd: manifest.initrd ? inside(dir, manifest.initrd, 'initrd', name) : null,
      cmdline: manifest.cmdline ?? '',
    }
    : null;
  return { name, dir, manifest, disc: inside(dir, manifest.disc, 'disc', name), boot };
}
