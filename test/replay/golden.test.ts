import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { compilePolicy } from '../../src/engine';
import { CaptureReader } from '../../src/pcap';
import { ReplayEngine, flowStateText, type FlowRecord } from '../../src/replay';
import { loadHostFile, loadPolicyDir } from '../../tools/inputs';
import { buildEthernet, buildTcp, buildUdp, fragmentPacket } from '../../src/packet';
import { FIXTURES, HOST_FILE, POLICY_DIR, goldenPackets, tempDir, writeGoldenPcap, type GoldenPacket } from './helpers';

interface Seen {
  verdict: string;
  ct: string | null;
  path: string;
  iif: string | null;
  oif: string | null;
  status: string;
  rule: string;
  flow: number | null;
}

async function replayGolden(packets: GoldenPacket[], explain = false, policyDir = POLICY_DIR): Promise<{ seen: Seen[]; flows: FlowRecord[]; engine: ReplayEngine }> {
  const resources = await loadPolicyDir(policyDir);
  const host = loadHostFile(HOST_FILE);
  assert.ok(resources && host, 'fixtures load');
  const tmp = tempDir();
  try {
    const file = join(tmp.dir, 'golden.pcap');
    writeGoldenPcap(file, packets);
    const engine = new ReplayEngine(compilePolicy(resources, host), host, { explain });
    const seen: Seen[] = [];
    const reader = CaptureReader.openFile(file);
    for (const rec of reader) {
      const r = engine.process(rec);
      seen.push({
        verdict: r.verdict,
        ct: r.ctState,
        path: r.direction.path,
        iif: r.direction.iif,
        oif: r.direction.oif,
        status: r.status,
        rule: r.decidedBy ? JSON.stringify(r.decidedBy.rule) : '',
        flow: r.flow?.id ?? null,
      });
    }
    assert.equal(reader.status.state, 'end');
    return { seen, flows: engine.finish(), engine };
  } finally {
    tmp.remove();
  }
}

describe('replay: golden capture under the seed policy', () => {
  const packets = goldenPackets();
  let result: Awaited<ReturnType<typeof replayGolden>>;
  before(async () => {
    result = await replayGolden(packets);
  });

  it('gives every packet its expected verdict, conntrack state and interfaces', () => {
    assert.equal(result.seen.length, packets.length);
    packets.forEach((p, i) => {
      const s = result.seen[i]!;
      const what = `packet #${i} (${p.note})`;
      assert.equal(s.verdict, p.expect, `${what}: verdict`);
      if (p.ct !== undefined) assert.equal(s.ct, p.ct, `${what}: ctState`);
      if (p.path !== undefined) {
        assert.equal(s.path, p.path, `${what}: path`);
        assert.equal(s.iif, p.iif, `${what}: iif`);
        assert.equal(s.oif, p.oif, `${what}: oif`);
      }
    });
  });

  it('passes replies of allowed flows through conntrack, not through policy', () => {
    let checked = 0;
    packets.forEach((p, i) => {
      if (p.ct !== 'reply' && p.ct !== 'established' && p.ct !== 'related') return;
      // Only a HEP-governed interface has a Calico chain; elsewhere the unmanaged verdict decides.
      if (p.iif !== 'eth1' && p.oif !== 'eth1') {
        assert.match(result.seen[i]!.rule, /unmanaged-interface/, `packet #${i} (${p.note})`);
        return;
      }
      checked++;
      assert.match(result.seen[i]!.rule, /conntrack-established/, `packet #${i} (${p.note})`);
    });
    assert.equal(checked, 12, `${checked} replies checked`);
  });

  it('judges a denied SYN and its retransmit as new, both denied by the end of the tier, on one flow row', () => {
    const syn = result.seen[8]!;
    const again = result.seen[9]!;
    assert.equal(syn.rule, again.rule);
    assert.match(syn.rule, /end-of-tier/);
    assert.equal(syn.flow, again.flow);
    const row = result.flows.find((f) => f.id === syn.flow)!;
    assert.equal(row.verdict, 'deny');
    assert.equal(row.attempts, 2);
    assert.equal(row.packetsOriginal, 2);
    assert.equal(flowStateText(row), 'unconfirmed');
  });

  it('expires idle flows on the capture clock: a packet after the UDP timeout is a new flow', () => {
    const reply = result.seen[11]!;
    const late = result.seen[12]!;
    assert.notEqual(reply.flow, late.flow);
    const first = result.flows.find((f) => f.id === reply.flow)!;
    assert.equal(first.verdict, 'allow');
    assert.equal(first.packetsOriginal, 1);
    assert.equal(first.packetsReply, 1);
    assert.equal(flowStateText(first), 'REPLIED, expired');
    const second = result.flows.find((f) => f.id === late.flow)!;
    assert.equal(second.verdict, 'deny');
    assert.equal(second.src.words[0], 0x0a00010a);
  });

  it('counts the allowed SSH flow both ways with its deciding HEP, tier, policy and rule', () => {
    const row = result.flows[0]!;
    assert.equal(row.verdict, 'allow');
    assert.equal(row.path, 'forward');
    assert.equal(row.iif, 'eth2');
    assert.equal(row.oif, 'eth1');
    assert.equal(row.decidedBy.endpoint, 'gw1.eth1');
    assert.deepEqual(row.decidedBy.rule, { kind: 'policy', tier: 'default', policy: 'allow-ssh-maintenance', direction: 'egress', index: 0, action: 'Allow' });
    assert.equal(row.packetsOriginal, 5);
    assert.equal(row.packetsReply, 3);
    assert.ok(row.bytesOriginal > 5 * 40 && row.bytesReply > 3 * 40);
    assert.equal(flowStateText(row), 'TIME_WAIT');
  });

  it('puts a related ICMP error on the flow it is about', () => {
    const udp = result.seen[18]!;
    const icmp = result.seen[19]!;
    assert.equal(icmp.flow, udp.flow);
    const row = result.flows.find((f) => f.id === udp.flow)!;
    assert.equal(row.related, 1);
    assert.equal(row.packetsReply, 1);
  });

  it('gives snaplen-cut and malformed packets parse-error verdicts with the status name', () => {
    assert.equal(result.seen[34]!.status, 'TRUNCATED');
    assert.equal(result.seen[35]!.status, 'BAD_HEADER_LENGTH');
    const stats = result.engine.stats;
    assert.equal(stats.parseErrors, 2);
    assert.equal(stats.notIp, 1);
    assert.equal(stats.packets, packets.length);
    assert.equal(stats.allowed + stats.denied + stats.parseErrors + stats.notIp + stats.noRoute, packets.length);
  });

  it('reaches the same verdicts when every packet is explained', async () => {
    const explained = await replayGolden(packets, true);
    assert.deepEqual(
      explained.seen.map((s) => [s.verdict, s.ct, s.rule]),
      result.seen.map((s) => [s.verdict, s.ct, s.rule]),
    );
  });
});

describe('replay: doNotTrack policy', () => {
  it('leaves no conntrack entry for an untracked packet; the untracked answer is judged as new by normal policy', async () => {
    const syslog = (sport: number): Buffer => buildEthernet(buildUdp({ src: '192.168.0.10', dst: '192.168.0.45' }, { sport, dport: 514, payload: Buffer.from('log') }));
    const answer = buildEthernet(buildUdp({ src: '192.168.0.45', dst: '192.168.0.10' }, { sport: 514, dport: 6000, payload: Buffer.from('ack') }));
    const packets: GoldenPacket[] = [
      { at: 0, frame: syslog(6000), expect: 'allow', ct: 'new', note: 'untracked Allow' },
      { at: 10, frame: syslog(6000), expect: 'allow', ct: 'new', note: 'no entry was made: new again' },
      { at: 20, frame: answer, expect: 'deny', ct: 'new', note: 'the answer is a new flow, denied by the AoF egress policy' },
    ];
    const { seen, flows } = await replayGolden(packets, false, join(FIXTURES, 'policy-untracked'));
    assert.deepEqual(
      seen.map((s) => [s.verdict, s.ct, s.path]),
      packets.map((p) => [p.expect, p.ct, p === packets[2] ? 'local-out' : 'local-in']),
    );
    assert.match(seen[0]!.rule, /untrack-syslog/);
    // Untracked packets of one tuple share a row; the answer, sent the other way, has its own.
    assert.equal(seen[0]!.flow, seen[1]!.flow);
    assert.notEqual(seen[2]!.flow, seen[0]!.flow);
    assert.deepEqual(
      flows.map((f) => [f.verdict, flowStateText(f), f.packetsOriginal, f.attempts]),
      [
        ['allow', 'untracked', 2, 2],
        ['deny', 'unconfirmed', 1, 1],
      ],
    );
  });
});

describe('replay: IP fragments', () => {
  it('gives later fragments the fate of their datagram\'s first fragment, as reassembly before the firewall does', async () => {
    const ssh = buildTcp({ src: '10.0.1.10', dst: '192.168.0.10' }, { sport: 40000, dport: 22, flags: 'S', payload: Buffer.alloc(1000, 0x61) });
    const syslog = buildUdp({ src: '10.0.1.10', dst: '192.168.0.10' }, { sport: 6000, dport: 514, payload: Buffer.alloc(1000, 0x62) });
    const ssh6 = buildTcp({ src: 'fd00:1::10', dst: 'fd00:168::10' }, { sport: 41000, dport: 22, flags: 'S', payload: Buffer.alloc(1000, 0x63) });
    const a = fragmentPacket(ssh, 400, 1);
    const b = fragmentPacket(syslog, 400, 2);
    const c = fragmentPacket(ssh6, 400, 3);
    const orphan = fragmentPacket(buildUdp({ src: '10.0.1.10', dst: '198.51.100.7' }, { sport: 6001, dport: 53, payload: Buffer.alloc(1000) }), 400, 4)[1]!;
    assert.equal(a.length, 3);
    const frames = [...a, ...b, ...c, orphan];
    const packets: GoldenPacket[] = frames.map((frame, i) => ({ at: i, frame: buildEthernet(frame), expect: 'allow', note: `fragment ${i}` }));
    const { seen, flows } = await replayGolden(packets);
    assert.deepEqual(
      seen.map((s) => [s.verdict, s.ct, s.flow]),
      [
        ['allow', 'new', 1],
        ['allow', 'new', 1],
        ['allow', 'new', 1],
        ['deny', 'new', 2],
        ['deny', 'new', 2],
        ['deny', 'new', 2],
        ['allow', 'new', 3],
        ['allow', 'new', 3],
        ['allow', 'new', 3],
        // A later fragment whose first fragment was never seen is judged alone: no ports, untracked.
        ['allow', 'untracked', 4],
      ],
    );
    assert.deepEqual(flows.map((f) => [f.verdict, f.packetsOriginal]), [['allow', 3], ['deny', 3], ['allow', 3], ['allow', 1]]);
    assert.equal(flows[0]!.bytesOriginal, 20 + 20 + 1000 + 2 * 20);
  });
});
