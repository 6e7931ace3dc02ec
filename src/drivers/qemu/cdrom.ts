// cdrom_url → a local ISO file. http(s) URLs are downloaded once into a cache (keyed by the URL),
// through the head's own check of every address and redirect (../checked-fetch.ts); file:// URLs
// are used in place, only inside the cluster's ISO library with symlinks resolved. Anything else,
// or a download that fails, is a DriverError the user can act on.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { DriverError } from '../driver.js';
import { checkedAddresses, checkedGet, UrlRefused, type Resolver } from '../checked-fetch.js';
import { insideDir, isoLibraryPath, LIBRARY_ONLY, type UrlPolicy } from '../../core/urls.js';

export interface CdromOptions {
  cacheDir: string;
  /** What beyond the public Internet a cdrom_url may reach: the ISO library, allow-listed mirrors. */
  urls: UrlPolicy;
  resolve?: Resolver;
  /** Give up a download after this long. */
  timeoutMs?: number;
  /** Refuse ISOs larger than this (bytes). */
  maxBytes?: number;
}

function fail(url: string, why: string): DriverError {
  return new DriverError(`cdrom_url ${url}: ${why}`, 'cdrom_url');
}

/** The real path of a file:// URL's file, refused unless it is a readable regular file in the ISO library. */
async function libraryFile(url: string, parsed: URL, policy: UrlPolicy): Promise<string> {
  const lib = isoLibraryPath(parsed, policy);
  if ('refusal' in lib) throw fail(url, lib.refusal);
  let real: string;
  try {
    const root = await fsp.realpath(policy.isoDir!);
    real = await fsp.realpath(lib.file);
    if (!insideDir(root, real)) throw fail(url, LIBRARY_ONLY);
    if (!(await fsp.stat(real)).isFile()) throw fail(url, 'not a regular file');
    await fsp.access(real, fs.constants.R_OK);
  } catch (err) {
    if (err instanceof DriverError) throw err;
    throw fail(url, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message);
  }
  return real;
}

/** The ISO's path on this head, downloading it first when needed. */
export async function fetchCdrom(url: string, opts: CdromOptions): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail(url, 'not a URL');
  }
  if (parsed.protocol === 'file:') return libraryFile(url, parsed, opts.urls);
  const key = crypto.createHash('sha256').update(url).digest('hex').slice(0, 32);
  const target = path.join(opts.cacheDir, `${key}.iso`);
  const tmp = `${target}.${process.pid}.${Date.now()}.part`;
  const maxBytes = opts.maxBytes ?? 16 * 1024 ** 3;
  try {
    if (fs.existsSync(target)) {
      // Checked again: what was cached under an older policy is not handed out under this one.
      await checkedAddresses(parsed, opts.urls, opts.resolve);
      return target;
    }
    await fsp.mkdir(opts.cacheDir, { recursive: true });
    const res = await checkedGet(url, { policy: opts.urls, resolve: opts.resolve, signal: AbortSignal.timeout(opts.timeoutMs ?? 15 * 60_000) });
    if (res.statusCode === undefined || res.statusCode < 200 || res.statusCode > 299) {
      res.resume();
      throw fail(url, `download failed: HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trim());
    }
    const length = Number(res.headers['content-length'] ?? 0);
    if (length > maxBytes) {
      res.destroy();
      throw fail(url, `too large (${length} bytes)`);
    }
    let seen = 0;
    res.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) res.destroy(fail(url, 'too large'));
    });
    await pipeline(res, fs.createWriteStream(tmp, { mode: 0o644 }));
    if (seen === 0) throw fail(url, 'download failed: empty response');
    await fsp.rename(tmp, target);
    return target;
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    if (err instanceof DriverError) throw err;
    if (err instanceof UrlRefused) throw fail(url, err.message);
    const e = err as Error & { cause?: Error };
    throw fail(url, `download failed: ${e.cause?.message ?? e.message}`);
  }
}
