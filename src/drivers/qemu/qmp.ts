// A small QMP client: connects to a QEMU monitor socket, waits for the greeting (with a timeout:
// a monitor already serving another client accepts the connection but never greets), negotiates
// capabilities, matches replies to commands by id, and emits asynchronous events.
// One connection per client object; reconnecting is `QmpClient.connect` again (the greeting is
// sent anew, and events that fired while nobody was connected are lost: query state afterwards).
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

export class QmpError extends Error {
  constructor(readonly errorClass: string, readonly desc: string, readonly command: string) {
    super(`QMP ${command}: ${desc}`);
    this.name = 'QmpError';
  }
}

export interface QmpConnectOptions {
  /** Give up connecting (socket missing or refused, no greeting) after this long. */
  timeoutMs?: number;
  /** Wait at most this long for the greeting once connected. */
  greetingTimeoutMs?: number;
  /** Stop retrying early when this returns a reason (e.g. the QEMU process exited). */
  abort?: () => string | null;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | null;
}

type Message =
  | { QMP: { version: unknown; capabilities: unknown } }
  | { return: unknown; id?: unknown }
  | { error: { class: string; desc: string }; id?: unknown }
  | QmpEvent;

export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private greetingWaiter: ((ok: boolean) => void) | null = null;
  greeted = false;
  closed = false;
  /** Settles with the answer to `qmp_capabilities` (open() sends it). */
  negotiated: Promise<void> = Promise.resolve();

  private constructor(private readonly socket: net.Socket) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', () => { /* 'close' follows and does the work */ });
    socket.on('close', () => this.onClose());
  }

  /** Connect, retrying while the socket does not exist yet or refuses, then greet and negotiate. */
  static async connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const client = await QmpClient.open(path, opts);
    try {
      await client.negotiated;
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /**
   * Connect and greet as `connect` does, but return with `qmp_capabilities` sent and not yet
   * answered (`negotiated` settles with its answer). A starting QEMU greets early but answers only
   * once its main loop runs, tens of ms later, and then takes commands in the order sent: commands
   * sent now wait behind the negotiation inside QEMU, not behind a round trip here (bench:power).
   */
  static async open(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const greetingTimeoutMs = opts.greetingTimeoutMs ?? 3_000;
    const started = Date.now();
    const deadline = started + timeoutMs;
    let lastError: Error = new Error('no attempt');
    for (;;) {
      const aborted = opts.abort?.();
      if (aborted) throw new Error(aborted);
      let socket: net.Socket;
      try {
        socket = await openSocket(path);
      } catch (err) {
        lastError = err as Error;
        if (Date.now() >= deadline) throw new Error(`QMP connect ${path}: ${lastError.message}`);
        // QEMU makes its socket tens of ms after the spawn: retry every ms at first (each ms here is
        // a ms of every power-on, bench:power), less often once it is slow to come.
        await sleep(Date.now() - started < 500 ? 1 : 10);
        continue;
      }
      const client = new QmpClient(socket);
      const greeted = await client.waitGreeting(Math.max(1, Math.min(greetingTimeoutMs, deadline - Date.now())));
      if (!greeted) {
        client.close();
        throw new Error(`QMP ${path}: no greeting (is another client connected to this monitor?)`);
      }
      client.negotiated = client.execute('qmp_capabilities', undefined, Math.max(1000, deadline - Date.now())).then(() => undefined);
      client.negotiated.catch(() => undefined); // its own rejection is the caller's to see, not an unhandled one
      return client;
    }
  }

  private waitGreeting(timeoutMs: number): Promise<boolean> {
    if (this.greeted) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.greetingWaiter = null; resolve(false); }, timeoutMs);
      this.greetingWaiter = (ok) => { clearTimeout(timer); this.greetingWaiter = null; resolve(ok); };
    });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      let msg: Message;
      try {
        msg = JSON.parse(line) as Message;
      } catch {
        continue; // not JSON: nothing a monitor should send; ignore rather than die
      }
      this.dispatch(msg);
    }
  }

  private dispatch(msg: Message): void {
    if ('QMP' in msg) {
      this.greeted = true;
      this.greetingWaiter?.(true);
      return;
    }
    if ('event' in msg) {
      this.emit('event', { event: msg.event, data: msg.data ?? {}, timestamp: msg.timestamp });
      return;
    }
    const id = typeof msg.id === 'number' ? msg.id : null;
    const p = id === null ? undefined : this.pending.get(id);
    if (!p || id === null) return; // a reply to nobody (e.g. after a timeout): drop it
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if ('error' in msg) p.reject(new QmpError(msg.error.class, msg.error.desc, p.command));
    else p.resolve(msg.return);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.greetingWaiter?.(false);
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new Error(`QMP ${p.command}: connection closed`));
    }
    this.pending.clear();
    this.emit('close');
  }

  /** Run a command; resolves with its `return` value, rejects with QmpError on an `error` reply. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`QMP ${command}: connection closed`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = timeoutMs > 0
        ? setTimeout(() => {
          this.pending.delete(id);
          reject(new Error(`QMP ${command}: no reply within ${timeoutMs} ms`));
        }, timeoutMs)
        : null;
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + '\n');
    });
  }

  /** Human monitor command, for what QMP lacks (e.g. `info usernet`). */
  hmp(commandLine: string, timeoutMs?: number): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': commandLine }, timeoutMs);
  }

  /** Resolve with the next event named `name` that satisfies `match`. */
  waitEvent(name: string, timeoutMs: number, match: (e: QmpEvent) => boolean = () => true): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      const onEvent = (e: QmpEvent): void => {
        if (e.event === name && match(e)) { cleanup(); resolve(e); }
      };
      const onClose = (): void => { cleanup(); reject(new Error(`QMP closed while waiting for ${name}`)); };
      const timer = setTimeout(() => { cleanup(); reject(new Error(`no ${name} event within ${timeoutMs} ms`)); }, timeoutMs);
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  close(): void {
    this.socket.destroy();
    this.onClose();
  }
}

function openSocket(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(path);
    const onError = (err: Error): void => { s.destroy(); reject(err); };
    s.once('error', onError);
    s.once('connect', () => { s.off('error', onError); resolve(s); });
  });
}
