import { strict as assert } from 'node:assert';
import { buildTcp } from '../../src/packet/build';
import { parseFilter, type Filter } from '../../src/observe/filter';
import { formatFlowTable, listFlows, listKernelFlows, mergeFlowListings } from '../../src/observe/flows-view';
import { conntrackFlowKey, parseConntrackLine } from '../../src/observe/conntrack-events';
import { formatStatus, withKernelQueues } from '../../src/observe/status';
import { ctMark, echo, filterOf, IFINDEX, LAYOUT, rig, wanTcp, wanUdp } from './helpers';

function filter(text: string): Filter {
  const r = parseFilter(text);
  if (!r.ok) throw new Error(r.error.message);
  return r.filter;
}

describe('observe/flows-view', () => {
  const { processor, flows } = rig('packet');
  const t0 = 100_000;
  before(() => {
    processor.process('filter-forward', wanTcp('198.51.100.7', '10.0.1.20', 22), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, t0);
    processor.process('filter-forward', buildTcp({ src: '10.0.1.20', dst: '198.51.100.7' }, { sport: 22, dport: 40000, flags: 'SA' }), ctMark('established', true), IFINDEX.eth2, IFINDEX.eth0, t0 + 5);
    processor.process('filter-forward', wanTcp('198.51.100.9', '10.0.1.20', 80), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, t0 + 1000);
    processor.process('filter-forward', wanUdp('198.51.100.7', '10.0.1.53', 53), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, t0 + 2000);
    processor.process('filter-forward', echo('2001:db8:bad::1', 'fd00:1::20', 77), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, t0 + 3000);
  });

  it('lists flows most recently active first with state, verdict, rule and counters', () => {
    const l = listFlows(flows, filter(''), t0 + 4000);
    assert.equal(l.total, 4);
    assert.equal(l.matched, 4);
    assert.deepEqual(l.rows.map((r) => r.proto), ['icmpv6', 'udp', 'tcp', 'tcp']);
    const ssh = l.rows[3]!;
    assert.deepEqual(
      [ssh.src, ssh.sport, ssh.dst, ssh.dport, ssh.state, ssh.verdict, ssh.policy, ssh.rule, ssh.tier, ssh.hep, ssh.ageMs, ssh.idleMs],
      ['198.51.100.7', 40000, '10.0.1.20', 22, 'SYN_RECV', 'allow', 'wan-web', 0, 'default', 'gw1-eth0', 4000, 3995],
    );
    assert.deepEqual([ssh.packetsOrig, ssh.packetsReply], [1, 1]);
    assert.ok(ssh.bytesOrig > 0 && ssh.bytesReply > 0);
    const ping = l.rows[0]!;
    assert.deepEqual([ping.family, ping.src, ping.icmpId, ping.sport, ping.verdict, ping.policy, ping.rule], [6, '2001:db8:bad::1', 77, null, 'deny', 'security.block-bad', 1]);
    const text = formatFlowTable(l);
    assert.match(text.split('\n')[0]!, /^ID\s+AGE\s+IDLE\s+PROTO\s+SOURCE\s+DESTINATION\s+STATE\s+VERDICT\s+POLICY\/RULE\s+PKTS o\/r\s+BYTES o\/r$/);
    assert.match(text, /198\.51\.100\.7:40000\s+10\.0\.1\.20:22\s+SYN_RECV\s+allow\s+default\/wan-web#0\s+1\/1/);
    assert.match(text, /2001:db8:bad::1\s+fd00:1::20 id 77\s+unreplied\s+deny\s+security\/security\.block-bad#1/);
    assert.match(text, /4 of 4 flows matched\n$/);
  });

  it('filters with the trace filter language and limits the rows', () => {
    assert.deepEqual(listFlows(flows, filter('verdict deny'), t0).rows.map((r) => r.dport ?? r.icmpId), [77, 80]);
    assert.deepEqual(listFlows(flows, filter('ip6'), t0).rows.length, 1);
    assert.deepEqual(listFlows(flows, filter('dst port 53 or src host 198.51.100.9'), t0).rows.map((r) => r.dport), [53, 80]);
    assert.deepEqual(listFlows(flows, filter('policy wan-web and not port 80'), t0).rows.map((r) => r.dport), [53, 22]);
    const l = listFlows(flows, filter('net 0.0.0.0/0'), t0, 1);
    assert.deepEqual([l.rows.length, l.matched, l.truncated], [1, 3, true]);
    assert.match(formatFlowTable(l), /3 of 4 flows matched; showing the 1 most recently active/);
  });
});

/** `conntrack -L -o extended,id` lines (conntrack-tools 1.4.7): a flow nfqwall allowed (DECIDED in the ct mark) and a DNAT'd one. */
const LISTED = [
  'ipv4     2 tcp      6 431999 ESTABLISHED src=198.51.100.7 dst=10.0.1.20 sport=40000 dport=22 packets=3 bytes=3164 src=10.0.1.20 dst=198.51.100.7 sport=22 dport=40000 packets=2 bytes=112 [ASSURED] mark=1310720 use=1 id=3345309104',
  'ipv4     2 tcp      6 115 TIME_WAIT src=198.51.100.7 dst=203.0.113.1 sport=43900 dport=9999 packets=5 bytes=5268 src=10.0.1.20 dst=198.51.100.7 sport=8080 dport=43900 packets=3 bytes=164 [ASSURED] mark=1310720 use=1 id=1003623867',
  'conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.',
];

describe('observe/flows-view: kernel flows (flow mode)', () => {
  // A stand-in for conntrack: prints the captured listing, whatever the arguments.
  const fake = { command: process.execPath, prefixArgs: ['-e', `process.stdout.write(${JSON.stringify(`${LISTED.join('\n')}\n`)})`, '--'] };

  it('lists the kernel\'s flows with its state, timeout and counters, annotated by the flow log', async () => {
    const known = { fields: { flowId: 17, family: 4 as const, proto: 'tcp', src: '198.51.100.7', dst: '10.0.1.20', sport: 40000, dport: 22, iif: 'eth0', oif: 'eth2', stage: 'filter-forward' as const, hep: 'gw1-eth0', tier: 'default', policy: 'wan-web', rule: 0, ruleId: 'policy:default/wan-web/ingress/0:Allow', action: 'allow', generation: 1 }, rule: { kind: 'policy' as const, tier: 'default', policy: 'wan-web', direction: 'ingress' as const, index: 0, action: 'Allow' as const }, start: 1000 };
    const parsed = parseConntrackLine(LISTED[0]!);
    assert.ok(parsed.ok);
    const sshKey = conntrackFlowKey(parsed.event);
    const l = await listKernelFlows({ ...fake, filter: filterOf(''), now: 61_000, limit: 10, annotate: (k) => (k === sshKey ? known : undefined), dropBit: LAYOUT.drop });
    assert.equal(l.total, 2);
    assert.deepEqual(
      l.rows.map((r) => [r.source, r.flowId, r.ctId, r.src, r.sport, r.dst, r.dport, r.state, r.verdict, r.policy, r.ageMs, r.expiresInMs, r.bytesOrig, r.bytesReply]),
      [
        ['kernel', 17, 3345309104, '198.51.100.7', 40000, '10.0.1.20', 22, 'ESTABLISHED', 'allow', 'wan-web', 60_000, 431_999_000, 3164, 112],
        ['kernel', null, 1003623867, '198.51.100.7', 43900, '10.0.1.20', 8080, 'TIME_WAIT', 'allow', null, null, 115_000, 5268, 164],
      ],
    );
    const byPolicy = await listKernelFlows({ ...fake, filter: filterOf('policy wan-web'), now: 61_000, limit: 10, annotate: (k) => (k === sshKey ? known : undefined) });
    assert.deepEqual(byPolicy.rows.map((r) => r.dport), [22]);
    assert.match(formatFlowTable(l), /^ct:1003623867\s+-\s+-\s+tcp\s+198\.51\.100\.7:43900\s+10\.0\.1\.20:8080\s+TIME_WAIT\s+allow\s+-\s+5\/3/m);
  });

  it('merges nfqwall\'s rows with the kernel\'s, each flow once', async () => {
    const { processor, flows } = rig('packet');
    processor.process('filter-forward', wanTcp('198.51.100.7', '10.0.1.20', 22), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, 1000);
    processor.process('filter-forward', wanTcp('198.51.100.9', '10.0.1.20', 80), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, 1000);
    const own = listFlows(flows, filterOf(''), 2000);
    const kernel = await listKernelFlows({ ...fake, filter: filterOf(''), now: 2000, limit: 10 });
    const m = mergeFlowListings(own, kernel, 10);
    // The SSH flow is in both: nfqwall's id and rule, the kernel's state and counters.
    assert.deepEqual(
      m.rows.map((r) => [r.source, r.dport, r.state, r.policy, r.bytesOrig]),
      [['nfqwall', 80, 'SYN_SENT', 'wan-web', 40], ['kernel', 22, 'ESTABLISHED', 'wan-web', 3164], ['kernel', 8080, 'TIME_WAIT', null, 5268]],
    );
    assert.equal(m.rows[1]!.flowId, own.rows[1]!.flowId);
    assert.equal(m.matched, 3);
    assert.equal(mergeFlowListings(own, kernel, 2).truncated, true);
    assert.equal(m.total, 4);
    await assert.rejects(listKernelFlows({ command: process.execPath, prefixArgs: ['-e', 'process.stderr.write("conntrack v1.4.7 (conntrack-tools): Operation not permitted\\n"); process.exit(1)', '--'], filter: filterOf(''), now: 0, limit: 1 }), /conntrack -L failed \(1\): Operation not permitted/);
  });
});

describe('observe/status', () => {
  const status = {
    generation: 4,
    lastReload: {
      ok: false,
      generation: 4,
      at: '2026-01-02T03:04:05.000Z',
      durationMs: 12,
      issues: [
        { code: 'NFQ_CFG_UNKNOWN_FIELD', message: "unknown field 'protocl'", location: { file: '/etc/nfqwall/policy/a.yaml', line: 7, path: 'spec.ingress[0].protocl' }, severity: 'error' },
        { code: 'NFQ_CFG_NO_EFFECT', message: 'field has no effect', location: { file: '/etc/nfqwall/policy/b.yaml', line: 3 }, severity: 'warning' },
      ],
    },
    backend: 'nft',
    mode: 'flow',
    failMode: 'open',
    counts: { tiers: 2, policies: 3, rules: 9, heps: 1 },
    counters: { packets: 100, accepted: 90, dropped: 10, repeated: 5, parseErrors: 0, rejudged: 2, handlerErrors: 0, reloadsOk: 3, reloadsFailed: 1, hostRefreshes: 0 },
    flows: { size: 12, capacity: 262144, evictions: 0, created: 20, evicted: 0, expired: 8, closed: 0 },
    queues: [
      { hook: 'filter-input', queueNumber: 4102, packets: 60, verdicts: { accept: 50, drop: 10, repeat: 0 }, pending: 0 },
      { hook: 'filter-forward', queueNumber: 4103, packets: 40, verdicts: { accept: 40, drop: 0, repeat: 0 }, pending: 1 },
    ],
  };

  it('adds the kernel counters of the daemon\'s queues and prints everything', async () => {
    const s = await withKernelQueues(status, async () => [
      { queueNumber: 4102, portId: 1, queueTotal: 0, copyMode: 2, copyRange: 65535, queueDropped: 3, userDropped: 1, idSequence: 60 },
      { queueNumber: 9, portId: 2, queueTotal: 0, copyMode: 2, copyRange: 65535, queueDropped: 0, userDropped: 0, idSequence: 1 },
    ]);
    assert.deepEqual((s.kernelQueues as Array<{ queueNumber: number; hook: string }>).map((k) => [k.queueNumber, k.hook]), [[4102, 'filter-input']], 'only the daemon\'s queues');
    const text = formatStatus(s);
    assert.match(text, /^nfqwall: policy generation 4, backend nft, mode flow, fail mode open$/m);
    assert.match(text, /^last reload: FAILED \(the previous policy stays in force\) at 2026-01-02T03:04:05\.000Z in 12 ms, generation 4; 1 errors, 1 warnings$/m);
    assert.match(text, /^  \/etc\/nfqwall\/policy\/a\.yaml:7: spec\.ingress\[0\]\.protocl: error: unknown field 'protocl' \[NFQ_CFG_UNKNOWN_FIELD\]$/m);
    assert.match(text, /^policy: 1 HostEndpoints, 2 tiers, 3 policies, 9 rules$/m);
    assert.match(text, /^flows: 12 of 262144; created 20, evicted 0, expired 8, closed 0$/m);
    assert.match(text, /^  4102\s+filter-input\s+60\s+50\s+10\s+0\s+0\s+0\s+3\s+1$/m);
    assert.match(text, /^  4103\s+filter-forward\s+40\s+40\s+0\s+0\s+1\s+unbound\s+-\s+-$/m);
  });

  it('reports a /proc read failure instead of failing', async () => {
    const s = await withKernelQueues(status, async () => {
      throw new Error('EACCES');
    });
    assert.equal(s.kernelQueues, null);
    assert.match(formatStatus(s), /kernel queue counters unavailable: EACCES/);
  });
});
