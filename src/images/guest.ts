// The guest-side scripts (src/images/guest/): found next to this module when run from the
// sources, or in the source tree when run from the compiled dist/src/images/.
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

export function guestDir(): string {
  if (cached !== null) return cached;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'guest'), path.join(here, '..', '..', '..', 'src', 'images', 'guest')];
  const found = candidates.find((d) => existsSync(path.join(d, 'common', 'cidata.sh')));
  if (found === undefined) throw new Error(`guest scripts not found (looked in ${candidates.join(', ')})`);
  cached = found;
  return found;
}

/** A guest file, e.g. `tiny/rcS` or `common/cidata.sh`. */
export async function guestFile(rel: string): Promise<string> {
  return readFile(path.join(guestDir(), rel), 'utf8');
}

/** Every file of the given guest folders with its content, sorted (for build fingerprints). */
export async function guestFiles(folders: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const folder of folders) {
    const dir = path.join(guestDir(), folder);
    for (const f of (await readdir(dir)).sort()) out.push(`${folder}/${f}\n${await readFile(path.join(dir, f), 'utf8')}`);
  }
  return out;
}
