/**
 * Live tracing: the daemon offers each processed packet; subscribers (control-socket clients
 * running `nfqwall trace`) get the full explanation of the decisions their filter matches.
 *
 * The per-packet cost with nobody tracing is one boolean test in the daemon (`hub.active`).
 * While tracing, each packet costs one filter test per subscriber; an explanation is built only
 * for packets some ready subscriber wants, and at most `maxEventsPerSecond` of them (the rest are
 * counted as dropped on each subscriber), so a trace never slows verdicts down much.
 */
import type { CompiledPolicy } from '../engine/compiled-policy';
import type { PacketOutcome } from '../pipeline/packet-processor';
import { ParseStatus } from '../packet/parse';
import { NF_ACCEPT, NF_DROP } from '../queue/verdict-codes';
import type { Filter, FilterSubject } from './filter';
import { TokenBucket } from './rate-limit';
import { buildTraceEvent, type TraceEvent } from './trace';

/** Where trace events go (one per subscribed client). Implementations must never block. */
export interface TraceSink {
  /** False while the client is backed up: its events would be dropped anyway, so none is built. */
  ready(): boolean;
  /** Queue one event; false when it had to be dropped. */
  push(event: TraceEvent): boolean;
  /** `count` events for this sink were dropped before being built (not ready, or over the rate limit). */
  dropped(count: number): void;
}

export interface TraceHubOptions {
  /** The packet-mark bit of Calico's accept-mark (MarkLayout.accept). */
  acceptMarkBit: number;
  /** Explanations built per second at most, over all subscribers (default 2000). */
  maxEventsPerSecond?: number;
  /** Clock (ms); default Date.now. */
  now?: () => number;
}

interface Subscriber {
  filter: Filter;
  sink: TraceSink;
}

export class TraceHub {
  /** True while anyone is tracing: the daemon calls `offer` only then. */
  active = false;
  readonly stats = { offered: 0, matched: 0, built: 0, rateLimited: 0, notReady: 0, errors: 0 };
  private readonly subscribers = new Set<Subscriber>();
  private readonly bucket: TokenBucket;
  private readonly now: () => number;
  private readonly subject: FilterSubject = {
    family: 4, proto: 0, src: { family: 4, words: [0, 0, 0, 0] }, dst: { family: 4, words: [0, 0, 0, 0] },
    sport: -1, dport: -1, iif: null, oif: null, verdict: null, rule: null, endpoint: null,
  };
  private readonly wanting: Subscriber[] = [];

  constructor(private readonly opts: TraceHubOptions) {
    this.now = opts.now ?? Date.now;
    const rate = opts.maxEventsPerSecond ?? 2000;
    this.bucket = new TokenBucket(rate, rate, this.now());
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Add a subscriber; returns the function that removes it. */
  subscribe(filter: Filter, sink: TraceSink): () => void {
    const sub: Subscriber = { filter, sink };
    this.subscribers.add(sub);
    this.active = true;
    return () => {
      this.subscribers.delete(sub);
      this.active = this.subscribers.size > 0;
    };
  }

  /**
   * Offer one processed packet (synchronously after `process`, before the next packet).
   * `mark` is the packet's mark as queued; `policy` the policy that judged it.
   */
  offer(o: PacketOutcome, mark: number, policy: CompiledPolicy): void {
    if (!this.active) return;
    this.stats.offered++;
    if (o.status !== ParseStatus.OK) return;
    const s = this.subject;
    const f = o.facts;
    s.family = f.family;
    s.proto = f.proto;
    s.src = f.src;
    s.dst = f.dst;
    s.sport = f.sport;
    s.dport = f.dport;
    s.iif = f.iif;
    s.oif = f.oif;
    const d = o.decision;
    const fd = o.flow?.decision ?? null;
    if (d !== null) {
      s.verdict = d.action === 'accept' ? 'allow' : d.action === 'drop' ? 'deny' : null;
      s.rule = d.decidedBy.rule;
      s.endpoint = d.decidedBy.endpoint;
    } else {
      s.verdict = o.verdict === NF_DROP ? 'deny' : o.verdict === NF_ACCEPT ? 'allow' : null;
      s.rule = fd?.rule ?? null;
      s.endpoint = fd?.endpoint ?? null;
    }
    const wanting = this.wanting;
    wanting.length = 0;
    for (const sub of this.subscribers) {
      if (!sub.filter.matches(s)) continue;
      this.stats.matched++;
      if (!sub.sink.ready()) {
        this.stats.notReady++;
        sub.sink.dropped(1);
        continue;
      }
      wanting.push(sub);
    }
    if (wanting.length === 0) return;
    const now = this.now();
    if (!this.bucket.take(now)) {
      this.stats.rateLimited++;
      for (const sub of wanting) sub.sink.dropped(1);
      return;
    }
    let event: TraceEvent;
    try {
      event = buildTraceEvent(o, policy, (mark & this.opts.acceptMarkBit) !== 0, now);
    } catch {
      // An explanation must never take the verdict path down with it.
      this.stats.errors++;
      return;
    }
    this.stats.built++;
    for (const sub of wanting) sub.sink.push(event);
  }

  /** Drop every subscriber (daemon stop). */
  clear(): void {
    this.subscribers.clear();
    this.active = false;
  }
}
