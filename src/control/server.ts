/**
 * The control socket server: a UNIX stream socket (root only, see socket-security.ts) speaking
 * newline-delimited JSON (protocol.ts). It dispatches to `ControlHandlers` and knows nothing else
 * about the daemon.
 *
 * Every accepted connection is held unread until the peer's credentials (SO_PEERCRED) show root or
 * the daemon's own user; anyone else, or a peer whose credentials cannot be read in time, gets one
 * PERMISSION_DENIED error line and is disconnected. Such refusals are reported through
 * `onProblem`, at most one report per interval with a count of the rest.
 *
 * Trace streams never block the daemon: events for a client go to the socket while it accepts
 * them, then into a bounded per-client queue; once that is full further events are dropped and
 * counted, and the client is told how many (`{"type":"dropped"}`) as soon as it catches up.
 */
import { lstat, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { parseFilter } from '../observe/filter';
import type { TraceSink } from '../observe/trace-hub';
import type { TraceEvent } from '../observe/trace';
import { LineSplitter, parseRequest, type ControlError, type ControlHandlers, type ControlMessage, type ControlRequest, type RequestId } from './protocol';
import { DEFAULT_PEER_CHECK_TIMEOUT_MS, peerAllowed, prepareSocketPath, readPeerCredentials, restrictSocket, type PeerCredentials } from './socket-security';

export interface ControlServerOptions {
  /** Socket path, e.g. /run/nfqwall/control.sock. */
  path: string;
  handlers: ControlHandlers;
  /** Trace events queued per client beyond what the socket buffers (default 1000). */
  traceQueueLimit?: number;
  /** Concurrent connections (default 32); more are refused with a BUSY error. */
  maxClients?: number;
  /** Told about handler failures and refused clients (e.g. the daemon's logger). */
  onProblem?(message: string, err?: unknown): void;
  /** Longest wait for a client's credentials; past it the client is refused (default 1000 ms). */
  peerCheckTimeoutMs?: number;
  /** How to learn who connected (default: SO_PEERCRED via readPeerCredentials); tests replace it. */
  peerCredentials?(socket: Socket, timeoutMs: number): Promise<PeerCredentials>;
}

/** Refused connections are reported at most once per this interval (the rest are counted). */
export const REFUSAL_REPORT_INTERVAL_MS = 10_000;

/** How long a refused connection may linger after its error line before it is cut. */
const REFUSED_LINGER_MS = 2000;

/**
 * Passes on the first problem of each interval and counts the others; when an interval with
 * uncounted problems ends, says how many there were and the last of them.
 */
export class ProblemLimiter {
  private windowStart = Number.NEGATIVE_INFINITY;
  private suppressed = 0;
  private last: { message: string; err?: unknown } | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (message: string, err?: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  report(message: string, err?: unknown): void {
    const t = this.now();
    if (t - this.windowStart >= this.intervalMs) {
      this.flush();
      this.windowStart = t;
      this.emit(message, err);
      return;
    }
    this.suppressed++;
    this.last = { message, err };
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, Math.max(0, this.windowStart + this.intervalMs - t));
      this.timer.unref();
    }
  }

  /** Report the count of problems held back so far, if any. */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.suppressed === 0 || !this.last) return;
    const n = this.suppressed;
    const last = this.last;
    this.suppressed = 0;
    this.last = null;
    const within = this.intervalMs % 1000 === 0 ? `${this.intervalMs / 1000} s` : `${this.intervalMs} ms`;
    this.emit(`${n} more like it within ${within}, the last: ${last.message}`, last.err);
  }

  /** Drop what is held back and stop the timer. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.suppressed = 0;
    this.last = null;
  }
}

/** Per-client trace sink: socket first, then a bounded queue, then drop and count. */
class ClientTraceSink implements TraceSink {
  private readonly queue: string[] = [];
  private blocked = false;
  private pendingDrops = 0;
  /** Every event dropped for this client so far. */
  droppedTotal = 0;
  sent = 0;

  constructor(
    private readonly socket: Socket,
    private readonly id: RequestId,
    private readonly limit: number,
  ) {
    socket.on('drain', () => this.drain());
  }

  ready(): boolean {
    return this.queue.length < this.limit && !this.socket.destroyed;
  }

  push(event: TraceEvent): boolean {
    if (this.socket.destroyed) return false;
    if (this.queue.length >= this.limit) {
      this.dropped(1);
      return false;
    }
    const line = `${JSON.stringify({ id: this.id, type: 'trace', event } satisfies ControlMessage)}\n`;
    if (this.blocked) this.queue.push(line);
    else this.write(line);
    return true;
  }

  dropped(count: number): void {
    this.pendingDrops += count;
    this.droppedTotal += count;
  }

  private write(line: string): void {
    if (this.pendingDrops > 0) {
      const note: ControlMessage = { id: this.id, type: 'dropped', count: this.pendingDrops, total: this.droppedTotal };
      this.pendingDrops = 0;
      this.socket.write(`${JSON.stringify(note)}\n`);
    }
    this.sent++;
    if (!this.socket.write(line)) this.blocked = true;
  }

  private drain(): void {
    this.blocked = false;
    while (this.queue.length > 0 && !this.blocked) this.write(this.queue.shift()!);
    if (!this.blocked && this.pendingDrops > 0 && !this.socket.destroyed) {
      const note: ControlMessage = { id: this.id, type: 'dropped', count: this.pendingDrops, total: this.droppedTotal };
      this.pendingDrops = 0;
      if (!this.socket.write(`${JSON.stringify(note)}\n`)) this.blocked = true;
    }
  }
}

export class ControlServer {
  private readonly clients = new Set<Socket>();
  private readonly refused = new Set<Socket>();
  private readonly unsubscribers = new Map<Socket, () => void>();
  private closed = false;
  private readonly refusals: ProblemLimiter;

  private constructor(
    private readonly server: Server,
    private readonly opts: ControlServerOptions,
  ) {
    this.refusals = new ProblemLimiter(REFUSAL_REPORT_INTERVAL_MS, (m, e) => this.problem(m, e));
  }

  /** Create the directory and socket (refusing unsafe places) and start accepting clients. */
  static async start(opts: ControlServerOptions): Promise<ControlServer> {
    await prepareSocketPath(opts.path);
    // Connections start paused: nothing a client sends is read before its credentials are checked.
    const server = createServer({ allowHalfOpen: false, pauseOnConnect: true });
    const cs = new ControlServer(server, opts);
    server.on('connection', (s) => cs.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // The socket file must never exist with looser permissions, not even between bind and chmod.
      const old = process.umask(0o177);
      try {
        server.listen(opts.path, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
    await restrictSocket(opts.path);
    return cs;
  }

  get path(): string {
    return this.opts.path;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Trace subscribers currently connected. */
  get tracingClients(): number {
    return this.unsubscribers.size;
  }

  private problem(message: string, err?: unknown): void {
    this.opts.onProblem?.(message, err);
  }

  /** Say why, then let the connection finish (reading on lets it see the client's end and close). */
  private turnAway(socket: Socket, error: ControlError, lingerMs?: number): void {
    this.refused.add(socket);
    socket.on('close', () => this.refused.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.resume();
    socket.end(`${JSON.stringify({ id: null, ok: false, error } satisfies ControlMessage)}\n`);
    if (lingerMs !== undefined) setTimeout(() => socket.destroy(), lingerMs).unref();
  }

  private accept(socket: Socket): void {
    if (this.closed || this.clients.size >= (this.opts.maxClients ?? 32)) {
      this.turnAway(socket, { code: 'BUSY', message: 'too many control connections' });
      this.problem('control connection refused: too many clients');
      return;
    }
    // Counted as a client while its credentials are checked, so checks are bounded by maxClients.
    this.clients.add(socket);
    const pending = () => {
      this.clients.delete(socket);
    };
    socket.on('close', pending);
    socket.on('error', () => socket.destroy());
    const timeoutMs = this.opts.peerCheckTimeoutMs ?? DEFAULT_PEER_CHECK_TIMEOUT_MS;
    // Started here, synchronously: the descriptor handed to the check is this connection's.
    void withTimeout(this.credentials(socket, timeoutMs), timeoutMs).then(
      (peer) => {
        if (socket.destroyed || this.closed) return;
        socket.off('close', pending);
        if (peerAllowed(peer.uid)) {
          this.serve(socket);
          return;
        }
        this.clients.delete(socket);
        this.turnAway(socket, { code: 'PERMISSION_DENIED', message: `permission denied: the control socket is for root only (connected as uid ${peer.uid})` }, REFUSED_LINGER_MS);
        this.refusals.report(`control connection refused: peer uid ${peer.uid} (pid ${peer.pid}) is not root`);
      },
      (err: unknown) => {
        if (socket.destroyed || this.closed) return;
        socket.off('close', pending);
        this.clients.delete(socket);
        this.turnAway(socket, { code: 'PERMISSION_DENIED', message: 'permission denied: could not verify who connected to the control socket' }, REFUSED_LINGER_MS);
        this.refusals.report(`control connection refused: could not verify the peer's credentials: ${(err as Error)?.message ?? String(err)}`, err);
      },
    );
  }

  private credentials(socket: Socket, timeoutMs: number): Promise<PeerCredentials> {
    try {
      return this.opts.peerCredentials ? this.opts.peerCredentials(socket, timeoutMs) : readPeerCredentials(socket, { timeoutMs });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** A verified client: read requests and answer them. */
  private serve(socket: Socket): void {
    socket.setEncoding('utf8');
    const lines = new LineSplitter();
    let tracing = false;
    socket.on('data', (chunk: string) => {
      for (const item of lines.push(chunk)) {
        if ('tooLong' in item) {
          this.reply(socket, null, { code: 'LINE_TOO_LONG', message: 'request line too long' });
          continue;
        }
        if (tracing) {
          this.reply(socket, null, { code: 'BUSY', message: 'this connection is streaming a trace; open another one' });
          continue;
        }
        const parsed = parseRequest(item.line);
        if (!parsed.ok) {
          this.reply(socket, parsed.id, parsed.error);
          continue;
        }
        if (parsed.request.cmd === 'trace') tracing = this.startTrace(socket, parsed.request);
        else void this.handle(socket, parsed.request);
      }
    });
    const cleanup = () => {
      this.clients.delete(socket);
      const unsub = this.unsubscribers.get(socket);
      if (unsub) {
        this.unsubscribers.delete(socket);
        unsub();
      }
    };
    socket.on('close', cleanup);
    // A client vanishing mid-write is normal (Ctrl-C on `nfqwall trace`): the 'error' handler set
    // in accept() destroys the socket.
    socket.resume();
  }

  private send(socket: Socket, msg: ControlMessage): void {
    if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(msg)}\n`);
  }

  private reply(socket: Socket, id: RequestId | null, error: ControlError): void {
    this.send(socket, { id, ok: false, error });
  }

  private async handle(socket: Socket, req: Exclude<ControlRequest, { cmd: 'trace' }>): Promise<void> {
    const h = this.opts.handlers;
    try {
      let result: unknown;
      switch (req.cmd) {
        case 'status':
          result = await h.status();
          break;
        case 'reload':
          result = await h.reload();
          break;
        case 'flows': {
          const f = parseFilter(req.filter);
          if (!f.ok) {
            this.reply(socket, req.id, { code: 'BAD_FILTER', message: f.error.message, detail: f.error });
            return;
          }
          result = await h.flows(f.filter, req.limit);
          break;
        }
      }
      this.send(socket, { id: req.id, ok: true, result });
    } catch (err) {
      this.problem(`control request ${req.cmd} failed`, err);
      this.reply(socket, req.id, { code: 'HANDLER_FAILED', message: String((err as Error)?.message ?? err) });
    }
  }

  /** Returns true when the connection is now a trace stream. */
  private startTrace(socket: Socket, req: Extract<ControlRequest, { cmd: 'trace' }>): boolean {
    const f = parseFilter(req.filter);
    if (!f.ok) {
      this.reply(socket, req.id, { code: 'BAD_FILTER', message: f.error.message, detail: f.error });
      return false;
    }
    const sink = new ClientTraceSink(socket, req.id, this.opts.traceQueueLimit ?? 1000);
    let unsubscribe: () => void;
    try {
      unsubscribe = this.opts.handlers.subscribeTrace(f.filter, sink);
    } catch (err) {
      this.problem('trace subscription failed', err);
      this.reply(socket, req.id, { code: 'HANDLER_FAILED', message: String((err as Error)?.message ?? err) });
      return false;
    }
    if (socket.destroyed) {
      unsubscribe();
      return true;
    }
    this.unsubscribers.set(socket, unsubscribe);
    this.send(socket, { id: req.id, ok: true, result: { tracing: f.filter.text } });
    return true;
  }

  /** Stop accepting, end every connection (trace subscriptions end), remove the socket file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.refusals.flush();
    this.refusals.stop();
    for (const [, unsub] of this.unsubscribers) unsub();
    this.unsubscribers.clear();
    for (const s of this.clients) s.destroy();
    for (const s of this.refused) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      if ((await lstat(this.opts.path)).isSocket()) await unlink(this.opts.path);
    } catch {
      // Already gone.
    }
  }
}

/** `p`, or a rejection once `ms` have passed without it settling. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
