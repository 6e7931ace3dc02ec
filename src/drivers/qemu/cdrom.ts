// cdrom_url → a local ISO file. http(s) URLs are downloaded once into a cache (keyed by the URL);
// file:// URLs (tests, admins) are used in place. Anything else, or a download that fails, is a
// DriverError the user can act on.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DriverError } from '../driver.js';

export interface CdromOptions {
  cacheDir: string;
  urls: import('../../core/urls.js').UrlPolicy;
  resolve?: (host: string) => Promise<string[]>;
  /** Give up a download after this long. */
  timeoutMs?: number;
  /** Refuse ISOs larger than this (bytes). */
  maxBytes?: number;
}

function fail(url: string, why: string): DriverError {
  return new DriverError(`cdrom_url ${url}: ${why}`, 'cdrom_url');
}

/** Checks only the form of a cdrom_url (for early validation). */
export function checkCdromUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail(url, 'not a URL');
  }
  if (!['http:', 'https:', 'file:'].includes(parsed.protocol)) {
    throw fail(url, `unsupported scheme ${parsed.protocol.replace(/:$/, '')} (use http, https or file)`);
  }
}

/** The ISO's path on this head, downloading it first when needed. */
export async function fetchCdrom(url: string, opts: CdromOptions): Promise<string> {
  checkCdromUrl(url);
  const parsed = new URL(url);
  if (parsed.protocol === 'file:') {
    const file = fileURLToPath(parsed);
    try {
      const st = await fsp.stat(file);
      if (!st.isFile()) throw fail(url, 'not a regular file');
      await fsp.access(file, fs.constants.R_OK);
    } catch (err) {
      if (err instanceof DriverError) throw err;
      throw fail(url, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message);
    }
    return file;
  }
  const key = crypto.createHash('sha256').update(url).digest('hex').slice(0, 32);
  const target = path.join(opts.cacheDir, `${key}.iso`);
  if (fs.existsSync(target)) return target;
  await fsp.mkdir(opts.cacheDir, { recursive: true });
  const tmp = `${target}.${process.pid}.${Date.now()}.part`;
  const maxBytes = opts.maxBytes ?? 16 * 1024 ** 3;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 15 * 60_000), redirect: 'follow' });
    if (!res.ok || !res.body) throw fail(url, `download failed: HTTP ${res.status} ${res.statusText}`.trim());
    const length = Number(res.headers.get('content-length') ?? 0);
    if (length > maxBytes) throw fail(url, `too large (${length} bytes)`);
    let seen = 0;
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) body.destroy(fail(url, 'too large'));
    });
    await pipeline(body, fs.createWriteStream(tmp, { mode: 0o644 }));
    if (seen === 0) throw fail(url, 'download failed: empty response');
    await fsp.rename(tmp, target);
    return target;
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    if (err instanceof DriverError) throw err;
    const e = err as Error & { cause?: Error };
    throw fail(url, `download failed: ${e.cause?.message ?? e.message}`);
  }
}
