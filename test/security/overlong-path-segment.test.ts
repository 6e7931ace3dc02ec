// Regression: a path segment longer than the router's 500 characters (a name, id or token) was
// answered 400 with the whole path echoed in the error (`'/accounts/aaa…' is exceeding the max
// param length`), before authentication, unlike a shorter unknown segment (404). A segment that
// names nothing is a 404 `{"error":"Not found"}` at any length, and no answer echoes the path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTest } from '../helpers.js';
import { registeredRoutes } from '../../src/api/app.js';

test('an overlong path segment is a 404 on every registered route with a parameter, echoing nothing', async () => {
  const t = await startTest();
  try {
    const routes = registeredRoutes(t.running.app).filter((r) => r.url.includes(':'));
    assert.ok(routes.length > 20);
    for (const r of routes) {
      for (const n of [501, 5000]) {
        const long = 'a'.repeat(n);
        const url = r.url.replace(/:(\w+)/g, long);
        for (const token of [t.adminToken, null]) {
          const reply = await t.req(r.method, url, { token, ...(r.method === 'POST' || r.method === 'PUT' ? { body: {} } : {}) });
          const what = `${r.method} ${r.url} (${n} characters, ${token ? 'admin' : 'no token'})`;
          assert.equal(reply.status, 404, `${what}: ${reply.text.slice(0, 80)}`);
          assert.ok(!reply.text.includes('aaaaaaaaaa'), `${what} echoes the path`);
        }
      }
    }
  } finally {
    await t.close();
  }
});
