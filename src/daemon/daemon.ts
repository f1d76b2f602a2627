/**
 * The running firewall: datastore (policy directory or etcd) + live host → compiled policy →
 * steering rules → queues → per-packet verdicts → logs, traces, metrics. Wires the pure parts
 * together and owns every side effect (queues, rules, signals, sockets, logs). Reloads build
 * everything off to the side and swap in one assignment; a broken configuration changes nothing.
 */
import { hostname } from 'node:os';
import type { ResourceSet } from '../config/resources';
import { formatIssue, NfqwallError, type Issue } from '../errors';
import { installSteering, probeBackend, removeSteering, planFromPolicyInfo, type SteeringPlan } from '../dataplane';
import type { HookName as PlanHook } from '../dataplane/plan';
import { HOOK_NAMES } from '../dataplane/plan';
import { markLayout, type MarkLayout } from '../dataplane/marks';
import { installedGeneration, type Backend } from '../dataplane/apply';
import { compilePolicy, type CompiledPolicy } from '../engine/compiled-policy';
import type { HookName } from '../engine/decision';
import type { HostModel } from '../engine/host-model';
import { PacketProcessor, type FlowDecision, type PacketOutcome } from '../pipeline/packet-processor';
import { FlowTable } from '../conntrack';
import { PolicySlot } from '../pipeline/policy-slot';
import { createNfqueueSource } from '../queue/source-nfqueue';
import type { PacketSource } from '../queue/packet-source';
import { NF_ACCEPT, NF_DROP } from '../queue/verdict-codes';
import { createLogger, type Logger } from '../observe/logger';
import { TokenBucket } from '../observe/rate-limit';
import { readQueueStats } from '../queue/queue-stats';
import { sysfsInterfaceNames, type InterfaceNames } from '../queue/interface-names';
import { ControlServer } from '../control/server';
import { datastoreFromSettings, type Datastore, type DatastoreHealth, type DatastoreWatch, type Snapshot } from '../datastore';
import { ConntrackEventSource, ensureConntrackAccounting } from '../observe/conntrack-events';
import { DecisionLog } from '../observe/decision-log';
import { FlowLog } from '../observe/flow-log';
import { listFlows, listKernelFlows, mergeFlowListings } from '../observe/flows-view';
import { Metrics, startMetricsServer, type MetricsServer } from '../observe/metrics';
import { withKernelQueues } from '../observe/status';
import { TraceHub } from '../observe/trace-hub';
import { readLiveHost, watchInterfaces, type LiveInterfaces } from './live-host';
import type { DaemonSettings } from './settings';
import { watcherCommand } from './watcher-command';

export const ENGINE_HOOK: Record<PlanHook, HookName> = {
  rawPrerouting: 'raw-prerouting',
  manglePrerouting: 'mangle-prerouting',
  filterInput: 'filter-input',
  filterForward: 'filter-forward',
  rawOutput: 'raw-output',
  filterOutput: 'filter-output',
  manglePostrouting: 'mangle-postrouting',
};

export interface ReloadOutcome {
  ok: boolean;
  generation: number;
  at: string;
  issues: Issue[];
  durationMs: number;
  counts?: { tiers: number; policies: number; rules: number; heps: number };
  /** Why a reload failed when it was not the configuration (compile or steering failure). */
  error?: string;
  /** etcd revision of the snapshot (null for a directory). */
  revision?: number | null;
}

export class Daemon {
  readonly log: Logger;
  private resources!: ResourceSet;
  private live!: LiveInterfaces;
  private slot!: PolicySlot;
  private processor!: PacketProcessor;
  private backend!: Backend;
  private plan: SteeringPlan | null = null;
  private readonly sources = new Map<number, { hook: HookName; source: PacketSource }>();
  private stopWatch: (() => void) | null = null;
  /** Where the policy comes from; opened in start() (a malformed datastore setting fails the start). */
  private datastore: Datastore | null = null;
  /** The datastore's change feed (etcd snapshots; a directory is read again on each reload). */
  private dsWatch: DatastoreWatch | null = null;
  private datastoreState: string | null = null;
  private layout!: MarkLayout;
  private trace!: TraceHub;
  private decisions!: DecisionLog;
  private flowLog: FlowLog | null = null;
  private ctEvents: ConntrackEventSource | null = null;
  private metrics: Metrics | null = null;
  private metricsServer: MetricsServer | null = null;
  private control: ControlServer | null = null;
  private flows!: FlowTable<FlowDecision>;
  private sweeper: NodeJS.Timeout | null = null;
  private evictions = 0;
  private evictionsLogged = 0;
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;
  private stopping = false;
  /** Reloads and interface refreshes run one at a time (each reads and rewrites the ruleset). */
  private serial: Promise<void> = Promise.resolve();
  /** Set once this process has written steering rules: only then may stop() remove them. */
  private steeringTouched = false;
  /** Fallback for an ifindex the live model does not know yet (created since the last refresh). */
  private readonly sysfsNames: InterfaceNames = sysfsInterfaceNames();
  /** Interface changes are acted on once start() is done; one seen earlier triggers a refresh then. */
  private ready = false;
  private changedWhileStarting = false;
  /**
   * Link and address events seen, and how many of them the host model in force reflects. While
   * they differ, interface names come from sysfs (re-read at each event) before the model's: a
   * renamed interface keeps its index, and its old name must not decide its packets.
   */
  private linkEvents = 0;
  private linkEventsApplied = 0;
  lastReload: ReloadOutcome | null = null;
  readonly counters = { reloadsOk: 0, reloadsFailed: 0, handlerErrors: 0, hostRefreshes: 0 };
  private readonly errorLog: TokenBucket;

  constructor(readonly settings: DaemonSettings) {
    this.log = createLogger({ level: settings.log.level, format: settings.log.format });
    this.errorLog = new TokenBucket(1, 5, Date.now());
  }

  static defaultNode(): string {
    return hostname().split('.')[0] ?? 'localhost';
  }

  /** Start: everything or nothing. Throws NfqwallError (with every config issue logged). */
  async start(): Promise<void> {
    const s = this.settings;
    // A policy file that others can write is refused like an invalid one (they could change the firewall).
    this.datastore = datastoreFromSettings(s, { requireSafePermissions: true });
    const loaded = await this.loadPolicy();
    if (!loaded.ok) throw new NfqwallError('NFQ_DAEMON_CONFIG_INVALID', `policy in ${this.datastore.description} is invalid (${loaded.issues.filter((i) => i.severity === 'error').length} errors, logged above)`);
    this.resources = loaded.resources;
    // The monitor starts before the host is read (no change slips through) and before the queues
    // are opened (so it does not inherit their sockets).
    this.stopWatch = watchInterfaces(
      () => {
        if (this.ready) void this.refreshHost();
        else this.changedWhileStarting = true;
      },
      100,
      () => {
        this.linkEvents++;
        this.sysfsNames.refresh();
      },
    );
    this.live = await readLiveHost(this.hostBase());
    const compiled = this.compile(this.resources, this.live.host);
    const layout = markLayout(s.markMask);
    this.layout = layout;
    // Rules left by a previous run (killed, or stopped in fail-closed mode) carry the generation its
    // flows were decided under, in their ct marks too: start after it, so that those flows are
    // judged again by this run instead of passing as its own decisions.
    const previous = await installedGeneration(s.table, layout);
    this.slot = new PolicySlot(compiled, previous === null ? 1 : previous + 1);
    this.trace = new TraceHub({ acceptMarkBit: layout.accept });
    this.decisions = new DecisionLog({ logger: this.log, denies: s.log.denies, felix: this.resources.felix, acceptMarkBit: layout.accept });
    if (s.log.flows) this.flowLog = new FlowLog({ logger: this.log, kernelEnds: s.mode === 'flow' });
    this.flows = new FlowTable<FlowDecision>({
      capacity: s.flowTableSize,
      onEvict: (e) => {
        this.evictions++;
        this.flowLog?.flowEnded(e, 'evicted');
      },
      onExpire: (e) => this.flowLog?.flowEnded(e, 'idle-timeout'),
      onClose: (e) => this.flowLog?.flowEnded(e, 'closed'),
    });
    this.processor = new PacketProcessor(
      this.slot,
      {
        layout,
        mode: s.mode,
        parseErrorVerdict: 'drop',
        rejudgeExisting: s.existingFlowsOnReload === 'rejudge',
        interfaceName: (i) => (this.linkEvents === this.linkEventsApplied ? this.live.names.get(i) ?? this.sysfsNames.name(i) : this.sysfsNames.name(i) ?? this.live.names.get(i)) ?? null,
      },
      this.flows,
    );
    // Expire idle flows a little at a time; no timer per flow.
    this.sweeper = setInterval(() => {
      this.flows.sweep(Date.now(), 5000);
      this.decisions.flushSuppressed(Date.now());
      if (this.evictions > this.evictionsLogged) {
        this.log.warn({ evicted: this.evictions - this.evictionsLogged, capacity: s.flowTableSize }, 'flow table full: least recently used flows evicted (they are judged again on their next packet)');
        this.evictionsLogged = this.evictions;
      }
    }, 1000);
    this.sweeper.unref();
    const probe = await probeBackend({ ...(s.backend === 'auto' ? {} : { override: s.backend }), table: s.table });
    this.backend = probe.backend;
    this.log.info({ backend: probe.backend, detail: probe.detail }, 'steering backend chosen');
    this.openQueues();
    // Queues first, rules second: a rule must never point at a queue nobody reads yet.
    await this.exclusive(() => this.applySteering(compiled, this.slot.generation));
    await this.startObservers(compiled);
    this.ready = true;
    if (this.changedWhileStarting) void this.refreshHost();
    // Follow the datastore from the snapshot now in force: each change is a reload (SIGHUP's path).
    this.dsWatch = this.datastore.watch(
      () => void this.requestReload(),
      (h) => this.onDatastoreHealth(h),
      { nodeName: s.node, after: loaded.snapshot },
    );
    this.lastReload = { ok: true, generation: this.slot.generation, at: new Date().toISOString(), issues: loaded.issues, durationMs: 0, counts: this.counts(compiled), revision: loaded.snapshot.revision };
    await this.startControl();
    this.log.info({ generation: this.slot.generation, node: s.node, mode: s.mode, failMode: s.failMode, ...this.counts(compiled) }, 'nfqwall started');
  }

  /** Flow ends from kernel conntrack (flow mode) and the metrics endpoint; conntrack is loaded from the first steering install on. */
  private async startObservers(compiled: CompiledPolicy): Promise<void> {
    const s = this.settings;
    const layout = this.layout;
    if (this.flowLog && s.mode === 'flow') {
      // Later packets of a flow never leave the kernel: its end and byte counts come from conntrack.
      const acct = await ensureConntrackAccounting();
      if (!acct.ok) this.log.warn({ error: acct.error }, 'conntrack accounting is off: flow end records will have no byte counts');
      const [command, ...prefixArgs] = watcherCommand(['conntrack']);
      this.ctEvents = new ConntrackEventSource({
        command,
        prefixArgs,
        // Only flows whose stored verdict is allow (DECIDED set, DROP clear).
        markFilter: { value: layout.decided, mask: (layout.decided | layout.drop) >>> 0 },
        onEvent: (e) => this.flowLog?.conntrackDestroyed(e),
        onProblem: (message) => this.log.warn({ component: 'conntrack-events' }, message),
      });
      this.ctEvents.start();
    }
    if (s.metricsListen === '') return;
    this.metrics = new Metrics({
      sources: {
        generation: () => this.slot.generation,
        reloads: () => ({ ok: this.counters.reloadsOk, failed: this.counters.reloadsFailed }),
        flowTable: () => ({ size: this.flows.size, capacity: this.flows.capacity, stats: this.flows.stats }),
        queues: () => [...this.sources.values()].map((q) => ({ hook: q.hook, ...q.source.stats() })),
        processor: () => this.processor.counters,
        logSuppressed: () => ({ deny: this.decisions.totals.denySuppressed, 'log-action': this.decisions.totals.logActionSuppressed }),
        conntrackEvents: () => this.ctEvents?.stats ?? { received: 0, lost: 0 },
        trace: () => ({ subscribers: this.trace.subscriberCount, built: this.trace.stats.built, dropped: this.trace.stats.rateLimited + this.trace.stats.notReady }),
        datastore: () => this.dsWatch?.health() ?? null,
      },
    });
    this.metrics.notePolicy(compiled);
    this.metricsServer = await startMetricsServer(this.metrics, s.metricsListen);
    this.log.info({ listen: s.metricsListen }, 'metrics served at /metrics');
  }

  /** The control socket (status, reload, flows, trace); a second daemon or an unsafe directory fails the start. */
  private async startControl(): Promise<void> {
    const s = this.settings;
    const layout = this.layout;
    this.control = await ControlServer.start({
      path: s.controlSocket,
      handlers: {
        status: () => withKernelQueues(this.status()),
        reload: async () => {
          await this.requestReload();
          return this.lastReload!;
        },
        flows: async (filter, limit) => {
          const now = Date.now();
          const own = listFlows(this.flows, filter, now, limit);
          if (s.mode !== 'flow') return own;
          // Flows whose verdict the kernel holds are no longer in the processor's table.
          const kernel = await listKernelFlows({
            filter,
            now,
            limit,
            markFilter: { value: layout.decided, mask: layout.decided },
            dropBit: layout.drop,
            annotate: (key) => this.flowLog?.lookup(key),
          });
          return mergeFlowListings(own, kernel, limit);
        },
        subscribeTrace: (filter, sink) => this.trace.subscribe(filter, sink),
      },
      onProblem: (message, err) => this.log.warn({ component: 'control', err: err === undefined ? undefined : String(err) }, message),
    });
  }

  /** Log datastore connection changes once each (health itself is in status()). */
  private onDatastoreHealth(h: DatastoreHealth): void {
    if (h.state === this.datastoreState) return;
    this.datastoreState = h.state;
    if (h.state === 'disconnected') this.log.warn({ datastore: h.datastore, since: h.since, revision: h.revision, err: h.lastError }, 'datastore unreachable; the policy in force stays');
    else if (h.state === 'connected') this.log.info({ datastore: h.datastore, revision: h.revision, reconnects: h.reconnects }, 'datastore connected');
  }

  private hostBase(): Pick<HostModel, 'node' | 'workloadInterfacePrefix' | 'unmanagedVerdict'> {
    return { node: this.settings.node, workloadInterfacePrefix: 'cali', unmanagedVerdict: this.settings.unmanagedVerdict };
  }

  private counts(p: CompiledPolicy): { tiers: number; policies: number; rules: number; heps: number } {
    return { tiers: p.stats.tiers, policies: p.stats.policies, rules: p.stats.rules, heps: p.stats.localHeps };
  }

  private compile(resources: ResourceSet, host: HostModel): CompiledPolicy {
    return compilePolicy(resources, host);
  }

  /** The watch's newest snapshot when there is a change feed (etcd), else a fresh read (directory, start). */
  private async loadPolicy(): Promise<{ ok: true; resources: ResourceSet; issues: Issue[]; snapshot: Snapshot } | { ok: false; issues: Issue[] }> {
    const r = this.dsWatch?.latest() ?? (await this.datastore!.snapshot({ nodeName: this.settings.node }));
    for (const i of r.issues) {
      const entry = { code: i.code, file: i.location.file, line: i.location.line, path: i.location.path, revision: r.revision };
      if (i.severity === 'error') this.log.error(entry, formatIssue(i));
      else this.log.warn(entry, formatIssue(i));
    }
    if (!r.ok) return { ok: false, issues: r.issues };
    return { ok: true, resources: r.resources, issues: r.issues, snapshot: r };
  }

  private openQueues(): void {
    const s = this.settings;
    for (const planHook of HOOK_NAMES) {
      const hook = ENGINE_HOOK[planHook];
      const queue = s.queues[planHook];
      const source = createNfqueueSource();
      const failure = s.errorVerdict === 'accept' ? NF_ACCEPT : NF_DROP;
      const afterClose = s.failMode === 'open' ? NF_ACCEPT : NF_DROP;
      source.open(queue, {
        socketBufferBytes: s.socketBufferBytes,
        failureVerdict: failure,
        closeVerdict: afterClose,
        onError: (err, ctx) => this.perPacketError(err, ctx.queueNumber),
      });
      // No try/catch here: the adapter's boundary catches any throw, reports it through onError
      // (counted, rate-limited log) and answers the packet with the error verdict if it has none.
      source.onPacket((pkt) => {
        const now = Date.now();
        const t0 = this.metrics !== null ? process.hrtime.bigint() : 0n;
        const o = this.processor.process(hook, pkt.payload, pkt.mark, pkt.indev, pkt.outdev, now);
        const ns = this.metrics !== null ? Number(process.hrtime.bigint() - t0) : -1;
        if (o.mark >= 0) source.verdict(pkt.id, o.verdict, o.mark);
        else source.verdict(pkt.id, o.verdict);
        this.observe(o, pkt.mark, now, ns);
      });
      this.sources.set(queue, { hook, source });
    }
  }

  private perPacketError(err: unknown, queue: number): void {
    this.counters.handlerErrors++;
    if (this.errorLog.take(Date.now())) this.log.error({ queue, err: String((err as Error)?.stack ?? err), suppressed: this.errorLog.drainSuppressed() }, 'packet handling failed; fail-mode verdict given');
  }

  /** Everything that watches decisions. Synchronous: `o` is reused by the next packet. */
  private observe(o: PacketOutcome, mark: number, now: number, ns: number): void {
    const policy = this.slot.current;
    this.metrics?.packet(o, ns);
    this.decisions.packet(o, mark, policy, now);
    this.flowLog?.packet(o, this.flows.epoch);
    if (this.trace.active) this.trace.offer(o, mark, policy);
  }

  /** Install the rules for `policy` under `generation` (replacing whatever nfqwall had installed). */
  private async applySteering(policy: CompiledPolicy, generation: number): Promise<void> {
    const s = this.settings;
    const info = policy.steeringInfo();
    const queues = Object.fromEntries(HOOK_NAMES.map((h) => [h, s.queues[h]])) as Record<PlanHook, number>;
    const plan = planFromPolicyInfo(info, {
      table: s.table,
      mode: s.mode,
      failMode: s.failMode,
      markMask: s.markMask,
      queues,
      existingFlowsOnReload: s.existingFlowsOnReload,
      generation,
    });
    // The first install also clears the other backend's leftovers (a crashed run, another --backend).
    const first = !this.steeringTouched;
    this.steeringTouched = true;
    await installSteering(plan, this.backend, { cleanOtherBackend: first });
    this.plan = plan;
  }

  /** SIGHUP: coalesced; a reload in progress runs once more afterwards. */
  requestReload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.reloadAgain = false;
        await this.exclusive(() => this.reloadOnce()).catch((err: unknown) => {
          // Whatever went wrong, a reload must not take the daemon (and its verdicts) down.
          this.counters.reloadsFailed++;
          this.log.error({ err: String((err as Error)?.stack ?? err) }, 'reload failed unexpectedly; the previous policy stays in force');
        });
      } while (this.reloadAgain && !this.stopping);
      this.reloading = null;
    })();
    return this.reloading;
  }

  /** Run `task` after every earlier reload/refresh has finished; a failure does not block later ones. */
  private exclusive(task: () => Promise<void>): Promise<void> {
    const run = this.serial.then(task, task);
    this.serial = run.catch(() => undefined);
    return run;
  }

  private async reloadOnce(): Promise<void> {
    if (this.stopping) return;
    const started = Date.now();
    const loaded = await this.loadPolicy();
    if (!loaded.ok) {
      this.counters.reloadsFailed++;
      this.lastReload = { ok: false, generation: this.slot.generation, at: new Date().toISOString(), issues: loaded.issues, durationMs: Date.now() - started, revision: this.dsWatch?.latest()?.revision ?? null };
      this.log.error({ generation: this.slot.generation, errors: loaded.issues.filter((i) => i.severity === 'error').length }, 'reload failed: configuration invalid; the previous policy stays in force');
      return;
    }
    const loadedAt = Date.now();
    let next: CompiledPolicy;
    try {
      next = this.compile(loaded.resources, this.live.host);
    } catch (err) {
      this.counters.reloadsFailed++;
      this.lastReload = { ok: false, generation: this.slot.generation, at: new Date().toISOString(), issues: [], durationMs: Date.now() - started, error: `compile error: ${String(err)}` };
      this.log.error({ err: String(err) }, 'reload failed: compile error; the previous policy stays in force');
      return;
    }
    // Rules first, then the policy: if the rules cannot be installed, nothing has changed. (Packets
    // judged in between carry the old generation, which the new rules do not store; they come back
    // once and are accepted by the processor's loop guard.)
    const gen = this.slot.generation + 1;
    const compiledAt = Date.now();
    try {
      await this.applySteering(next, gen);
    } catch (err) {
      this.counters.reloadsFailed++;
      this.lastReload = { ok: false, generation: this.slot.generation, at: new Date().toISOString(), issues: [], durationMs: Date.now() - started, error: `steering rules could not be installed: ${String(err)}` };
      this.log.error({ err: String(err) }, 'reload failed: steering rules could not be installed; the previous policy stays in force');
      // The transaction failed as a whole; put the previous generation's rules back in case the
      // failure was between the two address families.
      await this.applySteering(this.slot.current, this.slot.generation).catch((e) => this.log.error({ err: String(e) }, 'could not reinstall the previous steering rules'));
      return;
    }
    this.resources = loaded.resources;
    this.slot.swap(next);
    this.counters.reloadsOk++;
    this.metrics?.notePolicy(next);
    this.decisions.setFelix(loaded.resources.felix);
    this.lastReload = { ok: true, generation: gen, at: new Date().toISOString(), issues: loaded.issues, durationMs: Date.now() - started, counts: this.counts(next), revision: loaded.snapshot.revision };
    const done = Date.now();
    // Where the time went, and the process's memory: a reload storm must not make either grow.
    const mem = process.memoryUsage();
    this.log.info(
      {
        generation: gen,
        revision: loaded.snapshot.revision,
        durationMs: done - started,
        phasesMs: { load: loadedAt - started, compile: compiledAt - loadedAt, steer: done - compiledAt },
        memoryMb: { rss: mb(mem.rss), heapUsed: mb(mem.heapUsed) },
        ...this.counts(next),
      },
      'policy reloaded',
    );
  }

  /** Interfaces or addresses changed: rebuild the host model, recompile (same generation), re-steer. */
  private refreshHost(): Promise<void> {
    return this.exclusive(() => this.refreshHostOnce());
  }

  private async refreshHostOnce(): Promise<void> {
    if (this.stopping) return;
    const events = this.linkEvents;
    try {
      const live = await readLiveHost(this.hostBase());
      this.live = live;
      const next = this.compile(this.resources, live.host);
      // Same generation: flows stay decided; only interface bindings change.
      await this.applySteering(next, this.slot.generation);
      this.slot.replace(next);
      this.linkEventsApplied = events;
      this.counters.hostRefreshes++;
      this.log.info({ interfaces: live.host.interfaces.map((i) => i.name) }, 'interfaces changed; HEP bindings updated');
    } catch (err) {
      this.log.error({ err: String(err) }, 'could not refresh interfaces');
    }
  }

  /** SIGTERM: stop queueing new packets, answer every pending packet, remove or keep rules by fail mode. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopWatch?.();
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.reloading) await this.reloading.catch(() => undefined);
    await this.control?.close();
    this.trace?.clear();
    await this.ctEvents?.stop();
    await this.metricsServer?.close();
    await this.serial;
    // After the last reload: a reload reads the watch's newest snapshot.
    await this.dsWatch?.stop().catch(() => undefined);
    this.dsWatch = null;
    await this.datastore?.close().catch(() => undefined);
    if (this.settings.failMode === 'open' && this.steeringTouched) {
      // No new packets reach the queues once the rules are gone; the ones already queued are
      // still judged normally until the kernel reports none waiting.
      await removeSteering(this.settings.table).catch((err) => this.log.error({ err: String(err) }, 'could not remove steering rules'));
      await this.drainQueues(1000);
    }
    // Closed mode keeps the rules: from here on the kernel drops what would be queued.
    for (const { source } of this.sources.values()) source.close();
    // Flows still open get an end record; in flow mode with the kernel's counts so far.
    if (this.layout) await this.flowLog?.flushAll(this.ctEvents !== null ? { kernel: { markFilter: { value: this.layout.decided, mask: this.layout.decided } } } : {});
    this.decisions?.flushSuppressed(Date.now(), true);
    this.log.info({ processed: this.processor?.counters, handlerErrors: this.counters.handlerErrors }, 'nfqwall stopped');
  }

  /** Wait (bounded) until none of our queues holds a packet without a verdict. */
  private async drainQueues(timeoutMs: number): Promise<void> {
    const ours = new Set(this.sources.keys());
    const deadline = Date.now() + timeoutMs;
    while (ours.size > 0 && Date.now() < deadline) {
      const waiting = (await readQueueStats().catch(() => [])).filter((q) => ours.has(q.queueNumber) && q.queueTotal > 0);
      if (waiting.length === 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Flush buffered log lines (call before the process exits). */
  flushLog(): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 1000);
      try {
        this.log.flush(() => {
          clearTimeout(t);
          resolve();
        });
      } catch {
        clearTimeout(t);
        resolve();
      }
    });
  }

  status(): Record<string, unknown> {
    return {
      generation: this.slot.generation,
      lastReload: this.lastReload,
      backend: this.backend,
      mode: this.settings.mode,
      failMode: this.settings.failMode,
      counts: this.counts(this.slot.current),
      counters: { ...this.counters, ...this.processor.counters },
      flows: { size: this.flows.size, capacity: this.flows.capacity, evictions: this.evictions, ...this.flows.stats },
      queues: [...this.sources.values()].map((q) => ({ hook: q.hook, ...q.source.stats() })),
      datastore: this.dsWatch?.health() ?? null,
      plan: this.plan ? Object.fromEntries(Object.entries(this.plan.hooks).map(([k, v]) => [k, v.enabled])) : null,
    };
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / 1048576 * 10) / 10;
}
