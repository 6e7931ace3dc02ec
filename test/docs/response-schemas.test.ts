// Response schemas are contracts the tests hold the server to (src/api/bigv/responses.ts,
// src/api/responses.ts): every route declares one for its success status and its refusals, every
// answer the test suites get is validated against it (test/helpers.ts: startTest's close() fails
// the test on any break), and it never filters an answer (the server serializes with JSON.stringify).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registeredRoutes, type RegisteredRoute } from '../../src/api/app.js';
import { account, breaksContract, startTest, takeResponseContractBreaks, type TestHangar } from '../helpers.js';

type Responses = Record<string, { properties?: Record<string, unknown>; required?: string[] }>;

const routeOf = (t: TestHangar, method: string, url: string): RegisteredRoute => {
  const r = registeredRoutes(t.running.app).find((x) => x.method === method && x.url === url);
  assert.ok(r, `${method} ${url} is registered`);
  return r;
};

test('every route declares a response schema for its success status and for its refusals (4xx)', async () => {
  const t = await startTest();
  try {
    const routes = registeredRoutes(t.running.app).filter((r) => r.method !== 'HEAD');
    assert.ok(routes.length > 40, `only ${routes.length} routes registered`);
    const lacking = routes.filter((r) => {
      const response = r.schema?.response as Responses | undefined;
      return !response?.[String(r.schema?.success ?? 200)] || !response['4xx'];
    }).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(lacking, [], 'routes without a response schema for their success status or their 4xx');
  } finally {
    await t.close();
  }
});

test('an answer with a field its schema does not declare, or without one it requires, breaks the contract (and is not filtered)', async () => {
  const t = await startTest();
  try {
    const response = routeOf(t, 'GET', '/users/:user').schema!.response as Responses;
    const declared = response['200']!;
    const refused = response['4xx']!;
    try {
      // The presenter gives `email`, which this schema no longer declares.
      const { email: _email, ...properties } = declared.properties!;
      response['200'] = { ...declared, properties, required: declared.required!.filter((f) => f !== 'email') };
      const r = await t.req('GET', '/users/admin', { token: t.adminToken });
      assert.equal(r.status, 200);
      assert.equal(typeof r.body.email, 'string', 'the undeclared field is still sent: schemas never filter an answer');
      assert.deepEqual(takeResponseContractBreaks(t.running.app), ['GET /users/:user -> 200: body must NOT have additional properties (email)']);
      // The schema requires `nickname`, which the presenter does not give.
      response['200'] = { ...declared, properties: { ...declared.properties, nickname: { type: 'string' } }, required: [...declared.required!, 'nickname'] };
      assert.equal((await t.req('GET', '/users/admin', { token: t.adminToken })).status, 200);
      assert.deepEqual(takeResponseContractBreaks(t.running.app), ["GET /users/:user -> 200: body must have required property 'nickname'"]);
      // A refusal is held to the route's 4xx.
      response['4xx'] = { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } as never;
      assert.equal((await t.req('GET', '/users/nobody', { token: t.adminToken })).status, 404);
      assert.match(takeResponseContractBreaks(t.running.app).join(), /GET \/users\/:user -> 404: body must have required property 'message'/);
    } finally {
      response['200'] = declared;
      response['4xx'] = refused;
    }
  } finally {
    await t.close();
  }
});

test("a VM's answer (presentVm, built field by field) is held to its schema: a field added or dropped is named", async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    const created = await t.req('POST', '/accounts/acme/groups/default/virtual_machines', { token: t.adminToken, body: { name: 'web1', cores: 1, memory: 1024 } });
    assert.equal(created.status, 202, created.text);
    const r = await t.req('GET', '/accounts/acme/groups/default/virtual_machines/web1', { token: t.adminToken });
    assert.equal(r.status, 200);
    const response = routeOf(t, 'GET', '/accounts/:acc/groups/:grp/virtual_machines/:vm').schema!.response as Responses;
    const json = 'application/json';
    assert.equal(breaksContract(response, 200, json, r.text), null);
    assert.match(breaksContract(response, 200, json, JSON.stringify({ ...r.body, surprise: 1 }))!, /additional properties \(surprise\)/);
    const { power_on: _power, ...withoutPower } = r.body;
    assert.match(breaksContract(response, 200, json, JSON.stringify(withoutPower))!, /required property 'power_on'/);
    const nested = { ...r.body, discs: [], network_interfaces: [{ ...r.body.network_interfaces[0], vlan_num: '1' }] };
    assert.match(breaksContract(response, 200, json, JSON.stringify(nested))!, /body\/network_interfaces\/0\/vlan_num must be integer/);
    assert.equal(breaksContract(response, 201, json, r.text), 'status 201 is not declared');
  } finally {
    await t.close();
  }
});
