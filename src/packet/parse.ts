/**
 * Packet parser: bytes -> PacketView numbers, without allocating and without throwing.
 *
 * `parsePacket` takes an L3 packet (what NFQUEUE delivers: it starts at the IP header);
 * `parseLinkLayer` takes a captured frame (pcap) and skips its link header first. Both return a
 * `ParseStatus` code. Malformed input is a status, never an exception: every read is preceded by
 * a bounds check against two ends, the end the headers declare (`dEnd`) and the end of the bytes
 * actually present (`cEnd`). Reading past `dEnd` means a malformed packet; past `cEnd` (but not
 * `dEnd`) means a truncated one.
 *
 * Checksums are not verified: with NFQA_CFG_F_GSO the kernel hands over packets whose checksums
 * are not finished yet, and conntrack's own checksum check applies only at PREROUTING anyway.
 */
import { IpProto, LinkType, ExtHeaderBit, EtherType, isIcmpError, isIcmp6Error } from './protocols';
import type { PacketView } from './packet-view';

export const ParseStatus = {
  OK: 0,
  /** The buffer ends before a header (or before the length the IP header declares). */
  TRUNCATED: 1,
  /** IP version is neither 4 nor 6, or does not match what the link layer announced. */
  BAD_VERSION: 2,
  /** IPv4 IHL below 5. */
  BAD_HEADER_LENGTH: 3,
  /** IPv4 total length smaller than the header. */
  BAD_TOTAL_LENGTH: 4,
  /** Fragment would extend past 65535 bytes. */
  BAD_FRAGMENT: 5,
  /** An IPv6 extension header runs past the end of the datagram. */
  BAD_EXT_HEADER: 6,
  /** More IPv6 extension headers than the walk allows (MAX_IPV6_EXT_HEADERS). */
  EXT_HEADER_LOOP: 7,
  /** L4 header does not fit the datagram, TCP data offset < 5 or beyond the segment, bad UDP length. */
  BAD_L4_HEADER: 8,
  /** The frame carries something other than IPv4/IPv6 (ARP, LLDP, ...): not an error. */
  NOT_IP: 9,
  /** Malformed link-layer header (e.g. too many VLAN tags). */
  BAD_LINK_HEADER: 10,
  /** parseLinkLayer was given a link type it does not know. */
  UNSUPPORTED_LINK_TYPE: 11,
} as const;
export type ParseStatus = (typeof ParseStatus)[keyof typeof ParseStatus];

const STATUS_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const [name, code] of Object.entries(ParseStatus)) names[code] = name;
  return names;
})();

/** `OK`, `TRUNCATED`, ... or `UNKNOWN(<code>)`. */
export function parseStatusName(code: number): string {
  return STATUS_NAMES[code] ?? `UNKNOWN(${code})`;
}

/** Options for parsePacket / parseLinkLayer (bit set). */
export const ParseFlags = {
  /**
   * Accept packets cut short by a capture length (NFQUEUE copy range, pcap snaplen): headers must
   * be present, the payload may be missing. The view's `truncated` is then set. Without this flag a
   * buffer shorter than the IP total length is TRUNCATED.
   */
  ALLOW_TRUNCATED: 1,
} as const;
export type ParseFlag = (typeof ParseFlags)[keyof typeof ParseFlags];

/** Upper bound of the IPv6 extension header walk (real chains have at most ~6 headers). */
export const MAX_IPV6_EXT_HEADERS = 16;
/** Upper bound of stacked 802.1Q / 802.1ad tags. */
export const MAX_VLAN_TAGS = 4;

const OK = ParseStatus.OK;
const TRUNCATED = ParseStatus.TRUNCATED;

function u16(b: Buffer, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function u32(b: Buffer, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Put every L3/L4 field back to its "absent" value; link-layer fields are left alone. */
function resetL3(view: PacketView, l3Offset: number): void {
  view.l3Offset = l3Offset;
  view.family = 0;
  view.ipHeaderLength = 0;
  view.totalLength = 0;
  view.truncated = false;
  view.tos = 0;
  view.ttl = 0;
  view.flowLabel = 0;
  view.proto = -1;
  const s = view.src;
  s[0] = 0;
  s[1] = 0;
  s[2] = 0;
  s[3] = 0;
  const d = view.dst;
  d[0] = 0;
  d[1] = 0;
  d[2] = 0;
  d[3] = 0;
  view.dontFragment = false;
  view.fragment = false;
  view.fragOffset = 0;
  view.moreFragments = false;
  view.fragId = -1;
  view.extHeaders = 0;
  view.l4Offset = 0;
  view.l4Length = 0;
  view.hasL4Header = false;
  view.sport = -1;
  view.dport = -1;
  view.tcpFlags = 0;
  view.tcpSeq = 0;
  view.tcpAck = 0;
  view.tcpWindow = 0;
  view.icmpType = -1;
  view.icmpCode = -1;
  view.icmpId = -1;
  view.payloadOffset = 0;
  view.payloadLength = 0;
  view.isIcmpError = false;
  view.innerStatus = OK;
  view.innerFamily = 0;
  view.innerProto = -1;
  const is = view.innerSrc;
  is[0] = 0;
  is[1] = 0;
  is[2] = 0;
  is[3] = 0;
  const id = view.innerDst;
  id[0] = 0;
  id[1] = 0;
  id[2] = 0;
  id[3] = 0;
  view.innerSport = -1;
  view.innerDport = -1;
  view.innerIcmpType = -1;
  view.innerIcmpCode = -1;
  view.innerIcmpId = -1;
  view.innerFragment = false;
}

/** End of usable bytes for (offset, length) in buf, or -1 when the range is not inside buf. */
function captureEnd(buf: Buffer, offset: number, length: number): number {
  // Written so that NaN and non-integers fail too.
  if (!(offset >= 0 && offset <= buf.length && length >= 0) || offset !== Math.floor(offset)) return -1;
  const end = offset + Math.floor(length);
  return end > buf.length ? buf.length : end;
}

/**
 * Parse an IP packet starting at `offset` (default 0) and spanning at most `length` bytes
 * (default: the rest of the buffer) into `view`. Bytes past the IP total length (link padding)
 * are ignored. Link-layer fields of the view are set to "none".
 */
export function parsePacket(buf: Buffer, view: PacketView, offset = 0, length = buf.length - offset, flags = 0): ParseStatus {
  view.linkType = -1;
  view.etherType = -1;
  view.vlanId = -1;
  view.innerVlanId = -1;
  resetL3(view, offset);
  const end = captureEnd(buf, offset, length);
  if (end < 0) return TRUNCATED;
  return parseL3(buf, view, offset, end, flags, 0);
}

/**
 * Parse a captured frame of the given link type (LinkType values: Ethernet with 802.1Q/QinQ tags,
 * raw IP, Linux cooked v1/v2, BSD NULL/LOOP). Sets `view.l3Offset` to where the IP header starts.
 * Frames that carry no IP (ARP, ...) return NOT_IP.
 */
export function parseLinkLayer(
  buf: Buffer,
  linkType: number,
  view: PacketView,
  offset = 0,
  length = buf.length - offset,
  flags = 0,
): ParseStatus {
  view.linkType = linkType;
  view.etherType = -1;
  view.vlanId = -1;
  view.innerVlanId = -1;
  resetL3(view, offset);
  const end = captureEnd(buf, offset, length);
  if (end < 0) return TRUNCATED;
  switch (linkType) {
    case LinkType.ETHERNET:
      if (end - offset < 14) return TRUNCATED;
      return fromEtherType(buf, view, u16(buf, offset + 12), offset + 14, end, flags);
    case LinkType.RAW:
    case LinkType.RAW_ALT_12:
    case LinkType.RAW_ALT_14:
      return parseL3(buf, view, offset, end, flags, 0);
    case LinkType.IPV4:
      view.etherType = EtherType.IPV4;
      return parseL3(buf, view, offset, end, flags, 4);
    case LinkType.IPV6:
      view.etherType = EtherType.IPV6;
      return parseL3(buf, view, offset, end, flags, 6);
    case LinkType.LINUX_SLL:
      if (end - offset < 16) return TRUNCATED;
      return fromEtherType(buf, view, u16(buf, offset + 14), offset + 16, end, flags);
    case LinkType.LINUX_SLL2:
      if (end - offset < 20) return TRUNCATED;
      return fromEtherType(buf, view, u16(buf, offset), offset + 20, end, flags);
    case LinkType.NULL:
    case LinkType.LOOP: {
      if (end - offset < 4) return TRUNCATED;
      // LOOP is always big-endian; NULL is in the capturing host's order, which shows as a
      // value above 0xffff when read the wrong way round.
      let af = u32(buf, offset);
      if (linkType === LinkType.NULL && af > 0xffff) {
        af = (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24)) >>> 0;
      }
      view.l3Offset = offset + 4;
      if (af === 2) {
        view.etherType = EtherType.IPV4;
        return parseL3(buf, view, offset + 4, end, flags, 4);
      }
      // AF_INET6 differs per BSD: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (Darwin); 10 is Linux.
      if (af === 24 || af === 28 || af === 30 || af === 10) {
        view.etherType = EtherType.IPV6;
        return parseL3(buf, view, offset + 4, end, flags, 6);
      }
      return ParseStatus.NOT_IP;
    }
    default:
      return ParseStatus.UNSUPPORTED_LINK_TYPE;
  }
}

/** Skip VLAN tags after an EtherType field at `pos - 2`, then parse IP or report NOT_IP. */
function fromEtherType(buf: Buffer, view: PacketView, etherType: number, pos: number, end: number, flags: number): ParseStatus {
  let et = etherType;
  let p = pos;
  let tags = 0;
  while (et === EtherType.VLAN || et === EtherType.QINQ || et === EtherType.QINQ_OLD) {
    if (++tags > MAX_VLAN_TAGS) return ParseStatus.BAD_LINK_HEADER;
    if (end - p < 4) return TRUNCATED;
    const vid = u16(buf, p) & 0x0fff;
    if (tags === 1) view.vlanId = vid;
    else if (tags === 2) view.innerVlanId = vid;
    et = u16(buf, p + 2);
    p += 4;
  }
  view.etherType = et;
  view.l3Offset = p;
  if (et === EtherType.IPV4) return parseL3(buf, view, p, end, flags, 4);
  if (et === EtherType.IPV6) return parseL3(buf, view, p, end, flags, 6);
  return ParseStatus.NOT_IP;
}

/** IP header at `off`, bytes present up to `cap`. `expect` is the family the link layer announced (0: any). */
function parseL3(buf: Buffer, view: PacketView, off: number, cap: number, flags: number, expect: number): ParseStatus {
  view.l3Offset = off;
  const avail = cap - off;
  if (avail < 1) return TRUNCATED;
  const version = buf[off]! >>> 4;
  if (version === 4) {
    if (expect === 6) return ParseStatus.BAD_VERSION;
    if (avail < 20) return TRUNCATED;
    const ihl = (buf[off]! & 0x0f) << 2;
    if (ihl < 20) return ParseStatus.BAD_HEADER_LENGTH;
    let total = u16(buf, off + 2);
    // BIG TCP (GSO packets over 64 KiB) carries total length 0: the buffer length is the length.
    if (total === 0 && avail > 0xffff) total = avail;
    if (total < ihl) return ParseStatus.BAD_TOTAL_LENGTH;
    if (avail < total) {
      if ((flags & ParseFlags.ALLOW_TRUNCATED) === 0) return TRUNCATED;
      view.truncated = true;
    }
    if (avail < ihl) return TRUNCATED;
    const frag = u16(buf, off + 6);
    const fragOffset = (frag & 0x1fff) << 3;
    // A fragment must not reach past the 65535-byte datagram limit (the "ping of death").
    if ((frag & 0x3fff) !== 0 && fragOffset + total - ihl > 0xffff) return ParseStatus.BAD_FRAGMENT;
    view.family = 4;
    view.ipHeaderLength = ihl;
    view.totalLength = total;
    view.tos = buf[off + 1]!;
    view.ttl = buf[off + 8]!;
    view.proto = buf[off + 9]!;
    view.src[0] = u32(buf, off + 12);
    view.dst[0] = u32(buf, off + 16);
    view.fragId = u16(buf, off + 4);
    view.dontFragment = (frag & 0x4000) !== 0;
    view.moreFragments = (frag & 0x2000) !== 0;
    view.fragOffset = fragOffset;
    view.fragment = view.moreFragments || fragOffset !== 0;
    const dEnd = off + total;
    return parseL4(buf, view, view.proto, off + ihl, dEnd, cap < dEnd ? cap : dEnd, 4);
  }
  if (version === 6) {
    if (expect === 4) return ParseStatus.BAD_VERSION;
    if (avail < 40) return TRUNCATED;
    let total = 40 + u16(buf, off + 4);
    // Jumbograms / BIG TCP: payload length 0 with more bytes than a 16-bit length can describe.
    if (total === 40 && avail > 0xffff + 40) total = avail;
    if (avail < total) {
      if ((flags & ParseFlags.ALLOW_TRUNCATED) === 0) return TRUNCATED;
      view.truncated = true;
    }
    const first = u32(buf, off);
    view.family = 6;
    view.totalLength = total;
    view.tos = (first >>> 20) & 0xff;
    view.flowLabel = first & 0xfffff;
    view.ttl = buf[off + 7]!;
    const s = view.src;
    s[0] = u32(buf, off + 8);
    s[1] = u32(buf, off + 12);
    s[2] = u32(buf, off + 16);
    s[3] = u32(buf, off + 20);
    const d = view.dst;
    d[0] = u32(buf, off + 24);
    d[1] = u32(buf, off + 28);
    d[2] = u32(buf, off + 32);
    d[3] = u32(buf, off + 36);
    const dEnd = off + total;
    const cEnd = cap < dEnd ? cap : dEnd;
    let next = buf[off + 6]!;
    let pos = off + 40;
    let count = 0;
    // Walk the extension chain; every header is at least 8 bytes, and the count is bounded too.
    for (;;) {
      if (next === IpProto.HOP_BY_HOP || next === IpProto.IPV6_ROUTING || next === IpProto.IPV6_DEST_OPTS || next === IpProto.AH) {
        if (++count > MAX_IPV6_EXT_HEADERS) return ParseStatus.EXT_HEADER_LOOP;
        if (pos + 2 > dEnd) return ParseStatus.BAD_EXT_HEADER;
        if (pos + 2 > cEnd) return TRUNCATED;
        const len = next === IpProto.AH ? (buf[pos + 1]! + 2) << 2 : (buf[pos + 1]! + 1) << 3;
        if (pos + len > dEnd) return ParseStatus.BAD_EXT_HEADER;
        if (pos + len > cEnd) return TRUNCATED;
        view.extHeaders |=
          next === IpProto.HOP_BY_HOP
            ? ExtHeaderBit.HOP_BY_HOP
            : next === IpProto.IPV6_ROUTING
              ? ExtHeaderBit.ROUTING
              : next === IpProto.AH
                ? ExtHeaderBit.AH
                : ExtHeaderBit.DEST_OPTS;
        next = buf[pos]!;
        pos += len;
        continue;
      }
      if (next === IpProto.IPV6_FRAGMENT) {
        if (++count > MAX_IPV6_EXT_HEADERS) return ParseStatus.EXT_HEADER_LOOP;
        if (pos + 8 > dEnd) return ParseStatus.BAD_EXT_HEADER;
        if (pos + 8 > cEnd) return TRUNCATED;
        const fo = u16(buf, pos + 2);
        view.extHeaders |= ExtHeaderBit.FRAGMENT;
        view.fragOffset = fo & 0xfff8;
        view.moreFragments = (fo & 1) !== 0;
        view.fragId = u32(buf, pos + 4);
        // An "atomic fragment" (offset 0, no more fragments) is a whole packet (RFC 6946).
        view.fragment = view.moreFragments || view.fragOffset !== 0;
        next = buf[pos]!;
        pos += 8;
        // Past a non-first fragment there is no next header to read: it is the upper protocol.
        if (view.fragOffset !== 0) break;
        continue;
      }
      if (next === IpProto.ESP) view.extHeaders |= ExtHeaderBit.ESP;
      else if (next === IpProto.IPV6_NO_NEXT) view.extHeaders |= ExtHeaderBit.NO_NEXT;
      break;
    }
    view.ipHeaderLength = pos - off;
    view.proto = next;
    return parseL4(buf, view, next, pos, dEnd, cEnd, 6);
  }
  return ParseStatus.BAD_VERSION;
}

/** The datagram has no parseable L4 header here: everything after the IP header is payload. */
function noL4(view: PacketView): ParseStatus {
  view.payloadOffset = view.l4Offset;
  view.payloadLength = view.l4Length;
  return OK;
}

function parseL4(buf: Buffer, view: PacketView, proto: number, l4: number, dEnd: number, cEnd: number, family: 4 | 6): ParseStatus {
  view.l4Offset = l4;
  const declared = dEnd - l4;
  view.l4Length = declared;
  // Non-first fragments carry no L4 header.
  if (view.fragOffset !== 0) return noL4(view);
  // A first fragment may legitimately end inside the L4 header; then there are no ports either.
  const frag = view.fragment;
  switch (proto) {
    case IpProto.TCP: {
      if (declared < 20) return frag ? noL4(view) : ParseStatus.BAD_L4_HEADER;
      if (cEnd - l4 < 20) return TRUNCATED;
      const doff = (buf[l4 + 12]! >>> 4) << 2;
      if (doff < 20) return ParseStatus.BAD_L4_HEADER;
      if (doff > declared && !frag) return ParseStatus.BAD_L4_HEADER;
      view.sport = u16(buf, l4);
      view.dport = u16(buf, l4 + 2);
      view.tcpSeq = u32(buf, l4 + 4);
      view.tcpAck = u32(buf, l4 + 8);
      view.tcpFlags = buf[l4 + 13]!;
      view.tcpWindow = u16(buf, l4 + 14);
      view.hasL4Header = true;
      const data = doff < declared ? doff : declared;
      view.payloadOffset = l4 + data;
      view.payloadLength = declared - data;
      return OK;
    }
    case IpProto.UDP:
    case IpProto.UDPLITE: {
      if (declared < 8) return frag ? noL4(view) : ParseStatus.BAD_L4_HEADER;
      if (cEnd - l4 < 8) return TRUNCATED;
      const field = u16(buf, l4 + 4);
      let payload = declared - 8;
      if (!frag) {
        if (proto === IpProto.UDP) {
          // UDP length may be shorter than the IP payload (trailing bytes are ignored), never longer.
          if (field < 8 || field > declared) return ParseStatus.BAD_L4_HEADER;
          payload = field - 8;
        } else if (field !== 0 && (field < 8 || field > declared)) {
          // UDPLite: the field is the checksum coverage; 0 means the whole datagram.
          return ParseStatus.BAD_L4_HEADER;
        }
      }
      view.sport = u16(buf, l4);
      view.dport = u16(buf, l4 + 2);
      view.hasL4Header = true;
      view.payloadOffset = l4 + 8;
      view.payloadLength = payload;
      return OK;
    }
    case IpProto.SCTP: {
      if (declared < 12) return frag ? noL4(view) : ParseStatus.BAD_L4_HEADER;
      if (cEnd - l4 < 12) return TRUNCATED;
      view.sport = u16(buf, l4);
      view.dport = u16(buf, l4 + 2);
      view.hasL4Header = true;
      view.payloadOffset = l4 + 12;
      view.payloadLength = declared - 12;
      return OK;
    }
    case IpProto.ICMP:
    case IpProto.ICMPV6: {
      // ICMP inside IPv6 (or ICMPv6 inside IPv4) is just an unknown protocol.
      if ((proto === IpProto.ICMP) !== (family === 4)) return noL4(view);
      if (declared < 8) return frag ? noL4(view) : ParseStatus.BAD_L4_HEADER;
      if (cEnd - l4 < 8) return TRUNCATED;
      const type = buf[l4]!;
      view.icmpType = type;
      view.icmpCode = buf[l4 + 1]!;
      view.hasL4Header = true;
      view.payloadOffset = l4 + 8;
      view.payloadLength = declared - 8;
      if (family === 4) {
        if (type === 0 || type === 8 || (type >= 13 && type <= 18)) view.icmpId = u16(buf, l4 + 4);
        else if (isIcmpError(type)) {
          view.isIcmpError = true;
          view.innerStatus = parseQuoted(buf, view, l4 + 8, cEnd, 4);
        }
      } else if (type === 128 || type === 129 || type === 139 || type === 140) {
        view.icmpId = u16(buf, l4 + 4);
      } else if (isIcmp6Error(type)) {
        view.isIcmpError = true;
        view.innerStatus = parseQuoted(buf, view, l4 + 8, cEnd, 6);
      }
      return OK;
    }
    default:
      return noL4(view);
  }
}

/**
 * The packet quoted by an ICMP error: its IP header and the first bytes of its L4 header, which
 * identify the flow the error is about. Quotes are cut short by design, so lengths in the quoted
 * header are not checked against the quote, and only the bytes needed for the tuple are required
 * (4 for ports, 8 for an ICMP header), as in the kernel's inner-tuple extraction.
 */
function parseQuoted(buf: Buffer, view: PacketView, pos: number, end: number, family: 4 | 6): ParseStatus {
  if (end - pos < 1) return TRUNCATED;
  if (buf[pos]! >>> 4 !== family) return ParseStatus.BAD_VERSION;
  let l4: number;
  let proto: number;
  if (family === 4) {
    if (end - pos < 20) return TRUNCATED;
    const ihl = (buf[pos]! & 0x0f) << 2;
    if (ihl < 20) return ParseStatus.BAD_HEADER_LENGTH;
    if (end - pos < ihl) return TRUNCATED;
    proto = buf[pos + 9]!;
    view.innerFamily = 4;
    view.innerProto = proto;
    view.innerSrc[0] = u32(buf, pos + 12);
    view.innerDst[0] = u32(buf, pos + 16);
    view.innerFragment = (u16(buf, pos + 6) & 0x1fff) !== 0;
    l4 = pos + ihl;
  } else {
    if (end - pos < 40) return TRUNCATED;
    view.innerFamily = 6;
    const s = view.innerSrc;
    s[0] = u32(buf, pos + 8);
    s[1] = u32(buf, pos + 12);
    s[2] = u32(buf, pos + 16);
    s[3] = u32(buf, pos + 20);
    const d = view.innerDst;
    d[0] = u32(buf, pos + 24);
    d[1] = u32(buf, pos + 28);
    d[2] = u32(buf, pos + 32);
    d[3] = u32(buf, pos + 36);
    let next = buf[pos + 6]!;
    let p = pos + 40;
    let count = 0;
    for (;;) {
      if (next === IpProto.HOP_BY_HOP || next === IpProto.IPV6_ROUTING || next === IpProto.IPV6_DEST_OPTS || next === IpProto.AH) {
        if (++count > MAX_IPV6_EXT_HEADERS) return ParseStatus.EXT_HEADER_LOOP;
        if (end - p < 2) return TRUNCATED;
        const len = next === IpProto.AH ? (buf[p + 1]! + 2) << 2 : (buf[p + 1]! + 1) << 3;
        if (end - p < len) return TRUNCATED;
        next = buf[p]!;
        p += len;
        continue;
      }
      if (next === IpProto.IPV6_FRAGMENT) {
        if (++count > MAX_IPV6_EXT_HEADERS) return ParseStatus.EXT_HEADER_LOOP;
        if (end - p < 8) return TRUNCATED;
        if ((u16(buf, p + 2) & 0xfff8) !== 0) view.innerFragment = true;
        next = buf[p]!;
        p += 8;
        if (view.innerFragment) break;
        continue;
      }
      break;
    }
    proto = next;
    view.innerProto = proto;
    l4 = p;
  }
  if (view.innerFragment) return OK;
  if (proto === IpProto.TCP || proto === IpProto.UDP || proto === IpProto.UDPLITE || proto === IpProto.SCTP) {
    if (end - l4 < 4) return TRUNCATED;
    view.innerSport = u16(buf, l4);
    view.innerDport = u16(buf, l4 + 2);
    return OK;
  }
  if ((family === 4 && proto === IpProto.ICMP) || (family === 6 && proto === IpProto.ICMPV6)) {
    if (end - l4 < 8) return TRUNCATED;
    const type = buf[l4]!;
    view.innerIcmpType = type;
    view.innerIcmpCode = buf[l4 + 1]!;
    if (family === 4 ? type === 0 || type === 8 || (type >= 13 && type <= 18) : type === 128 || type === 129 || type === 139 || type === 140) {
      view.innerIcmpId = u16(buf, l4 + 4);
    }
  }
  return OK;
}
