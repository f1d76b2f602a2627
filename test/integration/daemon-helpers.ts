/**
 * Support for the integration tests: the real `nfqwall run` inside a lab's router namespace, its
 * JSON log, traffic helpers beyond test/helpers/lab.ts (bulk transfers, a long-lived connection)
 * and readers for the router's kernel state (queue counters, conntrack, installed rules).
 *
 * Every daemon started here is registered and killed by `killDaemons()` (the suites call it in
 * after(), before removing their lab); every wait is bounded.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runInNamespace, spawnInNamespace, type NsProcess, type TestLab } from '../helpers/lab';
import { readQueueStatsIn } from '../helpers/lab';
import type { ProcessExit } from '../../src/lab/process';

/** dist/test/integration -> the repository. */
export const REPO = resolve(__dirname, '..', '..', '..');
export const NFQWALL = join(REPO, 'bin', 'nfqwall');
export const SEED_DIR = join(REPO, 'examples', 'seed');
export const FIXTURES = join(REPO, 'test', 'fixtures', 'integration');

/** Queue numbers of a daemon started with `--queue-base B`, in plan order. */
export function queueNumbers(base: number) {
  return {
    rawPrerouting: base,
    manglePrerouting: base + 1,
    filterInput: base + 2,
    filterForward: base + 3,
    rawOutput: base + 4,
    filterOutput: base + 5,
    manglePostrouting: base + 6,
  };
}

export type LogEntry = Record<string, unknown> & { msg?: string; level?: number };

export interface DaemonOptions {
  config: string;
  /** --queue-base (omit when a settings file sets the queues). */
  queueBase?: number;
  /** --settings FILE */
  settingsFile?: string;
  mode?: 'flow' | 'packet';
  failMode?: 'open' | 'closed';
  keepExistingFlows?: boolean;
  extraArgs?: string[];
  /** --control-socket (default: a socket of its own under /run/nfqwall-test, see controlSocketFor). */
  controlSocket?: string;
  /** Hard lifetime (default 60 s). */
  lifetimeMs?: number;
}

export interface Daemon {
  proc: NsProcess;
  /** The daemon's own pid (`ip netns exec` execs it). */
  pid: number;
  /** Its control socket (for `nfqwall status --socket ...`). */
  controlSocket: string;
  logs(): LogEntry[];
  /** Wait for a log entry matching `pred` among the entries from index `from` on. */
  waitForLog(pred: (e: LogEntry) => boolean, timeoutMs: number, from?: number): Promise<LogEntry>;
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM and wait for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<ProcessExit>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<ProcessExit>;
}

const running = new Set<Daemon>();

/** Kill every daemon still running (suites call this in after(), even after a failure). */
export async function killDaemons(): Promise<void> {
  for (const d of [...running]) await d.kill();
}

function parseLine(line: string): LogEntry | null {
  if (!line.startsWith('{')) return null;
  try {
    return JSON.parse(line) as LogEntry;
  } catch {
    return null;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `probe` every `everyMs` until it returns a value other than undefined, or time out. */
export async function waitUntil<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

let socketSerial = 0;

/** Test daemons never use the system's /run/nfqwall/control.sock: each gets its own socket. */
export function controlSocketFor(o: DaemonOptions): string {
  return o.controlSocket ?? `/run/nfqwall-test/${process.pid}-${o.queueBase ?? 'settings'}-${socketSerial++}.sock`;
}

export function daemonArgs(o: DaemonOptions, controlSocket: string = controlSocketFor(o)): string[] {
  const args = [process.execPath, NFQWALL, 'run', '--config', o.config, '--node', 'router', '--backend', TEST_BACKEND, '--log-format', 'json', '--log-flows', '--control-socket', controlSocket];
  if (o.queueBase !== undefined) args.push('--queue-base', String(o.queueBase));
  if (o.settingsFile) args.push('--settings', o.settingsFile);
  if (o.mode) args.push('--mode', o.mode);
  if (o.failMode) args.push('--fail-mode', o.failMode);
  if (o.keepExistingFlows) args.push('--keep-existing-flows');
  args.push(...(o.extraArgs ?? []));
  return args;
}

/** Start the daemon in the lab's router; resolves once it logged "nfqwall started". */
export async function startDaemon(lab: TestLab, o: DaemonOptions): Promise<Daemon> {
  const d = spawnDaemon(lab, o);
  try {
    await d.waitForLog((e) => e.msg === 'nfqwall started', 15_000 * GUEST_SLOWDOWN);
  } catch (err) {
    await d.kill();
    throw err;
  }
  return d;
}

/** Start the daemon in the lab's router without waiting for anything. */
export function spawnDaemon(lab: TestLab, o: DaemonOptions): Daemon {
  const controlSocket = controlSocketFor(o);
  const proc = spawnInNamespace(lab.names.router, daemonArgs(o, controlSocket), { lifetimeMs: o.lifetimeMs ?? 60_000 });
  const entries = (): LogEntry[] => proc.lines.stdout.map(parseLine).filter((e): e is LogEntry => e !== null);
  const exited = () => proc.child.exitCode !== null || proc.child.signalCode !== null;
  const d: Daemon = {
    proc,
    pid: proc.child.pid ?? -1,
    controlSocket,
    logs: entries,
    waitForLog(pred, timeoutMs, from = 0) {
      return waitUntil(`a matching daemon log entry (stderr: ${proc.lines.stderr.slice(-5).join(' | ')})`, timeoutMs, () => {
        const hit = entries().slice(from).find(pred);
        if (hit) return hit;
        if (exited()) throw new Error(`the daemon exited before logging the expected entry; last lines: ${proc.lines.stdout.slice(-5).join(' | ')} ${proc.lines.stderr.slice(-5).join(' | ')}`);
        return undefined;
      });
    },
    signal(sig) {
      if (!exited()) proc.child.kill(sig);
    },
    async stop(graceMs = 5000) {
      const r = await proc.stop(graceMs);
      running.delete(d);
      return r;
    },
    async kill() {
      if (!exited()) proc.child.kill('SIGKILL');
      const r = await proc.exited;
      running.delete(d);
      return r;
    },
  };
  running.add(d);
  return d;
}

/** A scratch copy of a policy directory (for reload tests); remove it with `rmSync`. */
export function copyPolicyDir(from: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'nfqwall-it-'));
  cpSync(from, dir, { recursive: true });
  return dir;
}

export function removeDir(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

// --- kernel state of the router -----------------------------------------------------------------

/** Id of the last packet queued on `queue` in `ns` (0 when the queue is not bound or saw nothing). */
export async function queuedSoFar(ns: string, queue: number): Promise<number> {
  const q = (await readQueueStatsIn(ns)).find((s) => s.queueNumber === queue);
  return q?.idSequence ?? 0;
}

export interface InstalledRules {
  /** iptables-nft-save lines (IPv4 and IPv6) that mention an NFQWALL chain. */
  lines: string[];
  /** Jumps from built-in chains into nfqwall's chains, per family. */
  jumps: string[];
}

/**
 * The steering backend the tests ask the daemon for: `auto`, so every run also tests the probe. It
 * must pick iptables-nft on a kernel without the native nft queue expression (this machine's) and
 * native nft on Debian's stock kernel (the qemu stage). NFQWALL_TEST_BACKEND overrides.
 */
export const TEST_BACKEND = process.env.NFQWALL_TEST_BACKEND ?? 'auto';
/** The backend the daemon is expected to end up with. */
export const EXPECTED_BACKEND = TEST_BACKEND === 'auto' ? (process.env.NFQWALL_IN_GUEST === '1' ? 'nft' : 'iptables') : TEST_BACKEND;

/** Software-emulated guests (the qemu kernel stage) run several times slower: scale start-up waits. */
export const GUEST_SLOWDOWN = process.env.NFQWALL_IN_GUEST === '1' ? 6 : 1;

export async function installedRules(ns: string): Promise<InstalledRules> {
  const lines: string[] = [];
  const jumps: string[] = [];
  for (const tool of ['iptables-nft-save', 'ip6tables-nft-save']) {
    const r = await runInNamespace(ns, [tool]);
    if (r.code !== 0) throw new Error(`${tool}: ${r.stderr}`);
    for (const l of r.stdout.split('\n')) {
      if (!l.includes('NFQWALL')) continue;
      lines.push(`${tool}: ${l}`);
      if (/^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /.test(l)) jumps.push(`${tool}: ${l}`);
    }
  }
  // The native backend's own table: its base chains play the part of the iptables jumps.
  const nft = await runInNamespace(ns, ['nft', '-s', 'list', 'table', 'inet', 'nfqwall']);
  if (nft.code === 0) {
    for (const l of nft.stdout.split('\n')) {
      if (l.trim() === '') continue;
      lines.push(`nft: ${l.trim()}`);
      const hook = /type filter hook (\w+) priority/.exec(l);
      if (hook) jumps.push(`nft: hook ${hook[1]}`);
    }
  }
  return { lines, jumps };
}

/** `conntrack -L` lines of the router (flows the kernel tracks). */
export async function conntrackEntries(ns: string, ...filter: string[]): Promise<string[]> {
  const r = await runInNamespace(ns, ['conntrack', '-L', ...filter]);
  if (r.code !== 0) throw new Error(`conntrack -L: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

export async function ping(ns: string, address: string, waitSeconds = 1): Promise<boolean> {
  const r = await runInNamespace(ns, ['ping', '-c', '1', '-W', String(waitSeconds), address], { timeoutMs: (waitSeconds + 3) * 1000 });
  return r.code === 0;
}

// --- bulk transfer and a long-lived connection ---------------------------------------------------

const BULK_CLIENT = `
const net = require('net');
const c = JSON.parse(process.argv[1]);
const out = { sent: 0, received: 0, error: undefined };
const done = () => { console.log(JSON.stringify(out)); process.exit(0); };
const s = net.connect({ host: c.host, port: c.port });
const chunk = Buffer.alloc(64 * 1024, 0x61);
s.on('connect', () => {
  const pump = () => {
    while (out.sent < c.bytes) {
      const n = Math.min(chunk.length, c.bytes - out.sent);
      out.sent += n;
      if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return s.once('drain', pump);
    }
  };
  pump();
});
s.on('data', (d) => { out.received += d.length; if (out.received >= c.bytes) s.end(); });
s.on('close', done);
s.on('error', (e) => { out.error = e.code || e.message; });
setTimeout(() => { out.error = out.error || 'timeout'; s.destroy(); done(); }, c.timeoutMs);
`;

/**
 * Send `bytes` from `ns` to an echo server (test/helpers/lab.ts startTcpServer) at host:port and
 * read them back; `received` counts the echoed bytes.
 */
export async function bulkTransfer(ns: string, host: string, port: number, bytes: number, timeoutMs = 10_000): Promise<{ sent: number; received: number; error?: string }> {
  const p = spawnInNamespace(ns, [process.execPath, '-e', BULK_CLIENT, JSON.stringify({ host, port, bytes, timeoutMs })], { lifetimeMs: timeoutMs + 3000 });
  const line = await p.waitForLine((l) => l.startsWith('{'), timeoutMs + 2000);
  await p.exited;
  return JSON.parse(line) as { sent: number; received: number; error?: string };
}

const TICKER = `
const net = require('net');
const c = JSON.parse(process.argv[1]);
const s = net.connect({ host: c.host, port: c.port });
let n = 0;
s.setNoDelay(true);
s.on('connect', () => { console.log('connected'); setInterval(() => s.write('tick ' + (n++) + '\\n'), c.intervalMs); });
let buf = '';
s.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) { buf = buf.slice(i + 1); console.log('echo ' + Date.now()); }
});
s.on('error', (e) => console.log('error ' + (e.code || e.message)));
s.on('close', () => { console.log('closed'); process.exit(0); });
setTimeout(() => process.exit(0), c.lifetimeMs);
`;

export interface Ticker {
  proc: NsProcess;
  /** Echoes received at or after `since` (ms since the epoch). */
  echoesSince(since: number): number;
}

/**
 * A long-lived TCP connection from `ns` to an echo server: writes a line every `intervalMs` and
 * records when each echo came back.
 */
export async function startTicker(ns: string, host: string, port: number, o: { intervalMs?: number; lifetimeMs?: number } = {}): Promise<Ticker> {
  const lifetimeMs = o.lifetimeMs ?? 30_000;
  const proc = spawnInNamespace(ns, [process.execPath, '-e', TICKER, JSON.stringify({ host, port, intervalMs: o.intervalMs ?? 50, lifetimeMs })], { lifetimeMs: lifetimeMs + 1000 });
  await proc.waitForLine((l) => l === 'connected', 5000);
  return {
    proc,
    echoesSince(since) {
      return proc.lines.stdout.filter((l) => l.startsWith('echo ') && Number(l.slice(5)) >= since).length;
    },
  };
}

export { sleep };
