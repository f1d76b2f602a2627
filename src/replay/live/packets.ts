/**
 * Packet bytes for the live replay: the IP datagram of a captured record, checksums made right
 * before sending, the fingerprint that recognises a packet after the router forwarded it, and the
 * IP packet inside an NFLOG record.
 */
import { createHash } from 'node:crypto';
import { formatIp } from '../../net/ip';
import {
  IpProto,
  LinkType,
  ParseStatus,
  createPacketView,
  finishChecksum,
  parseLinkLayer,
  parsePacket,
  pseudoHeaderSum,
  sum16,
  viewDst,
  viewSrc,
  type PacketView,
} from '../../packet';

/**
 * Recompute the IPv4 header checksum and the TCP / UDP / ICMP / ICMPv6 checksum of a whole IP
 * datagram, in place. A capture taken on the sending host holds what checksum offload left in the
 * field (often the pseudo-header sum only); the router's conntrack would call such a packet
 * INVALID, which the offline replay (which does not verify checksums) never does. Fragments keep
 * their L4 checksum (it covers the reassembled datagram). Returns false when `ip` does not parse.
 */
export function fixChecksums(ip: Buffer): boolean {
  const v = createPacketView();
  if (parsePacket(ip, v) !== ParseStatus.OK) return false;
  if (v.family === 4) {
    ip.writeUInt16BE(0, 10);
    ip.writeUInt16BE(finishChecksum(sum16(ip, 0, v.ipHeaderLength)), 10);
  }
  if (v.fragment || !v.hasL4Header) return true;
  const start = v.l4Offset;
  const end = start + v.l4Length;
  if (end > ip.length) return true;
  const family = v.family as 4 | 6;
  const pseudo = (proto: number): number => pseudoHeaderSum(family, v.src, v.dst, proto, v.l4Length);
  let at = -1;
  let initial = 0;
  switch (v.proto) {
    case IpProto.TCP:
      at = start + 16;
      initial = pseudo(IpProto.TCP);
      break;
    case IpProto.UDP:
      // 0 means "no checksum" in IPv4: keep it that way.
      if (family === 4 && ip.readUInt16BE(start + 6) === 0) return true;
      at = start + 6;
      initial = pseudo(IpProto.UDP);
      break;
    case IpProto.ICMP:
      at = start + 2;
      break;
    case IpProto.ICMPV6:
      at = start + 2;
      initial = pseudo(IpProto.ICMPV6);
      break;
    default:
      return true;
  }
  ip.writeUInt16BE(0, at);
  let ck = finishChecksum(sum16(ip, start, end, initial));
  if (ck === 0 && v.proto === IpProto.UDP) ck = 0xffff;
  ip.writeUInt16BE(ck, at);
  return true;
}

/**
 * What identifies a packet on both sides of the router: addresses, protocol, ports, TCP
 * sequence / acknowledgement / flags, ICMP type / code / identifier / sequence, fragment offset
 * and a hash of the payload; not what forwarding changes (TTL / hop limit, checksums, MACs).
 * Null when `ip` is not a parseable IP packet.
 */
export function fingerprint(ip: Buffer, view: PacketView = createPacketView()): string | null {
  if (parsePacket(ip, view) !== ParseStatus.OK) return null;
  return fingerprintOfView(ip, view);
}

export function fingerprintOfView(buf: Buffer, v: PacketView): string {
  const s = v.src;
  const d = v.dst;
  let l4 = '';
  if (v.proto === IpProto.TCP && v.hasL4Header) l4 = `${v.tcpSeq}/${v.tcpAck}/${v.tcpFlags}`;
  else if ((v.proto === IpProto.ICMP || v.proto === IpProto.ICMPV6) && v.hasL4Header) {
    const seq = v.l4Offset + 8 <= buf.length ? buf.readUInt16BE(v.l4Offset + 6) : -1;
    l4 = `${v.icmpType}/${v.icmpCode}/${v.icmpId}/${seq}`;
  }
  const end = Math.min(buf.length, v.payloadOffset + v.payloadLength);
  const hash = createHash('sha1').update(buf.subarray(v.payloadOffset, end)).digest('base64').slice(0, 12);
  return `${v.family}|${v.proto}|${s[0]},${s[1]},${s[2]},${s[3]}|${d[0]},${d[1]},${d[2]},${d[3]}|${v.sport}|${v.dport}|${l4}|${v.fragOffset}|${v.payloadLength}|${hash}`;
}

/** The IP packet of an Ethernet frame (VLAN tags allowed), or null. */
export function ipOfEthernet(frame: Buffer): Buffer | null {
  const v = createPacketView();
  if (parseLinkLayer(frame, LinkType.ETHERNET, v) !== ParseStatus.OK) return null;
  return frame.subarray(v.l3Offset, Math.min(frame.length, v.l3Offset + v.totalLength));
}

/** NFULA_PAYLOAD: the packet, from its network header on. */
const NFULA_PAYLOAD = 9;

/**
 * The IP packet inside a LINKTYPE_NFLOG record: a 4-byte header (family, version, group), then
 * TLVs whose length and type are in host byte order, padded to 4 bytes.
 */
export function ipOfNflog(rec: Buffer): Buffer | null {
  let p = 4;
  while (p + 4 <= rec.length) {
    const len = rec.readUInt16LE(p);
    const type = rec.readUInt16LE(p + 2) & 0x7fff;
    if (len < 4 || p + len > rec.length) return null;
    if (type === NFULA_PAYLOAD) return rec.subarray(p + 4, p + len);
    p += (len + 3) & ~3;
  }
  return null;
}

/** A one-line description: `TCP 10.10.0.2:40000 -> 10.20.0.2:22 [S]`, `ICMP 10.10.0.2 -> 10.20.0.2 echo-request id 7 seq 1`. */
export function describeView(buf: Buffer, v: PacketView): string {
  const src = formatIp(viewSrc(v));
  const dst = formatIp(viewDst(v));
  const ep = (a: string, port: number): string => (port < 0 ? a : v.family === 6 ? `[${a}]:${port}` : `${a}:${port}`);
  switch (v.proto) {
    case IpProto.TCP:
      return `TCP ${ep(src, v.sport)} -> ${ep(dst, v.dport)} [${tcpFlagLetters(v.tcpFlags)}]${v.payloadLength > 0 ? ` ${v.payloadLength} bytes` : ''}`;
    case IpProto.UDP:
      return `UDP ${ep(src, v.sport)} -> ${ep(dst, v.dport)} ${v.payloadLength} bytes`;
    case IpProto.ICMP:
    case IpProto.ICMPV6: {
      const name = v.proto === IpProto.ICMP ? 'ICMP' : 'ICMPv6';
      const echo = icmpEchoName(v.proto, v.icmpType);
      if (echo !== null && v.l4Offset + 8 <= buf.length) return `${name} ${src} -> ${dst} ${echo} id ${v.icmpId} seq ${buf.readUInt16BE(v.l4Offset + 6)}`;
      return `${name} ${src} -> ${dst} type ${v.icmpType} code ${v.icmpCode}`;
    }
    default:
      return `proto ${v.proto} ${src} -> ${dst}`;
  }
}

function icmpEchoName(proto: number, type: number): string | null {
  if (proto === IpProto.ICMP) return type === 8 ? 'echo-request' : type === 0 ? 'echo-reply' : null;
  return type === 128 ? 'echo-request' : type === 129 ? 'echo-reply' : null;
}

function tcpFlagLetters(flags: number): string {
  const letters: Array<[number, string]> = [
    [0x02, 'S'],
    [0x10, 'A'],
    [0x01, 'F'],
    [0x04, 'R'],
    [0x08, 'P'],
  ];
  const s = letters.filter(([bit]) => (flags & bit) !== 0).map(([, l]) => l).join('');
  return s === '' ? '.' : s;
}
