/**
 * Packet builder for unit tests, replay fixtures and the live lab.
 *
 * Pure functions that return Buffers. Checksums are computed (IPv4 header, TCP/UDP/UDPLite/ICMPv6
 * pseudo-header sums, ICMP, SCTP CRC32c) so that kernels and tcpdump accept the packets, unless a
 * field is deliberately overridden to build a malformed one. Invalid arguments (a bad address,
 * mixed families) throw: this is test and lab tooling, not the packet path.
 */
import { parseIp, type IpAddress } from '../net/ip';
import { crc32c, finishChecksum, pseudoHeaderSum, sum16 } from './checksum';
import { EtherType, IpProto, TcpFlag } from './protocols';

export type AddressInput = string | IpAddress;

/** One IPv6 extension header, in the order it should appear. */
export type Ipv6ExtHeader =
  | { type: 'hop-by-hop' | 'destination'; /** TLV options; padded with Pad1/PadN to a multiple of 8. */ options?: Buffer }
  | { type: 'routing'; routingType?: number; segmentsLeft?: number; /** type-specific data, padded to 8n+4 bytes */ data?: Buffer }
  | { type: 'fragment'; /** bytes, multiple of 8 */ offset?: number; more?: boolean; id?: number }
  | { type: 'ah'; spi?: number; seq?: number; /** integrity check value, padded so the header is a multiple of 8 */ icv?: Buffer };

export interface IpOptions {
  src: AddressInput;
  dst: AddressInput;
  /** TTL / hop limit (default 64). */
  ttl?: number;
  /** IPv4 TOS / IPv6 traffic class. */
  tos?: number;
  /** IPv4 identification (default 0). */
  id?: number;
  /** IPv4 DF bit. */
  dontFragment?: boolean;
  /** IPv4 MF bit, for hand-made fragments. */
  moreFragments?: boolean;
  /** IPv4 fragment offset in bytes (multiple of 8), for hand-made fragments. */
  fragmentOffset?: number;
  /** IPv4 options; padded with zero (end-of-list) bytes to a multiple of 4, at most 40 bytes. */
  options?: Buffer;
  /** IPv6 flow label. */
  flowLabel?: number;
  /** IPv6 extension headers between the fixed header and the upper-layer header. */
  extHeaders?: readonly Ipv6ExtHeader[];
  /** Replace the IPv4 total length / IPv6 payload length field (malformed packets). */
  lengthOverride?: number;
  /** Replace the IPv4 protocol / last next-header field. */
  protoOverride?: number;
  /** Replace the IPv4 IHL field (in 32-bit words). */
  ihlOverride?: number;
  /** IPv4 only: leave the header checksum wrong on purpose. */
  badChecksum?: boolean;
}

export interface TcpSpec {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  /** TcpFlag bits or letters: F S R P A U E C (e.g. 'SA', 'FA'). Default ACK. */
  flags?: number | string;
  window?: number;
  urgent?: number;
  /** TCP options, padded with zero bytes to a multiple of 4. */
  options?: Buffer;
  payload?: Buffer;
  /** Replace the data offset field (in 32-bit words). */
  dataOffsetOverride?: number;
}

export interface UdpSpec {
  sport: number;
  dport: number;
  payload?: Buffer;
  /** Replace the UDP length field. */
  lengthOverride?: number;
  /** Send checksum 0 ("no checksum", IPv4 only). */
  noChecksum?: boolean;
}

export interface UdpLiteSpec {
  sport: number;
  dport: number;
  payload?: Buffer;
  /** Checksum coverage in bytes (0 = whole datagram, the default). */
  coverage?: number;
}

export interface SctpSpec {
  sport: number;
  dport: number;
  verificationTag?: number;
  /** Chunks after the common header; default: one INIT chunk. */
  chunks?: Buffer;
}

export interface IcmpSpec {
  type: number;
  code?: number;
  /** Identifier and sequence number of query messages (bytes 4..7). */
  id?: number;
  seq?: number;
  /** Bytes 4..7 as one number, for non-query messages (unused, MTU, pointer); overrides id/seq. */
  rest?: number;
  payload?: Buffer;
}

export interface EchoSpec {
  id: number;
  seq?: number;
  reply?: boolean;
  payload?: Buffer;
}

export interface IcmpErrorSpec {
  type: number;
  code?: number;
  /** Bytes 4..7: next-hop MTU (dest-unreachable/frag-needed, packet-too-big), pointer, or 0. */
  rest?: number;
  /** The packet being complained about, starting at its IP header. */
  quote: Buffer;
  /**
   * How many bytes of it to include. Default as Linux does it: as much as keeps the error within
   * 576 bytes (IPv4) or 1280 bytes (IPv6).
   */
  quoteLength?: number;
}

function address(a: AddressInput): IpAddress {
  if (typeof a !== 'string') return a;
  const parsed = parseIp(a);
  if (!parsed) throw new TypeError(`not an IP address: ${a}`);
  return parsed;
}

function addresses(ip: IpOptions): { family: 4 | 6; src: IpAddress; dst: IpAddress } {
  const src = address(ip.src);
  const dst = address(ip.dst);
  if (src.family !== dst.family) throw new TypeError('source and destination are of different families');
  return { family: src.family, src, dst };
}

/** TcpFlag bits from letters F S R P A U E C (any order), or the number itself. */
export function tcpFlags(flags: number | string): number {
  if (typeof flags === 'number') return flags & 0xff;
  let bits = 0;
  for (const ch of flags.toUpperCase()) {
    const bit = ({ F: TcpFlag.FIN, S: TcpFlag.SYN, R: TcpFlag.RST, P: TcpFlag.PSH, A: TcpFlag.ACK, U: TcpFlag.URG, E: TcpFlag.ECE, C: TcpFlag.CWR } as Record<string, number>)[ch];
    if (bit === undefined) throw new TypeError(`unknown TCP flag letter '${ch}' in '${flags}'`);
    bits |= bit;
  }
  return bits;
}

function pad(buf: Buffer, multiple: number): Buffer {
  const rem = buf.length % multiple;
  return rem === 0 ? buf : Buffer.concat([buf, Buffer.alloc(multiple - rem)]);
}

/** Options area of a hop-by-hop / destination header: TLVs padded to 8n+6 bytes with Pad1/PadN. */
function padTlvs(options: Buffer): Buffer {
  const total = Math.max(6, Math.ceil((options.length + 2) / 8) * 8 - 2);
  const need = total - options.length;
  if (need === 0) return options;
  if (need === 1) return Buffer.concat([options, Buffer.from([0])]);
  const padN = Buffer.alloc(need);
  padN[0] = 1;
  padN[1] = need - 2;
  return Buffer.concat([options, padN]);
}

/** Serialise extension headers; `finalProto` is the next header of the last one. */
function extHeaderBytes(headers: readonly Ipv6ExtHeader[], finalProto: number): { bytes: Buffer; firstNext: number } {
  const parts: Buffer[] = [];
  const types: number[] = [];
  for (const h of headers) {
    let b: Buffer;
    switch (h.type) {
      case 'hop-by-hop':
      case 'destination': {
        const body = padTlvs(h.options ?? Buffer.alloc(0));
        b = Buffer.concat([Buffer.alloc(2), body]);
        b[1] = b.length / 8 - 1;
        types.push(h.type === 'hop-by-hop' ? IpProto.HOP_BY_HOP : IpProto.IPV6_DEST_OPTS);
        break;
      }
      case 'routing': {
        let data = h.data ?? Buffer.alloc(4);
        const rem = (data.length + 4) % 8;
        if (rem !== 0) data = Buffer.concat([data, Buffer.alloc(8 - rem)]);
        b = Buffer.concat([Buffer.alloc(4), data]);
        b[1] = b.length / 8 - 1;
        b[2] = h.routingType ?? 0;
        b[3] = h.segmentsLeft ?? 0;
        types.push(IpProto.IPV6_ROUTING);
        break;
      }
      case 'fragment': {
        b = Buffer.alloc(8);
        b.writeUInt16BE(((h.offset ?? 0) & 0xfff8) | (h.more ? 1 : 0), 2);
        b.writeUInt32BE((h.id ?? 0) >>> 0, 4);
        types.push(IpProto.IPV6_FRAGMENT);
        break;
      }
      case 'ah': {
        let icv = h.icv ?? Buffer.alloc(12);
        const rem = (12 + icv.length) % 8;
        if (rem !== 0) icv = Buffer.concat([icv, Buffer.alloc(8 - rem)]);
        b = Buffer.concat([Buffer.alloc(12), icv]);
        b[1] = b.length / 4 - 2;
        b.writeUInt32BE((h.spi ?? 0x100) >>> 0, 4);
        b.writeUInt32BE((h.seq ?? 1) >>> 0, 8);
        types.push(IpProto.AH);
        break;
      }
    }
    parts.push(b);
  }
  for (let i = 0; i < parts.length; i++) parts[i]![0] = i + 1 < types.length ? types[i + 1]! : finalProto;
  return { bytes: Buffer.concat(parts), firstNext: types.length > 0 ? types[0]! : finalProto };
}

/**
 * Wrap an upper-layer payload (already complete, checksum included) in an IPv4 or IPv6 header
 * (family from the addresses), with IPv4 options or IPv6 extension headers.
 */
export function buildIp(ip: IpOptions, proto: number, l4: Buffer): Buffer {
  const { family, src, dst } = addresses(ip);
  const protoField = ip.protoOverride ?? proto;
  if (family === 4) {
    if (ip.extHeaders && ip.extHeaders.length > 0) throw new TypeError('extension headers need IPv6 addresses');
    const options = pad(ip.options ?? Buffer.alloc(0), 4);
    if (options.length > 40) throw new RangeError('IPv4 options are limited to 40 bytes');
    const hlen = 20 + options.length;
    const h = Buffer.alloc(hlen);
    h[0] = 0x40 | (ip.ihlOverride ?? hlen / 4);
    h[1] = ip.tos ?? 0;
    h.writeUInt16BE(ip.lengthOverride ?? (hlen + l4.length) & 0xffff, 2);
    h.writeUInt16BE((ip.id ?? 0) & 0xffff, 4);
    const fo = ((ip.fragmentOffset ?? 0) >>> 3) & 0x1fff;
    h.writeUInt16BE((ip.dontFragment ? 0x4000 : 0) | (ip.moreFragments ? 0x2000 : 0) | fo, 6);
    h[8] = ip.ttl ?? 64;
    h[9] = protoField;
    h.writeUInt32BE(src.words[0] >>> 0, 12);
    h.writeUInt32BE(dst.words[0] >>> 0, 16);
    options.copy(h, 20);
    const ck = finishChecksum(sum16(h, 0, hlen));
    h.writeUInt16BE(ip.badChecksum ? ck ^ 0xffff || 1 : ck, 10);
    return Buffer.concat([h, l4]);
  }
  if (ip.options && ip.options.length > 0) throw new TypeError('IPv4 options need IPv4 addresses');
  const ext = extHeaderBytes(ip.extHeaders ?? [], protoField);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(((6 << 28) | ((ip.tos ?? 0) << 20) | ((ip.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
  h.writeUInt16BE(ip.lengthOverride ?? (ext.bytes.length + l4.length) & 0xffff, 4);
  h[6] = ext.firstNext;
  h[7] = ip.ttl ?? 64;
  for (let i = 0; i < 4; i++) {
    h.writeUInt32BE(src.words[i]! >>> 0, 8 + 4 * i);
    h.writeUInt32BE(dst.words[i]! >>> 0, 24 + 4 * i);
  }
  return Buffer.concat([h, ext.bytes, l4]);
}

/** Fill the checksum at `at` of an upper-layer segment using the pseudo-header. */
function withPseudoChecksum(ip: IpOptions, proto: number, seg: Buffer, at: number, coverage = seg.length): Buffer {
  const { family, src, dst } = addresses(ip);
  seg.writeUInt16BE(0, at);
  const ck = finishChecksum(sum16(seg, 0, coverage, pseudoHeaderSum(family, src.words, dst.words, proto, seg.length)));
  seg.writeUInt16BE(ck, at);
  return seg;
}

export function buildTcp(ip: IpOptions, tcp: TcpSpec): Buffer {
  const options = pad(tcp.options ?? Buffer.alloc(0), 4);
  if (options.length > 40) throw new RangeError('TCP options are limited to 40 bytes');
  const payload = tcp.payload ?? Buffer.alloc(0);
  const seg = Buffer.alloc(20 + options.length + payload.length);
  seg.writeUInt16BE(tcp.sport, 0);
  seg.writeUInt16BE(tcp.dport, 2);
  seg.writeUInt32BE((tcp.seq ?? 1000) >>> 0, 4);
  seg.writeUInt32BE((tcp.ack ?? 0) >>> 0, 8);
  seg[12] = (tcp.dataOffsetOverride ?? (20 + options.length) / 4) << 4;
  seg[13] = tcpFlags(tcp.flags ?? TcpFlag.ACK);
  seg.writeUInt16BE(tcp.window ?? 64240, 14);
  seg.writeUInt16BE(tcp.urgent ?? 0, 18);
  options.copy(seg, 20);
  payload.copy(seg, 20 + options.length);
  return buildIp(ip, IpProto.TCP, withPseudoChecksum(ip, IpProto.TCP, seg, 16));
}

export function buildUdp(ip: IpOptions, udp: UdpSpec): Buffer {
  const payload = udp.payload ?? Buffer.alloc(0);
  const seg = Buffer.alloc(8 + payload.length);
  seg.writeUInt16BE(udp.sport, 0);
  seg.writeUInt16BE(udp.dport, 2);
  seg.writeUInt16BE(udp.lengthOverride ?? seg.length, 4);
  payload.copy(seg, 8);
  if (udp.noChecksum) return buildIp(ip, IpProto.UDP, seg);
  withPseudoChecksum(ip, IpProto.UDP, seg, 6);
  // A computed 0 is sent as 0xffff: 0 means "no checksum".
  if (seg.readUInt16BE(6) === 0) seg.writeUInt16BE(0xffff, 6);
  return buildIp(ip, IpProto.UDP, seg);
}

export function buildUdpLite(ip: IpOptions, spec: UdpLiteSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const seg = Buffer.alloc(8 + payload.length);
  const coverage = spec.coverage ?? 0;
  seg.writeUInt16BE(spec.sport, 0);
  seg.writeUInt16BE(spec.dport, 2);
  seg.writeUInt16BE(coverage, 4);
  payload.copy(seg, 8);
  withPseudoChecksum(ip, IpProto.UDPLITE, seg, 6, coverage === 0 ? seg.length : Math.min(coverage, seg.length));
  if (seg.readUInt16BE(6) === 0) seg.writeUInt16BE(0xffff, 6);
  return buildIp(ip, IpProto.UDPLITE, seg);
}

/** A minimal SCTP INIT chunk (enough for tcpdump to decode and for conntrack to see a start). */
function sctpInitChunk(): Buffer {
  const c = Buffer.alloc(20);
  c[0] = 1; // INIT
  c.writeUInt16BE(20, 2);
  c.writeUInt32BE(0x12345678, 4); // initiate tag
  c.writeUInt32BE(65535, 8); // a_rwnd
  c.writeUInt16BE(1, 12); // outbound streams
  c.writeUInt16BE(1, 14); // inbound streams
  c.writeUInt32BE(1, 16); // initial TSN
  return c;
}

export function buildSctp(ip: IpOptions, spec: SctpSpec): Buffer {
  const chunks = spec.chunks ?? sctpInitChunk();
  const seg = Buffer.alloc(12 + chunks.length);
  seg.writeUInt16BE(spec.sport, 0);
  seg.writeUInt16BE(spec.dport, 2);
  seg.writeUInt32BE((spec.verificationTag ?? 0) >>> 0, 4);
  chunks.copy(seg, 12);
  // SCTP stores its CRC32c least significant byte first.
  seg.writeUInt32LE(crc32c(seg), 8);
  return buildIp(ip, IpProto.SCTP, seg);
}

function icmpBody(spec: IcmpSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const msg = Buffer.alloc(8 + payload.length);
  msg[0] = spec.type;
  msg[1] = spec.code ?? 0;
  if (spec.rest !== undefined) msg.writeUInt32BE(spec.rest >>> 0, 4);
  else {
    msg.writeUInt16BE((spec.id ?? 0) & 0xffff, 4);
    msg.writeUInt16BE((spec.seq ?? 0) & 0xffff, 6);
  }
  payload.copy(msg, 8);
  return msg;
}

/** ICMPv4 message (needs IPv4 addresses). */
export function buildIcmp(ip: IpOptions, spec: IcmpSpec): Buffer {
  if (addresses(ip).family !== 4) throw new TypeError('ICMP needs IPv4 addresses; use buildIcmpv6');
  const msg = icmpBody(spec);
  msg.writeUInt16BE(finishChecksum(sum16(msg, 0, msg.length)), 2);
  return buildIp(ip, IpProto.ICMP, msg);
}

/** ICMPv6 message (needs IPv6 addresses); checksum over the pseudo-header. */
export function buildIcmpv6(ip: IpOptions, spec: IcmpSpec): Buffer {
  if (addresses(ip).family !== 6) throw new TypeError('ICMPv6 needs IPv6 addresses; use buildIcmp');
  return buildIp(ip, IpProto.ICMPV6, withPseudoChecksum(ip, IpProto.ICMPV6, icmpBody(spec), 2));
}

/** Echo request or reply, ICMP or ICMPv6 by the address family. */
export function buildEcho(ip: IpOptions, echo: EchoSpec): Buffer {
  const v6 = addresses(ip).family === 6;
  const type = v6 ? (echo.reply ? 129 : 128) : echo.reply ? 0 : 8;
  const spec: IcmpSpec = { type, id: echo.id, seq: echo.seq ?? 1, payload: echo.payload ?? Buffer.from('nfqwall-echo') };
  return v6 ? buildIcmpv6(ip, spec) : buildIcmp(ip, spec);
}

/** An ICMP / ICMPv6 error quoting another packet (family by the addresses). */
export function buildIcmpError(ip: IpOptions, err: IcmpErrorSpec): Buffer {
  const v6 = addresses(ip).family === 6;
  // Linux keeps errors within the minimum MTU: 576 (IPv4, with a 20-byte header) / 1280 (IPv6).
  const room = v6 ? 1280 - 40 - 8 : 576 - 20 - 8;
  const n = Math.min(err.quote.length, err.quoteLength ?? room);
  const spec: IcmpSpec = { type: err.type, code: err.code ?? 0, rest: err.rest ?? 0, payload: Buffer.from(err.quote.subarray(0, n)) };
  return v6 ? buildIcmpv6(ip, spec) : buildIcmp(ip, spec);
}

/** Any protocol number with an opaque payload (GRE, ESP, OSPF, a hand-made fragment, ...). */
export function buildRaw(ip: IpOptions, proto: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return buildIp(ip, proto, payload);
}

/**
 * Split a complete IPv4 or IPv6 packet into fragments carrying at most `maxData` bytes of the
 * fragmentable part each (rounded down to a multiple of 8). IPv4 options without the copy bit
 * stay in the first fragment only; IPv6 gets a fragment header after the unfragmentable part
 * (hop-by-hop, and everything up to a routing header).
 */
export function fragmentPacket(packet: Buffer, maxData: number, id = 0x1234): Buffer[] {
  const chunk = Math.floor(maxData / 8) * 8;
  if (chunk < 8) throw new RangeError('fragments must carry at least 8 bytes');
  const version = packet[0]! >>> 4;
  if (version === 4) {
    const ihl = (packet[0]! & 0x0f) * 4;
    const total = packet.readUInt16BE(2);
    const data = packet.subarray(ihl, total);
    const options = packet.subarray(20, ihl);
    const copied: Buffer[] = [];
    for (let i = 0; i < options.length; ) {
      const t = options[i]!;
      if (t === 0) break;
      if (t === 1) {
        i++;
        continue;
      }
      const len = options[i + 1] ?? 0;
      if (len < 2) break;
      if (t & 0x80) copied.push(options.subarray(i, i + len));
      i += len;
    }
    const laterOptions = pad(Buffer.concat(copied), 4);
    const out: Buffer[] = [];
    for (let off = 0; off < data.length; off += chunk) {
      const piece = data.subarray(off, Math.min(off + chunk, data.length));
      const opts = off === 0 ? options : laterOptions;
      const h = Buffer.alloc(20 + opts.length);
      packet.copy(h, 0, 0, 20);
      opts.copy(h, 20);
      h[0] = 0x40 | (h.length / 4);
      h.writeUInt16BE(h.length + piece.length, 2);
      h.writeUInt16BE(id & 0xffff, 4);
      const more = off + chunk < data.length;
      h.writeUInt16BE((packet.readUInt16BE(6) & 0x4000) | (more ? 0x2000 : 0) | (off >>> 3), 6);
      h.writeUInt16BE(0, 10);
      h.writeUInt16BE(finishChecksum(sum16(h, 0, h.length)), 10);
      out.push(Buffer.concat([h, piece]));
    }
    return out;
  }
  if (version !== 6) throw new TypeError('not an IP packet');
  const total = 40 + packet.readUInt16BE(4);
  // The unfragmentable part ends after the last hop-by-hop or routing header (destination options
  // before a routing header come along). `splitField` is the next-header byte that points past it.
  let split = 40;
  let splitField = 6;
  let pos = 40;
  let type = packet[6]!;
  while (type === IpProto.HOP_BY_HOP || type === IpProto.IPV6_ROUTING || type === IpProto.IPV6_DEST_OPTS) {
    const here = pos;
    const following = packet[pos]!;
    pos += (packet[pos + 1]! + 1) * 8;
    if (type !== IpProto.IPV6_DEST_OPTS) {
      split = pos;
      splitField = here;
    }
    type = following;
  }
  const next = packet[splitField]!;
  const unfrag = Buffer.from(packet.subarray(0, split));
  unfrag[splitField] = IpProto.IPV6_FRAGMENT;
  const data = packet.subarray(split, total);
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += chunk) {
    const piece = data.subarray(off, Math.min(off + chunk, data.length));
    const fh = Buffer.alloc(8);
    fh[0] = next;
    fh.writeUInt16BE(off | (off + chunk < data.length ? 1 : 0), 2);
    fh.writeUInt32BE(id >>> 0, 4);
    const frag = Buffer.concat([unfrag, fh, piece]);
    frag.writeUInt16BE(frag.length - 40, 4);
    out.push(frag);
  }
  return out;
}

function macBytes(mac: string | undefined, fallback: string): Buffer {
  const text = mac ?? fallback;
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new TypeError(`not a MAC address: ${text}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

function etherTypeOf(l3: Buffer): number {
  return l3.length > 0 && l3[0]! >>> 4 === 6 ? EtherType.IPV6 : EtherType.IPV4;
}

export interface EthernetOptions {
  src?: string;
  dst?: string;
  /** VLAN IDs, outermost first. Two or more tags: the outer ones use 802.1ad (0x88a8). */
  vlans?: readonly number[];
  /** EtherType of the payload (default from the IP version nibble). */
  etherType?: number;
}

/** Ethernet II frame around a payload (no FCS). */
export function buildEthernet(payload: Buffer, opts: EthernetOptions = {}): Buffer {
  const vlans = opts.vlans ?? [];
  const h = Buffer.alloc(14 + 4 * vlans.length);
  macBytes(opts.dst, '02:00:00:00:00:02').copy(h, 0);
  macBytes(opts.src, '02:00:00:00:00:01').copy(h, 6);
  let p = 12;
  vlans.forEach((vid, i) => {
    h.writeUInt16BE(i < vlans.length - 1 ? EtherType.QINQ : EtherType.VLAN, p);
    h.writeUInt16BE(vid & 0x0fff, p + 2);
    p += 4;
  });
  h.writeUInt16BE(opts.etherType ?? etherTypeOf(payload), p);
  return Buffer.concat([h, payload]);
}

/** Linux cooked capture v1 header (LINKTYPE_LINUX_SLL) around a payload. */
export function buildLinuxSll(payload: Buffer, opts: { packetType?: number; etherType?: number } = {}): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(opts.packetType ?? 0, 0);
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  macBytes(undefined, '02:00:00:00:00:01').copy(h, 6);
  h.writeUInt16BE(opts.etherType ?? etherTypeOf(payload), 14);
  return Buffer.concat([h, payload]);
}

/** Linux cooked capture v2 header (LINKTYPE_LINUX_SLL2) around a payload. */
export function buildLinuxSll2(payload: Buffer, opts: { ifIndex?: number; packetType?: number; etherType?: number } = {}): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(opts.etherType ?? etherTypeOf(payload), 0);
  h.writeUInt32BE(opts.ifIndex ?? 1, 4);
  h.writeUInt16BE(1, 8); // ARPHRD_ETHER
  h[10] = opts.packetType ?? 0;
  h[11] = 6;
  macBytes(undefined, '02:00:00:00:00:01').copy(h, 12);
  return Buffer.concat([h, payload]);
}

/**
 * BSD loopback header: LINKTYPE_NULL (address family in the capturing host's byte order; little
 * endian by default) or LINKTYPE_LOOP (`loop: true`, network byte order).
 */
export function buildBsdLoopback(payload: Buffer, opts: { addressFamily?: number; bigEndian?: boolean; loop?: boolean } = {}): Buffer {
  const h = Buffer.alloc(4);
  const af = opts.addressFamily ?? (etherTypeOf(payload) === EtherType.IPV6 ? 30 : 2);
  if (opts.loop || opts.bigEndian) h.writeUInt32BE(af, 0);
  else h.writeUInt32LE(af, 0);
  return Buffer.concat([h, payload]);
}
