/**
 * Kernel conntrack destroy events, for flow end records of flows whose later packets never left
 * the kernel (flow mode: only a flow's first packet is queued to nfqwall).
 *
 * No maintained Node binding for ctnetlink events exists, so the daemon runs conntrack-tools:
 *   conntrack -E -e DESTROY -o extended,id -b 1048576
 * and parses its lines. Byte and packet counts need `net.netfilter.nf_conntrack_acct=1` in the
 * daemon's network namespace (ensureConntrackAccounting). A line looks like:
 *   [DESTROY] ipv4 2 tcp 6 src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 packets=5 bytes=10268
 *             src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000 packets=3 bytes=164 [ASSURED] mark=8 id=344795131
 * (ICMP tuples carry type=, code= and id= instead of ports; the ct mark is printed only when non-zero).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { compareEndpoints, encodeFlowKey } from '../conntrack';
import { parseIp, type IpAddress } from '../net/ip';
import { isPortProto } from '../packet';

export interface ConntrackTuple {
  src: IpAddress;
  dst: IpAddress;
  sport: number | null;
  dport: number | null;
  icmpType: number | null;
  icmpCode: number | null;
  icmpId: number | null;
  /** Null when accounting is off (nf_conntrack_acct=0). */
  packets: number | null;
  bytes: number | null;
}

export interface ConntrackEvent {
  /** Event type, or 'list' for a line of `conntrack -L`. */
  type: 'new' | 'update' | 'destroy' | 'list';
  family: 4 | 6;
  proto: number;
  /** conntrack's protocol name: tcp, udp, icmp, icmpv6, unknown, ... */
  protoName: string;
  /** TCP state (TIME_WAIT, CLOSE, ...) or null. */
  state: string | null;
  timeout: number | null;
  orig: ConntrackTuple;
  reply: ConntrackTuple;
  /** Bracketed flags: ASSURED, UNREPLIED, USERSPACE, OFFLOAD, ... */
  flags: string[];
  /** The ct mark (0 when not printed). */
  mark: number;
  /** The kernel's conntrack id (with `-o id`), or null. */
  id: number | null;
  zone: number | null;
}

export type ConntrackParseResult = { ok: true; event: ConntrackEvent } | { ok: false; error: string };

const TUPLE_KEYS = new Set(['src', 'dst', 'sport', 'dport', 'type', 'code', 'packets', 'bytes']);

function emptyTuple(): Record<string, string> {
  return {};
}

function toTuple(t: Record<string, string>, which: string): ConntrackTuple | string {
  const src = t.src !== undefined ? parseIp(t.src) : null;
  const dst = t.dst !== undefined ? parseIp(t.dst) : null;
  if (!src || !dst) return `${which} tuple has no valid src/dst`;
  const num = (k: string): number | null => {
    const v = t[k];
    return v === undefined || !/^\d+$/.test(v) ? null : Number(v);
  };
  return {
    src,
    dst,
    sport: num('sport'),
    dport: num('dport'),
    icmpType: num('type'),
    icmpCode: num('code'),
    icmpId: num('id'),
    packets: num('packets'),
    bytes: num('bytes'),
  };
}

/** Parse one line of `conntrack -E -o extended[,id]` (an event) or `conntrack -L -o extended[,id]` (an entry). */
export function parseConntrackLine(line: string): ConntrackParseResult {
  const toks = line.trim().split(/\s+/).filter((t) => t !== '');
  let i = 0;
  // Optional "[1700000000.123456]" timestamp (-o timestamp).
  if (toks[i] !== undefined && /^\[\d+\.\d+\]$/.test(toks[i]!)) i++;
  const typeTok = toks[i];
  let type: ConntrackEvent['type'];
  if (typeTok === '[DESTROY]' || typeTok === '[NEW]' || typeTok === '[UPDATE]') {
    type = typeTok.slice(1, -1).toLowerCase() as ConntrackEvent['type'];
    i++;
  } else if (typeTok === 'ipv4' || typeTok === 'ipv6') type = 'list';
  else return { ok: false, error: `not a conntrack line: ${line.slice(0, 80)}` };
  const l3 = toks[i++];
  const l3num = toks[i++];
  const protoName = toks[i++];
  const protoNum = toks[i++];
  if ((l3 !== 'ipv4' && l3 !== 'ipv6') || l3num === undefined || protoName === undefined || protoNum === undefined || !/^\d+$/.test(protoNum)) {
    return { ok: false, error: `missing layer 3/4 header fields: ${line.slice(0, 80)}` };
  }
  let timeout: number | null = null;
  let state: string | null = null;
  const flags: string[] = [];
  const tuples: Array<Record<string, string>> = [];
  let cur: Record<string, string> | null = null;
  let mark = 0;
  let id: number | null = null;
  let zone: number | null = null;
  for (; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.startsWith('[') && t.endsWith(']')) {
      flags.push(t.slice(1, -1));
      continue;
    }
    const eq = t.indexOf('=');
    if (eq < 0) {
      if (/^\d+$/.test(t) && tuples.length === 0) timeout = Number(t);
      else if (/^[A-Z_]+$/.test(t) && tuples.length === 0) state = t;
      continue;
    }
    const k = t.slice(0, eq);
    const v = t.slice(eq + 1);
    if (k === 'src' && (cur === null || cur.src !== undefined) && tuples.length < 2) {
      cur = emptyTuple();
      tuples.push(cur);
    }
    // ICMP tuples carry their own id=; the conntrack id comes after both tuples.
    if (cur !== null && (TUPLE_KEYS.has(k) || (k === 'id' && cur.type !== undefined && cur.id === undefined)) && cur[k] === undefined) {
      cur[k] = v;
      continue;
    }
    cur = null;
    if (k === 'mark') mark = Number(v) >>> 0;
    else if (k === 'id' && /^\d+$/.test(v)) id = Number(v);
    else if (k === 'zone' && /^\d+$/.test(v)) zone = Number(v);
  }
  if (tuples.length !== 2) return { ok: false, error: `expected an original and a reply tuple: ${line.slice(0, 80)}` };
  const orig = toTuple(tuples[0]!, 'original');
  const reply = toTuple(tuples[1]!, 'reply');
  if (typeof orig === 'string') return { ok: false, error: orig };
  if (typeof reply === 'string') return { ok: false, error: reply };
  return {
    ok: true,
    event: { type, family: l3 === 'ipv4' ? 4 : 6, proto: Number(protoNum), protoName, state, timeout, orig, reply, flags, mark, id, zone },
  };
}

function portKey(family: 4 | 6, proto: number, a: IpAddress, ap: number, b: IpAddress, bp: number): string {
  return compareEndpoints(family, a.words, ap, b.words, bp) <= 0 ? encodeFlowKey(family, proto, a.words, ap, b.words, bp) : encodeFlowKey(family, proto, b.words, bp, a.words, ap);
}

/**
 * The nfqwall flow key (src/conntrack/flow-key.ts) of the flow an event is about, as the filter
 * hooks saw it: original source, and the reply tuple's source as the destination (post-DNAT; the
 * source is pre-SNAT at the filter hooks). Null for shapes the flow table does not key.
 */
export function conntrackFlowKey(e: ConntrackEvent): string | null {
  const o = e.orig;
  const dst = e.reply.src;
  const family = e.family;
  if (isPortProto(e.proto)) {
    const dport = e.reply.sport;
    if (o.sport === null || dport === null) return null;
    return portKey(family, e.proto, o.src, o.sport, dst, dport);
  }
  if ((family === 4 && e.proto === 1) || (family === 6 && e.proto === 58)) {
    if (o.icmpType === null || o.icmpId === null) return null;
    // As flow-key.ts icmpKey: identifier as port A, request type plus "initiator is low" as port B.
    const c = compareEndpoints(family, o.src.words, 0, dst.words, 0);
    const tag = o.icmpType | (c <= 0 ? 0x100 : 0);
    return c <= 0 ? encodeFlowKey(family, e.proto, o.src.words, o.icmpId, dst.words, tag) : encodeFlowKey(family, e.proto, dst.words, o.icmpId, o.src.words, tag);
  }
  return portKey(family, e.proto, o.src, 0, dst, 0);
}

export const CONNTRACK_ACCT_PATH = '/proc/sys/net/netfilter/nf_conntrack_acct';

/**
 * Turn on conntrack byte/packet accounting in this network namespace. Reads first, so a unit
 * that already set it (ExecStartPre with full privileges) needs no writable /proc/sys here.
 */
export async function ensureConntrackAccounting(path = CONNTRACK_ACCT_PATH): Promise<{ ok: boolean; changed: boolean; error?: string }> {
  try {
    if ((await readFile(path, 'utf8')).trim() === '1') return { ok: true, changed: false };
    await writeFile(path, '1\n');
    return { ok: true, changed: true };
  } catch (err) {
    return { ok: false, changed: false, error: `${path}: ${(err as Error).message}` };
  }
}

export interface ConntrackEventSourceOptions {
  onEvent(event: ConntrackEvent): void;
  /** Problems worth a log line (spawn failure, exit, unparsable line); the source keeps going. */
  onProblem?(message: string): void;
  /** Every raw stdout line (diagnostics). */
  onLine?(line: string): void;
  /** Default "conntrack". */
  command?: string;
  /** Arguments before conntrack's own (e.g. ['netns', 'exec', NAME, 'conntrack'] with command "ip"). */
  prefixArgs?: string[];
  /** Only events whose ct mark & mask == value (e.g. nfqwall's DECIDED bit). */
  markFilter?: { value: number; mask: number };
  /** Delay before restarting an exited conntrack (default 2000 ms, doubling to 60 s). */
  restartDelayMs?: number;
}

export const CONNTRACK_EVENT_ARGS = ['-E', '-e', 'DESTROY', '-o', 'extended,id', '-b', '1048576'];

export interface ConntrackListOptions {
  /** Default "conntrack". */
  command?: string;
  /** Arguments before conntrack's own (e.g. ['netns', 'exec', NAME, 'conntrack'] with command "ip"). */
  prefixArgs?: string[];
  /** Only entries whose ct mark & mask == value. */
  markFilter?: { value: number; mask: number };
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
}

/**
 * Stream the kernel's conntrack table (`conntrack -L -o extended,id`) entry by entry, without
 * holding the whole listing in memory. Resolves with the number of entries seen.
 */
export function listConntrack(opts: ConntrackListOptions, onEntry: (e: ConntrackEvent) => void): Promise<number> {
  const args = [...(opts.prefixArgs ?? []), '-L', '-o', 'extended,id'];
  const m = opts.markFilter;
  if (m) args.push('--mark', `0x${(m.value >>> 0).toString(16)}/0x${(m.mask >>> 0).toString(16)}`);
  return new Promise((resolve, reject) => {
    const child = spawn(opts.command ?? 'conntrack', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let n = 0;
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 10_000);
    createInterface({ input: child.stdout!, crlfDelay: Infinity }).on('line', (line) => {
      const r = parseConntrackLine(line);
      if (!r.ok) return;
      n++;
      onEntry(r.event);
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      if (err.length < 4096) err += c;
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`could not run conntrack: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(n);
      else reject(new Error(`conntrack -L failed (${signal ?? code}): ${err.replace(/conntrack v[\d.]+ \(conntrack-tools\): /g, '').trim()}`));
    });
  });
}

/** Runs `conntrack -E` for as long as it is started, restarting it if it exits. */
export class ConntrackEventSource {
  readonly stats = { received: 0, parseErrors: 0, lost: 0, restarts: 0 };
  private child: ChildProcess | null = null;
  private stopped = true;
  private timer: NodeJS.Timeout | null = null;
  private delay: number;

  constructor(private readonly opts: ConntrackEventSourceOptions) {
    this.delay = opts.restartDelayMs ?? 2000;
  }

  /** The argv given to conntrack. */
  argv(): string[] {
    const args = [...(this.opts.prefixArgs ?? []), ...CONNTRACK_EVENT_ARGS];
    const m = this.opts.markFilter;
    if (m) args.push('--mark', `0x${(m.value >>> 0).toString(16)}/0x${(m.mask >>> 0).toString(16)}`);
    return args;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.spawnOnce();
  }

  private spawnOnce(): void {
    const problem = (m: string) => this.opts.onProblem?.(m);
    let child: ChildProcess;
    try {
      child = spawn(this.opts.command ?? 'conntrack', this.argv(), { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      problem(`could not run conntrack: ${(err as Error).message}`);
      this.scheduleRestart();
      return;
    }
    this.child = child;
    const lines = createInterface({ input: child.stdout!, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (line.trim() === '') return;
      this.opts.onLine?.(line);
      const r = parseConntrackLine(line);
      if (!r.ok) {
        this.stats.parseErrors++;
        problem(`unparsable conntrack event: ${r.error}`);
        return;
      }
      this.stats.received++;
      this.opts.onEvent(r.event);
    });
    const errLines = createInterface({ input: child.stderr!, crlfDelay: Infinity });
    errLines.on('line', (line) => {
      // conntrack reports a netlink overrun (events lost) and keeps listening.
      if (/overrun|No buffer space/i.test(line)) this.stats.lost++;
      // Start and exit chatter, not problems.
      if (/^NOTICE: Netlink socket buffer size has been set|flow events have been shown/i.test(line)) return;
      if (line.trim() !== '') problem(`conntrack: ${line.trim()}`);
    });
    child.once('error', (err) => problem(`conntrack: ${err.message}`));
    child.once('close', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopped) return;
      problem(`conntrack -E exited (${signal ?? code}); restarting in ${this.delay} ms`);
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.stats.restarts++;
      this.spawnOnce();
    }, this.delay);
    this.timer.unref();
    this.delay = Math.min(this.delay * 2, 60_000);
  }

  /** Stop listening; resolves once conntrack has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.once('close', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
