/**
 * What the engine knows about one packet: its journey through the host and its header fields.
 *
 * This is the engine's only input besides compiled policy. The conformance runner and `nfqwall eval`
 * build it from a JSON packet description; the daemon and replay build it from parsed bytes plus
 * the queue/stage the packet came from. Addresses are numeric (src/net/ip.ts).
 */
import type { IpAddress, IpFamily } from '../net/ip';

/** The packet's whole path through the host. */
export type PacketPath = 'local-in' | 'forward' | 'local-out';

/** Kernel conntrack state of the packet (NFQA_CT / ctinfo), as Calico's chains see it. */
export type CtState = 'new' | 'established' | 'related' | 'reply' | 'invalid' | 'untracked';

export interface PacketFacts {
  path: PacketPath;
  /** In-interface name; null for local-out. */
  iif: string | null;
  /** Out-interface name; null for local-in. */
  oif: string | null;
  family: IpFamily;
  /** IP protocol / final IPv6 next header. */
  proto: number;
  /** Source as seen at the filter stage (pre-SNAT). */
  src: IpAddress;
  /** Destination as seen at the filter stage (post-DNAT). */
  dst: IpAddress;
  /** Ports, or -1 when the protocol has none. */
  sport: number;
  dport: number;
  /** ICMP/ICMPv6 type and code, or -1. */
  icmpType: number;
  icmpCode: number;
  ctState: CtState;
  /** Original (pre-DNAT) destination and port; equal to dst/dport when no DNAT happened. */
  preDnatDst: IpAddress;
  preDnatDport: number;
  /**
   * The connection was destination-NATed. Optional: when absent it is derived from preDnatDst/Dport.
   * The live dataplane sets it from the conntrack status because it never sees the original
   * destination of a locally originated packet at the output hook.
   */
  dnat?: boolean;
}

/** Protocols whose header carries ports Calico can match (§3.4). */
export function protocolHasPorts(proto: number): boolean {
  return proto === 6 || proto === 17 || proto === 132 || proto === 136;
}
