// The ISO library (docs/domain.md §12 ISO): the files under the library directory (HANGAR_ISO_DIR),
// registered by a scan, listed and resolved by the one id rule. An ISO named by id becomes the
// file:// URL the URL policy accepts (core/urls.ts), so a mount by id and a mount by URL are one thing.
// Library ISOs are the admin's (owner null, G17); an account's own ISOs wait for an upload route.
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Hangar } from './context.js';
import { isClusterAdmin, type Principal } from './principal.js';
import { forbidden, notFound, refused } from './errors.js';
import { idShapeError } from './ids.js';
import { insideDir, tenantUrlRefusal } from './urls.js';
import { withTransaction } from './transaction.js';
import { ownAccounts } from './images.js';
import * as repo from '../store/repos/isos.js';

export type { Iso } from '../store/repos/isos.js';

/** The library and the caller's accounts' ISOs (every one for a cluster admin), by name. */
export function listIsos(h: Hangar, p: Principal): Promise<repo.Iso[]> {
  return repo.isosVisible(h.db, ownAccounts(p));
}

/** The ISO a segment names (id, public id or name) among those the caller sees; NotFound otherwise. */
export async function isoByRef(h: Hangar, p: Principal, segment: string): Promise<repo.Iso> {
  const iso = await repo.isoByRef(h.db, segment);
  const own = ownAccounts(p);
  if (!iso || (iso.ownerAccountId !== null && own !== 'all' && !own.includes(iso.ownerAccountId))) throw notFound('iso');
  return iso;
}

/** The library directory with its symlinks resolved, or null when the cluster has none (or it is gone). */
async function libraryDir(h: Hangar): Promise<string | null> {
  if (h.config.urls.isoDir === null) return null;
  return fs.realpath(h.config.urls.isoDir).catch(() => null);
}

/** The real path of a library file, or null when it is missing or resolves outside the library. */
async function fileInside(dir: string, rel: string): Promise<string | null> {
  const real = await fs.realpath(path.join(dir, rel)).catch(() => null);
  return real !== null && insideDir(dir, real) ? real : null;
}

/**
 * The file:// URL of an ISO: the one a tenant could give as a cdrom URL, and accepted by the same
 * policy. Refused (`state`, reason `iso_unavailable`) when the library is off or the file is gone or
 * now resolves outside the library.
 */
export async function isoUrl(h: Hangar, iso: repo.Iso): Promise<string> {
  const dir = await libraryDir(h);
  if (dir === null || (await fileInside(dir, iso.file)) === null) throw refused('iso', 'iso_unavailable', { iso: iso.name }, 'state');
  const url = pathToFileURL(path.join(h.config.urls.isoDir!, iso.file)).href;
  if (tenantUrlRefusal(url, 'bigv', h.config.urls) !== null) throw refused('iso', 'iso_unavailable', { iso: iso.name }, 'state');
  return url;
}

/** A DNS-label name for a file (`Debian 12.4 netinst.iso` → `debian-12-4-netinst`), never id-shaped. */
export function isoName(file: string): string {
  const base = path.basename(file).replace(/\.iso$/i, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 56).replace(/-+$/, '');
  if (!base) return 'iso';
  return idShapeError(base) ? `iso-${base}` : base;
}

/** The `.iso` files under `dir` (any depth), as paths relative to it; symlinks followed only inside it. */
async function isoFiles(dir: string): Promise<{ file: string; size: number }[]> {
  const out: { file: string; size: number }[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const relPath = path.join(rel, e.name);
      const real = await fileInside(dir, relPath);
      if (real === null) continue;
      const st = await fs.stat(real);
      if (st.isDirectory() && !e.isSymbolicLink()) await walk(relPath);
      else if (st.isFile() && /\.iso$/i.test(e.name)) out.push({ file: relPath.split(path.sep).join('/'), size: st.size });
    }
  };
  await walk('');
  // By code point, not locale: which of two same-named files gets `-2` must not depend on the host.
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

export interface ScanResult { added: repo.Iso[]; removed: repo.Iso[] }

/**
 * Registers the `.iso` files of the library not yet known (name from the file, `-N` on a clash),
 * updates sizes, and forgets ISOs whose file is gone or now resolves outside the library. Cluster admins only.
 */
export async function scanIsoLibrary(h: Hangar, p: Principal): Promise<ScanResult> {
  if (!isClusterAdmin(p)) throw forbidden('scan_iso_library');
  const dir = await libraryDir(h);
  if (dir === null) throw refused('isoDir', 'no_iso_library', {}, 'state');
  const files = await isoFiles(dir);
  return withTransaction(h.db, async (trx) => {
    const known = await repo.allIsos(trx);
    const byFile = new Map(known.map((i) => [i.file, i]));
    const onDisc = new Set(files.map((f) => f.file));
    const removed = known.filter((i) => !onDisc.has(i.file));
    await repo.deleteIsos(trx, removed.map((i) => i.id));
    const names = new Set(known.filter((i) => onDisc.has(i.file)).map((i) => i.name));
    const added: repo.Iso[] = [];
    for (const f of files) {
      const had = byFile.get(f.file);
      if (had) {
        if (had.sizeBytes !== f.size) await repo.setIsoSize(trx, had.id, f.size);
        continue;
      }
      const base = isoName(f.file);
      let name = base;
      for (let n = 2; names.has(name); n++) name = `${base}-${n}`;
      names.add(name);
      added.push(await repo.insertIso(trx, { name, label: path.basename(f.file), file: f.file, sizeBytes: f.size, now: h.now() }));
    }
    return { added, removed };
  });
}
