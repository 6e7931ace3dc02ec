// Clone and template through core (core/vms/clone.ts, core/templates.ts; docs/vm-ops.md) with the
// fake driver: a clone is a new VM on the source's head with copies of every disc, its own NIC and
// addresses, the overrides, off unless asked; a template is an account image, pending then active,
// that a later create and a reimage (left off when asked) use, invisible to another account; an ISO
// mounted on a running VM reaches its drive at once and a stopped one's at its next boot, boot_from
// cdrom reaches the head's spec; apply_disks hands the secondary discs to the head (formatting only
// blank ones); rebuild_network rewrites the config drive, applied at once only when asked on a running VM.
// On SQLite, and on PostgreSQL when HANGAR_TEST_DATABASE_URL is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storesFor, withCore, type CoreFx } from './fixture.js';
import { createVm } from '../../src/core/vms/create.js';
import { reimageVm } from '../../src/core/vms/actions.js';
import { cloneVm } from '../../src/core/vms/clone.js';
import { createTemplate } from '../../src/core/templates.js';
import { createAccount } from '../../src/core/tree.js';
import { DomainError } from '../../src/core/errors.js';
import type { VmPlace } from '../../src/core/resolve.js';
import type { Principal } from '../../src/core/principal.js';
import { mountIso, setBootFrom, unmountIso } from '../../src/core/vms/media.js';
import { applyDiscs } from '../../src/core/vms/apply-discs.js';
import { rebuildNetwork } from '../../src/core/vms/rebuild-network.js';
import { scanIsoLibrary } from '../../src/core/isos.js';
import { powerVm } from '../../src/core/vms/power.js';
import { createDisc } from '../../src/core/discs.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const STORES = storesFor('vm-ops');

async function placeOf(fx: CoreFx, vmId: number): Promise<VmPlace> {
  const vm = await fx.t.running.hangar.db.selectFrom('vms').selectAll().where('id', '=', vmId).executeTakeFirstOrThrow();
  return { vm, group: fx.group, account: fx.account };
}

/** Run what the VM's head has queued, and the operation's state and error. */
async function settled(fx: CoreFx, vmId: number, opUuid: string): Promise<{ state: string; error: string | null }> {
  const h = fx.t.running.hangar;
  const vm = await h.db.selectFrom('vms').select('head_id').where('id', '=', vmId).executeTakeFirstOrThrow();
  await h.heads.kick(vm.head_id!, vmId);
  return h.db.selectFrom('operations').select(['state', 'error']).where('uuid', '=', opUuid).executeTakeFirstOrThrow();
}

for (const store of STORES) {
  test(`clone: a new VM on the source's head with copies of its discs, the overrides, off unless asked (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const made = await createVm(h, fx.admin, fx.account, fx.group, {
        name: 'src', label: 'Source', cores: 1, memoryMiB: 1024, powerOn: true,
        discs: [{ label: 'vda', grade: 'sata', sizeMiB: 2048 }, { label: 'data', grade: 'ssd', sizeMiB: 1024 }],
        image: { distribution: 'tiny', rootPassword: 'secret12' },
      }, 'bigv');
      assert.equal((await settled(fx, made.view.row.id, made.operation)).state, 'done');
      const source = await placeOf(fx, made.view.row.id);

      const clone = await cloneVm(h, fx.admin, source, { label: 'Copy', guestHostname: 'copy-1', memoryMiB: 2048 }, 'bigv');
      assert.deepEqual(await settled(fx, clone.view.row.id, clone.operation), { state: 'done', error: null });
      const row = await h.db.selectFrom('vms').selectAll().where('id', '=', clone.view.row.id).executeTakeFirstOrThrow();
      assert.equal(row.name, 'copy');
      assert.equal(row.label, 'Copy');
      assert.equal(row.guest_hostname, 'copy-1');
      assert.equal(row.memory, 2048);
      assert.equal(row.cores, 1);
      assert.equal(row.head_id, source.vm.head_id, 'on the head that holds the source\'s discs');
      assert.equal(row.last_imaged_with, 'tiny', 'it boots the source\'s image');
      assert.equal(row.power_on, 0, 'not started unless asked');
      const discs = await h.db.selectFrom('discs').selectAll().where('vm_id', '=', row.id).orderBy('id').execute();
      assert.deepEqual(discs.map((d) => [d.label, d.storage_grade, d.size]), [['vda', 'sata', 2048], ['data', 'ssd', 1024]]);
      const sourceDiscs = await h.db.selectFrom('discs').select('id').where('vm_id', '=', source.vm.id).orderBy('id').execute();
      assert.ok(driver.calls.includes(`cloneMachine ${source.vm.id} ${sourceDiscs.map((d, i) => `${d.id}>${discs[i]!.id}`).join(',')}`), driver.calls.join('\n'));
      assert.equal(driver.images.get(discs[0]!.id)?.image, 'tiny');
      // Its own NIC and addresses.
      const ips = await h.db.selectFrom('ips').innerJoin('nics', 'nics.id', 'ips.nic_id').select(['ips.address', 'nics.vm_id']).where('nics.vm_id', 'in', [row.id, source.vm.id]).execute();
      const mine = ips.filter((i) => i.vm_id === row.id).map((i) => i.address);
      assert.equal(mine.length, 2);
      assert.ok(mine.every((a) => !ips.some((i) => i.vm_id === source.vm.id && i.address === a)));

      // Asked to start: on once copied; a bad override writes nothing.
      const started = await cloneVm(h, fx.admin, source, { name: 'copy2', startAfterwards: true }, 'bigv');
      await settled(fx, started.view.row.id, started.operation);
      assert.equal((await h.db.selectFrom('vms').select('power_on').where('id', '=', started.view.row.id).executeTakeFirstOrThrow()).power_on, 1);
      assert.ok((await driver.status(started.view.row.id)).state === 'running');
      const before = (await h.db.selectFrom('vms').select('id').execute()).length;
      await assert.rejects(cloneVm(h, fx.admin, source, { cores: 0 }, 'bigv'), DomainError);
      await assert.rejects(cloneVm(h, fx.admin, source, { name: 'copy2' }, 'bigv'), (e: unknown) => e instanceof DomainError && e.code === 'taken');
      assert.equal((await h.db.selectFrom('vms').select('id').execute()).length, before);

      // Not while an act rewrites the source's discs (a reimage held mid-way by its head).
      await powerVm(h, fx.admin, await placeOf(fx, source.vm.id), { intent: 'stop' });
      await h.heads.kick(source.vm.head_id!, source.vm.id);
      const held = driver.holdNext('reimage');
      const reimaging = await reimageVm(h, fx.admin, await placeOf(fx, source.vm.id), { distribution: 'tiny' }, { startAfterwards: false });
      await held.reached;
      await assert.rejects(cloneVm(h, fx.admin, source, { name: 'copy4' }, 'bigv'),
        (e: unknown) => e instanceof DomainError && e.code === 'conflict' && e.issues[0]!.params?.operation === reimaging);
      held.release();
      assert.equal((await settled(fx, source.vm.id, reimaging)).state, 'done');

      // A copy that fails leaves the clone off with the head's reason.
      driver.failNext('cloneMachine', 'no space left');
      const failed = await cloneVm(h, fx.admin, source, { name: 'copy3', startAfterwards: true }, 'bigv');
      assert.equal((await settled(fx, failed.view.row.id, failed.operation)).state, 'failed');
      const f = await h.db.selectFrom('vms').select(['power_on', 'head_note']).where('id', '=', failed.view.row.id).executeTakeFirstOrThrow();
      assert.deepEqual(f, { power_on: 0, head_note: 'vm.clone failed: no space left' });
    });
  });

  test(`template: an account image, pending then active, used by a later create and a reimage (${store.name})`, async () => {
    await withCore(store.postgres, async (fx) => {
      const h = fx.t.running.hangar;
      const driver = fx.t.drivers[0]!;
      const made = await createVm(h, fx.admin, fx.account, fx.group, {
        name: 'golden', cores: 1, memoryMiB: 1024, powerOn: false,
        discs: [{ label: 'vda', grade: 'sata', sizeMiB: 2048 }], image: { distribution: 'tiny' },
      }, 'bigv');
      await settled(fx, made.view.row.id, made.operation);
      const at = await placeOf(fx, made.view.row.id);

      const tpl = await createTemplate(h, fx.admin, at, { label: 'Golden image v1' });
      assert.equal(tpl.image.name, 'tpl-golden-image-v1');
      assert.equal(tpl.image.status, 'active');
      assert.equal(tpl.image.ownerAccountId, fx.account.id);
      assert.equal(tpl.image.source, 'template');
      assert.deepEqual(tpl.image.supports, { password: true, sshKey: true, cloudInit: false, firstbootScript: true }, 'the features of the image it came from');
      const disc = await h.db.selectFrom('discs').select('id').where('vm_id', '=', at.vm.id).executeTakeFirstOrThrow();
      assert.ok(driver.calls.includes(`templateFromDisc ${disc.id} tpl-golden-image-v1 tiny`), driver.calls.join('\n'));
      assert.match((await h.db.selectFrom('heads').select('images').where('id', '=', at.vm.head_id!).executeTakeFirstOrThrow()).images, /tpl-golden-image-v1/);
      assert.equal((await createTemplate(h, fx.admin, at, { label: 'Golden image v1' })).image.name, 'tpl-golden-image-v1-2');

      // A later create names it by name (or public id); the VM is imaged with it.
      const fromTpl = await createVm(h, fx.admin, fx.account, fx.group, {
        name: 'child', cores: 1, memoryMiB: 1024, powerOn: false,
        discs: [{ label: 'vda', grade: 'sata', sizeMiB: 4096 }], image: { distribution: tpl.image.uuid, rootPassword: 'secret12' },
      }, 'bigv');
      assert.equal((await settled(fx, fromTpl.view.row.id, fromTpl.operation)).state, 'done');
      assert.ok(driver.calls.includes(`reimage ${fromTpl.view.row.id} tpl-golden-image-v1`), driver.calls.join('\n'));

      // A reimage (rebuild) with it, left off when asked.
      const child = await placeOf(fx, fromTpl.view.row.id);
      const op = await reimageVm(h, fx.admin, child, { distribution: 'tpl-golden-image-v1' }, { startAfterwards: false });
      assert.equal((await settled(fx, child.vm.id, op)).state, 'done');
      const after = await h.db.selectFrom('vms').select(['power_on', 'last_imaged_with']).where('id', '=', child.vm.id).executeTakeFirstOrThrow();
      assert.deepEqual(after, { power_on: 0, last_imaged_with: 'tpl-golden-image-v1' });
      // Started, its head boots it as the template (the name reaches the head as the image to boot).
      const started = await powerVm(h, fx.admin, await placeOf(fx, child.vm.id), { intent: 'start' });
      await settled(fx, child.vm.id, started);
      assert.equal(driver.machines.get(child.vm.id)?.spec.image, 'tpl-golden-image-v1');

      // Another account's user does not see it: the name is not in the list for them.
      const other = await createAccount(h, fx.admin, { name: 'other' });
      const otherGroup = await h.db.selectFrom('groups').selectAll().where('account_id', '=', other.id).executeTakeFirstOrThrow();
      const stranger: Principal = { ...fx.admin, grants: [{ id: 0, level: 'account_admin', accountId: other.id, groupId: null, vmId: null }] };
      await assert.rejects(createVm(h, stranger, other, otherGroup, {
        name: 'thief', cores: 1, memoryMiB: 1024, discs: [{ label: 'vda', grade: 'sata', sizeMiB: 4096 }], image: { distribution: 'tpl-golden-image-v1' },
      }, 'bigv'), (e: unknown) => e instanceof DomainError && e.issues.some((i) => i.field === 'distribution' && i.code === 'not_in_list'));

      // A template the head fails to make is `failed`, and no create may use it.
      driver.failNext('templateFromDisc', 'disc unreadable');
      const bad = await createTemplate(h, fx.admin, at, { label: 'broken' });
      assert.equal(bad.image.status, 'failed');
      await assert.rejects(createVm(h, fx.admin, fx.account, fx.group, {
        name: 'nope', cores: 1, memoryMiB: 1024, discs: [{ label: 'vda', grade: 'sata', sizeMiB: 4096 }], image: { distribution: 'tpl-broken' },
      }, 'bigv'), DomainError);
    });
  });

  test(`ISO mount and boot_from, apply_disks and rebuild_network reach the head (${store.name})`, async () => {
    const lib = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-vmops-isos-'));
    fs.writeFileSync(path.join(lib, 'installer.iso'), 'iso');
    try {
      await withCore(store.postgres, async (fx) => {
        const h = fx.t.running.hangar;
        const driver = fx.t.drivers[0]!;
        await scanIsoLibrary(h, fx.admin);
        const made = await createVm(h, fx.admin, fx.account, fx.group, {
          name: 'box', cores: 1, memoryMiB: 1024, powerOn: true, bootFrom: 'cdrom', cdromUrl: `file://${lib}/installer.iso`,
          discs: [{ label: 'vda', grade: 'sata', sizeMiB: 2048 }],
        }, 'bigv');
        await settled(fx, made.view.row.id, made.operation);
        const vmId = made.view.row.id;
        assert.equal(driver.machines.get(vmId)?.spec.bootFrom, 'cdrom', 'created to boot its ISO');

        // Mounted on a running VM: its drive changes at once; ejected likewise.
        const on = await mountIso(h, fx.admin, await placeOf(fx, vmId), { isoId: 'installer' }, 'bigv');
        assert.equal(on.cdromUrl, `file://${lib}/installer.iso`);
        assert.ok(on.operation);
        assert.equal(driver.cdroms.get(vmId), on.cdromUrl);
        await unmountIso(h, fx.admin, await placeOf(fx, vmId), 'bigv');
        assert.equal(driver.cdroms.get(vmId), null);
        await assert.rejects(mountIso(h, fx.admin, await placeOf(fx, vmId), { url: 'file:///etc/shadow' }, 'bigv'), DomainError);
        assert.equal((await h.db.selectFrom('vms').select('cdrom_url').where('id', '=', vmId).executeTakeFirstOrThrow()).cdrom_url, null, 'a refused URL writes nothing');
        await setBootFrom(h, fx.admin, await placeOf(fx, vmId), 'disc');
        assert.equal((await h.db.selectFrom('vms').select('boot_from').where('id', '=', vmId).executeTakeFirstOrThrow()).boot_from, 'disc');

        // apply_disks: the secondary discs, formatted once (a disc formatted before is not again).
        await createDisc(h, fx.admin, await placeOf(fx, vmId), { label: 'data', storage_grade: 'sata', size: 1024 });
        const data = await h.db.selectFrom('discs').select('id').where('vm_id', '=', vmId).where('label', '=', 'data').executeTakeFirstOrThrow();
        const applied = await applyDiscs(h, fx.admin, await placeOf(fx, vmId), { format: true }, 'bigv');
        const op = await h.db.selectFrom('operations').select(['state', 'result']).where('uuid', '=', applied).executeTakeFirstOrThrow();
        assert.equal(op.state, 'done');
        assert.deepEqual(JSON.parse(op.result!), { formatted: ['data'] });
        assert.ok(driver.calls.includes(`applyDiscs ${vmId} ${data.id} format`), driver.calls.join('\n'));
        const again = await applyDiscs(h, fx.admin, await placeOf(fx, vmId), { format: true }, 'bigv');
        assert.deepEqual(JSON.parse((await h.db.selectFrom('operations').select('result').where('uuid', '=', again).executeTakeFirstOrThrow()).result!), { formatted: [] });

        // rebuild_network: next boot unless asked now on a running machine (then it boots again).
        const pid = driver.machines.get(vmId)!.pid;
        const later = await rebuildNetwork(h, fx.admin, await placeOf(fx, vmId), {}, 'bigv');
        assert.equal(later.applies, 'next_boot');
        assert.equal((await settled(fx, vmId, later.operation)).state, 'done');
        assert.equal(driver.machines.get(vmId)!.pid, pid, 'not rebooted');
        const ips = await h.db.selectFrom('ips').innerJoin('nics', 'nics.id', 'ips.nic_id').select('ips.address').where('nics.vm_id', '=', vmId).execute();
        assert.deepEqual(driver.configs.get(vmId)!.nics[0]!.ipv4, ips.map((i) => i.address).filter((a) => !a.includes(':')));
        const now = await rebuildNetwork(h, fx.admin, await placeOf(fx, vmId), { applyNow: true, timeoutMs: 1000 }, 'bigv');
        assert.equal(now.applies, 'now');
        assert.equal((await settled(fx, vmId, now.operation)).state, 'done');
        assert.notEqual(driver.machines.get(vmId)?.pid, pid, 'rebooted to read it');
        await powerVm(h, fx.admin, await placeOf(fx, vmId), { intent: 'stop' });
        await settled(fx, vmId, now.operation);
        assert.equal((await rebuildNetwork(h, fx.admin, await placeOf(fx, vmId), { applyNow: true }, 'bigv')).applies, 'next_boot', 'a stopped machine reads it when it boots');
      }, { config: { urls: { isoDir: lib, allow: [] } } });
    } finally {
      fs.rmSync(lib, { recursive: true, force: true });
    }
  });
}
