import { strict as assert } from 'node:assert';
import { formatIp } from '../../src/net/ip';
import {
  ExtHeaderBit,
  IpProto,
  MAX_IPV6_EXT_HEADERS,
  ParseFlags,
  ParseStatus,
  TcpFlag,
  buildEcho,
  buildIcmp,
  buildIcmpError,
  buildIcmpv6,
  buildIp,
  buildRaw,
  buildSctp,
  buildTcp,
  buildUdp,
  buildUdpLite,
  createPacketView,
  fragmentPacket,
  parsePacket,
  parseStatusName,
  viewDst,
  viewInnerDst,
  viewInnerSrc,
  viewSrc,
  type Ipv6ExtHeader,
  type PacketView,
} from '../../src/packet';

const V4 = { src: '10.0.0.1', dst: '192.0.2.10' };
const V6 = { src: '2001:db8::1', dst: '2001:db8:0:1::2' };
const payload = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff));

/** Fields a case may pin down; addresses as text. */
interface Expect {
  status?: number;
  family?: number;
  proto?: number;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  tcpFlags?: number;
  tcpSeq?: number;
  tcpAck?: number;
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
  hasL4Header?: boolean;
  ipHeaderLength?: number;
  totalLength?: number;
  payloadLength?: number;
  fragment?: boolean;
  fragOffset?: number;
  moreFragments?: boolean;
  fragId?: number;
  extHeaders?: number;
  ttl?: number;
  tos?: number;
  flowLabel?: number;
  dontFragment?: boolean;
  isIcmpError?: boolean;
  innerStatus?: number;
  innerFamily?: number;
  innerProto?: number;
  innerSrc?: string;
  innerDst?: string;
  innerSport?: number;
  innerDport?: number;
  innerIcmpType?: number;
  innerIcmpId?: number;
  innerFragment?: boolean;
}

function check(view: PacketView, status: number, expect: Expect): void {
  assert.equal(parseStatusName(status), parseStatusName(expect.status ?? ParseStatus.OK), 'status');
  for (const [field, want] of Object.entries(expect)) {
    if (field === 'status') continue;
    let got: unknown;
    if (field === 'src') got = formatIp(viewSrc(view));
    else if (field === 'dst') got = formatIp(viewDst(view));
    else if (field === 'innerSrc') got = formatIp(viewInnerSrc(view));
    else if (field === 'innerDst') got = formatIp(viewInnerDst(view));
    else got = (view as unknown as Record<string, unknown>)[field];
    assert.deepEqual(got, want, field);
  }
}

interface Case {
  name: string;
  packet: () => Buffer;
  expect: Expect;
}

const roundTrips: Case[] = [
  {
    name: 'TCP over IPv4 with options and payload',
    packet: () =>
      buildTcp(
        { ...V4, ttl: 33, tos: 0x10, id: 4242, dontFragment: true },
        { sport: 40000, dport: 443, seq: 0xdeadbeef, ack: 0x01020304, flags: 'PA', window: 1234, options: Buffer.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]), payload: payload(100) },
      ),
    expect: {
      family: 4, proto: 6, src: '10.0.0.1', dst: '192.0.2.10', sport: 40000, dport: 443, tcpFlags: TcpFlag.PSH | TcpFlag.ACK,
      tcpSeq: 0xdeadbeef, tcpAck: 0x01020304, hasL4Header: true, ipHeaderLength: 20, totalLength: 20 + 32 + 100, payloadLength: 100,
      ttl: 33, tos: 0x10, dontFragment: true, fragment: false, fragId: 4242, icmpType: -1, icmpId: -1,
    },
  },
  {
    name: 'TCP SYN over IPv6',
    packet: () => buildTcp({ ...V6, flowLabel: 0xabcde, tos: 0x28, ttl: 7 }, { sport: 1, dport: 22, flags: 'S' }),
    expect: { family: 6, proto: 6, src: '2001:db8::1', dst: '2001:db8:0:1::2', sport: 1, dport: 22, tcpFlags: TcpFlag.SYN, ipHeaderLength: 40, totalLength: 60, payloadLength: 0, flowLabel: 0xabcde, tos: 0x28, ttl: 7, fragId: -1 },
  },
  {
    name: 'UDP over IPv4',
    packet: () => buildUdp(V4, { sport: 5353, dport: 53, payload: payload(12) }),
    expect: { family: 4, proto: 17, sport: 5353, dport: 53, payloadLength: 12, tcpFlags: 0, hasL4Header: true },
  },
  {
    name: 'UDP over IPv6',
    packet: () => buildUdp(V6, { sport: 546, dport: 547, payload: payload(3) }),
    expect: { family: 6, proto: 17, sport: 546, dport: 547, payloadLength: 3 },
  },
  {
    name: 'UDP length shorter than the IP payload (trailing bytes ignored)',
    packet: () => buildUdp(V4, { sport: 1, dport: 2, payload: payload(10), lengthOverride: 12 }),
    expect: { proto: 17, sport: 1, dport: 2, payloadLength: 4 },
  },
  {
    name: 'UDPLite over IPv4, full coverage',
    packet: () => buildUdpLite(V4, { sport: 7, dport: 8, payload: payload(5) }),
    expect: { family: 4, proto: 136, sport: 7, dport: 8, payloadLength: 5 },
  },
  {
    name: 'UDPLite over IPv6, partial coverage',
    packet: () => buildUdpLite(V6, { sport: 7, dport: 8, payload: payload(30), coverage: 12 }),
    expect: { family: 6, proto: 136, sport: 7, dport: 8, payloadLength: 30 },
  },
  {
    name: 'SCTP over IPv4',
    packet: () => buildSctp(V4, { sport: 3868, dport: 3869 }),
    expect: { family: 4, proto: 132, sport: 3868, dport: 3869, payloadLength: 20 },
  },
  {
    name: 'SCTP over IPv6',
    packet: () => buildSctp(V6, { sport: 36412, dport: 36412, verificationTag: 9 }),
    expect: { family: 6, proto: 132, sport: 36412, dport: 36412 },
  },
  {
    name: 'ICMP echo request',
    packet: () => buildEcho(V4, { id: 0x1234, seq: 9 }),
    expect: { family: 4, proto: 1, icmpType: 8, icmpCode: 0, icmpId: 0x1234, sport: -1, dport: -1, isIcmpError: false, hasL4Header: true },
  },
  {
    name: 'ICMP echo reply',
    packet: () => buildEcho({ src: V4.dst, dst: V4.src }, { id: 77, reply: true }),
    expect: { icmpType: 0, icmpId: 77, src: '192.0.2.10' },
  },
  {
    name: 'ICMP timestamp request carries an identifier',
    packet: () => buildIcmp(V4, { type: 13, id: 5, payload: Buffer.alloc(12) }),
    expect: { icmpType: 13, icmpId: 5 },
  },
  {
    name: 'ICMP router advertisement has no identifier',
    packet: () => buildIcmp(V4, { type: 9, rest: 0x01020304 }),
    expect: { icmpType: 9, icmpId: -1, isIcmpError: false },
  },
  {
    name: 'ICMPv6 echo request',
    packet: () => buildEcho(V6, { id: 4, seq: 1 }),
    expect: { family: 6, proto: 58, icmpType: 128, icmpId: 4 },
  },
  {
    name: 'ICMPv6 echo reply',
    packet: () => buildEcho(V6, { id: 4, reply: true }),
    expect: { icmpType: 129, icmpId: 4 },
  },
  {
    name: 'ICMPv6 neighbour solicitation',
    packet: () => buildIcmpv6({ src: 'fe80::1', dst: 'ff02::1:ff00:2', ttl: 255 }, { type: 135, rest: 0, payload: Buffer.alloc(16) }),
    expect: { icmpType: 135, icmpId: -1, isIcmpError: false, ttl: 255, dst: 'ff02::1:ff00:2' },
  },
  {
    name: 'GRE (no ports)',
    packet: () => buildRaw(V4, IpProto.GRE, Buffer.alloc(8)),
    expect: { proto: 47, sport: -1, dport: -1, hasL4Header: false, payloadLength: 8 },
  },
  {
    name: 'arbitrary protocol 253 over IPv6',
    packet: () => buildRaw(V6, 253, payload(9)),
    expect: { family: 6, proto: 253, hasL4Header: false, payloadLength: 9 },
  },
  {
    name: 'ICMP inside IPv6 is just an unknown protocol',
    packet: () => buildRaw(V6, IpProto.ICMP, Buffer.from([8, 0, 0, 0, 0, 1, 0, 1])),
    expect: { proto: 1, icmpType: -1, hasL4Header: false },
  },
  {
    name: 'ESP over IPv6 ends the chain',
    packet: () => buildRaw(V6, IpProto.ESP, payload(24)),
    expect: { proto: 50, extHeaders: ExtHeaderBit.ESP, hasL4Header: false, payloadLength: 24 },
  },
  {
    name: 'IPv6 no next header',
    packet: () => buildRaw(V6, IpProto.IPV6_NO_NEXT),
    expect: { proto: 59, extHeaders: ExtHeaderBit.NO_NEXT, payloadLength: 0 },
  },
  {
    name: 'link padding after the datagram is ignored',
    packet: () => Buffer.concat([buildTcp(V4, { sport: 1, dport: 2, flags: 'A' }), Buffer.alloc(6, 0xee)]),
    expect: { totalLength: 40, payloadLength: 0, sport: 1 },
  },
];

const ipv4Options: Case[] = [
  {
    name: 'router alert (4 bytes)',
    packet: () => buildUdp({ ...V4, options: Buffer.from([0x94, 4, 0, 0]) }, { sport: 1, dport: 2 }),
    expect: { ipHeaderLength: 24, sport: 1, dport: 2 },
  },
  {
    name: 'record route (11 bytes, padded to 12)',
    packet: () => buildTcp({ ...V4, options: Buffer.from([7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0]) }, { sport: 3, dport: 4, flags: 'S' }),
    expect: { ipHeaderLength: 32, sport: 3, dport: 4, tcpFlags: TcpFlag.SYN },
  },
  {
    name: 'NOPs and end of list',
    packet: () => buildEcho({ ...V4, options: Buffer.from([1, 1, 1, 0]) }, { id: 3 }),
    expect: { ipHeaderLength: 24, icmpType: 8, icmpId: 3 },
  },
  {
    name: 'maximum header (40 bytes of options)',
    packet: () => buildUdp({ ...V4, options: Buffer.from([7, 39, 4, ...Buffer.alloc(36), 0]) }, { sport: 65535, dport: 0 }),
    expect: { ipHeaderLength: 60, sport: 65535, dport: 0 },
  },
];

const extHeaderCases: { name: string; headers: Ipv6ExtHeader[]; bits: number; length: number }[] = [
  { name: 'hop-by-hop', headers: [{ type: 'hop-by-hop' }], bits: ExtHeaderBit.HOP_BY_HOP, length: 8 },
  { name: 'hop-by-hop with router alert', headers: [{ type: 'hop-by-hop', options: Buffer.from([5, 2, 0, 0]) }], bits: ExtHeaderBit.HOP_BY_HOP, length: 8 },
  { name: 'routing', headers: [{ type: 'routing' }], bits: ExtHeaderBit.ROUTING, length: 8 },
  { name: 'routing with one address', headers: [{ type: 'routing', data: Buffer.alloc(20) }], bits: ExtHeaderBit.ROUTING, length: 24 },
  { name: 'destination options', headers: [{ type: 'destination', options: Buffer.alloc(14, 0).fill(1, 0, 1) }], bits: ExtHeaderBit.DEST_OPTS, length: 16 },
  { name: 'atomic fragment', headers: [{ type: 'fragment', id: 99 }], bits: ExtHeaderBit.FRAGMENT, length: 8 },
  { name: 'authentication header', headers: [{ type: 'ah' }], bits: ExtHeaderBit.AH, length: 24 },
  {
    name: 'full chain',
    headers: [{ type: 'hop-by-hop' }, { type: 'destination' }, { type: 'routing' }, { type: 'fragment' }, { type: 'ah' }, { type: 'destination' }],
    bits: ExtHeaderBit.HOP_BY_HOP | ExtHeaderBit.DEST_OPTS | ExtHeaderBit.ROUTING | ExtHeaderBit.FRAGMENT | ExtHeaderBit.AH,
    length: 8 + 8 + 8 + 8 + 24 + 8,
  },
];

function parse(buf: Buffer, flags = 0): { view: PacketView; status: number } {
  const view = createPacketView();
  const status = parsePacket(buf, view, 0, buf.length, flags);
  return { view, status };
}

describe('packet/parse', () => {
  describe('builder -> parser round trips', () => {
    for (const c of roundTrips) {
      it(c.name, () => {
        const { view, status } = parse(c.packet());
        check(view, status, c.expect);
      });
    }
  });

  describe('IPv4 options are skipped by IHL', () => {
    for (const c of ipv4Options) {
      it(c.name, () => {
        const { view, status } = parse(c.packet());
        check(view, status, c.expect);
        assert.equal(view.l4Offset, view.ipHeaderLength);
      });
    }
  });

  describe('IPv6 extension headers', () => {
    for (const c of extHeaderCases) {
      for (const [l4, build] of [
        ['TCP', (h: Ipv6ExtHeader[]) => buildTcp({ ...V6, extHeaders: h }, { sport: 1000, dport: 2000, flags: 'S' })],
        ['UDP', (h: Ipv6ExtHeader[]) => buildUdp({ ...V6, extHeaders: h }, { sport: 1000, dport: 2000 })],
        ['ICMPv6 echo', (h: Ipv6ExtHeader[]) => buildIcmpv6({ ...V6, extHeaders: h }, { type: 128, id: 1000 })],
      ] as const) {
        it(`${c.name} before ${l4}`, () => {
          const { view, status } = parse(build(c.headers));
          const final = l4 === 'TCP' ? 6 : l4 === 'UDP' ? 17 : 58;
          check(view, status, { proto: final, extHeaders: c.bits, ipHeaderLength: 40 + c.length, fragment: false, hasL4Header: true });
          if (final === 58) assert.equal(view.icmpId, 1000);
          else assert.deepEqual([view.sport, view.dport], [1000, 2000]);
        });
      }
    }

    it(`walks ${MAX_IPV6_EXT_HEADERS} headers`, () => {
      const headers: Ipv6ExtHeader[] = Array.from({ length: MAX_IPV6_EXT_HEADERS }, () => ({ type: 'destination' }));
      const { view, status } = parse(buildUdp({ ...V6, extHeaders: headers }, { sport: 1, dport: 2 }));
      check(view, status, { proto: 17, sport: 1, ipHeaderLength: 40 + 8 * MAX_IPV6_EXT_HEADERS });
    });

    it('stops a longer chain with EXT_HEADER_LOOP', () => {
      const headers: Ipv6ExtHeader[] = Array.from({ length: MAX_IPV6_EXT_HEADERS + 1 }, () => ({ type: 'destination' }));
      const { status } = parse(buildUdp({ ...V6, extHeaders: headers }, { sport: 1, dport: 2 }));
      assert.equal(parseStatusName(status), 'EXT_HEADER_LOOP');
    });

    it('an extension header longer than the payload is BAD_EXT_HEADER', () => {
      const pkt = buildUdp({ ...V6, extHeaders: [{ type: 'destination' }] }, { sport: 1, dport: 2 });
      pkt[41] = 10; // header length 88 bytes
      assert.equal(parseStatusName(parse(pkt).status), 'BAD_EXT_HEADER');
    });

    it('ESP after other headers ends the chain', () => {
      const { view, status } = parse(buildRaw({ ...V6, extHeaders: [{ type: 'hop-by-hop' }] }, IpProto.ESP, payload(16)));
      check(view, status, { proto: 50, extHeaders: ExtHeaderBit.HOP_BY_HOP | ExtHeaderBit.ESP, ipHeaderLength: 48, payloadLength: 16 });
    });
  });

  describe('fragments', () => {
    it('IPv4: first fragment has ports, later ones do not', () => {
      const whole = buildUdp({ ...V4, id: 0x4321 }, { sport: 1111, dport: 2222, payload: payload(100) });
      const frags = fragmentPacket(whole, 48, 0x4321);
      assert.equal(frags.length, 3);
      const results = frags.map((f) => parse(f));
      check(results[0]!.view, results[0]!.status, { fragment: true, moreFragments: true, fragOffset: 0, fragId: 0x4321, sport: 1111, dport: 2222, hasL4Header: true, payloadLength: 40 });
      check(results[1]!.view, results[1]!.status, { fragment: true, moreFragments: true, fragOffset: 48, proto: 17, sport: -1, dport: -1, hasL4Header: false, payloadLength: 48 });
      check(results[2]!.view, results[2]!.status, { fragment: true, moreFragments: false, fragOffset: 96, sport: -1, hasL4Header: false, payloadLength: 12 });
    });

    it('IPv6: fragment header after hop-by-hop; non-first fragments stop the walk', () => {
      const whole = buildTcp({ ...V6, extHeaders: [{ type: 'hop-by-hop' }] }, { sport: 5, dport: 6, flags: 'PA', payload: payload(64) });
      const frags = fragmentPacket(whole, 40, 0xfeedbeef);
      assert.equal(frags.length, 3);
      const [a, b] = frags.map((f) => parse(f));
      check(a!.view, a!.status, { proto: 6, fragment: true, moreFragments: true, fragOffset: 0, fragId: 0xfeedbeef, sport: 5, dport: 6, extHeaders: ExtHeaderBit.HOP_BY_HOP | ExtHeaderBit.FRAGMENT });
      check(b!.view, b!.status, { proto: 6, fragment: true, fragOffset: 40, sport: -1, hasL4Header: false, ipHeaderLength: 56 });
    });

    it('a first fragment too short for the TCP header has no ports but parses', () => {
      const pkt = buildRaw({ ...V4, moreFragments: true }, IpProto.TCP, payload(8));
      check(parse(pkt).view, parse(pkt).status, { fragment: true, proto: 6, hasL4Header: false, sport: -1 });
    });

    it('a fragment reaching past 65535 bytes is BAD_FRAGMENT', () => {
      const pkt = buildRaw({ ...V4, fragmentOffset: 65528 }, IpProto.UDP, payload(16));
      assert.equal(parseStatusName(parse(pkt).status), 'BAD_FRAGMENT');
    });
  });

  describe('ICMP errors quote the offending packet', () => {
    const synV4 = buildTcp(V4, { sport: 40000, dport: 80, flags: 'S', seq: 7 });
    const udpV6 = buildUdp({ ...V6, extHeaders: [{ type: 'destination' }, { type: 'routing' }] }, { sport: 5000, dport: 53, payload: payload(20) });
    const tcpV6 = buildTcp(V6, { sport: 443, dport: 50000, flags: 'PA', payload: payload(1400) });
    const echoV4 = buildEcho(V4, { id: 0xbeef });
    const echoV6 = buildEcho(V6, { id: 0xcafe });
    const cases: Case[] = [
      {
        name: 'ICMP port unreachable about a TCP SYN',
        packet: () => buildIcmpError({ src: '198.51.100.1', dst: V4.src }, { type: 3, code: 3, quote: synV4 }),
        expect: { icmpType: 3, icmpCode: 3, icmpId: -1, isIcmpError: true, innerStatus: 0, innerProto: 6, innerSrc: V4.src, innerDst: V4.dst, innerSport: 40000, innerDport: 80 },
      },
      {
        name: 'ICMP time exceeded quoting only the header and 8 bytes',
        packet: () => buildIcmpError({ src: '198.51.100.1', dst: V4.src }, { type: 11, quote: synV4, quoteLength: 28 }),
        expect: { icmpType: 11, isIcmpError: true, innerStatus: 0, innerProto: 6, innerSport: 40000, innerDport: 80 },
      },
      {
        name: 'ICMP parameter problem about an echo request',
        packet: () => buildIcmpError({ src: V4.dst, dst: V4.src }, { type: 12, rest: 0x08000000, quote: echoV4 }),
        expect: { icmpType: 12, innerStatus: 0, innerProto: 1, innerIcmpType: 8, innerIcmpId: 0xbeef, innerSport: -1 },
      },
      {
        name: 'ICMP redirect is an error too',
        packet: () => buildIcmpError({ src: '10.0.0.254', dst: V4.src }, { type: 5, code: 1, rest: 0x0a000002, quote: synV4 }),
        expect: { icmpType: 5, isIcmpError: true, innerProto: 6, innerDport: 80 },
      },
      {
        name: 'ICMPv6 destination unreachable about UDP behind extension headers',
        packet: () => buildIcmpError({ src: '2001:db8:ffff::1', dst: V6.src }, { type: 1, code: 4, quote: udpV6 }),
        expect: { family: 6, icmpType: 1, icmpCode: 4, isIcmpError: true, innerStatus: 0, innerProto: 17, innerSrc: V6.src, innerDst: V6.dst, innerSport: 5000, innerDport: 53 },
      },
      {
        name: 'ICMPv6 packet too big about a large TCP segment (quote cut at 1280 bytes)',
        packet: () => buildIcmpError({ src: '2001:db8:ffff::1', dst: V6.dst }, { type: 2, rest: 1280, quote: tcpV6 }),
        expect: { icmpType: 2, isIcmpError: true, innerProto: 6, innerSport: 443, innerDport: 50000, totalLength: 1280 },
      },
      {
        name: 'ICMPv6 time exceeded about an echo request',
        packet: () => buildIcmpError({ src: '2001:db8:ffff::1', dst: V6.src }, { type: 3, quote: echoV6 }),
        expect: { icmpType: 3, innerProto: 58, innerIcmpType: 128, innerIcmpId: 0xcafe },
      },
      {
        name: 'a quote cut inside the ports is TRUNCATED (inner only)',
        packet: () => buildIcmpError({ src: '198.51.100.1', dst: V4.src }, { type: 3, quote: synV4, quoteLength: 22 }),
        expect: { status: ParseStatus.OK, isIcmpError: true, innerStatus: ParseStatus.TRUNCATED, innerProto: 6, innerSport: -1 },
      },
      {
        name: 'an IPv6 quote inside ICMPv4 is BAD_VERSION (inner only)',
        packet: () => buildIcmpError({ src: '198.51.100.1', dst: V4.src }, { type: 3, quote: udpV6 }),
        expect: { isIcmpError: true, innerStatus: ParseStatus.BAD_VERSION, innerFamily: 0 },
      },
      {
        name: 'a quoted non-first fragment has no ports',
        packet: () => buildIcmpError({ src: '198.51.100.1', dst: V4.src }, { type: 11, quote: fragmentPacket(buildUdp(V4, { sport: 1, dport: 2, payload: payload(64) }), 32)[1]! }),
        expect: { innerStatus: 0, innerFragment: true, innerProto: 17, innerSport: -1 },
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const { view, status } = parse(c.packet());
        check(view, status, c.expect);
      });
    }
  });

  describe('malformed packets return a status', () => {
    const tcp = (): Buffer => buildTcp(V4, { sport: 1, dport: 2, flags: 'A', payload: payload(4) });
    const cases: { name: string; packet: () => Buffer; status: keyof typeof ParseStatus }[] = [
      { name: 'empty buffer', packet: () => Buffer.alloc(0), status: 'TRUNCATED' },
      { name: 'IP version 5', packet: () => Buffer.from([0x50, ...Buffer.alloc(39)]), status: 'BAD_VERSION' },
      { name: 'IP version 0', packet: () => Buffer.alloc(40), status: 'BAD_VERSION' },
      { name: 'IHL 4', packet: () => buildTcp({ ...V4, ihlOverride: 4 }, { sport: 1, dport: 2 }), status: 'BAD_HEADER_LENGTH' },
      { name: 'IHL beyond the total length', packet: () => buildRaw({ ...V4, ihlOverride: 15 }, 253, payload(4)), status: 'BAD_TOTAL_LENGTH' },
      { name: 'total length below the header', packet: () => buildTcp({ ...V4, lengthOverride: 19 }, { sport: 1, dport: 2 }), status: 'BAD_TOTAL_LENGTH' },
      { name: 'total length beyond the buffer', packet: () => buildTcp({ ...V4, lengthOverride: 200 }, { sport: 1, dport: 2 }), status: 'TRUNCATED' },
      { name: 'IPv6 payload length beyond the buffer', packet: () => buildUdp({ ...V6, lengthOverride: 100 }, { sport: 1, dport: 2 }), status: 'TRUNCATED' },
      {
        name: 'TCP data offset 4',
        packet: () => buildTcp(V4, { sport: 1, dport: 2, dataOffsetOverride: 4 }),
        status: 'BAD_L4_HEADER',
      },
      {
        name: 'TCP data offset past the segment',
        packet: () => buildTcp(V4, { sport: 1, dport: 2, dataOffsetOverride: 15, payload: payload(8) }),
        status: 'BAD_L4_HEADER',
      },
      { name: 'TCP header cut by the IP length', packet: () => buildRaw(V4, IpProto.TCP, payload(12)), status: 'BAD_L4_HEADER' },
      { name: 'UDP length 7', packet: () => buildUdp(V4, { sport: 1, dport: 2, lengthOverride: 7 }), status: 'BAD_L4_HEADER' },
      { name: 'UDP length past the datagram', packet: () => buildUdp(V6, { sport: 1, dport: 2, payload: payload(2), lengthOverride: 11 }), status: 'BAD_L4_HEADER' },
      { name: 'UDPLite coverage 4', packet: () => buildUdpLite(V4, { sport: 1, dport: 2, coverage: 4 }), status: 'BAD_L4_HEADER' },
      { name: 'UDPLite coverage past the datagram', packet: () => buildUdpLite(V4, { sport: 1, dport: 2, coverage: 9 }), status: 'BAD_L4_HEADER' },
      { name: 'ICMP shorter than its header', packet: () => buildRaw(V4, IpProto.ICMP, Buffer.from([8, 0, 0, 0])), status: 'BAD_L4_HEADER' },
      { name: 'SCTP shorter than its common header', packet: () => buildRaw(V6, IpProto.SCTP, payload(8)), status: 'BAD_L4_HEADER' },
      { name: 'valid packet (control)', packet: tcp, status: 'OK' },
    ];
    for (const c of cases) {
      it(c.name, () => assert.equal(parseStatusName(parse(c.packet()).status), c.status));
    }
  });

  describe('buffer ranges and flags', () => {
    it('parses a packet inside a larger buffer at an offset', () => {
      const pkt = buildUdp(V4, { sport: 9, dport: 10, payload: payload(5) });
      const big = Buffer.concat([Buffer.alloc(7, 0xff), pkt, Buffer.alloc(9, 0xff)]);
      const view = createPacketView();
      assert.equal(parsePacket(big, view, 7, pkt.length), ParseStatus.OK);
      check(view, ParseStatus.OK, { sport: 9, dport: 10, payloadLength: 5 });
      assert.equal(view.l3Offset, 7);
      assert.equal(view.l4Offset, 27);
      assert.equal(view.payloadOffset, 35);
      assert.equal(big.subarray(view.payloadOffset, view.payloadOffset + view.payloadLength).toString('hex'), '0001020304');
    });

    it('a length shorter than the packet truncates it', () => {
      const pkt = buildUdp(V4, { sport: 9, dport: 10, payload: payload(5) });
      assert.equal(parsePacket(pkt, createPacketView(), 0, pkt.length - 1), ParseStatus.TRUNCATED);
    });

    it('offsets outside the buffer are TRUNCATED', () => {
      const pkt = buildUdp(V4, { sport: 9, dport: 10 });
      for (const [offset, length] of [
        [-1, 10],
        [pkt.length + 1, 0],
        [Number.NaN, 10],
        [0.5, 10],
        [0, -3],
      ] as const) {
        assert.equal(parsePacket(pkt, createPacketView(), offset, length), ParseStatus.TRUNCATED, `${offset}/${length}`);
      }
    });

    it('ALLOW_TRUNCATED accepts a cut payload and flags it', () => {
      const pkt = buildTcp(V4, { sport: 1, dport: 2, flags: 'PA', payload: payload(500) });
      const view = createPacketView();
      const status = parsePacket(pkt.subarray(0, 60), view, 0, 60, ParseFlags.ALLOW_TRUNCATED);
      check(view, status, { sport: 1, dport: 2, totalLength: 540, payloadLength: 500 });
      assert.equal(view.truncated, true);
      assert.equal(parsePacket(pkt.subarray(0, 60), view), ParseStatus.TRUNCATED);
    });

    it('ALLOW_TRUNCATED still needs the headers', () => {
      const pkt = buildTcp(V6, { sport: 1, dport: 2, payload: payload(10) });
      assert.equal(parsePacket(pkt, createPacketView(), 0, 55, ParseFlags.ALLOW_TRUNCATED), ParseStatus.TRUNCATED);
    });

    it('IPv4 total length 0 on a buffer over 64 KiB is a BIG TCP packet', () => {
      const pkt = buildTcp({ ...V4, lengthOverride: 0 }, { sport: 1, dport: 2, payload: Buffer.alloc(70000) });
      const { view, status } = parse(pkt);
      check(view, status, { totalLength: pkt.length, payloadLength: 70000, sport: 1 });
    });
  });

  describe('view reuse', () => {
    it('every field is reset between packets', () => {
      const view = createPacketView();
      const fresh = createPacketView();
      const a = buildIcmpError({ src: V6.dst, dst: V6.src }, { type: 1, quote: buildTcp({ ...V6, extHeaders: [{ type: 'fragment', offset: 0, more: true, id: 5 }] }, { sport: 1, dport: 2 }) });
      assert.equal(parsePacket(a, view), ParseStatus.OK);
      const b = buildRaw(V4, IpProto.GRE, Buffer.alloc(4));
      assert.equal(parsePacket(b, view), ParseStatus.OK);
      assert.equal(parsePacket(b, fresh), ParseStatus.OK);
      assert.deepEqual(view, fresh);
    });

    it('a failed parse leaves no field of the previous packet behind', () => {
      const view = createPacketView();
      parsePacket(buildTcp(V6, { sport: 1, dport: 2 }), view);
      assert.equal(parsePacket(Buffer.from([0x45, 0, 0]), view), ParseStatus.TRUNCATED);
      const expected = createPacketView();
      expected.l3Offset = 0;
      assert.deepEqual(view, expected);
    });
  });

  describe('parseStatusName', () => {
    it('names every status and marks unknown codes', () => {
      for (const [name, code] of Object.entries(ParseStatus)) assert.equal(parseStatusName(code), name);
      assert.equal(parseStatusName(99), 'UNKNOWN(99)');
    });
  });

  it('buildIp wraps a hand-made segment', () => {
    const { view, status } = parse(buildIp(V4, IpProto.UDP, Buffer.from([0, 1, 0, 2, 0, 8, 0, 0])));
    check(view, status, { sport: 1, dport: 2, payloadLength: 0 });
  });
});
