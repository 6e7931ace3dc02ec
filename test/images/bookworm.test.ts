// The bookworm image, end to end: debootstrap build (~1.5-2 min), boot (~40 s under TCG), SSH,
// config drive, ACPI powerdown. Too slow for CI: runs only with HANGAR_TEST_BOOKWORM=1
// (HANGAR_TEST_IMAGES_DIR=<dir> reuses a build between runs).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { buildImage } from '../../src/images/build.js';
import { bootAndCheck, cannotBoot, have } from './helpers.js';

function skipReason(): string | null {
  if (process.env.HANGAR_TEST_BOOKWORM !== '1') return 'slow (debootstrap + systemd boot): set HANGAR_TEST_BOOKWORM=1';
  if (process.getuid?.() !== 0) return 'needs root (debootstrap)';
  if (!have('debootstrap')) return 'debootstrap missing (run scripts/head-packages.sh)';
  return cannotBoot();
}

const skip = skipReason();

test('bookworm: builds, boots, applies the config drive, SSH, ACPI powerdown', { skip: skip ?? false, timeout: 15 * 60_000 }, async () => {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'hangar-bookworm-'));
  try {
    const imagesDir = process.env.HANGAR_TEST_IMAGES_DIR ?? path.join(tmp, 'images');
    const t0 = Date.now();
    const { manifest, upToDate } = await buildImage('bookworm', { imagesDir, log: (l) => console.log(`# ${l}`) });
    console.log(`# bookworm ${upToDate ? 'up to date' : `built in ${Date.now() - t0} ms`}`);
    const r = await bootAndCheck({ imagesDir, manifest, workDir: tmp, memory: 512, readyTimeoutMs: 240_000, powerdownTimeoutMs: 120_000 });
    console.log(`# bookworm guest: HANGAR-READY after ${r.readyMs} ms, first SSH command done after ${r.sshMs} ms, powerdown to exit ${r.powerdownMs} ms`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});
