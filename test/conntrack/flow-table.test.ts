import { strict as assert } from 'node:assert';
import {
  DEFAULT_CONNTRACK_TIMEOUTS,
  FlowDir,
  FlowStatus,
  FlowTable,
  TcpState,
  TrackReason,
  TrackState,
  ctStateOf,
  formatFlowKey,
  resolveTimeouts,
  tcpStateName,
  type FlowEntry,
  type FlowTableOptions,
} from '../../src/conntrack';
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

const C4 = '10.0.0.1';
const S4 = '192.0.2.10';
const R4 = '198.51.100.1';
const C6 = '2001:db8::1';
const S6 = '2001:db8:1::10';
const R6 = '2001:db8:ff::1';
const SEC = 1000;

function view(buf: Buffer): PacketView {
  const v = createPacketView();
  assert.equal(parsePacket(buf, v), ParseStatus.OK);
  return v;
}

const tcp4 = (fromClient: boolean, flags: string, payload = 0): PacketView =>
  view(
    fromClient
      ? buildTcp({ src: C4, dst: S4 }, { sport: 40000, dport: 80, flags, payload: Buffer.alloc(payload) })
      : buildTcp({ src: S4, dst: C4 }, { sport: 80, dport: 40000, flags, payload: Buffer.alloc(payload) }),
  );
const udp4 = (fromClient: boolean, payload = 0): PacketView =>
  view(fromClient ? buildUdp({ src: C4, dst: S4 }, { sport: 5000, dport: 53, payload: Buffer.alloc(payload) }) : buildUdp({ src: S4, dst: C4 }, { sport: 53, dport: 5000, payload: Buffer.alloc(payload) }));

interface Seen {
  state: string;
  dir: 'original' | 'reply';
  created: boolean;
  reason: string;
  entry: FlowEntry | null;
}

/** Track and copy the (reused) result into plain, comparable values. */
function track(table: FlowTable, v: PacketView, now: number): Seen {
  const r = table.track(v, now);
  return {
    state: Object.keys(TrackState)[r.state]!,
    dir: r.dir === FlowDir.ORIGINAL ? 'original' : 'reply',
    created: r.created,
    reason: Object.keys(TrackReason)[r.reason]!,
    entry: r.entry,
  };
}

function table(options: Partial<FlowTableOptions> = {}): FlowTable {
  return new FlowTable({ capacity: 1000, epoch: 0, ...options });
}

describe('conntrack/flow-table', () => {
  describe('TCP', () => {
    it('handshake, data and teardown: states, directions and counters', () => {
      const t = table();
      const steps: [boolean, string, number, string, Seen['dir'], string][] = [
        [true, 'S', 0, 'NEW', 'original', 'SYN_SENT'],
        [true, 'S', 0, 'NEW', 'original', 'SYN_SENT'],
        [false, 'SA', 0, 'ESTABLISHED', 'reply', 'SYN_RECV'],
        [true, 'A', 0, 'ESTABLISHED', 'original', 'ESTABLISHED'],
        [true, 'PA', 100, 'ESTABLISHED', 'original', 'ESTABLISHED'],
        [false, 'PA', 1000, 'ESTABLISHED', 'reply', 'ESTABLISHED'],
        [true, 'FA', 0, 'ESTABLISHED', 'original', 'FIN_WAIT'],
        [false, 'A', 0, 'ESTABLISHED', 'reply', 'CLOSE_WAIT'],
        [false, 'FA', 0, 'ESTABLISHED', 'reply', 'LAST_ACK'],
        [true, 'A', 0, 'ESTABLISHED', 'original', 'TIME_WAIT'],
      ];
      let entry: FlowEntry | null = null;
      steps.forEach(([fromClient, flags, len, state, dir, tcpState], i) => {
        const seen = track(t, tcp4(fromClient, flags, len), i * 10);
        assert.equal(seen.state, state, `step ${i + 1} state`);
        assert.equal(seen.dir, dir, `step ${i + 1} dir`);
        assert.equal(seen.created, i === 0, `step ${i + 1} created`);
        assert.equal(tcpStateName(seen.entry!.tcpState), tcpState, `step ${i + 1} TCP state`);
        if (entry) assert.equal(seen.entry, entry, 'same entry throughout');
        entry = seen.entry;
      });
      const e = entry!;
      assert.equal(t.size, 1);
      assert.equal(e.packetsOriginal, 6);
      assert.equal(e.packetsReply, 4);
      assert.equal(e.bytesOriginal, 6 * 40 + 100);
      assert.equal(e.bytesReply, 4 * 40 + 1000);
      assert.equal(e.firstSeen, 0);
      assert.equal(e.lastSeen, 90);
      assert.ok(e.status & FlowStatus.SEEN_REPLY);
      assert.ok(e.status & FlowStatus.ASSURED);
      assert.equal(formatFlowKey(e.key), 'tcp4 10.0.0.1:40000 <-> 192.0.2.10:80');
      // TIME_WAIT lasts nf_conntrack_tcp_timeout_time_wait.
      assert.equal(t.timeoutOf(e), 120 * SEC);
      assert.equal(t.expiresAt(e), 90 + 120 * SEC);
    });

    it('a reset answering the SYN removes the flow at once', () => {
      const closed: FlowEntry[] = [];
      const t = table({ onClose: (e) => closed.push(e) });
      track(t, tcp4(true, 'S'), 0);
      const rst = track(t, tcp4(false, 'RA'), 1);
      assert.equal(rst.state, 'ESTABLISHED');
      assert.equal(rst.dir, 'reply');
      assert.equal(t.size, 0);
      assert.equal(t.stats.closed, 1);
      assert.deepEqual(closed, [rst.entry]);
    });

    it('a reset of an established connection leaves it in CLOSE for 10 s', () => {
      const t = table();
      track(t, tcp4(true, 'S'), 0);
      track(t, tcp4(false, 'SA'), 0);
      track(t, tcp4(true, 'A'), 0);
      const rst = track(t, tcp4(false, 'R'), 1000);
      assert.equal(rst.entry!.tcpState, TcpState.CLOSE);
      assert.equal(t.timeoutOf(rst.entry!), 10 * SEC);
      assert.equal(track(t, tcp4(true, 'A'), 1000 + 10 * SEC - 1).created, false);
      assert.equal(t.size, 1);
      // 10 s after the last packet the entry is gone; the next ACK starts over (loose pickup).
      const later = track(t, tcp4(true, 'A'), 1000 + 10 * SEC - 1 + 10 * SEC);
      assert.equal(later.created, true);
      assert.equal(t.stats.expired, 1);
    });

    describe('invalid segments', () => {
      const cases: { name: string; before: [boolean, string][]; packet: [boolean, string]; reason: string; loose?: boolean }[] = [
        { name: 'SYN+FIN', before: [], packet: [true, 'SF'], reason: 'TCP_BAD_FLAGS' },
        { name: 'no flags', before: [], packet: [true, ''], reason: 'TCP_BAD_FLAGS' },
        { name: 'FIN without ACK on an established flow', before: [[true, 'A']], packet: [true, 'F'], reason: 'TCP_BAD_FLAGS' },
        { name: 'SYN/ACK without a SYN', before: [], packet: [false, 'SA'], reason: 'TCP_NOT_START' },
        { name: 'RST without a flow', before: [], packet: [true, 'R'], reason: 'TCP_NOT_START' },
        { name: 'mid-stream ACK in strict mode', before: [], packet: [true, 'A'], reason: 'TCP_NOT_START', loose: false },
        { name: 'ACK from the client before the SYN/ACK', before: [[true, 'S']], packet: [true, 'A'], reason: 'TCP_BAD_TRANSITION' },
        { name: 'FIN from the server in SYN_SENT', before: [[true, 'S']], packet: [false, 'FA'], reason: 'TCP_BAD_TRANSITION' },
      ];
      for (const c of cases) {
        it(c.name, () => {
          const t = table({ tcpLoose: c.loose ?? true });
          for (const [fromClient, flags] of c.before) track(t, tcp4(fromClient, flags), 0);
          const before = t.size;
          const counts = c.before.length > 0 ? [...t.entries()][0]!.packetsOriginal + [...t.entries()][0]!.packetsReply : 0;
          const seen = track(t, tcp4(c.packet[0], c.packet[1]), 5);
          assert.equal(seen.state, 'INVALID');
          assert.equal(seen.reason, c.reason);
          assert.equal(seen.created, false);
          assert.equal(t.size, before, 'no entry created');
          if (seen.entry) {
            assert.equal(seen.entry.packetsOriginal + seen.entry.packetsReply, counts, 'invalid packets are not counted');
            assert.equal(seen.entry.lastSeen, 0, 'nor do they refresh the flow');
          }
          assert.equal(t.stats.invalid, 1);
        });
      }
    });

    it('loose pickup: NEW until the other side answers, short timeout until then', () => {
      const t = table();
      const first = track(t, tcp4(true, 'PA', 10), 0);
      assert.equal(first.state, 'NEW');
      assert.equal(first.created, true);
      assert.equal(first.entry!.tcpState, TcpState.ESTABLISHED);
      assert.equal(t.timeoutOf(first.entry!), DEFAULT_CONNTRACK_TIMEOUTS.nf_conntrack_tcp_timeout_unacknowledged * SEC);
      const reply = track(t, tcp4(false, 'A'), 1);
      assert.equal(reply.state, 'ESTABLISHED');
      assert.equal(t.timeoutOf(reply.entry!), 432000 * SEC);
    });

    it('a new SYN on a closed connection re-opens it as a new flow', () => {
      const t = table();
      for (const [c, f] of [
        [true, 'S'],
        [false, 'SA'],
        [true, 'A'],
        [true, 'FA'],
        [false, 'FA'],
        [true, 'A'],
      ] as const) {
        track(t, tcp4(c, f), 0);
      }
      const old = [...t.entries()][0]!;
      assert.equal(old.tcpState, TcpState.TIME_WAIT);
      const syn = track(t, tcp4(true, 'S'), 5 * SEC);
      assert.equal(syn.state, 'NEW');
      assert.equal(syn.created, true);
      assert.notEqual(syn.entry, old);
      assert.equal(syn.entry!.tcpState, TcpState.SYN_SENT);
      assert.equal(syn.entry!.packetsOriginal, 1);
      assert.equal(t.stats.closed, 1);
      assert.equal(t.size, 1);
    });

    it('ignored segments pass with the flow state but change nothing', () => {
      const t = table();
      track(t, tcp4(true, 'S'), 0);
      track(t, tcp4(false, 'SA'), 0);
      const est = track(t, tcp4(true, 'A'), 0);
      const stray = track(t, tcp4(false, 'SA'), 50);
      assert.equal(stray.state, 'ESTABLISHED');
      assert.equal(stray.reason, 'TCP_IGNORED');
      assert.equal(est.entry!.packetsReply, 1);
      assert.equal(est.entry!.lastSeen, 0);
    });
  });

  describe('UDP', () => {
    it('NEW until a reply, then ESTABLISHED both ways', () => {
      const t = table();
      const seq: [boolean, string, Seen['dir']][] = [
        [true, 'NEW', 'original'],
        [true, 'NEW', 'original'],
        [false, 'ESTABLISHED', 'reply'],
        [true, 'ESTABLISHED', 'original'],
      ];
      for (const [fromClient, state, dir] of seq) {
        const seen = track(t, udp4(fromClient, 20), 0);
        assert.equal(seen.state, state);
        assert.equal(seen.dir, dir);
      }
      const e = [...t.entries()][0]!;
      assert.equal(e.packetsOriginal, 3);
      assert.equal(e.packetsReply, 1);
      assert.equal(e.bytesOriginal, 3 * 48);
    });

    it('30 s timeout, 120 s once it is a stream (both ways, active after 2 s)', () => {
      const t = table();
      const a = track(t, udp4(true), 0).entry!;
      assert.equal(t.timeoutOf(a), 30 * SEC);
      track(t, udp4(false), 100);
      track(t, udp4(true), 1500);
      assert.equal(t.timeoutOf(a), 30 * SEC, 'a quick query/answer is not a stream');
      track(t, udp4(true), 2500);
      assert.equal(t.timeoutOf(a), 120 * SEC);
      assert.ok(a.status & FlowStatus.ASSURED);
      assert.equal(track(t, udp4(false), 2500 + 120 * SEC - 1).created, false);
      assert.equal(track(t, udp4(false), 2500 + 240 * SEC).created, true);
    });

    it('an unanswered flow expires after 30 s (lazily, on the next lookup)', () => {
      const expired: FlowEntry[] = [];
      const t = table({ onExpire: (e) => expired.push(e) });
      const first = track(t, udp4(true), 0).entry!;
      assert.equal(track(t, udp4(true), 30 * SEC - 1).created, false);
      const again = track(t, udp4(true), 60 * SEC - 1 + 1);
      assert.equal(again.created, true);
      assert.equal(again.state, 'NEW');
      assert.deepEqual(expired, [first]);
    });
  });

  describe('ICMP', () => {
    it('echo request NEW, reply ESTABLISHED', () => {
      const t = table();
      const req = track(t, view(buildEcho({ src: C4, dst: S4 }, { id: 7, seq: 1 })), 0);
      assert.deepEqual([req.state, req.dir, req.created], ['NEW', 'original', true]);
      const rep = track(t, view(buildEcho({ src: S4, dst: C4 }, { id: 7, seq: 1, reply: true })), 1);
      assert.deepEqual([rep.state, rep.dir], ['ESTABLISHED', 'reply']);
      assert.equal(rep.entry, req.entry);
      const next = track(t, view(buildEcho({ src: C4, dst: S4 }, { id: 7, seq: 2 })), 1000);
      assert.deepEqual([next.state, next.dir, next.created], ['ESTABLISHED', 'original', false]);
      assert.equal(t.timeoutOf(req.entry!), 30 * SEC);
    });

    it('ICMPv6 echo the same way, with the icmpv6 timeout', () => {
      const t = table({ timeouts: { nf_conntrack_icmpv6_timeout: 5 } });
      const req = track(t, view(buildEcho({ src: C6, dst: S6 }, { id: 1 })), 0);
      const rep = track(t, view(buildEcho({ src: S6, dst: C6 }, { id: 1, reply: true })), 1);
      assert.deepEqual([req.state, rep.state, rep.dir], ['NEW', 'ESTABLISHED', 'reply']);
      assert.equal(t.timeoutOf(rep.entry!), 5 * SEC);
    });

    it('a reply without a request is INVALID', () => {
      const t = table();
      const rep = track(t, view(buildEcho({ src: S4, dst: C4 }, { id: 7, reply: true })), 0);
      assert.deepEqual([rep.state, rep.reason], ['INVALID', 'ICMP_REPLY_WITHOUT_REQUEST']);
      assert.equal(t.size, 0);
    });

    it('a request from the other side is its own flow', () => {
      const t = table();
      track(t, view(buildEcho({ src: C4, dst: S4 }, { id: 7 })), 0);
      const other = track(t, view(buildEcho({ src: S4, dst: C4 }, { id: 7 })), 0);
      assert.deepEqual([other.state, other.created], ['NEW', true]);
      assert.equal(t.size, 2);
    });

    it('ICMPv6 neighbour discovery is UNTRACKED; other informational types are INVALID', () => {
      const t = table();
      const ns = track(t, view(buildIcmpv6({ src: 'fe80::1', dst: 'ff02::1:ff00:1' }, { type: 135, payload: Buffer.alloc(16) })), 0);
      assert.deepEqual([ns.state, ns.reason], ['UNTRACKED', 'ICMP_UNTRACKED_TYPE']);
      const ra = track(t, view(buildIcmp({ src: C4, dst: '224.0.0.1' }, { type: 9 })), 0);
      assert.deepEqual([ra.state, ra.reason], ['INVALID', 'ICMP_BAD_TYPE']);
      assert.equal(t.size, 0);
      assert.equal(t.stats.untracked, 1);
    });
  });

  describe('ICMP errors are RELATED to the flow they quote', () => {
    const syn = buildTcp({ src: C4, dst: S4 }, { sport: 40000, dport: 80, flags: 'S' });

    it('port unreachable for a TCP SYN: RELATED, reply direction, flow untouched', () => {
      const t = table();
      const flow = track(t, view(syn), 0).entry!;
      const err = track(t, view(buildIcmpError({ src: R4, dst: C4 }, { type: 3, code: 1, quote: syn })), 10);
      assert.deepEqual([err.state, err.dir, err.created], ['RELATED', 'reply', false]);
      assert.equal(err.entry, flow);
      assert.equal(flow.packetsOriginal + flow.packetsReply, 1);
      assert.equal(flow.lastSeen, 0);
      assert.equal(t.stats.related, 1);
      assert.equal(ctStateOf(TrackState.RELATED, FlowDir.REPLY), 'related');
    });

    it('an error quoting a reply-direction packet travels in the original direction', () => {
      const t = table();
      const cs = buildTcp({ src: C6, dst: S6 }, { sport: 50000, dport: 443, flags: 'S' });
      const sc = buildTcp({ src: S6, dst: C6 }, { sport: 443, dport: 50000, flags: 'SA' });
      track(t, view(cs), 0);
      track(t, view(sc), 1);
      const big = buildTcp({ src: S6, dst: C6 }, { sport: 443, dport: 50000, flags: 'PA', payload: Buffer.alloc(1400) });
      const ptb = track(t, view(buildIcmpError({ src: R6, dst: S6 }, { type: 2, rest: 1280, quote: big })), 2);
      assert.deepEqual([ptb.state, ptb.dir], ['RELATED', 'original']);
    });

    it('an error about an echo request', () => {
      const t = table();
      const echo = buildEcho({ src: C4, dst: S4 }, { id: 3 });
      const flow = track(t, view(echo), 0).entry!;
      const err = track(t, view(buildIcmpError({ src: R4, dst: C4 }, { type: 11, quote: echo })), 1);
      assert.deepEqual([err.state, err.dir], ['RELATED', 'reply']);
      assert.equal(err.entry, flow);
    });

    it('an error about UDP, quoted with only 8 bytes of the header', () => {
      const t = table();
      const q = buildUdp({ src: C4, dst: S4 }, { sport: 5000, dport: 53, payload: Buffer.alloc(30) });
      track(t, view(q), 0);
      const err = track(t, view(buildIcmpError({ src: S4, dst: C4 }, { type: 3, code: 3, quote: q, quoteLength: 28 })), 1);
      assert.equal(err.state, 'RELATED');
    });

    const invalid: [string, () => Buffer, string][] = [
      ['about a flow the table does not have', () => buildIcmpError({ src: R4, dst: C4 }, { type: 3, quote: buildTcp({ src: C4, dst: S4 }, { sport: 1, dport: 2, flags: 'S' }) }), 'ICMP_ERROR_NO_FLOW'],
      ['sent to someone other than the quoted sender', () => buildIcmpError({ src: R4, dst: '10.0.0.99' }, { type: 3, quote: syn }), 'ICMP_ERROR_WRONG_DESTINATION'],
      ['with the quote cut inside the ports', () => buildIcmpError({ src: R4, dst: C4 }, { type: 3, quote: syn, quoteLength: 21 }), 'ICMP_ERROR_BAD_QUOTE'],
      ['quoting another ICMP error', () => buildIcmpError({ src: R4, dst: C4 }, { type: 3, quote: buildIcmpError({ src: C4, dst: R4 }, { type: 3, quote: syn }) }), 'ICMP_ERROR_BAD_QUOTE'],
    ];
    for (const [name, build, reason] of invalid) {
      it(`INVALID ${name}`, () => {
        const t = table();
        track(t, view(syn), 0);
        const err = track(t, view(build()), 1);
        assert.deepEqual([err.state, err.reason], ['INVALID', reason]);
      });
    }

    it('an error about an expired flow is INVALID', () => {
      const t = table();
      track(t, view(syn), 0);
      const err = track(t, view(buildIcmpError({ src: R4, dst: C4 }, { type: 3, quote: syn })), 121 * SEC);
      assert.equal(err.reason, 'ICMP_ERROR_NO_FLOW');
    });
  });

  describe('other protocols', () => {
    it('GRE is tracked by address pair with the generic timeout', () => {
      const t = table();
      const a = track(t, view(buildRaw({ src: C4, dst: S4 }, IpProto.GRE, Buffer.alloc(8))), 0);
      const b = track(t, view(buildRaw({ src: S4, dst: C4 }, IpProto.GRE, Buffer.alloc(8))), 1);
      assert.deepEqual([a.state, b.state, b.dir], ['NEW', 'ESTABLISHED', 'reply']);
      assert.equal(t.timeoutOf(a.entry!), 600 * SEC);
    });

    it('SCTP is tracked by ports with the generic timeout', () => {
      const t = table();
      const a = track(t, view(buildSctp({ src: C6, dst: S6 }, { sport: 36412, dport: 36412 })), 0);
      const b = track(t, view(buildSctp({ src: S6, dst: C6 }, { sport: 36412, dport: 36412 })), 1);
      assert.deepEqual([a.state, b.state, b.dir], ['NEW', 'ESTABLISHED', 'reply']);
      assert.equal(t.timeoutOf(b.entry!), 600 * SEC);
    });

    it('non-first fragments are UNTRACKED; the first one is tracked', () => {
      const t = table();
      const frags = fragmentPacket(buildUdp({ src: C4, dst: S4 }, { sport: 1, dport: 2, payload: Buffer.alloc(64) }), 32);
      assert.equal(track(t, view(frags[0]!), 0).state, 'NEW');
      const rest = track(t, view(frags[1]!), 0);
      assert.deepEqual([rest.state, rest.reason, rest.entry], ['UNTRACKED', 'FRAGMENT', null]);
    });

    it('a view without a parsed packet is INVALID', () => {
      const seen = track(table(), createPacketView(), 0);
      assert.deepEqual([seen.state, seen.reason], ['INVALID', 'NO_HEADER']);
    });
  });

  describe('capacity and eviction', () => {
    const flow = (n: number): PacketView => view(buildUdp({ src: C4, dst: S4 }, { sport: 10000 + n, dport: 53 }));

    it('evicts the least recently active flow, counts it and reports it', () => {
      const evicted: string[] = [];
      const t = table({ capacity: 3, onEvict: (e) => evicted.push(formatFlowKey(e.key)) });
      for (let n = 0; n < 3; n++) track(t, flow(n), n);
      track(t, flow(0), 10); // flow 0 is now the most recent
      track(t, flow(3), 11);
      track(t, flow(4), 12);
      assert.equal(t.size, 3);
      assert.equal(t.stats.evicted, 2);
      assert.deepEqual(evicted, ['udp4 10.0.0.1:10001 <-> 192.0.2.10:53', 'udp4 10.0.0.1:10002 <-> 192.0.2.10:53']);
      assert.equal(track(t, flow(0), 13).created, false);
      assert.equal(t.stats.expired, 0);
    });

    it('rejects a capacity that is not a positive integer', () => {
      assert.throws(() => new FlowTable({ capacity: 0 }), RangeError);
      assert.throws(() => new FlowTable({ capacity: 1.5 }), RangeError);
    });
  });

  describe('sweep', () => {
    const udp = (n: number): PacketView => view(buildUdp({ src: C4, dst: S4 }, { sport: 20000 + n, dport: 53 }));
    const tcpFlow = (n: number): PacketView => view(buildTcp({ src: C4, dst: S4 }, { sport: 30000 + n, dport: 22, flags: 'A' }));

    it('removes at most `budget` expired entries per call and keeps live ones', () => {
      const expired: FlowEntry[] = [];
      const t = table({ onExpire: (e) => expired.push(e) });
      for (let n = 0; n < 10; n++) track(t, udp(n), 0);
      for (let n = 10; n < 15; n++) track(t, udp(n), 25 * SEC);
      const now = 31 * SEC;
      assert.deepEqual([t.sweep(now, 3), t.sweep(now, 3), t.sweep(now, 3), t.sweep(now, 3), t.sweep(now, 3)], [3, 3, 3, 1, 0]);
      assert.equal(t.size, 5);
      assert.equal(expired.length, 10);
      assert.equal(t.stats.expired, 10);
      assert.equal(t.sweep(56 * SEC, 100), 5);
      assert.equal(t.size, 0);
      assert.equal(t.sweep(56 * SEC, 100), 0);
    });

    it('examines at most `scanLimit` entries', () => {
      const t = table();
      for (let n = 0; n < 10; n++) track(t, udp(n), 0);
      assert.equal(t.sweep(31 * SEC, 100, 4), 4);
      assert.equal(t.stats.sweepScanned, 4);
    });

    it('continues where it stopped, past long-lived idle flows', () => {
      const t = table();
      // Picked-up TCP flows (300 s) first, so they are the least recently active...
      for (let n = 0; n < 20; n++) track(t, tcpFlow(n), 0);
      // ...then short UDP flows behind them.
      for (let n = 0; n < 5; n++) track(t, udp(n), 1);
      const now = 40 * SEC;
      let removed = 0;
      for (let i = 0; i < 5 && removed < 5; i++) removed += t.sweep(now, 10, 8);
      assert.equal(removed, 5);
      assert.equal(t.size, 20);
    });

    it('stops early at flows too recent to have expired', () => {
      const t = table();
      for (let n = 0; n < 50; n++) track(t, udp(n), 100 * SEC);
      const scannedBefore = t.stats.sweepScanned;
      assert.equal(t.sweep(101 * SEC, 10), 0);
      assert.equal(t.stats.sweepScanned - scannedBefore, 1);
    });
  });

  describe('entries and results', () => {
    it('the verdict slot, generation and decision belong to the engine', () => {
      const t = new FlowTable<{ rule: string }>({ capacity: 10 });
      const first = t.track(tcp4(true, 'S'), 0).entry!;
      assert.deepEqual([first.verdict, first.generation, first.decision], [-1, -1, null]);
      first.verdict = 1;
      first.generation = 7;
      first.decision = { rule: 'allow-web' };
      const again = t.track(tcp4(false, 'SA'), 1).entry!;
      assert.equal(again, first);
      assert.deepEqual([again.verdict, again.generation, again.decision], [1, 7, { rule: 'allow-web' }]);
      assert.equal(again.family, 4);
      assert.equal(again.proto, 6);
    });

    it('peek and delete', () => {
      const t = table();
      const e = track(t, udp4(true), 0).entry!;
      assert.equal(t.peek(e.key, 1), e);
      assert.equal(t.peek(e.key, 30 * SEC), undefined, 'peek expires lazily too');
      const f = track(t, udp4(true), 30 * SEC).entry!;
      assert.equal(t.delete(f), true);
      assert.equal(t.delete(f), false);
      assert.equal(t.stats.deleted, 1);
      assert.equal(t.size, 0);
    });

    it('the epoch defaults to the first time seen', () => {
      const t = new FlowTable({ capacity: 10 });
      const e = t.track(udp4(true), 1_700_000_000_000).entry!;
      assert.equal(t.epoch, 1_700_000_000_000);
      assert.equal(e.firstSeen, 0);
      t.track(udp4(true), 1_700_000_000_500.7);
      assert.equal(e.lastSeen, 500);
      assert.equal(t.expiresAt(e), 1_700_000_000_500 + 30 * SEC);
    });

    it('ctStateOf gives the PacketFacts names', () => {
      assert.equal(ctStateOf(TrackState.NEW, FlowDir.ORIGINAL), 'new');
      assert.equal(ctStateOf(TrackState.ESTABLISHED, FlowDir.ORIGINAL), 'established');
      assert.equal(ctStateOf(TrackState.ESTABLISHED, FlowDir.REPLY), 'reply');
      assert.equal(ctStateOf(TrackState.RELATED, FlowDir.ORIGINAL), 'related');
      assert.equal(ctStateOf(TrackState.INVALID, FlowDir.REPLY), 'invalid');
      assert.equal(ctStateOf(TrackState.UNTRACKED, FlowDir.ORIGINAL), 'untracked');
    });

    it('clear empties the table', () => {
      const t = table();
      track(t, udp4(true), 0);
      t.clear();
      assert.equal(t.size, 0);
      assert.equal(t.sweep(100 * SEC, 10), 0);
    });
  });

  describe('timeouts', () => {
    it('defaults are the kernel sysctl defaults', () => {
      const t = resolveTimeouts();
      assert.deepEqual(
        [t.tcp[TcpState.SYN_SENT], t.tcp[TcpState.SYN_RECV], t.tcp[TcpState.ESTABLISHED], t.tcp[TcpState.FIN_WAIT], t.tcp[TcpState.CLOSE_WAIT], t.tcp[TcpState.LAST_ACK], t.tcp[TcpState.TIME_WAIT], t.tcp[TcpState.CLOSE]],
        [120, 60, 432000, 120, 60, 30, 120, 10].map((s) => s * SEC),
      );
      assert.deepEqual([t.udp, t.udpStream, t.icmp, t.icmpv6, t.generic, t.min], [30, 120, 30, 30, 600, 10].map((s) => s * SEC));
    });

    it('overrides apply by sysctl name', () => {
      const t = resolveTimeouts({ nf_conntrack_udp_timeout: 10, nf_conntrack_tcp_timeout_established: 3600, nf_conntrack_tcp_timeout_close: 0.5 });
      assert.equal(t.udp, 10 * SEC);
      assert.equal(t.tcp[TcpState.ESTABLISHED], 3600 * SEC);
      assert.equal(t.min, 500);
    });

    it('bad overrides are refused', () => {
      assert.throws(() => resolveTimeouts({ nf_conntrack_udp_timeout: -1 }), RangeError);
      assert.throws(() => resolveTimeouts({ nf_conntrack_udp_timeout: Number.NaN }), RangeError);
      assert.throws(() => resolveTimeouts({ nf_conntrack_bogus: 1 } as never), /unknown conntrack timeout/);
    });

    it('the table uses its overrides', () => {
      const t = table({ timeouts: { nf_conntrack_udp_timeout: 1 } });
      track(t, udp4(true), 0);
      assert.equal(track(t, udp4(true), 1000).created, true);
    });
  });
});
