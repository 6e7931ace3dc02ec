// Consoles: the serial console (a unix socket, logged to a file even with no client attached) and
// VNC on 127.0.0.1 with a per-VM password set over QMP. Also reads back the SSH forward port that
// user-mode networking picked (HMP `info usernet`; QMP has no equivalent).
import fsp from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QmpClient } from './qmp.js';

/** VNC passwords are DES keys: QEMU uses the first 8 characters. */
export const VNC_PASSWORD_MAX = 8;

async function setVncPassword(qmp: QmpClient, password: string): Promise<void> {
  await qmp.execute('change-vnc-password', { password: password.slice(0, VNC_PASSWORD_MAX) });
}

/**
 * A remote console password that stops working by `expiresAt` (ms since the epoch). `expire_password`
 * takes whole seconds of Unix time T and QEMU refuses once its clock is past T, i.e. from T + 1 s: T is
 * the second before the one `expiresAt` falls in, so the password is refused from `expiresAt` on at
 * the latest (up to a second early).
 */
export async function setExpiringVncPassword(qmp: QmpClient, password: string, expiresAt: number): Promise<void> {
  await setVncPassword(qmp, password);
  await qmp.execute('expire_password', { protocol: 'vnc', time: String(Math.max(1, Math.floor(expiresAt / 1000) - 1)) });
}

/** The TCP port VNC listens on (QEMU picked the first free display in the allowed range). */
export async function vncPort(qmp: QmpClient): Promise<number | null> {
  const info = await qmp.execute<{ enabled: boolean; service?: string }>('query-vnc');
  if (!info.enabled || !info.service) return null;
  const port = Number(info.service);
  return Number.isInteger(port) && port > 0 ? port : null;
}

/**
 * The host port of the hostfwd to guest port 22, from `info usernet` output such as
 * `  TCP[HOST_FORWARD]  13   127.0.0.1 34567   10.0.2.15    22     0     0`.
 */
export function parseUsernetSshPort(text: string): number | null {
  for (const line of text.split('\n')) {
    const m = /HOST_FORWARD\]\s+\d+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)/.exec(line);
    if (m && m[4] === '22') return Number(m[2]);
  }
  return null;
}

export async function usernetSshPort(qmp: QmpClient): Promise<number | null> {
  return parseUsernetSshPort(await qmp.hmp('info usernet'));
}

/**
 * Wait until the console log (from byte `from` on) matches `pattern`; resolves with the time it
 * was seen. Polls the file, so it works whoever else is attached to the serial socket.
 */
export async function waitForConsole(logFile: string, pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let text = '';
    try {
      const buf = await fsp.readFile(logFile);
      text = buf.subarray(from).toString('latin1');
    } catch {
      // not created yet
    }
    const m = pattern.exec(text);
    if (m) return m;
    if (Date.now() >= deadline) {
      throw new Error(`console did not show ${pattern} within ${timeoutMs} ms; last output: ${JSON.stringify(text.slice(-400))}`);
    }
    await sleep(50);
  }
}
