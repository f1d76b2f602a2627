/**
 * TCP connection state machine, modelled on Linux nf_conntrack_proto_tcp.c.
 *
 * The transition table is the kernel's `tcp_conntracks` (states, flag classes and the two
 * directions, including SYN_SENT2 for simultaneous open), with the kernel's special cases for
 * ignored packets, re-opened connections, simultaneous open and RFC 5961 challenge ACKs.
 * What is deliberately left out is sequence/window tracking (`tcp_in_window`): every packet
 * counts as in-window, as with nf_conntrack_tcp_be_liberal=1 and tcp_ignore_invalid_rst=1.
 *
 * Pure: the connection state lives in the caller's object (`TcpTracked`), nothing else is kept.
 */

/** Connection states; numbers match the kernel's enum tcp_conntrack (ctnetlink exposes them). */
export const TcpState = {
  NONE: 0,
  SYN_SENT: 1,
  SYN_RECV: 2,
  ESTABLISHED: 3,
  FIN_WAIT: 4,
  CLOSE_WAIT: 5,
  LAST_ACK: 6,
  TIME_WAIT: 7,
  CLOSE: 8,
  /** SYN seen from the reply direction too: simultaneous open. */
  SYN_SENT2: 9,
} as const;
export type TcpState = (typeof TcpState)[keyof typeof TcpState];

const STATE_NAMES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2'];

export function tcpStateName(state: number): string {
  return STATE_NAMES[state] ?? `UNKNOWN(${state})`;
}

/** Flag classes of a segment (the kernel's tcp_bit_set), in precedence order RST > SYN > FIN > ACK. */
export const TcpIndex = {
  SYN: 0,
  SYNACK: 1,
  FIN: 2,
  ACK: 3,
  RST: 4,
  NONE: 5,
} as const;
export type TcpIndex = (typeof TcpIndex)[keyof typeof TcpIndex];

/** Table results beyond the states: the packet is invalid, or is let through without a state change. */
export const TCP_INVALID = 10;
export const TCP_IGNORE = 11;

/** What `tcpStep` did with a packet. */
export const TcpAction = {
  /** Valid; the state may have changed. */
  ACCEPT: 0,
  /** Let through without changing state (we may be out of sync with the endpoints). */
  IGNORE: 1,
  /** Not valid for this connection: conntrack would mark it INVALID. */
  INVALID: 2,
  /** A SYN re-opens a closed connection: drop the entry and track the packet as a new one. */
  REOPEN: 3,
} as const;
export type TcpAction = (typeof TcpAction)[keyof typeof TcpAction];

/**
 * TCP bits of a flow entry's `status` word (bits 8..15; lower bits belong to the flow table).
 * The last accepted or ignored segment's class and direction are kept like the kernel's
 * last_index / last_dir, because several special cases look at them.
 */
export const TcpStatusBit = {
  LAST_INDEX_SHIFT: 8,
  LAST_INDEX_MASK: 0x7 << 8,
  LAST_DIR_REPLY: 1 << 11,
  /** A FIN started the close (kernel IP_CT_TCP_FLAG_CLOSE_INIT, for either direction). */
  CLOSE_INIT: 1 << 12,
  SIMULTANEOUS_OPEN: 1 << 13,
  /** A SYN was ignored in LAST_ACK: the next ACK from the other side may be a challenge ACK. */
  CHALLENGE_ACK_EXPECTED: 1 << 14,
} as const;

/** The part of a flow entry the state machine reads and writes. */
export interface TcpTracked {
  tcpState: number;
  status: number;
}

const F = 0x01;
const S = 0x02;
const R = 0x04;
const A = 0x10;
const U = 0x20;

/** Flag class of a segment. */
export function tcpIndex(flags: number): TcpIndex {
  if (flags & R) return TcpIndex.RST;
  if (flags & S) return flags & A ? TcpIndex.SYNACK : TcpIndex.SYN;
  if (flags & F) return TcpIndex.FIN;
  if (flags & A) return TcpIndex.ACK;
  return TcpIndex.NONE;
}

/**
 * Flag combinations the kernel accepts (tcp_valid_flags, PSH/ECE/CWR ignored). Anything else
 * (SYN+FIN, FIN without ACK, no flags, ...) is INVALID before any state is looked at.
 */
export function tcpFlagsValid(flags: number): boolean {
  const f = flags & (F | S | R | A | U);
  return (
    f === S ||
    f === (S | U) ||
    f === (S | A) ||
    f === R ||
    f === (R | A) ||
    f === (F | A) ||
    f === (F | A | U) ||
    f === A ||
    f === (A | U)
  );
}

const sNO = TcpState.NONE;
const sSS = TcpState.SYN_SENT;
const sSR = TcpState.SYN_RECV;
const sES = TcpState.ESTABLISHED;
const sFW = TcpState.FIN_WAIT;
const sCW = TcpState.CLOSE_WAIT;
const sLA = TcpState.LAST_ACK;
const sTW = TcpState.TIME_WAIT;
const sCL = TcpState.CLOSE;
const sS2 = TcpState.SYN_SENT2;
const sIV = TCP_INVALID;
const sIG = TCP_IGNORE;

// [direction][flag class][old state] -> new state, exactly the kernel's table.
// Columns:  sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
const TABLE: readonly (readonly (readonly number[])[])[] = [
  [
    /* ORIGINAL */
    /* syn    */ [sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2],
    /* synack */ [sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR],
    /* fin    */ [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack    */ [sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV],
    /* rst    */ [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none   */ [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
  [
    /* REPLY */
    /* syn    */ [sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2],
    /* synack */ [sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR],
    /* fin    */ [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack    */ [sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG],
    /* rst    */ [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none   */ [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
];

/** Raw table lookup: the next state, TCP_INVALID or TCP_IGNORE. `dir` is 0 (original) or 1 (reply). */
export function tcpTransition(dir: number, index: number, state: number): number {
  return TABLE[dir]?.[index]?.[state] ?? TCP_INVALID;
}

/**
 * May this segment create a connection entry? A SYN always may; with `loose` (the kernel default,
 * nf_conntrack_tcp_loose=1) an ACK may too, picking up a connection already in progress, e.g.
 * after a daemon restart.
 */
export function tcpCanStart(flags: number, loose: boolean): boolean {
  if (!tcpFlagsValid(flags)) return false;
  const next = TABLE[0]![tcpIndex(flags)]![sNO]!;
  if (next === sSS) return true;
  return loose && next === sES;
}

function lastIndex(status: number): number {
  return (status & TcpStatusBit.LAST_INDEX_MASK) >>> TcpStatusBit.LAST_INDEX_SHIFT;
}

function lastDir(status: number): number {
  return status & TcpStatusBit.LAST_DIR_REPLY ? 1 : 0;
}

function withLast(status: number, index: number, dir: number): number {
  return (
    (status & ~(TcpStatusBit.LAST_INDEX_MASK | TcpStatusBit.LAST_DIR_REPLY)) |
    (index << TcpStatusBit.LAST_INDEX_SHIFT) |
    (dir ? TcpStatusBit.LAST_DIR_REPLY : 0)
  );
}

/**
 * Advance `conn` by one segment travelling in `dir` (0 original, 1 reply) with `flags`.
 * The caller checks tcpFlagsValid first (invalid flag combinations never reach the table).
 * A new entry starts in NONE with its last-index bits at NONE and is stepped with its first packet.
 */
export function tcpStep(conn: TcpTracked, dir: number, flags: number): TcpAction {
  let old = conn.tcpState;
  const index = tcpIndex(flags);
  let next = tcpTransition(dir, index, old);
  const status = conn.status;

  switch (next) {
    case sSS:
      if (old < sTW) break;
      // SYN in TIME_WAIT / CLOSE: if the old connection was closed by a FIN, or reset by this side,
      // it is a new connection on the same ports (RFC 1122 4.2.2.13): start over.
      if (status & TcpStatusBit.CLOSE_INIT || (lastDir(status) === dir && lastIndex(status) === TcpIndex.RST)) {
        return TcpAction.REOPEN;
      }
      return ignore(conn, dir, index, old);
    case sIG:
      // A SYN/ACK answering a SYN we ignored: the endpoints are in sync and we are not. Follow them.
      if (index === TcpIndex.SYNACK && lastIndex(status) === TcpIndex.SYN && lastDir(status) !== dir) {
        old = sSS;
        next = sSR;
        conn.status &= ~TcpStatusBit.CHALLENGE_ACK_EXPECTED;
        break;
      }
      return ignore(conn, dir, index, old);
    case sIV:
      return TcpAction.INVALID;
    case sTW:
      // RFC 5961: an ACK answering a SYN we let through in LAST_ACK is a challenge ACK, not the last ACK.
      if (
        old === sLA &&
        index === TcpIndex.ACK &&
        lastDir(status) !== dir &&
        lastIndex(status) === TcpIndex.SYN &&
        status & TcpStatusBit.CHALLENGE_ACK_EXPECTED
      ) {
        conn.status &= ~TcpStatusBit.CHALLENGE_ACK_EXPECTED;
        return TcpAction.IGNORE;
      }
      break;
    case sS2:
      conn.status |= TcpStatusBit.SIMULTANEOUS_OPEN;
      break;
    case sSR:
      // The table cannot express the last ACK of a simultaneous open.
      if (dir === 1 && index === TcpIndex.ACK && status & TcpStatusBit.SIMULTANEOUS_OPEN) next = sES;
      break;
    default:
      break;
  }

  conn.status = withLast(conn.status, index, dir);
  conn.tcpState = next;
  if (old !== next && next === sFW) conn.status |= TcpStatusBit.CLOSE_INIT;
  return TcpAction.ACCEPT;
}

/** Record an ignored segment (its class matters for the next one) and let it through unchanged. */
function ignore(conn: TcpTracked, dir: number, index: number, old: number): TcpAction {
  let status = withLast(conn.status, index, dir);
  if (index === TcpIndex.SYN && dir === 0) {
    status &= ~TcpStatusBit.CHALLENGE_ACK_EXPECTED;
    if (old === sLA) status |= TcpStatusBit.CHALLENGE_ACK_EXPECTED;
  }
  conn.status = status;
  return TcpAction.IGNORE;
}

/** Initial status bits for a new TCP entry: last segment class NONE, as the kernel's tcp_new sets it. */
export const TCP_INITIAL_STATUS = TcpIndex.NONE << TcpStatusBit.LAST_INDEX_SHIFT;
