/**
 * Prometheus metrics (prom-client exposition format).
 *
 * Per-packet work is a few plain number increments on slots created ahead of time (one per hook
 * and action, one per rule reference, found through a WeakMap on the engine's stable RuleRef
 * objects): prom-client's own `inc()` hashes its label object on every call, which is too dear for
 * the verdict path. The slots are copied into prom-client metrics when Prometheus scrapes, and
 * everything the daemon already counts (flow table, queues, reloads, suppressed log records) is
 * read at scrape time through `MetricsSources`.
 *
 * The HTTP server listens only where configured (`metricsListen`, e.g. 127.0.0.1:9743).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { FlowTableStats } from '../conntrack';
import { DATASTORE_METRICS } from '../datastore/health';
import type { DatastoreHealth } from '../datastore/types';
import type { CompiledPolicy } from '../engine/compiled-policy';
import type { HookName, RuleRef } from '../engine/decision';
import type { PacketOutcome } from '../pipeline/packet-processor';
import type { PacketSourceStats } from '../queue/packet-source';
import { readQueueStats, type KernelQueueStats } from '../queue/queue-stats';
import { NF_ACCEPT, NF_DROP } from '../queue/verdict-codes';

/** Everything read at scrape time; each source is optional. */
export interface MetricsSources {
  generation?(): number;
  reloads?(): { ok: number; failed: number };
  flowTable?(): { size: number; capacity: number; stats: FlowTableStats };
  /** Userspace view of each queue (PacketSource.stats() plus the hook it serves). */
  queues?(): Array<PacketSourceStats & { hook: string }>;
  /** Kernel counters; default: /proc/net/netfilter/nfnetlink_queue, restricted to the queues above. */
  kernelQueues?(): Promise<KernelQueueStats[]> | KernelQueueStats[];
  processor?(): { packets: number; parseErrors: number; rejudged: number };
  /** Log records suppressed by rate limits, by kind (deny, log-action, error, ...). */
  logSuppressed?(): Record<string, number>;
  /** Conntrack destroy events: received and lost (ENOBUFS) counts. */
  conntrackEvents?(): { received: number; lost: number };
  trace?(): { subscribers: number; built: number; dropped: number };
  /** Datastore health (null before the start). */
  datastore?(): DatastoreHealth | null;
}

const HOOKS: readonly HookName[] = ['raw-prerouting', 'mangle-prerouting', 'filter-input', 'filter-forward', 'raw-output', 'filter-output', 'mangle-postrouting'];
const HOOK_INDEX: Readonly<Record<HookName, number>> = {
  'raw-prerouting': 0,
  'mangle-prerouting': 1,
  'filter-input': 2,
  'filter-forward': 3,
  'raw-output': 4,
  'filter-output': 5,
  'mangle-postrouting': 6,
};
const ACTIONS = ['allow', 'deny', 'continue'] as const;
const SOURCES = ['engine', 'flow-table'] as const;

/** Default latency buckets in seconds: 1 µs .. 10 ms (a verdict takes a few µs). */
export const DEFAULT_LATENCY_BUCKETS = [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2];

type RuleLabels = 'kind' | 'tier' | 'policy' | 'direction' | 'index' | 'action';

interface Slot<L extends string> {
  labels: Record<L, string>;
  value: number;
}

/**
 * A histogram kept as plain bucket counts and exposed through the registry's metric interface
 * (name, help, type, get, reset), so an observation is one comparison loop and two additions.
 */
class FixedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(v: number): void {
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += v;
    this.count++;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> }> {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i]!;
      values.push({ labels: { le: this.bounds[i]! }, value: acc, metricName: `${this.name}_bucket` });
    }
    values.push({ labels: { le: '+Inf' }, value: this.count, metricName: `${this.name}_bucket` });
    values.push({ labels: {}, value: this.sum, metricName: `${this.name}_sum` });
    values.push({ labels: {}, value: this.count, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

function ruleLabels(ref: RuleRef): Record<RuleLabels, string> {
  switch (ref.kind) {
    case 'policy':
      return { kind: 'policy', tier: ref.tier, policy: ref.policy, direction: ref.direction, index: String(ref.index), action: ref.action };
    case 'profile':
      return { kind: 'profile', tier: '', policy: ref.profile, direction: ref.direction, index: String(ref.index), action: ref.action };
    case 'builtin':
      // Built-in details (failsafe entry, profile name, ...) would make unbounded label values; only end-of-tier keeps its tier.
      return { kind: 'builtin', tier: ref.name === 'end-of-tier' ? (ref.detail ?? '') : '', policy: ref.name, direction: '', index: '', action: '' };
  }
}

function slotKey(l: Record<RuleLabels, string>): string {
  return `${l.kind}\u0000${l.tier}\u0000${l.policy}\u0000${l.direction}\u0000${l.index}\u0000${l.action}`;
}

export interface MetricsOptions {
  sources?: MetricsSources;
  latencyBuckets?: readonly number[];
  /** Prefix of every metric name (default "nfqwall_"). */
  prefix?: string;
}

export class Metrics {
  readonly registry = new Registry();
  private sources: MetricsSources;
  /** [hook][action][source] verdict counts. */
  private readonly verdictSlots: Array<Slot<'hook' | 'action' | 'source'>> = [];
  private readonly ruleSlots = new Map<string, Slot<RuleLabels>>();
  private readonly byRef = new WeakMap<RuleRef, Slot<RuleLabels>>();
  private readonly builtinByName = new Map<string, Slot<RuleLabels>>();
  private readonly latency: FixedHistogram;
  readonly counters = { timedDecisions: 0 };

  constructor(opts: MetricsOptions = {}) {
    this.sources = opts.sources ?? {};
    const p = opts.prefix ?? 'nfqwall_';
    const r = this.registry;
    for (const hook of HOOKS) for (const action of ACTIONS) for (const source of SOURCES) this.verdictSlots.push({ labels: { hook, action, source }, value: 0 });
    const slotsCounter = <L extends string>(name: string, help: string, labelNames: L[], slots: () => Iterable<Slot<L>>) =>
      new Counter<L>({
        name,
        help,
        labelNames,
        registers: [r],
        collect(this: Counter<L>) {
          this.reset();
          for (const s of slots()) this.inc(s.labels as never, s.value);
        },
      });
    slotsCounter(`${p}verdicts_total`, 'Packets judged, by hook, action (allow, deny, continue) and whether the engine or the flow table answered', ['hook', 'action', 'source'], () => this.verdictSlots);
    slotsCounter(`${p}rule_hits_total`, 'Decisions by deciding rule: policy and profile rules (tier, policy, direction, index, action) and built-in rules (kind builtin, policy = built-in name)', ['kind', 'tier', 'policy', 'direction', 'index', 'action'], () => this.ruleSlots.values());
    this.latency = new FixedHistogram(`${p}decision_duration_seconds`, 'Time to judge one packet (parse, flow table, engine), when the daemon times decisions', opts.latencyBuckets ?? DEFAULT_LATENCY_BUCKETS);
    r.registerMetric(this.latency as unknown as Metric);

    const self = this;
    const gauge = <L extends string>(name: string, help: string, labelNames: L[], fill: (g: Gauge<L>) => void | Promise<void>) =>
      new Gauge<L>({
        name,
        help,
        labelNames,
        registers: [r],
        collect(this: Gauge<L>) {
          this.reset();
          return fill(this);
        },
      });
    const counter = <L extends string>(name: string, help: string, labelNames: L[], fill: (c: Counter<L>) => void | Promise<void>) =>
      new Counter<L>({
        name,
        help,
        labelNames,
        registers: [r],
        collect(this: Counter<L>) {
          this.reset();
          return fill(this);
        },
      });

    gauge(`${p}policy_generation`, 'Policy generation in force', [], (g) => {
      const s = self.sources.generation;
      if (s) g.set(s());
    });
    counter(`${p}reloads_total`, 'Policy reloads by result (ok, failed)', ['result'], (c) => {
      const s = self.sources.reloads?.();
      if (!s) return;
      c.inc({ result: 'ok' }, s.ok);
      c.inc({ result: 'failed' }, s.failed);
    });
    gauge(`${p}flows`, 'Flows in the flow table', [], (g) => {
      const s = self.sources.flowTable?.();
      if (s) g.set(s.size);
    });
    gauge(`${p}flow_table_capacity`, 'Flow-table capacity', [], (g) => {
      const s = self.sources.flowTable?.();
      if (s) g.set(s.capacity);
    });
    counter(`${p}flow_events_total`, 'Flow-table events: created, evicted (table full), expired (idle timeout), closed (connection ended), deleted', ['event'], (c) => {
      const s = self.sources.flowTable?.();
      if (!s) return;
      for (const e of ['created', 'evicted', 'expired', 'closed', 'deleted'] as const) c.inc({ event: e }, s.stats[e]);
    });
    counter(`${p}flow_evictions_total`, 'Flows evicted because the flow table was full', [], (c) => {
      const s = self.sources.flowTable?.();
      if (s) c.inc(s.stats.evicted);
    });
    counter(`${p}queue_packets_total`, 'Packets delivered to nfqwall by each queue', ['queue', 'hook'], (c) => {
      for (const q of self.sources.queues?.() ?? []) c.inc({ queue: String(q.queueNumber), hook: q.hook }, q.packets);
    });
    counter(`${p}queue_verdicts_total`, 'Verdicts sent on each queue', ['queue', 'hook', 'verdict'], (c) => {
      for (const q of self.sources.queues?.() ?? []) {
        for (const v of ['accept', 'drop', 'repeat'] as const) c.inc({ queue: String(q.queueNumber), hook: q.hook, verdict: v }, q.verdicts[v]);
      }
    });
    gauge(`${p}queue_pending`, 'Packets delivered to nfqwall without a verdict yet', ['queue', 'hook'], (g) => {
      for (const q of self.sources.queues?.() ?? []) g.set({ queue: String(q.queueNumber), hook: q.hook }, q.pending);
    });
    counter(`${p}queue_handler_errors_total`, 'Packets whose handling threw (answered with the fail-mode verdict)', ['queue', 'hook'], (c) => {
      for (const q of self.sources.queues?.() ?? []) c.inc({ queue: String(q.queueNumber), hook: q.hook }, q.errors.handler);
    });
    // One read of /proc per scrape, shared by the three kernel series.
    let kernel: Promise<KernelQueueStats[]> | null = null;
    const kernelStats = (): Promise<KernelQueueStats[]> => {
      if (kernel === null) {
        kernel = self.readKernel();
        setImmediate(() => {
          kernel = null;
        });
      }
      return kernel;
    };
    gauge(`${p}queue_kernel_waiting`, 'Packets the kernel holds for a verdict (nfnetlink_queue queue_total)', ['queue'], async (g) => {
      for (const k of await kernelStats()) g.set({ queue: String(k.queueNumber) }, k.queueTotal);
    });
    counter(`${p}queue_kernel_dropped_total`, 'Packets the kernel dropped because the queue was full (nfnetlink_queue queue_dropped)', ['queue'], async (c) => {
      for (const k of await kernelStats()) c.inc({ queue: String(k.queueNumber) }, k.queueDropped);
    });
    counter(`${p}queue_kernel_user_dropped_total`, "Packets the kernel dropped because nfqwall's netlink socket buffer was full (nfnetlink_queue user_dropped)", ['queue'], async (c) => {
      for (const k of await kernelStats()) c.inc({ queue: String(k.queueNumber) }, k.userDropped);
    });
    counter(`${p}packets_total`, 'Packets processed', [], (c) => {
      const s = self.sources.processor?.();
      if (s) c.inc(s.packets);
    });
    counter(`${p}parse_errors_total`, 'Packets that did not parse (given the parse-error verdict)', [], (c) => {
      const s = self.sources.processor?.();
      if (s) c.inc(s.parseErrors);
    });
    counter(`${p}rejudged_total`, 'Packets of flows decided under an older policy, judged again', [], (c) => {
      const s = self.sources.processor?.();
      if (s) c.inc(s.rejudged);
    });
    counter(`${p}log_records_suppressed_total`, 'Log records not written because of rate limits, by kind', ['kind'], (c) => {
      const s = self.sources.logSuppressed?.();
      if (!s) return;
      for (const [kind, n] of Object.entries(s)) c.inc({ kind }, n);
    });
    counter(`${p}conntrack_events_total`, 'Kernel conntrack destroy events received, and lost (netlink buffer overrun)', ['result'], (c) => {
      const s = self.sources.conntrackEvents?.();
      if (!s) return;
      c.inc({ result: 'received' }, s.received);
      c.inc({ result: 'lost' }, s.lost);
    });
    gauge(`${p}trace_subscribers`, 'Clients running nfqwall trace', [], (g) => {
      const s = self.sources.trace?.();
      if (s) g.set(s.subscribers);
    });
    for (const m of DATASTORE_METRICS) {
      const name = m.name.replace(/^nfqwall_/, p);
      const fill = (set: (v: number) => void) => {
        const h = self.sources.datastore?.();
        if (h) set(m.value(h, Date.now()));
      };
      if (m.type === 'counter') counter(name, m.help, [], (c) => fill((v) => c.inc(v)));
      else gauge(name, m.help, [], (g) => fill((v) => g.set(v)));
    }
  }

  /** Replace the scrape-time sources. */
  setSources(sources: MetricsSources): void {
    this.sources = sources;
  }

  private async readKernel(): Promise<KernelQueueStats[]> {
    const all = this.sources.kernelQueues ? await this.sources.kernelQueues() : await readQueueStats();
    const ours = this.sources.queues?.();
    if (!ours || this.sources.kernelQueues) return all;
    const numbers = new Set(ours.map((q) => q.queueNumber));
    return all.filter((k) => numbers.has(k.queueNumber));
  }

  /**
   * Create the rule series of a (new) policy ahead of time, so every rule shows up with 0 hits and
   * the first packet of each rule finds its slot ready. Call after start and after each reload.
   */
  notePolicy(policy: CompiledPolicy): void {
    const dirs = ['ingress', 'egress'] as const;
    for (const p of policy.resources.policies) {
      for (const dir of dirs) {
        const rules = dir === 'ingress' ? p.ingress : p.egress;
        rules.forEach((rule, index) => this.slotFor({ kind: 'policy', tier: p.tier, policy: p.name, direction: dir, index, action: rule.action }));
      }
    }
    for (const p of policy.resources.profiles) {
      for (const dir of dirs) {
        const rules = dir === 'ingress' ? p.ingress : p.egress;
        rules.forEach((rule, index) => this.slotFor({ kind: 'profile', profile: p.name, direction: dir, index, action: rule.action }));
      }
    }
  }

  private slotFor(ref: RuleRef): Slot<RuleLabels> {
    const labels = ruleLabels(ref);
    const key = slotKey(labels);
    let slot = this.ruleSlots.get(key);
    if (!slot) {
      slot = { labels, value: 0 };
      this.ruleSlots.set(key, slot);
    }
    return slot;
  }

  /** The slot of a rule reference: WeakMap hit for the engine's stable refs, by name for built-ins. */
  private ruleSlot(ref: RuleRef): Slot<RuleLabels> {
    let slot = this.byRef.get(ref);
    if (slot) return slot;
    if (ref.kind === 'builtin' && ref.name !== 'end-of-tier') {
      // Built-ins like failsafe carry a per-packet detail object; their series is keyed by name only.
      slot = this.builtinByName.get(ref.name);
      if (!slot) {
        slot = this.slotFor(ref);
        this.builtinByName.set(ref.name, slot);
      }
      return slot;
    }
    slot = this.slotFor(ref);
    this.byRef.set(ref, slot);
    return slot;
  }

  /**
   * Count one processed packet. `elapsedNs` is the time the daemon measured around `process`
   * (process.hrtime), or a negative number when it did not time it.
   */
  packet(o: PacketOutcome, elapsedNs: number): void {
    const d = o.decision;
    const h = HOOK_INDEX[o.hook] * 6;
    if (d !== null) {
      const a = d.action === 'accept' ? 0 : d.action === 'drop' ? 1 : 2;
      this.verdictSlots[h + a * 2]!.value++;
      this.ruleSlot(d.decidedBy.rule).value++;
    } else if (o.cached) {
      this.verdictSlots[h + (o.verdict === NF_DROP ? 1 : o.verdict === NF_ACCEPT ? 0 : 2) * 2 + 1]!.value++;
    }
    if (elapsedNs >= 0) {
      this.counters.timedDecisions++;
      this.latency.observe(elapsedNs / 1e9);
    }
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  async expose(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Parse a listen setting: "127.0.0.1:9743", "[::1]:9743", "9743" or ":9743" (both 127.0.0.1).
 * Port 0 picks a free port. Null when malformed. Without a host, nfqwall listens on loopback only,
 * never on all addresses.
 */
export function parseListenAddress(text: string): ListenAddress | null {
  const t = text.trim();
  let host = '127.0.0.1';
  let portText: string;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(t);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
  } else if (/^\d+$/.test(t)) portText = t;
  else {
    const i = t.lastIndexOf(':');
    if (i < 0) return null;
    if (i > 0) host = t.slice(0, i);
    portText = t.slice(i + 1);
    if (host.includes(':')) return null;
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) return null;
  return { host, port };
}

export interface MetricsServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/** Serve GET /metrics on `listen`. Resolves once listening; rejects if the address cannot be bound. */
export function startMetricsServer(metrics: Metrics, listen: string): Promise<MetricsServer> {
  const addr = parseListenAddress(listen);
  if (!addr) return Promise.reject(new Error(`metricsListen "${listen}" is not HOST:PORT (e.g. 127.0.0.1:9743)`));
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('nfqwall: metrics are at /metrics\n');
      return;
    }
    metrics.expose().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`nfqwall: could not collect metrics: ${String(err)}\n`);
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve({
        address: server.address() as AddressInfo,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
