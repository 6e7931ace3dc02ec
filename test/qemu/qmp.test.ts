// The QMP client against a scripted monitor on a unix socket: greeting, capabilities, replies
// matched by id (also out of order), errors, events, timeouts and reconnecting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { QmpClient, QmpError } from '../../src/drivers/qemu/qmp.js';

interface Cmd { execute: string; arguments?: Record<string, unknown>; id: number }

/** A fake monitor: greets (unless told not to) and hands each command to `onCommand`. */
function monitor(sockPath: string, opts: { greet?: boolean; onCommand?: (c: Cmd, sock: net.Socket) => void } = {}): Promise<net.Server> {
  const server = net.createServer((sock) => {
    if (opts.greet !== false) sock.write(JSON.stringify({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 22 } }, capabilities: [] } }) + '\r\n');
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const c = JSON.parse(line) as Cmd;
        if (c.execute === 'qmp_capabilities') sock.write(JSON.stringify({ return: {}, id: c.id }) + '\r\n');
        else opts.onCommand?.(c, sock);
      }
    });
    sock.on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(sockPath, () => resolve(server)));
}

function tmpSock(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-qmp-'));
  return path.join(dir, 'qmp.sock');
}

test('connects, negotiates and matches replies by id even out of order', async () => {
  const sock = tmpSock();
  const held: { c: Cmd; s: net.Socket }[] = [];
  const server = await monitor(sock, {
    onCommand: (c, s) => {
      held.push({ c, s });
      if (held.length === 2) {
        // answer the second first, split across writes
        const second = JSON.stringify({ return: { n: 2 }, id: held[1]!.c.id }) + '\r\n';
        s.write(second.slice(0, 5));
        setTimeout(() => {
          s.write(second.slice(5));
          s.write(JSON.stringify({ return: { n: 1 }, id: held[0]!.c.id }) + '\r\n');
        }, 10);
      }
    },
  });
  const q = await QmpClient.connect(sock);
  const [a, b] = await Promise.all([q.execute<{ n: number }>('first'), q.execute<{ n: number }>('second', { x: 1 })]);
  assert.deepEqual(a, { n: 1 });
  assert.deepEqual(b, { n: 2 });
  assert.deepEqual(held[1]!.c.arguments, { x: 1 });
  q.close();
  server.close();
});

test('error replies reject with QmpError; events are emitted', async () => {
  const sock = tmpSock();
  const server = await monitor(sock, {
    onCommand: (c, s) => {
      s.write(JSON.stringify({ event: 'POWERDOWN', data: {}, timestamp: { seconds: 1, microseconds: 2 } }) + '\r\n');
      s.write(JSON.stringify({ error: { class: 'GenericError', desc: 'nope' }, id: c.id }) + '\r\n');
    },
  });
  const q = await QmpClient.connect(sock);
  const ev = q.waitEvent('POWERDOWN', 2000);
  await assert.rejects(q.execute('system_powerdown'), (err: unknown) => {
    assert.ok(err instanceof QmpError);
    assert.equal(err.errorClass, 'GenericError');
    assert.match(err.message, /system_powerdown: nope/);
    return true;
  });
  assert.equal((await ev).event, 'POWERDOWN');
  q.close();
  server.close();
});

test('a monitor that never greets times out instead of hanging', async () => {
  const sock = tmpSock();
  const server = await monitor(sock, { greet: false });
  const t0 = Date.now();
  await assert.rejects(QmpClient.connect(sock, { timeoutMs: 2000, greetingTimeoutMs: 300 }), /no greeting/);
  assert.ok(Date.now() - t0 < 1500);
  server.close();
});

test('waits for the socket to appear, gives up at the deadline, honours abort', async () => {
  const sock = tmpSock();
  setTimeout(() => void monitor(sock).then((s) => setTimeout(() => s.close(), 500)), 150);
  const q = await QmpClient.connect(sock, { timeoutMs: 3000 });
  assert.ok(q.greeted);
  q.close();

  await assert.rejects(QmpClient.connect(tmpSock(), { timeoutMs: 200 }), /QMP connect/);
  await assert.rejects(QmpClient.connect(tmpSock(), { timeoutMs: 5000, abort: () => 'QEMU exited (1)' }), /QEMU exited/);
});

test('pending commands fail when the connection closes; a command can time out; reconnect works', async () => {
  const sock = tmpSock();
  let conns = 0;
  const server = await monitor(sock, {
    onCommand: (c, s) => {
      if (c.execute === 'die') s.destroy();
      if (c.execute === 'echo') s.write(JSON.stringify({ return: c.arguments, id: c.id }) + '\n');
      // 'slow' is never answered
    },
  });
  server.on('connection', () => conns++);
  const q = await QmpClient.connect(sock);
  await assert.rejects(q.execute('slow', undefined, 100), /no reply within 100 ms/);
  const closed = new Promise<void>((resolve) => q.once('close', () => resolve()));
  await assert.rejects(q.execute('die'), /connection closed/);
  await closed;
  assert.ok(q.closed);
  await assert.rejects(q.execute('echo'), /connection closed/);

  const again = await QmpClient.connect(sock);
  assert.deepEqual(await again.execute('echo', { a: 1 }), { a: 1 });
  assert.equal(conns, 2);
  again.close();
  server.close();
});
