/**
 * Flow records: one when a flow is allowed (`flow.decided`) and one when it ends (`flow.end`),
 * with packets and bytes in each direction. Same field names as the packet records (records.ts).
 *
 * Where the end comes from:
 *  - the flow table's onExpire (idle timeout), onClose (FIN/RST, TCP re-open) and onEvict (table
 *    full) callbacks — complete counts when every packet reaches userspace (packet mode);
 *  - kernel conntrack destroy events (conntrack-events.ts) — in flow mode only a flow's first
 *    packet is queued, the rest never leaves the kernel, so with `kernelEnds` on an allowed flow
 *    whose userspace entry ends is kept open until the kernel reports it gone, with the kernel's
 *    accounting (nf_conntrack_acct) as its counts.
 * Flows waiting for their kernel end are bounded (`maxOpen`); the oldest is closed with its
 * userspace counts (reason "unconfirmed") when the bound is hit.
 *
 * Denied flows get no flow records: the denied packet record (decision-log.ts, rate-limited per
 * policy) is their record, so a deny flood cannot flood the flow log either.
 */
import type { FlowEntry } from '../conntrack';
import type { RuleRef } from '../engine/decision';
import type { PacketOutcome, FlowDecision } from '../pipeline/packet-processor';
import { NF_DROP, verdictName } from '../queue/verdict-codes';
import { conntrackFlowKey, listConntrack, type ConntrackEvent, type ConntrackListOptions } from './conntrack-events';
import { flowIdOf } from './flow-id';
import { packetFields, ruleFields, type DecisionFields } from './records';
import type { RecordLogger } from './decision-log';

/** What the flow log knows of an open (allowed) flow. */
export interface KnownFlow {
  fields: DecisionFields;
  rule: RuleRef;
  /** Absolute ms of the flow's first packet. */
  start: number;
}

export type FlowEndReason = 'idle-timeout' | 'closed' | 'evicted' | 'conntrack-destroy' | 'superseded' | 'unconfirmed' | 'daemon-stopped';

export interface FlowCounts {
  packetsOrig: number;
  bytesOrig: number;
  packetsReply: number;
  bytesReply: number;
}

interface OpenFlow {
  key: string;
  fields: DecisionFields;
  rule: RuleRef;
  /** Absolute ms of the flow's first packet. */
  start: number;
  /** The userspace entry's counts when it ended (flow mode waiting for the kernel), else null. */
  userspace: FlowCounts | null;
  userspaceReason: FlowEndReason | null;
  entry: FlowEntry<FlowDecision> | null;
}

export interface FlowLogOptions {
  logger: RecordLogger;
  /** Ends of allowed flows come from kernel destroy events (flow mode with conntrack -E running). */
  kernelEnds: boolean;
  /** Flows awaiting an end record at most (default 262144). */
  maxOpen?: number;
  /** Clock for durations (ms); default Date.now. */
  now?: () => number;
}

export class FlowLog {
  readonly stats = { decided: 0, ended: 0, endedByKernel: 0, kernelUnmatched: 0, unconfirmed: 0 };
  private readonly open = new Map<string, OpenFlow>();
  private readonly byEntry = new WeakMap<FlowEntry<FlowDecision>, OpenFlow>();
  private readonly maxOpen: number;
  private readonly now: () => number;

  constructor(private readonly opts: FlowLogOptions) {
    this.maxOpen = opts.maxOpen ?? 262_144;
    this.now = opts.now ?? Date.now;
  }

  get openCount(): number {
    return this.open.size;
  }

  /** What is known of an allowed flow still open, by flow key (for `nfqwall flows` in flow mode). */
  lookup(key: string): KnownFlow | undefined {
    const of = this.open.get(key);
    return of === undefined ? undefined : { fields: of.fields, rule: of.rule, start: of.start };
  }

  /**
   * Call for every processed packet while flow logging is on (synchronously, after `process`).
   * Writes `flow.decided` the first time a flow is allowed under a policy generation.
   * `epoch` is the flow table's time origin (FlowTable.epoch).
   */
  packet(o: PacketOutcome, epoch: number): void {
    const flow = o.flow;
    const d = o.decision;
    if (flow === null || d === null || d.action === 'continue' || flow.decision === null) return;
    if (flow.decision.verdict === NF_DROP || flow.generation !== o.generation) return;
    const known = this.byEntry.get(flow);
    if (known !== undefined && known.fields.generation === o.generation) return;
    const fields: DecisionFields = {
      flowId: flowIdOf(flow),
      ...packetFields(o.facts),
      stage: d.decidedBy.hook,
      hep: d.decidedBy.endpoint,
      ...ruleFields(d.decidedBy.rule),
      action: 'allow',
      generation: o.generation,
    };
    if (known !== undefined) {
      // Re-judged under a new generation and allowed again: the record says so; one end record later.
      known.fields = fields;
      known.rule = d.decidedBy.rule;
    } else {
      const prev = this.open.get(flow.key);
      if (prev !== undefined) this.finish(prev, 'superseded', prev.userspace ?? countsOf(prev.entry), null);
      const of: OpenFlow = { key: flow.key, fields, rule: d.decidedBy.rule, start: epoch + flow.firstSeen, userspace: null, userspaceReason: null, entry: flow };
      this.open.set(flow.key, of);
      this.byEntry.set(flow, of);
      if (this.open.size > this.maxOpen) {
        const oldest = this.open.values().next().value as OpenFlow;
        this.stats.unconfirmed++;
        this.finish(oldest, 'unconfirmed', oldest.userspace ?? countsOf(oldest.entry), null);
      }
    }
    this.stats.decided++;
    this.opts.logger.info({ event: 'flow.decided', ...fields, hook: o.hook, ct: o.facts.ctState, verdict: verdictName(o.verdict), rejudged: o.rejudged }, 'flow allowed');
  }

  /** The flow table removed an entry (wire to onExpire / onClose / onEvict). */
  flowEnded(entry: FlowEntry<FlowDecision>, reason: 'idle-timeout' | 'closed' | 'evicted'): void {
    const of = this.byEntry.get(entry);
    if (of === undefined || this.open.get(of.key) !== of) return;
    const counts = countsOf(entry);
    of.entry = null;
    if (this.opts.kernelEnds) {
      // The kernel entry lives on (its later packets never came up); its destroy event ends the record.
      of.userspace = counts;
      of.userspaceReason = reason;
      return;
    }
    this.finish(of, reason, counts, null);
  }

  /** A kernel conntrack destroy event (ConntrackEventSource.onEvent). */
  conntrackDestroyed(e: ConntrackEvent): void {
    if (e.type !== 'destroy') return;
    const key = conntrackFlowKey(e);
    const of = key === null ? undefined : this.open.get(key);
    if (of === undefined) {
      this.stats.kernelUnmatched++;
      return;
    }
    this.stats.endedByKernel++;
    this.finish(of, 'conntrack-destroy', eventCounts(e), e);
  }

  /**
   * Daemon stop: an end record for every flow still open, reason "daemon-stopped". With `kernel`
   * (flow mode) the counts so far are read from the kernel's conntrack table first, since
   * nfqwall's own counts stop at the first packet there.
   */
  async flushAll(opts: { kernel?: ConntrackListOptions } = {}): Promise<void> {
    const live = new Map<string, ConntrackEvent>();
    if (opts.kernel && this.open.size > 0) {
      await listConntrack(opts.kernel, (e) => {
        const key = conntrackFlowKey(e);
        if (key !== null && this.open.has(key)) live.set(key, e);
      }).catch(() => 0);
    }
    for (const of of [...this.open.values()]) {
      const e = live.get(of.key);
      if (e) this.finish(of, 'daemon-stopped', eventCounts(e), e);
      else this.finish(of, 'daemon-stopped', of.userspace ?? countsOf(of.entry), null);
    }
  }

  private finish(of: OpenFlow, reason: FlowEndReason, counts: FlowCounts, e: ConntrackEvent | null): void {
    this.open.delete(of.key);
    if (of.entry) this.byEntry.delete(of.entry);
    this.stats.ended++;
    const record: Record<string, unknown> = {
      event: 'flow.end',
      ...of.fields,
      reason,
      durationMs: Math.max(0, this.now() - of.start),
      ...counts,
      counters: e !== null ? 'kernel' : 'nfqwall',
    };
    if (e !== null) {
      record.ctId = e.id;
      record.ctMark = `0x${e.mark.toString(16)}`;
      if (e.orig.packets === null) record.accounting = 'off (set net.netfilter.nf_conntrack_acct=1)';
    }
    if (of.userspaceReason !== null) record.userspaceEnd = of.userspaceReason;
    this.opts.logger.info(record, 'flow ended');
  }
}

function eventCounts(e: ConntrackEvent): FlowCounts {
  return { packetsOrig: e.orig.packets ?? 0, bytesOrig: e.orig.bytes ?? 0, packetsReply: e.reply.packets ?? 0, bytesReply: e.reply.bytes ?? 0 };
}

function countsOf(entry: FlowEntry<unknown> | null): FlowCounts {
  if (entry === null) return { packetsOrig: 0, bytesOrig: 0, packetsReply: 0, bytesReply: 0 };
  return { packetsOrig: entry.packetsOriginal, bytesOrig: entry.bytesOriginal, packetsReply: entry.packetsReply, bytesReply: entry.bytesReply };
}

