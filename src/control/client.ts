/**
 * Control socket client, used by `nfqwall status | reload | flows | trace`.
 *
 * Errors are ControlClientError with a kind the commands map to exit codes: `not-running` (no
 * socket, or nobody answers: exit 3), `unsafe` (a socket we refuse to trust), `remote` (the
 * daemon answered with an error), `protocol` (garbled reply or the connection dropped).
 */
import { connect, type Socket } from 'node:net';
import type { FlowListing } from '../observe/flows-view';
import type { TraceEvent } from '../observe/trace';
import { LineSplitter, type ControlError, type ControlMessage, type ReloadReport } from './protocol';
import { checkSocketForClient } from './socket-security';

export type ControlClientErrorKind = 'not-running' | 'unsafe' | 'remote' | 'protocol';

export class ControlClientError extends Error {
  constructor(
    readonly kind: ControlClientErrorKind,
    message: string,
    readonly remote?: ControlError,
  ) {
    super(message);
    this.name = 'ControlClientError';
  }
}

/** Server lines can be long (a trace of a big policy); still bounded. */
const MAX_REPLY_LINE = 64 * 1024 * 1024;

export interface ConnectOptions {
  /** Give up connecting after this long (default 3000 ms). */
  timeoutMs?: number;
  /** Check the socket's owner and permissions first (default true). */
  checkSecurity?: boolean;
}

export class ControlConnection {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(m: ControlMessage): void; reject(e: Error): void }>();
  private streamHandler: ((m: ControlMessage) => void) | null = null;
  private ended = false;
  private endError: Error | null = null;
  private readonly endWaiters: Array<() => void> = [];

  constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    const lines = new LineSplitter(MAX_REPLY_LINE);
    socket.on('data', (chunk: string) => {
      for (const item of lines.push(chunk)) {
        if ('tooLong' in item) continue;
        let msg: ControlMessage;
        try {
          msg = JSON.parse(item.line) as ControlMessage;
        } catch {
          this.fail(new ControlClientError('protocol', 'the daemon sent a line that is not JSON'));
          return;
        }
        this.dispatch(msg);
      }
    });
    socket.on('error', (err) => this.fail(new ControlClientError('protocol', `control connection failed: ${err.message}`)));
    socket.on('close', () => this.fail(null));
  }

  private dispatch(msg: ControlMessage): void {
    if ('type' in msg) {
      this.streamHandler?.(msg);
      return;
    }
    const w = typeof msg.id === 'number' ? this.waiting.get(msg.id) : undefined;
    if (w) {
      this.waiting.delete(msg.id as number);
      w.resolve(msg);
    } else if (msg.ok === false) {
      // An error for no request of ours (BUSY on connect, ...): fail whatever is pending.
      this.fail(new ControlClientError('remote', msg.error.message, msg.error));
    }
  }

  private fail(err: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = err;
    const e = err ?? new ControlClientError('protocol', 'the daemon closed the control connection');
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
    for (const f of this.endWaiters.splice(0)) f();
    if (!this.socket.destroyed) this.socket.destroy();
  }

  /** Send a request and wait for its reply; resolves with `result`, rejects with ControlClientError. */
  async request(cmd: string, args: Record<string, unknown> = {}): Promise<unknown> {
    const msg = await this.send(cmd, args);
    if ('type' in msg) throw new ControlClientError('protocol', `unexpected ${msg.type} message in reply to ${cmd}`);
    if (msg.ok) return msg.result;
    throw new ControlClientError('remote', msg.error.message, msg.error);
  }

  private send(cmd: string, args: Record<string, unknown>): Promise<ControlMessage> {
    if (this.ended) return Promise.reject(this.endError ?? new ControlClientError('protocol', 'the control connection is closed'));
    const id = this.nextId++;
    return new Promise<ControlMessage>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.socket.write(`${JSON.stringify({ ...args, id, cmd })}\n`);
    });
  }

  status(): Promise<Record<string, unknown>> {
    return this.request('status') as Promise<Record<string, unknown>>;
  }

  reload(): Promise<ReloadReport> {
    return this.request('reload') as Promise<ReloadReport>;
  }

  flows(filter: string, limit?: number): Promise<FlowListing> {
    return this.request('flows', limit === undefined ? { filter } : { filter, limit }) as Promise<FlowListing>;
  }

  /**
   * Start a trace. Resolves with the daemon's canonical filter once it is streaming; events and
   * drop notices then arrive on the callbacks until `close()` or the daemon goes away (`done`).
   */
  async trace(filter: string, onEvent: (e: TraceEvent) => void, onDropped: (count: number, total: number) => void): Promise<{ filter: string; done: Promise<void> }> {
    this.streamHandler = (m) => {
      if (!('type' in m)) return;
      if (m.type === 'trace') onEvent(m.event);
      else if (m.type === 'dropped') onDropped(m.count, m.total);
    };
    const result = (await this.request('trace', { filter })) as { tracing?: string };
    const done = new Promise<void>((resolve) => {
      if (this.ended) resolve();
      else this.endWaiters.push(resolve);
    });
    return { filter: typeof result?.tracing === 'string' ? result.tracing : filter, done };
  }

  close(): void {
    this.fail(null);
  }
}

/** Connect to the daemon's control socket (after checking it is one we may trust). */
export async function connectControl(path: string, opts: ConnectOptions = {}): Promise<ControlConnection> {
  if (opts.checkSecurity !== false) {
    const c = await checkSocketForClient(path);
    if (!c.ok) throw new ControlClientError(c.missing ? 'not-running' : 'unsafe', c.missing ? `nfqwall is not running (${c.message})` : c.message);
  }
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(path);
    const t = setTimeout(() => {
      s.destroy();
      reject(new ControlClientError('not-running', `nfqwall did not answer on ${path} within ${opts.timeoutMs ?? 3000} ms`));
    }, opts.timeoutMs ?? 3000);
    s.once('connect', () => {
      clearTimeout(t);
      resolve(s);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(t);
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') reject(new ControlClientError('not-running', `nfqwall is not running (nothing listens on ${path})`));
      else if (err.code === 'EACCES') reject(new ControlClientError('unsafe', `cannot connect to ${path}: permission denied (the control socket is for root only)`));
      else reject(new ControlClientError('protocol', `cannot connect to ${path}: ${err.message}`));
    });
  });
  return new ControlConnection(socket);
}
