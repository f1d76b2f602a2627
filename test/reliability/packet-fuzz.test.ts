import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { FlowTable, TrackState, type FlowEntry } from '../../src/conntrack';
import { buildIcmpError, buildTcp, buildUdp, buildEcho, createPacketView, parsePacket, ParseStatus, IpProto } from '../../src/packet';
import { Rng } from '../helpers/random';
import {
  FuzzFailure,
  countersProblem,
  emptyKindCounts,
  hex,
  loadFuzzPolicies,
  makeRigs,
  processAndCheck,
  randomInput,
  seedFromEnv,
  type FuzzPolicies,
  type ProcessorRig,
} from './fuzz-fixture';
import { PacketGenerator } from './packet-gen';

const ROOT = path.resolve(__dirname, '../../..');
const SEED = seedFromEnv(0x6e667177);
/** Random packets through the processors (the bench runs more: bench/fuzz.bench.ts). */
const RANDOM_PACKETS = 200_000;
const RERUN = `FUZZ_SEED=${SEED} npx mocha --no-config --enable-source-maps --timeout 120000 dist/test/reliability/packet-fuzz.test.js`;

/** Run `body`, turning a FuzzFailure into an assertion failure that names the seed. */
function withSeed(body: () => void): void {
  try {
    body();
  } catch (err) {
    if (err instanceof FuzzFailure) assert.fail(`${err.message}\n  seed ${SEED}; rerun: ${RERUN}`);
    throw err;
  }
}

function checkCounters(rigs: readonly ProcessorRig[]): void {
  const problems = rigs.map(countersProblem).filter((p): p is string => p !== null);
  assert.deepEqual(problems, [], `processor counters disagree with the checker (seed ${SEED})`);
}

describe('reliability: packet fuzz through parse -> conntrack -> engine -> verdict', function () {
  this.timeout(300_000);
  let policies: FuzzPolicies;
  let gen: PacketGenerator;

  before(async () => {
    policies = await loadFuzzPolicies(ROOT);
    gen = new PacketGenerator(SEED);
  });

  it(`every truncation of 1 000 corpus packets gets a verdict; rejects are dropped and counted`, () => {
    const rigs = makeRigs(policies);
    const rng = new Rng(SEED ^ 0x1);
    let now = 1_000_000;
    let fed = 0;
    withSeed(() => {
      for (let i = 0; i < 1000; i++) {
        const p = gen.corpus[i % gen.corpus.length]!;
        for (let cut = 0; cut <= p.length; cut++) {
          const rig = rigs[fed % rigs.length]!;
          now += rng.int(20);
          processAndCheck(rig, p.subarray(0, cut), randomInput(rng, rig.layout, now), () => `corpus packet ${i} cut at ${cut}`);
          fed++;
        }
      }
    });
    checkCounters(rigs);
    assert.ok(fed > 50_000, `only ${fed} truncations`);
    assert.ok(rigs.some((r) => r.seen.parseErrors > 0) && rigs.some((r) => r.seen.accepted + r.seen.repeated > 0));
  });

  it('every header byte of seven templates set to each of its 256 values', () => {
    const V4 = { src: '10.20.0.2', dst: '10.10.0.2' };
    const V6 = { src: 'fd10:20::2', dst: 'fd10:10::2' };
    const templates = [
      buildTcp(V4, { sport: 40000, dport: 22, flags: 'S' }),
      buildTcp({ ...V4, options: Buffer.from([0x94, 4, 0, 0, 0x83, 7, 4, 10, 0, 0, 1, 0]) }, { sport: 40000, dport: 80, flags: 'S', options: Buffer.from([2, 4, 5, 0xb4]) }),
      buildUdp({ ...V6, extHeaders: [{ type: 'hop-by-hop' }, { type: 'routing' }, { type: 'fragment' }, { type: 'destination' }] }, { sport: 5353, dport: 53 }),
      buildUdp(V6, { sport: 1, dport: 11211 }),
      buildEcho(V6, { id: 7 }),
      buildIcmpError({ src: '198.51.100.1', dst: '10.20.0.2' }, { type: 3, code: 4, quote: buildTcp(V4, { sport: 40000, dport: 22, flags: 'S' }) }),
      buildIcmpError({ src: 'fd10:10::1', dst: 'fd10:20::2' }, { type: 2, quote: buildUdp({ ...V6, extHeaders: [{ type: 'destination' }] }, { sport: 1, dport: 2 }) }),
    ];
    const rigs = makeRigs(policies);
    const rng = new Rng(SEED ^ 0x2);
    let now = 5_000_000;
    let fed = 0;
    withSeed(() => {
      templates.forEach((t, ti) => {
        const p = Buffer.from(t);
        const span = Math.min(p.length, 96);
        for (let at = 0; at < span; at++) {
          const orig = p[at]!;
          for (let value = 0; value < 256; value++) {
            p[at] = value;
            const rig = rigs[fed % rigs.length]!;
            now += rng.int(5);
            processAndCheck(rig, p, randomInput(rng, rig.layout, now), () => `template ${ti}, byte ${at} = 0x${value.toString(16)}`);
            fed++;
          }
          p[at] = orig;
        }
      });
    });
    checkCounters(rigs);
    assert.ok(fed > 100_000);
  });

  it(`${RANDOM_PACKETS} random and mutated packets, random hooks, marks and policy swaps`, () => {
    const rigs = makeRigs(policies);
    const rng = new Rng(SEED ^ 0x3);
    const kinds = emptyKindCounts();
    const choices = [policies.fixtures, policies.extended, policies.seed];
    let now = 10_000_000;
    withSeed(() => {
      for (let i = 0; i < RANDOM_PACKETS; i++) {
        // Reloads: a new generation (flows decided before are judged again), or an interface
        // change (same generation, new HEP bindings). 64 generations wrap the mark field.
        if (i % 1500 === 0) for (const r of rigs) r.slot.swap(rng.pick(choices));
        else if (i % 1500 === 700) for (const r of rigs) r.slot.replace(rng.pick(choices));
        // Mostly packets close together, sometimes a jump past every timeout.
        now += rng.bool(0.001) ? 3_600_000 : rng.int(50);
        const g = gen.next();
        kinds[g.kind]++;
        const rig = rigs[i % rigs.length]!;
        processAndCheck(rig, g.bytes, randomInput(rng, rig.layout, now), () => `random packet #${i} (${g.kind})`);
      }
    });
    checkCounters(rigs);
    const total = rigs.reduce((n, r) => n + r.seen.packets, 0);
    assert.equal(total, RANDOM_PACKETS);
    for (const [k, n] of Object.entries(kinds)) assert.ok(n > 0, `no packet of kind ${k}`);
    // The mix must exercise both outcomes, not only the parser's rejects.
    const parsed = rigs.reduce((n, r) => n + r.seen.packets - r.seen.parseErrors, 0);
    const rejected = rigs.reduce((n, r) => n + r.seen.parseErrors, 0);
    assert.ok(parsed > RANDOM_PACKETS / 5 && rejected > RANDOM_PACKETS / 20, `parsed ${parsed}, rejected ${rejected}`);
  });

  it('IPv6 extension-header loops and long chains are refused, not walked forever', () => {
    const view = createPacketView();
    const rng = new Rng(SEED ^ 0x4);
    for (const n of [17, 100, 1000, 8000]) {
      const p = Buffer.alloc(40 + 8 * n + 8);
      p[0] = 0x60;
      p.writeUInt16BE((8 * n + 8) & 0xffff, 4);
      p[6] = IpProto.HOP_BY_HOP;
      for (let k = 0; k < n; k++) p[40 + 8 * k] = rng.pick([IpProto.HOP_BY_HOP, IpProto.IPV6_DEST_OPTS, IpProto.IPV6_ROUTING]);
      const status = parsePacket(p.subarray(0, 40 + Math.min(0xffff, 8 * n + 8)), view);
      assert.ok(status === ParseStatus.EXT_HEADER_LOOP || status === ParseStatus.TRUNCATED || status === ParseStatus.BAD_EXT_HEADER, `chain of ${n}: ${status}`);
    }
  });
});

describe('reliability: conntrack fuzz (FlowTable.track with a small table)', function () {
  this.timeout(120_000);

  it('random packet sequences, sweeps, peeks and deletes keep size <= capacity and the counters consistent', () => {
    const OPS = 150_000;
    const rng = new Rng(SEED ^ 0x5);
    const gen = new PacketGenerator(SEED ^ 0x6);
    // A small tuple space, so that packets meet existing flows, in both directions.
    const hosts4 = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
    const hosts6 = ['fd00::1', 'fd00::2'];
    const ports = [22, 53, 80, 40000];
    const flagSets = ['S', 'SA', 'A', 'PA', 'FA', 'R', 'RA', 'F', 'SF', '', 'SAFRPU'];
    const pool: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const six = rng.bool(0.3);
      const hosts = six ? hosts6 : hosts4;
      const ip = { src: rng.pick(hosts), dst: rng.pick(hosts) };
      const kind = rng.int(10);
      if (kind < 5) pool.push(buildTcp(ip, { sport: rng.pick(ports), dport: rng.pick(ports), flags: rng.pick(flagSets) }));
      else if (kind < 7) pool.push(buildUdp(ip, { sport: rng.pick(ports), dport: rng.pick(ports) }));
      else if (kind < 9) pool.push(buildEcho(ip, { id: rng.int(3), reply: rng.bool() }));
      else {
        const quoted = pool.length > 0 ? rng.pick(pool) : buildUdp(ip, { sport: 1, dport: 2 });
        if ((quoted[0]! >>> 4 === 6) === six) pool.push(buildIcmpError(ip, { type: six ? 1 : 3, quote: quoted }));
      }
    }
    for (const capacity of [1, 7, 64]) {
      let created = 0;
      let evicted = 0;
      let expired = 0;
      let closed = 0;
      const t = new FlowTable<number>({ capacity, onEvict: () => void evicted++, onExpire: () => void expired++, onClose: () => void closed++, timeouts: { nf_conntrack_udp_timeout: 1, nf_conntrack_icmp_timeout: 1 } });
      const view = createPacketView();
      const mine = { invalid: 0, untracked: 0, related: 0 };
      const recent: FlowEntry<number>[] = [];
      let now = 0;
      const where = (i: number) => `capacity ${capacity}, op ${i}, seed ${SEED}`;
      for (let i = 0; i < OPS; i++) {
        now += rng.bool(0.01) ? rng.int(600_000) : rng.int(200);
        const op = rng.int(100);
        if (op < 90) {
          const bytes = rng.bool(0.8) ? rng.pick(pool) : gen.next().bytes;
          // The processor tracks only packets that parsed; so do we.
          if (parsePacket(bytes, view) !== ParseStatus.OK) continue;
          let r: ReturnType<typeof t.track>;
          try {
            r = t.track(view, now);
          } catch (err) {
            assert.fail(`track threw at ${where(i)} on ${hex(bytes)}: ${(err as Error).stack}`);
          }
          assert.ok(r.state >= TrackState.NEW && r.state <= TrackState.UNTRACKED, `state ${r.state} at ${where(i)}`);
          if (r.state === TrackState.INVALID) mine.invalid++;
          else if (r.state === TrackState.UNTRACKED) mine.untracked++;
          else {
            assert.ok(r.entry !== null, `state ${r.state} without an entry at ${where(i)}`);
            if (r.state === TrackState.RELATED) mine.related++;
          }
          if (r.created) created++;
          if (r.entry !== null) {
            if (recent.length < 32) recent.push(r.entry);
            else recent[rng.int(32)] = r.entry;
          }
        } else if (op < 95) {
          t.sweep(now, 1 + rng.int(8), rng.bool(0.5) ? undefined : rng.int(50));
        } else if (op < 97) {
          if (recent.length > 0) t.peek(rng.pick(recent).key, now);
        } else if (recent.length > 0) {
          t.delete(rng.pick(recent));
        }
        const s = t.stats;
        assert.ok(t.size <= capacity, `size ${t.size} > capacity at ${where(i)}`);
        assert.equal(s.created, t.size + s.evicted + s.expired + s.closed + s.deleted, `created ${s.created} != size ${t.size} + evicted ${s.evicted} + expired ${s.expired} + closed ${s.closed} + deleted ${s.deleted} at ${where(i)}`);
        if (i % 5000 === 0) assert.equal([...t.entries()].length, t.size, `entries() disagrees with size at ${where(i)}`);
      }
      const s = t.stats;
      assert.deepEqual({ invalid: s.invalid, untracked: s.untracked, related: s.related }, mine, `classification counters (capacity ${capacity}, seed ${SEED})`);
      assert.deepEqual({ evicted: s.evicted, expired: s.expired, closed: s.closed }, { evicted, expired, closed }, `callbacks (capacity ${capacity}, seed ${SEED})`);
      assert.equal(created, s.created, `results that created an entry (capacity ${capacity}, seed ${SEED})`);
      assert.ok(s.evicted > 0, `the mix must reach eviction (capacity ${capacity}): ${JSON.stringify(s)}`);
      if (capacity > 7) assert.ok(s.related > 0 && s.expired > 0, `the mix must reach RELATED and expiry (capacity ${capacity}): ${JSON.stringify(s)}`);
    }
  });
});
