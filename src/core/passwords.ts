// A new root password for a VM's guest (Gigas `reset_password`). Mechanism: the config drive. The
// head keeps the VM's first-boot configuration (drivers/qemu: vms/<id>/firstboot.json) and writes it
// on the config drive at every start; this gives it a new instance-id carrying the new password's
// SHA-512 crypt hash (and the same hostname and keys, but no firstboot script: that ran once, with the
// image). The guest applies a new instance's identity at boot (docs/config-drive.md), so the
// password works from the next boot on: a running VM is restarted by the operation (ACPI power
// button, forced after `timeoutMs`) and the new password works once it is up again; a stopped one
// gets it when it next starts. No guest agent is needed: any image that follows the config drive works.
import crypto from 'node:crypto';
import type { Hangar } from './context.js';
import { enqueue, getOperation } from '../operations/queue.js';
import { secretArg } from '../operations/kinds.js';
import { forbidden, invalid, notFound, refused } from './errors.js';
import { canSeeVm, holds, type Principal } from './principal.js';
import { lockLiveVm } from './locks.js';
import { withTransaction } from './transaction.js';
import { hashRootPassword } from './vms/create.js';
import type { VmPlace } from './resolve.js';

/** How long a running guest has to halt on the power button before it is switched off. */
export const PASSWORD_RESET_TIMEOUT_MS = 60_000;

export interface PasswordReset {
  /** The password set, in plain, for the caller to show once (the store keeps only the sealed hash in the operation, removed when it ends). */
  password: string;
  operation: string;
  /** The operation's state once the head was kicked: `done` when it is in place (and a running VM restarted). */
  state: string;
  error: string | null;
}

/** A random password within every dialect's rules (Gigas: 6–32 of letters, digits, `-`, `_`). */
export function randomRootPassword(): string {
  return crypto.randomBytes(12).toString('base64url').replace(/[-_]/g, 'x').slice(0, 16);
}

/**
 * Set a new root password (random when `password` is absent; a dialect checks its own format first).
 * Needs vm_admin on the VM; a VM never imaged (nothing to log in to) fails on its head.
 */
export async function resetRootPassword(h: Hangar, p: Principal, at: VmPlace, opts: { password?: string; timeoutMs?: number } = {}): Promise<PasswordReset> {
  const place = { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id };
  if (!canSeeVm(p, place)) throw notFound('virtual_machine');
  if (!holds(p, place, 'vm_admin')) throw forbidden('change_vm_part');
  const password = opts.password ?? randomRootPassword();
  // Printable, no blanks: it goes through a crypt hash, and a user must be able to type it.
  if (!/^[\x21-\x7e]{6,128}$/.test(password)) throw invalid('password', 'invalid', { reason: 'not_a_password' });
  const timeoutMs = opts.timeoutMs ?? PASSWORD_RESET_TIMEOUT_MS;
  const { opId, headId } = await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    if (vm.head_id === null) throw refused('virtual_machine', 'vm_not_placed', {}, 'state');
    const args = { rootPasswordHash: secretArg(h.secrets, hashRootPassword(password)), timeoutMs };
    const opId = await enqueue(trx, { kind: 'password.reset', vmId: vm.id, headId: vm.head_id, userId: p.userId, args, now: h.now() });
    return { opId, headId: vm.head_id };
  });
  await h.heads.kick(headId, at.vm.id);
  const op = (await getOperation(h.db, opId))!;
  return { password, operation: op.uuid, state: op.state, error: op.error };
}
