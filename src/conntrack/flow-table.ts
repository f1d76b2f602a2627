/**
 * The engine's own connection tracking table.
 *
 * `track(view, now)` classifies a parsed packet the way Linux conntrack would (NEW, ESTABLISHED,
 * RELATED, INVALID, UNTRACKED, plus the direction) and updates the flow entry. Entries carry a
 * verdict slot, the policy generation it was decided under and an opaque decision reference that
 * the engine fills, so later packets of a decided flow can skip policy evaluation.
 *
 * Size is bounded by `lru-cache` (least recently active flow is evicted, counted and reported).
 * Time only enters through `now` (milliseconds): entries keep their last-seen time, expire lazily
 * when looked up, and `sweep(now, budget)` removes expired entries in bounded slices. There is no
 * timer per flow.
 *
 * Deliberate differences from the kernel: no TCP window tracking (see tcp-state.ts); SCTP, DCCP
 * and GRE are tracked generically (by ports for SCTP); non-first fragments are not reassembled
 * (UNTRACKED, reason FRAGMENT); no helpers/expectations; when the table is full the least
 * recently active flow is evicted (the kernel drops the new packet unless it can early-drop an
 * unassured flow).
 */
import { LRUCache } from 'lru-cache';
import type { CtState } from '../engine/packet-facts';
import { IpProto, TcpFlag, type PacketView } from '../packet';
import { FlowDir, KeyKind, createFlowKeyOut, flowKeyOfQuoted, flowKeyOfView, keyFamily, keyProto, type FlowKeyOut } from './flow-key';
import { TCP_INITIAL_STATUS, TcpAction, TcpState, tcpCanStart, tcpFlagsValid, tcpStep } from './tcp-state';
import { resolveTimeouts, type ConntrackTimeouts, type TimeoutTable } from './timeouts';

/** Classification of a packet; the numbers match CT_STATE_CODES in src/dataplane/marks.ts. */
export const TrackState = {
  NEW: 0,
  ESTABLISHED: 1,
  RELATED: 2,
  INVALID: 3,
  UNTRACKED: 4,
} as const;
export type TrackState = (typeof TrackState)[keyof typeof TrackState];

const TRACK_STATE_NAMES: readonly CtState[] = ['new', 'established', 'related', 'invalid', 'untracked'];

/**
 * The PacketFacts ctState string: 'new', 'established', 'related', 'invalid', 'untracked', and
 * 'reply' for an established packet in the reply direction.
 */
export function ctStateOf(state: number, dir: number): CtState {
  if (state === TrackState.ESTABLISHED && dir === FlowDir.REPLY) return 'reply';
  return TRACK_STATE_NAMES[state] ?? 'invalid';
}

/** Why a packet got the state it got (for INVALID / UNTRACKED and TCP's ignored packets). */
export const TrackReason = {
  OK: 0,
  /** The view holds no parsed IP packet, or a port protocol lacks its header. */
  NO_HEADER: 1,
  /** Non-first fragment of a port protocol: not reassembled, no ports to track. */
  FRAGMENT: 2,
  /** TCP flag combination the kernel rejects (SYN+FIN, no flags, FIN without ACK, ...). */
  TCP_BAD_FLAGS: 3,
  /** No entry, and the segment cannot start one (not a SYN; not an ACK in loose mode). */
  TCP_NOT_START: 4,
  /** The state machine rejects the segment in the entry's state. */
  TCP_BAD_TRANSITION: 5,
  /** Let through without a state change (state machine "ignore"). Not invalid. */
  TCP_IGNORED: 6,
  /** ICMPv6 neighbour discovery / MLD: not tracked, as in the kernel. */
  ICMP_UNTRACKED_TYPE: 7,
  /** ICMP type that is neither query, reply nor error. */
  ICMP_BAD_TYPE: 8,
  /** An ICMP reply with no request seen. */
  ICMP_REPLY_WITHOUT_REQUEST: 9,
  /** ICMP error whose quoted header is missing, cut short or not trackable. */
  ICMP_ERROR_BAD_QUOTE: 10,
  /** ICMP error about a flow the table does not have. */
  ICMP_ERROR_NO_FLOW: 11,
  /** ICMP error not addressed to the flow's endpoint that sent the quoted packet. */
  ICMP_ERROR_WRONG_DESTINATION: 12,
} as const;
export type TrackReason = (typeof TrackReason)[keyof typeof TrackReason];

/** Bits of FlowEntry.status below bit 8 (bits 8.. belong to tcp-state.ts). */
export const FlowStatus = {
  /** The original direction's source is the low endpoint of the key. */
  ORIGINAL_SRC_LOW: 1 << 0,
  /** A valid packet was seen in the reply direction (kernel IPS_SEEN_REPLY). */
  SEEN_REPLY: 1 << 1,
  /** Kernel IPS_ASSURED: TCP handshake completed, or a UDP stream. */
  ASSURED: 1 << 2,
  /** UDP seen both ways and still active 2 s after its first packet: stream timeout. */
  UDP_STREAM: 1 << 3,
} as const;

/** UDP turns into a stream when a packet arrives with a reply seen and more than this since the first packet. */
const UDP_STREAM_AFTER_MS = 2000;

/**
 * One flow. Kept small (a dozen fields; no per-entry objects) because a busy router holds a
 * million of them. Times are milliseconds relative to the table's epoch (`FlowTable.epoch`),
 * which keeps them small integers.
 */
export class FlowEntry<D = unknown> {
  /** The normalised flow key (flow-key.ts); also the table key. */
  readonly key: string;
  /** FlowStatus and TcpStatusBit bits. */
  status: number;
  /** TcpState for TCP flows, 0 otherwise. */
  tcpState: number;
  firstSeen: number;
  lastSeen: number;
  packetsOriginal = 0;
  packetsReply = 0;
  bytesOriginal = 0;
  bytesReply = 0;
  /** Verdict slot for the engine (-1: none yet). */
  verdict = -1;
  /** Policy generation the verdict was decided under (-1: none). */
  generation = -1;
  /** The engine's decision for the flow (opaque here). */
  decision: D | null = null;

  constructor(key: string, status: number, now: number) {
    this.key = key;
    this.status = status;
    this.tcpState = TcpState.NONE;
    this.firstSeen = now;
    this.lastSeen = now;
  }

  get family(): 4 | 6 {
    return keyFamily(this.key);
  }

  get proto(): number {
    return keyProto(this.key);
  }
}

export interface TrackResult<D = unknown> {
  state: TrackState;
  dir: FlowDir;
  /** The flow the packet belongs to (for RELATED: the flow the ICMP error is about); null when none. */
  entry: FlowEntry<D> | null;
  reason: TrackReason;
  /** The entry was created by this packet. */
  created: boolean;
}

export interface FlowTableOptions<D = unknown> {
  /** Maximum number of flows (nf_conntrack_max). */
  capacity: number;
  /** Timeout overrides in seconds, by sysctl name. */
  timeouts?: Partial<ConntrackTimeouts>;
  /** nf_conntrack_tcp_loose: pick up TCP connections from a mid-stream ACK (default true, as the kernel). */
  tcpLoose?: boolean;
  /** Time origin for stored times; default: the first `now` the table sees. */
  epoch?: number;
  /** An entry was evicted to make room (the table is full). */
  onEvict?: (entry: FlowEntry<D>) => void;
  /** An entry was removed because its timeout passed (lazily or by sweep). */
  onExpire?: (entry: FlowEntry<D>) => void;
  /** An entry was removed because the connection ended (TCP reset before any reply, or re-opened). */
  onClose?: (entry: FlowEntry<D>) => void;
}

export interface FlowTableStats {
  created: number;
  evicted: number;
  expired: number;
  closed: number;
  deleted: number;
  /** Packets classified, by outcome. */
  invalid: number;
  related: number;
  untracked: number;
  /** Entries examined by sweep() in total. */
  sweepScanned: number;
}

export class FlowTable<D = unknown> {
  readonly capacity: number;
  readonly timeouts: TimeoutTable;
  readonly tcpLoose: boolean;
  readonly stats: FlowTableStats = {
    created: 0,
    evicted: 0,
    expired: 0,
    closed: 0,
    deleted: 0,
    invalid: 0,
    related: 0,
    untracked: 0,
    sweepScanned: 0,
  };
  private readonly cache: LRUCache<string, FlowEntry<D>>;
  private readonly keyOut: FlowKeyOut = createFlowKeyOut();
  private readonly result: TrackResult<D> = { state: TrackState.INVALID, dir: FlowDir.ORIGINAL, entry: null, reason: TrackReason.OK, created: false };
  private readonly onExpire: ((entry: FlowEntry<D>) => void) | undefined;
  private readonly onClose: ((entry: FlowEntry<D>) => void) | undefined;
  private epochMs: number;
  /** Where the sweep continues: a walk from the least recently active entry. */
  private cursor: Generator<FlowEntry<D> | undefined, void, unknown> | null = null;

  constructor(options: FlowTableOptions<D>) {
    const capacity = options.capacity;
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`flow table capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.timeouts = resolveTimeouts(options.timeouts);
    this.tcpLoose = options.tcpLoose ?? true;
    this.epochMs = options.epoch ?? NaN;
    this.onExpire = options.onExpire;
    this.onClose = options.onClose;
    const onEvict = options.onEvict;
    const stats = this.stats;
    this.cache = new LRUCache<string, FlowEntry<D>>({
      max: capacity,
      // Only capacity evictions arrive here as 'evict'; removals we make ourselves are counted where we make them.
      dispose: (entry, _key, reason) => {
        if (reason !== 'evict') return;
        stats.evicted++;
        if (onEvict) onEvict(entry);
      },
    });
  }

  /** Number of entries (expired ones included until they are looked up or swept). */
  get size(): number {
    return this.cache.size;
  }

  /** The time origin of FlowEntry times (NaN until the first call with a `now`). */
  get epoch(): number {
    return this.epochMs;
  }

  private time(now: number): number {
    if (this.epochMs !== this.epochMs) this.epochMs = now;
    return Math.floor(now - this.epochMs);
  }

  /** Timeout of an entry in its current state, in milliseconds. */
  timeoutOf(entry: FlowEntry<D>): number {
    const t = this.timeouts;
    const status = entry.status;
    switch (keyProto(entry.key)) {
      case IpProto.TCP: {
        const s = entry.tcpState;
        const base = t.tcp[s] ?? t.generic;
        // A connection picked up mid-stream gets the short timeout until the other side answers.
        if (s === TcpState.ESTABLISHED && (status & FlowStatus.SEEN_REPLY) === 0 && base > t.tcpUnacknowledged) return t.tcpUnacknowledged;
        return base;
      }
      case IpProto.UDP:
      case IpProto.UDPLITE:
        return status & FlowStatus.UDP_STREAM ? t.udpStream : t.udp;
      case IpProto.ICMP:
        return keyFamily(entry.key) === 4 ? t.icmp : t.generic;
      case IpProto.ICMPV6:
        return keyFamily(entry.key) === 6 ? t.icmpv6 : t.generic;
      default:
        return t.generic;
    }
  }

  /** Absolute time (same clock as `now`) at which the entry expires unless another packet refreshes it. */
  expiresAt(entry: FlowEntry<D>): number {
    return this.epochMs + entry.lastSeen + this.timeoutOf(entry);
  }

  private isExpired(entry: FlowEntry<D>, t: number): boolean {
    return t - entry.lastSeen >= this.timeoutOf(entry);
  }

  private expire(entry: FlowEntry<D>): void {
    this.cache.delete(entry.key);
    this.stats.expired++;
    if (this.onExpire) this.onExpire(entry);
  }

  private close(entry: FlowEntry<D>): void {
    if (this.cache.peek(entry.key) === entry) this.cache.delete(entry.key);
    this.stats.closed++;
    if (this.onClose) this.onClose(entry);
  }

  private create(key: string, srcIsLow: boolean, t: number, tcp: boolean): FlowEntry<D> {
    const entry = new FlowEntry<D>(key, (srcIsLow ? FlowStatus.ORIGINAL_SRC_LOW : 0) | (tcp ? TCP_INITIAL_STATUS : 0), t);
    this.cache.set(key, entry);
    this.stats.created++;
    return entry;
  }

  private finish(state: TrackState, reason: TrackReason): TrackResult<D> {
    const r = this.result;
    r.state = state;
    r.reason = reason;
    if (state === TrackState.INVALID) this.stats.invalid++;
    else if (state === TrackState.UNTRACKED) this.stats.untracked++;
    return r;
  }

  /**
   * Classify and account one parsed packet (the view of a successful parse). Returns a result
   * object owned by the table and overwritten by the next call.
   */
  track(view: PacketView, now: number): TrackResult<D> {
    const r = this.result;
    r.entry = null;
    r.dir = FlowDir.ORIGINAL;
    r.created = false;
    r.reason = TrackReason.OK;
    const t = this.time(now);
    const out = this.keyOut;
    const kind = flowKeyOfView(view, out);
    switch (kind) {
      case KeyKind.PORTS:
      case KeyKind.GENERIC:
      case KeyKind.ICMP_REQUEST:
      case KeyKind.ICMP_REPLY:
        break;
      case KeyKind.ICMP_ERROR:
        return this.related(view, t);
      case KeyKind.ICMP_UNTRACKED:
        return this.finish(TrackState.UNTRACKED, TrackReason.ICMP_UNTRACKED_TYPE);
      case KeyKind.ICMP_INVALID:
        return this.finish(TrackState.INVALID, TrackReason.ICMP_BAD_TYPE);
      case KeyKind.FRAGMENT:
        return this.finish(TrackState.UNTRACKED, TrackReason.FRAGMENT);
      default:
        return this.finish(TrackState.INVALID, TrackReason.NO_HEADER);
    }
    const isTcp = view.proto === IpProto.TCP;
    const flags = view.tcpFlags;
    if (isTcp && !tcpFlagsValid(flags)) return this.finish(TrackState.INVALID, TrackReason.TCP_BAD_FLAGS);

    let entry = this.cache.get(out.key);
    if (entry !== undefined && this.isExpired(entry, t)) {
      this.expire(entry);
      entry = undefined;
    }
    if (entry === undefined) {
      if (kind === KeyKind.ICMP_REPLY) return this.finish(TrackState.INVALID, TrackReason.ICMP_REPLY_WITHOUT_REQUEST);
      if (isTcp && !tcpCanStart(flags, this.tcpLoose)) return this.finish(TrackState.INVALID, TrackReason.TCP_NOT_START);
      entry = this.create(out.key, out.srcIsLow, t, isTcp);
      r.created = true;
    }
    let dir: FlowDir;
    if (kind === KeyKind.ICMP_REQUEST) dir = FlowDir.ORIGINAL;
    else if (kind === KeyKind.ICMP_REPLY) dir = FlowDir.REPLY;
    else dir = ((entry.status & FlowStatus.ORIGINAL_SRC_LOW) !== 0) === out.srcIsLow ? FlowDir.ORIGINAL : FlowDir.REPLY;
    r.entry = entry;
    r.dir = dir;

    if (isTcp) return this.trackTcp(entry, dir, flags, view.totalLength, t, out);

    r.state = classify(entry.status, dir);
    const proto = view.proto;
    if ((proto === IpProto.UDP || proto === IpProto.UDPLITE) && entry.status & FlowStatus.SEEN_REPLY && t - entry.firstSeen > UDP_STREAM_AFTER_MS) {
      entry.status |= FlowStatus.UDP_STREAM | FlowStatus.ASSURED;
    }
    account(entry, dir, view.totalLength, t);
    return r;
  }

  private trackTcp(entry: FlowEntry<D>, dir: FlowDir, flags: number, bytes: number, t: number, out: FlowKeyOut): TrackResult<D> {
    const r = this.result;
    const seenReply = (entry.status & FlowStatus.SEEN_REPLY) !== 0;
    const old = entry.tcpState;
    const action = tcpStep(entry, dir, flags);
    if (action === TcpAction.INVALID) return this.finish(TrackState.INVALID, TrackReason.TCP_BAD_TRANSITION);
    if (action === TcpAction.REOPEN) {
      // The old connection is over; this SYN starts a new one, oriented from its sender.
      this.close(entry);
      const fresh = this.create(out.key, out.srcIsLow, t, true);
      tcpStep(fresh, FlowDir.ORIGINAL, flags);
      account(fresh, FlowDir.ORIGINAL, bytes, t);
      r.entry = fresh;
      r.dir = FlowDir.ORIGINAL;
      r.created = true;
      r.state = TrackState.NEW;
      return r;
    }
    r.state = classify(entry.status, dir);
    if (action === TcpAction.IGNORE) {
      r.reason = TrackReason.TCP_IGNORED;
      // The kernel lets ignored packets through without refreshing the entry, but a reply still counts as seen.
      if (dir === FlowDir.REPLY) entry.status |= FlowStatus.SEEN_REPLY;
      return r;
    }
    account(entry, dir, bytes, t);
    if (!seenReply) {
      // A reset before any (other) reply: the connection never got going; forget it now.
      if (flags & TcpFlag.RST) this.close(entry);
    } else if ((old === TcpState.SYN_RECV || old === TcpState.ESTABLISHED) && entry.tcpState === TcpState.ESTABLISHED) {
      entry.status |= FlowStatus.ASSURED;
    }
    return r;
  }

  /** An ICMP error: RELATED to the flow of the packet it quotes, or INVALID. */
  private related(view: PacketView, t: number): TrackResult<D> {
    const r = this.result;
    const out = this.keyOut;
    const kind = flowKeyOfQuoted(view, out);
    if (kind !== KeyKind.PORTS && kind !== KeyKind.GENERIC && kind !== KeyKind.ICMP_REQUEST && kind !== KeyKind.ICMP_REPLY) {
      return this.finish(TrackState.INVALID, TrackReason.ICMP_ERROR_BAD_QUOTE);
    }
    // peek: an error neither refreshes the flow nor makes it more recently used.
    const entry = this.cache.peek(out.key);
    if (entry === undefined) return this.finish(TrackState.INVALID, TrackReason.ICMP_ERROR_NO_FLOW);
    if (this.isExpired(entry, t)) {
      this.expire(entry);
      return this.finish(TrackState.INVALID, TrackReason.ICMP_ERROR_NO_FLOW);
    }
    let quotedDir: FlowDir;
    if (kind === KeyKind.ICMP_REQUEST) quotedDir = FlowDir.ORIGINAL;
    else if (kind === KeyKind.ICMP_REPLY) quotedDir = FlowDir.REPLY;
    else quotedDir = ((entry.status & FlowStatus.ORIGINAL_SRC_LOW) !== 0) === out.srcIsLow ? FlowDir.ORIGINAL : FlowDir.REPLY;
    // The error goes back to whoever sent the quoted packet (the kernel's outer-daddr check).
    const d = view.dst;
    const s = view.innerSrc;
    if (d[0] !== s[0] || d[1] !== s[1] || d[2] !== s[2] || d[3] !== s[3]) {
      r.entry = entry;
      return this.finish(TrackState.INVALID, TrackReason.ICMP_ERROR_WRONG_DESTINATION);
    }
    r.entry = entry;
    r.dir = quotedDir === FlowDir.ORIGINAL ? FlowDir.REPLY : FlowDir.ORIGINAL;
    this.stats.related++;
    r.state = TrackState.RELATED;
    return r;
  }

  /** The entry for a key, without refreshing it or changing its recency; expired entries are removed. */
  peek(key: string, now: number): FlowEntry<D> | undefined {
    const entry = this.cache.peek(key);
    if (entry !== undefined && this.isExpired(entry, this.time(now))) {
      this.expire(entry);
      return undefined;
    }
    return entry;
  }

  /** Remove an entry (e.g. a flow the engine denied and does not want to remember). */
  delete(entry: FlowEntry<D>): boolean {
    if (this.cache.peek(entry.key) !== entry) return false;
    this.cache.delete(entry.key);
    this.stats.deleted++;
    return true;
  }

  /**
   * Remove up to `budget` expired entries, examining at most `scanLimit` entries (default
   * 32 x budget). The walk goes from the least recently active flow towards the most recent and
   * continues where the previous sweep stopped; it restarts from the oldest end when it reaches
   * flows idle for less than the shortest timeout, since nothing from there on can have expired.
   * Returns the number removed.
   */
  sweep(now: number, budget: number, scanLimit = budget * 32): number {
    const t = this.time(now);
    const minTimeout = this.timeouts.min;
    let removed = 0;
    let scanned = 0;
    let restarted = false;
    while (removed < budget && scanned < scanLimit) {
      if (this.cursor === null) {
        if (restarted || this.cache.size === 0) break;
        this.cursor = this.cache.rvalues();
        restarted = true;
      }
      const step = this.cursor.next();
      if (step.done) {
        this.cursor = null;
        continue;
      }
      const entry = step.value;
      if (entry === undefined) continue;
      scanned++;
      const idle = t - entry.lastSeen;
      if (idle >= this.timeoutOf(entry)) {
        // Deleting the entry the walk stands on is safe: the list keeps its link to the next one.
        this.expire(entry);
        removed++;
      } else if (idle < minTimeout) {
        this.cursor = null;
        break;
      }
    }
    this.stats.sweepScanned += scanned;
    return removed;
  }

  /** All entries, most recently active first (for tools and tests; allocates). */
  *entries(): IterableIterator<FlowEntry<D>> {
    for (const entry of this.cache.values()) yield entry;
  }

  /** Remove everything (no callbacks). */
  clear(): void {
    this.cache.clear();
    this.cursor = null;
  }
}

function classify(status: number, dir: FlowDir): TrackState {
  // As the kernel's resolve_normal_ct: replies are ESTABLISHED, the original direction only once a reply was seen.
  if (dir === FlowDir.REPLY || status & FlowStatus.SEEN_REPLY) return TrackState.ESTABLISHED;
  return TrackState.NEW;
}

function account(entry: FlowEntry<unknown>, dir: FlowDir, bytes: number, t: number): void {
  if (dir === FlowDir.ORIGINAL) {
    entry.packetsOriginal++;
    entry.bytesOriginal += bytes;
  } else {
    entry.packetsReply++;
    entry.bytesReply += bytes;
    entry.status |= FlowStatus.SEEN_REPLY;
  }
  entry.lastSeen = t;
}
