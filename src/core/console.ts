// The remote console of a running VM (Gigas `remote_console`): its head's address, its VNC port and
// a fresh password that QEMU refuses after `expiresAt` (QMP expire_password). VNC listens on the
// head's console address, which the head's admin chooses (HANGAR_VNC_HOST) and the head reports when
// it registers (docs/remote-console.md): users connect to the head directly, no proxy on the brain.
// One password per VM at a time: a new one replaces the last (and the boot one).
import crypto from 'node:crypto';
import type { Hangar } from './context.js';
import { headAddresses } from '../store/repos/head-acts.js';
import { enqueue, getOperation } from '../operations/queue.js';
import { secretArg } from '../operations/kinds.js';
import { invalid, notFound, refused } from './errors.js';
import { canSeeVm, holds, type Principal } from './principal.js';
import { lockLiveVm } from './locks.js';
import { withTransaction } from './transaction.js';
import type { VmPlace } from './resolve.js';

/** How long a console password works unless asked otherwise, and the longest it may. */
export const CONSOLE_TTL_MS = 10 * 60_000;
export const MAX_CONSOLE_TTL_MS = 24 * 3_600_000;

export interface RemoteConsole {
  host: string;
  port: number;
  /** 8 characters: VNC authentication uses no more. */
  password: string;
  /** ms since the epoch; QEMU refuses the password from then on. */
  expiresAt: number;
  operation: string;
}

/** Where a client connects: the head's console address, or its management address when VNC listens on
 *  every address (or the head did not say). */
export function consoleHost(addrs: { management: string; console: string | null } | undefined): string {
  if (!addrs) return '127.0.0.1';
  const c = addrs.console;
  return c === null || c === '' || c === '0.0.0.0' || c === '::' ? addrs.management : c;
}

/** VNC's alphabet-safe password: 8 characters of letters and digits. */
function consolePassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  return [...crypto.randomBytes(8)].map((b) => alphabet[b % alphabet.length]).join('');
}

/**
 * Open the VM's remote console for `ttlMs` (default CONSOLE_TTL_MS). Readers with console rights
 * (vm_console) may. Refused when the VM is not placed or not powered on, or when its head cannot set
 * the password (DomainError `failed` with the head's words).
 */
export async function openRemoteConsole(h: Hangar, p: Principal, at: VmPlace, opts: { ttlMs?: number } = {}): Promise<RemoteConsole> {
  const place = { accountId: at.account.id, groupId: at.group.id, vmId: at.vm.id };
  if (!canSeeVm(p, place) || !holds(p, place, 'vm_console')) throw notFound('virtual_machine');
  const ttl = opts.ttlMs ?? CONSOLE_TTL_MS;
  if (!Number.isSafeInteger(ttl) || ttl < 1000 || ttl > MAX_CONSOLE_TTL_MS) throw invalid('ttl', 'out_of_range', { min: 1000, max: MAX_CONSOLE_TTL_MS, unit: 'ms' });
  const password = consolePassword();
  const expiresAt = h.now() + ttl;
  const { opId, headId } = await withTransaction(h.db, async (trx) => {
    const vm = await lockLiveVm(trx, at);
    if (vm.head_id === null) throw refused('virtual_machine', 'vm_not_placed', {}, 'state');
    if (!vm.power_on) throw refused('virtual_machine', 'vm_not_powered_on', {}, 'state');
    const args = { password: secretArg(h.secrets, password), expiresAt };
    const opId = await enqueue(trx, { kind: 'console.open', vmId: vm.id, headId: vm.head_id, userId: p.userId, args, now: h.now() });
    return { opId, headId: vm.head_id };
  });
  await h.heads.kick(headId, at.vm.id);
  const op = (await getOperation(h.db, opId))!;
  const port = op.result ? (JSON.parse(op.result) as { vncPort?: number }).vncPort : undefined;
  if (op.state !== 'done' || port === undefined) {
    throw refused('virtual_machine', 'head_failed', { detail: op.error ?? `the head has not opened the console (${op.state})` }, 'failed');
  }
  return { host: consoleHost(await headAddresses(h.db, headId)), port, password, expiresAt, operation: op.uuid };
}
