/**
 * Lab throughput benchmark: what queueing costs on the seed topology's router, measured side by
 * side in one run (the machine is noisy; compare ratios within a run, never absolute numbers
 * across runs).
 *
 * For every scenario: iperf3 TCP bulk throughput app -> maint, then new TCP connections per
 * second (bench/baseline/tcp-connrate: 8 connects in flight against an accept-and-close server).
 * Scenarios are run round-robin, `--rounds` times. No assertions: it prints a table.
 *
 *   npm run build && bench/baseline/build.sh
 *   node dist/bench/lab-throughput.js [--seconds 5] [--rounds 3] [--only kernel,c-every,...] [--json]
 *
 * Needs root. To add a row, append a `Scenario` (rules in the router + the consumer it needs).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { labDown, labUp, runInNamespace } from '../src/lab/lab';
import { spawnInNamespace, type NsProcess } from '../src/lab/process';
import { runChecked } from '../src/lab/run';
import { LAB_ADDRESSES, type LabNames } from '../src/lab/topology';

const REPO = resolve(__dirname, '..', '..');
const BASELINE_BUILD = join(REPO, 'bench', 'baseline', 'build');
const QUEUE = 10;
/** Pattern B: the verdict's packet mark, copied to the ct mark after the verdict. */
const OFFLOAD_MARK = 0x100;
const IPERF_PORT = 5201;
const CONNRATE_PORT = 7000;
const SETTLE_MS = 1000;

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

function cConsumer(ctx: BenchContext, mark: number | undefined): Promise<ScenarioRun> {
  return startConsumer(ctx, [join(BASELINE_BUILD, 'nfq-accept'), String(ctx.queue), mark === undefined ? '-' : String(mark), String(8 << 20)]);
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
];

export interface Measurement {
  scenario: string;
  round: number;
  tcpBitsPerSecond: number;
  tcpQueued?: number;
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
    ['iperf3', '-c', LAB_ADDRESSES.maint.v4, '-p', String(IPERF_PORT), '-t', String(seconds), '-J'],
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
    [join(BASELINE_BUILD, 'tcp-connrate'), 'client', LAB_ADDRESSES.maint.v4, String(CONNRATE_PORT), String(seconds), '8'],
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
  const conn = await underScenario(ctx, scenario, () => connRate(ctx, seconds));
  const m: Measurement = {
    scenario: scenario.id,
    round,
    tcpBitsPerSecond: tcp.value,
    connectionsPerSecond: conn.value.rate,
    connectionsFailed: conn.value.failed,
  };
  if (tcp.queued !== undefined) m.tcpQueued = tcp.queued;
  if (conn.queued !== undefined) m.connQueued = conn.queued;
  return m;
}

/** Build a lab, run every scenario `rounds` times round-robin, remove the lab. */
export async function runLabThroughput(options: BenchOptions, scenarios: Scenario[] = BASELINE_SCENARIOS): Promise<Measurement[]> {
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
    const total = (scenarios.length * options.rounds * perRun + 60) * 1000;
    const iperfServer = spawnInNamespace(names.maint, ['iperf3', '-s', '--forceflush', '-B', LAB_ADDRESSES.maint.v4, '-p', String(IPERF_PORT)], { lifetimeMs: total });
    servers.push(iperfServer);
    await iperfServer.waitForLine((l) => l.includes('Server listening'), 5000);
    const connServer = spawnInNamespace(names.maint, [join(BASELINE_BUILD, 'tcp-connrate'), 'server', LAB_ADDRESSES.maint.v4, String(CONNRATE_PORT)], {
      lifetimeMs: total,
    });
    servers.push(connServer);
    await connServer.waitForLine((l) => l === 'listening', 5000, 'stderr');

    const results: Measurement[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      for (const s of scenarios) {
        const m = await measure(ctx, s, round, options.seconds);
        process.stderr.write(
          `round ${round} ${s.id}: ${(m.tcpBitsPerSecond / 1e9).toFixed(2)} Gbit/s, ${m.connectionsPerSecond.toFixed(0)} conn/s\n`,
        );
        results.push(m);
      }
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

/** One row per scenario: medians over the rounds, ratios against the `kernel` scenario. */
export function formatTable(results: Measurement[], scenarios: Scenario[] = BASELINE_SCENARIOS): string {
  const ids = [...new Set(results.map((r) => r.scenario))];
  const agg = (id: string) => {
    const rs = results.filter((r) => r.scenario === id);
    const q = (f: (r: Measurement) => number | undefined) => {
      const v = rs.map(f).filter((x): x is number => x !== undefined);
      return v.length ? median(v).toFixed(0) : '-';
    };
    return {
      id,
      label: scenarios.find((s) => s.id === id)?.label ?? id,
      gbps: median(rs.map((r) => r.tcpBitsPerSecond)) / 1e9,
      tcpQueued: q((r) => r.tcpQueued),
      conns: median(rs.map((r) => r.connectionsPerSecond)),
      connQueued: q((r) => r.connQueued),
      failed: median(rs.map((r) => r.connectionsFailed)),
    };
  };
  const rows = ids.map(agg);
  const base = rows.find((r) => r.id === 'kernel');
  const ratio = (v: number, b: number | undefined) => (b ? (v / b).toFixed(2) : '-');
  const head = ['path', 'TCP Gbit/s', 'x kernel', 'queued', 'conn/s', 'x kernel', 'queued', 'failed'];
  const body = rows.map((r) => [
    r.label,
    r.gbps.toFixed(2),
    ratio(r.gbps, base?.gbps),
    r.tcpQueued,
    r.conns.toFixed(0),
    ratio(r.conns, base?.conns),
    r.connQueued,
    r.failed.toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const fmt = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(fmt)].join('\n');
}

function parseArgs(argv: string[]): BenchOptions & { only?: string[]; json: boolean } {
  const opts: BenchOptions & { only?: string[]; json: boolean } = { seconds: 5, rounds: 3, json: false };
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
  const scenarios = opts.only ? BASELINE_SCENARIOS.filter((s) => opts.only?.includes(s.id)) : BASELINE_SCENARIOS;
  if (scenarios.length === 0) throw new Error(`--only matches none of ${BASELINE_SCENARIOS.map((s) => s.id).join(', ')}`);
  const results = await runLabThroughput(opts, scenarios);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `lab throughput: ${opts.rounds} round(s) x ${opts.seconds} s per measurement; iperf3 TCP app -> maint; ` +
      `connections: 8 in flight, accept-and-close; medians over rounds; queued = packets the consumer judged\n\n`,
  );
  process.stdout.write(`${formatTable(results, scenarios)}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`lab-throughput: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
