/**
 * Offline replay: judge captured packets exactly as the live daemon would have judged them.
 *
 * Each record goes link-layer parse -> direction (host model) -> flow table (on the capture's
 * clock) -> engine, with the flow table's conntrack state as the packet's ctState, so Calico's
 * conntrack semantics apply (calico-semantics.md §5.9): replies and later packets of an allowed
 * flow are ESTABLISHED and pass, ICMP errors about a flow are RELATED.
 *
 * The kernel confirms a conntrack entry only when the packet that created it leaves the host. A
 * first packet that policy drops therefore leaves no entry behind: its retransmit is NEW again and
 * judged again (with the same verdict). The same holds for a packet untracked by a doNotTrack
 * Allow. Both are modelled by deleting the entry the packet created.
 *
 * Pure: no I/O. The caller reads the capture and hands over records in order; several captures
 * can be fed one after the other as one stream (one flow table, one clock).
 */
import { FlowDir, FlowStatus, FlowTable, TrackState, ctStateOf, tcpStateName, type ConntrackTimeouts, type FlowEntry } from '../conntrack';
import type { Decision } from '../engine/compiled-policy';
import type { Judgement, StepOutcome } from '../engine/decision';
import type { HostModel } from '../engine/host-model';
import type { CtState, PacketFacts, PacketPath } from '../engine/packet-facts';
import type { IpAddress } from '../net/ip';
import { IpProto, ParseStatus, createPacketView, parseLinkLayer, parseStatusName, type PacketView } from '../packet';
import type { PcapRecord } from '../pcap';
import { linkTypeName } from '../pcap';
import { HostDirection, createDirectionOut, type DirectionOut, type InterfaceMap } from './direction';

/**
 * What happened to a packet. `allow`/`deny` come from the engine; `parse-error` (dropped: the
 * bytes are not a well-formed IP packet, or were cut by the snaplen), `not-ip` (ARP, LLDP, ...:
 * never queued to the firewall, so it passes) and `no-route` (dropped: the host model has no
 * route for it, see direction.ts) are decided before the engine.
 */
export type PacketVerdict = 'allow' | 'deny' | 'parse-error' | 'not-ip' | 'no-route';

/** Whether a verdict means the packet would have been dropped. */
export function isDropVerdict(v: PacketVerdict): boolean {
  return v === 'deny' || v === 'parse-error' || v === 'no-route';
}

/** The record fields replay reads (a PcapRecord has them all). */
export type ReplayRecord = Pick<
  PcapRecord,
  'timestampNs' | 'timestampMs' | 'hasTimestamp' | 'interfaceIndex' | 'interfaceName' | 'linkType' | 'capturedLength' | 'originalLength' | 'truncated' | 'data'
>;

/** The policy side: `judge` for explained verdicts, optionally the allocation-free `decide`. */
export interface ReplayPolicy {
  judge(facts: PacketFacts): Judgement;
  decide?(facts: PacketFacts): Decision;
}

/** How a flow row ended (or `open` while its conntrack entry lives). */
export type FlowEnd = 'open' | 'expired' | 'closed' | 'evicted' | 'unconfirmed' | 'untracked' | 'stateless';

/**
 * One row of the per-flow summary: a conntrack flow (or, for packets conntrack does not track,
 * one directed tuple). A denied flow's retransmits stay on the row of its first attempt.
 */
export interface FlowRecord {
  /** 1-based, in order of first packet. */
  id: number;
  firstIndex: number;
  /** Which input (capture file) the first packet came from. */
  firstInput: number;
  firstTimeMs: number;
  lastTimeMs: number;
  family: 4 | 6;
  proto: number;
  src: IpAddress;
  dst: IpAddress;
  sport: number;
  dport: number;
  icmpType: number;
  icmpCode: number;
  /** Of the first packet. */
  path: PacketPath;
  iif: string | null;
  oif: string | null;
  ctState: CtState;
  /** Verdict of the flow's first packet. */
  verdict: 'allow' | 'deny';
  noVerdict: boolean;
  decidedBy: StepOutcome;
  packetsOriginal: number;
  bytesOriginal: number;
  packetsReply: number;
  bytesReply: number;
  /** Packets of the flow that were allowed / dropped, both directions. */
  allowed: number;
  denied: number;
  /** ICMP errors counted on the flow (RELATED). */
  related: number;
  /** Times a packet of the flow was judged as NEW (retransmits of a denied first packet, ...). */
  attempts: number;
  /** Conntrack details as last seen: TcpState (TCP, else -1) and FlowStatus bits. */
  tcpState: number;
  status: number;
  end: FlowEnd;
  /** Orientation of the conntrack entry (FlowStatus.ORIGINAL_SRC_LOW), to recognise a retransmit. */
  origSrcLow: boolean;
}

/** Per-packet outcome. The object and everything it points to are reused by the next packet. */
export interface PacketResult {
  /** 0-based across all inputs. */
  index: number;
  input: number;
  record: ReplayRecord;
  timeMs: number;
  verdict: PacketVerdict;
  /** ParseStatus name for parse-error (TRUNCATED, BAD_L4_HEADER, UNSUPPORTED_LINK_TYPE, ...); '' otherwise. */
  status: string;
  /** Why a packet was not judged (parse-error, no-route, not-ip); '' for judged packets. */
  reason: string;
  /** The engine's parsed view (valid for everything but not-ip and parse-error). */
  view: PacketView;
  /** The engine's input (valid when `judged`). */
  facts: PacketFacts;
  direction: DirectionOut;
  judged: boolean;
  ctState: CtState | null;
  noVerdict: boolean;
  untracked: boolean;
  /** The deciding step; when `judgement` is null it is a reused object: copy it to keep it. */
  decidedBy: StepOutcome | null;
  /** The full explanation: for NEW / INVALID / UNTRACKED packets, and for every packet with `explain`. */
  judgement: Judgement | null;
  flow: FlowRecord | null;
  /** IP datagram length (judged packets) or captured length. */
  length: number;
}

export interface ReplayStats {
  packets: number;
  allowed: number;
  denied: number;
  parseErrors: number;
  notIp: number;
  noRoute: number;
  /** parse-error packets by ParseStatus name. */
  parseErrorsByStatus: Record<string, number>;
  /** Link types the parser does not know, with their packet counts. */
  unsupportedLinkTypes: Record<string, number>;
  /** Packets judged with a full trace (NEW, INVALID, UNTRACKED, or all with explain). */
  judgedFull: number;
  /** Packets judged through the fast path (established / reply / related). */
  judgedFast: number;
  flows: number;
}

export interface ReplayEngineOptions {
  interfaceMap?: InterfaceMap;
  /** Conntrack timeout overrides in seconds, by sysctl name. */
  timeouts?: Partial<ConntrackTimeouts>;
  /** Flow table size (nf_conntrack_max); default 1,048,576. */
  conntrackMax?: number;
  /** nf_conntrack_tcp_loose (default true, as the kernel). */
  tcpLoose?: boolean;
  /** Build a full Judgement (every step) for every packet, not only for packets of new flows. */
  explain?: boolean;
}

export const DEFAULT_REPLAY_CONNTRACK_MAX = 1 << 20;

/** How long a datagram's fragments are awaited (net.ipv4.ipfrag_time / ipv6 ip6frag_time). */
const FRAGMENT_TIMEOUT_MS = 30_000;

/** What became of a datagram's first fragment. */
interface FragmentFate {
  timeMs: number;
  index: number;
  allow: boolean;
  ctState: CtState;
  noVerdict: boolean;
  untracked: boolean;
  decidedBy: StepOutcome;
  row: FlowRecord;
  replyDir: boolean;
}

/** Remove expired flows every this many packets, a bounded number at a time. */
const SWEEP_EVERY = 4096;
const SWEEP_BUDGET = 1024;

function zeroAddress(): IpAddress {
  return { family: 4, words: [0, 0, 0, 0] };
}

export class ReplayEngine {
  readonly stats: ReplayStats = {
    packets: 0,
    allowed: 0,
    denied: 0,
    parseErrors: 0,
    notIp: 0,
    noRoute: 0,
    parseErrorsByStatus: {},
    unsupportedLinkTypes: {},
    judgedFull: 0,
    judgedFast: 0,
    flows: 0,
  };
  readonly table: FlowTable<FlowRecord>;
  private readonly policy: ReplayPolicy;
  private readonly direction: HostDirection;
  private readonly explain: boolean;
  private readonly view: PacketView = createPacketView();
  private readonly dir: DirectionOut = createDirectionOut();
  private readonly facts: PacketFacts;
  private readonly out: PacketResult;
  private readonly rows: FlowRecord[] = [];
  /** Latest row per conntrack key, to keep a denied flow's retransmits on one row. */
  private readonly rowByKey = new Map<string, FlowRecord>();
  /** Rows of packets conntrack does not track (INVALID, UNTRACKED), by directed tuple. */
  private readonly statelessRows = new Map<string, FlowRecord>();
  /** First fragments seen, by datagram: later fragments share their fate (see `fragment`). */
  private readonly fragments = new Map<string, FragmentFate>();
  private now = -Infinity;
  private sinceSweep = 0;

  constructor(policy: ReplayPolicy, host: HostModel, options: ReplayEngineOptions = {}) {
    this.policy = policy;
    this.direction = new HostDirection(host, options.interfaceMap);
    this.explain = options.explain === true;
    const ended = (end: FlowEnd) => (entry: FlowEntry<FlowRecord>) => {
      const row = entry.decision;
      if (row !== null && row.end === 'open') {
        row.end = end;
        row.tcpState = entry.proto === IpProto.TCP ? entry.tcpState : -1;
        row.status = entry.status;
      }
      entry.decision = null;
    };
    this.table = new FlowTable<FlowRecord>({
      capacity: options.conntrackMax ?? DEFAULT_REPLAY_CONNTRACK_MAX,
      timeouts: options.timeouts ?? {},
      tcpLoose: options.tcpLoose ?? true,
      onExpire: ended('expired'),
      onClose: ended('closed'),
      onEvict: ended('evicted'),
    });
    const dst = zeroAddress();
    this.facts = {
      path: 'forward',
      iif: null,
      oif: null,
      family: 4,
      proto: 0,
      src: zeroAddress(),
      dst,
      sport: -1,
      dport: -1,
      icmpType: -1,
      icmpCode: -1,
      ctState: 'new',
      // Replay sees addresses as captured: no DNAT is modelled, so the original destination is the destination.
      preDnatDst: dst,
      preDnatDport: -1,
    };
    this.out = {
      index: 0,
      input: 0,
      record: undefined as unknown as ReplayRecord,
      timeMs: 0,
      verdict: 'not-ip',
      status: '',
      reason: '',
      view: this.view,
      facts: this.facts,
      direction: this.dir,
      judged: false,
      ctState: null,
      noVerdict: false,
      untracked: false,
      decidedBy: null,
      judgement: null,
      flow: null,
      length: 0,
    };
  }

  /** The replay clock (ms): the latest capture timestamp seen; it never goes backwards. */
  get clock(): number {
    return this.now;
  }

  /** Judge one capture record of input `input`. The result is overwritten by the next call. */
  process(rec: ReplayRecord, input = 0): PacketResult {
    const r = this.out;
    const stats = this.stats;
    r.index = stats.packets++;
    r.input = input;
    r.record = rec;
    r.status = '';
    r.reason = '';
    r.judged = false;
    r.ctState = null;
    r.noVerdict = false;
    r.untracked = false;
    r.decidedBy = null;
    r.judgement = null;
    r.flow = null;
    r.length = rec.capturedLength;
    // Concatenated captures may overlap in time, and Simple Packet Blocks carry no timestamp:
    // the flow table's clock only moves forward.
    if (rec.hasTimestamp && rec.timestampMs > this.now) this.now = rec.timestampMs;
    if (this.now === -Infinity) this.now = 0;
    const now = this.now;
    r.timeMs = rec.hasTimestamp ? rec.timestampMs : now;

    const view = this.view;
    const st = parseLinkLayer(rec.data, rec.linkType, view);
    if (st !== ParseStatus.OK) {
      if (st === ParseStatus.NOT_IP) {
        r.verdict = 'not-ip';
        r.reason = view.etherType >= 0 ? `ethertype 0x${view.etherType.toString(16).padStart(4, '0')}` : 'not an IP packet';
        stats.notIp++;
        return r;
      }
      return this.parseError(r, st, rec);
    }
    r.length = view.totalLength;

    const dir = this.dir;
    const family = view.family as 4 | 6;
    if (!this.direction.resolve(family, view.src, view.dst, rec.interfaceName, rec.interfaceIndex, dir)) {
      r.verdict = 'no-route';
      r.reason = dir.problem;
      stats.noRoute++;
      return r;
    }

    if (++this.sinceSweep >= SWEEP_EVERY) {
      this.sinceSweep = 0;
      this.table.sweep(now, SWEEP_BUDGET);
      this.expireFragments(now);
    }
    if (view.fragment && view.fragOffset > 0 && this.laterFragment(r, now)) return r;
    const track = this.table.track(view, now);
    const ct = ctStateOf(track.state, track.dir);
    const f = this.fillFacts(ct);
    r.ctState = ct;
    r.judged = true;

    let allow: boolean;
    let decidedBy: StepOutcome;
    const decide = this.policy.decide;
    if (this.explain || decide === undefined || ct === 'new' || ct === 'invalid' || ct === 'untracked') {
      const j = this.policy.judge(f);
      r.judgement = j;
      allow = j.verdict === 'allow';
      r.noVerdict = j.noVerdict;
      r.untracked = j.untracked;
      decidedBy = j.decidedBy;
      stats.judgedFull++;
    } else {
      const d = decide.call(this.policy, f);
      allow = d.verdict === 'allow';
      r.noVerdict = d.noVerdict;
      r.untracked = d.untracked;
      decidedBy = d.decidedBy;
      stats.judgedFast++;
    }
    r.decidedBy = decidedBy;
    r.verdict = allow ? 'allow' : 'deny';
    if (allow) stats.allowed++;
    else stats.denied++;

    // The per-flow row.
    const entry = track.entry;
    let row: FlowRecord;
    let replyDir = false;
    if (entry !== null && (track.state !== TrackState.INVALID || view.proto === IpProto.TCP)) {
      if (track.created) row = this.rowForNewEntry(entry, r, decidedBy);
      else row = entry.decision ?? this.attachRow(entry, r, decidedBy);
      replyDir = track.dir === FlowDir.REPLY;
      row.tcpState = view.proto === IpProto.TCP ? entry.tcpState : -1;
      row.status = entry.status;
      if (track.state === TrackState.RELATED) row.related++;
      if (track.created && (!allow || r.untracked)) {
        // Never confirmed: a dropped first packet, or one a doNotTrack Allow untracked.
        this.table.delete(entry);
        entry.decision = null;
        row.end = allow ? 'untracked' : 'unconfirmed';
      }
    } else row = this.statelessRow(r, decidedBy);
    if (replyDir) {
      row.packetsReply++;
      row.bytesReply += view.totalLength;
    } else {
      row.packetsOriginal++;
      row.bytesOriginal += view.totalLength;
    }
    if (allow) row.allowed++;
    else row.denied++;
    if (ct === 'new') row.attempts++;
    row.lastTimeMs = r.timeMs;
    r.flow = row;
    if (view.fragment && view.fragOffset === 0) {
      this.fragments.set(fragmentKey(view), {
        timeMs: now,
        index: r.index,
        allow,
        ctState: ct,
        noVerdict: r.noVerdict,
        untracked: r.untracked,
        decidedBy: r.judgement !== null ? decidedBy : { ...decidedBy },
        row,
        replyDir,
      });
    }
    return r;
  }

  /**
   * A non-first fragment. The kernel reassembles fragments before conntrack and NFQUEUE
   * (nf_defrag), so the firewall judges the whole datagram once, by its first fragment's
   * headers: a later fragment shares that fragment's fate. Returns false when the first fragment
   * was not seen (arrived late, or lost): the fragment is then judged alone (conntrack: UNTRACKED).
   */
  private laterFragment(r: PacketResult, now: number): boolean {
    const view = this.view;
    const key = fragmentKey(view);
    const fate = this.fragments.get(key);
    if (fate === undefined || now - fate.timeMs > FRAGMENT_TIMEOUT_MS) return false;
    if (!view.moreFragments) this.fragments.delete(key);
    this.fillFacts(fate.ctState);
    r.ctState = fate.ctState;
    r.judged = true;
    r.noVerdict = fate.noVerdict;
    r.untracked = fate.untracked;
    r.decidedBy = fate.decidedBy;
    r.verdict = fate.allow ? 'allow' : 'deny';
    r.reason = `fragment of packet #${fate.index}`;
    if (fate.allow) this.stats.allowed++;
    else this.stats.denied++;
    const row = fate.row;
    if (fate.replyDir) {
      row.packetsReply++;
      row.bytesReply += view.totalLength;
    } else {
      row.packetsOriginal++;
      row.bytesOriginal += view.totalLength;
    }
    if (fate.allow) row.allowed++;
    else row.denied++;
    row.lastTimeMs = r.timeMs;
    r.flow = row;
    return true;
  }

  private expireFragments(now: number): void {
    // Insertion order is time order: stop at the first one still awaited.
    for (const [key, fate] of this.fragments) {
      if (now - fate.timeMs <= FRAGMENT_TIMEOUT_MS) break;
      this.fragments.delete(key);
    }
  }

  /** The engine's input for the parsed packet and its direction. */
  private fillFacts(ct: CtState): PacketFacts {
    const view = this.view;
    const dir = this.dir;
    const family = view.family as 4 | 6;
    const f = this.facts;
    f.path = dir.path;
    f.iif = dir.iif;
    f.oif = dir.oif;
    f.family = family;
    f.proto = view.proto;
    const sw = f.src.words;
    const dw = f.dst.words;
    const vs = view.src;
    const vd = view.dst;
    f.src.family = family;
    f.dst.family = family;
    sw[0] = vs[0];
    sw[1] = vs[1];
    sw[2] = vs[2];
    sw[3] = vs[3];
    dw[0] = vd[0];
    dw[1] = vd[1];
    dw[2] = vd[2];
    dw[3] = vd[3];
    f.sport = view.sport;
    f.dport = view.dport;
    f.preDnatDport = view.dport;
    f.icmpType = view.icmpType;
    f.icmpCode = view.icmpCode;
    f.ctState = ct;
    return f;
  }

  private parseError(r: PacketResult, st: number, rec: ReplayRecord): PacketResult {
    const stats = this.stats;
    const name = parseStatusName(st);
    r.verdict = 'parse-error';
    r.status = name;
    stats.parseErrors++;
    stats.parseErrorsByStatus[name] = (stats.parseErrorsByStatus[name] ?? 0) + 1;
    if (st === ParseStatus.UNSUPPORTED_LINK_TYPE) {
      const lt = linkTypeName(rec.linkType);
      stats.unsupportedLinkTypes[lt] = (stats.unsupportedLinkTypes[lt] ?? 0) + 1;
      r.reason = `link type ${lt} (${rec.linkType}) is not supported`;
    } else if (st === ParseStatus.TRUNCATED && rec.truncated) {
      r.reason = `cut by the capture snaplen (${rec.capturedLength} of ${rec.originalLength} bytes captured)`;
    } else if (st === ParseStatus.TRUNCATED) {
      r.reason = `headers run past the ${rec.capturedLength} captured bytes`;
    } else r.reason = `malformed packet (${name})`;
    return r;
  }

  private newRow(r: PacketResult, decidedBy: StepOutcome): FlowRecord {
    const v = this.view;
    const f = this.facts;
    const family = f.family;
    const row: FlowRecord = {
      id: this.rows.length + 1,
      firstIndex: r.index,
      firstInput: r.input,
      firstTimeMs: r.timeMs,
      lastTimeMs: r.timeMs,
      family,
      proto: f.proto,
      src: { family, words: [v.src[0], v.src[1], v.src[2], v.src[3]] },
      dst: { family, words: [v.dst[0], v.dst[1], v.dst[2], v.dst[3]] },
      sport: f.sport,
      dport: f.dport,
      icmpType: f.icmpType,
      icmpCode: f.icmpCode,
      path: f.path,
      iif: f.iif,
      oif: f.oif,
      ctState: f.ctState,
      verdict: r.verdict === 'allow' ? 'allow' : 'deny',
      noVerdict: r.noVerdict,
      // fast-path steps are reused objects: keep a copy
      decidedBy: r.judgement !== null ? decidedBy : { ...decidedBy },
      packetsOriginal: 0,
      bytesOriginal: 0,
      packetsReply: 0,
      bytesReply: 0,
      allowed: 0,
      denied: 0,
      related: 0,
      attempts: 0,
      tcpState: -1,
      status: 0,
      end: 'open',
      origSrcLow: false,
    };
    this.rows.push(row);
    this.stats.flows++;
    return row;
  }

  /**
   * A packet created a conntrack entry: a new row, or the row of the same flow's earlier packet
   * that left no entry (a denied attempt, an untracked packet) when this one is sent the same way
   * and gets the same verdict.
   */
  private rowForNewEntry(entry: FlowEntry<FlowRecord>, r: PacketResult, decidedBy: StepOutcome): FlowRecord {
    const origSrcLow = (entry.status & FlowStatus.ORIGINAL_SRC_LOW) !== 0;
    const prev = this.rowByKey.get(entry.key);
    if (prev !== undefined && (prev.end === 'unconfirmed' || prev.end === 'untracked') && prev.origSrcLow === origSrcLow && r.verdict === prev.verdict) {
      prev.end = 'open';
      entry.decision = prev;
      return prev;
    }
    return this.attachRow(entry, r, decidedBy);
  }

  private attachRow(entry: FlowEntry<FlowRecord>, r: PacketResult, decidedBy: StepOutcome): FlowRecord {
    const row = this.newRow(r, decidedBy);
    row.origSrcLow = (entry.status & FlowStatus.ORIGINAL_SRC_LOW) !== 0;
    entry.decision = row;
    this.rowByKey.set(entry.key, row);
    return row;
  }

  /** Packets without a conntrack entry (INVALID, UNTRACKED): one row per directed tuple and state. */
  private statelessRow(r: PacketResult, decidedBy: StepOutcome): FlowRecord {
    const f = this.facts;
    const s = f.src.words;
    const d = f.dst.words;
    const key = `${f.ctState}|${f.family}|${f.proto}|${s[0]},${s[1]},${s[2]},${s[3]}|${d[0]},${d[1]},${d[2]},${d[3]}|${f.sport}|${f.dport}|${f.icmpType}|${f.icmpCode}|${r.verdict}`;
    let row = this.statelessRows.get(key);
    if (row === undefined) {
      row = this.newRow(r, decidedBy);
      row.end = 'stateless';
      this.statelessRows.set(key, row);
    }
    return row;
  }

  /**
   * End of input: flows whose timeout passed by the last packet's time are marked expired.
   * Returns every flow row in order of first packet.
   */
  finish(): FlowRecord[] {
    const stale: FlowEntry<FlowRecord>[] = [];
    for (const entry of this.table.entries()) stale.push(entry);
    // peek expires (and reports) an entry idle past its timeout at the final clock.
    for (const entry of stale) this.table.peek(entry.key, this.now);
    return this.rows;
  }

  /** Flow rows so far, in order of first packet. */
  get flows(): readonly FlowRecord[] {
    return this.rows;
  }
}

/** Last conntrack state of a flow row, e.g. `ESTABLISHED`, `TIME_WAIT, expired`, `ASSURED`, `unconfirmed`. */
export function flowStateText(row: FlowRecord): string {
  if (row.end === 'unconfirmed' || row.end === 'untracked') return row.end;
  if (row.end === 'stateless') return row.ctState;
  let s: string;
  if (row.tcpState >= 0) s = tcpStateName(row.tcpState);
  else if (row.status & FlowStatus.ASSURED) s = 'ASSURED';
  else if (row.status & FlowStatus.SEEN_REPLY) s = 'REPLIED';
  else s = 'UNREPLIED';
  return row.end === 'open' ? s : `${s}, ${row.end}`;
}

/** A datagram's identity for reassembly: family, protocol, addresses, identification. */
function fragmentKey(v: PacketView): string {
  const s = v.src;
  const d = v.dst;
  return `${v.family}|${v.proto}|${v.fragId}|${s[0]},${s[1]},${s[2]},${s[3]}|${d[0]},${d[1]},${d[2]},${d[3]}`;
}
