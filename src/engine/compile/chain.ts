/**
 * A compiled endpoint chain: the tiers → policies → rules that apply to one endpoint, for one policy
 * class, direction and IP family, flattened into one array in evaluation order (§4.3), plus an index
 * by (protocol, destination port) so a packet only visits rules that can match it.
 *
 * Evaluation keeps Calico's semantics exactly: rules are tried in order; Log records and continues;
 * Allow/Deny end the chain; Pass jumps past the rest of its tier; at the end of a tier that had
 * policies, the tier's default action applies (Deny = end-of-tier drop, Pass = next tier).
 */
import type { RuleRef } from '../decision';
import type { CompiledRule, MatchInput } from './rule-compiler';
import { ruleMatches } from './rule-compiler';
import type { IpFamily } from '../../net/ip';
import { cmpWords, successor } from '../../net/prefix-set';

export interface TierEnd {
  /** True when falling off this tier continues with the next one (defaultAction Pass, or preDNAT/untracked). */
  pass: boolean;
  ref: RuleRef;
}

/** One position of the flattened chain: a rule (with the position of its tier's end) or a tier end. */
export type ChainEntry = { rule: CompiledRule; tierEnd: number; end: null } | { rule: null; tierEnd: number; end: TierEnd };

export const OUTCOME_NONE = 0;
export const OUTCOME_ALLOW = 1;
export const OUTCOME_DENY = 2;
export type ChainOutcome = typeof OUTCOME_NONE | typeof OUTCOME_ALLOW | typeof OUTCOME_DENY;

/** Mutable result slot, reused across packets to avoid allocation on the hot path. */
export interface ChainResult {
  outcome: ChainOutcome;
  ref: RuleRef | null;
  /** Log rules hit (only collected when the caller passes an array). */
  logs: RuleRef[] | null;
}

const INDEX_THRESHOLD = 12;
const MAX_SEGMENTS_PER_RANGE = 64;

interface PortIndex {
  /** Segment start ports, ascending; segment i covers [starts[i], starts[i+1]). */
  starts: Int32Array;
  /** Positions per segment. */
  segments: Int32Array[];
}

/** Source-address segments: boundaries as 4-word keys (flat), positions per segment. */
interface SourceIndex {
  bounds: Uint32Array;
  count: number;
  segments: Int32Array[];
}

const EMPTY: Int32Array = new Int32Array(0);

export class CompiledChain {
  readonly entries: ChainEntry[];
  /** At least one tier takes part (a policy of the class selects the endpoint in this direction). */
  readonly hasTiers: boolean;
  /** Positions every packet visits: tier ends and rules no index can narrow. */
  private readonly always: Int32Array | null = null;
  private readonly byPort: Map<number, PortIndex> | null = null;
  private readonly bySource: SourceIndex | null = null;

  /** `indexThreshold`: chains at least this long get the index (tests pass Infinity to compare). */
  constructor(entries: ChainEntry[], hasTiers: boolean, family: IpFamily, indexThreshold = INDEX_THRESHOLD) {
    this.entries = entries;
    this.hasTiers = hasTiers;
    if (entries.length >= indexThreshold) {
      const built = buildIndex(entries, family);
      this.always = built.always;
      this.byPort = built.byPort;
      this.bySource = built.bySource;
    }
  }

  /** Evaluate the tiers; `res.outcome` NONE means every tier passed (or there were none). */
  evaluate(p: MatchInput, res: ChainResult): void {
    res.outcome = OUTCOME_NONE;
    res.ref = null;
    if (this.always === null) {
      this.linear(p, res);
      return;
    }
    const a = this.always;
    const b = this.bySource === null ? EMPTY : sourceSegment(this.bySource, p.src);
    const pi = this.byPort!.get(p.proto);
    const c = pi !== undefined && p.dport >= 0 ? portSegment(pi, p.dport) : EMPTY;
    // Three-way merge of ascending position lists; `floor` skips positions passed by a Pass.
    let ia = 0;
    let ib = 0;
    let ic = 0;
    let floor = -1;
    const entries = this.entries;
    for (;;) {
      const va = ia < a.length ? a[ia]! : 0x7fffffff;
      const vb = ib < b.length ? b[ib]! : 0x7fffffff;
      const vc = ic < c.length ? c[ic]! : 0x7fffffff;
      let pos: number;
      if (va <= vb && va <= vc) {
        pos = va;
        ia++;
        if (vb === pos) ib++;
        if (vc === pos) ic++;
      } else if (vb <= vc) {
        pos = vb;
        ib++;
        if (vc === pos) ic++;
      } else {
        pos = vc;
        ic++;
      }
      if (pos === 0x7fffffff) return;
      if (pos <= floor) continue;
      const r = this.step(entries[pos]!, p, res);
      if (r === STEP_DONE) return;
      if (r >= 0) floor = r;
    }
  }

  private linear(p: MatchInput, res: ChainResult): void {
    const entries = this.entries;
    let i = 0;
    while (i < entries.length) {
      const r = this.step(entries[i]!, p, res);
      if (r === STEP_DONE) return;
      i = r >= 0 ? r + 1 : i + 1;
    }
  }

  /** Returns STEP_DONE, STEP_NEXT, or the position of a tier end to jump past (Pass). */
  private step(e: ChainEntry, p: MatchInput, res: ChainResult): number {
    if (e.rule === null) {
      if (e.end.pass) return STEP_NEXT;
      res.outcome = OUTCOME_DENY;
      res.ref = e.end.ref;
      return STEP_DONE;
    }
    const rule = e.rule;
    if (!ruleMatches(rule, p)) return STEP_NEXT;
    switch (rule.action) {
      case 'Allow':
        res.outcome = OUTCOME_ALLOW;
        res.ref = rule.ref;
        return STEP_DONE;
      case 'Deny':
        res.outcome = OUTCOME_DENY;
        res.ref = rule.ref;
        return STEP_DONE;
      case 'Log':
        if (res.logs !== null) res.logs.push(rule.ref);
        return STEP_NEXT;
      case 'Pass':
        return e.tierEnd;
    }
  }
}

const STEP_DONE = -2;
const STEP_NEXT = -1;

function portSegment(pi: PortIndex, port: number): Int32Array {
  const s = pi.starts;
  let lo = 0;
  let hi = s.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (s[mid]! <= port) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found < 0 ? EMPTY : pi.segments[found]!;
}

function sourceSegment(si: SourceIndex, addr: ArrayLike<number>): Int32Array {
  let lo = 0;
  let hi = si.count - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (cmpWords(si.bounds, 4 * mid, addr, 0) <= 0) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found < 0 ? EMPTY : si.segments[found]!;
}

/**
 * Index positions by destination port (per protocol) where a rule constrains numeric ports, else by
 * source address where it has source nets; everything else (and every tier end) is always visited.
 * The index only narrows which rules are tried: each is still matched in full, in chain order.
 */
function buildIndex(entries: ChainEntry[], family: IpFamily): { always: Int32Array; byPort: Map<number, PortIndex>; bySource: SourceIndex | null } {
  const always: number[] = [];
  const ported = new Map<number, { pos: number; ranges: { min: number; max: number }[] }[]>();
  const sourced: { pos: number; ranges: { start: number[]; end: number[] }[] }[] = [];
  entries.forEach((e, pos) => {
    const rule = e.rule;
    if (rule === null) return void always.push(pos);
    if (rule.proto >= 0 && rule.dstPortIndexable !== null && rule.dstPortIndexable.rangeCount <= 8) {
      const list = ported.get(rule.proto) ?? [];
      list.push({ pos, ranges: [...rule.dstPortIndexable.each()] });
      ported.set(rule.proto, list);
    } else if (rule.src.nets !== null && rule.src.nets.rangeCount > 0 && rule.src.nets.rangeCount <= 8) {
      sourced.push({ pos, ranges: rule.src.nets.ranges() });
    } else always.push(pos);
  });
  const byPort = new Map<number, PortIndex>();
  for (const [proto, list] of ported) {
    const cuts = new Set<number>([0]);
    for (const r of list) for (const x of r.ranges) {
      cuts.add(x.min);
      if (x.max < 65535) cuts.add(x.max + 1);
    }
    const starts = Int32Array.from([...cuts].sort((x, y) => x - y));
    const lists: number[][] = Array.from({ length: starts.length }, () => []);
    for (const r of list) {
      const segs: number[] = [];
      for (const x of r.ranges) {
        let i = lowerBound(starts, x.min);
        while (i < starts.length && starts[i]! <= x.max) segs.push(i++);
      }
      // A rule spanning very many segments would bloat the index; visiting it always is cheaper.
      if (segs.length > MAX_SEGMENTS_PER_RANGE) always.push(r.pos);
      else for (const i of segs) lists[i]!.push(r.pos);
    }
    byPort.set(proto, { starts, segments: lists.map((l) => Int32Array.from(l)) });
  }
  let bySource: SourceIndex | null = null;
  if (sourced.length > 0) {
    const keys = new Map<string, number[]>();
    const zero = [0, 0, 0, 0];
    keys.set(zero.join('.'), zero);
    for (const r of sourced) for (const x of r.ranges) {
      keys.set(x.start.join('.'), x.start);
      const next = successor(x.end, family);
      if (next) keys.set(next.join('.'), next);
    }
    const sorted = [...keys.values()].sort((x, y) => cmpWords(x, 0, y, 0));
    const bounds = new Uint32Array(sorted.length * 4);
    sorted.forEach((k, i) => bounds.set(k, 4 * i));
    const lists: number[][] = Array.from({ length: sorted.length }, () => []);
    const find = (w: number[]): number => {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cmpWords(sorted[mid]!, 0, w, 0) < 0) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    for (const r of sourced) {
      const segs: number[] = [];
      for (const x of r.ranges) {
        let i = find(x.start);
        while (i < sorted.length && cmpWords(sorted[i]!, 0, x.end, 0) <= 0) segs.push(i++);
      }
      if (segs.length > MAX_SEGMENTS_PER_RANGE) always.push(r.pos);
      else for (const i of segs) lists[i]!.push(r.pos);
    }
    bySource = { bounds, count: sorted.length, segments: lists.map((l) => Int32Array.from(l)) };
  }
  always.sort((x, y) => x - y);
  return { always: Int32Array.from(always), byPort, bySource };
}

function lowerBound(a: Int32Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
