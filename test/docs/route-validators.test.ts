// Route validators are compiled on a route's first request (src/api/lazy-validators.ts), not at
// start-up: these hold start-up to compiling only what its own requests use, every registered route's schemas to compiling
// (so a broken schema fails here, not as a 500 on a first request in production), and a route's
// very first request to the same validation as ever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registeredRoutes } from '../../src/api/app.js';
import { compileRoutePart, compiledValidatorCount } from '../../src/api/lazy-validators.js';
import { startTest } from '../helpers.js';

const schemaParts = ['params', 'querystring', 'body'] as const;

test('start-up compiles only what its requests use; a route\'s first request compiles its own and is validated', async () => {
  const before = compiledValidatorCount();
  // startTest logs the admin in (POST /session): the few validators that request uses.
  const t = await startTest();
  try {
    const parts = registeredRoutes(t.running.app).flatMap((r) => schemaParts.filter((p) => r.schema?.[p] !== undefined));
    const atStart = compiledValidatorCount() - before;
    assert.ok(atStart <= 5, `${atStart} of ${parts.length} route parts' validators compiled by start-up`);
    // The first request to POST /users: a name of the wrong type is refused by the body schema.
    const refused = await t.req('POST', '/users', { token: t.adminToken, body: { username: 42, password: 'a long enough password 1' } });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.deepEqual(Object.keys(refused.body as object), ['username'], JSON.stringify(refused.body));
    assert.ok(compiledValidatorCount() > before + atStart, 'the first request to POST /users compiled no validator');
    const compiledOnce = compiledValidatorCount();
    const again = await t.req('POST', '/users', { token: t.adminToken, body: { username: 43, password: 'a long enough password 1' } });
    assert.equal(again.status, 400);
    assert.equal(compiledValidatorCount(), compiledOnce, 'a second request compiled again');
    const made = await t.req('POST', '/users', { token: t.adminToken, body: { username: 'carol', password: 'a long enough password 1' } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
  } finally {
    await t.close();
  }
});

test('every registered route\'s params, querystring and body schemas compile', async () => {
  const t = await startTest();
  try {
    const routes = registeredRoutes(t.running.app);
    let parts = 0;
    for (const r of routes) {
      for (const httpPart of schemaParts) {
        const schema = r.schema?.[httpPart];
        if (schema === undefined) continue;
        assert.doesNotThrow(() => compileRoutePart({ schema, method: r.method, url: r.url, httpPart }), `${r.method} ${r.url} ${httpPart}`);
        parts++;
      }
    }
    assert.ok(parts > 100, `only ${parts} route parts have schemas`);
  } finally {
    await t.close();
  }
});
