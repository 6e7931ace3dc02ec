// The QEMU driver's snapshots (docs/domain.md §16) on real qcow2 discs made by qemu-img, no guest
// booted: a marker written with qemu-io before the snapshot is back after a restore, every disc of
// the VM has the snapshot (qemu-img snapshot -l), a repeated take or delete finds the work done, a
// restore of a snapshot a disc lacks changes no disc, and a delete removes it from every disc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { QemuDriver } from '../../src/drivers/qemu/index.js';
import { DriverError, type DiscRef } from '../../src/drivers/driver.js';
import { run } from '../../src/drivers/qemu/exec.js';
import { have, tmpDir } from './helpers.js';

const missing = ['qemu-img', 'qemu-io'].filter((c) => !have(c));

test('QEMU snapshots: taken on every disc, restored to the marker, deleted, all with qemu-img', { skip: missing.length ? `not installed: ${missing.join(', ')}` : false, timeout: 60_000 }, async () => {
  const dir = tmpDir('snap');
  const driver = new QemuDriver({ dataDir: dir, imagesDir: dir, statsIntervalMs: 0 });
  try {
    const discs: DiscRef[] = [
      { id: 301, vmId: 3, label: 'vda', grade: 'sata', size: 16 },
      { id: 302, vmId: 3, label: 'vdb', grade: 'sata', size: 8 },
    ];
    for (const d of discs) await driver.createDisc(d);
    const file = (d: DiscRef) => path.join(dir, 'discs', d.grade, `disc-${d.id}.qcow2`);
    const write = (d: DiscRef, byte: string) => run('qemu-io', ['-f', 'qcow2', '-c', `write -P ${byte} 0 64k`, file(d)]);
    /** Whether the disc's first 64 KiB are all `byte` (qemu-io fails on a pattern mismatch). */
    const holds = (d: DiscRef, byte: string) => run('qemu-io', ['-f', 'qcow2', '-c', `read -P ${byte} 0 64k`, file(d)]).then(() => true, () => false);
    const listed = async (d: DiscRef) => (await run('qemu-img', ['snapshot', '-l', file(d)])).stdout;

    for (const d of discs) await write(d, '0x41');
    await driver.createSnapshot(discs, 'hangar-one');
    await driver.createSnapshot(discs, 'hangar-one'); // a repeat (a retried operation) finds it taken
    for (const d of discs) {
      const names = (await listed(d)).split('\n').filter((l) => /\bhangar-one\b/.test(l));
      assert.equal(names.length, 1, `${d.label} has the snapshot once:\n${await listed(d)}`);
    }

    for (const d of discs) await write(d, '0x42');
    assert.ok(await holds(discs[0]!, '0x42'));
    await driver.restoreSnapshot(discs, 'hangar-one');
    for (const d of discs) assert.ok(await holds(d, '0x41'), `${d.label} is back to the marker taken with the snapshot`);

    // A disc without the snapshot (added since): refused before any disc is changed.
    const added: DiscRef = { id: 303, vmId: 3, label: 'vdc', grade: 'sata', size: 8 };
    await driver.createDisc(added);
    await write(discs[0]!, '0x43');
    await assert.rejects(driver.restoreSnapshot([...discs, added], 'hangar-one'), (e: unknown) => e instanceof DriverError && /vdc has no snapshot hangar-one/.test(e.message));
    assert.ok(await holds(discs[0]!, '0x43'), 'the first disc was left as it was');

    await driver.deleteSnapshot(discs, 'hangar-one');
    await driver.deleteSnapshot(discs, 'hangar-one'); // idempotent
    for (const d of discs) assert.doesNotMatch(await listed(d), /hangar-one/, `${d.label} no longer has it`);
    await assert.rejects(driver.restoreSnapshot(discs, 'hangar-one'), /has no snapshot hangar-one/);
  } finally {
    await driver.close();
  }
});
