// Gigas' VM routes over core with the fake driver (seed 003 *Operations*): create with the seed's
// parameters and defaults, its queue token followed to complete, the VM resource's fields, the list's
// filters, sorts and pages, edit, start, stop, reboot, rebuild and destroy; bad input is a 422 in
// Gigas' shape that writes nothing; another tenant's VM is a 404.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storesFor, withGigas } from './fixture.js';
import { snapshot, runningNow } from '../snapshot.js';
import { until } from '../helpers.js';

const FIELDS = [
  'id', 'identifier', 'label', 'hostname', 'memory', 'cpus', 'cpu_shares', 'cpu_type', 'template_id', 'template_label', 'initial_password',
  'note', 'hypervisor_id', 'type', 'vip', 'status', 'locked', 'suspended', 'strict_virtual_machine_id', 'operating_system',
  'operating_system_distro', 'created_at', 'updated_at', 'cdrom', 'boot_type', 'booted_from', 'location_id', 'account_id', 'user_id',
  'disk_type', 'virtualization_type', 'custom', 'is_deletion_machine', 'console_lang', 'local_remote_access_port', 'remote_access_password', 'error',
].sort();

for (const store of storesFor('gigas vms')) {
  test(`create, read, list, edit, power, rebuild and destroy a VM over Gigas (${store.name})`, async () => {
    await withGigas(store, async ({ t, g, acme, create, complete, bob }) => {
      const vm = await create({ initial_root_password: 'Secret_pw-1', cpu_shares: 4, cpu_type: 'intel', rate_limit: 100, note: 'a note', swap_disk_size: '1', secondary_disk_size: ['2', '3'] });
      assert.match(vm.id, /^[0-9]+$/);
      assert.match(vm.queue_token, /^[0-9a-f-]{36}$/);
      assert.equal(vm.body.status, 'unbuilt');
      assert.equal(vm.body.locked, 1);
      await complete(vm.queue_token);
      await runningNow(t, Number(vm.id));
      const url = `/account/${acme.id}/virtual_machine/${vm.id}`;
      const got = await until('online and unlocked', async () => {
        const r = await g('GET', url);
        return r.body.status === 'online' && r.body.locked === 0 ? r : null;
      });
      assert.deepEqual(Object.keys(got.body).sort(), FIELDS);
      const tiny = await t.running.hangar.db.selectFrom('images').selectAll().where('name', '=', 'tiny').executeTakeFirstOrThrow();
      const head = await t.running.hangar.db.selectFrom('heads').select('id').executeTakeFirstOrThrow();
      assert.deepEqual({
        label: got.body.label, hostname: got.body.hostname, memory: got.body.memory, cpus: got.body.cpus, cpu_shares: got.body.cpu_shares,
        cpu_type: got.body.cpu_type, template_id: got.body.template_id, initial_password: got.body.initial_password, note: got.body.note,
        hypervisor_id: got.body.hypervisor_id, account_id: got.body.account_id, boot_type: got.body.boot_type, cdrom: got.body.cdrom,
        operating_system_distro: got.body.operating_system_distro, suspended: got.body.suspended,
      }, {
        label: 'web one', hostname: 'web1', memory: 256, cpus: 1, cpu_shares: 4, cpu_type: 'intel', template_id: String(tiny.id),
        initial_password: 'Secret_pw-1', note: 'a note', hypervisor_id: String(head.id), account_id: acme.id, boot_type: 'default', cdrom: 0,
        operating_system_distro: tiny.distro, suspended: 0,
      });
      assert.match(got.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      // The create's audit row: Gigas' route, its operation and, through it, the VM.
      const vmUuid = (await t.running.hangar.db.selectFrom('vms').select('uuid').where('id', '=', Number(vm.id)).executeTakeFirstOrThrow()).uuid;
      const row = await until('audit row', () => t.running.hangar.db.selectFrom('audit').selectAll().where('route', '=', '/account/:account_id/virtual_machine').executeTakeFirst());
      assert.deepEqual([row.dialect, row.status, row.operation_uuid, row.vm_uuid], ['gigas', 202, vm.queue_token, vmUuid]);
      // GB on the wire, MiB in core: a 1 GB primary, a 1 GB swap, then the secondaries in order.
      const discs = await t.running.hangar.db.selectFrom('discs').select(['label', 'size']).where('vm_id', '=', Number(vm.id)).orderBy('id').execute();
      assert.deepEqual(discs.map((d) => d.size), [1024, 1024, 2048, 3072]);
      assert.equal(discs[1]!.label, 'swap');

      // The same VM over BigV, with consistent fields; and powered there.
      const bigv = await t.req('GET', `/virtual_machines/${vm.id}`, { token: t.adminToken });
      assert.equal(bigv.status, 200);
      assert.equal(bigv.body.power_on, true);
      assert.equal(bigv.body.memory, 256);
      assert.equal(bigv.body.name, 'web1');

      // A second VM (password random), then the list: filters, sorts, pages.
      const second = await create({ hostname: 'db2', label: 'database', memory: 512 });
      assert.match(second.body.initial_password, /^[A-Za-z0-9_-]{6,32}$/);
      await complete(second.queue_token);
      const list = `/account/${acme.id}/virtual_machines`;
      const all = await g('GET', list);
      assert.equal(all.status, 200);
      assert.deepEqual(all.body.map((v: any) => v.id).sort(), [vm.id, second.id].sort());
      assert.deepEqual((await g('GET', `${list}?hostname=DB`)).body.map((v: any) => v.id), [second.id]);
      assert.deepEqual((await g('GET', `${list}?sort=-memory`)).body.map((v: any) => v.id), [second.id, vm.id]);
      assert.deepEqual((await g('GET', `${list}?sort=memory`)).body.map((v: any) => v.id), [vm.id, second.id]);
      assert.deepEqual((await g('GET', `${list}?id=${vm.id}`)).body.map((v: any) => v.id), [vm.id]);
      assert.deepEqual((await g('GET', `${list}?status=unbuilt`)).body, []);
      assert.deepEqual((await g('GET', `${list}?label=datab`)).body.map((v: any) => v.id), [second.id]);
      const paged = await g('GET', `${list}?sort=memory&offset=1&limit=1`);
      assert.deepEqual(paged.body.map((v: any) => v.id), [second.id]);
      assert.deepEqual([paged.headers['x-total'], paged.headers['x-total-pages'], paged.headers['x-per-page'], paged.headers['x-page']], ['2', '2', '1', '2']);
      const ip = (await t.req('GET', `/virtual_machines/${vm.id}?view=overview`, { token: t.adminToken })).body.network_interfaces[0].ips[0];
      assert.deepEqual((await g('GET', `${list}?ip_address=${ip}`)).body.map((v: any) => v.id), [vm.id]);

      // Edit: informative fields, settings, a cold change on a running VM (applied by a fresh boot).
      assert.equal(t.drivers[0]!.machines.get(Number(vm.id))?.spec.cpuType, 'intel', 'cpu_type picks the machine\'s CPU');
      const edited = await g('PUT', url, { body: { label: 'renamed', hostname: 'NewHostname', note: 'x', cpu_type: 'amd', boot_type: 'cdrom', max_memory: '9999' } });
      assert.equal(edited.status, 200, edited.text);
      assert.deepEqual([edited.body.label, edited.body.hostname, edited.body.cpu_type, edited.body.boot_type, edited.body.memory], ['renamed', 'NewHostname', 'amd', 'cdrom', 256]);
      const cycles = (await t.running.hangar.db.selectFrom('vms').select('power_cycle').where('id', '=', Number(vm.id)).executeTakeFirstOrThrow()).power_cycle;
      const cold = await g('PUT', url, { body: { memory: '512', cpus: 2 } });
      assert.equal(cold.status, 200, cold.text);
      assert.deepEqual([cold.body.memory, cold.body.cpus], [512, 2]);
      const after = await t.running.hangar.db.selectFrom('vms').select(['power_cycle', 'power_on']).where('id', '=', Number(vm.id)).executeTakeFirstOrThrow();
      assert.deepEqual([after.power_on, after.power_cycle > cycles], [1, true], 'stays on, with a fresh boot asked for');
      // cpu_type applies at the next boot: the fresh one has the AMD CPU.
      await until('the fresh boot has cpu_type amd', async () => t.drivers[0]!.machines.get(Number(vm.id))?.spec.cpuType === 'amd');
      const later = await g('PUT', url, { body: { memory: '768', noreboot: true } });
      assert.equal(later.status, 200, later.text);
      assert.equal((await t.running.hangar.db.selectFrom('vms').select('power_cycle').where('id', '=', Number(vm.id)).executeTakeFirstOrThrow()).power_cycle, after.power_cycle, 'noreboot: at the next boot');
      const grown = await g('PUT', url, { body: { primary_disk_size: '2' } });
      assert.equal(grown.status, 200, grown.text);
      assert.equal((await t.running.hangar.db.selectFrom('discs').select('size').where('vm_id', '=', Number(vm.id)).orderBy('id').executeTakeFirstOrThrow()).size, 2048);

      // Stop (ACPI: the fake guest halts), start, stop with force, reboot.
      const stop = await g('PUT', url, { body: { status: 'offline' } });
      assert.equal(stop.status, 202, stop.text);
      await complete(stop.body.queue_token);
      await until('offline', async () => (await g('GET', url)).body.status === 'offline');
      assert.equal((await t.req('GET', `/virtual_machines/${vm.id}`, { token: t.adminToken })).body.power_on, false, 'BigV sees it off');
      // Started over BigV, seen online over Gigas.
      assert.equal((await t.req('PUT', `/virtual_machines/${vm.id}`.replace('/virtual_machines', '/accounts/acme/groups/default/virtual_machines').replace(vm.id, 'web1'), { token: t.adminToken, body: { power_on: true } })).status, 200);
      await until('online again', async () => (await g('GET', url)).body.status === 'online');
      const hard = await g('PUT', url, { form: { status: 'offline', force: 'true' } });
      assert.equal(hard.status, 202, hard.text);
      await complete(hard.body.queue_token);
      const start = await g('PUT', url, { body: { status: 'online' } });
      assert.equal(start.status, 202);
      await complete(start.body.queue_token);
      await runningNow(t, Number(vm.id));
      const reboot = await g('POST', `${url}/reboot`, { body: { force: true } });
      assert.equal(reboot.status, 202, reboot.text);
      await complete(reboot.body.queue_token);

      // A BigV-created VM over Gigas: its fields from the same rows.
      const bigvMade = await t.req('POST', '/accounts/acme/groups/default/vm_create', { token: t.adminToken, body: {
        virtual_machine: { name: 'fromv', cores: 2, memory: 512, power_on: true }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 2048 }],
        reimage: { distribution: 'tiny', root_password: 'secret' },
      } });
      assert.equal(bigvMade.status, 202, bigvMade.text);
      const vid = bigvMade.body.virtual_machine.id;
      await until('BigV VM online over Gigas', async () => (await g('GET', `/account/${acme.id}/virtual_machine/${vid}`)).body.status === 'online');
      const seen = (await g('GET', `/account/${acme.id}/virtual_machine/${vid}`)).body;
      assert.deepEqual([seen.label, seen.hostname, seen.cpus, seen.memory, seen.template_id, seen.initial_password, seen.user_id], ['fromv', 'fromv', 2, 512, String(tiny.id), null, String((await t.running.hangar.db.selectFrom('users').select('id').where('username', '=', 'admin').executeTakeFirstOrThrow()).id)]);
      assert.equal((await g('GET', `/account/${acme.id}/virtual_machine/${vid}/disks`)).body[0].disk_size, 2);
      const off2 = await g('PUT', `/account/${acme.id}/virtual_machine/${vid}`, { body: { status: 'offline', force: true } });
      assert.equal(off2.status, 202);
      await complete(off2.body.queue_token);
      assert.equal((await t.req('GET', `/virtual_machines/${vid}`, { token: t.adminToken })).body.power_on, false);
      const again = await g('PUT', `/account/${acme.id}/virtual_machine/${vid}`, { body: { status: 'offline' } });
      assert.equal(again.status, 422, 'an ACPI stop of a VM that is off');

      // Rebuild from the template, staying off (required_startup false).
      const rebuild = await g('PUT', url, { body: { template_id: tiny.id, required_startup: 'false' } });
      assert.equal(rebuild.status, 202, rebuild.text);
      await complete(rebuild.body.queue_token);
      await until('rebuilt and off', async () => (await g('GET', url)).body.status === 'offline');
      assert.equal((await t.running.hangar.db.selectFrom('vms').select('power_on').where('id', '=', Number(vm.id)).executeTakeFirstOrThrow()).power_on, 0);

      // Bob (another tenant) gets 404 for every route on it, and changes nothing.
      const before = await snapshot(t);
      for (const [method, u, body] of [['GET', url], ['PUT', url, { label: 'x' }], ['DELETE', url], ['POST', `${url}/reboot`, {}]] as const) {
        const r = await g(method, u, { token: bob, body });
        assert.equal(r.status, 404, `${method} ${u}: ${r.text}`);
        const viaOwn = await g(method, u.replace(`/account/${acme.id}/`, `/account/${(await t.req('GET', '/accounts/other', { token: t.adminToken })).body.id}/`), { token: bob, body });
        assert.equal(viaOwn.status, 404, `${method} under bob's account: ${viaOwn.text}`);
      }
      assert.deepEqual(await snapshot(t), before);

      // Destroy: 202 with the purge's token; gone from both dialects.
      const gone = await g('DELETE', url);
      assert.equal(gone.status, 202, gone.text);
      assert.match(gone.body.queue_token, /^[0-9a-f-]{36}$/);
      await complete(gone.body.queue_token);
      assert.equal((await g('GET', url)).status, 404);
      assert.equal((await t.req('GET', `/virtual_machines/${vm.id}?include_deleted=true`, { token: t.adminToken })).status, 404);
      assert.equal(await t.running.hangar.db.selectFrom('discs').select('id').where('vm_id', '=', Number(vm.id)).executeTakeFirst(), undefined);
    });
  });

  test(`bad input to the VM routes: 422 in Gigas' shape, nothing written (${store.name})`, async () => {
    await withGigas(store, async ({ t, g, acme, create, complete }) => {
      const tiny = (await t.running.hangar.db.selectFrom('images').select('id').where('name', '=', 'tiny').executeTakeFirstOrThrow()).id;
      const ok = { memory: 256, cpus: 1, label: 'l', hostname: 'h', primary_disk_size: 1, location_id: 1, template_id: tiny };
      const before = await snapshot(t);
      const cases: [Record<string, unknown>, string][] = [
        [{ ...ok, hostname: '1abc' }, 'hostname'],
        [{ ...ok, hostname: 'a'.repeat(26) }, 'hostname'],
        [{ ...ok, hostname: 'bad_name' }, 'hostname'],
        [{ ...ok, initial_root_password: 'short' }, 'initial_root_password'],
        [{ ...ok, initial_root_password: 'a'.repeat(33) }, 'initial_root_password'],
        [{ ...ok, initial_root_password: 'no spaces!' }, 'initial_root_password'],
        [{ ...ok, memory: 'lots' }, 'memory'],
        [{ ...ok, cpus: 0 }, 'cpus'],
        [{ ...ok, location_id: 999 }, 'location_id'],
        [{ ...ok, template_id: 999 }, 'template_id'],
        [{ ...ok, template_id: undefined }, 'template_id'],
        [{ ...ok, cpu_type: 'arm' }, 'cpu_type'],
        [{ ...ok, data_store_group_primary_id: 999 }, 'data_store_group_primary_id'],
        [{ ...ok, iso_url: 'http://127.0.0.1/x.iso', template_id: undefined }, 'iso_url'],
        [{ ...ok, primary_network_id: 999 }, 'primary_network_id'],
        [{ ...ok, unknown: 1 }, 'unknown'],
        [{ ...ok, label: undefined }, 'label'],
      ];
      for (const [body, field] of cases) {
        const r = await g('POST', `/account/${acme.id}/virtual_machine`, { body });
        assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
        assert.equal(typeof r.body.error, 'string');
        assert.ok(Object.keys(r.body.errors).includes(field), `${field}: ${r.text}`);
      }
      const broken = await t.req('POST', `/account/${acme.id}/virtual_machine`, { raw: '{', headers: { 'content-type': 'application/json', authorization: (await t.req('POST', '/token', { body: { login: 'alice', password: 'alice-password-1' } })).body.token } });
      assert.equal(broken.status, 400, broken.text);
      assert.equal(typeof broken.body.error, 'string');
      assert.deepEqual(await snapshot(t), before, 'nothing written');

      const vm = await create();
      await complete(vm.queue_token);
      const url = `/account/${acme.id}/virtual_machine/${vm.id}`;
      const settled = await snapshot(t);
      for (const [body, field] of [
        [{ status: 'sideways' }, 'status'], [{ memory: 'x' }, 'memory'], [{ boot_type: 'floppy' }, 'boot_type'], [{ cpu_type: 'arm' }, 'cpu_type'],
        [{ primary_disk_size: 0 }, 'primary_disk_size'], [{ hostname: '9lives' }, 'hostname'], [{ template_id: 999 }, 'template_id'], [{ bogus: true }, 'bogus'],
      ] as const) {
        const r = await g('PUT', url, { body });
        assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
        assert.ok(Object.keys(r.body.errors).includes(field), `${field}: ${r.text}`);
      }
      assert.equal((await g('POST', `${url}/reboot`, { body: { force: 'maybe' } })).status, 422);
      for (const q of ['sort=size', 'limit=0', 'offset=-1', 'status=on', 'locked=maybe', 'limit=1&limit=2']) {
        const r = await g('GET', `/account/${acme.id}/virtual_machines?${q}`);
        assert.equal(r.status, 422, `${q}: ${r.text}`);
      }
      assert.equal((await g('GET', `/account/${acme.id}/virtual_machines?limit=1&limit=2`)).body.errors.limit[0], 'must be given only once');
      for (const id of ['999999', 'web1', '00000000-0000-4000-8000-000000000000']) assert.equal((await g('GET', `/account/${acme.id}/virtual_machine/${id}`)).status, 404);
      assert.deepEqual(await snapshot(t), settled, 'nothing written');
    });
  });
}
