// Regression: Hangar replaced Fastify's JSON parser (to take empty bodies) with a bare JSON.parse,
// losing Fastify's refusal of prototype-poisoning keys: a body with `__proto__` or
// `constructor.prototype` was accepted (PUT of a machine: 200, the rest applied), leaving objects
// whose own `__proto__` key turns into a prototype wherever a body is later copied field by field.
// Such bodies are refused as a whole: 400 `{"body":[...]}`, nothing applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, startTest } from '../helpers.js';
import { snapshot } from '../snapshot.js';

test('a JSON body with a __proto__ or constructor.prototype key is a 400 and changes nothing', async () => {
  const t = await startTest();
  try {
    await account(t, 'alpha');
    const made = await t.req('POST', '/accounts/alpha/groups/default/virtual_machines', { token: t.adminToken, body: { name: 'web1' } });
    assert.equal(made.status, 202, made.text);
    const url = '/accounts/alpha/groups/default/virtual_machines/web1';
    const before = await snapshot(t);
    for (const raw of [
      '{"__proto__":{"cores":4},"name":"poisoned"}',
      '{"name":"poisoned","nested":{"__proto__":{"x":1}}}',
      '{"constructor":{"prototype":{"x":1}},"name":"poisoned"}',
      '[{"__proto__":{}}]',
    ]) {
      const r = await t.req('PUT', url, { token: t.adminToken, raw });
      assert.equal(r.status, 400, `${raw}: ${r.text}`);
      assert.deepEqual(Object.keys(r.body), ['body'], r.text);
    }
    assert.deepEqual(await snapshot(t), before, 'nothing applied');
    // Such names as values, or a `constructor` without `prototype`, are ordinary JSON.
    const fine = await t.req('PUT', url, { token: t.adminToken, raw: '{"autoreboot_on":true,"note":"__proto__","constructor":{"name":"x"}}' });
    assert.equal(fine.status, 200, fine.text);
  } finally {
    await t.close();
  }
});
