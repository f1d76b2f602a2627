/**
 * Support for the lab fault tests (faults-*.test.ts): the daemon's status and memory, the kernel's
 * per-rule and per-queue counters of the router, a load generator that keeps opening connections
 * and sending datagrams from one namespace, a UDP new-flow flood, and counting rules that tell how
 * many packets reached a host.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { runCommand } from '../../src/lab/run';
import { DEFAULT_MARK_MASK, markLayout } from '../../src/dataplane/marks';
import type { KernelQueueStats } from '../../src/queue/queue-stats';
import { runInNamespace, spawnInNamespace, type NsProcess } from '../helpers/lab';
import { NFQWALL } from './daemon-helpers';

export async function sh(ns: string, ...argv: string[]): Promise<string> {
  const r = await runInNamespace(ns, argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} in ${ns}: ${r.stderr}`);
  return r.stdout;
}

// --- the daemon -----------------------------------------------------------------------------------

export interface StatusQueue {
  hook: string;
  queueNumber: number;
  packets: number;
  verdicts: { accept: number; drop: number; repeat: number };
  pending: number;
  errors: { handler: number; duplicateVerdict: number };
  afterClose: number;
}

export interface DaemonStatus {
  generation: number;
  lastReload: { ok: boolean; generation: number; at: string; issues: unknown[] } | null;
  mode: string;
  failMode: string;
  counters: Record<string, number>;
  flows: { size: number; capacity: number; evictions: number } & Record<string, number>;
  queues: StatusQueue[];
  kernelQueues: Array<KernelQueueStats & { hook: string }>;
}

/** `nfqwall status --json` over the daemon's control socket (from the root namespace). */
export async function statusOf(socket: string): Promise<DaemonStatus> {
  const r = await runCommand([process.execPath, NFQWALL, 'status', '--json', '--socket', socket], { timeoutMs: 15_000 });
  assert.equal(r.code, 0, `nfqwall status: ${r.stderr}`);
  return JSON.parse(r.stdout) as DaemonStatus;
}

/** Resident set size of a process, in kB (VmRSS of /proc/PID/status). */
export function rssKb(pid: number): number {
  return procStatusKb(pid, 'VmRSS');
}

/** The largest resident set size the process has had, in kB (VmHWM). */
export function peakRssKb(pid: number): number {
  return procStatusKb(pid, 'VmHWM');
}

function procStatusKb(pid: number, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

/** Sums over the daemon's queues: what it received and answered, and the kernel's counters. */
export function queueTotals(s: DaemonStatus) {
  const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);
  return {
    received: sum(s.queues, (q) => q.packets),
    answered: sum(s.queues, (q) => q.verdicts.accept + q.verdicts.drop + q.verdicts.repeat),
    pending: sum(s.queues, (q) => q.pending),
    handlerErrors: sum(s.queues, (q) => q.errors.handler),
    kernelQueued: sum(s.kernelQueues, (q) => q.idSequence),
    queueDropped: sum(s.kernelQueues, (q) => q.queueDropped),
    userDropped: sum(s.kernelQueues, (q) => q.userDropped),
    waiting: sum(s.kernelQueues, (q) => q.queueTotal),
  };
}

/** Pids of the direct children of `pid` (the daemon's `ip monitor` and `conntrack -E` helpers). */
export async function childrenOf(pid: number): Promise<number[]> {
  const r = await runCommand(['pgrep', '-P', String(pid)]);
  return r.stdout.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
}

/** The command line of a live process, or null when it is gone (a zombie counts as gone). */
export function commandLine(pid: number): string | null {
  if (!existsSync(`/proc/${pid}`)) return null;
  try {
    if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) return null;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return null;
  }
}

const LAYOUT = markLayout(DEFAULT_MARK_MASK);
const STORE = (LAYOUT.decided | LAYOUT.drop | LAYOUT.generationMask) >>> 0;

/**
 * A rule line (iptables-nft-save or nft) with the generation bits of its DECIDED|DROP|GEN matches
 * and marks cleared: a restart over a previous run's rules installs the same rules under the next
 * generation.
 */
export function withoutGeneration(line: string): string {
  const clear = (v: string) => `0x${((parseInt(v, 16) & ~LAYOUT.generationMask) >>> 0).toString(16)}`;
  return line
    .replace(/0x([0-9a-f]+)\/0x([0-9a-f]+)/g, (m, v: string, mask: string) => (parseInt(mask, 16) === STORE ? `${clear(v)}/0x${mask}` : m))
    .replace(/& 0x([0-9a-f]+) == 0x([0-9a-f]+)/g, (m, mask: string, v: string) => (parseInt(mask, 16) === STORE ? `& 0x${mask} == ${clear(v)}` : m))
    // nft folds the stored value into the keep mask: `ct mark set ct mark & 0xfc17ffff | 0x00140000`.
    .replace(/& 0x([0-9a-f]+) \| 0x([0-9a-f]+)/g, (m, keep: string, v: string) => {
      if ((~parseInt(keep, 16) & ~STORE) !== 0) return m;
      const value = (parseInt(v, 16) & ~LAYOUT.generationMask) >>> 0;
      return `& 0x${((~STORE | value) >>> 0).toString(16)} | 0x${value.toString(16)}`;
    });
}

// --- kernel counters --------------------------------------------------------------------------------

/**
 * Packets that hit an NFQUEUE rule in `ns` (iptables-nft, IPv4 and IPv6, every table), by queue
 * number: the packets the kernel tried to queue, delivered or dropped.
 */
export async function queueRuleHits(ns: string): Promise<Map<number, number>> {
  const hits = new Map<number, number>();
  for (const tool of ['iptables-nft-save', 'ip6tables-nft-save']) {
    const out = await sh(ns, tool, '-c');
    for (const line of out.split('\n')) {
      const m = /^\[(\d+):\d+\] -A \S+ .*-j NFQUEUE --queue-num (\d+)/.exec(line);
      if (m) hits.set(Number(m[2]), (hits.get(Number(m[2])) ?? 0) + Number(m[1]));
    }
  }
  return hits;
}

export function sumOver(m: Map<number, number>, queues: number[]): number {
  return queues.reduce((a, q) => a + (m.get(q) ?? 0), 0);
}

/**
 * A counting rule in `ns` (`iptables-nft -I CHAIN <match> -j DROP`): counts and drops the packets
 * that match. `count()` reads its packet counter.
 */
export async function countingRule(ns: string, chain: 'INPUT' | 'OUTPUT', match: string[], ipv6 = false): Promise<{ count(): Promise<number> }> {
  const tool = ipv6 ? 'ip6tables-nft' : 'iptables-nft';
  const comment = `nfqwall-faults-${chain}-${match.join('-')}`.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 250);
  await sh(ns, tool, '-I', chain, ...match, '-m', 'comment', '--comment', comment, '-j', chain === 'INPUT' ? 'DROP' : 'ACCEPT');
  return {
    async count() {
      const out = await sh(ns, `${tool}-save`, '-c', '-t', 'filter');
      const line = out.split('\n').find((l) => l.includes(comment));
      const m = line ? /^\[(\d+):/.exec(line) : null;
      if (!m) throw new Error(`counting rule ${comment} not found in ${ns}`);
      return Number(m[1]);
    },
  };
}

// --- load -------------------------------------------------------------------------------------------

/**
 * Keeps opening connections (TCP: connect, send, read the echo, close) and sending datagrams (UDP:
 * one datagram, wait for the echo) to each target, one attempt every `everyMs`, for `durationMs`
 * or until SIGTERM. One line per finished attempt: `<target> <outcome> <startMs> <endMs> [error]`,
 * outcome `ok`/`fail` for an allowed target and `through`/`blocked` for a denied one; then `done`.
 */
const LOAD = `
const net = require('net');
const dgram = require('dgram');
const c = JSON.parse(process.argv[1]);
let inflight = 0;
const open = new Set();
function report(t, ok, start, err) {
  const allowed = t.expect === 'allow';
  const outcome = allowed ? (ok ? 'ok' : 'fail') : ok ? 'through' : 'blocked';
  console.log(t.name + ' ' + outcome + ' ' + start + ' ' + Date.now() + (err && !ok ? ' ' + err : ''));
}
function tcp(t) {
  const start = Date.now();
  const payload = 'faults ' + start + ' ' + Math.random();
  const s = net.connect({ host: t.host, port: t.port });
  open.add(s);
  let got = '', done = false;
  const end = (ok, err) => {
    if (done) return;
    done = true; inflight--; open.delete(s);
    clearTimeout(timer); s.destroy();
    report(t, ok, start, err);
  };
  const timer = setTimeout(() => end(false, 'timeout'), t.timeoutMs);
  s.on('connect', () => s.write(payload));
  s.on('data', (d) => { got += d; if (got === payload) end(true); });
  s.on('error', (e) => end(false, e.code || e.message));
  s.on('close', () => end(false, 'closed'));
}
function udp(t) {
  const start = Date.now();
  const payload = Buffer.from('faults ' + start + ' ' + Math.random());
  const s = dgram.createSocket(t.host.includes(':') ? 'udp6' : 'udp4');
  open.add(s);
  let done = false;
  const end = (ok, err) => {
    if (done) return;
    done = true; inflight--; open.delete(s);
    clearTimeout(timer); s.close();
    report(t, ok, start, err);
  };
  const timer = setTimeout(() => end(false, 'timeout'), t.timeoutMs);
  s.on('message', (m) => { if (m.equals(payload)) end(true); });
  s.on('error', (e) => end(false, e.code || e.message));
  s.send(payload, t.port, t.host);
}
const timers = c.targets.map((t) => setInterval(() => {
  if (inflight >= (c.maxInflight || 200)) return;
  inflight++;
  (t.proto === 'udp' ? udp : tcp)(t);
}, t.everyMs));
const stop = () => {
  for (const t of timers) clearInterval(t);
  const wait = () => (inflight === 0 ? (console.log('done'), process.exit(0)) : setTimeout(wait, 20));
  wait();
};
setTimeout(stop, c.durationMs);
process.on('SIGTERM', stop);
console.log('started');
`;

export interface LoadTarget {
  name: string;
  proto: 'tcp' | 'udp';
  host: string;
  port: number;
  expect: 'allow' | 'deny';
  everyMs: number;
  timeoutMs: number;
}

export interface Attempt {
  target: string;
  outcome: 'ok' | 'fail' | 'through' | 'blocked';
  start: number;
  end: number;
  error?: string;
}

export interface Load {
  proc: NsProcess;
  /** Every attempt finished so far. */
  attempts(): Attempt[];
  /** Stop starting new attempts, wait for the ones in flight, and return every attempt. */
  finish(): Promise<Attempt[]>;
}

export async function startLoad(ns: string, targets: LoadTarget[], o: { durationMs: number; maxInflight?: number }): Promise<Load> {
  const proc = spawnInNamespace(ns, [process.execPath, '-e', LOAD, JSON.stringify({ targets, durationMs: o.durationMs, maxInflight: o.maxInflight })], {
    lifetimeMs: o.durationMs + 20_000,
  });
  await proc.waitForLine((l) => l === 'started', 5000);
  const attempts = (): Attempt[] =>
    proc.lines.stdout
      .map((l) => l.split(' '))
      .filter((f) => f.length >= 4 && ['ok', 'fail', 'through', 'blocked'].includes(f[1] as string))
      .map((f) => ({ target: f[0] as string, outcome: f[1] as Attempt['outcome'], start: Number(f[2]), end: Number(f[3]), ...(f[4] ? { error: f[4] } : {}) }));
  return {
    proc,
    attempts,
    async finish() {
      proc.child.kill('SIGTERM');
      await proc.waitForLine((l) => l === 'done', 15_000);
      await proc.exited;
      return attempts();
    },
  };
}

/** Attempts per target and outcome, for messages. */
export function tally(attempts: Attempt[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const a of attempts) {
    const t = (out[a.target] ??= {});
    const key = a.error ? `${a.outcome}:${a.error}` : a.outcome;
    t[key] = (t[key] ?? 0) + 1;
  }
  return out;
}

/**
 * UDP datagrams from `ns` to `host`, every one to a port not used before (a new flow each),
 * `count` of them at `rate` per second (as fast as Node sends when the rate is higher). Sockets
 * are added as needed (each covers 50 000 ports). Resolves with what was handed to the kernel.
 */
const FLOOD = `
const dgram = require('dgram');
const c = JSON.parse(process.argv[1]);
const perSocket = 50000;
const n = Math.ceil(c.count / perSocket);
const socks = [];
let bound = 0;
const out = { sent: 0, errors: 0, ms: 0 };
const payload = Buffer.alloc(16, 0x66);
for (let i = 0; i < n; i++) {
  const s = dgram.createSocket(c.host.includes(':') ? 'udp6' : 'udp4');
  s.on('error', () => {});
  s.bind(0, () => { if (++bound === n) go(); });
  socks.push(s);
}
function go() {
  const t0 = Date.now();
  let queued = 0, done = 0;
  const tick = () => {
    const due = Math.min(c.count, Math.floor(((Date.now() - t0) * c.rate) / 1000) + 16);
    while (queued < due) {
      const k = queued++;
      socks[Math.floor(k / perSocket)].send(payload, c.portFrom + (k % perSocket), c.host, (err) => {
        if (err) out.errors++; else out.sent++;
        if (++done === c.count) { out.ms = Date.now() - t0; console.log(JSON.stringify(out)); process.exit(0); }
      });
    }
    if (queued < c.count) setImmediate(tick);
  };
  tick();
}
setTimeout(() => { console.log(JSON.stringify({ ...out, error: 'timeout' })); process.exit(0); }, c.timeoutMs);
`;

export async function udpFlood(ns: string, o: { host: string; count: number; rate: number; portFrom: number; timeoutMs?: number }): Promise<{ sent: number; errors: number; ms: number; error?: string }> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const p = spawnInNamespace(ns, [process.execPath, '-e', FLOOD, JSON.stringify({ ...o, timeoutMs })], { lifetimeMs: timeoutMs + 5000 });
  const line = await p.waitForLine((l) => l.startsWith('{'), timeoutMs + 3000);
  await p.exited;
  return JSON.parse(line) as { sent: number; errors: number; ms: number; error?: string };
}
