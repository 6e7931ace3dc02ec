// SSH keys with ids (docs/domain.md §17) through core alone: one valid key line each (the rule of
// users' authorized_keys), labelled after the comment or key-N, fingerprinted as ssh-keygen does,
// unique per user, and reached only by their owner (by id or public id).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { stores, withCatalogue } from './catalogues.js';
import { SSH_KEY } from '../helpers.js';
import { createSshKey, deleteSshKey, fingerprint, listSshKeys, sshKeyByRef } from '../../src/core/ssh-keys.js';
import { DomainError, isCode } from '../../src/core/errors.js';

/** A fresh ed25519 public key line (the wire form: a length-prefixed type name and key). */
function newKey(comment = ''): string {
  const raw = crypto.generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const part = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([part(Buffer.from('ssh-ed25519')), part(raw)]).toString('base64');
  return `ssh-ed25519 ${blob}${comment ? ` ${comment}` : ''}`;
}

test('the fingerprint is the one ssh-keygen -l prints', () => {
  assert.equal(fingerprint(SSH_KEY), 'SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU');
});

for (const store of stores('ssh-keys')) {
  test(`a key is labelled after its comment, else key-N, and listed, found and deleted by its owner only (${store.name})`, async () => {
    await withCatalogue(store.postgres, async (fx) => {
      const a = await createSshKey(fx.h, fx.alice, { publicKey: `  ${SSH_KEY}\n` });
      assert.equal(a.label, 'test@hangar');
      assert.equal(a.publicKey, SSH_KEY);
      assert.equal(a.fingerprint, fingerprint(SSH_KEY));
      assert.equal(a.userId, fx.alice.userId);
      const b = await createSshKey(fx.h, fx.alice, { publicKey: newKey() });
      assert.equal(b.label, 'key-2');
      const c = await createSshKey(fx.h, fx.alice, { publicKey: newKey('laptop'), label: 'work' });
      assert.equal(c.label, 'work');
      assert.deepEqual((await listSshKeys(fx.h, fx.alice)).map((k) => k.id), [a.id, b.id, c.id]);
      assert.deepEqual(await listSshKeys(fx.h, fx.bob), []);
      assert.deepEqual(await listSshKeys(fx.h, fx.admin), [], 'a cluster admin does not see other users\' keys');
      assert.equal((await sshKeyByRef(fx.h, fx.alice, String(b.id))).uuid, b.uuid);
      assert.equal((await sshKeyByRef(fx.h, fx.alice, b.uuid.toUpperCase())).id, b.id);
      for (const [who, ref] of [[fx.bob, String(a.id)], [fx.bob, a.uuid], [fx.admin, String(a.id)], [fx.alice, 'work']] as const) {
        await assert.rejects(sshKeyByRef(fx.h, who, ref), (e) => isCode(e, 'not_found') && e.params.entity === 'ssh_key', `${who.username} ${ref}`);
        await assert.rejects(deleteSshKey(fx.h, who, ref), (e) => isCode(e, 'not_found'));
      }
      await deleteSshKey(fx.h, fx.alice, a.uuid);
      assert.deepEqual((await listSshKeys(fx.h, fx.alice)).map((k) => k.id), [b.id, c.id]);
      await assert.rejects(deleteSshKey(fx.h, fx.alice, a.uuid), (e) => isCode(e, 'not_found'));
      // Bob may hold the same key as Alice: keys are unique per user.
      const bobs = await createSshKey(fx.h, fx.bob, { publicKey: c.publicKey });
      assert.equal(bobs.label, 'laptop');
      assert.notEqual(bobs.id, c.id);
    });
  });

  test(`a bad key line, two lines, a key or label the user already has, or a long label is refused on its field (${store.name})`, async () => {
    await withCatalogue(store.postgres, async (fx) => {
      const refusal = async (input: { label?: string; publicKey?: string }) => {
        try {
          await createSshKey(fx.h, fx.alice, input);
        } catch (err) {
          if (!(err instanceof DomainError)) throw err;
          return err.issues.map((i) => [i.field, i.code, i.params?.reason ?? null]);
        }
        assert.fail(`accepted ${JSON.stringify(input)}`);
      };
      assert.deepEqual(await refusal({}), [['publicKey', 'required', null]]);
      assert.deepEqual(await refusal({ publicKey: 'ssh-rsa not base64!' }), [['publicKey', 'invalid', 'ssh_key_line']]);
      assert.deepEqual(await refusal({ publicKey: 'hello world' }), [['publicKey', 'invalid', 'ssh_key_line']]);
      assert.deepEqual(await refusal({ publicKey: `${SSH_KEY}\n${newKey()}` }), [['publicKey', 'invalid', 'one_key_line']]);
      assert.deepEqual(await refusal({ publicKey: 'x', label: 'l'.repeat(256) }), [['publicKey', 'invalid', 'ssh_key_line'], ['label', 'too_long', null]]);
      await createSshKey(fx.h, fx.alice, { publicKey: SSH_KEY, label: 'one' });
      assert.deepEqual(await refusal({ publicKey: SSH_KEY.replace('test@hangar', 'renamed'), label: 'two' }), [['publicKey', 'taken', null]], 'same key, another comment');
      assert.deepEqual(await refusal({ publicKey: newKey(), label: 'one' }), [['label', 'taken', null]]);
      assert.equal((await listSshKeys(fx.h, fx.alice)).length, 1, 'nothing refused was stored');
    });
  });
}
