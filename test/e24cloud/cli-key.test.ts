// `hangar admin e24-key USER` prints a key pair whose secret signs e24cloud requests as that user
// (sealed with the data directory's key, which the server shares), and refuses an unknown user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { account, startTest } from '../helpers.js';
import { loadSecretBox } from '../../src/core/secrets.js';
import { signer } from './client.js';

const HANGAR = fileURLToPath(new URL('../../../bin/hangar.js', import.meta.url));

test('hangar admin e24-key USER: a key pair that signs /v2 requests as the user; an unknown user is refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hangar-e24-key-'));
  const t = await startTest({ sqliteFile: path.join(dir, 'hangar.sqlite'), secrets: loadSecretBox({ dataDir: dir })! });
  try {
    const acme = await account(t, 'acme');
    await t.user('alice', { level: 'account_admin', account_id: acme.id }, acme.id);
    const cli = (...args: string[]) => spawnSync(process.execPath, [HANGAR, 'admin', '--data', dir, '--database', t.storeUrl, ...args], { encoding: 'utf8', env: { ...process.env, HANGAR_DATABASE_URL: '', HANGAR_SECRET_KEY: '' } });
    const made = cli('e24-key', 'alice');
    assert.equal(made.status, 0, made.stderr);
    const pair = JSON.parse(made.stdout);
    assert.match(pair.api_key, /^HK[0-9A-F]{20}$/);
    const r = await signer(t.running.app, () => pair)('GET', '/v2/account');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.account.name, 'alice');
    assert.deepEqual(r.body.account.api, [{ api_key: pair.api_key, secret_key: null }]);
    const none = cli('e24-key', 'nobody');
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /no user nobody/);
  } finally {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
