/**
 * The packet header as one stage sees it (§5.13): untracked and preDNAT stages see the original
 * (pre-DNAT) destination; filter stages see the translated one. The source is always pre-SNAT.
 */
import type { IpAddress, IpFamily } from '../../net/ip';
import type { PacketFacts } from '../packet-facts';

export interface PacketView {
  family: IpFamily;
  proto: number;
  src: IpAddress;
  dst: IpAddress;
  /** -1 when the protocol has no ports. */
  sport: number;
  dport: number;
  icmpType: number;
  icmpCode: number;
}

/** Filter-time view: post-DNAT destination (§5.13 rows normal/forward/local egress). */
export function filterView(f: PacketFacts): PacketView {
  return {
    family: f.family,
    proto: f.proto,
    src: f.src,
    dst: f.dst,
    sport: f.sport,
    dport: f.dport,
    icmpType: f.icmpType,
    icmpCode: f.icmpCode,
  };
}

/** Raw/mangle-PREROUTING and raw-OUTPUT view: the destination before DNAT (§5.6, §5.13). */
export function preDnatView(f: PacketFacts): PacketView {
  return { ...filterView(f), dst: f.preDnatDst, dport: f.preDnatDport };
}

/** Was the packet's destination translated (conntrack state DNAT)? */
export function wasDnatted(f: PacketFacts): boolean {
  const a = f.preDnatDst;
  const b = f.dst;
  const sameAddr = a.family === b.family && a.words.every((w, i) => w === b.words[i]);
  return !sameAddr || f.preDnatDport !== f.dport;
}
