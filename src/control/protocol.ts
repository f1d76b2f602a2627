/**
 * The control socket protocol: newline-delimited JSON, one object per line, both ways.
 *
 * Requests (client -> daemon), `id` chosen by the client and echoed in every reply:
 *   {"id":1,"cmd":"status"}
 *   {"id":2,"cmd":"reload"}
 *   {"id":3,"cmd":"flows","filter":"port 22 and verdict deny","limit":500}
 *   {"id":4,"cmd":"trace","filter":"host 10.0.0.1"}
 * Replies (daemon -> client):
 *   {"id":1,"ok":true,"result":{...}}
 *   {"id":1,"ok":false,"error":{"code":"BAD_FILTER","message":"...","detail":{...}}}
 * A connection the daemon will not serve (too many clients, or a peer that is not root) gets one
 * error line with id null (code BUSY or PERMISSION_DENIED) and is closed.
 * After a successful `trace` reply the connection streams until the client disconnects:
 *   {"id":4,"type":"trace","event":{...}}
 *   {"id":4,"type":"dropped","count":12,"total":40}   events dropped because the client was slow
 * A trace connection takes no further requests.
 */
import type { Issue } from '../errors';
import type { Filter } from '../observe/filter';
import type { TraceSink } from '../observe/trace-hub';
import type { TraceEvent } from '../observe/trace';

export const DEFAULT_CONTROL_SOCKET = '/run/nfqwall/control.sock';

/** Longest request line accepted (requests are tiny; this bounds memory per connection). */
export const MAX_REQUEST_LINE = 64 * 1024;

export type RequestId = number | string;

export type ControlRequest =
  | { id: RequestId; cmd: 'status' }
  | { id: RequestId; cmd: 'reload' }
  | { id: RequestId; cmd: 'flows'; filter: string; limit: number }
  | { id: RequestId; cmd: 'trace'; filter: string };

export type ControlCommand = ControlRequest['cmd'];

/**
 * BUSY: too many connections (or a trace connection got a request). PERMISSION_DENIED: the peer
 * is not root (or the daemon's user), or who it is could not be verified; the connection closes.
 */
export type ErrorCode = 'BAD_REQUEST' | 'UNKNOWN_COMMAND' | 'BAD_FILTER' | 'HANDLER_FAILED' | 'LINE_TOO_LONG' | 'BUSY' | 'PERMISSION_DENIED';

export interface ControlError {
  code: ErrorCode;
  message: string;
  detail?: unknown;
}

export type ControlMessage =
  | { id: RequestId | null; ok: true; result: unknown }
  | { id: RequestId | null; ok: false; error: ControlError }
  | { id: RequestId; type: 'trace'; event: TraceEvent }
  | { id: RequestId; type: 'dropped'; count: number; total: number };

/** What a reload reports (the daemon's ReloadOutcome has this shape). */
export interface ReloadReport {
  ok: boolean;
  generation: number;
  at: string;
  issues: Issue[];
  durationMs: number;
  counts?: { tiers: number; policies: number; rules: number; heps: number };
  /** Why a reload failed when it was not the configuration (compile or steering failure). */
  error?: string;
}

/**
 * The daemon's side of the control socket. The server knows nothing else about the daemon;
 * handlers may throw (the client gets HANDLER_FAILED with the message).
 */
export interface ControlHandlers {
  /** Status object (see observe/status.ts for what `nfqwall status` prints). */
  status(): unknown | Promise<unknown>;
  /** Reload now and report the outcome (a failed reload resolves with ok: false and its issues). */
  reload(): Promise<ReloadReport>;
  /** Current flows matching the filter, at most `limit` (observe/flows-view.ts listFlows). */
  flows(filter: Filter, limit: number): unknown | Promise<unknown>;
  /** Start sending matching decisions to `sink`; returns the function that stops it. */
  subscribeTrace(filter: Filter, sink: TraceSink): () => void;
}

export const DEFAULT_FLOWS_LIMIT = 1000;
export const MAX_FLOWS_LIMIT = 1_000_000;

export type ParsedRequest = { ok: true; request: ControlRequest } | { ok: false; id: RequestId | null; error: ControlError };

function isId(v: unknown): v is RequestId {
  return (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && v.length <= 64);
}

/** Validate one request line. */
export function parseRequest(line: string): ParsedRequest {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch (err) {
    return { ok: false, id: null, error: { code: 'BAD_REQUEST', message: `request is not JSON: ${(err as Error).message}` } };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, id: null, error: { code: 'BAD_REQUEST', message: 'request must be a JSON object' } };
  const o = data as Record<string, unknown>;
  const id = isId(o.id) ? o.id : null;
  if (id === null) return { ok: false, id: null, error: { code: 'BAD_REQUEST', message: 'request needs an "id" (number or short string)' } };
  const filter = o.filter === undefined ? '' : o.filter;
  switch (o.cmd) {
    case 'status':
    case 'reload':
      return { ok: true, request: { id, cmd: o.cmd } };
    case 'flows': {
      if (typeof filter !== 'string') return { ok: false, id, error: { code: 'BAD_REQUEST', message: '"filter" must be a string' } };
      const limit = o.limit === undefined ? DEFAULT_FLOWS_LIMIT : o.limit;
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > MAX_FLOWS_LIMIT) {
        return { ok: false, id, error: { code: 'BAD_REQUEST', message: `"limit" must be an integer 0..${MAX_FLOWS_LIMIT}` } };
      }
      return { ok: true, request: { id, cmd: 'flows', filter, limit } };
    }
    case 'trace':
      if (typeof filter !== 'string') return { ok: false, id, error: { code: 'BAD_REQUEST', message: '"filter" must be a string' } };
      return { ok: true, request: { id, cmd: 'trace', filter } };
    default:
      return { ok: false, id, error: { code: 'UNKNOWN_COMMAND', message: `unknown command ${JSON.stringify(o.cmd)} (known: status, reload, flows, trace)` } };
  }
}

/**
 * Splits a byte stream into lines. A line longer than `maxLine` is reported once (as
 * `{ tooLong: true }`) and skipped up to its newline, so a peer cannot make us buffer without end.
 */
export class LineSplitter {
  private buf = '';
  private skipping = false;

  constructor(private readonly maxLine: number = MAX_REQUEST_LINE) {}

  push(chunk: string): Array<{ line: string } | { tooLong: true }> {
    const out: Array<{ line: string } | { tooLong: true }> = [];
    let data = chunk;
    for (;;) {
      const nl = data.indexOf('\n');
      if (nl < 0) {
        if (this.skipping) return out;
        this.buf += data;
        if (this.buf.length > this.maxLine) {
          this.buf = '';
          this.skipping = true;
          out.push({ tooLong: true });
        }
        return out;
      }
      const part = data.slice(0, nl);
      data = data.slice(nl + 1);
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      const line = this.buf + part;
      this.buf = '';
      if (line.length > this.maxLine) out.push({ tooLong: true });
      else if (line.trim() !== '') out.push({ line: line.replace(/\r$/, '') });
    }
  }
}
