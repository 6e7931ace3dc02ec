// Gigas' routes beyond the VM itself (seed 003, issue 9) with the fake driver: the catalogues, segregation,
// bw/cpu stats from recorded samples, disks, interfaces (201 off, 202 on, 412 on a second public one),
// addresses, the ISO drive, firewall rules, snapshots, and the public clients' legacy routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formBody, storesFor, withGigas } from './fixture.js';
import { runningNow, snapshot } from '../snapshot.js';
import { until } from '../helpers.js';
import { recordSamples } from '../../src/core/stats.js';
import { ensureNetwork } from '../../src/store/repos/networks.js';

for (const store of storesFor('gigas features')) {
  test(`catalogues, segregation, stats, disks, interfaces, addresses, ISO, firewall and snapshots (${store.name})`, async () => {
    await withGigas(store, async ({ t, g, acme, bob, create, complete }) => {
      const db = t.running.hangar.db;
      const A = `/account/${acme.id}`;
      // Catalogues.
      const templates = await g('GET', `${A}/templates`);
      assert.equal(templates.status, 200);
      const tiny = templates.body.find((x: any) => x.label.startsWith('Hangar tiny'));
      assert.ok(tiny, templates.text);
      assert.equal(tiny.public, true);
      assert.deepEqual((await g('GET', `${A}/template/${tiny.id}`)).body, tiny);
      assert.equal((await g('GET', `${A}/template/999999`)).status, 404);
      assert.ok((await g('GET', `${A}/templates?label=tiny`)).body.every((x: any) => /tiny/i.test(x.label)));
      const paged = await g('GET', `${A}/templates?limit=2`);
      assert.equal(paged.body.length, 2);
      assert.equal(paged.headers['x-total'], String(templates.body.length));
      const locations = (await g('GET', `${A}/locations`)).body;
      assert.deepEqual(locations.map((l: any) => l.name), ['default']);
      assert.deepEqual((await g('GET', `${A}/location/${locations[0].id}`)).body, locations[0]);
      const grades = (await g('GET', `${A}/data_store_groups`)).body;
      assert.ok(grades.some((x: any) => x.name === 'sata' && x.default === true));
      assert.deepEqual((await g('GET', `${A}/data_store_group/${grades[0].id}`)).body, grades[0]);
      const privateId = await ensureNetwork(db, acme.id, 42, Date.now());
      const networks = (await g('GET', `${A}/networks`)).body;
      const pub = networks.find((n: any) => n.public);
      assert.deepEqual(networks.map((n: any) => n.public).sort(), [false, true]);
      assert.deepEqual((await g('GET', `${A}/networks?type=private`)).body.map((n: any) => n.id), [String(privateId)]);
      assert.equal((await g('GET', `${A}/network/${privateId}`)).body.vlan, 42);
      assert.equal((await g('GET', `${A}/network/${privateId}`, { token: bob })).status, 404, "another tenant's account");

      // Two VMs: one built and running, one left unbuilt and off.
      const on = await create({ hostname: 'on1' });
      await complete(on.queue_token);
      await runningNow(t, Number(on.id));
      const off = await create({ hostname: 'off1', required_virtual_machine_build: false, secondary_disk_size: 2 });
      await complete(off.queue_token);
      const ON = `${A}/virtual_machine/${on.id}`;
      const OFF = `${A}/virtual_machine/${off.id}`;
      assert.equal((await g('GET', OFF)).body.status, 'unbuilt');

      // Segregation.
      const seg = await g('PUT', `${A}/virtual_machine/${on.id}/segregation/${off.id}`);
      assert.equal(seg.status, 200, seg.text);
      assert.equal(seg.body.strict_virtual_machine_id, off.id);
      assert.deepEqual((await g('GET', `${OFF}/segregations`)).body.map((v: any) => v.id), [on.id]);
      assert.equal((await g('PUT', `${A}/virtual_machine/${on.id}/segregation/${on.id}`)).status, 422);
      assert.equal((await g('DELETE', `${A}/virtual_machine/${on.id}/segregation/${off.id}`)).body.strict_virtual_machine_id, null);
      assert.equal((await g('DELETE', `${A}/virtual_machine/${on.id}/segregation/${off.id}`)).status, 404);

      // Stats: none yet; then two readings of the off VM (recorded as a head would), per its one interface.
      assert.deepEqual((await g('GET', `${OFF}/bw_stats?period=-1H`)).body.traffic, {});
      assert.deepEqual((await g('GET', `${OFF}/cpu_stats?period=-1H`)).body.data, []);
      const now = Date.now();
      await recordSamples(db, Number(off.id), [
        { at: now - 9 * 60_000, cpuMs: 0, discReadBytes: 0, discWriteBytes: 0, netRxBytes: 1000, netTxBytes: 500 },
        { at: now - 60_000, cpuMs: 60_000, discReadBytes: 0, discWriteBytes: 0, netRxBytes: 4000, netTxBytes: 2500 },
      ]);
      const bw = (await g('GET', `${OFF}/bw_stats?period=-1H`)).body;
      assert.equal(bw.traffic.length, 1);
      const [[iface]] = bw.traffic;
      assert.equal(iface.is_public, true);
      assert.equal(iface.network_id, Number(pub.id));
      assert.equal(Object.keys(iface.data).length, 12);
      const sum = (k: string) => Object.values(iface.data).reduce((s: number, u: any) => s + u[k], 0);
      assert.deepEqual([sum('traffic_in'), sum('traffic_out')], [3000, 2000]);
      assert.equal(bw.date_to - bw.date_from, 3600);
      const cpu = (await g('GET', `${OFF}/cpu_stats?period=-1H`)).body;
      assert.deepEqual([cpu.lapse, cpu.time_units, cpu.machine_id, cpu.data.length], ['last hour', '5 minutes', Number(off.id), 12]);
      assert.ok(cpu.data.reduce((s: number, x: number) => s + x, 0) > 0);
      assert.equal((await g('GET', `${OFF}/cpu_stats?period=-30days`)).body.data.length, 30);
      // Every longer period reads the same readings from its own roll-up: the traffic is all there.
      for (const period of ['-1day', '-1M', '-1Y']) {
        const long = (await g('GET', `${OFF}/bw_stats?period=${period}`)).body;
        const data = Object.values(long.traffic[0][0].data) as { traffic_in: number; traffic_out: number }[];
        assert.deepEqual([data.reduce((s, u) => s + u.traffic_in, 0), data.reduce((s, u) => s + u.traffic_out, 0)], [3000, 2000], period);
        assert.ok(long.date_to - long.date_from >= 86_400, period);
      }
      // Not measurable (user-mode networking): said, not zeros.
      await recordSamples(db, Number(on.id), [
        { at: now - 9 * 60_000, cpuMs: 0, discReadBytes: 0, discWriteBytes: 0, netRxBytes: null, netTxBytes: null },
        { at: now - 60_000, cpuMs: 1000, discReadBytes: 0, discWriteBytes: 0, netRxBytes: null, netTxBytes: null },
      ]);
      const unmeasured = (await g('GET', `${ON}/bw_stats?period=-1H`)).body;
      assert.deepEqual(unmeasured.traffic, {});
      assert.match(unmeasured.note, /not measured/);
      assert.equal((await g('GET', `${OFF}/bw_stats?period=-2H`)).status, 422);
      assert.equal((await g('GET', `${OFF}/bw_stats`)).status, 422);

      // Disks (GB), interfaces, addresses.
      const disks = (await g('GET', `${OFF}/disks`)).body;
      assert.deepEqual(disks.map((d: any) => d.disk_size), [1, 2]);
      assert.equal(disks[0].data_store_group_id, String(grades.find((x: any) => x.default).id));
      const ifaces = (await g('GET', `${OFF}/network_interfaces`)).body;
      assert.deepEqual(ifaces.map((n: any) => [n.network_id, n.primary, n.default_firewall_policy]), [[pub.id, true, 'accept']]);
      const second = await g('POST', `${OFF}/network_interface`, { body: { network_id: pub.id, label: 'eth1' } });
      assert.equal(second.status, 412, second.text);
      const added = await g('POST', `${OFF}/network_interface`, { body: { network_id: String(privateId), label: 'eth1' } });
      assert.equal(added.status, 201, added.text);
      assert.equal(added.body.network_id, String(privateId));
      const hot = await g('POST', `${ON}/network_interface`, { form: { network_id: String(privateId) } });
      assert.equal(hot.status, 202, hot.text);
      assert.equal(hot.body.status, 'pending');
      assert.equal((await g('GET', `${OFF}/network_interfaces?network_id=${privateId}`)).body.length, 1);
      assert.equal((await g('GET', `${OFF}/network_interfaces?public=true`)).body.length, 1);
      assert.equal((await g('POST', `${OFF}/network_interface`, { body: { network_id: 999999 } })).status, 422);
      const ips = (await g('GET', `${ON}/ip_addresses`)).body;
      const onPrimary = (await g('GET', `${ON}/network_interfaces`)).body[0];
      assert.deepEqual(ips.filter((ip: any) => ip.public).map((ip: any) => [ip.family, ip.interface_id]).sort(), [[4, onPrimary.id], [6, onPrimary.id]]);
      const v4 = ips.find((ip: any) => ip.family === 4).address;
      assert.deepEqual((await g('GET', `${A}/ip_addresses?ip=${v4}`)).body.map((ip: any) => ip.virtual_machine_id), [on.id]);
      assert.ok((await g('GET', `${A}/network/${pub.id}/ip_addresses`)).body.some((ip: any) => ip.address === v4));

      // The ISO drive.
      assert.deepEqual((await g('GET', `${ON}/isos`)).body, []);
      const mounted = await g('POST', `${ON}/iso`, { body: { iso_url: 'ftp://mirror.example.com/debian.iso' } });
      assert.equal(mounted.status, 200, mounted.text);
      assert.deepEqual([mounted.body.id, mounted.body.iso_url, mounted.body.iso_id], [on.id, 'ftp://mirror.example.com/debian.iso', null]);
      assert.equal((await g('GET', ON)).body.cdrom, 1);
      assert.equal((await g('POST', `${ON}/iso`, { body: { iso_url: 'http://127.0.0.1/x.iso' } })).status, 422);
      assert.equal((await g('POST', `${ON}/iso`, { body: { iso_id: 999999 } })).status, 422);
      assert.equal((await g('POST', `${ON}/iso`, { body: {} })).status, 422);
      assert.equal((await g('DELETE', `${ON}/iso/${off.id}`)).status, 404);
      assert.equal((await g('DELETE', `${ON}/iso/${on.id}`)).status, 200);
      assert.deepEqual((await g('GET', `${ON}/isos`)).body, []);

      // Firewall rules: created with OnApp's fields, listed, filtered; apply records nothing new.
      assert.deepEqual((await g('GET', `${ON}/firewall_rules`)).body, []);
      const ruleR = await g('POST', `${ON}/firewall_rules`, { body: { network_interface_id: onPrimary.id, command: 'ACCEPT', protocol: 'TCP', port: '22', address: '192.0.2.0/24' } });
      assert.equal(ruleR.status, 201, ruleR.text);
      assert.deepEqual([ruleR.body.command, ruleR.body.protocol, ruleR.body.port, ruleR.body.status, ruleR.body.order], ['ACCEPT', 'TCP', '22', 'pending', 1]);
      assert.equal((await g('GET', `${ON}/firewall_rules?command=accept`)).body.length, 1);
      assert.equal((await g('GET', `${ON}/firewall_rules?command=drop`)).body.length, 0);
      assert.equal((await g('POST', `${ON}/firewall_rules`, { body: { network_interface_id: 1, command: 'MAYBE' } })).status, 422);
      assert.equal((await g('POST', `${ON}/apply_firewall_rules`, { body: {} })).status, 202);

      // Snapshots of the stopped VM: taken, listed, then deleted and merged.
      const snap = await g('POST', `${OFF}/snapshots`, { body: { label: 'before' } });
      assert.equal(snap.status, 202, snap.text);
      await complete(snap.body.queue_token);
      const snaps = (await g('GET', `${OFF}/snapshots`)).body;
      assert.deepEqual(snaps.map((s: any) => [s.label, s.locked, s.error]), [['before', 0, null]]);
      assert.equal((await g('POST', `${ON}/snapshots`, { body: {} })).status, 422, 'a running VM is refused');
      const blocked = await g('PUT', OFF, { body: { template_id: tiny.id } });
      assert.equal(blocked.status, 409, `a rebuild would lose the snapshots: ${blocked.text}`);
      assert.match(blocked.body.error, /snapshots/);
      const merged = await g('DELETE', `${OFF}/snapshots`);
      assert.equal(merged.status, 200, merged.text);
      assert.equal(merged.text, '');
      await until('snapshots merged', async () => (await g('GET', `${OFF}/snapshots`)).body.length === 0);

      // Another tenant: 404 everywhere, nothing written.
      const before = await snapshot(t);
      for (const [method, url, body] of [
        ['GET', `${ON}/disks`], ['GET', `${ON}/bw_stats?period=-1H`], ['POST', `${ON}/network_interface`, { network_id: pub.id }],
        ['POST', `${ON}/iso`, { iso_url: 'https://example.com/a.iso' }], ['POST', `${ON}/snapshots`, {}], ['DELETE', `${ON}/snapshots`],
        ['PUT', `${A}/virtual_machine/${on.id}/segregation/${off.id}`], ['GET', `${A}/templates`], ['POST', `${ON}/firewall_rules`, { network_interface_id: 1, command: 'DROP' }],
      ] as const) {
        const r = await g(method, url, { token: bob, body });
        assert.equal(r.status, 404, `${method} ${url}: ${r.text}`);
      }
      assert.deepEqual(await snapshot(t), before);
    });
  });

  test(`the public clients' legacy flow: form token, form create, poll until online, interfaces, addresses, destroy (${store.name})`, async () => {
    await withGigas(store, async ({ t, g }) => {
      const tok = await t.req('POST', '/token', { raw: formBody({ login: 'alice@example.com', password: 'alice-password-1' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      assert.equal(tok.status, 200, tok.text);
      const auth = `Gigas token=${tok.body.token}`;
      const as = (method: string, url: string, form?: Record<string, string | string[]>) => g(method, url, { token: null, headers: { authorization: auth }, ...(form ? { form } : {}) });
      const tiny = (await t.running.hangar.db.selectFrom('images').select('id').where('name', '=', 'tiny').executeTakeFirstOrThrow()).id;
      const created = await as('POST', '/virtual_machine', {
        memory: '256', cpus: '1', hostname: 'legacy1', label: 'legacy', primary_disk_size: '1', swap_disk_size: '1', template_id: String(tiny),
        location_id: '1', initial_root_password: 'pass_word-1', data_store_group_primary_id: '1', data_store_group_swap_id: '1',
        secondary_disk_size: ['1', '2'], data_store_group_secondary_id: ['1', '2'],
      });
      assert.equal(created.status, 202, created.text);
      const id = created.body.resource.id;
      const token = created.body.queue_token;
      await until('complete', async () => (await as('GET', `/transaction/${token}/status`)).body.status === 'complete');
      await until('online', async () => (await as('GET', `/virtual_machine/${id}`)).body.status === 'online');
      const discs = await t.running.hangar.db.selectFrom('discs').select(['size', 'storage_grade']).where('vm_id', '=', Number(id)).orderBy('id').execute();
      assert.deepEqual(discs.map((d) => d.size), [1024, 1024, 1024, 2048]);
      assert.equal(discs[3]!.storage_grade, 'ssd');
      const ifaces = (await as('GET', `/virtual_machine/${id}/network_interfaces`)).body;
      assert.equal(ifaces.length, 1);
      const ips = (await as('GET', '/ip_addresses')).body;
      const mine = ips.filter((ip: any) => ip.interface_id === ifaces[0].id);
      assert.equal(mine.length, 2);
      assert.ok((await as('GET', `/network/${ifaces[0].network_id}/ip_addresses`)).body.some((ip: any) => ip.address === mine[0].address));
      assert.equal((await as('GET', '/virtual_machine/999999')).status, 404);
      assert.deepEqual((await as('GET', '/transaction/00000000-0000-4000-8000-000000000000/status')).body, { error: 'Transaction not found' });
      const gone = await as('DELETE', `/virtual_machine/${id}`);
      assert.equal(gone.status, 202, gone.text);
      await until('destroyed', async () => (await as('GET', `/transaction/${gone.body.queue_token}/status`)).body.status === 'complete');
      assert.equal((await as('GET', `/virtual_machine/${id}`)).status, 404);
      // A user without a home account has nothing here.
      await t.user('homeless');
      const homeless = (await t.req('POST', '/token', { body: { login: 'homeless', password: 'homeless-password-1' } })).body.token;
      assert.equal((await g('GET', '/ip_addresses', { token: homeless })).status, 404);
    });
  });
}
