// Gigas' physical acts (seed 003) over core's head acts, with the fake driver: remote_console,
// reset_password, apply_firewall_rules, edit limits, ISO mount/unmount, boot_type, create from an ISO,
// rebuild_network, apply_disks, template and clone. Each queue token is readable at
// /transaction/<token>/status and /operations/<token>; bad input is a 4xx in Gigas' shape that writes
// nothing; another tenant gets a 404.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storesFor, withGigas, type GigasFx } from './fixture.js';
import { snapshot } from '../snapshot.js';
import { until } from '../helpers.js';

/** The queue token ends complete at both addresses. */
async function tracked(fx: GigasFx, token: string, kind: string): Promise<void> {
  assert.match(token, /^[0-9a-f-]{36}$/);
  await fx.complete(token);
  const op = await fx.t.req('GET', `/operations/${token}`, { token: fx.t.adminToken });
  assert.equal(op.status, 200, op.text);
  assert.equal(op.body.kind, kind);
}

/** A refusal in Gigas' shape, naming `field` when given, that changed nothing in the store. */
async function refused(fx: GigasFx, status: number, field: string | null, call: () => Promise<{ status: number; body: any; text: string }>): Promise<void> {
  const before = await snapshot(fx.t);
  const r = await call();
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.body.error, 'string', r.text);
  if (field) assert.ok(r.body.errors?.[field], r.text);
  assert.deepEqual(await snapshot(fx.t), before, 'nothing written');
}

for (const store of storesFor('gigas acts')) {
  test(`remote console, root password, firewall apply, limits, ISO and boot type (${store.name})`, async () => {
    await withGigas(store, async (fx) => {
      const { t, g, acme, bob, create, complete } = fx;
      const db = t.running.hangar.db;
      const driver = t.drivers[0]!;
      const A = `/account/${acme.id}`;
      const on = await create({ hostname: 'on1' });
      await complete(on.queue_token);
      const ON = `${A}/virtual_machine/${on.id}`;
      const vmId = Number(on.id);

      // Remote console: the head's address, the VM's VNC port, a password that expires.
      const c = await g('GET', `${ON}/remote_console`);
      assert.equal(c.status, 200, c.text);
      assert.deepEqual(Object.keys(c.body).sort(), ['expires_at', 'host', 'password', 'port', 'virtual_machine_id']);
      assert.equal(c.body.port, 5900 + vmId);
      assert.equal(c.body.host, '127.0.0.1');
      assert.deepEqual(driver.consoles.get(vmId)?.password, c.body.password);
      assert.ok(Date.parse(`${c.body.expires_at}Z`) > Date.now());
      assert.equal((await g('GET', `${ON}/remote_console`, { token: bob })).status, 404);

      // Reset password: the given one (S003's format), or a random one; the head's operation sets it.
      const reset = await g('POST', `${ON}/reset_password`, { body: { password: 'New_pass-22' } });
      assert.equal(reset.status, 202, reset.text);
      assert.equal(reset.body.password, 'New_pass-22');
      await tracked(fx, reset.body.queue_token, 'password.reset');
      const random = await g('POST', `${ON}/reset_password`, { body: {} });
      assert.equal(random.status, 202, random.text);
      assert.match(random.body.password, /^[A-Za-z0-9_-]{6,32}$/);
      await tracked(fx, random.body.queue_token, 'password.reset');
      await refused(fx, 422, 'password', () => g('POST', `${ON}/reset_password`, { body: { password: 'a b c d' } }));
      await refused(fx, 422, 'password', () => g('POST', `${ON}/reset_password`, { body: { password: 'short' } }));
      await refused(fx, 404, null, () => g('POST', `${ON}/reset_password`, { token: bob, body: {} }));

      // Firewall: the rules applied on the head; enforced says whether it filters.
      const nic = (await g('GET', `${ON}/network_interfaces`)).body[0];
      assert.equal((await g('POST', `${ON}/firewall_rules`, { body: { network_interface_id: nic.id, command: 'DROP', protocol: 'TCP', port: '25' } })).status, 201);
      const applied = await g('POST', `${ON}/apply_firewall_rules`, { body: {} });
      assert.equal(applied.status, 202, applied.text);
      assert.equal(applied.body.enforced, false, 'the test head runs user-mode networking: no tap to filter, and it says so');
      await tracked(fx, applied.body.queue_token, 'firewall.apply');
      assert.deepEqual((await g('GET', `${ON}/firewall_rules`)).body.map((r: any) => r.status), ['pending'], 'not in place: not shown as applied');
      await refused(fx, 404, null, () => g('POST', `${ON}/apply_firewall_rules`, { token: bob, body: {} }));

      // Limits: cpu_shares and rate_limit stored and applied to the running VM.
      const limited = await g('PUT', ON, { body: { cpu_shares: '3', rate_limit: 50 } });
      assert.equal(limited.status, 202, limited.text);
      assert.deepEqual([limited.body.cpu_shares], [3]);
      await tracked(fx, limited.body.queue_token, 'limits.apply');
      const primaryNicId = (await db.selectFrom('nics').select('id').where('vm_id', '=', vmId).orderBy('id').executeTakeFirstOrThrow()).id;
      assert.deepEqual(driver.limits.get(vmId), { cpuWeight: 300, nics: [{ nicId: primaryNicId, rateLimitMbps: 50 }] });
      await refused(fx, 422, 'cpu_shares', () => g('PUT', ON, { body: { cpu_shares: 0 } }));
      await refused(fx, 422, 'rate_limit', () => g('PUT', ON, { body: { rate_limit: -1 } }));

      // ISO: in the running VM's drive by an operation, and out again.
      const mounted = await g('POST', `${ON}/iso`, { body: { iso_url: 'https://example.com/a.iso' } });
      assert.equal(mounted.status, 200, mounted.text);
      await tracked(fx, mounted.body.queue_token, 'vm.cdrom');
      assert.equal(driver.cdroms.get(vmId), 'https://example.com/a.iso');
      await refused(fx, 422, 'iso_url', () => g('POST', `${ON}/iso`, { body: { iso_url: 'http://127.0.0.1/x.iso' } }));
      await refused(fx, 404, null, () => g('POST', `${ON}/iso`, { token: bob, body: { iso_url: 'https://example.com/b.iso' } }));
      const ejected = await g('DELETE', `${ON}/iso/${on.id}`);
      assert.equal(ejected.status, 200, ejected.text);
      await tracked(fx, ejected.body.queue_token, 'vm.cdrom');
      assert.equal(driver.cdroms.get(vmId), null);

      // boot_type cdrom: the VM's own boot order (what its head reads at the next boot).
      const cd = await g('PUT', ON, { body: { boot_type: 'cdrom' } });
      assert.equal(cd.status, 200, cd.text);
      assert.equal(cd.body.boot_type, 'cdrom');
      assert.equal((await db.selectFrom('vms').select('boot_from').where('id', '=', vmId).executeTakeFirstOrThrow()).boot_from, 'cdrom');
      await refused(fx, 422, 'boot_type', () => g('PUT', ON, { body: { boot_type: 'floppy' } }));

      // Create from an ISO: a blank disk, booted from the CD.
      const zone = (await g('GET', `${A}/locations`)).body[0].id;
      const fromIso = await g('POST', `${A}/virtual_machine`, { body: { memory: 256, cpus: 1, hostname: 'inst1', label: 'installer', primary_disk_size: 1, location_id: zone, iso_url: 'https://example.com/inst.iso' } });
      assert.equal(fromIso.status, 202, fromIso.text);
      assert.deepEqual([fromIso.body.boot_type, fromIso.body.cdrom], ['cdrom', 1]);
      assert.equal((await db.selectFrom('vms').select('boot_from').where('id', '=', Number(fromIso.body.id)).executeTakeFirstOrThrow()).boot_from, 'cdrom');

      // Stopped: the console is refused, an ISO waits for the next boot.
      const off = await g('PUT', ON, { body: { status: 'offline', force: true } });
      await complete(off.body.queue_token);
      const shut = await g('GET', `${ON}/remote_console`);
      assert.equal(shut.status, 422, shut.text);
      const later = await g('POST', `${ON}/iso`, { body: { iso_url: 'https://example.com/c.iso' } });
      assert.equal(later.body.queue_token, null);
    });
  });

  test(`clone, template, apply_disks and rebuild_network (${store.name})`, async () => {
    await withGigas(store, async (fx) => {
      const { t, g, acme, bob, create, complete } = fx;
      const db = t.running.hangar.db;
      const driver = t.drivers[0]!;
      const A = `/account/${acme.id}`;
      const src = await create({ hostname: 'src1', secondary_disk_size: '1' });
      await complete(src.queue_token);
      const SRC = `${A}/virtual_machine/${src.id}`;
      const userId = async (name: string) => String((await db.selectFrom('users').select('id').where('username', '=', name).executeTakeFirstOrThrow()).id);

      // Clone: the overrides, left off (required_startup default false), made for a user of the account.
      const cloned = await g('POST', `${SRC}/clone`, { body: { hostname: 'copy1', label: 'Copy one', memory: 512, cpus: 2, cpu_type: 'amd', clone_user_id: await userId('alice') } });
      assert.equal(cloned.status, 202, cloned.text);
      assert.notEqual(cloned.body.id, src.id);
      assert.deepEqual([cloned.body.hostname, cloned.body.label, cloned.body.memory, cloned.body.cpus, cloned.body.cpu_type], ['copy1', 'Copy one', 512, 2, 'amd']);
      await tracked(fx, cloned.body.queue_token, 'vm.clone');
      const copy = (await g('GET', `${A}/virtual_machine/${cloned.body.id}`)).body;
      assert.deepEqual([copy.status, copy.user_id], ['offline', await userId('alice')]);
      assert.equal((await db.selectFrom('discs').select('id').where('vm_id', '=', Number(copy.id)).execute()).length, 2, 'a copy of each disk');
      const started = await g('POST', `${SRC}/clone`, { form: { hostname: 'copy2', label: 'Copy two', required_startup: 'true' } });
      assert.equal(started.status, 202, started.text);
      await complete(started.body.queue_token);
      await until('the started clone runs', async () => (await g('GET', `${A}/virtual_machine/${started.body.id}`)).body.status === 'online');
      await refused(fx, 422, 'clone_user_id', async () => g('POST', `${SRC}/clone`, { body: { hostname: 'copy3', label: 'c', clone_user_id: await userId('bob') } }));
      await refused(fx, 422, 'clone_user_id', () => g('POST', `${SRC}/clone`, { body: { hostname: 'copy3', label: 'c', clone_user_id: 999999 } }));
      await refused(fx, 422, 'cpu_type', () => g('POST', `${SRC}/clone`, { body: { hostname: 'copy3', label: 'c', cpu_type: 'arm' } }));
      await refused(fx, 422, 'hostname', () => g('POST', `${SRC}/clone`, { body: { label: 'no hostname' } }));
      await refused(fx, 404, null, () => g('POST', `${SRC}/clone`, { token: bob, body: { hostname: 'copy3', label: 'c' } }));

      // Template: pending, then active in the account's templates, and a create can use it.
      const tpl = await g('POST', `${SRC}/template`, { body: { label: 'Web base' } });
      assert.equal(tpl.status, 202, tpl.text);
      assert.deepEqual([tpl.body.label, tpl.body.public], ['Web base', false]);
      assert.ok(['pending', 'active'].includes(tpl.body.status), 'pending until its head has made it (the fake head may have already)');
      await tracked(fx, tpl.body.queue_token, 'image.template');
      const listed = (await g('GET', `${A}/templates`)).body.find((x: any) => x.id === tpl.body.id);
      assert.deepEqual([listed?.label, listed?.status], ['Web base', 'active']);
      assert.equal((await g('GET', `${A}/templates`, { token: bob, headers: {} })).status, 404, "acme's templates are not bob's");
      const fromTpl = await create({ hostname: 'fromtpl', template_id: tpl.body.id });
      await complete(fromTpl.queue_token);
      assert.equal((await g('GET', `${A}/virtual_machine/${fromTpl.id}`)).body.template_id, tpl.body.id);
      await refused(fx, 422, 'label', () => g('POST', `${SRC}/template`, { body: { label: 'x'.repeat(300) } }));
      await refused(fx, 404, null, () => g('POST', `${SRC}/template`, { token: bob, body: {} }));

      // apply_disks: the secondary disks attached, formatted when asked.
      const disks = await g('POST', `${SRC}/apply_disks`, { body: { required_format_disk: 'true' } });
      assert.equal(disks.status, 200, disks.text);
      await tracked(fx, disks.body.queue_token, 'disc.apply');
      assert.ok(driver.calls.some((c) => c.startsWith(`applyDiscs ${src.id} `) && c.endsWith(' format')), driver.calls.join('\n'));
      await refused(fx, 422, 'required_format_disk', () => g('POST', `${SRC}/apply_disks`, { body: { required_format_disk: 'maybe' } }));
      await refused(fx, 404, null, () => g('POST', `${SRC}/apply_disks`, { token: bob, body: {} }));

      // rebuild_network: applied now on a running VM (restarted), at the next boot otherwise.
      const now = await g('POST', `${SRC}/rebuild_network`, { body: {} });
      assert.equal(now.status, 202, now.text);
      assert.equal(now.body.applies, 'now');
      await tracked(fx, now.body.queue_token, 'vm.network.rebuild');
      const next = await g('POST', `${SRC}/rebuild_network`, { body: { apply_now: false } });
      assert.equal(next.body.applies, 'next_boot');
      await complete(next.body.queue_token);
      assert.ok(driver.configs.has(Number(src.id)), 'the config drive was written');
      await refused(fx, 422, 'apply_now', () => g('POST', `${SRC}/rebuild_network`, { body: { apply_now: 'soon' } }));
      await refused(fx, 404, null, () => g('POST', `${SRC}/rebuild_network`, { token: bob, body: {} }));
    });
  });
}
