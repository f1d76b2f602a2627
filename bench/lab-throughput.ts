/**
 * Lab throughput benchmark: what queueing costs on the seed topology's router, measured side by
 * side in one run (the machine is noisy; compare ratios within a run, never absolute numbers
 * across runs).
 *
 * For every scenario: iperf3 TCP bulk throughput app -> maint, then new TCP connections per
 * second (bench/baseline/tcp-connrate: 8 connects in flight against an accept-and-close server).
 * Both go to TCP port 22, the port the seed policy forwards, so nfqwall's rows run the shipped
 * policy unchanged. "C accept-all on nfqwall's rules" answers nfqwall's forward queue with the C
 * consumer while nfqwall's rules stay installed: it splits nfqwall's cost into the kernel rules'
 * share and the share of judging in Node. Scenarios are run round-robin, `--rounds` times. Then the reload storm: 100
 * SIGHUPs within 10 s while connections are being opened, with the kernel's queue counters and
 * the daemon's RSS before and after. No assertions: it prints a table and the acceptance ratios.
 *
 *   npm run build && bench/baseline/build.sh
 *   node dist/bench/lab-throughput.js [--seconds 3] [--rounds 3] [--only kernel,c-every,...,reload] [--json]
 *
 * The logging rows (nfqwall-log-default, -log-off, -log-flows) run the same daemon with its record
 * settings changed; their ratio to `nfqwall-log-off` is what logging costs new connections:
 *   node dist/bench/lab-throughput.js --only nfqwall-log-default,nfqwall-log-off,nfqwall-log-flows --rounds 3
 *
 * Needs root. To add a row, append a `Scenario` (rules in the router + the consumer it needs).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { labDown, labUp, runInNamespace } from '../src/lab/lab';
import { spawnInNamespace, type NsProcess } from '../src/lab/process';
import { runChecked } from '../src/lab/run';
import { LAB_ADDRESSES, type LabNames } from '../src/lab/topology';
import { NFQUEUE_PROC_PATH, parseQueueStats, type KernelQueueStats } from '../src/queue/queue-stats';
import { netnsRunner, removeSteering } from '../src/dataplane/apply';

const REPO = resolve(__dirname, '..', '..');
const BASELINE_BUILD = join(REPO, 'bench', 'baseline', 'build');
const NFQWALL = join(REPO, 'bin', 'nfqwall');
const SEED = join(REPO, 'examples', 'seed');
const QUEUE = 10;
/** nfqwall's seven queues start here (--queue-base). */
const NFQWALL_QUEUE_BASE = 4100;
/** Pattern B: the verdict's packet mark, copied to the ct mark after the verdict. */
const OFFLOAD_MARK = 0x100;
/** The seed policy forwards TCP 22 to the maintenance network, and nothing else. */
const IPERF_PORT = 22;
const CONNRATE_PORT = 22;
/** A second address of the maintenance host, so the two servers can share port 22. */
const CONNRATE_ADDRESS = '10.20.0.3';
const SETTLE_MS = 1000;
/** Each measurement is preceded by this much of the same traffic, not counted. */
const WARMUP_SECONDS = 1;

export interface BenchContext {
  names: LabNames;
  queue: number;
  /** Lifetime cap for anything a scenario starts. */
  lifetimeMs: number;
}

/** A started scenario; `stop` ends its consumer and reports how many packets it judged. */
export interface ScenarioRun {
  stop(): Promise<{ queuedPackets?: number }>;
}

export interface Scenario {
  id: string;
  label: string;
  /** Install rules in the router and start what judges packets; rules are flushed afterwards. */
  start(ctx: BenchContext): Promise<ScenarioRun>;
}

async function inRouter(ctx: BenchContext, ...argv: string[]): Promise<void> {
  await runChecked(['ip', 'netns', 'exec', ctx.names.router, ...argv]);
}

/** Steering: every forwarded packet. */
async function queueEveryPacket(ctx: BenchContext): Promise<void> {
  await inRouter(ctx, 'iptables-nft', '-A', 'FORWARD', '-j', 'NFQUEUE', '--queue-num', String(ctx.queue));
}

/** Steering, Pattern B (platform-notes "Per-flow offload"): only packets of undecided flows. */
async function queueFirstPacket(ctx: BenchContext): Promise<void> {
  const m = `0x${OFFLOAD_MARK.toString(16)}/0x${OFFLOAD_MARK.toString(16)}`;
  await inRouter(ctx, 'iptables-nft', '-A', 'FORWARD', '-m', 'connmark', '--mark', m, '-j', 'ACCEPT');
  await inRouter(ctx, 'iptables-nft', '-A', 'FORWARD', '-j', 'NFQUEUE', '--queue-num', String(ctx.queue));
  // ACCEPT resumes at the next hook entry, so the copy to the flow lives in a later chain.
  await inRouter(ctx, 'iptables-nft', '-t', 'mangle', '-A', 'POSTROUTING', '-m', 'mark', '--mark', m, '-j', 'CONNMARK', '--set-xmark', m);
}

/** A consumer that prints a ready line on stderr and "packets N" on stdout at SIGTERM. */
async function startConsumer(ctx: BenchContext, argv: string[]): Promise<ScenarioRun> {
  const p = spawnInNamespace(ctx.names.router, argv, { lifetimeMs: ctx.lifetimeMs });
  await p.waitForLine((l) => l.startsWith('ready'), 10_000, 'stderr');
  return {
    async stop() {
      await p.stop();
      const line = p.lines.stdout.find((l) => l.startsWith('packets '));
      return line ? { queuedPackets: Number(line.split(' ')[1]) } : {};
    },
  };
}

function cConsumer(ctx: BenchContext, mark: number | undefined, queue = ctx.queue): Promise<ScenarioRun> {
  return startConsumer(ctx, [join(BASELINE_BUILD, 'nfq-accept'), String(queue), mark === undefined ? '-' : String(mark), String(8 << 20)]);
}

/** The same accept-all over nfqwall's queue adapter (src/queue/source-nfqueue.ts) in Node. */
const JS_ACCEPT = `
const { createNfqueueSource } = require(process.argv[2]);
const c = JSON.parse(process.argv[1]);
const s = createNfqueueSource();
s.onPacket((p) => s.verdict(p.id, 1, c.mark));
s.open(c.queue, { socketBufferBytes: 8 << 20 });
process.stderr.write('ready\\n');
process.once('SIGTERM', () => { process.stdout.write('packets ' + s.stats().packets + '\\n'); process.exit(0); });
setTimeout(() => process.exit(3), c.lifetimeMs);
`;

function jsConsumer(ctx: BenchContext, mark: number | undefined): Promise<ScenarioRun> {
  const adapter = join(REPO, 'dist', 'src', 'queue', 'source-nfqueue.js');
  return startConsumer(ctx, [process.execPath, '-e', JS_ACCEPT, JSON.stringify({ queue: ctx.queue, mark, lifetimeMs: ctx.lifetimeMs }), adapter]);
}

/** Kernel counters of the queues `from..to` in the router (the queues vanish when their reader exits). */
async function routerQueues(ctx: BenchContext, from: number, to: number): Promise<KernelQueueStats[]> {
  const r = await runInNamespace(ctx.names.router, ['cat', NFQUEUE_PROC_PATH]);
  return parseQueueStats(r.stdout).filter((q) => q.queueNumber >= from && q.queueNumber <= to);
}

interface QueueTotals {
  /** Packets queued since the queues were bound (ids count from 1 per queue). */
  queued: number;
  queueDropped: number;
  userDropped: number;
  /** Queued packets without a verdict right now. */
  waiting: number;
}

async function nfqwallQueueTotals(ctx: BenchContext): Promise<QueueTotals> {
  const qs = await routerQueues(ctx, NFQWALL_QUEUE_BASE, NFQWALL_QUEUE_BASE + 6);
  const sum = (f: (q: KernelQueueStats) => number) => qs.reduce((a, q) => a + f(q), 0);
  return { queued: sum((q) => q.idSequence), queueDropped: sum((q) => q.queueDropped), userDropped: sum((q) => q.userDropped), waiting: sum((q) => q.queueTotal) };
}

/** The real daemon on the lab's router, enforcing the shipped seed policy. */
async function startNfqwall(ctx: BenchContext, extra: string[]): Promise<NsProcess> {
  const argv = [process.execPath, NFQWALL, 'run', '--config', SEED, '--node', 'router', '--backend', 'iptables', '--queue-base', String(NFQWALL_QUEUE_BASE), '--log-format', 'json', '--control-socket', `/run/nfqwall-bench/${process.pid}.sock`, ...extra];
  const p = spawnInNamespace(ctx.names.router, argv, { lifetimeMs: ctx.lifetimeMs });
  await p.waitForLine((l) => l.includes('"msg":"nfqwall started"'), 20_000);
  return p;
}

function nfqwallScenario(id: string, label: string, extra: string[]): Scenario {
  return {
    id,
    label,
    start: async (ctx) => {
      const p = await startNfqwall(ctx, extra);
      return {
        async stop() {
          // Read before SIGTERM: the queues, and their counters, go away with the daemon.
          const { queued } = await nfqwallQueueTotals(ctx);
          await p.stop(5000);
          return { queuedPackets: queued };
        },
      };
    },
  };
}

export const BASELINE_SCENARIOS: Scenario[] = [
  {
    id: 'kernel',
    label: 'kernel forwarding, no queue',
    start: async () => ({ stop: async () => ({}) }),
  },
  {
    id: 'c-every',
    label: 'C accept-all, every packet',
    start: async (ctx) => {
      await queueEveryPacket(ctx);
      return cConsumer(ctx, undefined);
    },
  },
  {
    id: 'c-first',
    label: 'C accept-all, first packet (Pattern B)',
    start: async (ctx) => {
      await queueFirstPacket(ctx);
      return cConsumer(ctx, OFFLOAD_MARK);
    },
  },
  {
    id: 'js-every',
    label: 'JS adapter accept-all, every packet',
    start: async (ctx) => {
      await queueEveryPacket(ctx);
      return jsConsumer(ctx, undefined);
    },
  },
  {
    id: 'js-first',
    label: 'JS adapter accept-all, first packet (B)',
    start: async (ctx) => {
      await queueFirstPacket(ctx);
      return jsConsumer(ctx, OFFLOAD_MARK);
    },
  },
  nfqwallScenario('nfqwall', 'nfqwall, seed policy (flow mode)', []),
  nfqwallScenario('nfqwall-packet', 'nfqwall, seed policy, --mode packet', ['--mode', 'packet']),
  // What logging costs, side by side: the default (sampled deny records, no flow records, which is
  // also what the `nfqwall` row runs), every record off, and flow records on (flow.decided per new
  // connection, flow.end from conntrack -E, which then runs next to the daemon).
  nfqwallScenario('nfqwall-log-default', 'nfqwall, default logging (--log-denies sampled)', ['--log-denies', 'sampled']),
  nfqwallScenario('nfqwall-log-off', 'nfqwall, logging off (--log-denies off)', ['--log-denies', 'off']),
  nfqwallScenario('nfqwall-log-flows', 'nfqwall, --log-denies sampled --log-flows', ['--log-denies', 'sampled', '--log-flows']),
  {
    // nfqwall's own steering rules (flow mode) answered by the C accept-all instead of nfqwall:
    // separates the cost of the kernel rules from the cost of judging in Node.
    id: 'c-nfqwall-rules',
    label: "C accept-all on nfqwall's rules (flow)",
    start: async (ctx) => {
      const daemon = await startNfqwall(ctx, []);
      daemon.child.kill('SIGKILL'); // fail-open: its rules stay, its queues are released
      await daemon.exited;
      const c = await cConsumer(ctx, undefined, NFQWALL_QUEUE_BASE + 3);
      return {
        async stop() {
          const r = await c.stop();
          await removeSteering('nfqwall', { run: netnsRunner(ctx.names.router) });
          return r;
        },
      };
    },
  },
];

/**
 * What runs by default (`--only` can pick any scenario, `js-first` and `nfqwall-log-default`
 * included): `nfqwall` runs the default logging settings, so it is the logging rows' reference.
 */
const DEFAULT_SCENARIOS = ['kernel', 'c-every', 'c-first', 'js-every', 'nfqwall', 'nfqwall-packet', 'c-nfqwall-rules', 'nfqwall-log-off', 'nfqwall-log-flows'];

export interface Measurement {
  scenario: string;
  round: number;
  tcpBitsPerSecond: number;
  tcpQueued?: number;
  /** Packets judged per second during the TCP measurement (queued / seconds). */
  tcpPacketsPerSecond?: number;
  connectionsPerSecond: number;
  connectionsFailed: number;
  connQueued?: number;
}

export interface BenchOptions {
  seconds: number;
  rounds: number;
}

/** Remove every rule and flow a scenario left in the router. */
async function resetRouter(ctx: BenchContext): Promise<void> {
  for (const table of ['filter', 'mangle']) await inRouter(ctx, 'iptables-nft', '-t', table, '-F');
  // Flows (and their ct marks) of one run must not decide packets of the next.
  await runInNamespace(ctx.names.router, ['conntrack', '-F']);
}

async function iperf(ctx: BenchContext, seconds: number): Promise<number> {
  const r = await runInNamespace(
    ctx.names.app,
    // -O 1: the first second (slow start, a freshly started consumer's JIT warm-up) is not counted.
    ['iperf3', '-c', LAB_ADDRESSES.maint.v4, '-p', String(IPERF_PORT), '-t', String(seconds + WARMUP_SECONDS), '-O', String(WARMUP_SECONDS), '-J'],
    { timeoutMs: (seconds + 20) * 1000 },
  );
  const out = JSON.parse(r.stdout || '{}') as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
  const bps = out.end?.sum_received?.bits_per_second;
  if (bps === undefined) throw new Error(`iperf3 failed: ${out.error ?? r.stderr}`);
  return bps;
}

async function connRate(ctx: BenchContext, seconds: number): Promise<{ rate: number; failed: number }> {
  const r = await runInNamespace(
    ctx.names.app,
    [join(BASELINE_BUILD, 'tcp-connrate'), 'client', CONNRATE_ADDRESS, String(CONNRATE_PORT), String(seconds), '8'],
    { timeoutMs: (seconds + 10) * 1000 },
  );
  const m = /connections (\d+) failed (\d+) seconds ([\d.]+) rate ([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`tcp-connrate failed: ${r.stderr || r.stdout}`);
  return { rate: Number(m[4]), failed: Number(m[2]) };
}

/** Run `fn` with `scenario` in place; the router is reset afterwards, whatever happened. */
async function underScenario<T>(ctx: BenchContext, scenario: Scenario, fn: () => Promise<T>): Promise<{ value: T; queued?: number }> {
  try {
    const run = await scenario.start(ctx);
    const outcome = await fn().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    // Let the connections' last packets (FIN, final ACKs) pass this scenario's consumer instead of
    // being dropped with its queue and retransmitted into the next scenario.
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const { queuedPackets } = await run.stop();
    if (!outcome.ok) throw outcome.error;
    return queuedPackets === undefined ? { value: outcome.value } : { value: outcome.value, queued: queuedPackets };
  } finally {
    await resetRouter(ctx);
  }
}

async function measure(ctx: BenchContext, scenario: Scenario, round: number, seconds: number): Promise<Measurement> {
  const tcp = await underScenario(ctx, scenario, () => iperf(ctx, seconds));
  const conn = await underScenario(ctx, scenario, async () => {
    await connRate(ctx, WARMUP_SECONDS);
    return connRate(ctx, seconds);
  });
  const m: Measurement = {
    scenario: scenario.id,
    round,
    tcpBitsPerSecond: tcp.value,
    connectionsPerSecond: conn.value.rate,
    connectionsFailed: conn.value.failed,
  };
  if (tcp.queued !== undefined) {
    m.tcpQueued = tcp.queued;
    m.tcpPacketsPerSecond = tcp.queued / (seconds + WARMUP_SECONDS);
  }
  if (conn.queued !== undefined) m.connQueued = conn.queued;
  return m;
}

export interface ReloadStorm {
  signals: number;
  /** Time the SIGHUPs took to send. */
  sentInMs: number;
  /** Reloads the daemon completed and failed (signals during a reload are coalesced into one more). */
  reloadsOk: number;
  reloadsFailed: number;
  /** Median and maximum duration of one reload (load, compile, install the rules). */
  reloadMedianMs: number;
  reloadMaxMs: number;
  connectionsPerSecond: number;
  connectionsFailed: number;
  before: QueueTotals;
  after: QueueTotals;
  /** Packets the daemon judged, from its own counters at exit (+ handler errors). */
  daemonPackets: number;
  handlerErrors: number;
  /** RSS of the daemon (kB): after 1 s of traffic, after half the signals, after all of them and the traffic. */
  rssKb: { before: number; half: number; after: number };
  /** V8 heap in use (MB) as the daemon logged it after its first, middle and last reload. */
  heapUsedMb: { first: number; middle: number; last: number };
}

function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * 100 SIGHUPs, one every 100 ms, while tcp-connrate opens connections through the router (every
 * one of them queued): do all queued packets get a verdict, and does the daemon's memory stay put?
 */
export async function reloadStorm(ctx: BenchContext, signals = 100, withinMs = 10_000): Promise<ReloadStorm> {
  const daemon = await startNfqwall(ctx, []);
  const pid = daemon.child.pid as number;
  try {
    const trafficSeconds = withinMs / 1000 + 2;
    const traffic = runInNamespace(
      ctx.names.app,
      [join(BASELINE_BUILD, 'tcp-connrate'), 'client', CONNRATE_ADDRESS, String(CONNRATE_PORT), String(trafficSeconds), '8'],
      { timeoutMs: (trafficSeconds + 10) * 1000 },
    );
    await sleep(1000);
    const before = await nfqwallQueueTotals(ctx);
    const rss = { before: rssKb(pid), half: 0, after: 0 };
    const t0 = Date.now();
    for (let i = 0; i < signals; i++) {
      daemon.child.kill('SIGHUP');
      if (i === signals / 2 - 1) rss.half = rssKb(pid);
      await sleep(Math.max(0, t0 + ((i + 1) * withinMs) / signals - Date.now()));
    }
    const sentInMs = Date.now() - t0;
    const conn = await traffic;
    const m = /connections (\d+) failed (\d+) seconds ([\d.]+) rate ([\d.]+)/.exec(conn.stdout);
    if (!m) throw new Error(`tcp-connrate failed: ${conn.stderr || conn.stdout}`);
    // Let the last reload finish and the queues drain.
    const reloadLines = () => daemon.lines.stdout.filter((l) => l.includes('"msg":"policy reloaded"') || l.includes('"msg":"reload failed'));
    for (let seen = -1, i = 0; i < 50 && reloadLines().length !== seen; i++) {
      seen = reloadLines().length;
      await sleep(200);
    }
    const after = await nfqwallQueueTotals(ctx);
    rss.after = rssKb(pid);
    await daemon.stop(5000);
    const reloads = daemon.lines.stdout.filter((l) => l.includes('"msg":"policy reloaded"')).map((l) => JSON.parse(l) as { durationMs: number; memoryMb?: { heapUsed: number } });
    const durations = reloads.map((r) => r.durationMs).sort((a, b) => a - b);
    const heap = (i: number) => reloads[Math.max(0, Math.min(reloads.length - 1, i))]?.memoryMb?.heapUsed ?? NaN;
    const stopped = daemon.lines.stdout.map((l) => (l.includes('"msg":"nfqwall stopped"') ? (JSON.parse(l) as { processed?: { packets?: number }; handlerErrors?: number }) : null)).find((x) => x !== null);
    return {
      signals,
      sentInMs,
      reloadsOk: durations.length,
      reloadsFailed: daemon.lines.stdout.filter((l) => l.includes('"msg":"reload failed')).length,
      reloadMedianMs: median(durations),
      reloadMaxMs: durations[durations.length - 1] ?? 0,
      connectionsPerSecond: Number(m[4]),
      connectionsFailed: Number(m[2]),
      before,
      after,
      daemonPackets: stopped?.processed?.packets ?? -1,
      handlerErrors: stopped?.handlerErrors ?? -1,
      rssKb: rss,
      heapUsedMb: { first: heap(0), middle: heap(Math.floor(reloads.length / 2)), last: heap(reloads.length - 1) },
    };
  } finally {
    await daemon.stop(2000);
    await resetRouter(ctx);
  }
}

export interface LabResults {
  measurements: Measurement[];
  reload?: ReloadStorm;
}

/** Build a lab, run every scenario `rounds` times round-robin, then the reload storm; remove the lab. */
export async function runLabThroughput(options: BenchOptions, scenarios: Scenario[] = BASELINE_SCENARIOS, withReload = true): Promise<LabResults> {
  for (const tool of ['nfq-accept', 'tcp-connrate']) {
    if (!existsSync(join(BASELINE_BUILD, tool))) await runChecked(['sh', join(REPO, 'bench', 'baseline', 'build.sh')], { timeoutMs: 120_000 });
  }
  const prefix = `b${Date.now().toString(36).slice(-6)}`;
  const names = await labUp(prefix);
  const stopLab = () => labDown(prefix);
  const onSignal = () => void stopLab().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  const perRun = options.seconds * 2 + 30;
  const ctx: BenchContext = { names, queue: QUEUE, lifetimeMs: (perRun + 30) * 1000 };
  const servers: NsProcess[] = [];
  try {
    await runChecked(['ip', '-n', names.maint, 'addr', 'add', `${CONNRATE_ADDRESS}/24`, 'dev', 'eth0']);
    const total = (scenarios.length * options.rounds * perRun + 120) * 1000;
    const iperfServer = spawnInNamespace(names.maint, ['iperf3', '-s', '--forceflush', '-B', LAB_ADDRESSES.maint.v4, '-p', String(IPERF_PORT)], { lifetimeMs: total });
    servers.push(iperfServer);
    await iperfServer.waitForLine((l) => l.includes('Server listening'), 5000);
    const connServer = spawnInNamespace(names.maint, [join(BASELINE_BUILD, 'tcp-connrate'), 'server', CONNRATE_ADDRESS, String(CONNRATE_PORT)], {
      lifetimeMs: total,
    });
    servers.push(connServer);
    await connServer.waitForLine((l) => l === 'listening', 5000, 'stderr');

    const measurements: Measurement[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      for (const s of scenarios) {
        const m = await measure(ctx, s, round, options.seconds);
        const pps = m.tcpPacketsPerSecond === undefined ? '' : `, ${m.tcpPacketsPerSecond.toFixed(0)} pkt/s judged`;
        process.stderr.write(`round ${round} ${s.id}: ${(m.tcpBitsPerSecond / 1e9).toFixed(2)} Gbit/s${pps}, ${m.connectionsPerSecond.toFixed(0)} conn/s\n`);
        measurements.push(m);
      }
    }
    const results: LabResults = { measurements };
    if (withReload) {
      process.stderr.write('reload storm: 100 SIGHUPs in 10 s under connection load\n');
      results.reload = await reloadStorm(ctx);
    }
    return results;
  } finally {
    for (const p of servers) await p.stop();
    process.removeListener('SIGINT', onSignal);
    await stopLab();
  }
}

/** Median: one disturbed round (other work on the same cores) should not move the figure. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

interface Row {
  id: string;
  label: string;
  gbps: number;
  pps: number | undefined;
  tcpQueued: string;
  conns: number;
  connQueued: string;
  failed: number;
}

function aggregate(results: Measurement[], scenarios: Scenario[]): Row[] {
  const ids = [...new Set(results.map((r) => r.scenario))];
  return ids.map((id) => {
    const rs = results.filter((r) => r.scenario === id);
    const vals = (f: (r: Measurement) => number | undefined) => rs.map(f).filter((x): x is number => x !== undefined);
    const q = (f: (r: Measurement) => number | undefined) => (vals(f).length ? median(vals(f)).toFixed(0) : '-');
    const pps = vals((r) => r.tcpPacketsPerSecond);
    return {
      id,
      label: scenarios.find((s) => s.id === id)?.label ?? id,
      gbps: median(rs.map((r) => r.tcpBitsPerSecond)) / 1e9,
      pps: pps.length ? median(pps) : undefined,
      tcpQueued: q((r) => r.tcpQueued),
      conns: median(rs.map((r) => r.connectionsPerSecond)),
      connQueued: q((r) => r.connQueued),
      failed: median(rs.map((r) => r.connectionsFailed)),
    };
  });
}

/** One row per scenario: medians over the rounds, ratios against the `kernel` scenario. */
export function formatTable(results: Measurement[], scenarios: Scenario[] = BASELINE_SCENARIOS): string {
  const rows = aggregate(results, scenarios);
  const base = rows.find((r) => r.id === 'kernel');
  const ratio = (v: number, b: number | undefined) => (b ? (v / b).toFixed(2) : '-');
  const head = ['path', 'TCP Gbit/s', 'x kernel', 'queued', 'judged pkt/s', 'conn/s', 'x kernel', 'queued', 'failed'];
  const body = rows.map((r) => [
    r.label,
    r.gbps.toFixed(2),
    ratio(r.gbps, base?.gbps),
    r.tcpQueued,
    r.pps === undefined ? '-' : r.pps.toFixed(0),
    r.conns.toFixed(0),
    ratio(r.conns, base?.conns),
    r.connQueued,
    r.failed.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const fmt = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(fmt)].join('\n');
}

/** The acceptance ratios, from the medians of one run. */
export function formatAcceptance(results: Measurement[], scenarios: Scenario[] = BASELINE_SCENARIOS): string {
  const rows = new Map(aggregate(results, scenarios).map((r) => [r.id, r]));
  const lines: string[] = [];
  const check = (label: string, num: number | undefined, den: number | undefined, target: number, detail: string) => {
    if (num === undefined || den === undefined || den === 0) return;
    const r = num / den;
    lines.push(`  ${label.padEnd(52)} ${r.toFixed(2)}  (target >= ${target.toFixed(2)}: ${r >= target ? 'met' : 'NOT met'}; ${detail})`);
  };
  const k = rows.get('kernel');
  const n = rows.get('nfqwall');
  const np = rows.get('nfqwall-packet');
  const ce = rows.get('c-every');
  const cf = rows.get('c-first');
  const je = rows.get('js-every');
  check('allowed TCP bulk, nfqwall / no firewall', n?.gbps, k?.gbps, 0.85, `${n?.gbps.toFixed(2)} vs ${k?.gbps.toFixed(2)} Gbit/s`);
  check('new TCP connections/s, nfqwall / C accept-all', n?.conns, cf?.conns, 0.8, `${n?.conns.toFixed(0)} vs ${cf?.conns.toFixed(0)} conn/s, first packet queued`);
  const cr = rows.get('c-nfqwall-rules');
  if (n && cr && cf) {
    lines.push(`  ${'  C accept-all on nfqwall\'s rules / minimal rules'.padEnd(52)} ${(cr.conns / cf.conns).toFixed(2)}  (${cr.conns.toFixed(0)} conn/s: the kernel cost of nfqwall's steering rules)`);
    lines.push(`  ${'  nfqwall / C accept-all on the same rules'.padEnd(52)} ${(n.conns / cr.conns).toFixed(2)}  (the cost of judging in Node)`);
  }
  // Logging: new connections/s with the default settings (the explicit row, else `nfqwall`, which
  // runs the same settings) and with flow records, each against every record off.
  const logOff = rows.get('nfqwall-log-off');
  const logDefault = rows.get('nfqwall-log-default') ?? n;
  const logFlows = rows.get('nfqwall-log-flows');
  const logDefaultId = rows.has('nfqwall-log-default') ? 'nfqwall-log-default' : 'nfqwall';
  check('new TCP connections/s, default logging / logging off', logDefault?.conns, logOff?.conns, 0.9, `${logDefault?.conns.toFixed(0)} vs ${logOff?.conns.toFixed(0)} conn/s (${logDefaultId} vs nfqwall-log-off)`);
  if (logFlows && logOff?.conns) {
    lines.push(`  ${'  with --log-flows / logging off'.padEnd(52)} ${(logFlows.conns / logOff.conns).toFixed(2)}  (${logFlows.conns.toFixed(0)} conn/s: flow.decided and flow.end records per connection, conntrack -E running)`);
  }
  check('--mode packet pkt/s, nfqwall / C accept-all', np?.pps, ce?.pps, 0.8, `${np?.pps?.toFixed(0)} vs ${ce?.pps?.toFixed(0)} pkt/s, every packet queued`);
  if (je?.pps !== undefined && ce?.pps) {
    lines.push(`  ${'  (binding limit) JS adapter accept-all / C accept-all'.padEnd(52)} ${(je.pps / ce.pps).toFixed(2)}  (${je.pps.toFixed(0)} pkt/s: the nfqueue npm binding with no policy at all)`);
    if (np?.pps !== undefined) lines.push(`  ${'  nfqwall --mode packet / JS adapter accept-all'.padEnd(52)} ${(np.pps / je.pps).toFixed(2)}`);
  }
  return lines.length ? `acceptance (ratios of medians, same run):\n${lines.join('\n')}` : '';
}

export function formatReloadStorm(r: ReloadStorm): string {
  const mb = (kb: number) => (kb / 1024).toFixed(1);
  const queued = r.after.queued - r.before.queued;
  return [
    `reload storm: ${r.signals} SIGHUPs sent in ${(r.sentInMs / 1000).toFixed(1)} s while opening ${r.connectionsPerSecond.toFixed(0)} conn/s through the router (${r.connectionsFailed} connects failed)`,
    `  reloads completed ${r.reloadsOk} (failed ${r.reloadsFailed}; signals arriving during a reload are coalesced), one reload: median ${r.reloadMedianMs} ms, max ${r.reloadMaxMs} ms`,
    `  kernel queue counters: ${queued} packets queued during the storm; queue dropped ${r.before.queueDropped} -> ${r.after.queueDropped}, user dropped ${r.before.userDropped} -> ${r.after.userDropped}, waiting for a verdict at the end ${r.after.waiting}`,
    `  verdicts: kernel queued ${r.after.queued} packets since start, the daemon judged ${r.daemonPackets} (handler errors ${r.handlerErrors})`,
    `  daemon RSS: ${mb(r.rssKb.before)} MB before, ${mb(r.rssKb.half)} MB after ${r.signals / 2} signals, ${mb(r.rssKb.after)} MB after ${r.signals}; ` +
      `V8 heap in use after the first / middle / last reload: ${r.heapUsedMb.first} / ${r.heapUsedMb.middle} / ${r.heapUsedMb.last} MB`,
  ].join('\n');
}

function parseArgs(argv: string[]): BenchOptions & { only?: string[]; json: boolean } {
  const opts: BenchOptions & { only?: string[]; json: boolean } = { seconds: 3, rounds: 3, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--seconds') opts.seconds = Number(next());
    else if (a === '--rounds') opts.rounds = Number(next());
    else if (a === '--only') opts.only = next().split(',');
    else if (a === '--json') opts.json = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!(opts.seconds > 0 && opts.seconds <= 60) || !(Number.isInteger(opts.rounds) && opts.rounds >= 1 && opts.rounds <= 10)) {
    throw new Error('--seconds must be in (0, 60] and --rounds in 1..10');
  }
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const scenarios = BASELINE_SCENARIOS.filter((s) => (opts.only ?? DEFAULT_SCENARIOS).includes(s.id));
  const withReload = !opts.only || opts.only.includes('reload');
  if (scenarios.length === 0 && !withReload) throw new Error(`--only matches none of ${[...BASELINE_SCENARIOS.map((s) => s.id), 'reload'].join(', ')}`);
  const results = await runLabThroughput(opts, scenarios, withReload);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `lab throughput: ${opts.rounds} round(s) x ${opts.seconds} s per measurement; iperf3 TCP app -> maint:22; ` +
      `connections: 8 in flight, accept-and-close, to maint:22; each after ${WARMUP_SECONDS} s of uncounted warm-up; medians over rounds; ` +
      `queued = packets the consumer judged; judged pkt/s = queued during the TCP run / its duration\n\n`,
  );
  if (results.measurements.length) {
    process.stdout.write(`${formatTable(results.measurements, scenarios)}\n\n`);
    const acc = formatAcceptance(results.measurements, scenarios);
    if (acc) process.stdout.write(`${acc}\n\n`);
  }
  if (results.reload) process.stdout.write(`${formatReloadStorm(results.reload)}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`lab-throughput: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
