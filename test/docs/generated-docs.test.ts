// docs/endpoints.md and docs/openapi.json are generated from the registered routes (`npm run docs`):
// the checked-in files must be exactly what the routes generate now, and every route must carry
// what the generated documents show (a tag, a summary, the success status its handler answers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedDocs } from '../../src/brain/docs.js';
import { registeredRoutes } from '../../src/api/app.js';
import { documentedRoutes, endpointsMarkdown } from '../../src/api/endpoints-doc.js';
import { startTest } from '../helpers.js';

const DOCS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs');

test('docs/endpoints.md and docs/openapi.json are what the registered routes generate (run `npm run docs` after changing a route)', async () => {
  for (const [name, text] of Object.entries(await generatedDocs())) {
    const checkedIn = fs.readFileSync(path.join(DOCS, name), 'utf8');
    assert.ok(checkedIn === text, `docs/${name} is stale: run \`npm run docs\` and commit the result (\`npm run docs:check\` shows the difference)`);
  }
});

test('every documented route has a tag and a summary, so the generated documents stay complete', async () => {
  const t = await startTest();
  try {
    const routes = documentedRoutes(registeredRoutes(t.running.app));
    assert.ok(routes.length > 40, `only ${routes.length} routes registered`);
    const lacking = routes.filter((r) => !r.schema?.tags?.length || !r.schema.summary?.trim()).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(lacking, [], 'routes without tags or summary');
    assert.doesNotMatch(endpointsMarkdown(registeredRoutes(t.running.app)), /^## untagged$/m);
  } finally {
    await t.close();
  }
});

test("every route's documented success status is the one its handler sets (schema `success`, default 200)", async () => {
  const t = await startTest();
  try {
    const wrong: string[] = [];
    for (const r of documentedRoutes(registeredRoutes(t.running.app))) {
      // The handler sets a non-200 success with reply.code(2xx); a 200 route sets none.
      const set = [...new Set([...r.handler.toString().matchAll(/\.code\((2\d\d)\)/g)].map((m) => Number(m[1])))].sort();
      const documented = r.schema?.success ?? 200;
      // A route that answers one of several successes (Gigas: 201 when the VM is off, 202 when on)
      // declares each in its responses, and its handler sets each but 200.
      const successes = Object.keys(r.schema?.response ?? {}).filter((k) => /^2\d\d$/.test(k)).map(Number);
      const expected = successes.length > 1 ? successes.filter((c) => c !== 200).sort() : documented === 200 ? [] : [documented];
      if (JSON.stringify(set) !== JSON.stringify(expected)) wrong.push(`${r.method} ${r.url}: documented ${documented}, handler sets ${set.join(', ') || 'none (200)'}`);
    }
    assert.deepEqual(wrong, []);
    const doc = (await t.req('GET', '/openapi.json')).body;
    assert.deepEqual(Object.keys(doc.paths['/accounts/{acc}/groups/{grp}/vm_create'].post.responses), ['202', '4XX']);
    assert.deepEqual(doc.paths['/api_keys/{id}'].delete.responses[204], { description: 'No content' });
  } finally {
    await t.close();
  }
});
