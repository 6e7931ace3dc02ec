// A Hangar with one real (QEMU) head for the e24cloud tests that need physical acts: SQLite in a
// temp dir, the demo account `acme`, and ewa (account_admin, home there) with a key pair. The
// guests it started are ended with it, whatever the test did.
import path from 'node:path';
import pino from 'pino';
import { startHangar, type Running } from '../../src/brain/start.js';
import { bootstrap } from '../../src/brain/bootstrap.js';
import { makeDriver } from '../../src/cli/make-driver.js';
import { killGuests, tmpDir } from '../qemu/helpers.js';
import { signer, type Pair } from './client.js';

const log = pino({ level: process.env.HANGAR_TEST_LOG ?? 'silent' });

export interface RealHead {
  running: Running; dataDir: string; admin: string; ewa: string; acme: { id: number }; pair: Pair;
  signed: ReturnType<typeof signer>;
  /** A BigV/Hangar API call with a session token; JSON bodies parsed. */
  call(method: string, url: string, token: string, body?: unknown): Promise<{ status: number; body: any }>;
}

export interface RealHeadOptions {
  imagesDir: string; resyncMs: number; headWaitMs: number;
  /** The head's console address (HANGAR_VNC_HOST), read when its driver is made. */
  vncHost?: string;
}

export async function withRealHead(what: string, o: RealHeadOptions, fn: (x: RealHead) => Promise<void>): Promise<void> {
  const dataDir = path.join(tmpDir(what), 'data');
  const saved = process.env.HANGAR_VNC_HOST;
  if (o.vncHost !== undefined) process.env.HANGAR_VNC_HOST = o.vncHost;
  const driver = await makeDriver('qemu', { dataDir, imagesDir: o.imagesDir, log, urls: { isoDir: null, allow: [] } }).finally(() => {
    if (saved === undefined) delete process.env.HANGAR_VNC_HOST; else process.env.HANGAR_VNC_HOST = saved;
  });
  const running = await startHangar({
    storeUrl: path.join(dataDir, 'hangar.sqlite'), dataDir, log, heads: [{ label: 'head1', driver, resyncMs: o.resyncMs }], config: { headWaitMs: o.headWaitMs },
  });
  try {
    await bootstrap(running.hangar, { HANGAR_ADMIN_USER: 'admin', HANGAR_ADMIN_PASSWORD: 'admin-password', HANGAR_DEMO_ACCOUNT: 'acme' });
    const call: RealHead['call'] = async (method, url, token, body) => {
      const res = await running.app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(body ?? {}) });
      return { status: res.statusCode, body: res.body.startsWith('{') || res.body.startsWith('[') ? JSON.parse(res.body) : res.body };
    };
    const session = async (username: string, password: string) => (await running.app.inject({ method: 'POST', url: '/session', payload: { username, password } })).body;
    const admin = await session('admin', 'admin-password');
    const acme = (await call('GET', '/accounts/acme', admin)).body as { id: number };
    const made = await call('POST', '/users', admin, { username: 'ewa', password: 'ewa-password-1', email: 'ewa@example.com', home_account_id: acme.id });
    const granted = await call('POST', '/users/ewa/privileges', admin, { level: 'account_admin', account_id: acme.id });
    if (made.status !== 201 || granted.status !== 201) throw new Error(`ewa: ${made.status} ${granted.status}`);
    const ewa = await session('ewa', 'ewa-password-1');
    const pair = (await call('PUT', '/v2/account/api', ewa)).body.api as Pair;
    await fn({ running, dataDir, admin, ewa, acme, pair, call, signed: signer(running.app, () => pair) });
  } finally {
    await running.close();
    killGuests(dataDir);
  }
}
