// Events across brains: two brains (two Hangar contexts and apps) on one PostgreSQL database. An
// operation that ends through one brain's head reaches an SSE subscriber of the other within a
// bound far below the stream's safety poll (5 s): the wake-up is the NOTIFY, not the poll.
// PostgreSQL only (SQLite has one brain per file; its in-process wake-up is test/core/operations.test.ts').
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { account, freshStore, startTest, until } from '../helpers.js';
import { sql } from 'kysely';
import { SecretBox } from '../../src/core/secrets.js';

const PG = process.env.HANGAR_TEST_DATABASE_URL;
/** How soon the other brain's subscriber must hear of it (the safety poll alone would take up to 5 s). */
const BOUND_MS = 1000;

/** An SSE stream read as it arrives: each operation event with when it came. */
function subscribe(url: string, token: string): { events: { at: number; op: any }[]; connected: Promise<void>; close(): void } {
  const events: { at: number; op: any }[] = [];
  let connected!: () => void;
  const ready = new Promise<void>((r) => { connected = r; });
  let buffer = '';
  const req = http.get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      connected();
      buffer += chunk;
      const blocks = buffer.split('\n\n');
      buffer = blocks.pop()!;
      for (const b of blocks) {
        const data = b.split('\n').find((l) => l.startsWith('data: '));
        if (b.startsWith('event: operation') && data) events.push({ at: Date.now(), op: JSON.parse(data.slice(6)) });
      }
    });
  });
  req.on('error', () => {});
  return { events, connected: ready, close: () => req.destroy() };
}

test('an operation finished through one brain reaches an SSE subscriber of another brain on the same PostgreSQL database within 1 s, also after its LISTEN connection was cut', { skip: PG ? false : 'needs HANGAR_TEST_DATABASE_URL (PostgreSQL): LISTEN/NOTIFY fan-out' }, async () => {
  const store = await freshStore({ postgres: true });
  const secrets = SecretBox.ephemeral();
  const a = await startTest({ storeUrl: store.url, secrets });
  const b = await startTest({ storeUrl: store.url, secrets, heads: [] });
  let stream: ReturnType<typeof subscribe> | undefined;
  try {
    await account(a, 'acme');
    await b.running.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (b.running.app.server.address() as AddressInfo).port;
    stream = subscribe(`http://127.0.0.1:${port}/events?max_seconds=30`, b.adminToken);
    await stream.connected;
    await new Promise((r) => setTimeout(r, 300)); // its LISTEN connection opens

    for (const name of ['web1', 'web2']) {
      if (name === 'web2') {
        // The LISTEN connections are cut (a database restart, a proxy's idle timeout): they reconnect.
        const cut = await sql<{ n: number }>`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'LISTEN%'`.execute(a.running.hangar.db);
        assert.ok(cut.rows[0]!.n >= 1, 'a LISTEN connection was open');
        await until('a LISTEN connection again', async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND query LIKE 'LISTEN%'`.execute(a.running.hangar.db)).rows[0]!.n >= 1, 5000);
      }
      const held = a.drivers[0]!.holdNext('createDisc');
      const created = await a.req('POST', '/accounts/acme/groups/default/vm_create', {
        token: a.adminToken, body: { virtual_machine: { name }, discs: [{ label: 'disc-1', size: 1024 }] },
      });
      assert.equal(created.status, 202, created.text);
      const opId = String(created.headers.location).split('/').pop();
      await held.reached;
      await new Promise((r) => setTimeout(r, 200));
      held.release();
      const done = await a.req('GET', `/operations/${opId}?wait=10`, { token: a.adminToken });
      assert.equal(done.body.state, 'done', done.text);
      const finishedAt = Date.parse(done.body.finished_at);
      const heard = await until(`brain b's subscriber hears that ${name}'s create ended`,
        async () => stream!.events.find((e) => e.op.id === opId && e.op.state === 'done'), 6000);
      assert.ok(heard.at - finishedAt < BOUND_MS, `heard ${heard.at - finishedAt} ms after it ended`);
    }
  } finally {
    stream?.close();
    await b.close();
    await a.close();
    await store.drop();
  }
});
