/**
 * Soak: the real daemon (flow mode, fail-open, a copy of examples/seed) in a lab's router for a long
 * time under mixed traffic, with a SIGHUP reload every 30 s. What it prints, before and after:
 * the daemon's memory (VmRSS and VmHWM from /proc), its verdict counters (`nfqwall status --json`),
 * the kernel's queue counters (queue dropped, user dropped, waiting), and from the traffic side
 * every allowed connection that failed and every denied one that got through.
 *
 * Traffic from the application host, each class on its own timer, for the whole run:
 *   - allowed TCP: connect to maint:22, send, read the echo, close (IPv4 and IPv6)
 *   - denied TCP: connect to maint:80 (IPv4 and IPv6); a connect that succeeds "got through"
 *   - allowed UDP: a datagram to the workload (10.65.0.2 / fd10:65::2, port 7), echoed back
 *   - denied UDP: a datagram to maint:53 where an echo server listens; an echo "got through"
 *   - bulk: a few MB to maint:22 and back now and then (one connection, ~all packets in the kernel)
 *   - a long-lived connection to maint:22 that sends a line every 100 ms (judged again after each
 *     reload); every echo that fails to come back within 2 s counts as a stall
 *
 *   npm run build
 *   node dist/bench/soak.js [--seconds 600] [--reload-every 30] [--json]
 *
 * Needs root. Builds its own lab (prefix `s…`), removes it afterwards. Queues 4780-4786.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { labDown, labUp } from '../src/lab/lab';
import { spawnInNamespace, type NsProcess } from '../src/lab/process';
import { runCommand } from '../src/lab/run';
import { LAB_ADDRESSES as A, type LabNames } from '../src/lab/topology';

const REPO = resolve(__dirname, '..', '..');
const NFQWALL = join(REPO, 'bin', 'nfqwall');
const SEED = join(REPO, 'examples', 'seed');
const QUEUE_BASE = 4780;

interface Options {
  seconds: number;
  reloadEvery: number;
  json: boolean;
}

/** The traffic generator, run in the application namespace. One JSON argument; prints JSON lines. */
const TRAFFIC = `
const net = require('net');
const dgram = require('dgram');
const c = JSON.parse(process.argv[1]);
const t0 = Date.now();
const stats = {};
const stat = (name) => (stats[name] = stats[name] || { tried: 0, ok: 0, failed: 0, through: 0, blocked: 0, errors: {} });
const err = (s, e) => { s.errors[e] = (s.errors[e] || 0) + 1; };
let inflight = 0;
function tcp(t) {
  const s = stat(t.name);
  if (inflight > 200) { err(s, 'skipped-busy'); return; }
  inflight++;
  s.tried++;
  const sock = net.connect({ host: t.host, port: t.port });
  let done = false, got = '';
  const payload = 'soak ' + s.tried;
  const end = (how, e) => {
    if (done) return;
    done = true; inflight--;
    clearTimeout(timer);
    sock.destroy();
    if (t.expect === 'allow') { if (how === 'ok') s.ok++; else { s.failed++; err(s, e || how); } }
    else { if (how === 'connected' || how === 'ok') s.through++; else s.blocked++; }
  };
  const timer = setTimeout(() => end('timeout', 'timeout'), t.timeoutMs);
  sock.on('connect', () => { if (t.expect !== 'allow') return end('connected'); sock.write(payload); });
  sock.on('data', (d) => { got += d; if (got === payload) { sock.end(); end('ok'); } });
  sock.on('error', (e) => end('error', e.code || e.message));
  sock.on('close', () => end('closed', 'closed-early'));
}
function udp(t) {
  const s = stat(t.name);
  const fam = t.host.includes(':') ? 'udp6' : 'udp4';
  s.tried++;
  const sock = dgram.createSocket(fam);
  const payload = Buffer.from('soak ' + s.tried);
  let done = false;
  const end = (echoed) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    sock.close();
    if (t.expect === 'allow') { if (echoed) s.ok++; else { s.failed++; err(s, 'no-echo'); } }
    else { if (echoed) s.through++; else s.blocked++; }
  };
  const timer = setTimeout(() => end(false), t.timeoutMs);
  sock.on('message', (m) => { if (m.equals(payload)) end(true); });
  sock.on('error', () => end(false));
  sock.send(payload, t.port, t.host);
}
let bulkBusy = false;
function bulk(b) {
  const s = stat(b.name);
  if (bulkBusy) return;
  bulkBusy = true;
  s.tried++;
  s.bytes = s.bytes || 0;
  const sock = net.connect({ host: b.host, port: b.port });
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  let sent = 0, recv = 0, done = false;
  const end = (ok, e) => {
    if (done) return;
    done = true; bulkBusy = false;
    clearTimeout(timer);
    sock.destroy();
    if (ok) { s.ok++; s.bytes += recv; } else { s.failed++; err(s, e); }
  };
  const timer = setTimeout(() => end(false, 'timeout'), b.timeoutMs);
  sock.on('connect', () => {
    const pump = () => { while (sent < b.bytes) { const n = Math.min(chunk.length, b.bytes - sent); sent += n; if (!sock.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return sock.once('drain', pump); } };
    pump();
  });
  sock.on('data', (d) => { recv += d.length; if (recv >= b.bytes) { sock.end(); end(true); } });
  sock.on('error', (e) => end(false, e.code || e.message));
  sock.on('close', () => end(recv >= b.bytes, 'closed-early'));
}
// The long-lived connection: a line every intervalMs; a line whose echo is late (> 2 s) is a stall.
function ticker(k) {
  const s = stat(k.name);
  s.lines = 0; s.echoes = 0; s.stalls = 0; s.reconnects = -1;
  let sent = [];
  let sock = null;
  const open = () => {
    s.reconnects++;
    sock = net.connect({ host: k.host, port: k.port });
    sock.setNoDelay(true);
    let buf = '';
    sock.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { buf = buf.slice(i + 1); sent.shift(); s.echoes++; } });
    sock.on('error', (e) => err(s, e.code || e.message));
    sock.on('close', () => { sock = null; sent = []; if (Date.now() - t0 < c.durationMs) setTimeout(open, 200); });
  };
  open();
  setInterval(() => {
    const now = Date.now();
    if (sent.length && now - sent[0] > 2000) { s.stalls++; sent = []; }
    if (sock && !sock.connecting) { sent.push(now); s.lines++; sock.write('tick ' + s.lines + '\\n'); }
  }, k.intervalMs).unref();
}
const timers = [];
for (const t of c.tcp) timers.push(setInterval(() => tcp(t), t.everyMs));
for (const t of c.udp) timers.push(setInterval(() => udp(t), t.everyMs));
if (c.bulk) timers.push(setInterval(() => bulk(c.bulk), c.bulk.everyMs));
if (c.ticker) ticker(c.ticker);
const progress = setInterval(() => console.log(JSON.stringify({ progress: Math.round((Date.now() - t0) / 1000), stats })), 60_000);
setTimeout(() => {
  for (const t of timers) clearInterval(t);
  clearInterval(progress);
  // Let the last probes finish (their timeouts are short).
  setTimeout(() => { console.log(JSON.stringify({ result: true, seconds: (Date.now() - t0) / 1000, stats })); process.exit(0); }, 3000);
}, c.durationMs);
`;

/** Echo servers (TCP and UDP), unlimited, on every address given; run in one namespace. */
const SERVERS = `
const net = require('net');
const dgram = require('dgram');
const c = JSON.parse(process.argv[1]);
let ready = 0;
const total = c.tcp.length + c.udp.length;
const up = () => { if (++ready === total) console.log('listening'); };
for (const [host, port] of c.tcp) {
  const srv = net.createServer((s) => { s.on('error', () => {}); s.on('data', (d) => s.write(d)); s.on('end', () => s.end()); });
  srv.listen({ host, port, backlog: 1024 }, up);
}
for (const [host, port] of c.udp) {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  s.bind(port, host, up);
}
`;

interface TrafficStat {
  tried: number;
  ok: number;
  failed: number;
  through: number;
  blocked: number;
  errors: Record<string, number>;
  bytes?: number;
  lines?: number;
  echoes?: number;
  stalls?: number;
  reconnects?: number;
}

interface KernelQueue {
  queueNumber: number;
  queueTotal: number;
  queueDropped: number;
  userDropped: number;
  idSequence: number;
}

interface Status {
  generation: number;
  lastReload: { ok: boolean; generation: number; at: string } | null;
  counters: Record<string, number>;
  flows: Record<string, number>;
  queues: Array<{ queueNumber: number; hook: string; packets: number; verdicts: { accept: number; drop: number; repeat: number }; pending: number; errors: Record<string, number> }>;
  kernelQueues: KernelQueue[];
}

interface Memory {
  at: number;
  rssKb: number;
  hwmKb: number;
}

export interface SoakResult {
  seconds: number;
  reloadEvery: number;
  signals: number;
  reloadsOk: number;
  reloadsFailed: number;
  reloadMs: { median: number; max: number };
  daemonAlive: boolean;
  errorRecords: number;
  memory: Memory[];
  before: Status;
  after: Status;
  traffic: Record<string, TrafficStat>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function memoryOf(pid: number, at: number): Memory {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
  return { at, rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

async function status(socket: string): Promise<Status> {
  const r = await runCommand([process.execPath, NFQWALL, 'status', '--json', '--socket', socket], { timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(`nfqwall status: ${r.stderr}`);
  return JSON.parse(r.stdout) as Status;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor(s.length / 2)] as number) : NaN;
}

/** The daemon, with its JSON log read as it comes (only what the soak needs is kept). */
function startDaemon(names: LabNames, policyDir: string, socket: string, lifetimeMs: number) {
  const child: ChildProcess = spawn(
    'ip',
    ['netns', 'exec', names.router, process.execPath, NFQWALL, 'run', '--config', policyDir, '--node', 'router', '--log-format', 'json', '--queue-base', String(QUEUE_BASE), '--control-socket', socket],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log = { started: false, reloads: [] as number[], reloadsFailed: 0, errors: 0, lastErrors: [] as string[] };
  const waiters: Array<() => void> = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      let e: { msg?: string; level?: number; durationMs?: number };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        continue;
      }
      if (e.msg === 'nfqwall started') log.started = true;
      else if (e.msg === 'policy reloaded') log.reloads.push(e.durationMs ?? NaN);
      else if (typeof e.msg === 'string' && e.msg.startsWith('reload failed')) log.reloadsFailed++;
      if ((e.level ?? 0) >= 50) {
        log.errors++;
        if (log.lastErrors.length < 5) log.lastErrors.push(line.slice(0, 400));
      }
      for (const w of waiters.splice(0)) w();
    }
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => void (stderr = (stderr + c).slice(-4000)));
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  let alive = true;
  void exited.then(() => {
    alive = false;
    for (const w of waiters.splice(0)) w();
  });
  const hard = setTimeout(() => child.kill('SIGKILL'), lifetimeMs);
  void exited.then(() => clearTimeout(hard));
  const until = async (what: string, pred: () => boolean, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (!alive) throw new Error(`the daemon exited while waiting for ${what}; stderr: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };
  return { child, pid: child.pid as number, log, exited, alive: () => alive, until, stderr: () => stderr };
}

export async function soak(o: Options, progress: (line: string) => void = () => undefined): Promise<SoakResult> {
  const prefix = `s${Date.now().toString(36).slice(-6)}`;
  const names = await labUp(prefix);
  const onSignal = () => void labDown(prefix).finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  const dir = mkdtempSync(join(tmpdir(), 'nfqwall-soak-'));
  const procs: NsProcess[] = [];
  const lifetimeMs = (o.seconds + 120) * 1000;
  try {
    const policy = join(dir, 'policy');
    cpSync(SEED, policy, { recursive: true });
    chmodSync(policy, 0o755);
    const socket = join(dir, 'control.sock');
    const maint = spawnInNamespace(names.maint, [process.execPath, '-e', SERVERS, JSON.stringify({ tcp: [['::', 22], ['::', 80]], udp: [[A.maint.v4, 53], [A.maint.v6, 53]] })], { lifetimeMs });
    procs.push(maint);
    await maint.waitForLine((l) => l === 'listening', 5000);
    const wl = spawnInNamespace(names.workload, [process.execPath, '-e', SERVERS, JSON.stringify({ tcp: [], udp: [[A.workload.v4, 7], [A.workload.v6, 7]] })], { lifetimeMs });
    procs.push(wl);
    await wl.waitForLine((l) => l === 'listening', 5000);

    const d = startDaemon(names, policy, socket, lifetimeMs);
    try {
      await d.until('"nfqwall started"', () => d.log.started, 20_000);
      const traffic = spawnInNamespace(
        names.app,
        [
          process.execPath,
          '-e',
          TRAFFIC,
          JSON.stringify({
            durationMs: o.seconds * 1000,
            tcp: [
              { name: 'tcp4 allowed (maint:22)', host: A.maint.v4, port: 22, expect: 'allow', everyMs: 50, timeoutMs: 3000 },
              { name: 'tcp6 allowed (maint:22)', host: A.maint.v6, port: 22, expect: 'allow', everyMs: 100, timeoutMs: 3000 },
              { name: 'tcp4 denied (maint:80)', host: A.maint.v4, port: 80, expect: 'deny', everyMs: 200, timeoutMs: 1000 },
              { name: 'tcp6 denied (maint:80)', host: A.maint.v6, port: 80, expect: 'deny', everyMs: 400, timeoutMs: 1000 },
            ],
            udp: [
              { name: 'udp4 allowed (wl:7)', host: A.workload.v4, port: 7, expect: 'allow', everyMs: 50, timeoutMs: 2000 },
              { name: 'udp6 allowed (wl:7)', host: A.workload.v6, port: 7, expect: 'allow', everyMs: 200, timeoutMs: 2000 },
              { name: 'udp4 denied (maint:53)', host: A.maint.v4, port: 53, expect: 'deny', everyMs: 100, timeoutMs: 1000 },
              { name: 'udp6 denied (maint:53)', host: A.maint.v6, port: 53, expect: 'deny', everyMs: 400, timeoutMs: 1000 },
            ],
            bulk: { name: 'bulk tcp4 (maint:22, 8 MB)', host: A.maint.v4, port: 22, bytes: 8 << 20, everyMs: 20_000, timeoutMs: 15_000 },
            ticker: { name: 'long-lived tcp4 (maint:22, line/100 ms)', host: A.maint.v4, port: 22, intervalMs: 100 },
          }),
        ],
        { lifetimeMs },
      );
      procs.push(traffic);
      // Warm-up: JIT, first flows, the flow table's first entries; then the "before" figures.
      await sleep(10_000);
      const t0 = Date.now();
      const memory: Memory[] = [memoryOf(d.pid, 0)];
      const before = await status(socket);
      progress(`soak: ${o.seconds} s, reload every ${o.reloadEvery} s; RSS after warm-up ${(memory[0]!.rssKb / 1024).toFixed(1)} MB`);
      let signals = 0;
      let nextReload = t0 + o.reloadEvery * 1000;
      let nextSample = t0 + 60_000;
      const end = t0 + (o.seconds - 10) * 1000;
      while (Date.now() < end && d.alive()) {
        const now = Date.now();
        if (now >= nextReload) {
          d.child.kill('SIGHUP');
          signals++;
          nextReload += o.reloadEvery * 1000;
        }
        if (now >= nextSample) {
          const m = memoryOf(d.pid, Math.round((now - t0) / 1000));
          memory.push(m);
          const last = traffic.lines.stdout.filter((l) => l.includes('"progress"')).pop();
          progress(`  ${m.at} s: RSS ${(m.rssKb / 1024).toFixed(1)} MB, reloads ok ${d.log.reloads.length} failed ${d.log.reloadsFailed}${last ? `; ${summarise((JSON.parse(last) as { stats: Record<string, TrafficStat> }).stats)}` : ''}`);
          nextSample += 60_000;
        }
        await sleep(Math.max(10, Math.min(nextReload, nextSample, end) - Date.now()));
      }
      const resultLine = await traffic.waitForLine((l) => l.includes('"result"'), 30_000);
      await d.until('the last reload', () => d.log.reloads.length + d.log.reloadsFailed >= signals, 20_000);
      await sleep(2000);
      const after = await status(socket);
      memory.push(memoryOf(d.pid, Math.round((Date.now() - t0) / 1000)));
      const daemonAlive = d.alive();
      d.child.kill('SIGTERM');
      await Promise.race([d.exited, sleep(10_000)]);
      return {
        seconds: o.seconds,
        reloadEvery: o.reloadEvery,
        signals,
        reloadsOk: d.log.reloads.length,
        reloadsFailed: d.log.reloadsFailed,
        reloadMs: { median: median(d.log.reloads), max: Math.max(...d.log.reloads) },
        daemonAlive,
        errorRecords: d.log.errors,
        memory,
        before,
        after,
        traffic: (JSON.parse(resultLine) as { stats: Record<string, TrafficStat> }).stats,
      };
    } finally {
      if (d.alive()) d.child.kill('SIGKILL');
      await Promise.race([d.exited, sleep(5000)]);
    }
  } finally {
    for (const p of procs) await p.stop();
    process.removeListener('SIGINT', onSignal);
    await labDown(prefix);
    rmSync(dir, { recursive: true, force: true });
  }
}

function summarise(stats: Record<string, TrafficStat>): string {
  const allowedFailed = Object.entries(stats).reduce((a, [, s]) => a + s.failed, 0);
  const through = Object.entries(stats).reduce((a, [, s]) => a + s.through, 0);
  const tried = Object.entries(stats).reduce((a, [, s]) => a + s.tried, 0);
  return `${tried} tries, allowed failed ${allowedFailed}, denied through ${through}`;
}

function queueSums(s: Status) {
  const k = s.kernelQueues;
  const q = s.queues;
  const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((a, x) => a + f(x), 0);
  return {
    kernelQueued: sum(k, (x) => x.idSequence),
    queueDropped: sum(k, (x) => x.queueDropped),
    userDropped: sum(k, (x) => x.userDropped),
    waiting: sum(k, (x) => x.queueTotal),
    received: sum(q, (x) => x.packets),
    answered: sum(q, (x) => x.verdicts.accept + x.verdicts.drop + x.verdicts.repeat),
    pending: sum(q, (x) => x.pending),
  };
}

export function formatSoak(r: SoakResult): string {
  const mb = (kb: number) => (kb / 1024).toFixed(1);
  const b = queueSums(r.before);
  const a = queueSums(r.after);
  const c = (s: Status, k: string) => s.counters[k] ?? 0;
  const lines = [
    `soak: ${r.seconds} s of mixed traffic through the router (flow mode, fail-open, examples/seed), SIGHUP every ${r.reloadEvery} s`,
    `  daemon: ${r.daemonAlive ? 'running at the end' : 'EXITED'}; error records in its log ${r.errorRecords}`,
    `  reloads: ${r.signals} SIGHUPs, ${r.reloadsOk} ok, ${r.reloadsFailed} failed; one reload median ${r.reloadMs.median} ms, max ${r.reloadMs.max} ms; generation ${r.before.generation} -> ${r.after.generation}`,
    `  memory (VmRSS): ${r.memory.map((m) => `${m.at} s ${mb(m.rssKb)}`).join(', ')} MB; peak (VmHWM) ${mb(r.memory[r.memory.length - 1]!.hwmKb)} MB`,
    `  verdict counters (status, before -> after): packets ${c(r.before, 'packets')} -> ${c(r.after, 'packets')}, accepted ${c(r.before, 'accepted')} -> ${c(r.after, 'accepted')}, dropped ${c(r.before, 'dropped')} -> ${c(r.after, 'dropped')}, repeated ${c(r.before, 'repeated')} -> ${c(r.after, 'repeated')}, rejudged ${c(r.before, 'rejudged')} -> ${c(r.after, 'rejudged')}, parse errors ${c(r.after, 'parseErrors')}, handler errors ${c(r.after, 'handlerErrors')}`,
    `  queues: received ${b.received} -> ${a.received}, answered ${b.answered} -> ${a.answered}, pending at the end ${a.pending}; kernel: queued ${b.kernelQueued} -> ${a.kernelQueued}, queue dropped ${b.queueDropped} -> ${a.queueDropped}, user dropped ${b.userDropped} -> ${a.userDropped}, waiting at the end ${a.waiting}`,
    `  flow table: size ${r.after.flows.size ?? '-'} of ${r.after.flows.capacity ?? '-'}, evictions ${r.after.flows.evictions ?? 0}`,
    `  traffic (whole run, warm-up included):`,
  ];
  for (const [name, s] of Object.entries(r.traffic)) {
    const errs = Object.entries(s.errors).map(([k, v]) => `${k} ${v}`).join(', ');
    if (s.lines !== undefined) lines.push(`    ${name.padEnd(42)} lines ${s.lines}, echoes ${s.echoes}, stalls > 2 s ${s.stalls}, reconnects ${s.reconnects}${errs ? ` (${errs})` : ''}`);
    else if (s.bytes !== undefined) lines.push(`    ${name.padEnd(42)} transfers ${s.tried}, ok ${s.ok}, failed ${s.failed}, ${(s.bytes / 1048576).toFixed(0)} MB echoed${errs ? ` (${errs})` : ''}`);
    else if (s.through + s.blocked > 0 && s.ok + s.failed === 0) lines.push(`    ${name.padEnd(42)} tried ${s.tried}, blocked ${s.blocked}, GOT THROUGH ${s.through}`);
    else lines.push(`    ${name.padEnd(42)} tried ${s.tried}, ok ${s.ok}, FAILED ${s.failed}${errs ? ` (${errs})` : ''}`);
  }
  return lines.join('\n');
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 600, reloadEvery: 30, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--seconds') o.seconds = Number(next());
    else if (a === '--reload-every') o.reloadEvery = Number(next());
    else if (a === '--json') o.json = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!(o.seconds >= 30 && o.seconds <= 86_400) || !(o.reloadEvery >= 1)) throw new Error('--seconds must be in [30, 86400] and --reload-every >= 1');
  return o;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const r = await soak(o, (l) => void process.stderr.write(`${l}\n`));
  process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : `${formatSoak(r)}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`soak: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
