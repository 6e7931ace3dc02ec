// SSH keys with ids (docs/domain.md §17): a user's public keys, each one line, named, with its
// SHA256 fingerprint. A key is its owner's alone: to anyone else, a cluster admin included, it does
// not exist (e24's `key_id` must be a key of the caller). The line rule is the one users'
// authorized_keys follow (core/users.ts checkAuthorizedKeys, reason `ssh_key_line`).
import crypto from 'node:crypto';
import type { Hangar } from './context.js';
import type { Principal } from './principal.js';
import { DomainError, Issues, invalid, notFound, refused } from './errors.js';
import { checkAuthorizedKeys } from './users.js';
import * as repo from '../store/repos/ssh-keys.js';

export type { SshKey } from '../store/repos/ssh-keys.js';

export interface CreateSshKeyInput { label?: string; publicKey?: string }

const LABEL_MAX = 255;

/** The key line, trimmed, or the issue on `field`: one line that is an SSH public key. */
export function checkSshKeyLine(field: string, value: string | undefined): string {
  const line = (value ?? '').trim();
  if (!line) throw invalid(field, 'required');
  if (line.includes('\n')) throw refused(field, 'one_key_line');
  try {
    checkAuthorizedKeys(line);
  } catch (err) {
    if (err instanceof DomainError) throw refused(field, 'ssh_key_line', { line: 1 });
    throw err;
  }
  // The fingerprint is of the blob, so it must be one: base64 of a key that names the line's type.
  const [type, b64] = line.split(' ') as [string, string];
  const blob = Buffer.from(b64, 'base64');
  const n = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (n < 0 || blob.subarray(4, 4 + n).toString('latin1') !== type) throw refused(field, 'ssh_key_line', { line: 1 });
  return line;
}

/** `SHA256:` and the unpadded base64 of the key blob's SHA-256, as ssh-keygen -l prints it. */
export function fingerprint(line: string): string {
  const blob = Buffer.from(line.split(' ')[1]!, 'base64');
  return `SHA256:${crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key's comment (what follows the blob), if any: the label a key given without one gets. */
function comment(line: string): string {
  return line.split(' ').slice(2).join(' ').trim();
}

export async function createSshKey(h: Hangar, p: Principal, input: CreateSshKeyInput): Promise<repo.SshKey> {
  const errs = new Issues();
  const line = errs.catch(() => checkSshKeyLine('publicKey', input.publicKey));
  let label = (input.label ?? '').trim();
  if (label.length > LABEL_MAX) errs.add('label', 'too_long', { max: LABEL_MAX });
  errs.throwIfAny();
  if (!label) label = comment(line!).slice(0, LABEL_MAX) || `key-${(await repo.sshKeysOf(h.db, p.userId)).length + 1}`;
  const made = await repo.insertSshKey(h.db, { userId: p.userId, label, publicKey: line!, fingerprint: fingerprint(line!), now: h.now() });
  if ('taken' in made) throw invalid(made.taken === 'label' ? 'label' : 'publicKey', 'taken');
  return made;
}

/** The caller's own keys, oldest first. */
export function listSshKeys(h: Hangar, p: Principal): Promise<repo.SshKey[]> {
  return repo.sshKeysOf(h.db, p.userId);
}

/** The caller's key a segment names (id or public id); NotFound for anyone else's. */
export async function sshKeyByRef(h: Hangar, p: Principal, segment: string): Promise<repo.SshKey> {
  const key = await repo.sshKeyOf(h.db, p.userId, segment);
  if (!key) throw notFound('ssh_key');
  return key;
}

export async function deleteSshKey(h: Hangar, p: Principal, segment: string): Promise<void> {
  const key = await sshKeyByRef(h, p, segment);
  if (!(await repo.deleteSshKey(h.db, p.userId, key.id))) throw notFound('ssh_key');
}
