// Who may do what over Gigas (docs/domain.md §3: the same rules as BigV): reads need any privilege on
// the VM or above, changes vm_admin (a vm_console caller gets 403), create and destroy group_admin,
// and a caller with no privilege there gets 404, exactly as for what does not exist. Refusals write nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gigasToken, storesFor, withGigas } from './fixture.js';
import { runningNow, snapshot } from '../snapshot.js';

const ROLES = ['group', 'vm', 'console', 'none'] as const;

for (const store of storesFor('gigas privileges')) {
  test(`Gigas routes by privilege: group_admin, vm_admin, vm_console, none (${store.name})`, async () => {
    await withGigas(store, async ({ t, g, acme, create, complete }) => {
      const web = await create({ hostname: 'web' });
      await complete(web.queue_token);
      await runningNow(t, Number(web.id));
      const grp = (await t.req('GET', '/accounts/acme/groups/default', { token: t.adminToken })).body.id;
      await t.user('gadmin', { level: 'group_admin', group_id: grp }, acme.id);
      await t.user('vmadmin', { level: 'vm_admin', virtual_machine_id: Number(web.id) }, acme.id);
      await t.user('vmcons', { level: 'vm_console', virtual_machine_id: Number(web.id) }, acme.id);
      await t.user('nobody', undefined, acme.id);
      const token = {
        group: await gigasToken(t, 'gadmin', 'gadmin-password-1'), vm: await gigasToken(t, 'vmadmin', 'vmadmin-password-1'),
        console: await gigasToken(t, 'vmcons', 'vmcons-password-1'), none: await gigasToken(t, 'nobody', 'nobody-password-1'),
      };
      const A = `/account/${acme.id}`;
      const V = `${A}/virtual_machine/${web.id}`;
      const tiny = (await g('GET', `${A}/templates`)).body.find((x: any) => /tiny/i.test(x.label)).id;
      const zone = (await g('GET', `${A}/locations`)).body[0].id;
      //                                                                  group  vm   console none
      const rows: [string, string, unknown, number[]][] = [
        ['GET', `${A}/virtual_machines`, undefined, [200, 200, 200, 404]],
        ['GET', V, undefined, [200, 200, 200, 404]],
        ['GET', `${V}/disks`, undefined, [200, 200, 200, 404]],
        ['GET', `${V}/network_interfaces`, undefined, [200, 200, 200, 404]],
        ['GET', `${V}/cpu_stats?period=-1H`, undefined, [200, 200, 200, 404]],
        ['GET', `${V}/snapshots`, undefined, [200, 200, 403, 404]],
        ['GET', `${A}/templates`, undefined, [200, 200, 200, 404]],
        ['PUT', V, { note: 'n' }, [200, 200, 403, 404]],
        ['POST', `${V}/reboot`, {}, [202, 202, 403, 404]],
        ['POST', `${V}/iso`, { iso_url: 'https://example.com/a.iso' }, [200, 200, 403, 404]],
        ['POST', `${V}/apply_firewall_rules`, {}, [202, 202, 403, 404]],
        ['POST', `${A}/virtual_machine`, { memory: 256, cpus: 1, hostname: 'n', label: 'n', primary_disk_size: 1, location_id: zone, template_id: tiny }, [202, 403, 403, 404]],
      ];
      const wrong: string[] = [];
      for (const [method, url, body, statuses] of rows) {
        for (const [i, role] of ROLES.entries()) {
          const before = statuses[i]! >= 400 && method !== 'GET' ? await snapshot(t) : null;
          const r = await g(method, url, { token: token[role], body });
          if (r.status !== statuses[i]) wrong.push(`${method} ${url} as ${role}: expected ${statuses[i]}, got ${r.status} ${r.text.slice(0, 150)}`);
          else if (r.status >= 400 && typeof r.body.error !== 'string') wrong.push(`${method} ${url} as ${role}: not Gigas' shape ${r.text}`);
          if (before) assert.deepEqual(await snapshot(t), before, `${method} ${url} as ${role} wrote`);
        }
      }
      // The initial password is shown to those who may administer the VM only.
      assert.equal((await g('GET', V, { token: token.vm })).body.initial_password, web.body.initial_password);
      assert.equal((await g('GET', V, { token: token.console })).body.initial_password, null);
      // Destroy needs group_admin: vm_admin is refused, group_admin destroys.
      assert.equal((await g('DELETE', V, { token: token.console })).status, 403);
      assert.equal((await g('DELETE', V, { token: token.vm })).status, 403);
      assert.equal((await g('DELETE', V, { token: token.none })).status, 404);
      assert.equal((await g('DELETE', V, { token: token.group })).status, 202);
      assert.deepEqual(wrong, [], wrong.join('\n'));
    });
  });
}
