// `hangar images build <name>`: build an image of the catalogue into `<imagesDir>/<name>/`
// (docs/config-drive.md). Idempotent: an image whose inputs (guest scripts, kernel, packages of the
// head) did not change is left as it is unless `force`. A build happens in a scratch folder beside
// the images and replaces the old image only once it succeeded; builds of one image are serialised
// through a lock file, so parallel callers (tests, CLI) wait for each other.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { IMAGES, resolveImage } from './catalogue.js';
import { debianRecipe } from './debian.js';
import { findGuestKernel, ImageBuildError, run, type LogFn } from './host.js';
import {
  ImageError, imageDir, listBuiltImages as listManifests, MANIFEST_FILE, manifestPaths, tryReadManifest, type Manifest,
} from './manifest.js';
import type { Recipe } from './recipe.js';
import { tinyRecipe } from './tiny.js';

export { ImageBuildError } from './host.js';
export { ImageError, readManifest, type Manifest } from './manifest.js';

/** Bump when the builder itself changes in a way that must rebuild every image. */
const BUILDER_VERSION = 1;

const RECIPES: Record<string, Recipe> = { tiny: tinyRecipe, bookworm: debianRecipe };

export interface BuildOptions {
  imagesDir: string;
  /** Rebuild even when the image is up to date. */
  force?: boolean;
  /** Progress lines (long steps report every few seconds). */
  log?: (line: string) => void;
}

export interface BuildResult {
  dir: string;
  manifest: Manifest;
  /** True when the image was already up to date and nothing was built. */
  upToDate: boolean;
}

/** The images `buildImage` knows (real images, not aliases). */
export function buildableImages(): string[] {
  return IMAGES.filter((i) => i.aliasOf === undefined && RECIPES[i.name] !== undefined).map((i) => i.name);
}

/** Every image built in imagesDir. */
export async function listBuiltImages(imagesDir: string): Promise<Manifest[]> {
  return listManifests(imagesDir);
}

const inProcess = new Map<string, Promise<BuildResult>>();

/**
 * Build image `name` (an alias builds the image behind it) into `<imagesDir>/<name>/`.
 * Resolves with the image folder and its manifest; throws ImageError for an unknown name and
 * ImageBuildError when the head lacks something (the message names the Debian packages).
 */
export async function buildImage(name: string, opts: BuildOptions): Promise<BuildResult> {
  const log: LogFn = opts.log ?? (() => {});
  const real = resolveImage(name);
  if (real === null) throw new ImageError(`unknown image "${name}" (known: ${IMAGES.map((i) => i.name).join(', ')})`);
  if (real !== name) log(`${name} is served by the ${real} image`);
  const recipe = RECIPES[real];
  if (recipe === undefined) throw new ImageError(`no builder for image "${real}"`);
  const imagesDir = path.resolve(opts.imagesDir);
  const key = `${imagesDir}\0${real}`;
  // callers in this process share one build (the lock file serialises other processes)
  const running = inProcess.get(key);
  if (running !== undefined) {
    log(`waiting for the build of ${real} already running`);
    await running.catch(() => {});
  }
  const p = buildLocked(recipe, imagesDir, opts.force === true && running === undefined, log);
  inProcess.set(key, p);
  try {
    return await p;
  } finally {
    if (inProcess.get(key) === p) inProcess.delete(key);
  }
}

async function buildLocked(recipe: Recipe, imagesDir: string, force: boolean, log: LogFn): Promise<BuildResult> {
  const kernel = findGuestKernel();
  const { inputs, tools } = await recipe.prepare(kernel);
  const hash = createHash('sha256').update(`hangar-images ${BUILDER_VERSION}\n${recipe.name}\n`);
  for (const i of inputs) hash.update(i).update('\0');
  const buildId = hash.digest('hex').slice(0, 24);

  await mkdir(imagesDir, { recursive: true });
  const release = await lock(path.join(imagesDir, `.${recipe.name}.lock`), log);
  try {
    const dir = imageDir(imagesDir, recipe.name);
    const existing = await tryReadManifest(imagesDir, recipe.name).catch(() => null);
    if (existing !== null && !force) {
      const paths = manifestPaths(imagesDir, existing);
      const complete = [paths.disc, paths.kernel, paths.initrd].every((f) => f === null || existsSync(f));
      if (complete && existing.buildId === buildId) {
        log(`${recipe.name} is up to date (built ${existing.builtAt})`);
        return { dir, manifest: existing, upToDate: true };
      }
      log(`${recipe.name}: ${complete ? 'inputs changed' : 'files missing'}, rebuilding`);
    }

    const started = Date.now();
    const work = await mkdtemp(path.join(imagesDir, `.build-${recipe.name}-`));
    try {
      const out = path.join(work, 'out');
      const scratch = path.join(work, 'scratch');
      const cacheDir = path.join(imagesDir, '.cache', recipe.name);
      await mkdir(out);
      await mkdir(scratch);
      log(`building ${recipe.name} (kernel ${kernel.version})`);
      const files = await recipe.build({ out, work: scratch, cacheDir, kernel, tools, log });
      const description = IMAGES.find((i) => i.name === recipe.name)?.description ?? recipe.name;
      const manifest: Manifest = {
        name: recipe.name,
        description,
        disc: files.disc,
        kernel: files.kernel,
        initrd: files.initrd,
        cmdline: files.cmdline,
        builtAt: new Date().toISOString(),
        format: 'qcow2',
        discSize: files.discSize,
        kernelVersion: kernel.version,
        buildId,
      };
      await writeFile(path.join(out, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
      // swap the new image in
      let old: string | null = null;
      if (existsSync(dir)) {
        old = path.join(work, 'old');
        await rename(dir, old);
      }
      await rename(out, dir);
      log(`${recipe.name} built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${dir}`);
      return { dir, manifest, upToDate: false };
    } finally {
      await removeTree(work);
    }
  } finally {
    await release();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock file holding the owner's pid; a stale one (owner gone) is taken over. */
async function lock(file: string, log: LogFn, timeoutMs = 60 * 60 * 1000): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  let said = false;
  for (;;) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return async () => {
        await rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number.parseInt(await readFile(file, 'utf8'), 10);
    } catch {
      continue; // released meanwhile
    }
    if (Number.isNaN(owner) || (!alive(owner) && owner !== process.pid)) {
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new ImageBuildError(`timed out waiting for ${file} (held by pid ${owner})`);
    if (!said) {
      log(`waiting for another build (pid ${owner}, ${file})`);
      said = true;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Remove a build folder. A debootstrap tree may still have /proc or /dev mounted inside after a
 * failure: unmount everything under it first, and never cross into another filesystem.
 */
export async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  const prefix = path.resolve(dir) + '/';
  let mounts: string[] = [];
  try {
    mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => (l.split(' ')[1] ?? '').replace(/\\040/g, ' '))
      .filter((m) => m.startsWith(prefix))
      .sort((a, b) => b.length - a.length);
  } catch {
    mounts = [];
  }
  for (const m of mounts) await run('umount', ['-l', m]).catch(() => {});
  await run('rm', ['-rf', '--one-file-system', dir]);
}
