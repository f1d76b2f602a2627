/**
 * PacketView: the numbers the parser extracts from one packet, in one long-lived object.
 *
 * The per-packet path reuses a single view: parsing overwrites every field, so nothing is
 * allocated per packet. All fields are plain numbers/booleans, and address words live in
 * preallocated 4-element arrays with the layout of `IpAddress.words` (src/net/ip.ts):
 * IPv4 in word 0, the other words 0. Offsets are absolute indexes into the parsed buffer.
 */
import type { IpAddress } from '../net/ip';

/** Four uint32 address words, most significant first (same layout as `IpAddress.words`). */
export type AddressWords = [number, number, number, number];

export interface PacketView {
  // --- link layer (set by parseLinkLayer; parsePacket leaves them as the link entry set them) ---
  /** Link type the view was parsed from (LinkType value), or -1 for a bare L3 packet. */
  linkType: number;
  /** EtherType (or equivalent) that carried the IP packet, or -1. */
  etherType: number;
  /** VLAN ID of the outer 802.1Q/802.1ad tag, or -1. */
  vlanId: number;
  /** VLAN ID of the inner tag (QinQ), or -1. */
  innerVlanId: number;
  /** Offset of the IP header in the buffer. */
  l3Offset: number;

  // --- IP ---
  /** 4 or 6; 0 until a header was recognised. */
  family: 0 | 4 | 6;
  /** IPv4 IHL * 4, or 40 + the IPv6 extension headers walked. */
  ipHeaderLength: number;
  /** Datagram length the IP header declares (IPv4 total length, IPv6 40 + payload length). */
  totalLength: number;
  /** True when the buffer holds fewer bytes than `totalLength` (only with ParseFlags.ALLOW_TRUNCATED). */
  truncated: boolean;
  /** IPv4 TOS / IPv6 traffic class. */
  tos: number;
  /** IPv4 TTL / IPv6 hop limit. */
  ttl: number;
  /** IPv6 flow label (0 for IPv4). */
  flowLabel: number;
  /** IP protocol, or the final IPv6 next header after the extension chain. */
  proto: number;
  src: AddressWords;
  dst: AddressWords;
  /** IPv4 DF bit. */
  dontFragment: boolean;
  /** Part of a fragmented datagram (offset > 0 or more-fragments set). */
  fragment: boolean;
  /** Fragment offset in bytes. */
  fragOffset: number;
  moreFragments: boolean;
  /** IPv4 identification or IPv6 fragment header identification; -1 when there is none. */
  fragId: number;
  /** ExtHeaderBit set of the IPv6 extension headers the walk passed. */
  extHeaders: number;

  // --- L4 ---
  /** Offset of the L4 header (after IPv4 options / IPv6 extension headers). */
  l4Offset: number;
  /** Bytes from l4Offset to the declared end of the datagram. */
  l4Length: number;
  /** The L4 header was parsed (false for non-first fragments and protocols without one). */
  hasL4Header: boolean;
  /** Ports for TCP, UDP, UDPLite and SCTP; -1 otherwise. */
  sport: number;
  dport: number;
  /** TCP flag byte (TcpFlag bits); 0 when not TCP. */
  tcpFlags: number;
  /** TCP sequence and acknowledgement numbers (uint32), window; 0 when not TCP. */
  tcpSeq: number;
  tcpAck: number;
  tcpWindow: number;
  /** ICMP / ICMPv6 type and code, or -1. */
  icmpType: number;
  icmpCode: number;
  /** Identifier of ICMP query messages (echo, timestamp, ...), or -1. */
  icmpId: number;
  /** Offset and length of the data after the L4 header (after the IP header when there is none). */
  payloadOffset: number;
  payloadLength: number;

  // --- packet quoted by an ICMP / ICMPv6 error ---
  /** The packet is an ICMP error that quotes another packet (inner fields below are meaningful). */
  isIcmpError: boolean;
  /** ParseStatus of the quoted header; OK when the inner tuple below is complete. */
  innerStatus: number;
  innerFamily: 0 | 4 | 6;
  innerProto: number;
  innerSrc: AddressWords;
  innerDst: AddressWords;
  innerSport: number;
  innerDport: number;
  innerIcmpType: number;
  innerIcmpCode: number;
  innerIcmpId: number;
  /** The quoted packet is a non-first fragment (no ports). */
  innerFragment: boolean;
}

/** A 4-word array that holds uint32 values without boxing (double elements from the start). */
function newWords(): AddressWords {
  // -0 is not a small integer, so the array starts with unboxed double elements and
  // storing words >= 2^31 later never reallocates its backing store.
  const w: AddressWords = [-0, -0, -0, -0];
  w[0] = 0;
  w[1] = 0;
  w[2] = 0;
  w[3] = 0;
  return w;
}

/** A fresh view in its reset state. Create one per worker and reuse it for every packet. */
export function createPacketView(): PacketView {
  return {
    linkType: -1,
    etherType: -1,
    vlanId: -1,
    innerVlanId: -1,
    l3Offset: 0,
    family: 0,
    ipHeaderLength: 0,
    totalLength: 0,
    truncated: false,
    tos: 0,
    ttl: 0,
    flowLabel: 0,
    proto: -1,
    src: newWords(),
    dst: newWords(),
    dontFragment: false,
    fragment: false,
    fragOffset: 0,
    moreFragments: false,
    fragId: -1,
    extHeaders: 0,
    l4Offset: 0,
    l4Length: 0,
    hasL4Header: false,
    sport: -1,
    dport: -1,
    tcpFlags: 0,
    tcpSeq: 0,
    tcpAck: 0,
    tcpWindow: 0,
    icmpType: -1,
    icmpCode: -1,
    icmpId: -1,
    payloadOffset: 0,
    payloadLength: 0,
    isIcmpError: false,
    innerStatus: 0,
    innerFamily: 0,
    innerProto: -1,
    innerSrc: newWords(),
    innerDst: newWords(),
    innerSport: -1,
    innerDport: -1,
    innerIcmpType: -1,
    innerIcmpCode: -1,
    innerIcmpId: -1,
    innerFragment: false,
  };
}

function copyAddress(family: 0 | 4 | 6, w: AddressWords): IpAddress {
  return { family: family === 6 ? 6 : 4, words: [w[0], w[1], w[2], w[3]] };
}

/** Source address as an `IpAddress` (allocates: for logs and traces, not the per-packet path). */
export function viewSrc(view: PacketView): IpAddress {
  return copyAddress(view.family, view.src);
}

/** Destination address as an `IpAddress` (allocates). */
export function viewDst(view: PacketView): IpAddress {
  return copyAddress(view.family, view.dst);
}

/** Source address of the packet quoted by an ICMP error (allocates). */
export function viewInnerSrc(view: PacketView): IpAddress {
  return copyAddress(view.innerFamily, view.innerSrc);
}

/** Destination address of the packet quoted by an ICMP error (allocates). */
export function viewInnerDst(view: PacketView): IpAddress {
  return copyAddress(view.innerFamily, view.innerDst);
}
