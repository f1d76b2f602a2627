import { strict as assert } from 'node:assert';
import { FlowTable } from '../../src/conntrack';
import {
  LinkType,
  ParseFlags,
  ParseStatus,
  buildEcho,
  buildEthernet,
  buildIcmpError,
  buildSctp,
  buildTcp,
  buildUdp,
  createPacketView,
  fragmentPacket,
  parseLinkLayer,
  parsePacket,
  parseStatusName,
  type PacketView,
} from '../../src/packet';

/** mulberry32: small, seeded, reproducible. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const V4 = { src: '10.1.2.3', dst: '10.9.8.7' };
const V6 = { src: '2001:db8::a', dst: '2001:db8::b' };

/** Packets with the number of bytes their headers need (what ALLOW_TRUNCATED still requires). */
const samples: { name: string; packet: Buffer; headerBytes: number }[] = [
  { name: 'TCP/IPv4 with IP and TCP options', packet: buildTcp({ ...V4, options: Buffer.from([0x94, 4, 0, 0]) }, { sport: 1, dport: 2, flags: 'S', options: Buffer.from([2, 4, 5, 0xb4]), payload: Buffer.from('data') }), headerBytes: 24 + 20 },
  { name: 'UDP/IPv6 behind three extension headers', packet: buildUdp({ ...V6, extHeaders: [{ type: 'hop-by-hop' }, { type: 'routing' }, { type: 'ah' }] }, { sport: 1, dport: 2, payload: Buffer.alloc(10) }), headerBytes: 40 + 8 + 8 + 24 + 8 },
  { name: 'ICMP error quoting TCP', packet: buildIcmpError({ src: '198.51.100.1', dst: V4.src }, { type: 3, code: 3, quote: buildTcp(V4, { sport: 1, dport: 2, flags: 'S' }) }), headerBytes: 28 },
  { name: 'ICMPv6 echo', packet: buildEcho(V6, { id: 5 }), headerBytes: 48 },
  { name: 'SCTP/IPv4', packet: buildSctp(V4, { sport: 9, dport: 9 }), headerBytes: 32 },
  { name: 'IPv6 first fragment', packet: fragmentPacket(buildUdp(V6, { sport: 1, dport: 2, payload: Buffer.alloc(100) }), 48)[0]!, headerBytes: 56 },
];

const KNOWN_STATUS = new Set<number>(Object.values(ParseStatus));

/** Invariants every successfully parsed view must satisfy. */
function checkView(view: PacketView, bufLength: number): void {
  assert.ok(view.family === 4 || view.family === 6);
  assert.ok(view.l3Offset >= 0 && view.l3Offset <= bufLength);
  assert.ok(view.l4Offset >= view.l3Offset);
  assert.ok(view.l4Offset - view.l3Offset === view.ipHeaderLength);
  assert.ok(view.ipHeaderLength <= view.totalLength);
  if (!view.truncated) assert.ok(view.l3Offset + view.totalLength <= bufLength);
  assert.ok(view.payloadOffset >= view.l4Offset && view.payloadLength >= 0);
  assert.ok(view.proto >= 0 && view.proto <= 255);
  for (const p of [view.sport, view.dport, view.innerSport, view.innerDport]) assert.ok(p >= -1 && p <= 65535);
  assert.equal(view.sport === -1, !view.hasL4Header || view.icmpType !== -1 || !(view.proto === 6 || view.proto === 17 || view.proto === 132 || view.proto === 136));
  for (const w of [...view.src, ...view.dst]) assert.ok(Number.isInteger(w) && w >= 0 && w <= 0xffffffff);
}

describe('packet/robustness', () => {
  describe('truncation at every byte offset', () => {
    for (const s of samples) {
      it(s.name, () => {
        const view = createPacketView();
        assert.equal(parsePacket(s.packet, view), ParseStatus.OK, 'the whole packet parses');
        for (let cut = 0; cut < s.packet.length; cut++) {
          const part = s.packet.subarray(0, cut);
          const strict = parsePacket(part, view);
          assert.equal(parseStatusName(strict), 'TRUNCATED', `cut at ${cut}`);
          const loose = parsePacket(part, view, 0, cut, ParseFlags.ALLOW_TRUNCATED);
          assert.equal(parseStatusName(loose), cut >= s.headerBytes ? 'OK' : 'TRUNCATED', `cut at ${cut} with ALLOW_TRUNCATED`);
          if (loose === ParseStatus.OK) {
            assert.equal(view.truncated, true);
            checkView(view, cut);
          }
        }
      });
    }

    it('Ethernet frames cut anywhere', () => {
      const frame = buildEthernet(samples[1]!.packet, { vlans: [1, 2] });
      const view = createPacketView();
      for (let cut = 0; cut < frame.length; cut++) {
        assert.equal(parseLinkLayer(frame.subarray(0, cut), LinkType.ETHERNET, view), ParseStatus.TRUNCATED, `cut at ${cut}`);
      }
    });
  });

  it('100,000 random buffers never throw (seed 0x5eed)', () => {
    const rand = prng(0x5eed);
    const view = createPacketView();
    const table = new FlowTable({ capacity: 1000 });
    const linkTypes = [LinkType.ETHERNET, LinkType.RAW, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL, LinkType.LOOP, LinkType.IPV4, LinkType.IPV6, 999];
    const counts = new Map<number, number>();
    for (let i = 0; i < 100_000; i++) {
      const len = Math.floor(rand() * 160);
      const buf = Buffer.alloc(len);
      for (let j = 0; j < len; j++) buf[j] = Math.floor(rand() * 256);
      // Steer half of them into plausible IP headers so the deeper code runs too.
      if (len > 0 && rand() < 0.5) buf[0] = rand() < 0.5 ? 0x45 + Math.floor(rand() * 3) : 0x60;
      if (len > 9 && buf[0]! >>> 4 === 4 && rand() < 0.5) {
        buf.writeUInt16BE(len, 2);
        buf[6] = 0;
        buf[9] = [1, 6, 17, 58, 132, 136][Math.floor(rand() * 6)]!;
      }
      if (len > 7 && buf[0] === 0x60 && rand() < 0.5) {
        buf.writeUInt16BE(Math.max(0, len - 40), 4);
        buf[6] = [0, 43, 44, 51, 60, 58, 6, 17][Math.floor(rand() * 8)]!;
      }
      let status: number;
      try {
        status = i % 4 === 0 ? parseLinkLayer(buf, linkTypes[i % linkTypes.length]!, view) : parsePacket(buf, view, 0, len, i % 3 === 0 ? ParseFlags.ALLOW_TRUNCATED : 0);
      } catch (err) {
        assert.fail(`buffer ${i} (${buf.toString('hex')}) threw: ${String(err)}`);
      }
      assert.ok(KNOWN_STATUS.has(status), `unknown status ${status}`);
      counts.set(status, (counts.get(status) ?? 0) + 1);
      if (status === ParseStatus.OK) {
        checkView(view, len);
        table.track(view, i);
      }
    }
    assert.ok((counts.get(ParseStatus.OK) ?? 0) > 1000, 'a fair share of inputs parse');
  });

  it('20,000 mutated valid packets never throw (seed 0xbad)', () => {
    const rand = prng(0xbad);
    const view = createPacketView();
    const table = new FlowTable({ capacity: 500 });
    for (let i = 0; i < 20_000; i++) {
      const buf = Buffer.from(samples[i % samples.length]!.packet);
      const flips = 1 + Math.floor(rand() * 4);
      for (let f = 0; f < flips; f++) buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
      const status = parsePacket(buf, view);
      assert.ok(KNOWN_STATUS.has(status));
      if (status === ParseStatus.OK) {
        checkView(view, buf.length);
        table.track(view, i * 10);
      }
    }
  });
});
