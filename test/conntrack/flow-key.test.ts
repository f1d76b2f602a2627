import { strict as assert } from 'node:assert';
import { KeyKind, createFlowKeyOut, decodeFlowKey, flowKeyOfQuoted, flowKeyOfView, formatFlowKey, keyFamily, keyProto } from '../../src/conntrack';
import { formatIp } from '../../src/net/ip';
import {
  IpProto,
  ParseStatus,
  buildEcho,
  buildIcmp,
  buildIcmpError,
  buildIcmpv6,
  buildRaw,
  buildSctp,
  buildTcp,
  buildUdp,
  createPacketView,
  fragmentPacket,
  parsePacket,
  type PacketView,
} from '../../src/packet';

function view(buf: Buffer): PacketView {
  const v = createPacketView();
  assert.equal(parsePacket(buf, v), ParseStatus.OK);
  return v;
}

function keyOf(buf: Buffer): { kind: number; key: string; srcIsLow: boolean } {
  const out = createFlowKeyOut();
  const kind = flowKeyOfView(view(buf), out);
  return { kind, key: out.key, srcIsLow: out.srcIsLow };
}

const A4 = '10.0.0.1';
const B4 = '192.0.2.10';
const A6 = '2001:db8::1';
const B6 = '2001:db8::2';

describe('conntrack/flow-key', () => {
  describe('both directions share a key, the source side flips', () => {
    const pairs: [string, () => Buffer, () => Buffer][] = [
      ['TCP/IPv4', () => buildTcp({ src: A4, dst: B4 }, { sport: 40000, dport: 80, flags: 'S' }), () => buildTcp({ src: B4, dst: A4 }, { sport: 80, dport: 40000, flags: 'SA' })],
      ['UDP/IPv6', () => buildUdp({ src: A6, dst: B6 }, { sport: 5353, dport: 53 }), () => buildUdp({ src: B6, dst: A6 }, { sport: 53, dport: 5353 })],
      ['SCTP/IPv4', () => buildSctp({ src: B4, dst: A4 }, { sport: 1, dport: 2 }), () => buildSctp({ src: A4, dst: B4 }, { sport: 2, dport: 1 })],
      ['GRE/IPv4', () => buildRaw({ src: A4, dst: B4 }, IpProto.GRE, Buffer.alloc(4)), () => buildRaw({ src: B4, dst: A4 }, IpProto.GRE, Buffer.alloc(4))],
      ['same address, different ports', () => buildUdp({ src: A4, dst: A4 }, { sport: 1000, dport: 2000 }), () => buildUdp({ src: A4, dst: A4 }, { sport: 2000, dport: 1000 })],
    ];
    for (const [name, fwd, back] of pairs) {
      it(name, () => {
        const f = keyOf(fwd());
        const b = keyOf(back());
        assert.equal(f.key, b.key);
        assert.notEqual(f.srcIsLow, b.srcIsLow);
      });
    }
  });

  it('keys differ when any tuple element differs', () => {
    const base = { src: A4, dst: B4 };
    const keys = [
      keyOf(buildTcp(base, { sport: 1, dport: 2 })).key,
      keyOf(buildTcp(base, { sport: 1, dport: 3 })).key,
      keyOf(buildTcp(base, { sport: 4, dport: 2 })).key,
      keyOf(buildUdp(base, { sport: 1, dport: 2 })).key,
      keyOf(buildTcp({ src: A4, dst: '192.0.2.11' }, { sport: 1, dport: 2 })).key,
      keyOf(buildTcp({ src: '::ffff:10.0.0.1', dst: '::ffff:192.0.2.10' }, { sport: 1, dport: 2 })).key,
      keyOf(buildRaw(base, IpProto.GRE)).key,
      keyOf(buildRaw(base, IpProto.ESP)).key,
    ];
    assert.equal(new Set(keys).size, keys.length);
  });

  it('keys are short flat strings: 7 units for IPv4, 19 for IPv6', () => {
    assert.equal(keyOf(buildTcp({ src: A4, dst: B4 }, { sport: 1, dport: 2 })).key.length, 7);
    assert.equal(keyOf(buildTcp({ src: A6, dst: B6 }, { sport: 1, dport: 2 })).key.length, 19);
  });

  it('generic protocols ignore anything that looks like ports', () => {
    const a = keyOf(buildRaw({ src: A4, dst: B4 }, 253, Buffer.from([1, 2, 3, 4])));
    const b = keyOf(buildRaw({ src: A4, dst: B4 }, 253, Buffer.from([9, 9, 9, 9])));
    assert.equal(a.kind, KeyKind.GENERIC);
    assert.equal(a.key, b.key);
  });

  describe('ICMP queries', () => {
    it('request and reply share a key; request and reply kinds', () => {
      const req = keyOf(buildEcho({ src: B4, dst: A4 }, { id: 7 }));
      const rep = keyOf(buildEcho({ src: A4, dst: B4 }, { id: 7, reply: true }));
      assert.equal(req.kind, KeyKind.ICMP_REQUEST);
      assert.equal(rep.kind, KeyKind.ICMP_REPLY);
      assert.equal(req.key, rep.key);
    });

    it('a request from the other side is another flow', () => {
      const ab = keyOf(buildEcho({ src: A4, dst: B4 }, { id: 7 }));
      const ba = keyOf(buildEcho({ src: B4, dst: A4 }, { id: 7 }));
      assert.notEqual(ab.key, ba.key);
    });

    it('the identifier is part of the key; the sequence number is not', () => {
      assert.notEqual(keyOf(buildEcho({ src: A6, dst: B6 }, { id: 1 })).key, keyOf(buildEcho({ src: A6, dst: B6 }, { id: 2 })).key);
      assert.equal(keyOf(buildEcho({ src: A6, dst: B6 }, { id: 1, seq: 1 })).key, keyOf(buildEcho({ src: A6, dst: B6 }, { id: 1, seq: 2 })).key);
    });

    it('timestamp request/reply pair like echo', () => {
      const req = keyOf(buildIcmp({ src: A4, dst: B4 }, { type: 13, id: 3, payload: Buffer.alloc(12) }));
      const rep = keyOf(buildIcmp({ src: B4, dst: A4 }, { type: 14, id: 3, payload: Buffer.alloc(12) }));
      assert.equal(req.key, rep.key);
      assert.notEqual(req.key, keyOf(buildEcho({ src: A4, dst: B4 }, { id: 3 })).key);
    });

    it('pinging yourself still pairs request and reply', () => {
      const req = keyOf(buildEcho({ src: A4, dst: A4 }, { id: 9 }));
      const rep = keyOf(buildEcho({ src: A4, dst: A4 }, { id: 9, reply: true }));
      assert.equal(req.key, rep.key);
    });
  });

  describe('kinds without a key', () => {
    const cases: [string, () => Buffer, number][] = [
      ['ICMP error', () => buildIcmpError({ src: B4, dst: A4 }, { type: 3, quote: buildUdp({ src: A4, dst: B4 }, { sport: 1, dport: 2 }) }), KeyKind.ICMP_ERROR],
      ['ICMPv6 error', () => buildIcmpError({ src: B6, dst: A6 }, { type: 2, quote: buildUdp({ src: A6, dst: B6 }, { sport: 1, dport: 2 }) }), KeyKind.ICMP_ERROR],
      ['ICMPv6 neighbour solicitation', () => buildIcmpv6({ src: A6, dst: B6 }, { type: 135, payload: Buffer.alloc(16) }), KeyKind.ICMP_UNTRACKED],
      ['ICMPv6 MLDv2 report', () => buildIcmpv6({ src: A6, dst: 'ff02::16' }, { type: 143 }), KeyKind.ICMP_UNTRACKED],
      ['ICMPv6 redirect', () => buildIcmpv6({ src: A6, dst: B6 }, { type: 137, payload: Buffer.alloc(32) }), KeyKind.ICMP_INVALID],
      ['ICMP router advertisement', () => buildIcmp({ src: A4, dst: B4 }, { type: 9 }), KeyKind.ICMP_INVALID],
      ['non-first TCP fragment', () => fragmentPacket(buildTcp({ src: A4, dst: B4 }, { sport: 1, dport: 2, payload: Buffer.alloc(64) }), 32)[1]!, KeyKind.FRAGMENT],
    ];
    for (const [name, build, kind] of cases) {
      it(name, () => assert.equal(keyOf(build()).kind, kind));
    }

    it('an empty view has no header', () => {
      assert.equal(flowKeyOfView(createPacketView(), createFlowKeyOut()), KeyKind.NO_HEADER);
    });

    it('non-first fragments of generic protocols are keyed by address', () => {
      const frags = fragmentPacket(buildRaw({ src: A4, dst: B4 }, IpProto.GRE, Buffer.alloc(64)), 32);
      assert.equal(keyOf(frags[1]!).key, keyOf(frags[0]!).key);
    });
  });

  describe('the quoted packet of an ICMP error', () => {
    it('maps to the key of the flow it quotes', () => {
      const syn = buildTcp({ src: A4, dst: B4 }, { sport: 40000, dport: 80, flags: 'S' });
      const out = createFlowKeyOut();
      const kind = flowKeyOfQuoted(view(buildIcmpError({ src: '198.51.100.1', dst: A4 }, { type: 3, quote: syn })), out);
      assert.equal(kind, KeyKind.PORTS);
      assert.equal(out.key, keyOf(syn).key);
      assert.equal(out.srcIsLow, keyOf(syn).srcIsLow);
    });

    it('an echo quote maps to the echo flow', () => {
      const echo = buildEcho({ src: A6, dst: B6 }, { id: 5 });
      const out = createFlowKeyOut();
      assert.equal(flowKeyOfQuoted(view(buildIcmpError({ src: B6, dst: A6 }, { type: 3, quote: echo })), out), KeyKind.ICMP_REQUEST);
      assert.equal(out.key, keyOf(echo).key);
    });

    it('a cut quote has no key', () => {
      const syn = buildTcp({ src: A4, dst: B4 }, { sport: 40000, dport: 80, flags: 'S' });
      const v = view(buildIcmpError({ src: B4, dst: A4 }, { type: 3, quote: syn, quoteLength: 21 }));
      assert.equal(flowKeyOfQuoted(v, createFlowKeyOut()), KeyKind.NO_HEADER);
    });
  });

  describe('decoding', () => {
    it('decodes family, protocol, endpoints and ports', () => {
      const { key } = keyOf(buildTcp({ src: B6, dst: A6 }, { sport: 443, dport: 50000 }));
      assert.equal(keyFamily(key), 6);
      assert.equal(keyProto(key), 6);
      const parts = decodeFlowKey(key)!;
      assert.equal(formatIp(parts.low), A6);
      assert.equal(parts.lowPort, 50000);
      assert.equal(formatIp(parts.high), B6);
      assert.equal(parts.highPort, 443);
    });

    it('formats keys for people', () => {
      assert.equal(formatFlowKey(keyOf(buildTcp({ src: B4, dst: A4 }, { sport: 80, dport: 40000 })).key), 'tcp4 10.0.0.1:40000 <-> 192.0.2.10:80');
      assert.equal(formatFlowKey(keyOf(buildUdp({ src: A6, dst: B6 }, { sport: 1, dport: 2 })).key), 'udp6 [2001:db8::1]:1 <-> [2001:db8::2]:2');
      assert.equal(formatFlowKey(keyOf(buildEcho({ src: B4, dst: A4 }, { id: 7 })).key), 'icmp4 10.0.0.1 <-> 192.0.2.10 id 7 type 8 from high');
      assert.equal(formatFlowKey(keyOf(buildRaw({ src: A4, dst: B4 }, IpProto.GRE)).key), 'ip4/47 10.0.0.1 <-> 192.0.2.10');
      assert.match(formatFlowKey('xyz'), /bad key/);
    });
  });
});
