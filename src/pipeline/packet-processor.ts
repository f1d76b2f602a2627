/**
 * The per-packet function of the live dataplane: parse → facts (from the hook the queue stands for,
 * the interface table and the mark bits the steering rules wrote) → engine → verdict and new mark.
 *
 * Synchronous and allocation-free: the view, the facts and the result objects are reused, so the
 * caller must copy anything it keeps after the next call. No I/O, no clock.
 */
import { type MarkLayout, generationBits, mergeMark } from '../dataplane/marks';
import type { HookName } from '../engine/decision';
import type { HookDecision } from '../engine/compiled-policy';
import type { CtState, PacketFacts } from '../engine/packet-facts';
import { parsePacket, ParseStatus } from '../packet/parse';
import { createPacketView, type PacketView } from '../packet/packet-view';
import { NF_ACCEPT, NF_DROP, NF_REPEAT, type NfVerdict } from '../queue/verdict-codes';
import type { PolicySlot } from './policy-slot';
import { FlowDir, type FlowTable, type FlowEntry } from '../conntrack';
import type { RuleRef, StepOutcome } from '../engine/decision';

/** What the flow table remembers of a decided flow (for re-judging, flow logs and traces). */
export interface FlowDecision {
  hook: HookName;
  verdict: NfVerdict;
  rule: RuleRef;
  endpoint: string | null;
  chain: StepOutcome['chain'];
}

export interface ProcessorOptions {
  layout: MarkLayout;
  mode: 'flow' | 'packet';
  /** Verdict for packets that do not parse (counted). */
  parseErrorVerdict: 'accept' | 'drop';
  /** ifindex → current interface name (kept fresh by the daemon). */
  interfaceName(index: number): string | null;
  /** Flows decided under an older generation: judge again on their next packet, or keep them. */
  rejudgeExisting: boolean;
}

/** Hooks where a flow's verdict is made (the flow table tracks packets only there, once each). */
function isFilterHook(h: HookName): boolean {
  return h === 'filter-input' || h === 'filter-forward' || h === 'filter-output' || h === 'mangle-postrouting';
}

/** The outcome of one packet. Reused by the next call. */
export interface PacketOutcome {
  hook: HookName;
  verdict: NfVerdict;
  /** The packet's new mark, or -1 to leave it unchanged. */
  mark: number;
  /** Parse status (ParseStatus.OK when parsed). */
  status: number;
  /** The engine's decision, or null when the packet did not reach the engine. */
  decision: HookDecision | null;
  /** The packet was a flow decided under an older policy generation, judged again as new. */
  rejudged: boolean;
  /** The verdict came from the flow table (same flow, same generation), not from the engine. */
  cached: boolean;
  /** The flow the packet belongs to (filter hooks), or null. */
  flow: FlowEntry<FlowDecision> | null;
  generation: number;
  facts: PacketFacts;
  view: PacketView;
}

const CT_BY_CODE: readonly CtState[] = ['new', 'established', 'related', 'invalid', 'untracked', 'new', 'new', 'new'];

function words(): [number, number, number, number] {
  return [0, 0, 0, 0];
}

export class PacketProcessor {
  private readonly view = createPacketView();
  private readonly facts: PacketFacts = {
    path: 'local-in', iif: null, oif: null, family: 4, proto: 0,
    src: { family: 4, words: words() }, dst: { family: 4, words: words() },
    sport: -1, dport: -1, icmpType: -1, icmpCode: -1, ctState: 'new',
    preDnatDst: { family: 4, words: words() }, preDnatDport: -1, dnat: false,
  };
  private readonly out: PacketOutcome;
  readonly counters = { packets: 0, parseErrors: 0, rejudged: 0, accepted: 0, dropped: 0, repeated: 0 };

  constructor(
    private readonly slot: PolicySlot,
    private readonly opts: ProcessorOptions,
    readonly flows: FlowTable<FlowDecision>,
  ) {
    this.out = { hook: 'filter-input', verdict: NF_DROP, mark: -1, status: 0, decision: null, rejudged: false, cached: false, flow: null, generation: 0, facts: this.facts, view: this.view };
  }

  /** Judge one queued packet. `now` (ms) drives the flow table's timeouts; the processor has no clock. */
  process(hook: HookName, payload: Buffer, mark: number, indev: number, outdev: number, now: number): PacketOutcome {
    const o = this.out;
    const L = this.opts.layout;
    this.counters.packets++;
    o.hook = hook;
    o.decision = null;
    o.rejudged = false;
    o.cached = false;
    o.flow = null;
    o.mark = -1;
    const policy = this.slot.current;
    o.generation = this.slot.generation;
    const status = parsePacket(payload, this.view);
    o.status = status;
    if (status !== ParseStatus.OK || (this.view.family !== 4 && this.view.family !== 6)) {
      this.counters.parseErrors++;
      return this.finish(this.opts.parseErrorVerdict === 'accept' ? NF_ACCEPT : NF_DROP);
    }
    const f = this.facts;
    const v = this.view;
    const ctCode = ((mark & L.ctStateMask) >>> L.ctStateShift) & 7;
    let ct = CT_BY_CODE[ctCode]!;
    const reply = (mark & L.reply) !== 0;
    f.dnat = (mark & L.dnat) !== 0;
    const family = v.family as 4 | 6;
    f.family = family;
    f.proto = v.proto;
    f.src.family = f.dst.family = f.preDnatDst.family = family;
    f.sport = v.sport;
    f.dport = v.dport;
    f.icmpType = v.icmpType;
    f.icmpCode = v.icmpCode;
    let iif = indev > 0 ? this.opts.interfaceName(indev) : null;
    let oif = outdev > 0 ? this.opts.interfaceName(outdev) : null;
    let src = v.src;
    let dst = v.dst;
    let evalHook = hook;
    let flow: FlowEntry<FlowDecision> | null = null;
    if (isFilterHook(hook)) {
      let tr = this.flows.track(v, now);
      // The kernel discarded the conntrack entry of a denied first packet, so a packet coming the
      // other way is a new flow there: it must not inherit the deny. Start a fresh entry for it.
      if (ct === 'new' && tr.dir === FlowDir.REPLY && tr.entry !== null && tr.entry.decision !== null && tr.entry.decision.verdict === NF_DROP) {
        this.forget(tr.entry);
        tr = this.flows.track(v, now);
      }
      flow = tr.entry;
      o.flow = flow;
      const d = flow?.decision ?? null;
      // The same flow asks again under the same policy (a retransmitted SYN of a denied flow, a
      // packet-mode packet): answer from the flow table without the engine.
      if (flow !== null && d !== null && flow.generation === o.generation && d.hook === hook && (ct === 'new' || d.verdict === NF_DROP)) {
        o.cached = true;
        if (d.verdict === NF_DROP) return this.finish(NF_DROP);
      }
    }
    // In flow mode an established packet reaches us only when its flow was decided under an older
    // policy generation; in packet mode the flow table says so. Judge the flow again, as a new
    // connection in its original direction.
    const stale = flow !== null && flow.decision !== null && flow.generation !== o.generation;
    if (ct === 'established' && this.opts.rejudgeExisting && (this.opts.mode === 'flow' || stale)) {
      o.rejudged = true;
      this.counters.rejudged++;
      ct = 'new';
      if (reply) {
        src = v.dst;
        dst = v.src;
        f.sport = v.dport;
        f.dport = v.sport;
        const t = iif;
        iif = oif;
        oif = t;
        evalHook = hook === 'filter-input' ? 'filter-output' : hook === 'filter-output' ? 'filter-input' : hook;
      }
    } else if (ct === 'established' && reply) ct = 'reply';
    copyWords(f.src.words, src);
    copyWords(f.dst.words, dst);
    copyWords(f.preDnatDst.words, dst);
    f.preDnatDport = f.dport;
    f.ctState = ct;
    switch (evalHook) {
      case 'filter-input':
        f.path = 'local-in';
        break;
      case 'filter-forward':
        f.path = 'forward';
        break;
      case 'raw-output':
      case 'filter-output':
      case 'mangle-postrouting':
        f.path = 'local-out';
        break;
      default:
        f.path = 'local-in';
    }
    f.iif = f.path === 'local-out' ? null : iif;
    f.oif = f.path === 'local-in' ? null : oif;
    const acceptMark = (mark & L.accept) !== 0;
    const d = policy.decideHook(evalHook, f, acceptMark);
    o.decision = d;
    // In packet mode the flow table is the only memory of a flow's verdict. An established flow it
    // does not know (evicted from a full table, or open before the daemon started) is accepted
    // before policy, as Calico does, and remembered under this generation, so that a reload
    // judges it again like every other open flow.
    const unknownEstablished = this.opts.mode === 'packet' && flow !== null && flow.decision === null && (ct === 'established' || ct === 'reply');
    if (flow !== null && (ct === 'new' || o.rejudged || unknownEstablished) && d.action !== 'continue') {
      // Remember the flow's verdict and why; the object is reused per flow to keep memory flat.
      const verdict = d.action === 'drop' ? NF_DROP : NF_ACCEPT;
      const rec = flow.decision ?? { hook, verdict, rule: d.decidedBy.rule, endpoint: d.decidedBy.endpoint, chain: d.decidedBy.chain };
      rec.hook = hook;
      rec.verdict = verdict;
      rec.rule = d.decidedBy.rule;
      rec.endpoint = d.decidedBy.endpoint;
      rec.chain = d.decidedBy.chain;
      flow.decision = rec;
      flow.verdict = verdict;
      flow.generation = o.generation;
    }
    // Final hooks store the flow's verdict in the ct mark by a repeat (dataplane/plan.ts contract):
    // the stage chain's store rule copies DECIDED|DROP|GEN into the ct mark and accepts or drops.
    const storable = isFilterHook(hook) && (ct === 'new' || o.rejudged);
    const stored = (drop: boolean) => (L.decided | (drop ? L.drop : 0) | generationBits(L, o.generation)) >>> 0;
    const storeMask = (L.decided | L.drop | L.generationMask) >>> 0;
    if (d.action === 'drop') {
      // A new flow's deny cannot be stored (its conntrack entry is never confirmed); a re-judged
      // established flow's can, so the kernel drops the rest of it.
      if (!o.rejudged || (mark & storeMask) === stored(true)) return this.finish(NF_DROP);
      o.mark = mergeMark(L, mark, (mark & L.mask & ~storeMask) | stored(true));
      return this.finish(NF_REPEAT);
    }
    if (d.action === 'accept') {
      if (!storable || this.opts.mode === 'packet' && !o.rejudged && ct !== 'new') return this.finish(NF_ACCEPT);
      // Loop guard: the packet came back with our bits already set (a plan swap in progress).
      if ((mark & storeMask) === stored(false)) return this.finish(NF_ACCEPT);
      o.mark = mergeMark(L, mark, (mark & L.mask & ~storeMask) | stored(false));
      return this.finish(NF_REPEAT);
    }
    // continue: an earlier stage (raw / mangle prerouting) let the packet go on.
    if (d.untrack) {
      o.mark = mergeMark(L, mark, L.untrack | L.accept);
      return this.finish(NF_REPEAT);
    }
    if (d.acceptMark) o.mark = mergeMark(L, mark, (mark & L.mask) | L.accept);
    return this.finish(NF_ACCEPT);
  }

  /**
   * Remove a flow from the table. The last entry is emptied instead of deleted: lru-cache empties
   * itself by refilling its backing arrays (cost proportional to the capacity), which at one flow
   * at a time (a SYN flood to a denied port) would cost far more than the packet.
   */
  private forget(flow: FlowEntry<FlowDecision>): void {
    if (this.flows.size > 1) {
      this.flows.delete(flow);
      return;
    }
    flow.decision = null;
    flow.verdict = -1;
    flow.generation = -1;
  }

  private finish(verdict: NfVerdict): PacketOutcome {
    this.out.verdict = verdict;
    if (verdict === NF_ACCEPT) this.counters.accepted++;
    else if (verdict === NF_DROP) this.counters.dropped++;
    else this.counters.repeated++;
    return this.out;
  }
}

function copyWords(to: number[], from: ArrayLike<number>): void {
  to[0] = from[0]!;
  to[1] = from[1]!;
  to[2] = from[2]!;
  to[3] = from[3]!;
}
