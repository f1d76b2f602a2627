/**
 * The running firewall: policy directory + live host → compiled policy → steering rules → queues →
 * per-packet verdicts. Wires the pure parts together and owns every side effect (queues, rules,
 * signals, logs). Reloads build everything off to the side and swap in one assignment; a broken
 * configuration changes nothing.
 */
import { hostname } from 'node:os';
import { loadResourceDir } from '../config';
import type { ResourceSet } from '../config/resources';
import { formatIssue, NfqwallError, type Issue } from '../errors';
import { installSteering, probeBackend, removeSteering, planFromPolicyInfo, type SteeringPlan } from '../dataplane';
import type { HookName as PlanHook } from '../dataplane/plan';
import { HOOK_NAMES } from '../dataplane/plan';
import { markLayout } from '../dataplane/marks';
import type { Backend } from '../dataplane/apply';
import { compilePolicy, type CompiledPolicy } from '../engine/compiled-policy';
import type { HookName } from '../engine/decision';
import { ruleKey } from '../engine/decision';
import type { HostModel } from '../engine/host-model';
import { formatIp } from '../net/ip';
import { PacketProcessor, type FlowDecision } from '../pipeline/packet-processor';
import { FlowTable } from '../conntrack';
import { PolicySlot } from '../pipeline/policy-slot';
import { createNfqueueSource } from '../queue/source-nfqueue';
import type { PacketSource } from '../queue/packet-source';
import { NF_ACCEPT, NF_DROP, NF_REPEAT } from '../queue/verdict-codes';
import { createLogger, type Logger } from '../observe/logger';
import { TokenBucket } from '../observe/rate-limit';
import { readQueueStats } from '../queue/queue-stats';
import { sysfsInterfaceNames, type InterfaceNames } from '../queue/interface-names';
import { readLiveHost, watchInterfaces, type LiveInterfaces } from './live-host';
import type { DaemonSettings } from './settings';

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
  lastReload: ReloadOutcome | null = null;
  readonly counters = { reloadsOk: 0, reloadsFailed: 0, handlerErrors: 0, hostRefreshes: 0 };
  private readonly errorLog: TokenBucket;
  private readonly denyLog = new Map<string, TokenBucket>();

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
    const loaded = await this.loadPolicy();
    if (!loaded.ok) throw new NfqwallError('NFQ_DAEMON_CONFIG_INVALID', `policy directory ${s.policyDir} is invalid (${loaded.issues.filter((i) => i.severity === 'error').length} errors, logged above)`);
    this.resources = loaded.resources;
    // The monitor starts before the host is read (no change slips through) and before the queues
    // are opened (so it does not inherit their sockets).
    this.stopWatch = watchInterfaces(() => {
      if (this.ready) void this.refreshHost();
      else this.changedWhileStarting = true;
    });
    this.live = await readLiveHost(this.hostBase());
    const compiled = this.compile(this.resources, this.live.host);
    this.slot = new PolicySlot(compiled, 1);
    const layout = markLayout(s.markMask);
    this.flows = new FlowTable<FlowDecision>({
      capacity: s.flowTableSize,
      onEvict: () => {
        this.evictions++;
      },
    });
    this.processor = new PacketProcessor(
      this.slot,
      {
        layout,
        mode: s.mode,
        parseErrorVerdict: 'drop',
        rejudgeExisting: s.existingFlowsOnReload === 'rejudge',
        interfaceName: (i) => this.live.names.get(i) ?? this.sysfsNames.name(i) ?? null,
      },
      this.flows,
    );
    // Expire idle flows a little at a time; no timer per flow.
    this.sweeper = setInterval(() => {
      this.flows.sweep(Date.now(), 5000);
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
    this.ready = true;
    if (this.changedWhileStarting) void this.refreshHost();
    this.lastReload = { ok: true, generation: 1, at: new Date().toISOString(), issues: loaded.issues, durationMs: 0, counts: this.counts(compiled) };
    this.log.info({ generation: 1, node: s.node, mode: s.mode, failMode: s.failMode, ...this.counts(compiled) }, 'nfqwall started');
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

  private async loadPolicy(): Promise<{ ok: true; resources: ResourceSet; issues: Issue[] } | { ok: false; issues: Issue[] }> {
    const r = await loadResourceDir(this.settings.policyDir);
    for (const i of r.issues) {
      const entry = { code: i.code, file: i.location.file, line: i.location.line, path: i.location.path };
      if (i.severity === 'error') this.log.error(entry, formatIssue(i));
      else this.log.warn(entry, formatIssue(i));
    }
    if (r.issues.some((i) => i.severity === 'error')) return { ok: false, issues: r.issues };
    return { ok: true, resources: r.resources, issues: r.issues };
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
        const o = this.processor.process(hook, pkt.payload, pkt.mark, pkt.indev, pkt.outdev, Date.now());
        if (o.mark >= 0) source.verdict(pkt.id, o.verdict, o.mark);
        else source.verdict(pkt.id, o.verdict);
        this.logDecision(o);
      });
      this.sources.set(queue, { hook, source });
    }
  }

  private perPacketError(err: unknown, queue: number): void {
    this.counters.handlerErrors++;
    if (this.errorLog.take(Date.now())) this.log.error({ queue, err: String((err as Error)?.stack ?? err), suppressed: this.errorLog.drainSuppressed() }, 'packet handling failed; fail-mode verdict given');
  }

  private logDecision(o: ReturnType<PacketProcessor['process']>): void {
    const d = o.decision;
    // A stage that lets the packet go on logs only when a policy allowed it (untracked, preDNAT).
    if (d === null || (d.action === 'continue' && d.decidedBy.result !== 'allow')) return;
    // A re-judged flow's deny is a repeat that stores the deny in the ct mark: go by the decision.
    const denied = d.action === 'drop';
    const level = this.settings.log;
    if (denied && level.denies === 'off') return;
    if (!denied && !level.flows) return;
    const rule = ruleKey(d.decidedBy.rule);
    if (denied && level.denies === 'sampled') {
      let b = this.denyLog.get(rule);
      if (!b) {
        b = new TokenBucket(10, 20, Date.now());
        this.denyLog.set(rule, b);
      }
      if (!b.take(Date.now())) return;
    }
    const f = o.facts;
    const verdict = o.verdict === NF_ACCEPT ? 'accept' : o.verdict === NF_REPEAT ? 'repeat' : 'drop';
    if (this.settings.log.format === 'pretty') {
      this.log.info(`${denied ? 'DENY ' : 'ALLOW'} ${describeFlow(f)} at ${o.hook}: ${d.decidedBy.chain}${d.decidedBy.endpoint ? ` of ${d.decidedBy.endpoint}` : ''}, ${rule}${o.rejudged ? ' (re-judged after reload)' : ''}`);
      return;
    }
    this.log.info(
      {
        event: 'decision',
        hook: o.hook,
        verdict,
        family: f.family,
        proto: f.proto,
        src: formatIp(f.src),
        dst: formatIp(f.dst),
        sport: f.sport,
        dport: f.dport,
        iif: f.iif,
        oif: f.oif,
        ct: f.ctState,
        rejudged: o.rejudged,
        stage: d.decidedBy.hook,
        chain: d.decidedBy.chain,
        hep: d.decidedBy.endpoint,
        rule,
        generation: o.generation,
      },
      denied ? 'packet denied' : 'flow allowed',
    );
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
      this.lastReload = { ok: false, generation: this.slot.generation, at: new Date().toISOString(), issues: loaded.issues, durationMs: Date.now() - started };
      this.log.error({ generation: this.slot.generation, errors: loaded.issues.filter((i) => i.severity === 'error').length }, 'reload failed: configuration invalid; the previous policy stays in force');
      return;
    }
    const loadedAt = Date.now();
    let next: CompiledPolicy;
    try {
      next = this.compile(loaded.resources, this.live.host);
    } catch (err) {
      this.counters.reloadsFailed++;
      this.lastReload = { ok: false, generation: this.slot.generation, at: new Date().toISOString(), issues: [], durationMs: Date.now() - started };
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
      this.lastReload = { ok: false, generation: this.slot.generation, at: new Date().toISOString(), issues: [], durationMs: Date.now() - started };
      this.log.error({ err: String(err) }, 'reload failed: steering rules could not be installed; the previous policy stays in force');
      // The transaction failed as a whole; put the previous generation's rules back in case the
      // failure was between the two address families.
      await this.applySteering(this.slot.current, this.slot.generation).catch((e) => this.log.error({ err: String(e) }, 'could not reinstall the previous steering rules'));
      return;
    }
    this.resources = loaded.resources;
    this.slot.swap(next);
    this.counters.reloadsOk++;
    this.lastReload = { ok: true, generation: gen, at: new Date().toISOString(), issues: loaded.issues, durationMs: Date.now() - started, counts: this.counts(next) };
    const done = Date.now();
    // Where the time went, and the process's memory: a reload storm must not make either grow.
    const mem = process.memoryUsage();
    this.log.info(
      {
        generation: gen,
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
    try {
      const live = await readLiveHost(this.hostBase());
      this.live = live;
      const next = this.compile(this.resources, live.host);
      // Same generation: flows stay decided; only interface bindings change.
      await this.applySteering(next, this.slot.generation);
      this.slot.replace(next);
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
    await this.serial;
    if (this.settings.failMode === 'open' && this.steeringTouched) {
      // No new packets reach the queues once the rules are gone; the ones already queued are
      // still judged normally until the kernel reports none waiting.
      await removeSteering(this.settings.table).catch((err) => this.log.error({ err: String(err) }, 'could not remove steering rules'));
      await this.drainQueues(1000);
    }
    // Closed mode keeps the rules: from here on the kernel drops what would be queued.
    for (const { source } of this.sources.values()) source.close();
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
      plan: this.plan ? Object.fromEntries(Object.entries(this.plan.hooks).map(([k, v]) => [k, v.enabled])) : null,
    };
  }
}

/** One line for people: `tcp 10.10.0.2:40000 -> 10.20.0.2:22 (eth0 -> eth1)`. */
function describeFlow(f: ReturnType<PacketProcessor['process']>['facts']): string {
  const proto = f.proto === 6 ? 'tcp' : f.proto === 17 ? 'udp' : f.proto === 1 ? 'icmp' : f.proto === 58 ? 'icmpv6' : `proto ${f.proto}`;
  const ep = (a: typeof f.src, port: number) => (port >= 0 ? (f.family === 6 ? `[${formatIp(a)}]:${port}` : `${formatIp(a)}:${port}`) : formatIp(a));
  const icmp = f.icmpType >= 0 ? ` type ${f.icmpType}` : '';
  return `${proto}${icmp} ${ep(f.src, f.sport)} -> ${ep(f.dst, f.dport)} (${f.iif ?? 'local'} -> ${f.oif ?? 'local'})`;
}

function mb(bytes: number): number {
  return Math.round(bytes / 1048576 * 10) / 10;
}
