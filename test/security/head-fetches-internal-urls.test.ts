// Regression (issue 7, defect 1), on the head, bypassing the brain: the QEMU driver attached any
// readable file named by a file:// cdrom_url and fetched http(s) URLs from anywhere, redirects
// included. The head now checks every URL itself before it fetches: file:// only inside the ISO
// library (symlinks resolved), every address it resolved public or allow-listed, at every redirect,
// and it connects to the very address it checked. No internet: two loopback servers stand for an
// internal service (127.0.0.1, never allow-listed) and an allow-listed mirror (127.0.0.2); an
// injected resolver plays DNS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DriverError, type MachineSpec } from '../../src/drivers/driver.js';
import { fetchCdrom, type CdromOptions } from '../../src/drivers/qemu/cdrom.js';
import { QemuDriver } from '../../src/drivers/qemu/index.js';
import { qemuMissing, tmpDir } from '../qemu/helpers.js';

interface Servers { port: number; secretHits: () => number; close(): Promise<void> }

/** The internal service on 127.0.0.1:port and the mirror on 127.0.0.2:port (same port, so one name can point at either). */
async function servers(): Promise<Servers> {
  let secretHits = 0;
  const secret = http.createServer((_req, res) => {
    secretHits++;
    res.end('SECRET');
  });
  await new Promise<void>((resolve) => secret.listen(0, '127.0.0.1', resolve));
  const port = (secret.address() as { port: number }).port;
  const mirror = http.createServer((req, res) => {
    const to = (location: string) => { res.writeHead(302, { location }); res.end(); };
    if (req.url === '/good.iso') res.end('GOOD-ISO');
    else if (req.url === '/to-internal') to(`http://127.0.0.1:${port}/secret`);
    else if (req.url === '/to-mapped') to(`http://[::ffff:127.0.0.1]:${port}/secret`);
    else if (req.url === '/to-file') to('file:///etc/passwd');
    else if (req.url === '/to-self') to(`http://${req.headers.host}/good.iso`);
    else if (req.url === '/relative') to('/good.iso');
    else if (req.url === '/loop') to('/loop');
    else { res.statusCode = 404; res.end(); }
  });
  await new Promise<void>((resolve, reject) => mirror.once('error', reject).listen(port, '127.0.0.2', resolve));
  return {
    port, secretHits: () => secretHits,
    close: async () => {
      await new Promise((r) => secret.close(r));
      await new Promise((r) => mirror.close(r));
    },
  };
}

/** A resolver that gives each name its list of answers in turn (the last one again once they run out). */
function dns(answers: Record<string, string[][]>): { resolve: (host: string) => Promise<string[]>; calls: string[] } {
  const calls: string[] = [];
  const resolve = async (host: string) => {
    calls.push(host);
    const list = answers[host];
    if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return (list.length > 1 ? list.shift() : list[0])!;
  };
  return { resolve, calls };
}

const refused = (why: RegExp) => (e: unknown) => e instanceof DriverError && e.field === 'cdrom_url' && why.test(e.message);

test('the head attaches no file outside the ISO library: /etc/shadow, .., symlinked files and directories are refused', async () => {
  const dir = tmpDir('isolib');
  const isoDir = path.join(dir, 'isos');
  fs.mkdirSync(path.join(isoDir, 'debian'), { recursive: true });
  fs.writeFileSync(path.join(isoDir, 'debian', 'netinst.iso'), 'ISO');
  fs.symlinkSync('/etc/passwd', path.join(isoDir, 'passwd.iso'));
  fs.symlinkSync('/etc', path.join(isoDir, 'etc'));
  fs.symlinkSync(path.join(isoDir, 'debian', 'netinst.iso'), path.join(isoDir, 'latest.iso'));
  const opts: CdromOptions = { cacheDir: path.join(dir, 'cache'), urls: { isoDir, allow: [] } };

  assert.equal(await fetchCdrom(pathToFileURL(path.join(isoDir, 'debian', 'netinst.iso')).href, opts), path.join(isoDir, 'debian', 'netinst.iso'));
  // A link that stays inside the library is fine; it is the file it names that is attached.
  assert.equal(await fetchCdrom(pathToFileURL(path.join(isoDir, 'latest.iso')).href, opts), path.join(isoDir, 'debian', 'netinst.iso'));
  for (const url of [
    'file:///etc/shadow', 'file:///etc/passwd', `${pathToFileURL(isoDir).href}/../../../etc/passwd`,
    pathToFileURL(path.join(isoDir, 'passwd.iso')).href, pathToFileURL(path.join(isoDir, 'etc', 'passwd')).href,
  ]) {
    await assert.rejects(fetchCdrom(url, opts), refused(/ISO library/), url);
  }
  await assert.rejects(fetchCdrom(pathToFileURL(path.join(isoDir, 'debian')).href, opts), refused(/not a regular file/));
  await assert.rejects(fetchCdrom(pathToFileURL(path.join(isoDir, 'none.iso')).href, opts), refused(/no such file/));
  // No library configured: no file:// at all, not even the one that was fine above.
  await assert.rejects(fetchCdrom(pathToFileURL(path.join(isoDir, 'debian', 'netinst.iso')).href, { ...opts, urls: { isoDir: null, allow: [] } }), refused(/not enabled/));
});

test('the head connects to no internal address, however the URL spells it or the name resolves', async () => {
  const s = await servers();
  const dir = tmpDir('ssrf');
  const { resolve } = dns({ 'metadata.test': [['169.254.169.254']], 'internal.test': [['10.1.2.3']], 'brain.test': [['127.0.0.1']], 'mixed.test': [['93.184.216.34', '127.0.0.1']] });
  const opts: CdromOptions = { cacheDir: path.join(dir, 'cache'), urls: { isoDir: null, allow: [] }, resolve };
  try {
    for (const url of [
      `http://127.0.0.1:${s.port}/x.iso`, `http://[::ffff:127.0.0.1]:${s.port}/x.iso`, `http://2130706433:${s.port}/x.iso`,
      `http://0x7f.1:${s.port}/x.iso`, `http://[::1]:${s.port}/x.iso`, `http://0.0.0.0:${s.port}/x.iso`,
      `http://brain.test:${s.port}/x.iso`, 'http://metadata.test/latest/meta-data/', 'http://internal.test/x.iso',
      // one internal answer among public ones is enough to refuse (and nothing is connected to)
      `http://mixed.test:${s.port}/x.iso`,
      // an allow-listed mirror's address is not enough when it is not allow-listed
      `http://127.0.0.2:${s.port}/good.iso`,
    ]) {
      await assert.rejects(fetchCdrom(url, opts), refused(/internal address/), url);
    }
    // The system resolver too: localhost is loopback.
    await assert.rejects(fetchCdrom(`http://localhost:${s.port}/x.iso`, { ...opts, resolve: undefined }), refused(/internal address/));
    await assert.rejects(fetchCdrom('ftp://example.org/x.iso', opts), refused(/unsupported scheme ftp/));
    assert.equal(s.secretHits(), 0, 'the internal service was reached');
    assert.deepEqual(fs.existsSync(opts.cacheDir) ? fs.readdirSync(opts.cacheDir) : [], []);
  } finally {
    await s.close();
  }
});

test('an allow-listed internal mirror is fetched, by address and by name', async () => {
  const s = await servers();
  const dir = tmpDir('mirror');
  const { resolve } = dns({ 'mirror.test': [['127.0.0.2']] });
  try {
    const byAddress = await fetchCdrom(`http://127.0.0.2:${s.port}/good.iso`, { cacheDir: path.join(dir, 'a'), urls: { isoDir: null, allow: ['127.0.0.2'] }, resolve });
    assert.equal(fs.readFileSync(byAddress, 'utf8'), 'GOOD-ISO');
    const byRange = await fetchCdrom(`http://127.0.0.2:${s.port}/relative`, { cacheDir: path.join(dir, 'b'), urls: { isoDir: null, allow: ['127.0.0.0/30'] }, resolve });
    assert.equal(fs.readFileSync(byRange, 'utf8'), 'GOOD-ISO');
    const byName = await fetchCdrom(`http://mirror.test:${s.port}/good.iso`, { cacheDir: path.join(dir, 'c'), urls: { isoDir: null, allow: ['mirror.test'] }, resolve });
    assert.equal(fs.readFileSync(byName, 'utf8'), 'GOOD-ISO');
  } finally {
    await s.close();
  }
});

test('a redirect from an allow-listed mirror to an internal address is refused mid-way', async () => {
  const s = await servers();
  const dir = tmpDir('redirect');
  const opts: CdromOptions = { cacheDir: path.join(dir, 'cache'), urls: { isoDir: null, allow: ['127.0.0.2'] } };
  try {
    await assert.rejects(fetchCdrom(`http://127.0.0.2:${s.port}/to-internal`, opts), refused(/redirect.*internal address/));
    await assert.rejects(fetchCdrom(`http://127.0.0.2:${s.port}/to-mapped`, opts), refused(/redirect.*internal address/));
    await assert.rejects(fetchCdrom(`http://127.0.0.2:${s.port}/to-file`, opts), refused(/redirect.*unsupported scheme file/));
    await assert.rejects(fetchCdrom(`http://127.0.0.2:${s.port}/loop`, opts), refused(/too many redirects/));
    assert.equal(s.secretHits(), 0, 'the internal service was reached through a redirect');
    assert.deepEqual(fs.existsSync(opts.cacheDir) ? fs.readdirSync(opts.cacheDir).filter((f) => !f.endsWith('.part')) : [], []);
  } finally {
    await s.close();
  }
});

test('DNS rebinding: the head connects to the address it checked, and checks again at every hop', async () => {
  const s = await servers();
  const dir = tmpDir('rebind');
  try {
    // First answer: the allowed mirror; every later one: the internal service. One resolution per
    // hop, and the connection goes to what it returned.
    const once = dns({ 'rebind.test': [['127.0.0.2'], ['127.0.0.1']] });
    const got = await fetchCdrom(`http://rebind.test:${s.port}/good.iso`, { cacheDir: path.join(dir, 'a'), urls: { isoDir: null, allow: ['127.0.0.2'] }, resolve: once.resolve });
    assert.equal(fs.readFileSync(got, 'utf8'), 'GOOD-ISO');
    assert.deepEqual(once.calls, ['rebind.test']);
    // Allowed, then internal on the redirect back to the same name: refused at the second hop.
    const flip = dns({ 'flip.test': [['127.0.0.2'], ['127.0.0.1']] });
    await assert.rejects(
      fetchCdrom(`http://flip.test:${s.port}/to-self`, { cacheDir: path.join(dir, 'b'), urls: { isoDir: null, allow: ['127.0.0.2'] }, resolve: flip.resolve }),
      refused(/redirect.*internal address/),
    );
    assert.deepEqual(flip.calls, ['flip.test', 'flip.test']);
    assert.equal(s.secretHits(), 0, 'the internal service was reached by rebinding');
  } finally {
    await s.close();
  }
});

test('the QEMU driver itself refuses file:///etc/shadow before it starts a machine', async (t) => {
  const missing = qemuMissing();
  if (missing) { t.skip(missing); return; }
  const dir = tmpDir('drvurl');
  const d = new QemuDriver({ dataDir: dir, imagesDir: dir, statsIntervalMs: 0, urls: { isoDir: path.join(dir, 'isos'), allow: [] } });
  const spec: MachineSpec = {
    vmId: 1, name: 'cd', hostname: 'cd.test', cores: 1, memory: 64, hardwareProfile: 'virtio2013', keymap: null, discs: [],
    cdromUrl: 'file:///etc/shadow', image: null, vncPassword: 'sesame12',
    nics: [{ id: 1, mac: '52:54:00:aa:00:07', ipv4: [], ipv6: [], gateway4: null, prefix4: null, network: { mode: 'user', sshPort: 0 } }],
  };
  try {
    await assert.rejects(d.start(spec), refused(/ISO library/));
    assert.deepEqual(await d.list(), []);
  } finally {
    for (const m of await d.list()) await d.stop(m.vmId);
    await d.close();
  }
});
