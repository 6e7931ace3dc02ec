// e24cloud's console on a real tiny guest (QEMU under TCG), from a network namespace the test makes
// (a user elsewhere, not the head): VNC listens on the head's console address (HANGAR_VNC_HOST, here
// the host end of a veth pair into the namespace); the port and password the console answers open it,
// and after the password's expiry the same password is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { openRemoteConsole } from '../../src/core/console.js';
import { resolveVmById } from '../../src/core/resolve.js';
import { sessionPrincipal } from '../../src/core/auth.js';
import { tinyImage, until } from '../qemu/helpers.js';
import { withRealHead } from './real-head.js';

const vncScript = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'qemu', 'vnc.js');
const HOST_END = '192.168.83.1';

/** The VNC handshake run inside the namespace: ok or failed. */
const vnc = (ns: string, port: number, password: string): Promise<string> => new Promise((resolve) => {
  execFile('ip', ['netns', 'exec', ns, process.execPath, vncScript, HOST_END, String(port), password], { timeout: 15_000, encoding: 'utf8' }, (_err, stdout) => resolve(String(stdout).trim()));
});

test('e24cloud console on a real guest: the answer\'s port and password open VNC from another namespace, and not after expiry', { timeout: 120_000 }, async (t) => {
  const img = await tinyImage();
  if ('skip' in img) return t.skip(img.skip);
  const ns = `hge${process.pid}`;
  const veth = `hge${process.pid % 100000}`;
  if (spawnSync('ip', ['netns', 'add', ns], { stdio: 'ignore' }).status !== 0) return t.skip('cannot create a network namespace here (needs root)');
  t.after(() => {
    spawnSync('ip', ['link', 'del', `${veth}a`], { stdio: 'ignore' });
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  });
  execFileSync('ip', ['link', 'add', `${veth}a`, 'type', 'veth', 'peer', 'name', `${veth}b`, 'netns', ns]);
  execFileSync('ip', ['addr', 'add', `${HOST_END}/24`, 'dev', `${veth}a`]);
  execFileSync('ip', ['link', 'set', `${veth}a`, 'up']);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  execFileSync('ip', ['-n', ns, 'addr', 'add', '192.168.83.2/24', 'dev', `${veth}b`]);
  execFileSync('ip', ['-n', ns, 'link', 'set', `${veth}b`, 'up']);

  await withRealHead('e24-console', { imagesDir: img.imagesDir, resyncMs: 500, headWaitMs: 60_000, vncHost: HOST_END }, async ({ running, admin, signed }) => {

    const tiny = (await signed('GET', '/v2/templates')).body.templates.find((x: { label: string }) => /tiny/i.test(x.label)).id;
    const made = await signed('PUT', '/v2/virtual-machines', { create_vm: { cpus: 1, ram: 192, name: 'console', os: tiny } });
    assert.equal(made.status, 200, made.text);
    const id = made.body.virtual_machine.id;
    await until('online', async () => (await signed('GET', `/v2/virtual-machines/${id}`)).body.virtual_machine.state === 'online', 60_000, 200);

    const r = await signed('POST', `/v2/virtual-machines/${id}/console`);
    assert.equal(r.status, 200, r.text);
    const c = r.body.console;
    assert.equal(c.host, HOST_END, 'the head\'s console address');
    assert.equal(await vnc(ns, c.port, c.password), 'ok');
    assert.equal(await vnc(ns, c.port, 'wrong-pw'), 'failed');
    // Expiry: the route gives 10 minutes; a short one through core shows the same password refused after it.
    const principal = await sessionPrincipal(running.hangar, admin, '127.0.0.1');
    const at = await resolveVmById(running.hangar.db, principal, id, { includeDeleted: false });
    const short = await openRemoteConsole(running.hangar, principal, at, { ttlMs: 3000 });
    assert.equal(await vnc(ns, short.port, short.password), 'ok');
    assert.equal(await vnc(ns, c.port, c.password), 'failed', 'a new password replaces the last');
    await sleep(Math.max(0, short.expiresAt - Date.now()) + 300);
    assert.equal(await vnc(ns, short.port, short.password), 'failed', 'refused after expiry');
    assert.equal((await signed('DELETE', `/v2/virtual-machines/${id}`, { deleteResources: 1 })).status, 200);
  });
});
