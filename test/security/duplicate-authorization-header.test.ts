// Regression: a request with two Authorization headers was served with the first one (Node drops
// the duplicates of `authorization` from req.headers). A proxy or log that reads the last one sees
// a different caller than the one Hangar served: a tenant's request carrying an admin's header
// second was served as the tenant, and with the headers swapped as the admin (200 both times).
// Which credential counts must never depend on header order: more than one is a 401.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { account, startTest } from '../helpers.js';

/** One raw HTTP/1.1 exchange over loopback (fetch and inject cannot send a header twice). */
function exchange(port: number, request: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request)); // `Connection: close`: the server ends it
    let out = '';
    socket.on('data', (d) => (out += d));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    socket.on('close', () => resolve({ status: Number(out.split(' ')[1]), body: out.slice(out.indexOf('\r\n\r\n') + 4) }));
  });
}

test('two Authorization headers are refused (401), whichever credential comes first', async () => {
  const t = await startTest();
  try {
    const alpha = await account(t, 'alpha');
    const tenant = await t.user('tenant', { level: 'account_admin', account_id: alpha.id }, alpha.id);
    const port = Number(new URL(await t.running.app.listen({ port: 0, host: '127.0.0.1' })).port);
    const get = (...tokens: string[]) => exchange(port,
      `GET /accounts HTTP/1.1\r\nHost: localhost\r\n${tokens.map((x) => `Authorization: Bearer ${x}\r\n`).join('')}Connection: close\r\n\r\n`);
    assert.equal((await get(tenant)).status, 200, 'one header is served');
    for (const pair of [[tenant, t.adminToken], [t.adminToken, tenant], [tenant, tenant]]) {
      const r = await get(...pair);
      assert.equal(r.status, 401, r.body);
      assert.deepEqual(Object.keys(JSON.parse(r.body)), ['error']);
    }
  } finally {
    await t.close();
  }
});
