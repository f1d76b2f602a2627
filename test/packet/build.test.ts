import { strict as assert } from 'node:assert';
import {
  EtherType,
  IpProto,
  ParseStatus,
  TcpFlag,
  buildBsdLoopback,
  buildEcho,
  buildEthernet,
  buildIcmp,
  buildIcmpError,
  buildIcmpv6,
  buildLinuxSll,
  buildLinuxSll2,
  buildRaw,
  buildSctp,
  buildTcp,
  buildUdp,
  buildUdpLite,
  crc32c,
  createPacketView,
  fragmentPacket,
  ipv4HeaderChecksumValid,
  l4ChecksumValid,
  parsePacket,
  tcpFlags,
} from '../../src/packet';

const V4 = { src: '192.168.7.1', dst: '172.16.0.9' };
const V6 = { src: 'fe80::1234:5678:9abc:def0', dst: '2001:db8:85a3::8a2e:370:7334' };

/** A deliberately naive RFC 1071 checksum over a list of byte arrays (independent of src/packet/checksum.ts). */
function referenceChecksum(...parts: number[][]): number {
  const bytes = parts.flat();
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += bytes[i]! * 256 + (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum % 65536) + Math.floor(sum / 65536);
  return 0xffff - sum;
}

function bytesOf(buf: Buffer, start: number, end: number): number[] {
  return [...buf.subarray(start, end)];
}

/** Pseudo-header bytes, built from the packet's own header fields. */
function pseudo(pkt: Buffer, proto: number, length: number): number[] {
  if (pkt[0]! >>> 4 === 4) return [...bytesOf(pkt, 12, 20), 0, proto, length >>> 8, length & 0xff];
  return [...bytesOf(pkt, 8, 40), 0, 0, length >>> 8, length & 0xff, 0, 0, 0, proto];
}

interface ChecksumCase {
  name: string;
  packet: () => Buffer;
  l4Start: number;
  proto: number;
  /** ICMPv4 has no pseudo-header. */
  noPseudo?: boolean;
}

const checksumCases: ChecksumCase[] = [
  { name: 'TCP/IPv4 with payload', packet: () => buildTcp(V4, { sport: 1, dport: 2, flags: 'PA', payload: Buffer.from('odd length!') }), l4Start: 20, proto: 6 },
  { name: 'TCP/IPv4 with IP options', packet: () => buildTcp({ ...V4, options: Buffer.from([0x94, 4, 0, 0]) }, { sport: 1, dport: 2 }), l4Start: 24, proto: 6 },
  { name: 'TCP/IPv6', packet: () => buildTcp(V6, { sport: 65535, dport: 1, flags: 'S', options: Buffer.from([2, 4, 5, 0xa0]) }), l4Start: 40, proto: 6 },
  { name: 'TCP/IPv6 behind extension headers', packet: () => buildTcp({ ...V6, extHeaders: [{ type: 'hop-by-hop' }, { type: 'destination' }] }, { sport: 3, dport: 4 }), l4Start: 56, proto: 6 },
  { name: 'UDP/IPv4', packet: () => buildUdp(V4, { sport: 53, dport: 33000, payload: Buffer.from('abc') }), l4Start: 20, proto: 17 },
  { name: 'UDP/IPv6', packet: () => buildUdp(V6, { sport: 53, dport: 33000, payload: Buffer.alloc(301, 0xa5) }), l4Start: 40, proto: 17 },
  { name: 'UDPLite/IPv4 full coverage', packet: () => buildUdpLite(V4, { sport: 1, dport: 2, payload: Buffer.from('lite') }), l4Start: 20, proto: 136 },
  { name: 'ICMP echo', packet: () => buildEcho(V4, { id: 1, seq: 2 }), l4Start: 20, proto: 1, noPseudo: true },
  { name: 'ICMP error', packet: () => buildIcmpError(V4, { type: 3, code: 1, quote: buildUdp({ src: V4.dst, dst: V4.src }, { sport: 5, dport: 6 }) }), l4Start: 20, proto: 1, noPseudo: true },
  { name: 'ICMPv6 echo', packet: () => buildEcho(V6, { id: 9, reply: true }), l4Start: 40, proto: 58 },
  { name: 'ICMPv6 error', packet: () => buildIcmpError(V6, { type: 2, rest: 1280, quote: buildTcp({ src: V6.dst, dst: V6.src }, { sport: 5, dport: 6, payload: Buffer.alloc(2000) }) }), l4Start: 40, proto: 58 },
];

describe('packet/build', () => {
  describe('checksums match an independent computation', () => {
    for (const c of checksumCases) {
      it(c.name, () => {
        const pkt = c.packet();
        const isV4 = pkt[0]! >>> 4 === 4;
        if (isV4) {
          const ihl = (pkt[0]! & 0x0f) * 4;
          assert.equal(referenceChecksum(bytesOf(pkt, 0, ihl)), 0, 'IPv4 header checksum');
          assert.ok(ipv4HeaderChecksumValid(pkt, 0));
        }
        const l4 = bytesOf(pkt, c.l4Start, pkt.length);
        const sum = c.noPseudo ? referenceChecksum(l4) : referenceChecksum(pseudo(pkt, c.proto, l4.length), l4);
        assert.equal(sum, 0, 'L4 checksum');
        const view = createPacketView();
        assert.equal(parsePacket(pkt, view), ParseStatus.OK);
        assert.ok(l4ChecksumValid(pkt, view));
        // A flipped payload/header byte must be caught.
        const bad = Buffer.from(pkt);
        bad[bad.length - 1]! ^= 0x01;
        parsePacket(bad, view);
        assert.equal(l4ChecksumValid(bad, view), false);
      });
    }

    it('UDPLite partial coverage covers only the covered bytes', () => {
      const pkt = buildUdpLite(V6, { sport: 1, dport: 2, payload: Buffer.alloc(40, 7), coverage: 8 });
      const view = createPacketView();
      assert.equal(parsePacket(pkt, view), ParseStatus.OK);
      assert.ok(l4ChecksumValid(pkt, view));
      pkt[pkt.length - 1] = 0; // outside the coverage
      assert.ok(l4ChecksumValid(pkt, view));
    });

    it('SCTP uses CRC32c', () => {
      assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
      for (const ip of [V4, V6]) {
        const pkt = buildSctp(ip, { sport: 5000, dport: 5001, verificationTag: 0xabcdef01 });
        const view = createPacketView();
        assert.equal(parsePacket(pkt, view), ParseStatus.OK);
        const seg = Buffer.from(pkt.subarray(view.l4Offset));
        const stored = seg.readUInt32LE(8);
        seg.writeUInt32LE(0, 8);
        assert.equal(stored, crc32c(seg));
        assert.ok(l4ChecksumValid(pkt, view));
      }
    });

    it('UDP without checksum is valid over IPv4 only', () => {
      const view = createPacketView();
      const v4 = buildUdp(V4, { sport: 1, dport: 2, noChecksum: true });
      parsePacket(v4, view);
      assert.equal(v4.readUInt16BE(26), 0);
      assert.ok(l4ChecksumValid(v4, view));
      const v6 = buildUdp(V6, { sport: 1, dport: 2, noChecksum: true });
      parsePacket(v6, view);
      assert.equal(l4ChecksumValid(v6, view), false);
    });

    it('badChecksum produces a wrong IPv4 header checksum', () => {
      assert.equal(ipv4HeaderChecksumValid(buildUdp({ ...V4, badChecksum: true }, { sport: 1, dport: 2 }), 0), false);
    });
  });

  describe('fragmentPacket', () => {
    function reassemble(frags: Buffer[]): { header: Buffer; data: Buffer } {
      const view = createPacketView();
      const pieces: { offset: number; data: Buffer }[] = [];
      let header = Buffer.alloc(0);
      for (const f of frags) {
        assert.equal(parsePacket(f, view), ParseStatus.OK);
        assert.equal(view.fragment, true);
        if (view.family === 4) assert.ok(ipv4HeaderChecksumValid(f, 0));
        // The fragmentable part starts right after the fragment header (IPv6) or the IPv4 header.
        const dataStart = view.family === 4 ? view.ipHeaderLength : fragmentDataStart(f);
        if (view.fragOffset === 0) header = Buffer.from(f.subarray(0, dataStart));
        pieces.push({ offset: view.fragOffset, data: Buffer.from(f.subarray(dataStart, view.totalLength)) });
      }
      pieces.sort((a, b) => a.offset - b.offset);
      let expect = 0;
      for (const p of pieces) {
        assert.equal(p.offset, expect, 'fragments are contiguous');
        expect += p.data.length;
      }
      return { header, data: Buffer.concat(pieces.map((p) => p.data)) };
    }

    /** Offset just after the IPv6 fragment header. */
    function fragmentDataStart(f: Buffer): number {
      let next = f[6]!;
      let pos = 40;
      while (next !== IpProto.IPV6_FRAGMENT) {
        next = f[pos]!;
        pos += (f[pos + 1]! + 1) * 8;
      }
      return pos + 8;
    }

    it('IPv4: pieces are multiples of 8 and reassemble to the original', () => {
      const whole = buildTcp({ ...V4, dontFragment: false }, { sport: 1, dport: 2, payload: Buffer.alloc(1000, 0x5a) });
      const frags = fragmentPacket(whole, 300, 77);
      assert.equal(frags.length, 4);
      for (const f of frags.slice(0, -1)) assert.equal((f.length - 20) % 8, 0);
      const { data } = reassemble(frags);
      assert.deepEqual(data, whole.subarray(20));
      assert.ok(frags.every((f) => f.readUInt16BE(4) === 77));
    });

    it('IPv4: only options with the copy bit go into later fragments', () => {
      const whole = buildUdp({ ...V4, options: Buffer.from([0x94, 4, 0, 0, 7, 7, 4, 0, 0, 0, 0, 0]) }, { sport: 1, dport: 2, payload: Buffer.alloc(64) });
      const frags = fragmentPacket(whole, 32);
      assert.equal(frags[0]![0]! & 0x0f, 8, 'first fragment keeps all 12 option bytes');
      for (const f of frags.slice(1)) {
        assert.equal(f[0]! & 0x0f, 6, 'later fragments keep only router alert');
        assert.equal(f[20], 0x94);
      }
      assert.deepEqual(reassemble(frags).data, whole.subarray(32));
    });

    it('IPv6: fragment header after hop-by-hop and routing, the rest reassembles', () => {
      const whole = buildUdp(
        { ...V6, extHeaders: [{ type: 'hop-by-hop' }, { type: 'destination' }, { type: 'routing' }, { type: 'destination' }] },
        { sport: 7, dport: 8, payload: Buffer.alloc(500, 0xc3) },
      );
      const frags = fragmentPacket(whole, 200, 0xdeadbeef);
      assert.equal(frags.length, 3);
      const { header, data } = reassemble(frags);
      // Unfragmentable: IPv6 header + hop-by-hop + destination + routing; then the fragment header.
      assert.equal(header.length, 40 + 24 + 8);
      assert.equal(header[40 + 16], IpProto.IPV6_FRAGMENT, 'routing header now points at the fragment header');
      assert.equal(header[40 + 24], IpProto.IPV6_DEST_OPTS, 'fragment header points at what followed the routing header');
      assert.deepEqual(data, whole.subarray(40 + 24));
    });

    it('IPv6 without extension headers', () => {
      const whole = buildEcho(V6, { id: 1, payload: Buffer.alloc(100) });
      const frags = fragmentPacket(whole, 64);
      assert.equal(frags[0]![6], IpProto.IPV6_FRAGMENT);
      assert.deepEqual(reassemble(frags).data, whole.subarray(40));
    });

    it('refuses fragments smaller than 8 bytes', () => {
      assert.throws(() => fragmentPacket(buildUdp(V4, { sport: 1, dport: 2 }), 7), RangeError);
    });
  });

  describe('fields and wrappers', () => {
    it('tcpFlags reads letters and numbers', () => {
      assert.equal(tcpFlags('SA'), TcpFlag.SYN | TcpFlag.ACK);
      assert.equal(tcpFlags('fpau'), TcpFlag.FIN | TcpFlag.PSH | TcpFlag.ACK | TcpFlag.URG);
      assert.equal(tcpFlags('EC'), TcpFlag.ECE | TcpFlag.CWR);
      assert.equal(tcpFlags(0x1ff), 0xff);
      assert.throws(() => tcpFlags('SX'), /unknown TCP flag/);
    });

    it('rejects bad addresses, mixed families and misplaced options', () => {
      assert.throws(() => buildUdp({ src: '10.0.0.300', dst: '10.0.0.1' }, { sport: 1, dport: 2 }), /not an IP address/);
      assert.throws(() => buildUdp({ src: '10.0.0.1', dst: '::1' }, { sport: 1, dport: 2 }), /different families/);
      assert.throws(() => buildIcmp(V6, { type: 8 }), /IPv4/);
      assert.throws(() => buildIcmpv6(V4, { type: 128 }), /IPv6/);
      assert.throws(() => buildUdp({ ...V4, extHeaders: [{ type: 'hop-by-hop' }] }, { sport: 1, dport: 2 }), /IPv6/);
      assert.throws(() => buildUdp({ ...V6, options: Buffer.from([1]) }, { sport: 1, dport: 2 }), /IPv4/);
      assert.throws(() => buildUdp({ ...V4, options: Buffer.alloc(44) }, { sport: 1, dport: 2 }), RangeError);
    });

    it('ICMP errors quote at most what Linux would', () => {
      const big = buildUdp(V4, { sport: 1, dport: 2, payload: Buffer.alloc(1400) });
      assert.equal(buildIcmpError(V4, { type: 3, quote: big }).length, 576);
      const big6 = buildUdp(V6, { sport: 1, dport: 2, payload: Buffer.alloc(1400) });
      assert.equal(buildIcmpError(V6, { type: 1, quote: big6 }).length, 1280);
      assert.equal(buildIcmpError(V4, { type: 3, quote: big, quoteLength: 28 }).length, 20 + 8 + 28);
    });

    it('buildRaw sets the protocol and keeps the payload', () => {
      const pkt = buildRaw(V4, 89, Buffer.from('ospf'));
      assert.equal(pkt[9], 89);
      assert.equal(pkt.subarray(20).toString(), 'ospf');
    });

    it('Ethernet: addresses, tags and EtherType', () => {
      const ip = buildUdp(V6, { sport: 1, dport: 2 });
      const f = buildEthernet(ip, { src: 'aa:bb:cc:dd:ee:ff', dst: '01:02:03:04:05:06', vlans: [10, 20] });
      assert.equal(f.subarray(0, 6).toString('hex'), '010203040506');
      assert.equal(f.subarray(6, 12).toString('hex'), 'aabbccddeeff');
      assert.equal(f.readUInt16BE(12), EtherType.QINQ);
      assert.equal(f.readUInt16BE(14), 10);
      assert.equal(f.readUInt16BE(16), EtherType.VLAN);
      assert.equal(f.readUInt16BE(18), 20);
      assert.equal(f.readUInt16BE(20), EtherType.IPV6);
      assert.deepEqual(f.subarray(22), ip);
      assert.throws(() => buildEthernet(ip, { src: 'nope' }), /MAC/);
    });

    it('cooked and loopback headers', () => {
      const ip = buildUdp(V4, { sport: 1, dport: 2 });
      assert.equal(buildLinuxSll(ip).readUInt16BE(14), EtherType.IPV4);
      const sll2 = buildLinuxSll2(ip, { ifIndex: 42 });
      assert.equal(sll2.readUInt16BE(0), EtherType.IPV4);
      assert.equal(sll2.readUInt32BE(4), 42);
      assert.equal(buildBsdLoopback(ip).readUInt32LE(0), 2);
      assert.equal(buildBsdLoopback(buildUdp(V6, { sport: 1, dport: 2 }), { loop: true }).readUInt32BE(0), 30);
    });
  });
});
