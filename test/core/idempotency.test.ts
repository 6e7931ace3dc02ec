// Idempotency keys as a core service, with no dialect: two identical requests at once act once, a
// key outlives a restart (a new context on the same store), and a key used for another request is
// refused. Runs on SQLite (a file, so a restart reopens it) and, with HANGAR_TEST_STORE=postgres, on
// PostgreSQL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openStore } from '../../src/store/db.js';
import { defaultConfig } from '../../src/core/config.js';
import { LoginLimiter } from '../../src/core/login-limiter.js';
import { makeLogger } from '../../src/core/log.js';
import { SecretBox } from '../../src/core/secrets.js';
import type { Hangar } from '../../src/core/context.js';
import { isCode } from '../../src/core/errors.js';
import { idempotent, fingerprintOf, type Answer } from '../../src/core/idempotency.js';
import { freshStore } from '../helpers.js';

/** A bare core context on a store (no heads, no HTTP). */
async function context(url: string, secrets: SecretBox): Promise<Hangar> {
  const db = await openStore({ url, secrets });
  const config = defaultConfig({});
  return { db, config, secrets, heads: { kick: async () => {} }, log: makeLogger({ level: 'silent' }), limiter: new LoginLimiter(db, config), now: Date.now };
}

/** A store that survives its context: a PostgreSQL database, or a SQLite file. */
async function durableStore(): Promise<{ url: string; drop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-idem-'));
  const store = await freshStore({ sqliteFile: path.join(dir, 'hangar.db') });
  return { url: store.url, drop: async () => { await store.drop(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

const request = (key: string, body = '{"name":"web1"}') => ({ caller: 'user:1', key, fingerprint: fingerprintOf('POST', '/things', body) });

test('two identical requests at once act once; both get the first answer, the second marked replayed', async () => {
  const store = await durableStore();
  const h = await context(store.url, SecretBox.ephemeral());
  try {
    let acts = 0;
    const act = async (): Promise<Answer> => {
      acts++;
      await sleep(150); // the second request arrives while the first acts
      return { status: 201, headers: { 'content-type': 'application/json' }, body: `{"made":${acts}}` };
    };
    const [a, b] = await Promise.all([idempotent(h, request('k1'), act), idempotent(h, request('k1'), act)]);
    assert.equal(acts, 1);
    assert.deepEqual([a.body, b.body], ['{"made":1}', '{"made":1}']);
    assert.deepEqual([a.replayed, b.replayed].sort(), [false, true]);
    assert.equal(b.status, 201);
  } finally {
    await h.db.destroy();
    await store.drop();
  }
});

test('the same key after a restart (a new context on the same store) returns the first answer without acting', async () => {
  const store = await durableStore();
  const secrets = SecretBox.ephemeral();
  try {
    const first = await context(store.url, secrets);
    const one = await idempotent(first, request('k2'), async () => ({ status: 202, headers: { location: '/operations/x' }, body: 'first' }));
    assert.equal(one.replayed, false);
    await first.db.destroy();

    const second = await context(store.url, secrets);
    try {
      let acted = false;
      const again = await idempotent(second, request('k2'), async () => { acted = true; return { status: 500, headers: {}, body: 'second' }; });
      assert.equal(acted, false);
      assert.deepEqual(again, { status: 202, headers: { location: '/operations/x' }, body: 'first', replayed: true });
    } finally {
      await second.db.destroy();
    }
  } finally {
    await store.drop();
  }
});

test('the same key with another request is refused (422) and acts not; a 5xx or a throw is not kept, so a retry acts', async () => {
  const store = await durableStore();
  const h = await context(store.url, SecretBox.ephemeral());
  try {
    await idempotent(h, request('k3'), async () => ({ status: 200, headers: {}, body: 'ok' }));
    let acted = false;
    await assert.rejects(
      idempotent(h, request('k3', '{"name":"web2"}'), async () => { acted = true; return { status: 200, headers: {}, body: 'other' }; }),
      (err: unknown) => isCode(err, 'reused') && err.field === 'Idempotency-Key',
    );
    assert.equal(acted, false);

    const failed = await idempotent(h, request('k4'), async () => ({ status: 503, headers: {}, body: 'down' }));
    assert.equal(failed.status, 503);
    await assert.rejects(idempotent(h, request('k4'), async () => { throw new Error('crashed'); }), /crashed/);
    const retried = await idempotent(h, request('k4'), async () => ({ status: 200, headers: {}, body: 'done' }));
    assert.deepEqual([retried.body, retried.replayed], ['done', false]);
    // Keys are per caller: another caller's same key is its own.
    const other = await idempotent(h, { ...request('k3'), caller: 'user:2' }, async () => ({ status: 200, headers: {}, body: 'theirs' }));
    assert.deepEqual([other.body, other.replayed], ['theirs', false]);
  } finally {
    await h.db.destroy();
    await store.drop();
  }
});
