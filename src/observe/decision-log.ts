/**
 * Per-packet log records: denied packets and Calico `Log` rule hits.
 *
 * Denies (`log.denies`): off, sampled or all. Both sampled and all go through a token bucket per
 * policy (sampled: 10/s, burst 20; all: 1000/s, burst 2000 — "all" is a safety cap, not a
 * sample), so a flood never floods the log or slows verdicts. Every suppressed record is counted
 * per policy and reported by `flushSuppressed()` (call it periodically, e.g. from the daemon's
 * 1 s timer; it writes at most one report per `reportIntervalMs`).
 *
 * `Log` rules (Calico semantics: log the packet with the rule's identity, evaluation goes on):
 * the verdict fast path does not collect Log hits, so when the policy in force has any Log rule
 * the hook is evaluated once more with the recording evaluator to find them. The prefix and rate
 * limit come from FelixConfiguration (logPrefix, logActionRateLimit, logActionRateLimitBurst);
 * as in Felix the limit applies per rule and there is none unless configured.
 */
import type { FelixSettings } from '../config/resources';
import type { CompiledPolicy } from '../engine/compiled-policy';
import type { RuleRef } from '../engine/decision';
import type { Logger } from './logger';
import type { PacketOutcome } from '../pipeline/packet-processor';
import { ParseStatus } from '../packet/parse';
import { NF_DROP, verdictName } from '../queue/verdict-codes';
import { flowIdOf } from './flow-id';
import { TokenBucket } from './rate-limit';
import { packetFields, ruleFields, type DecisionFields } from './records';
import { evaluatedHookOf } from './trace';

export type DenyLogMode = 'off' | 'sampled' | 'all';

export interface RateSpec {
  perSecond: number;
  burst: number;
}

export const DENY_RATE_SAMPLED: RateSpec = { perSecond: 10, burst: 20 };
export const DENY_RATE_ALL: RateSpec = { perSecond: 1000, burst: 2000 };

/** The part of a log record sink this module uses (a pino logger fits). */
export type RecordLogger = Pick<Logger, 'info' | 'warn'>;

export interface DecisionLogOptions {
  logger: RecordLogger;
  denies: DenyLogMode;
  /** Override the per-policy deny rate of the mode. */
  denyRate?: RateSpec;
  /** Log prefix and Log-action rate limit (resources.felix). */
  felix: Pick<FelixSettings, 'logPrefix' | 'logActionRateLimit' | 'logActionRateLimitBurst'>;
  /** The packet-mark bit of Calico's accept-mark (MarkLayout.accept), to re-evaluate hooks for Log rules. */
  acceptMarkBit: number;
  /** Minimum time between two suppression reports (default 10 s). */
  reportIntervalMs?: number;
}

/** The policy (or tier default, profile, built-in) a rate limit is kept for. */
export function denyBucketKey(ref: RuleRef): string {
  switch (ref.kind) {
    case 'policy':
      return `${ref.tier}/${ref.policy}`;
    case 'profile':
      return `profile:${ref.profile}`;
    case 'builtin':
      return ref.name === 'end-of-tier' ? `${ref.detail ?? ''}/<end of tier>` : `builtin:${ref.name}`;
  }
}

/** Felix logPrefix placeholders: %t tier, %k kind (gnp, pro), %n name, %p namespace/name (name for global objects). */
export function formatLogPrefix(prefix: string, ref: RuleRef): string {
  const tier = ref.kind === 'policy' ? ref.tier : '';
  const kind = ref.kind === 'policy' ? 'gnp' : ref.kind === 'profile' ? 'pro' : 'builtin';
  const name = ref.kind === 'policy' ? ref.policy : ref.kind === 'profile' ? ref.profile : ref.name;
  return prefix.replace(/%([tknp%])/g, (_m, c: string) => (c === 't' ? tier : c === 'k' ? kind : c === 'n' || c === 'p' ? name : '%'));
}

function hasLogRules(policy: CompiledPolicy): boolean {
  const r = policy.resources;
  const any = (x: { ingress: { action: string }[]; egress: { action: string }[] }) => x.ingress.some((q) => q.action === 'Log') || x.egress.some((q) => q.action === 'Log');
  return r.policies.some(any) || r.profiles.some(any);
}

interface Bucketed {
  key: string;
  bucket: TokenBucket;
}

export class DecisionLog {
  /** Monotonic totals (metrics): records written and suppressed, by kind. */
  readonly totals = { denyLogged: 0, denySuppressed: 0, logActionLogged: 0, logActionSuppressed: 0 };
  private mode: DenyLogMode;
  private denyRate: RateSpec;
  private felix: DecisionLogOptions['felix'];
  private readonly denyBuckets = new Map<string, Bucketed>();
  private readonly denyByRef = new WeakMap<RuleRef, Bucketed>();
  private readonly logBuckets = new Map<string, Bucketed>();
  private readonly logPolicies = new WeakMap<CompiledPolicy, boolean>();
  private lastReport = -Infinity;
  private readonly reportInterval: number;

  constructor(private readonly opts: DecisionLogOptions) {
    this.mode = opts.denies;
    this.denyRate = opts.denyRate ?? (opts.denies === 'all' ? DENY_RATE_ALL : DENY_RATE_SAMPLED);
    this.felix = opts.felix;
    this.reportInterval = opts.reportIntervalMs ?? 10_000;
  }

  /** New FelixConfiguration after a reload (Log-action buckets start over). */
  setFelix(felix: DecisionLogOptions['felix']): void {
    this.felix = felix;
    this.logBuckets.clear();
  }

  /** Log what this packet calls for. Synchronous, right after `process` (the outcome is reused). */
  packet(o: PacketOutcome, mark: number, policy: CompiledPolicy, now: number): void {
    const d = o.decision;
    if (d !== null) {
      let hasLog = this.logPolicies.get(policy);
      if (hasLog === undefined) {
        hasLog = hasLogRules(policy);
        this.logPolicies.set(policy, hasLog);
      }
      if (hasLog) this.logActions(o, mark, policy, now);
    }
    if (this.mode === 'off') return;
    let ref: RuleRef;
    if (d !== null) {
      if (d.action !== 'drop') return;
      ref = d.decidedBy.rule;
    } else {
      // A packet of a denied flow answered from the flow table (e.g. a retransmitted SYN).
      if (!o.cached || o.verdict !== NF_DROP || o.flow?.decision == null) return;
      ref = o.flow.decision.rule;
    }
    let b = this.denyByRef.get(ref);
    if (b === undefined) {
      const key = denyBucketKey(ref);
      b = this.denyBuckets.get(key);
      if (b === undefined) {
        b = { key, bucket: new TokenBucket(this.denyRate.perSecond, this.denyRate.burst, now) };
        this.denyBuckets.set(key, b);
      }
      this.denyByRef.set(ref, b);
    }
    if (!b.bucket.take(now)) {
      this.totals.denySuppressed++;
      return;
    }
    this.totals.denyLogged++;
    this.opts.logger.info({ event: 'packet.denied', ...this.fields(o, ref, 'deny'), hook: o.hook, ct: o.facts.ctState, verdict: verdictName(o.verdict), cached: o.cached, rejudged: o.rejudged }, 'packet denied');
  }

  private fields(o: PacketOutcome, ref: RuleRef, action: string): DecisionFields & { stage: string | null } {
    const d = o.decision;
    const fd = o.flow?.decision ?? null;
    return {
      flowId: o.flow ? flowIdOf(o.flow) : null,
      ...packetFields(o.facts),
      stage: d?.decidedBy.hook ?? fd?.hook ?? o.hook,
      hep: d?.decidedBy.endpoint ?? fd?.endpoint ?? null,
      ...ruleFields(ref),
      action,
      generation: o.generation,
    };
  }

  private logActions(o: PacketOutcome, mark: number, policy: CompiledPolicy, now: number): void {
    if (o.status !== ParseStatus.OK) return;
    const hook = evaluatedHookOf(o.hook, o.facts);
    const logs = policy.evaluateHook(hook, o.facts, (mark & this.opts.acceptMarkBit) !== 0).logs;
    if (logs.length === 0) return;
    const felix = this.felix;
    for (const ref of logs) {
      if (felix.logActionRateLimit !== undefined) {
        const key = denyBucketKey(ref) + `#${ref.kind === 'builtin' ? '' : `${ref.direction}/${ref.index}`}`;
        let b = this.logBuckets.get(key);
        if (b === undefined) {
          b = { key, bucket: new TokenBucket(felix.logActionRateLimit, Math.max(1, felix.logActionRateLimitBurst), now) };
          this.logBuckets.set(key, b);
        }
        if (!b.bucket.take(now)) {
          this.totals.logActionSuppressed++;
          continue;
        }
      }
      this.totals.logActionLogged++;
      const prefix = formatLogPrefix(felix.logPrefix, ref);
      this.opts.logger.info({ event: 'rule.log', prefix, ...this.fields(o, ref, 'log'), ct: o.facts.ctState }, prefix);
    }
  }

  /**
   * Report what the rate limits suppressed since the last report: one warn record per kind with
   * the counts by policy. Returns the counts reported (empty when nothing or too soon).
   */
  flushSuppressed(now: number, force = false): { deny: Record<string, number>; logAction: Record<string, number> } {
    const out = { deny: {} as Record<string, number>, logAction: {} as Record<string, number> };
    if (!force && now - this.lastReport < this.reportInterval) return out;
    this.lastReport = now;
    let denyTotal = 0;
    for (const b of this.denyBuckets.values()) {
      const n = b.bucket.drainSuppressed();
      if (n > 0) {
        out.deny[b.key] = n;
        denyTotal += n;
      }
    }
    let logTotal = 0;
    for (const b of this.logBuckets.values()) {
      const n = b.bucket.drainSuppressed();
      if (n > 0) {
        out.logAction[b.key] = n;
        logTotal += n;
      }
    }
    if (denyTotal > 0) this.opts.logger.warn({ event: 'log.suppressed', kind: 'deny', suppressed: denyTotal, byPolicy: out.deny }, `${denyTotal} denied-packet records suppressed by the per-policy rate limit`);
    if (logTotal > 0) this.opts.logger.warn({ event: 'log.suppressed', kind: 'log-action', suppressed: logTotal, byRule: out.logAction }, `${logTotal} Log-rule records suppressed by logActionRateLimit`);
    return out;
  }
}
