// Regression: a vm_console caller (read-only on its machine) sent `PUT .../backups/{b}` with
// `{"restore":false}` or an empty body and got 200: the route checked the right to write only
// when the body asked for a restore. Now resolving a machine for a change (any method but
// GET/HEAD) needs vm_admin on it, before any body is read. Every registered route that changes a
// machine or anything on it is sent a read-only caller's neutral bodies: 403, store untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest } from '../helpers.js';
import { runningNow, snapshot } from '../snapshot.js';
import { registeredRoutes } from '../../src/api/app.js';

const CHANGES = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);
/** Routes that change something at or below a machine (their path names one, directly or by id). */
const ON_A_MACHINE = /\/virtual_machines\/:vm(\/|$)|^\/discs\/:id$|^\/ips\/:address$/;
/** Routes that change the account or group a vm_console caller can see (above its machine). */
const ABOVE_THE_MACHINE = /^\/accounts\/:acc(\/groups(\/:grp(\/(virtual_machines|vm_create))?)?)?$/;

test('a vm_console caller changes nothing on its machine, whatever the body (403 on every route that writes there)', async () => {
  const t = await startTest();
  try {
    const acme = await account(t, 'acme');
    const web1 = (await t.req('POST', '/accounts/acme/groups/default/vm_create', {
      token: t.adminToken,
      body: { virtual_machine: { name: 'web1', power_on: true }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }] },
    })).body.virtual_machine;
    await runningNow(t, web1.id);
    const A = '/accounts/acme/groups/default/virtual_machines/web1';
    const backup = (await t.req('POST', `${A}/discs/disc-1/backups`, { token: t.adminToken })).body;
    const schedule = (await t.req('POST', `${A}/discs/disc-1/backup_schedules`, { token: t.adminToken, body: { interval_seconds: 86400 } })).body;
    assert.ok(backup.id && schedule.id);
    const cons = await t.user('cons', { level: 'vm_console', virtual_machine_id: web1.id }, acme.id);
    const values: Record<string, string> = {
      acc: 'acme', grp: 'default', vm: 'web1', disc: 'disc-1', backup: String(backup.id), nic: String(web1.network_interfaces[0].id),
      address: web1.network_interfaces[0].ips[0], id: String(web1.discs[0].id),
    };
    const routes = registeredRoutes(t.running.app).filter((r) => CHANGES.has(r.method) && ON_A_MACHINE.test(r.url));
    assert.ok(routes.length >= 15, `routes on a machine: ${routes.length}`);
    const before = await snapshot(t);
    const seen: string[] = [];
    for (const r of routes) {
      const url = r.url.replace(/:(\w+)/g, (_m, name: string) => {
        if (r.url.includes('backup_schedules') && name === 'id') return String(schedule.id);
        assert.ok(values[name], `a value for :${name}`);
        return encodeURIComponent(values[name]!);
      });
      const bodies = r.method === 'DELETE' ? [undefined] : [{}, { restore: false }, { power_on: true }];
      for (const body of bodies) {
        const reply = await t.req(r.method, url, { token: cons, body });
        seen.push(`${r.method} ${r.url} ${JSON.stringify(body)} -> ${reply.status}`);
      }
    }
    assert.deepEqual(seen.filter((s) => !s.endsWith('-> 403')), [], 'every change refused with 403');
    assert.deepEqual(await snapshot(t), before, 'nothing changed');
    // Above the machine: refused too (400 when the body fails the route's schema, before any rule).
    const above = registeredRoutes(t.running.app).filter((r) => CHANGES.has(r.method) && ABOVE_THE_MACHINE.test(r.url));
    assert.ok(above.length >= 6, `routes above a machine: ${above.length}`);
    const answered: string[] = [];
    for (const r of above) {
      const url = r.url.replace(/:(\w+)/g, (_m, name: string) => values[name]!);
      for (const body of r.method === 'DELETE' ? [undefined] : [{}, { name: 'x' }, { suspended: false }, { virtual_machine: { name: 'x' } }]) {
        answered.push(`${r.method} ${r.url} ${JSON.stringify(body)} -> ${(await t.req(r.method, url, { token: cons, body })).status}`);
      }
    }
    assert.deepEqual(answered.filter((s) => !/-> 40[03]$/.test(s)), [], 'every change above the machine refused');
    assert.deepEqual(await snapshot(t), before, 'nothing changed above the machine');
  } finally {
    await t.close();
  }
});
