// Files only the server's user may read: the data directory and everything in it holds password
// hashes, sealed secrets and guests' discs. New ones are made 0700 (directories) / 0600 (files);
// at start, looser ones Hangar finds are tightened, with a warning saying what was found.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';

type Warn = Pick<Logger, 'warn'>;

export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

/** mkdir -p where every directory it makes is 0700. */
export async function mkdirPrivate(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: PRIVATE_DIR });
}

/** Make a file we just created (or one a tool created for us) 0600. */
export async function makePrivate(file: string): Promise<void> {
  await fsp.chmod(file, PRIVATE_FILE);
}

/**
 * Strip group and other permissions from each existing path (a missing one is skipped), warning
 * about every one that had them: tightened, or left as it was when it cannot be (not ours).
 */
export function keepPrivate(paths: string[], log?: Warn): void {
  for (const p of paths) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (st.isSymbolicLink() || (st.mode & 0o077) === 0) continue;
    const from = (st.mode & 0o777).toString(8);
    const to = st.mode & 0o700;
    try {
      fs.chmodSync(p, to);
      log?.warn({ path: p, from, to: to.toString(8) }, 'was readable by other users; tightened');
    } catch (err) {
      log?.warn({ path: p, mode: from, err: (err as Error).message }, 'is readable by other users and could not be tightened');
    }
  }
}

/** keepPrivate for a directory and everything under it (symbolic links are not followed). */
export function keepTreePrivate(root: string, log?: Warn): void {
  keepPrivate([root], log);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = path.join(root, e.name);
    if (e.isDirectory()) keepTreePrivate(p, log);
    else keepPrivate([p], log);
  }
}
