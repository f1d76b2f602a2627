/**
 * Protocol numbers and header constants, defined once for the parser, the builder and conntrack.
 * Values are the IANA / Linux ones; each table is an `as const` object with a derived union type.
 */

/** IP protocol numbers (IPv4 protocol field, IPv6 next header). */
export const IpProto = {
  HOP_BY_HOP: 0,
  ICMP: 1,
  IGMP: 2,
  TCP: 6,
  UDP: 17,
  IPV6_ROUTING: 43,
  IPV6_FRAGMENT: 44,
  GRE: 47,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  IPV6_NO_NEXT: 59,
  IPV6_DEST_OPTS: 60,
  SCTP: 132,
  UDPLITE: 136,
} as const;
export type IpProtoNumber = (typeof IpProto)[keyof typeof IpProto];

/** TCP header flag bits (byte 13 of the header). */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;
export type TcpFlagBit = (typeof TcpFlag)[keyof typeof TcpFlag];

/** ICMPv4 types the parser and conntrack treat specially. */
export const IcmpType = {
  ECHO_REPLY: 0,
  DEST_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  ROUTER_ADVERTISEMENT: 9,
  ROUTER_SOLICITATION: 10,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
  TIMESTAMP_REQUEST: 13,
  TIMESTAMP_REPLY: 14,
  INFO_REQUEST: 15,
  INFO_REPLY: 16,
  ADDRESS_MASK_REQUEST: 17,
  ADDRESS_MASK_REPLY: 18,
} as const;
export type IcmpTypeNumber = (typeof IcmpType)[keyof typeof IcmpType];

/** ICMPv6 types the parser and conntrack treat specially. */
export const Icmp6Type = {
  DEST_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAMETER_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  MLD_QUERY: 130,
  MLD_REPORT: 131,
  MLD_DONE: 132,
  ROUTER_SOLICITATION: 133,
  ROUTER_ADVERTISEMENT: 134,
  NEIGHBOR_SOLICITATION: 135,
  NEIGHBOR_ADVERTISEMENT: 136,
  REDIRECT: 137,
  NODE_INFO_QUERY: 139,
  NODE_INFO_REPLY: 140,
  MLD2_REPORT: 143,
} as const;
export type Icmp6TypeNumber = (typeof Icmp6Type)[keyof typeof Icmp6Type];

/** EtherType values seen by the link-layer entry point. */
export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  VLAN: 0x8100,
  IPV6: 0x86dd,
  QINQ: 0x88a8,
  /** Pre-standard QinQ outer tag still emitted by some switches. */
  QINQ_OLD: 0x9100,
} as const;
export type EtherTypeNumber = (typeof EtherType)[keyof typeof EtherType];

/**
 * Link-layer header types as stored in capture files (LINKTYPE_* values). 12 and 14 are the DLT_RAW
 * values some BSDs wrote into older files; they carry the same payload as RAW.
 */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  RAW_ALT_12: 12,
  RAW_ALT_14: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;
export type LinkTypeNumber = (typeof LinkType)[keyof typeof LinkType];

/** Bits of `PacketView.extHeaders`: which IPv6 extension headers the chain walk passed. */
export const ExtHeaderBit = {
  HOP_BY_HOP: 0x01,
  ROUTING: 0x02,
  FRAGMENT: 0x04,
  DEST_OPTS: 0x08,
  AH: 0x10,
  /** The chain ended at ESP: the rest is encrypted. */
  ESP: 0x20,
  /** The chain ended at "no next header" (59). */
  NO_NEXT: 0x40,
} as const;
export type ExtHeaderBitValue = (typeof ExtHeaderBit)[keyof typeof ExtHeaderBit];

/** Protocols whose first four L4 bytes are source and destination port. */
export function isPortProto(proto: number): boolean {
  return proto === IpProto.TCP || proto === IpProto.UDP || proto === IpProto.UDPLITE || proto === IpProto.SCTP;
}

/** ICMPv4 error types: they quote the offending packet (the kernel's icmp_is_err set). */
export function isIcmpError(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/** ICMPv6 error types (all types below 128). */
export function isIcmp6Error(type: number): boolean {
  return type >= 0 && type < 128;
}

/**
 * Reply type of an ICMPv4 query type, or -1 when the type is not a query that has a reply
 * (the kernel's invmap: echo, timestamp, info, address mask).
 */
export function icmpReplyType(type: number): number {
  switch (type) {
    case 8:
      return 0;
    case 13:
      return 14;
    case 15:
      return 16;
    case 17:
      return 18;
    default:
      return -1;
  }
}

/** Request type answered by an ICMPv4 reply type, or -1. */
export function icmpRequestType(type: number): number {
  switch (type) {
    case 0:
      return 8;
    case 14:
      return 13;
    case 16:
      return 15;
    case 18:
      return 17;
    default:
      return -1;
  }
}

/** Reply type of an ICMPv6 query type (echo, node information), or -1. */
export function icmp6ReplyType(type: number): number {
  if (type === 128) return 129;
  if (type === 139) return 140;
  return -1;
}

/** Request type answered by an ICMPv6 reply type, or -1. */
export function icmp6RequestType(type: number): number {
  if (type === 129) return 128;
  if (type === 140) return 139;
  return -1;
}
