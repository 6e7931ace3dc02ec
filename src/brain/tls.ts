// HTTPS for `hangar server`: which listener to run (plain HTTP only on loopback), the configured
// certificate and key, or a self-signed pair generated once under the data dir and reused.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type TlsPlan =
  | { kind: 'plain' }
  | { kind: 'files'; certFile: string; keyFile: string }
  | { kind: 'generate'; names: string[] };

export interface TlsPair {
  cert: string;
  key: string;
  certFile: string;
  /** SHA-256 of the leaf certificate, colon-separated hex (as `openssl x509 -fingerprint -sha256` prints it). */
  fingerprint: string;
  /** For a generated pair: made on this start, or the one from an earlier start. */
  generated?: 'new' | 'reused';
}

/** A start-up error the command prints as one line (bad TLS settings or files). */
export class TlsConfigError extends Error {}

const bare = (host: string) => host.replace(/^\[(.*)\]$/, '$1');

const loopback = new net.BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');
loopback.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

export function isLoopback(host: string): boolean {
  const h = bare(host).toLowerCase();
  if (h === 'localhost') return true;
  const family = net.isIP(h);
  return family !== 0 && loopback.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Plain HTTP only where no one else can listen in: a loopback address with no certificate and TLS not
 * forced. Anywhere else a missing certificate is generated, so BigV clients (which refuse plain HTTP)
 * and passwords are never left on clear text.
 */
export function tlsPlan(o: { host: string; certFile?: string; keyFile?: string; force?: boolean; names?: string[] }): TlsPlan {
  const names = o.names ?? [];
  if (!!o.certFile !== !!o.keyFile) throw new TlsConfigError('--tls-cert and --tls-key (HANGAR_TLS_CERT, HANGAR_TLS_KEY) go together: give both or neither');
  if (o.certFile && o.keyFile) {
    if (names.length) throw new TlsConfigError('--tls-names (HANGAR_TLS_NAMES) names a generated certificate: it cannot change the one in --tls-cert');
    return { kind: 'files', certFile: o.certFile, keyFile: o.keyFile };
  }
  const bad = names.find((n) => !net.isIP(bare(n)) && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(n));
  if (bad !== undefined) throw new TlsConfigError(`--tls-names: ${JSON.stringify(bad)} is neither a DNS name nor an IP address`);
  if (names.length && !o.force && isLoopback(o.host)) throw new TlsConfigError('--tls-names names a generated certificate: on a loopback address, add --tls (HANGAR_TLS=1) to serve HTTPS');
  return o.force || !isLoopback(o.host) ? { kind: 'generate', names } : { kind: 'plain' };
}

function readFile(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new TlsConfigError(`${what} ${file}: ${reason}`);
  }
}

/** The certificate (leaf first, then any intermediates) and its key, checked to belong together. */
function parsePair(cert: string, key: string, certFile: string, keyFile: string): { x509: crypto.X509Certificate; privateKey: crypto.KeyObject } {
  let x509: crypto.X509Certificate;
  let privateKey: crypto.KeyObject;
  try {
    x509 = new crypto.X509Certificate(cert);
  } catch {
    throw new TlsConfigError(`TLS certificate ${certFile}: not a PEM certificate`);
  }
  try {
    privateKey = crypto.createPrivateKey(key);
  } catch (err) {
    const encrypted = /passphrase/i.test((err as Error).message);
    throw new TlsConfigError(`TLS key ${keyFile}: ${encrypted ? 'encrypted with a passphrase (give an unencrypted key)' : 'not a PEM private key'}`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new TlsConfigError(`TLS key ${keyFile} does not match the certificate in ${certFile}`);
  return { x509, privateKey };
}

export function loadTls(certFile: string, keyFile: string): TlsPair {
  const cert = readFile(certFile, 'TLS certificate');
  const key = readFile(keyFile, 'TLS key');
  const { x509 } = parsePair(cert, key, certFile, keyFile);
  return { cert, key, certFile, fingerprint: x509.fingerprint256 };
}

/**
 * The names a generated certificate is valid for: the listen address (unless it is a wildcard),
 * localhost and both loopback addresses, the machine's hostname and the names given (--tls-names);
 * when listening on a wildcard, also the machine's current external addresses (a bonus: they may
 * change, so they are not `required` of a certificate to reuse).
 */
export function certificateNames(host: string, given: string[] = []): { dns: string[]; ips: string[]; required: string[] } {
  const h = bare(host);
  const wildcard = h === '0.0.0.0' || h === '::' || h === '';
  const dns = new Set(['localhost', os.hostname().toLowerCase()]);
  const ips = new Set(['127.0.0.1', '::1']);
  for (const n of [...(wildcard ? [] : [h]), ...given.map(bare)]) {
    if (net.isIP(n)) ips.add(n);
    else dns.add(n.toLowerCase());
  }
  const required = [...dns, ...ips];
  if (wildcard) {
    for (const a of Object.values(os.networkInterfaces()).flat()) {
      if (a && !a.internal && !(a.family === 'IPv6' && a.scopeid)) ips.add(a.address);
    }
  }
  return { dns: [...dns], ips: [...ips], required };
}

const RENEW_BEFORE_MS = 30 * 86_400_000;
const VALID_DAYS = 825; // the longest validity macOS/iOS accept for a TLS server certificate

/** Why the pair at hand cannot be reused, or null when it can. */
function unusable(x509: crypto.X509Certificate, required: string[], now: number): string | null {
  if (Date.parse(x509.validTo) - now < RENEW_BEFORE_MS) return `it expires on ${x509.validTo}`;
  const missing = required.filter((n) => (net.isIP(n) ? x509.checkIP(n) : x509.checkHost(n)) === undefined);
  return missing.length ? `it does not name ${missing.join(', ')}` : null;
}

function writeAtomically(file: string, text: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, text, { mode, flag: 'wx' });
  fs.renameSync(tmp, file);
}

/**
 * The self-signed pair under `dir` (hangar.crt, hangar.key with mode 0600): reused while it is valid
 * for 30 more days and names every required name, so clients that trusted it keep trusting it;
 * generated otherwise (`onRenew` says why the old one was replaced).
 */
export async function selfSignedTls(dir: string, o: { host: string; names?: string[]; onRenew?: (reason: string) => void; now?: number }): Promise<TlsPair> {
  const certFile = path.join(dir, 'hangar.crt');
  const keyFile = path.join(dir, 'hangar.key');
  const names = certificateNames(o.host, o.names);
  const now = o.now ?? Date.now();
  if (fs.existsSync(certFile) || fs.existsSync(keyFile)) {
    let reason: string | null;
    try {
      const cert = readFile(certFile, 'TLS certificate');
      const key = readFile(keyFile, 'TLS key');
      const { x509 } = parsePair(cert, key, certFile, keyFile);
      reason = unusable(x509, names.required, now);
      if (!reason && (fs.statSync(keyFile).mode & 0o077) !== 0) fs.chmodSync(keyFile, 0o600);
      if (!reason) return { cert, key, certFile, fingerprint: x509.fingerprint256, generated: 'reused' };
    } catch (err) {
      if (!(err instanceof TlsConfigError)) throw err;
      reason = err.message;
    }
    o.onRenew?.(reason);
  }
  // Imported here, not at the top: selfsigned's X.509 stack was a tenth of every start's time, and
  // only a start that makes a certificate needs it.
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: os.hostname() }, { name: 'organizationName', value: 'Hangar (self-signed)' }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000), notAfterDate: new Date(now + VALID_DAYS * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...names.dns.map((value) => ({ type: 2 as const, value })), ...names.ips.map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  writeAtomically(keyFile, pems.private, 0o600);
  writeAtomically(certFile, pems.cert, 0o644);
  return { cert: pems.cert, key: pems.private, certFile, fingerprint: new crypto.X509Certificate(pems.cert).fingerprint256, generated: 'new' };
}

/** The pair the plan asks for, or null for plain HTTP; generated pairs live in `<dataDir>/tls`. */
export async function resolveTls(plan: TlsPlan, o: { dataDir: string; host: string; onRenew?: (reason: string) => void }): Promise<TlsPair | null> {
  if (plan.kind === 'plain') return null;
  if (plan.kind === 'files') return loadTls(plan.certFile, plan.keyFile);
  return selfSignedTls(path.join(o.dataDir, 'tls'), { host: o.host, names: plan.names, onRenew: o.onRenew });
}
