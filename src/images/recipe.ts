// What an image recipe (tiny.ts, debian.ts) gives the builder (build.ts).
import type { KernelInfo, LogFn } from './host.js';

export interface BuildContext {
  /** The folder that becomes `<imagesDir>/<name>` once the build succeeds: put the manifest's files here. */
  out: string;
  /** Scratch space, removed after the build. */
  work: string;
  /** Kept between builds (downloaded packages); the recipe creates it when it needs it. */
  cacheDir: string;
  kernel: KernelInfo;
  /** Commands found by prepare(). */
  tools: Record<string, string>;
  log: LogFn;
}

/** The files a recipe made in `out`, and how to boot them (manifest fields). */
export interface BuiltFiles {
  disc: string;
  kernel: string | null;
  initrd: string | null;
  cmdline: string;
  discSize: number;
}

export interface Recipe {
  name: string;
  /**
   * Check the head has what the build needs (throws ImageBuildError naming the packages) and
   * list the build's inputs: an image whose inputs did not change is up to date.
   */
  prepare(kernel: KernelInfo): Promise<{ inputs: string[]; tools: Record<string, string> }>;
  build(ctx: BuildContext): Promise<BuiltFiles>;
}
