// Regression: the agent finished an operation of a kind it did not know as done (its switch had no
// default), reporting an act that never happened. An unknown kind now fails its operation with an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { HeadAgent } from '../../src/heads/agent.js';
import { FakeDriver } from '../../src/drivers/fake/driver.js';
import type { PendingOperation } from '../../src/heads/link.js';
import { MemoryLink } from '../qemu/helpers.js';

test('an operation of a kind the head does not know fails, never done', async () => {
  const link = new MemoryLink();
  const driver = new FakeDriver();
  const agent = new HeadAgent(link, driver, { label: 'h1', zone: 'default', managementAddress: '127.0.0.1', network: { mode: 'user' }, resyncMs: 60_000, log: pino({ level: 'silent' }) });
  await agent.start();
  try {
    // As a newer brain (or a bad row) would send it: a kind outside this head's union.
    const op = { id: 1, kind: 'vm.teleport', args: {} } as unknown as PendingOperation;
    link.ops.set(7, [op]);
    await agent.kick(7);
    const end = link.finished.find((f) => f.op.id === 1);
    assert.ok(end, 'the operation was finished');
    assert.match(end.error ?? '', /cannot run an operation of kind "vm\.teleport"/);
  } finally {
    await agent.stop();
  }
});
