/**
 * Internet checksums (RFC 1071), the TCP/UDP/ICMPv6 pseudo-header, and SCTP's CRC32c.
 *
 * Used by the packet builder and by tests/tools that want to verify a packet. The per-packet path
 * does not verify checksums (see parse.ts).
 */
import { IpProto } from './protocols';
import type { PacketView } from './packet-view';

/** Unfolded 16-bit one's-complement sum of buf[start, end) added to `initial`. */
export function sum16(buf: Buffer, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  // Fold now and then so the sum stays a small integer on long buffers.
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Fold a sum to 16 bits and complement it: the value stored in a checksum field. */
export function finishChecksum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** The Internet checksum of buf[start, end). */
export function internetChecksum(buf: Buffer, start = 0, end = buf.length): number {
  return finishChecksum(sum16(buf, start, end));
}

/**
 * Sum of the pseudo-header for TCP/UDP/UDPLite/ICMPv6: addresses as four words each (IPv4 in
 * word 0), the upper-layer protocol and the upper-layer length.
 */
export function pseudoHeaderSum(
  family: 4 | 6,
  src: readonly number[],
  dst: readonly number[],
  proto: number,
  length: number,
): number {
  let sum = proto + (length >>> 16) + (length & 0xffff);
  const n = family === 4 ? 1 : 4;
  for (let i = 0; i < n; i++) {
    const s = src[i]! >>> 0;
    const d = dst[i]! >>> 0;
    sum += (s >>> 16) + (s & 0xffff) + (d >>> 16) + (d & 0xffff);
  }
  return sum;
}

let crcTable: Uint32Array | null = null;

function crc32cTable(): Uint32Array {
  if (crcTable) return crcTable;
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  crcTable = t;
  return t;
}

/** CRC32c (Castagnoli) of buf[start, end), as used by SCTP (RFC 9260 appendix A). */
export function crc32c(buf: Buffer, start = 0, end = buf.length): number {
  const t = crc32cTable();
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Is the IPv4 header checksum at `l3Offset` correct? */
export function ipv4HeaderChecksumValid(buf: Buffer, l3Offset: number): boolean {
  if (buf.length < l3Offset + 20) return false;
  const ihl = (buf[l3Offset]! & 0x0f) << 2;
  if (ihl < 20 || buf.length < l3Offset + ihl) return false;
  return finishChecksum(sum16(buf, l3Offset, l3Offset + ihl)) === 0;
}

/**
 * Is the L4 checksum of a parsed, complete, unfragmented packet correct? Covers TCP, UDP (a zero
 * checksum is "none" for IPv4 and invalid for IPv6), UDPLite (checksum coverage), ICMP, ICMPv6 and
 * SCTP. Other protocols return true. The IPv6 pseudo-header uses the header's destination (no
 * routing-header final destination).
 */
export function l4ChecksumValid(buf: Buffer, view: PacketView): boolean {
  if (!view.hasL4Header || view.fragment || view.truncated) return false;
  const start = view.l4Offset;
  const end = start + view.l4Length;
  if (end > buf.length) return false;
  const fam = view.family === 6 ? 6 : 4;
  switch (view.proto) {
    case IpProto.TCP:
      return finishChecksum(sum16(buf, start, end, pseudoHeaderSum(fam, view.src, view.dst, IpProto.TCP, end - start))) === 0;
    case IpProto.UDP: {
      const ulen = (buf[start + 4]! << 8) | buf[start + 5]!;
      const stored = (buf[start + 6]! << 8) | buf[start + 7]!;
      if (stored === 0) return fam === 4;
      return finishChecksum(sum16(buf, start, start + ulen, pseudoHeaderSum(fam, view.src, view.dst, IpProto.UDP, ulen))) === 0;
    }
    case IpProto.UDPLITE: {
      const cov = (buf[start + 4]! << 8) | buf[start + 5]!;
      const covEnd = cov === 0 ? end : start + cov;
      return finishChecksum(sum16(buf, start, covEnd, pseudoHeaderSum(fam, view.src, view.dst, IpProto.UDPLITE, end - start))) === 0;
    }
    case IpProto.ICMP:
      return finishChecksum(sum16(buf, start, end)) === 0;
    case IpProto.ICMPV6:
      return finishChecksum(sum16(buf, start, end, pseudoHeaderSum(6, view.src, view.dst, IpProto.ICMPV6, end - start))) === 0;
    case IpProto.SCTP: {
      const stored = buf.readUInt32LE(start + 8);
      const copy = Buffer.from(buf.subarray(start, end));
      copy.writeUInt32LE(0, 8);
      return crc32c(copy) === stored;
    }
    default:
      return true;
  }
}
