// The bookworm image, end to end: debootstrap build (~2 min), boot (~40 s under TCG), SSH, the
// config drive, ACPI powerdown; then cloud-init applying a #cloud-config user-data of the drive
// (NoCloud) without touching what Hangar's first boot does. Too slow for CI: runs only with
// HANGAR_TEST_BOOKWORM=1 (HANGAR_TEST_IMAGES_DIR=<dir> reuses a build between runs).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildImage } from '../../src/images/build.js';
import type { Manifest } from '../../src/images/manifest.js';
import { bootAndCheck, bootGuest, cannotBoot, have, readyLine, waitFor } from './helpers.js';

function skipReason(): string | null {
  if (process.env.HANGAR_TEST_BOOKWORM !== '1') return 'slow (debootstrap + systemd boot): set HANGAR_TEST_BOOKWORM=1';
  if (process.getuid?.() !== 0) return 'needs root (debootstrap)';
  if (!have('debootstrap')) return 'debootstrap missing (run scripts/head-packages.sh)';
  return cannotBoot();
}

const skip = skipReason();

const CLOUD_CONFIG = `#cloud-config
bootcmd:
  - echo boot >> /root/ci-bootcmd
write_files:
  - path: /etc/hangar-ci-test
    content: "written by cloud-init\\n"
    permissions: '0640'
runcmd:
  - echo "runcmd on $(hostname)" >> /root/ci-runcmd
`;

describe('bookworm image', { skip: skip ?? false, timeout: 20 * 60_000 }, () => {
  let tmp: string;
  let imagesDir: string;
  let manifest: Manifest;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hangar-bookworm-'));
    imagesDir = process.env.HANGAR_TEST_IMAGES_DIR ?? path.join(tmp, 'images');
    const t0 = Date.now();
    const r = await buildImage('bookworm', { imagesDir, log: (l) => console.log(`# ${l}`) });
    manifest = r.manifest;
    console.log(`# bookworm ${r.upToDate ? 'up to date' : `built in ${Date.now() - t0} ms`}, disc ${(manifest.discSize ?? 0) / 2 ** 20} MiB`);
  });

  after(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('builds, boots, applies the config drive (a #! user-data runs once, cloud-init stays out), SSH, ACPI powerdown', async () => {
    const r = await bootAndCheck({ imagesDir, manifest, workDir: tmp, memory: 512, readyTimeoutMs: 240_000, powerdownTimeoutMs: 120_000 }, async (g) => {
      // cloud-init does not run when the drive's user-data is a script: it cannot run it a second time
      const out = await waitFor('ssh', 60_000, () => g.ssh('ls /run/cloud-init 2>/dev/null | wc -l; systemctl is-active cloud-init-local.service cloud-final.service; test -e /var/lib/cloud/instance && echo has-instance || echo no-instance'), 1000);
      assert.deepEqual(out.trim().split('\n'), ['0', 'inactive', 'inactive', 'no-instance'], out);
    });
    console.log(`# bookworm guest (#! user-data): HANGAR-READY after ${r.readyMs} ms (${r.readyLine}), first SSH command done after ${r.sshMs} ms, powerdown to exit ${r.powerdownMs} ms`);
  });

  test('cloud-init applies a #cloud-config user-data of the drive once per instance and leaves Hangar\'s config alone', async () => {
    const g = await bootGuest({ imagesDir, manifest, workDir: tmp, memory: 512, userData: CLOUD_CONFIG });
    let failed = true;
    try {
      const readyMs = await g.ready(300_000);
      const facts = 'hostname; cat /root/.ssh/authorized_keys; grep ^root: /etc/shadow | cut -d: -f2 | cut -c1-14; '
        + 'cat /etc/hangar-ci-test; stat -c %a /etc/hangar-ci-test; cat /root/ci-runcmd; cat /root/ci-bootcmd; '
        + 'test -e /root/user-data-marker -o -e /var/log/hangar-user-data.log && echo hangar-ran-it || echo hangar-left-it; '
        + 'id debian >/dev/null 2>&1 && echo has-debian-user || echo no-debian-user; '
        + 'ls /run/systemd/network; ls -d /etc/netplan /etc/network/interfaces.d/50-cloud-init* /etc/systemd/network/*cloud-init* 2>/dev/null | wc -l; '
        + 'cat /etc/ssh/ssh_host_ed25519_key.pub; tr -d "\\n" < /run/cloud-init/result.json';
      const first = (await waitFor('ssh', 60_000, () => g.ssh(facts), 1000)).trim().split('\n');
      console.log(`# bookworm guest (#cloud-config user-data): HANGAR-READY after ${readyMs} ms (${readyLine(await g.serial())})`);
      console.log(`# ${/Cloud-init v\. \S+ finished.*/.exec(await g.serial())?.[0] ?? 'no final message from cloud-init'}`);
      // cloud-init's last stage ran, from our drive, without errors
      const result = JSON.parse(first.pop()!) as { v1: { datasource: string; errors: string[] } };
      assert.deepEqual(result.v1.errors, []);
      assert.match(result.v1.datasource, /^DataSourceNoCloud .*seed=\/dev\/vd/);
      const hostKey = first.pop();
      assert.deepEqual(first, [
        g.hostname, g.publicKey, '$6$hangarsalt$',
        'written by cloud-init', '640', `runcmd on ${g.hostname}`, 'boot',
        'hangar-left-it', 'no-debian-user', '10-hangar.network', '0',
      ], first.join('\n'));
      assert.match(await g.serial(), /user-data is cloud-init's: applied by cloud-init/);

      // the next boot of the same instance: runcmd (per instance) does not run again, bootcmd (every boot) does
      await g.ssh('systemctl reboot').catch(() => '');
      const againMs = await g.ready(300_000, 2);
      const again = (await waitFor('ssh after reboot', 60_000, () => g.ssh('cat /root/ci-runcmd | wc -l; cat /root/ci-bootcmd | wc -l; cat /etc/ssh/ssh_host_ed25519_key.pub; test -e /run/cloud-init/result.json && echo final-ran'), 1000)).trim().split('\n');
      assert.deepEqual(again, ['1', '2', hostKey, 'final-ran'], again.join('\n'));
      console.log(`# bookworm guest (#cloud-config user-data): rebooted to HANGAR-READY in ${againMs - readyMs} ms`);
      await g.powerdown(120_000);
      failed = false;
    } finally {
      await g.close(failed);
    }
  });
});
