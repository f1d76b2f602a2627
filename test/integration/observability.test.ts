/**
 * Observability end to end: the real daemon (flow mode, default logging plus --log-flows, metrics
 * on) enforcing a copy of examples/seed in a lab's router, watched only through what an operator
 * has: `nfqwall trace | flows | status | reload` over the control socket (run from the root
 * namespace), GET /metrics inside the router namespace, and the daemon's JSON log. The kernel's
 * own counters (/proc/net/netfilter/nfnetlink_queue, conntrack, link statistics, all read in the
 * router namespace) are the reference.
 *
 * One lab and one daemon; the cases run in order (the last one stops the daemon and checks the
 * denied-packet accounting of the flood against the whole log).
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, type CommandResult } from '../../src/lab/run';
import type { KernelQueueStats } from '../../src/queue/queue-stats';
import type { TraceEvent } from '../../src/observe/trace';
import type { FlowListing } from '../../src/observe/flows-view';
import { createTestLab, IS_ROOT, readQueueStatsIn, runInNamespace, spawnInNamespace, startTcpServer, tcpProbe, type NsProcess, type TestLab } from '../helpers/lab';
import {
  bulkTransfer,
  copyPolicyDir,
  EXPECTED_BACKEND,
  FIXTURES,
  GUEST_SLOWDOWN,
  killDaemons,
  NFQWALL,
  queueNumbers,
  removeDir,
  SEED_DIR,
  sleep,
  startDaemon,
  startTicker,
  waitUntil,
  type Daemon,
  type LogEntry,
  type Ticker,
} from './daemon-helpers';

const QUEUE_BASE = 4500;
const Q = queueNumbers(QUEUE_BASE);
const METRICS = '127.0.0.1:9743';
const BROKEN = join(FIXTURES, 'observability-broken');
const BROKEN_FILES = ['bad-action.yaml', 'bad-port-and-selector.yaml'];

/** The deny flood: UDP datagrams to ports the seed denies, every one a new flow. */
const FLOOD_PACKETS = 100_000;
const FLOOD_RATE = 20_000;
const FLOOD_PORT_FROM = 10_000;
/** The daemon is stopped (SIGSTOP) this long during the flood, so the kernel's queue overflows. */
const FLOOD_PAUSE_MS = 300;
/** The kernel's default NFQUEUE length (the binding does not change it). */
const KERNEL_QUEUE_MAXLEN = 1024;

const END_OF_TIER = 'builtin:end-of-tier:default';
const SSH_RULE = 'policy:default/allow-ssh-maintenance/egress/0:Allow';

/** `nfqwall ARGS` from the root namespace (the control socket is a file: any namespace reaches it). */
function cli(...args: string[]): Promise<CommandResult> {
  return runCommand([process.execPath, NFQWALL, ...args], { timeoutMs: 15_000 });
}

interface Streaming {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (null after a signal). */
  exited: Promise<number | null>;
  waitFor(what: string, pred: () => boolean, timeoutMs: number): Promise<void>;
}

/** A long-running `nfqwall ARGS` (trace) with its output collected; killed after `lifetimeMs`. */
function streamCli(args: string[], lifetimeMs = 30_000): Streaming {
  const child = spawn(process.execPath, [NFQWALL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => void (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => void (err += c));
  const kill = setTimeout(() => child.kill('SIGKILL'), lifetimeMs);
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(kill);
      resolve(code);
    }),
  );
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (what, pred, timeoutMs) =>
      waitUntil(`${what} (nfqwall ${args.join(' ')}; stdout: ${out.slice(-400)}; stderr: ${err.slice(-400)})`, timeoutMs, () => {
        if (pred()) return true;
        if (done) throw new Error(`nfqwall ${args.join(' ')} exited before ${what}; stderr: ${err}`);
        return undefined;
      }).then(() => undefined),
  };
}

/** Start `nfqwall trace ARGS` and wait until the daemon confirmed the subscription. */
async function startTrace(socket: string, ...args: string[]): Promise<Streaming> {
  const t = streamCli(['trace', '--socket', socket, ...args]);
  await t.waitFor('the trace to start', () => t.stderr().includes('nfqwall trace: tracing'), 10_000);
  return t;
}

function jsonLines<T>(text: string): T[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);
}

/** GET /metrics from inside the router namespace (the daemon listens on that namespace's loopback). */
async function scrape(lab: TestLab): Promise<string> {
  const r = await runInNamespace(lab.names.router, ['curl', '-sS', '--max-time', '5', `http://${METRICS}/metrics`]);
  assert.equal(r.code, 0, `curl: ${r.stderr}`);
  return r.stdout;
}

/** Values of one metric by its `queue` label. */
function metricByQueue(text: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  const re = new RegExp(`^${name}\\{queue="(\\d+)"\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) out.set(Number(m[1]), Number(m[2]));
  return out;
}

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** RX dropped of an interface in a namespace (`ip -s -j link`). */
async function rxDropped(ns: string, dev: string): Promise<number> {
  const r = await runInNamespace(ns, ['ip', '-s', '-j', 'link', 'show', 'dev', dev]);
  const j = JSON.parse(r.stdout) as Array<{ stats64?: { rx?: { dropped?: number } } }>;
  return j[0]?.stats64?.rx?.dropped ?? 0;
}

function queueIn(stats: KernelQueueStats[], n: number): KernelQueueStats {
  const q = stats.find((s) => s.queueNumber === n);
  assert.ok(q, `queue ${n} is bound in the router`);
  return q;
}

type StatusQueue = { hook: string; queueNumber: number; packets: number; verdicts: { accept: number; drop: number; repeat: number }; pending: number };
type StatusJson = { mode: string; backend: string; counters: Record<string, number>; queues: StatusQueue[]; kernelQueues: Array<KernelQueueStats & { hook: string }> };

async function statusJson(socket: string): Promise<StatusJson> {
  const r = await cli('status', '--json', '--socket', socket);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusJson;
}

/**
 * Every datagram from a few sockets, to `count` distinct destination ports (each one a new flow
 * the kernel queues), paced at `rate` per second. Prints "started", then its counts.
 */
const UDP_FLOOD = `
const dgram = require('dgram');
const c = JSON.parse(process.argv[1]);
const out = { sent: 0, errors: 0, ms: 0 };
const payload = Buffer.alloc(16, 0x66);
const socks = [];
let bound = 0;
for (let i = 0; i < c.sockets; i++) {
  const s = dgram.createSocket('udp4');
  s.on('error', () => {});
  s.bind(0, () => { if (++bound === c.sockets) go(); });
  socks.push(s);
}
function go() {
  console.log('started');
  const t0 = Date.now();
  let queued = 0;
  let done = 0;
  const tick = () => {
    const due = Math.min(c.count, Math.floor((Date.now() - t0) * c.rate / 1000) + 32);
    while (queued < due) {
      const i = queued % c.sockets;
      const port = c.portFrom + Math.floor(queued / c.sockets);
      queued++;
      socks[i].send(payload, port, c.host, (err) => {
        if (err) out.errors++; else out.sent++;
        if (++done === c.count) { out.ms = Date.now() - t0; console.log(JSON.stringify(out)); process.exit(0); }
      });
    }
    if (queued < c.count) setTimeout(tick, 2);
  };
  tick();
}
setTimeout(() => { console.log(JSON.stringify({ ...out, error: 'timeout' })); process.exit(0); }, c.timeoutMs);
`;

describe('integration: observability — trace, flow records, deny flood, status, metrics, reload, flows @root', function () {
  this.timeout(60_000 * GUEST_SLOWDOWN);
  let lab: TestLab | undefined;
  let daemon: Daemon | undefined;
  let dir: string | undefined;
  let ticker: Ticker | undefined;
  const servers: NsProcess[] = [];
  const traces: Streaming[] = [];
  /** What the flood case measured, for the final accounting. */
  let flood: { sent: number; judged: number; kernelDropped: number; seconds: number; forwardDropsBefore: number } | undefined;

  before(async function () {
    if (!IS_ROOT) this.skip();
    lab = await createTestLab();
    dir = copyPolicyDir(SEED_DIR);
    const { names: n } = lab;
    servers.push(await startTcpServer(n.maint, { host: '::', port: 22, lifetimeMs: 110_000 }));
    servers.push(await startTcpServer(n.maint, { host: '::', port: 80, lifetimeMs: 110_000 }));
    daemon = await startDaemon(lab, { config: dir, queueBase: QUEUE_BASE, lifetimeMs: 110_000, extraArgs: ['--metrics-listen', METRICS] });
  });

  after(async () => {
    for (const t of traces) t.child.kill('SIGKILL');
    await ticker?.proc.stop();
    await killDaemons();
    for (const s of servers) await s.stop();
    await lab?.destroy();
    removeDir(dir);
  });

  it('runs in flow mode on the probed backend, with metrics served', () => {
    const logs = (daemon as Daemon).logs();
    assert.equal(logs.find((e) => e.msg === 'steering backend chosen')?.backend, EXPECTED_BACKEND);
    assert.equal(logs.find((e) => e.msg === 'nfqwall started')?.mode, 'flow');
    assert.ok(logs.some((e) => e.msg === 'metrics served at /metrics' && e.listen === METRICS));
  });

  it('nfqwall trace streams a denied connection to port 80 and an allowed SSH connection, with every rule tried', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    const socket = (daemon as Daemon).controlSocket;
    const text = await startTrace(socket, 'dst', 'host', a.maint.v4, 'and', '(dst', 'port', '80', 'or', 'dst', 'port', '22)');
    traces.push(text);
    const denyJson = await startTrace(socket, '--json', '--count', '1', 'verdict', 'deny', 'and', 'tcp', 'and', 'dst', 'port', '80');
    traces.push(denyJson);
    const allowJson = await startTrace(socket, '--json', '--count', '1', 'verdict', 'allow', 'and', 'dst', 'port', '22');
    traces.push(allowJson);
    assert.match(text.stderr(), /tracing decisions matching: dst host 10\.20\.0\.2 and \(dst port 80 or dst port 22\)/);

    assert.equal((await tcpProbe(n.app, a.maint.v4, 80, { timeoutMs: 1200 })).connected, false, 'port 80 is denied');
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 22), { connected: true, echoed: true }, 'SSH is allowed');

    // Text: the denied SYN, the stage walk, the tier, the policy, the rule that did not match and why.
    await text.waitFor('the SSH decision in the text trace', () => /ALLOW tcp 10\.10\.0\.2:\d+ -> 10\.20\.0\.2:22 /.test(text.stdout()), 10_000);
    text.child.kill('SIGINT');
    assert.equal(await text.exited, 0, 'Ctrl-C ends a trace with exit 0');
    const out = text.stdout();
    const denyEvent = out.split(/\n(?=\S)/).find((e) => / DENY tcp 10\.10\.0\.2:\d+ -> 10\.20\.0\.2:80 iif eth0 oif eth1 ct new at filter-forward /.test(e));
    assert.ok(denyEvent, `a DENY event for port 80 in:\n${out}`);
    for (const line of [
      'filter-forward forward-ingress router.eth0 [forward ingress, post-DNAT destination]: allow by built-in forward-default-allow',
      'filter-forward forward-egress router.eth1 [forward egress, post-DNAT destination]: deny by built-in end-of-tier (default)',
      'tier default (default Deny) -> no policy decided: tier default Deny',
      'policy allow-ssh-maintenance: no rule decided',
      'rule 0 Allow no match: destination.ports: destination port 80; the rule wants 22',
      '=> deny (drop) by builtin:end-of-tier:default on router.eth1',
    ]) {
      assert.ok(denyEvent.includes(line), `the deny trace says "${line}":\n${denyEvent}`);
    }
    const allowEvent = out.split(/\n(?=\S)/).find((e) => / ALLOW tcp 10\.10\.0\.2:\d+ -> 10\.20\.0\.2:22 iif eth0 oif eth1 ct new at filter-forward /.test(e));
    assert.ok(allowEvent, `an ALLOW event for port 22 in:\n${out}`);
    assert.ok(allowEvent.includes('rule 0 Allow matched: allow'), allowEvent);
    assert.ok(allowEvent.includes('=> allow (repeat) by tier default / policy allow-ssh-maintenance rule 0 on router.eth1'), allowEvent);

    // JSON: one object per event, the same explanation as data; --count ends the stream (exit 0).
    assert.equal(await denyJson.exited, 0, denyJson.stderr());
    assert.equal(await allowJson.exited, 0, allowJson.stderr());
    const [deny] = jsonLines<TraceEvent>(denyJson.stdout());
    assert.ok(deny, denyJson.stdout());
    assert.deepEqual(
      { action: deny.decision.action, ruleId: deny.decision.ruleId, tier: deny.decision.tier, policy: deny.decision.policy, hep: deny.decision.hep, stage: deny.decision.stage, dport: deny.decision.dport, verdict: deny.verdict, consistent: deny.consistent },
      { action: 'deny', ruleId: END_OF_TIER, tier: 'default', policy: null, hep: 'router.eth1', stage: 'filter-forward', dport: 80, verdict: 'drop', consistent: true },
    );
    const egress = deny.steps.find((s) => s.chain === 'forward-egress');
    assert.ok(egress, JSON.stringify(deny.steps));
    assert.equal(egress.tiers[0]?.outcome, 'end-of-tier');
    const tried = egress.tiers[0]?.policies[0];
    assert.equal(tried?.policy, 'allow-ssh-maintenance');
    assert.deepEqual(
      tried?.rules.map((r) => ({ index: r.index, matched: r.matched, why: r.why, failed: r.checks.filter((c) => !c.ok).map((c) => c.criterion) })),
      [{ index: 0, matched: false, why: 'destination.ports: destination port 80; the rule wants 22', failed: ['destination.ports'] }],
    );
    const [allow] = jsonLines<TraceEvent>(allowJson.stdout());
    assert.ok(allow, allowJson.stdout());
    assert.deepEqual(
      { action: allow.decision.action, tier: allow.decision.tier, policy: allow.decision.policy, rule: allow.decision.rule, ruleId: allow.decision.ruleId, hep: allow.decision.hep, verdict: allow.verdict, consistent: allow.consistent },
      { action: 'allow', tier: 'default', policy: 'allow-ssh-maintenance', rule: 0, ruleId: SSH_RULE, hep: 'router.eth1', verdict: 'repeat', consistent: true },
    );
    const rule0 = allow.steps.find((s) => s.chain === 'forward-egress')?.tiers[0]?.policies[0]?.rules[0];
    assert.deepEqual(rule0?.checks.map((c) => [c.criterion, c.ok]), [['protocol', true], ['destination.ports', true]]);

    // A filter the language does not know is a usage error, found before the daemon is asked.
    const bad = await cli('trace', '--socket', socket, 'dst', 'portt', '80');
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /bad filter/);
  });

  it('nfqwall flows lists the open SSH connection with its deciding rule and the kernel\'s counters', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    const socket = (daemon as Daemon).controlSocket;
    const from = (daemon as Daemon).logs().length;
    ticker = await startTicker(n.app, a.maint.v4, 22, { intervalMs: 20, lifetimeMs: 30_000 });
    const since = Date.now();
    await waitUntil('echoes on the open SSH connection', 5000, () => (ticker!.echoesSince(since) >= 10 ? true : undefined));
    const decided = await (daemon as Daemon).waitForLog((e) => e.event === 'flow.decided' && e.dport === 22 && e.ruleId === SSH_RULE && e.family === 4, 5000, from);
    const sport = decided.sport as number;
    // The ticker's connection, by its source port.
    const ct = await runInNamespace(n.router, ['conntrack', '-L', '-p', 'tcp', '--dport', '22', '--state', 'ESTABLISHED']);
    assert.ok(ct.stdout.includes(`sport=${sport} `), `the kernel tracks the ticker's connection: ${ct.stdout}`);

    const j = await cli('flows', '--json', '--socket', socket, 'dst', 'port', '22', 'and', 'src', 'port', String(sport));
    assert.equal(j.code, 0, j.stderr);
    const listing = JSON.parse(j.stdout) as FlowListing;
    assert.equal(listing.rows.length, 1, j.stdout);
    const row = listing.rows[0]!;
    assert.deepEqual(
      { source: row.source, src: row.src, dst: row.dst, dport: row.dport, state: row.state, verdict: row.verdict, tier: row.tier, policy: row.policy, rule: row.rule, ruleId: row.ruleId, hep: row.hep, flowId: row.flowId },
      { source: 'kernel', src: a.app.v4, dst: a.maint.v4, dport: 22, state: 'ESTABLISHED', verdict: 'allow', tier: 'default', policy: 'allow-ssh-maintenance', rule: 0, ruleId: SSH_RULE, hep: 'router.eth1', flowId: decided.flowId },
    );
    assert.ok(row.ctId !== null, 'the kernel entry is named');
    assert.ok(row.ageMs !== null && row.ageMs >= 0, 'its age comes from nfqwall');
    // nfqwall saw only the first packets: how long the flow has been idle only the kernel knows (and does not say).
    assert.equal(row.idleMs, null);
    // Only the first packets reached nfqwall; the kernel counted the rest (ticks every 20 ms).
    assert.ok(row.packetsOrig >= 10 && row.packetsReply >= 10, JSON.stringify(row));

    const t = await cli('flows', '--socket', socket, 'dst', 'port', '22', 'and', 'src', 'port', String(sport));
    assert.equal(t.code, 0, t.stderr);
    const line = t.stdout.split('\n').find((l) => l.includes(`${a.app.v4}:${sport}`));
    assert.ok(line, t.stdout);
    assert.match(line, new RegExp(`^${decided.flowId as number}\\s+\\d+s\\s+-\\s+tcp\\s+10\\.10\\.0\\.2:${sport}\\s+10\\.20\\.0\\.2:22\\s+ESTABLISHED\\s+allow\\s+default/allow-ssh-maintenance#0\\s+\\d+/\\d+\\s+\\S+/\\S+$`));
    assert.match(t.stdout, /^1 of \d+ flows matched$/m);
    await ticker.proc.stop();
    ticker = undefined;
  });

  it('a 10 MB transfer (offloaded to the kernel after its first packet) ends with a flow.end record carrying the kernel\'s byte counts', async function () {
    const { names: n, addresses: a } = lab as TestLab;
    const d = daemon as Daemon;
    const from = d.logs().length;
    const bytes = 10 * 1024 * 1024;
    const queuedBefore = queueIn(await readQueueStatsIn(n.router), Q.filterForward).idSequence;
    const r = await bulkTransfer(n.app, a.maint.v4, 22, bytes, 15_000);
    assert.equal(r.received, bytes, JSON.stringify(r));
    const queued = queueIn(await readQueueStatsIn(n.router), Q.filterForward).idSequence - queuedBefore;
    assert.ok(queued >= 1 && queued <= 4, `only the first packet(s) reach nfqwall (${queued} queued)`);
    const decided = await d.waitForLog((e) => e.event === 'flow.decided' && e.dport === 22 && e.family === 4, 5000, from);
    const sport = decided.sport as number;
    // The connection is closed; its kernel entry lingers in TIME_WAIT. Deleting it is a real
    // conntrack destroy, which ends the record.
    const entry = await runInNamespace(n.router, ['conntrack', '-L', '-p', 'tcp', '--sport', String(sport), '--dport', '22']);
    assert.match(entry.stdout, /TIME_WAIT|CLOSE/, entry.stdout);
    assert.ok(!d.logs().slice(from).some((e) => e.event === 'flow.end' && e.sport === sport), 'no end record while the kernel still holds the flow');
    const del = await runInNamespace(n.router, ['conntrack', '-D', '-p', 'tcp', '-s', a.app.v4, '-d', a.maint.v4, '--sport', String(sport), '--dport', '22']);
    assert.equal(del.code, 0, del.stderr);
    const end = await d.waitForLog((e) => e.event === 'flow.end' && e.sport === sport, 5000, from);
    assert.equal(end.reason, 'conntrack-destroy', JSON.stringify(end));
    assert.equal(end.counters, 'kernel');
    assert.equal(end.flowId, decided.flowId);
    assert.equal(end.ruleId, SSH_RULE);
    assert.equal(end.accounting, undefined, 'conntrack accounting is on');
    const bo = end.bytesOrig as number;
    const br = end.bytesReply as number;
    // Payload plus IP/TCP headers (and a handshake's worth of packets); GRO makes header bytes fewer, never more.
    for (const [what, v] of [['bytesOrig', bo], ['bytesReply', br]] as const) {
      assert.ok(v >= bytes && v <= bytes * 1.08 + 65_536, `${what} ${v} for a ${bytes}-byte payload`);
    }
    assert.ok((end.packetsOrig as number) > 10 && (end.packetsReply as number) > 10, JSON.stringify(end));
    assert.ok((end.durationMs as number) >= 0);
    this.test!.title += ` (bytesOrig ${bo}, bytesReply ${br})`;
  });

  it(`a flood of ${FLOOD_PACKETS} denied UDP packets: bounded log output, every packet accounted for by the kernel's counters`, async function () {
    const { names: n, addresses: a } = lab as TestLab;
    const d = daemon as Daemon;
    const socket = d.controlSocket;
    const k0 = queueIn(await readQueueStatsIn(n.router), Q.filterForward);
    const rx0 = await rxDropped(n.router, 'eth0');
    const s0 = await statusJson(socket);
    const forwardDropsBefore = s0.queues.find((q) => q.queueNumber === Q.filterForward)!.verdicts.drop;
    const started = Date.now();
    const sender = spawnInNamespace(
      n.app,
      [process.execPath, '-e', UDP_FLOOD, JSON.stringify({ host: a.maint.v4, portFrom: FLOOD_PORT_FROM, count: FLOOD_PACKETS, rate: FLOOD_RATE, sockets: 2, timeoutMs: 40_000 })],
      { lifetimeMs: 45_000 },
    );
    await sender.waitForLine((l) => l === 'started', 5000);
    // Stop the daemon for a moment in the middle of the flood: the kernel fills the queue and then
    // drops (and counts) what does not fit.
    await sleep(1500);
    d.signal('SIGSTOP');
    await sleep(FLOOD_PAUSE_MS);
    const stalled = queueIn(await readQueueStatsIn(n.router), Q.filterForward);
    d.signal('SIGCONT');
    const result = JSON.parse(await sender.waitForLine((l) => l.startsWith('{'), 40_000)) as { sent: number; errors: number; ms: number; error?: string };
    await sender.exited;
    assert.equal(result.error, undefined, JSON.stringify(result));
    assert.equal(result.sent, FLOOD_PACKETS, JSON.stringify(result));
    // Wait until nfqwall has answered everything the kernel handed it.
    const k1 = await waitUntil('the forward queue to drain', 10_000, async () => {
      const q = queueIn(await readQueueStatsIn(n.router), Q.filterForward);
      return q.queueTotal === 0 ? q : undefined;
    });
    const seconds = (Date.now() - started) / 1000;
    const rx1 = await rxDropped(n.router, 'eth0');
    const s1 = await statusJson(socket);
    const fq = s1.queues.find((q) => q.queueNumber === Q.filterForward)!;

    const kernelQueued = k1.idSequence - k0.idSequence;
    const queueDropped = k1.queueDropped - k0.queueDropped;
    const userDropped = k1.userDropped - k0.userDropped;
    const linkDropped = rx1 - rx0;
    assert.equal(stalled.queueTotal, KERNEL_QUEUE_MAXLEN, `while nfqwall was stopped the kernel queue filled up (${JSON.stringify(stalled)})`);
    assert.ok(queueDropped > 0, 'and the kernel dropped what did not fit');
    // Exact: every datagram sent reached the forward queue or was dropped (and counted) by the kernel.
    assert.equal(kernelQueued + queueDropped + linkDropped, result.sent, JSON.stringify({ kernelQueued, queueDropped, userDropped, linkDropped, k0, k1 }));
    // Exact: nfqwall judged (and denied) every packet the kernel delivered to it.
    const judged = fq.verdicts.drop - forwardDropsBefore;
    assert.equal(judged, kernelQueued - userDropped);
    assert.equal(judged, result.sent - queueDropped - userDropped - linkDropped);
    assert.equal(fq.verdicts.accept + fq.verdicts.repeat, s0.queues.find((q) => q.queueNumber === Q.filterForward)!.verdicts.accept + s0.queues.find((q) => q.queueNumber === Q.filterForward)!.verdicts.repeat, 'no flood packet was let through');

    // Bounded: 10 records/s per policy after a burst of 20 (all the flood's denies are one policy's: the tier default).
    const records = d.logs().filter((e) => e.event === 'packet.denied' && e.proto === 'udp' && (e.dport as number) >= FLOOD_PORT_FROM);
    assert.ok(records.length >= 20 && records.length <= 20 + Math.ceil(seconds * 10) + 1, `${records.length} denied-packet records in ${seconds.toFixed(1)} s`);
    assert.ok(records.every((e) => e.ruleId === END_OF_TIER && e.hep === 'router.eth1' && e.stage === 'filter-forward'));
    flood = { sent: result.sent, judged, kernelDropped: queueDropped + userDropped + linkDropped, seconds, forwardDropsBefore };
    this.test!.title += ` (${judged} judged, ${queueDropped} dropped by the kernel while nfqwall was stopped, ${records.length} records in ${seconds.toFixed(1)} s)`;
  });

  it('nfqwall status (text and --json) and /metrics report the kernel queue counters as /proc/net/netfilter/nfnetlink_queue shows them', async () => {
    const lab_ = lab as TestLab;
    const socket = (daemon as Daemon).controlSocket;
    const ours = Object.values(Q);
    const proc = async () => (await readQueueStatsIn(lab_.names.router)).filter((q) => ours.includes(q.queueNumber));
    // Each daemon view is bracketed by two reads of /proc: a counter must lie between them (the
    // router's own IPv6 chatter can move the input/output queues meanwhile), and the forward
    // queue, which nothing else uses now, must match exactly.
    const check = (what: string, before: KernelQueueStats[], after: KernelQueueStats[], got: (n: number) => { waiting: number; queueDropped: number; userDropped: number; id?: number } | undefined) => {
      for (const n of ours) {
        const b = queueIn(before, n);
        const e = queueIn(after, n);
        const g = got(n);
        assert.ok(g, `${what} reports queue ${n}`);
        const within = (x: number, lo: number, hi: number) => x >= Math.min(lo, hi) && x <= Math.max(lo, hi);
        assert.ok(within(g.queueDropped, b.queueDropped, e.queueDropped) && within(g.userDropped, b.userDropped, e.userDropped), `${what} queue ${n}: ${JSON.stringify(g)} vs ${JSON.stringify(b)}`);
        if (g.id !== undefined) assert.ok(within(g.id, b.idSequence, e.idSequence), `${what} queue ${n} id ${g.id} vs ${b.idSequence}..${e.idSequence}`);
        if (n === Q.filterForward) {
          const want = { waiting: b.queueTotal, queueDropped: b.queueDropped, userDropped: b.userDropped };
          assert.deepEqual(g, g.id === undefined ? want : { ...want, id: b.idSequence }, `${what}: forward queue`);
        }
      }
    };
    const fwdDropped = queueIn(await proc(), Q.filterForward).queueDropped;
    assert.ok(fwdDropped > 0, 'the flood left kernel drops to report');

    let before = await proc();
    const status = await statusJson(socket);
    let after = await proc();
    assert.equal(status.mode, 'flow');
    assert.equal(status.backend, EXPECTED_BACKEND);
    check('status --json', before, after, (n) => {
      const k = status.kernelQueues.find((q) => q.queueNumber === n);
      return k && { waiting: k.queueTotal, queueDropped: k.queueDropped, userDropped: k.userDropped, id: k.idSequence };
    });
    assert.equal(status.kernelQueues.find((q) => q.queueNumber === Q.filterForward)?.hook, 'filter-forward');

    before = await proc();
    const text = await cli('status', '--socket', socket);
    after = await proc();
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^nfqwall: policy generation \d+, backend \w+, mode flow, fail mode open$/m);
    assert.match(text.stdout, /^queues \(K- columns: kernel counters from \/proc\/net\/netfilter\/nfnetlink_queue\):$/m);
    const lines = text.stdout.split('\n');
    const head = lines.findIndex((l) => /^\s+QUEUE\s+HOOK\s+PACKETS\s+ACCEPT\s+DROP\s+REPEAT\s+PENDING\s+K-WAITING\s+K-QUEUE-DROPPED\s+K-USER-DROPPED$/.test(l));
    assert.ok(head >= 0, text.stdout);
    const rows = new Map<number, string[]>();
    for (const l of lines.slice(head + 1)) {
      const f = l.trim().split(/\s+/);
      if (f.length !== 10 || !/^\d+$/.test(f[0]!)) break;
      rows.set(Number(f[0]), f);
    }
    assert.deepEqual([...rows.keys()].sort(), [...ours].sort(), text.stdout);
    check('status', before, after, (n) => {
      const f = rows.get(n)!;
      return { waiting: Number(f[7]), queueDropped: Number(f[8]), userDropped: Number(f[9]) };
    });
    assert.equal(rows.get(Q.filterForward)?.[1], 'filter-forward');
    assert.equal(Number(rows.get(Q.filterForward)?.[8]), fwdDropped);

    before = await proc();
    const metrics = await scrape(lab_);
    after = await proc();
    const waiting = metricByQueue(metrics, 'nfqwall_queue_kernel_waiting');
    const qd = metricByQueue(metrics, 'nfqwall_queue_kernel_dropped_total');
    const ud = metricByQueue(metrics, 'nfqwall_queue_kernel_user_dropped_total');
    check('/metrics', before, after, (n) => (waiting.has(n) && qd.has(n) && ud.has(n) ? { waiting: waiting.get(n)!, queueDropped: qd.get(n)!, userDropped: ud.get(n)! } : undefined));
    assert.equal(qd.get(Q.filterForward), fwdDropped);
    // nfqwall's own side of the same queue: what it received and answered.
    const fq = status.queues.find((q) => q.queueNumber === Q.filterForward)!;
    assert.equal(metricValue(metrics, `nfqwall_queue_packets_total{queue="${Q.filterForward}",hook="filter-forward"}`), fq.packets);
    assert.equal(metricValue(metrics, `nfqwall_queue_verdicts_total{queue="${Q.filterForward}",hook="filter-forward",verdict="drop"}`), fq.verdicts.drop);
  });

  it('nfqwall reload prints success; a broken policy file fails it with every error (file, line, code), exit 1, nothing changed', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    const socket = (daemon as Daemon).controlSocket;
    const policyDir = dir as string;
    const ok = await cli('reload', '--socket', socket);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^reload ok: policy generation 2 in force \(2 HostEndpoints, 1 tiers, 2 policies, 9 rules\), took \d+ ms$/m);

    for (const f of BROKEN_FILES) copyFileSync(join(BROKEN, f), join(policyDir, f));
    try {
      const bad = await cli('reload', '--socket', socket);
      assert.equal(bad.code, 1, `exit code of a failed reload: ${bad.stdout} ${bad.stderr}`);
      const err = bad.stderr;
      assert.match(err, /^reload FAILED: 3 errors; the previous policy \(generation 2\) stays in force$/m);
      const expected: Array<[string, number, string]> = [
        ['bad-action.yaml', 13, 'NFQ_CFG_RULE_ACTION'],
        ['bad-port-and-selector.yaml', 8, 'NFQ_CFG_SELECTOR'],
        ['bad-port-and-selector.yaml', 17, 'NFQ_CFG_PORT'],
      ];
      for (const [file, line, code] of expected) {
        const re = new RegExp(`^${join(policyDir, file).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${line}:\\d+: \\S+: error: .* \\[${code}\\]$`, 'm');
        assert.match(err, re, `the error ${code} at ${file}:${line} is printed`);
      }
      const json = await cli('reload', '--json', '--socket', socket);
      assert.equal(json.code, 1);
      const report = JSON.parse(json.stdout) as { ok: boolean; generation: number; issues: Array<{ code: string; severity: string; location: { file: string; line: number } }> };
      assert.equal(report.ok, false);
      assert.equal(report.generation, 2);
      assert.deepEqual(
        report.issues.filter((i) => i.severity === 'error').map((i) => [i.location.file, i.location.line, i.code]).sort(),
        expected.map(([f, l, c]) => [join(policyDir, f), l, c]).sort(),
      );
      // The policy in force did not change: SSH passes, HTTP does not.
      assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 22), { connected: true, echoed: true });
      assert.equal((await tcpProbe(n.app, a.maint.v4, 80, { timeoutMs: 1000 })).connected, false);
      const st = await cli('status', '--socket', socket);
      assert.match(st.stdout, /^last reload: FAILED \(the previous policy stays in force\) .* generation 2; 3 errors, 0 warnings$/m);
    } finally {
      for (const f of BROKEN_FILES) rmSync(join(policyDir, f), { force: true });
    }
    const again = await cli('reload', '--socket', socket);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^reload ok: policy generation 3 in force/m);
  });

  it('the flood\'s denied packets add up: records written + records suppressed (log.suppressed, and the metric) = packets denied', async () => {
    assert.ok(flood, 'the flood ran');
    const lab_ = lab as TestLab;
    const d = daemon as Daemon;
    // Past the flood the bucket refills (10/s): a later deny is written, not suppressed, so the
    // metric read now is final.
    await sleep(2500);
    const metrics = await scrape(lab_);
    const suppressedMetric = metricValue(metrics, 'nfqwall_log_records_suppressed_total{kind="deny"}');
    const exit = await d.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    const logs = d.logs();
    const stopped = logs.find((e) => e.msg === 'nfqwall stopped') as (LogEntry & { processed: { dropped: number; parseErrors: number } }) | undefined;
    assert.ok(stopped, 'the daemon logged its final counters');
    const denied = logs.filter((e) => e.event === 'packet.denied');
    const reports = logs.filter((e) => e.event === 'log.suppressed' && e.kind === 'deny');
    assert.ok(reports.every((e) => e.level === 40), 'suppression reports are warnings');
    const suppressed = reports.reduce((s, e) => s + (e.suppressed as number), 0);
    const byPolicy = new Map<string, number>();
    for (const r of reports) for (const [k, v] of Object.entries(r.byPolicy as Record<string, number>)) byPolicy.set(k, (byPolicy.get(k) ?? 0) + v);
    assert.equal(suppressed, [...byPolicy.values()].reduce((s, v) => s + v, 0));
    assert.equal(stopped.processed.parseErrors, 0);
    // Every deny nfqwall gave (the flood's and the router's few others) is a record or counted as suppressed.
    assert.equal(denied.length + suppressed, stopped.processed.dropped, JSON.stringify({ denied: denied.length, suppressed, processed: stopped.processed, byPolicy: [...byPolicy] }));
    // The flood is nearly all of it, and it was nearly all suppressed.
    const f = flood!;
    const others = stopped.processed.dropped - f.judged - f.forwardDropsBefore;
    assert.ok(others >= 0 && others < 100, `denies besides the flood: ${others}`);
    assert.ok((byPolicy.get('default/<end of tier>') ?? 0) >= f.judged - 20 - Math.ceil(f.seconds * 10) - 1, JSON.stringify([...byPolicy]));
    // Reports are periodic (every 10 s at most) plus the last one at stop.
    assert.ok(reports.length >= 1 && reports.length <= Math.ceil(f.seconds / 10) + 8, `${reports.length} suppression reports`);
    assert.equal(suppressedMetric, suppressed, 'nfqwall_log_records_suppressed_total{kind="deny"}');
  });
});
