// The one way Hangar keeps a secret it must read back later (VNC passwords, TOTP secrets, the
// secret fields of queued operations, signing key pairs, idempotent answers): sealed with AES-256-GCM
// under the server's secret key. Sealed text is `v1:<iv>:<tag>:<ciphertext>` (base64), so a later
// key or algorithm can be told apart from this one. The key is HANGAR_SECRET_KEY (base64 of 32
// bytes) or `<data>/secret.key`, made 0600 on first start; losing it loses every sealed secret.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { keepPrivate } from './private-files.js';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const VERSION = 'v1';
const SEALED = /^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]*$/;

/** A value sealed by a SecretBox (what the store holds instead of the secret). */
export type Sealed = string & { readonly __sealed: unique symbol };

export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}

export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer, private readonly source = 'the secret key') {
    if (key.length !== KEY_BYTES) throw new SecretError(`${source} must be ${KEY_BYTES} bytes (base64), not ${key.length}`);
    this.key = Buffer.from(key);
  }

  /** A box with a fresh key that lives only as long as the process (in-memory stores, tests). */
  static ephemeral(): SecretBox {
    return new SecretBox(crypto.randomBytes(KEY_BYTES), 'an ephemeral key');
  }

  static isSealed(value: string): value is Sealed {
    return SEALED.test(value);
  }

  seal(plain: string): Sealed {
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), ct.toString('base64')].join(':') as Sealed;
  }

  open(sealed: string): string {
    if (!SecretBox.isSealed(sealed)) throw new SecretError('not a sealed secret (expected v1:<iv>:<tag>:<ciphertext>)');
    const [, iv, tag, ct] = sealed.split(':') as [string, string, string, string];
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
      decipher.setAuthTag(Buffer.from(tag, 'base64'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretError(`a stored secret cannot be opened with ${this.source}: it was sealed under another key`);
    }
  }
}

export const SECRET_KEY_FILE = 'secret.key';

/**
 * The server's box: HANGAR_SECRET_KEY when set, else `<dataDir>/secret.key` (created 0600 with a
 * random key on first use; a looser mode is tightened with a warning), else null (no data dir).
 * Every brain sharing a store must use the same key.
 */
export function loadSecretBox(opts: { dataDir?: string; env?: NodeJS.ProcessEnv; log?: Logger }): SecretBox | null {
  const fromEnv = (opts.env ?? process.env).HANGAR_SECRET_KEY;
  if (fromEnv) return new SecretBox(Buffer.from(fromEnv.trim(), 'base64'), 'HANGAR_SECRET_KEY');
  if (!opts.dataDir) return null;
  const file = path.join(opts.dataDir, SECRET_KEY_FILE);
  fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(file)) {
    // Written whole beside it, then linked into place: two processes starting at once never
    // overwrite each other's key, and neither reads a half-written one.
    const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
    fs.writeFileSync(tmp, crypto.randomBytes(KEY_BYTES).toString('base64') + '\n', { flag: 'wx', mode: 0o600 });
    try {
      fs.linkSync(tmp, file);
      opts.log?.warn({ file }, 'created the secret key that seals stored secrets: back it up with the store');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  keepPrivate([file], opts.log);
  return new SecretBox(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64'), file);
}
