// The brain↔head protocol (heads/link.ts, brain/link.ts, docs/head-protocol.md): a peer speaking
// another version is refused with a clear error and changes nothing, and what crosses the link is
// plain data (it survives a JSON round trip unchanged), as a network link will carry it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { account, SSH_KEY, startTest, until } from '../helpers.js';
import { HeadEndpoint } from '../../src/brain/link.js';
import { JsonTransport } from '../../src/heads/local-link.js';
import { MessageLink, PROTOCOL_VERSION, ProtocolError, type Transport, type UpMessage } from '../../src/heads/link.js';
import { SecretBox } from '../../src/core/secrets.js';

/** Plain data: only objects with Object's prototype (or none), arrays, strings, finite numbers, booleans and null. */
function assertPlain(value: unknown, where: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') { assert.ok(Number.isFinite(value), `${where}: a non-finite number`); return; }
  if (Array.isArray(value)) { value.forEach((v, i) => assertPlain(v, `${where}[${i}]`)); return; }
  assert.equal(typeof value, 'object', `${where}: a ${typeof value}`);
  const proto = Object.getPrototypeOf(value);
  assert.ok(proto === Object.prototype || proto === null, `${where}: an instance of ${proto?.constructor?.name}`);
  for (const [k, v] of Object.entries(value as object)) {
    assert.notEqual(v, undefined, `${where}.${k}: undefined does not survive JSON`);
    assertPlain(v, `${where}.${k}`);
  }
}

test('a message of another protocol version is refused with a clear error, and changes nothing', async () => {
  const t = await startTest();
  try {
    const db = t.running.hangar.db;
    const endpoint = new HeadEndpoint(db, { clusterDomain: 'hangar.local', secrets: SecretBox.ephemeral() });
    const facts = { driver: 'fake', accel: 'fake', cores: 4, memory: 4096, grades: { sata: 1024 }, problem: null };
    const refused = await endpoint.receive({ v: PROTOCOL_VERSION + 1, type: 'register', label: 'head9', zone: 'default', managementAddress: '127.0.0.1', facts });
    assert.equal(refused.type, 'refused');
    assert.equal(refused.v, PROTOCOL_VERSION);
    assert.match((refused as { error: string }).error, new RegExp(`the head speaks head protocol version ${PROTOCOL_VERSION + 1}; this side speaks version ${PROTOCOL_VERSION} only`));
    assert.equal(await db.selectFrom('heads').select('id').where('label', '=', 'head9').executeTakeFirst(), undefined, 'nothing was registered');
    // No version at all, and an unknown type, are refused too.
    assert.match((await endpoint.receive({ type: 'register' }) as { error: string }).error, /version null/);
    assert.match((await endpoint.receive({ v: PROTOCOL_VERSION, type: 'launch' }) as { error: string }).error, /unknown message type from the head: "launch"/);
    assert.match((await endpoint.receive('register') as { error: string }).error, /not an object/);

    // The same message in this version is accepted.
    const ok = await endpoint.receive({ v: PROTOCOL_VERSION, type: 'register', label: 'head9', zone: 'default', managementAddress: '127.0.0.1', facts });
    assert.equal(ok.type, 'registered');

    // The head refuses a brain that answers in another version.
    const future: Transport = { send: async () => ({ v: PROTOCOL_VERSION + 1, type: 'ack' }) };
    await assert.rejects(new MessageLink(future).reportImages([]), (err: unknown) =>
      err instanceof ProtocolError && err.message === `the brain speaks head protocol version ${PROTOCOL_VERSION + 1}; this side speaks version ${PROTOCOL_VERSION} only`);
    // A refusal reaches the agent as an error naming what was refused.
    const refusing: Transport = { send: async () => ({ v: PROTOCOL_VERSION, type: 'refused', error: 'no such head' }) };
    await assert.rejects(new MessageLink(refusing).attention(), /the brain refused sync: no such head/);
  } finally {
    await t.close();
  }
});

test('every message up and down is plain data, unchanged by a JSON round trip', async () => {
  const t = await startTest();
  try {
    await account(t, 'acme');
    const r = await t.req('POST', '/accounts/acme/groups/default/vm_create', {
      token: t.adminToken,
      body: { virtual_machine: { name: 'web1', power_on: true }, discs: [{ label: 'disc-1', storage_grade: 'sata', size: 1024 }], reimage: { distribution: 'tiny', root_password: 'pw-secret-1', ssh_public_key: SSH_KEY } },
    });
    assert.equal(r.status, 202, r.text);
    const vmId: number = r.body.virtual_machine.id;
    const h = t.running.hangar;
    await until('running', async () => (await h.db.selectFrom('vms').select('run_state').where('id', '=', vmId).executeTakeFirstOrThrow()).run_state === 'running');

    const seen: { dir: 'up' | 'down'; msg: unknown }[] = [];
    const inner = new JsonTransport(new HeadEndpoint(h.db, { clusterDomain: h.config.clusterDomain, secrets: h.secrets }));
    const recording: Transport = {
      async send(message: UpMessage) {
        seen.push({ dir: 'up', msg: message });
        const answer = await inner.send(message);
        seen.push({ dir: 'down', msg: answer });
        return answer;
      },
    };
    const link = new MessageLink(recording);
    const facts = { driver: 'fake', accel: 'fake', cores: 64, memory: 1 << 20, grades: { sata: 1 << 26 }, problem: null };
    const headId = await link.register('head1', 'default', '127.0.0.1', facts);
    assert.equal(headId, t.running.agents[0]!.headId, 'the same head, registered again');
    assert.ok((await link.attention()).every((id) => typeof id === 'number'));
    assert.deepEqual(await link.believedRunning(), [vmId]);
    const { vm, ops } = await link.desired(vmId);
    assert.equal(vm?.id, vmId);
    assert.equal(vm?.powerOn, true);
    assert.deepEqual(ops, []);
    await link.report(vmId, { running: true, pid: 4242 });
    assert.equal((await h.db.selectFrom('vms').select('pid').where('id', '=', vmId).executeTakeFirstOrThrow()).pid, 4242);

    assert.ok(seen.length >= 10);
    for (const [i, { dir, msg }] of seen.entries()) {
      assertPlain(msg, `${dir} message ${i}`);
      assert.deepStrictEqual(JSON.parse(JSON.stringify(msg)), msg, `${dir} message ${i} survives JSON`);
      assert.equal((msg as { v: number }).v, PROTOCOL_VERSION);
    }
    assert.deepEqual(seen.filter((s) => s.dir === 'up').map((s) => (s.msg as UpMessage).type), ['register', 'sync', 'sync', 'desired.get', 'observed']);
    assert.deepEqual(seen.filter((s) => s.dir === 'down').map((s) => (s.msg as { type: string }).type), ['registered', 'sync', 'sync', 'desired', 'ack']);
  } finally {
    await t.close();
  }
});
