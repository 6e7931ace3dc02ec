// The manifest of a built image (docs/config-drive.md, "Image layout on a head") and how to read it.
// Imported by the QEMU driver (to boot and reimage) and by the image builder (to write it).
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { IMAGES, resolveImage } from './catalogue.js';

export interface Manifest {
  name: string;
  description: string;
  /** File name, in the image folder, of the root disc (qcow2). Reimage copies it onto the VM's first disc. */
  disc: string;
  /** File name of the kernel to boot directly (`-kernel`), or null to boot the disc through firmware. */
  kernel: string | null;
  /** File name of the initrd (`-initrd`), or null. */
  initrd: string | null;
  /** Kernel command line (`-append`) when `kernel` is set. */
  cmdline: string;
  /** ISO date of the build. */
  builtAt: string;
  // Extras: informative, not needed to boot.
  /** Format of `disc`. */
  format?: 'qcow2';
  /** Virtual size of `disc` in bytes: the smallest disc the image fits on (the guest grows its filesystem). */
  discSize?: number;
  /** `uname -r` of `kernel`: the modules inside the disc match it. */
  kernelVersion?: string;
  /** Hash of the builder's inputs; a build with the same id is up to date. */
  buildId?: string;
}

/** Absolute paths of the files a manifest names. */
export interface ManifestPaths {
  dir: string;
  disc: string;
  kernel: string | null;
  initrd: string | null;
}

/** An image that is unknown, not built on this head, or broken. The message says what to do. */
export class ImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageError';
  }
}

export const MANIFEST_FILE = 'manifest.json';

/** The folder of an image (`<imagesDir>/<name>`), for a real image name (not an alias). */
export function imageDir(imagesDir: string, name: string): string {
  return path.join(imagesDir, name);
}

export function manifestPaths(imagesDir: string, manifest: Manifest): ManifestPaths {
  const dir = imageDir(imagesDir, manifest.name);
  return {
    dir,
    disc: path.join(dir, manifest.disc),
    kernel: manifest.kernel === null ? null : path.join(dir, manifest.kernel),
    initrd: manifest.initrd === null ? null : path.join(dir, manifest.initrd),
  };
}

function isFileName(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && !v.includes('/') && v !== '.' && v !== '..';
}

/** Check a parsed manifest.json; throws ImageError naming the bad field. */
export function validateManifest(value: unknown, where: string): Manifest {
  const bad = (field: string): never => {
    throw new ImageError(`${where}: invalid or missing "${field}"`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ImageError(`${where}: not a JSON object`);
  const m = value as Record<string, unknown>;
  if (typeof m.name !== 'string' || m.name === '') bad('name');
  if (typeof m.description !== 'string') bad('description');
  if (!isFileName(m.disc)) bad('disc');
  if (m.kernel !== null && !isFileName(m.kernel)) bad('kernel');
  if (m.initrd !== null && !isFileName(m.initrd)) bad('initrd');
  if (typeof m.cmdline !== 'string') bad('cmdline');
  if (typeof m.builtAt !== 'string' || Number.isNaN(Date.parse(m.builtAt))) bad('builtAt');
  if (m.discSize !== undefined && (typeof m.discSize !== 'number' || !(m.discSize > 0))) bad('discSize');
  return m as unknown as Manifest;
}

/** The manifest of a built image, or null when that image is not built. Does not resolve aliases. */
export async function tryReadManifest(imagesDir: string, name: string): Promise<Manifest | null> {
  const file = path.join(imageDir(imagesDir, name), MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ImageError(`${file}: not valid JSON`);
  }
  const manifest = validateManifest(parsed, file);
  if (manifest.name !== name) throw new ImageError(`${file}: names image "${manifest.name}", expected "${name}"`);
  return manifest;
}

/**
 * The manifest of the image that backs a distribution name (aliases resolved through the catalogue:
 * `stretch` reads `bookworm`). Throws ImageError when the name is unknown or the image is not built.
 */
export async function readManifest(imagesDir: string, name: string): Promise<Manifest> {
  const known = resolveImage(name);
  const unknown = () => new ImageError(`unknown image "${name}" (known: ${IMAGES.map((i) => i.name).join(', ')})`);
  // A name outside the built-in catalogue is an image made on this head (a template, core/templates.ts).
  const real = known ?? (isFileName(name) && !name.startsWith('.') ? name : null);
  if (real === null) throw unknown();
  const manifest = await tryReadManifest(imagesDir, real);
  if (manifest === null && known === null) throw unknown();
  if (manifest === null) {
    throw new ImageError(`image "${real}" is not built on this head (in ${imagesDir}): run \`hangar images build ${real}\``);
  }
  return manifest;
}

/** Every image built in imagesDir (folders with a valid manifest.json), sorted by name. */
export async function listBuiltImages(imagesDir: string): Promise<Manifest[]> {
  let entries: string[];
  try {
    entries = await readdir(imagesDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: Manifest[] = [];
  for (const entry of entries.sort()) {
    if (entry.startsWith('.')) continue;
    try {
      const m = await tryReadManifest(imagesDir, entry);
      if (m !== null) out.push(m);
    } catch {
      // a broken folder is not a built image
    }
  }
  return out;
}
