// Regression (issue 7, defect 1), at the API: cdrom_url took file:///etc/shadow and any internal
// address from any account admin, so a tenant could mount the head's files as a CD or make the head
// fetch its metadata service, its private network or the brain's own API. Now a tenant gives only
// http(s) URLs to public addresses; file:// only inside the ISO library, internal hosts only when
// allow-listed, both set by the cluster admin. Every refusal is a 400 in BigV's shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { account, startTest, type TestHangar } from '../helpers.js';

const GRP = '/accounts/acme/groups/default';
const WEB = `${GRP}/virtual_machines/web`;

async function tenantOfAcme(opts: Parameters<typeof startTest>[0] = {}): Promise<{ t: TestHangar; token: string; isoDir: string }> {
  const isoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-isos-'));
  const t = await startTest({ ...opts, config: { urls: { isoDir, allow: ['10.20.0.0/16', 'mirror.internal'] }, ...opts.config } });
  const acme = await account(t, 'acme');
  const token = await t.user('tenant', { level: 'account_admin', account_id: acme.id });
  const r = await t.req('POST', `${GRP}/vm_create`, { token, body: { virtual_machine: { name: 'web' }, discs: [{ size: 1024 }] } });
  assert.equal(r.status, 202, r.text);
  return { t, token, isoDir };
}

/** The cdrom_url is refused on all three ways in (bare create, vm_create, PUT) and nothing is written. */
async function refusedEverywhere(t: TestHangar, token: string, url: string): Promise<void> {
  const creates = [
    { url: `${GRP}/virtual_machines`, body: { name: 'fresh', cdrom_url: url } },
    { url: `${GRP}/vm_create`, body: { virtual_machine: { name: 'fresh', cdrom_url: url }, discs: [{ size: 1024 }] } },
  ];
  for (const c of creates) {
    const r = await t.req('POST', c.url, { token, body: c.body });
    assert.equal(r.status, 400, `${url} on ${c.url}: ${r.text}`);
    assert.deepEqual(Object.keys(r.body), ['cdrom_url'], r.text);
    assert.ok(Array.isArray(r.body.cdrom_url) && typeof r.body.cdrom_url[0] === 'string', r.text);
  }
  const put = await t.req('PUT', WEB, { token, body: { cdrom_url: url } });
  assert.equal(put.status, 400, `${url} on PUT: ${put.text}`);
  assert.deepEqual(Object.keys(put.body), ['cdrom_url'], put.text);
  const vm = await t.req('GET', WEB, { token });
  assert.equal(vm.body.cdrom_url, null, `${url} was stored`);
  const fresh = await t.req('GET', `${GRP}/virtual_machines/fresh`, { token });
  assert.equal(fresh.status, 404, `${url}: a machine was created`);
}

test('a tenant cannot mount the head\'s files: file:///etc/shadow and file:// outside the ISO library are 400', async () => {
  const { t, token, isoDir } = await tenantOfAcme();
  try {
    for (const url of [
      'file:///etc/shadow', 'file://localhost/etc/shadow', 'file:///etc/passwd',
      `${pathToFileURL(isoDir).href}/../../etc/shadow`, `${pathToFileURL(isoDir).href}/%2e%2e/%2e%2e/etc/shadow`,
      pathToFileURL(isoDir).href, `${pathToFileURL(isoDir).href}-evil/x.iso`, 'file://otherhost/x.iso',
    ]) await refusedEverywhere(t, token, url);
  } finally {
    await t.close();
  }
});

test('with no ISO library configured, no file:// URL at all is accepted', async () => {
  const t = await startTest({ config: { urls: { isoDir: null, allow: [] } } });
  try {
    const acme = await account(t, 'acme');
    const token = await t.user('tenant', { level: 'account_admin', account_id: acme.id });
    await t.req('POST', `${GRP}/vm_create`, { token, body: { virtual_machine: { name: 'web' }, discs: [{ size: 1024 }] } });
    await refusedEverywhere(t, token, 'file:///tmp/x.iso');
  } finally {
    await t.close();
  }
});

test('a tenant cannot point the head at an internal address, however it is spelt (SSRF)', async () => {
  const { t, token } = await tenantOfAcme();
  try {
    for (const url of [
      'http://127.0.0.1/x.iso', 'http://127.0.0.1:8080/accounts', 'https://127.1/x.iso', 'http://169.254.169.254/latest/meta-data/',
      'http://[::1]/x.iso', 'http://[::ffff:127.0.0.1]/x.iso', 'http://[::ffff:169.254.169.254]/', 'http://[fd00::1]/x.iso',
      'http://[fe80::1]/x.iso', 'http://[::]/x.iso', 'http://0.0.0.0/x.iso', 'http://0/x.iso', 'http://10.0.0.1/x.iso',
      'http://172.16.5.4/x.iso', 'http://192.168.1.1/x.iso', 'http://100.64.0.1/x.iso', 'http://224.0.0.1/x.iso',
      'http://2130706433/x.iso', 'http://0x7f.1/x.iso', 'http://0177.0.0.1/x.iso', 'http://[::127.0.0.1]/x.iso',
      'http://[64:ff9b::7f00:1]/x.iso',
      // schemes BigV does not give tenants
      'ftp://example.com/x.iso', 'gopher://example.com/', 'data:text/plain,hi', 'javascript:alert(1)',
    ]) await refusedEverywhere(t, token, url);
  } finally {
    await t.close();
  }
});

test('allowed: public http(s) URLs, a file in the ISO library, allow-listed internal mirrors', async () => {
  const { t, token, isoDir } = await tenantOfAcme();
  try {
    fs.mkdirSync(path.join(isoDir, 'debian'));
    for (const url of [
      'https://cdimage.debian.org/debian-cd/current/amd64/iso-cd/debian.iso', 'http://93.184.216.34/x.iso', 'http://[2606:4700::1]/x.iso',
      pathToFileURL(path.join(isoDir, 'debian', 'netinst.iso')).href, 'http://10.20.3.4/x.iso', 'http://mirror.internal/x.iso',
    ]) {
      const r = await t.req('PUT', WEB, { token, body: { cdrom_url: url } });
      assert.equal(r.status, 200, `${url}: ${r.text}`);
      assert.equal(r.body.cdrom_url, url);
    }
    const eject = await t.req('PUT', WEB, { token, body: { cdrom_url: '' } });
    assert.equal(eject.body.cdrom_url, null);
  } finally {
    await t.close();
  }
});

test('a bad allow-list entry or a relative ISO directory stops the start with the reason', async () => {
  await assert.rejects(startTest({ config: { urls: { isoDir: null, allow: ['10.0.0.0/33'] } } }), /allow-list entry "10.0.0.0\/33" is not a host name, an address or a CIDR/);
  await assert.rejects(startTest({ config: { urls: { isoDir: 'isos', allow: [] } } }), /ISO directory must be an absolute path/);
});
