// A signed request (the toy dialect's HMAC, as e24cloud's will be) sent again to another brain on the
// same store must be refused there too: the replay records live in the store, not in a brain's memory.
// The key pair made on one brain works on the other (its secret is sealed with the shared server key).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { account, freshStore, startTest } from '../helpers.js';
import { buildApp } from '../../src/api/app.js';
import { createKeyPair, sessionPrincipal } from '../../src/core/auth.js';
import { SecretBox } from '../../src/core/secrets.js';
import { TOY_PREFIX, TOY_SCHEME, toyDialect, toySignature } from '../dialect/toy.js';

test('a signed request replayed to another brain on the same store is refused (401), once the first brain accepted it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-replay-'));
  const store = await freshStore({ sqliteFile: path.join(dir, 'store.db') });
  const secrets = SecretBox.ephemeral();
  const apps: FastifyInstance[] = [];
  try {
    const first = await startTest({ storeUrl: store.url, secrets });
    const second = await startTest({ storeUrl: store.url, secrets, heads: [] });
    try {
      const acme = await account(first, 'acme');
      const token = await first.user('tess', { level: 'account_admin', account_id: acme.id });
      const key = await createKeyPair(first.running.hangar, await sessionPrincipal(first.running.hangar, token, '127.0.0.1'));
      for (const t of [first, second]) {
        const app = await buildApp(t.running.hangar, { dialects: [toyDialect()] });
        await app.ready();
        apps.push(app);
      }
      const url = `${TOY_PREFIX}/servers/00000000-0000-4000-8000-000000000000`;
      const date = String(Date.now());
      const headers = { authorization: `${TOY_SCHEME} Credential=${key.accessKeyId}, Signature=${toySignature(key.secret, 'GET', url, date, '')}`, 'x-toy-date': date };
      const a = await apps[0]!.inject({ method: 'GET', url, headers });
      assert.equal(a.statusCode, 404, `signed and accepted (no such server): ${a.body}`);
      const b = await apps[1]!.inject({ method: 'GET', url, headers });
      assert.equal(b.statusCode, 401, b.body);
      assert.deepEqual(JSON.parse(b.body), { ok: false, problem: { code: 'unauthorized' } });
      // A fresh request signed with the same pair passes on the second brain.
      const date2 = String(Date.now() + 1);
      const c = await apps[1]!.inject({ method: 'GET', url, headers: { ...headers, 'x-toy-date': date2, authorization: `${TOY_SCHEME} Credential=${key.accessKeyId}, Signature=${toySignature(key.secret, 'GET', url, date2, '')}` } });
      assert.equal(c.statusCode, 404, c.body);
    } finally {
      for (const app of apps) await app.close();
      await second.close();
      await first.close();
    }
  } finally {
    await store.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
