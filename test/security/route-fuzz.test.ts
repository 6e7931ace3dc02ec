// A bounded, seeded fuzzer over every registered route: two tenants, a read-only user, an API key,
// a cluster admin and no token at all send odd path segments (other tenants' ids, `..`, overlong,
// past 32 bits), odd queries and odd JSON bodies (1e308, -0, unicode line separators, nested
// objects where scalars go, other tenants' ids in every id field). Nothing may answer 5xx, and the
// store's invariants hold afterwards. Each request comes from its own address, so the login
// limiter (tested on its own) does not turn the run into 429s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest } from '../helpers.js';
import { runningNow } from '../snapshot.js';
import { assertInvariants } from '../invariants.js';
import { registeredRoutes } from '../../src/api/app.js';
import { boundedQuery } from '../routes.js';

/** A small deterministic generator (a linear congruential one): the same seed, the same requests. */
function generator(seed: number) {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  return { next, pick: <T>(a: readonly T[]): T => a[Math.floor(next() * a.length)]! };
}

for (const seed of [1, 2]) {
  test(`no registered route answers 5xx to a seeded run of odd requests (seed ${seed})`, async () => {
    const t = await startTest();
    try {
      const { next, pick } = generator(seed);
      const alpha = await account(t, 'alpha');
      const beta = await account(t, 'beta');
      const mallory = await t.user('mallory', { level: 'account_admin', account_id: alpha.id }, alpha.id);
      const victor = await t.user('victor', { level: 'account_admin', account_id: beta.id }, beta.id);
      const discs = [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }, { label: 'disc-2', storage_grade: 'sata', size: 1024 }];
      const a1 = (await t.req('POST', '/accounts/alpha/groups/default/vm_create', { token: mallory, body: { virtual_machine: { name: 'a1', power_on: true }, discs } })).body.virtual_machine;
      const b1 = (await t.req('POST', '/accounts/beta/groups/default/vm_create', { token: victor, body: { virtual_machine: { name: 'b1', power_on: true }, discs } })).body.virtual_machine;
      await runningNow(t, a1.id);
      await runningNow(t, b1.id);
      const cons = await t.user('cons', { level: 'vm_console', virtual_machine_id: a1.id }, alpha.id);
      await t.req('POST', '/accounts/alpha/groups/default/virtual_machines/a1/discs/disc-1/backups', { token: mallory });
      await t.req('POST', '/users/victor/privileges', { token: mallory, body: { level: 'group_admin', group_id: alpha.defaultGroupId } });
      const key = (await t.req('POST', '/api_keys', { token: mallory, body: { label: 'k' } })).body;
      const tokens = [mallory, victor, cons, t.adminToken, `apikey.${key.api_key}`, null];
      const ids = [a1.id, b1.id, alpha.id, beta.id, alpha.defaultGroupId, beta.defaultGroupId, b1.discs[1].id, 0, -1, 2147483647, 2147483648];
      const segments: Record<string, string[]> = {
        acc: ['alpha', 'beta', '', String(beta.id), '0', '99999999999', 'ALPHA', '..', '%2e%2e', 'a%20b', '%E2%80%A8', 'x'.repeat(600)],
        grp: ['default', String(alpha.defaultGroupId), String(beta.defaultGroupId), 'nope', '%2e'],
        vm: ['a1', 'b1', String(a1.id), String(b1.id), '0', 'a1.', '%2e%2e'],
        disc: ['disc-1', 'disc-2', String(b1.discs[1].id), '0'],
        backup: ['1', '2', '0', 'x'],
        nic: [String(a1.network_interfaces[0].id), String(b1.network_interfaces[0].id), 'x'],
        id: ['1', '2', '3', '0', String(b1.discs[1].id), '2147483648', 'abc', '-1'],
        user: ['mallory', 'victor', 'cons', 'admin', 'nobody', '1', '0'],
        address: [a1.network_interfaces[0].ips[0], b1.network_interfaces[0].ips[0], '1.2.3.4', '::1', 'x', '::ffff:1.2.3.4'],
        token: [mallory, 'junk'],
      };
      const values: unknown[] = [null, true, false, 0, -0, 1, -1, 1e308, -1e308, 1.5, '', 'a\u2028b\u2029', 'x'.repeat(3000), '\ud800', [], {}, [1, 2],
        { a: { b: 1 } }, ...ids, 'yes', '2026-01-01 00:00:00', 'http://127.0.0.1/', 'group_admin', 'vm_console', 'cluster_admin', 'reset', 'ipv4'];
      const queries = ['purge=yes', 'view=overview', 'include_deleted=1', 'account_id=beta', 'group_id=default', `vm_id=${b1.id}`, 'user_id=victor', 'signal=reset'];
      const routes = registeredRoutes(t.running.app).filter((r) => r.method !== 'HEAD');
      const failures: string[] = [];
      for (let i = 0; i < 1200; i++) {
        const r = pick(routes);
        const url = r.url.replace(/:(\w+)/g, (_m, name: string) => pick(segments[name] ?? ['1']));
        const schema = r.schema?.body as { properties?: Record<string, unknown> } | undefined;
        const body: Record<string, unknown> = {};
        for (const field of Object.keys(schema?.properties ?? { name: 1, level: 1 })) if (next() < 0.5) body[field] = pick(values);
        if (next() < 0.1) body.virtual_machine = { name: `z${i}`, cores: pick(values), memory: pick(values) };
        if (next() < 0.1) body.discs = [{ size: pick(values), storage_grade: pick(values) }];
        const q = boundedQuery(r, next() < 0.3 ? pick(queries) : '');
        const query = q ? `?${q}` : '';
        const token = pick(tokens);
        const payload = r.method === 'GET' || r.method === 'DELETE' ? undefined : JSON.stringify(body);
        const res = await t.running.app.inject({
          method: r.method as 'GET', url: url + query, payload, remoteAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
          headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(payload ? { 'content-type': 'application/json' } : {}) },
        });
        if (res.statusCode >= 500) failures.push(`${r.method} ${url}${query} ${payload ?? ''} -> ${res.statusCode} ${res.body.slice(0, 200)}`);
      }
      assert.deepEqual(failures, []);
      await assertInvariants(t.running.hangar.db, `fuzz seed ${seed}`);
    } finally {
      await t.close();
    }
  });
}
