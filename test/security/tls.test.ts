// Issue 7, defect 8: bigv-python and docker-machine-driver-bytemark refuse plain HTTP, and a hosting
// company will not send passwords over it. `hangar server` serves the API and the auth endpoint on one
// TLS listener, with a configured certificate or a self-signed one it generates and keeps.
// These tests run the real `hangar` command on 127.0.0.1 and make real TLS connections to it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import tls from 'node:tls';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { selfSignedTls, TlsConfigError, tlsPlan } from '../../src/brain/tls.js';

const HANGAR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/hangar.js');
const PASSWORD = 'tls-admin-password-1';

interface Server { address: string; stdout: string; stop(): Promise<void> }

/** `hangar server` with the fake driver on 127.0.0.1 (a free port); resolves once it serves. */
function serve(dataDir: string, args: string[] = [], env: Record<string, string> = {}): Promise<Server> {
  const child = spawn(process.execPath, [HANGAR, 'server', '--driver', 'fake', '--listen', '127.0.0.1:0', '--data', dataDir, ...args], {
    env: { PATH: process.env.PATH ?? '', HANGAR_ADMIN_PASSWORD: PASSWORD, HANGAR_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d; });
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`not serving after 30 s:\n${stdout}\n${stderr}`)); }, 30_000);
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`hangar server exited (${code}) before serving:\n${stdout}\n${stderr}`)); });
    child.stdout.on('data', () => {
      const line = stdout.split('\n').find((l) => l.includes('"hangar is serving"'));
      if (!line) return;
      clearTimeout(timer);
      resolve({
        address: JSON.parse(line).address, get stdout() { return stdout; },
        async stop() { child.kill('SIGTERM'); await exited; },
      });
    });
  });
}

/** `hangar server` that must refuse to start: its exit code and stderr. */
function refuse(dataDir: string, args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [HANGAR, 'server', '--driver', 'fake', '--listen', '127.0.0.1:0', '--data', dataDir, ...args], {
    env: { PATH: process.env.PATH ?? '', HANGAR_ADMIN_PASSWORD: PASSWORD }, encoding: 'utf8', timeout: 30_000,
  });
  return { status: r.status, stderr: r.stderr };
}

/** A TLS handshake as a client that trusts only `ca`; the peer's certificate chain as presented. */
function handshake(address: string, ca: string, servername: string): Promise<{ authorized: boolean; error: Error | null; chain: string[] }> {
  const { hostname, port } = new URL(address);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: hostname, port: Number(port), ca, servername, rejectUnauthorized: false }, () => {
      const chain: string[] = [];
      // Leaf first, up the issuers; a self-signed certificate is its own issuer and ends the chain.
      for (let c: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true); c?.raw; c = c.issuerCertificate) {
        const fingerprint = new crypto.X509Certificate(c.raw).fingerprint256;
        if (chain.includes(fingerprint)) break;
        chain.push(fingerprint);
      }
      resolve({ authorized: socket.authorized, error: socket.authorizationError ?? null, chain });
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** An HTTPS request verified against `ca` (hostname checked against the URL's 127.0.0.1). */
function request(address: string, method: string, url: string, ca: string, opts: { token?: string; body?: unknown } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = https.request(new URL(url, address), {
      method, ca,
      headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
    }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

const fingerprintOf = (pem: string) => new crypto.X509Certificate(pem).fingerprint256;

function openssl(cwd: string, ...args: string[]): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
}

describe('HTTPS (issue 7, defect 8)', () => {
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-tls-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('plain HTTP only on a loopback address without a certificate: any other listen address gets TLS, a generated certificate when none is given', () => {
    for (const host of ['127.0.0.1', '127.3.4.5', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) assert.deepEqual(tlsPlan({ host }), { kind: 'plain' }, host);
    for (const host of ['0.0.0.0', '::', '[::]', '10.0.0.5', '192.0.2.7', 'hangar.example.com', '2001:db8::1', '::ffff:10.0.0.1']) {
      assert.deepEqual(tlsPlan({ host }), { kind: 'generate', names: [] }, host);
    }
    assert.deepEqual(tlsPlan({ host: '127.0.0.1', force: true }), { kind: 'generate', names: [] }, '--tls forces it on loopback');
    assert.deepEqual(tlsPlan({ host: '0.0.0.0', names: ['hangar.example.com', '192.0.2.7'] }), { kind: 'generate', names: ['hangar.example.com', '192.0.2.7'] });
    for (const host of ['127.0.0.1', '0.0.0.0']) {
      assert.deepEqual(tlsPlan({ host, certFile: 'a.crt', keyFile: 'a.key' }), { kind: 'files', certFile: 'a.crt', keyFile: 'a.key' });
    }
    assert.throws(() => tlsPlan({ host: '0.0.0.0', keyFile: 'a.key' }), TlsConfigError);
    for (const bad of ['bad name', '*.example.com', 'a..b', '-x.example']) assert.throws(() => tlsPlan({ host: '0.0.0.0', names: [bad] }), /neither a DNS name nor an IP address/, bad);
    assert.throws(() => tlsPlan({ host: '0.0.0.0', certFile: 'a.crt', keyFile: 'a.key', names: ['x.example'] }), TlsConfigError, 'names cannot change a given certificate');
    assert.throws(() => tlsPlan({ host: '127.0.0.1', names: ['x.example'] }), /--tls/, 'names on plain HTTP would be ignored');
  });

  test('a certificate generated for a non-loopback address names it, localhost, both loopbacks and the hostname; it is reused until it expires, stops naming the listen address or is damaged', async () => {
    const d = path.join(dir, 'names');
    const renewals: string[] = [];
    const renew = (reason: string) => renewals.push(reason);
    const a = await selfSignedTls(d, { host: '192.0.2.7', onRenew: renew });
    const x = new crypto.X509Certificate(a.cert);
    for (const ip of ['192.0.2.7', '127.0.0.1', '::1']) assert.equal(x.checkIP(ip), ip);
    for (const name of ['localhost', os.hostname()]) assert.ok(x.checkHost(name), name);
    assert.equal(x.checkHost('example.org'), undefined);
    assert.equal(x.checkIP('192.0.2.8'), undefined);
    assert.equal(x.ca, false, 'a server certificate, not a CA');
    assert.equal(a.generated, 'new');
    assert.equal(fs.statSync(path.join(d, 'hangar.key')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(d).mode & 0o777, 0o700);

    const b = await selfSignedTls(d, { host: '192.0.2.7', onRenew: renew });
    assert.deepEqual([b.generated, b.fingerprint], ['reused', a.fingerprint]);
    assert.deepEqual(renewals, []);

    const c = await selfSignedTls(d, { host: '198.51.100.9', onRenew: renew });
    assert.notEqual(c.fingerprint, a.fingerprint);
    assert.match(renewals.pop() ?? '', /does not name 198\.51\.100\.9/);

    const e = await selfSignedTls(d, { host: '198.51.100.9', onRenew: renew, now: Date.now() + 800 * 86_400_000 });
    assert.notEqual(e.fingerprint, c.fingerprint);
    assert.match(renewals.pop() ?? '', /expires/);

    fs.writeFileSync(path.join(d, 'hangar.key'), 'damaged');
    const f = await selfSignedTls(d, { host: '198.51.100.9', onRenew: renew });
    assert.equal(f.generated, 'new');
    assert.match(renewals.pop() ?? '', /not a PEM private key/);

    // Names given with --tls-names (e.g. the name bigv-python's hard-coded auth URL resolves to here).
    const g = await selfSignedTls(d, { host: '198.51.100.9', names: ['auth.bytemark.co.uk', '203.0.113.5'], onRenew: renew });
    assert.match(renewals.pop() ?? '', /does not name auth\.bytemark\.co\.uk, 203\.0\.113\.5/);
    const gx = new crypto.X509Certificate(g.cert);
    assert.ok(gx.checkHost('auth.bytemark.co.uk'));
    assert.ok(gx.checkIP('203.0.113.5'));
    assert.ok(gx.checkIP('198.51.100.9'));
    assert.equal((await selfSignedTls(d, { host: '198.51.100.9', names: ['auth.bytemark.co.uk', '203.0.113.5'] })).fingerprint, g.fingerprint);
    assert.deepEqual(renewals, []);

    // On a wildcard, the machine's external addresses are named too.
    const w = new crypto.X509Certificate((await selfSignedTls(path.join(dir, 'wildcard'), { host: '0.0.0.0' })).cert);
    const external = Object.values(os.networkInterfaces()).flat().filter((i) => i && !i.internal && !(i.family === 'IPv6' && i.scopeid));
    for (const i of external) assert.ok(w.checkIP(i!.address), i!.address);
  });

  test('the server speaks HTTPS with the configured certificate: the chain presented is the configured leaf and its CA, and /session and the API answer over it', async () => {
    // A small CA and a server certificate it signed, made with the openssl CLI (not Hangar's code).
    const pki = path.join(dir, 'pki');
    fs.mkdirSync(pki);
    openssl(pki, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=Test CA', '-days', '2', '-keyout', 'ca.key', '-out', 'ca.crt');
    openssl(pki, 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-keyout', 'server.key', '-out', 'server.csr');
    fs.writeFileSync(path.join(pki, 'san.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    openssl(pki, 'x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.cnf', '-out', 'server.crt');
    const caPem = fs.readFileSync(path.join(pki, 'ca.crt'), 'utf8');
    const leafPem = fs.readFileSync(path.join(pki, 'server.crt'), 'utf8');
    fs.writeFileSync(path.join(pki, 'chain.crt'), leafPem + caPem);

    const server = await serve(path.join(dir, 'configured'), [], { HANGAR_TLS_CERT: path.join(pki, 'chain.crt'), HANGAR_TLS_KEY: path.join(pki, 'server.key') });
    try {
      assert.match(server.address, /^https:\/\/127\.0\.0\.1:\d+$/);
      const seen = await handshake(server.address, caPem, 'localhost');
      assert.equal(seen.error, null);
      assert.equal(seen.authorized, true);
      assert.deepEqual(seen.chain, [fingerprintOf(leafPem), fingerprintOf(caPem)], 'the configured leaf, then the CA that signed it');
      assert.match(server.stdout, new RegExp(fingerprintOf(leafPem)), 'the configured certificate\'s fingerprint is printed');

      const login = await request(server.address, 'POST', '/session', caPem, { body: { username: 'admin', password: PASSWORD } });
      assert.equal(login.status, 200, login.text);
      const accounts = await request(server.address, 'GET', '/accounts', caPem, { token: login.text });
      assert.equal(accounts.status, 200, accounts.text);
      assert.ok(JSON.parse(accounts.text).some((a: { name: string }) => a.name === 'demo'));
      const prefixed = await request(server.address, 'POST', '/auth/session', caPem, { body: { username: 'admin', password: PASSWORD } });
      assert.equal(prefixed.status, 200, 'the /auth prefix is on the same TLS listener');

      // The check can fail: a client trusting another CA, or asking for another name, is not verified.
      openssl(pki, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=Other CA', '-days', '2', '-keyout', 'other.key', '-out', 'other.crt');
      assert.equal((await handshake(server.address, fs.readFileSync(path.join(pki, 'other.crt'), 'utf8'), 'localhost')).authorized, false);
      assert.equal((await handshake(server.address, caPem, 'example.org')).authorized, false);
    } finally {
      await server.stop();
    }
  });

  test('with --tls and no certificate, a self-signed one is generated under the data dir (key 0600); the printed SHA-256 fingerprint is the presented one, a client trusting it verifies localhost, and the next start reuses it', async () => {
    const data = path.join(dir, 'generated');
    const first = await serve(data, ['--tls']);
    let fingerprint: string;
    try {
      const certFile = path.join(data, 'tls', 'hangar.crt');
      const keyFile = path.join(data, 'tls', 'hangar.key');
      assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600, 'the private key is readable by its owner only');
      const certPem = fs.readFileSync(certFile, 'utf8');
      fingerprint = fingerprintOf(certPem);
      const printed = /SHA-256 fingerprint ([0-9A-F:]{95})/.exec(first.stdout)?.[1];
      assert.equal(printed, fingerprint, 'the printed fingerprint is the generated certificate\'s');

      const seen = await handshake(first.address, certPem, 'localhost');
      assert.equal(seen.error, null);
      assert.equal(seen.authorized, true);
      assert.deepEqual(seen.chain, [fingerprint]);

      const login = await request(first.address, 'POST', '/session', certPem, { body: { username: 'admin', password: PASSWORD } });
      assert.equal(login.status, 200, login.text);
      const vms = await request(first.address, 'GET', '/accounts/demo/groups/default/virtual_machines', certPem, { token: login.text });
      assert.equal(vms.status, 200, vms.text);
      assert.deepEqual(JSON.parse(vms.text), []);
    } finally {
      await first.stop();
    }
    const second = await serve(data, [], { HANGAR_TLS: '1' });
    try {
      const seen = await handshake(second.address, fs.readFileSync(path.join(data, 'tls', 'hangar.crt'), 'utf8'), 'localhost');
      assert.deepEqual(seen.chain, [fingerprint], 'the same certificate after a restart');
      assert.match(second.stdout, new RegExp(`SHA-256 fingerprint ${fingerprint}`));
    } finally {
      await second.stop();
    }
  });

  test('a loopback address without a certificate stays plain HTTP (the README demo)', async () => {
    const server = await serve(path.join(dir, 'plain'));
    try {
      assert.match(server.address, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(fs.existsSync(path.join(dir, 'plain', 'tls')), false, 'no certificate generated');
    } finally {
      await server.stop();
    }
  });

  test('a missing, unreadable or mismatched certificate or key is a one-line start-up error, not a stack trace', () => {
    const pki = path.join(dir, 'bad');
    fs.mkdirSync(pki);
    openssl(pki, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=one', '-days', '2', '-keyout', 'one.key', '-out', 'one.crt');
    openssl(pki, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=two', '-days', '2', '-keyout', 'two.key', '-out', 'two.crt');
    const data = path.join(dir, 'bad-data');
    const cases: [string[], RegExp][] = [
      [['--tls-cert', path.join(pki, 'one.crt'), '--tls-key', path.join(pki, 'two.key')], /does not match/],
      [['--tls-cert', path.join(pki, 'one.crt'), '--tls-key', path.join(pki, 'missing.key')], /missing\.key.*no such file/i],
      [['--tls-cert', path.join(pki, 'one.key'), '--tls-key', path.join(pki, 'one.key')], /one\.key.*not a PEM certificate/],
      [['--tls-cert', path.join(pki, 'one.crt'), '--tls-key', path.join(pki, 'one.crt')], /one\.crt.*not a PEM private key/],
      [['--tls-cert', path.join(pki, 'one.crt')], /--tls-cert and --tls-key/],
    ];
    for (const [args, message] of cases) {
      const r = refuse(data, args);
      assert.equal(r.status, 1, `${args.join(' ')}: exit status`);
      assert.match(r.stderr, /^hangar: .+\n$/, `${args.join(' ')}: one line, got:\n${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    }
  });
});
