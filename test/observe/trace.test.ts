import { strict as assert } from 'node:assert';
import { compilePolicy } from '../../src/engine/compiled-policy';
import { ruleKey } from '../../src/engine/decision';
import { parseFilter, type Filter } from '../../src/observe/filter';
import { buildTraceEvent, formatJudgementWithRules, formatTraceEvent, traceSteps, type StepTrace, type TraceEvent } from '../../src/observe/trace';
import { TraceHub, type TraceSink } from '../../src/observe/trace-hub';
import { NF_DROP } from '../../src/queue/verdict-codes';
import { packet } from '../engine/reference/helpers';
import { FUZZ_HOST, randomPacket, randomResources } from '../helpers/policy-fuzz';
import { Rng } from '../helpers/random';
import { ctMark, IFINDEX, LAYOUT, policy, rig, wanTcp, wanUdp } from './helpers';

const fwd = (src: string, dst: string, proto: 'TCP' | 'UDP', dport: number, ctState: 'new' | 'established' = 'new') =>
  packet({ path: 'forward', iif: 'eth0', oif: 'eth2', proto, src, dst, sport: 40000, dport, ctState });

function only<T>(list: readonly T[], pred: (x: T) => boolean, what: string): T {
  const found = list.filter(pred);
  assert.equal(found.length, 1, `expected one ${what}`);
  return found[0]!;
}

function filter(text: string): Filter {
  const r = parseFilter(text);
  if (!r.ok) throw new Error(r.error.message);
  return r.filter;
}

describe('observe/trace', () => {
  const p = policy();

  it('explains a denied connection to port 80: every tier, policy and rule, and the deciding rule', () => {
    const facts = fwd('198.51.100.7', '10.0.1.20', 'TCP', 80);
    const j = p.judge(facts);
    assert.equal(j.verdict, 'deny');
    const traces = traceSteps(p, facts, j.steps);
    const step = only(traces, (s) => s.chain === 'forward-ingress', 'forward-ingress step');
    assert.equal(step.endpoint, 'gw1-eth0');
    assert.equal(step.ruleId, 'policy:default/wan-web/ingress/2:Deny');
    assert.equal(step.consistent, true);
    assert.deepEqual(step.tiers.map((t) => [t.tier, t.outcome]), [['security', 'pass'], ['default', 'decided']]);
    const sec = step.tiers[0]!.policies[0]!;
    assert.equal(sec.policy, 'security.block-bad');
    assert.deepEqual(sec.rules.map((r) => [r.index, r.action, r.outcome]), [[0, 'Deny', 'no-match'], [1, 'Deny', 'no-match'], [2, 'Pass', 'pass']]);
    assert.match(sec.rules[0]!.why, /source\.nets: source 198\.51\.100\.7 is in none of 203\.0\.113\.66\/32/);
    assert.match(sec.rules[1]!.why, /source\.nets lists no IPv4 CIDR/);
    const web = step.tiers[1]!.policies[0]!;
    assert.equal(web.policy, 'wan-web');
    assert.deepEqual(web.rules.map((r) => [r.index, r.action, r.outcome]), [[0, 'Allow', 'no-match'], [1, 'Log', 'log'], [2, 'Deny', 'deny']]);
    assert.equal(web.rules[0]!.why, 'destination.ports: destination port 80; the rule wants 22', 'only the failed criterion; the source net matched');
    assert.deepEqual(j.logs.map(ruleKey), ['policy:default/wan-web/ingress/1:Log']);
    const text = formatJudgementWithRules(j, traces);
    assert.match(text, /tier security \(default Deny\) -> passed to the next tier/);
    assert.match(text, /rule 0 Allow no match: destination\.ports: destination port 80; the rule wants 22/);
    assert.match(text, /rule 2 Deny  matched: deny/);
    assert.match(text, /verdict: deny; decided by tier default \/ policy wan-web \/ ingress rule 2 \(Deny\) on gw1-eth0/);
  });

  it('explains an end-of-tier deny with every rule failing, and the IPv6 deny of the security tier', () => {
    const facts = fwd('192.0.2.5', '10.0.1.20', 'TCP', 22);
    const j = p.judge(facts);
    const step = only(traceSteps(p, facts, j.steps), (s) => s.chain === 'forward-ingress', 'step');
    assert.equal(step.ruleId, 'builtin:end-of-tier:default');
    assert.equal(step.consistent, true);
    const web = step.tiers[1]!.policies[0]!;
    assert.equal(web.outcome, 'no-match');
    assert.deepEqual(web.rules.map((r) => r.outcome), ['no-match', 'no-match', 'no-match', 'no-match', 'no-match']);
    assert.match(web.rules[0]!.why, /source\.nets: source 192\.0\.2\.5 is in none of 198\.51\.100\.0\/24/);
    assert.match(web.rules[3]!.why, /ICMPv6 \(by name\) makes the rule IPv6-only/);
    assert.match(web.rules[4]!.why, /protocol: packet protocol tcp \(6\); the rule wants udp \(17\); destination\.selector: destination 10\.0\.1\.20 is not an address/);
    assert.equal(step.tiers[1]!.outcome, 'end-of-tier');
    assert.match(step.note ?? '', /default action Deny applies/);

    const v6 = packet({ path: 'forward', iif: 'eth0', oif: 'eth2', proto: 'TCP', src: '2001:db8:bad::1', dst: 'fd00:1::20', sport: 40000, dport: 443 });
    const j6 = p.judge(v6);
    const s6 = only(traceSteps(p, v6, j6.steps), (s) => s.chain === 'forward-ingress', 'step');
    assert.equal(s6.ruleId, 'policy:security/security.block-bad/ingress/1:Deny');
    assert.deepEqual(s6.tiers.map((t) => t.tier), ['security'], 'later tiers are not reached');
    assert.deepEqual(s6.tiers[0]!.policies[0]!.rules.map((r) => r.outcome), ['no-match', 'deny']);
  });

  it('explains an allow by selector and the built-in outcomes of the other steps', () => {
    const facts = fwd('198.51.100.7', '10.0.1.53', 'UDP', 53);
    const j = p.judge(facts);
    assert.equal(j.verdict, 'allow');
    const traces = traceSteps(p, facts, j.steps);
    const ing = only(traces, (s) => s.chain === 'forward-ingress', 'ingress');
    assert.equal(ing.ruleId, 'policy:default/wan-web/ingress/4:Allow');
    const r4 = ing.tiers[1]!.policies[0]!.rules[4]!;
    assert.equal(r4.matched, true);
    assert.ok(r4.checks.some((c) => c.criterion === 'destination.selector' && /belongs to GlobalNetworkSet resolvers/.test(c.detail)));
    assert.deepEqual(traces.map((s) => s.chain), ['forward-ingress'], 'eth2 has no HEP');
    // LAN to WAN: the WAN HEP's egress leg has no applyOnForward policy.
    const out = packet({ path: 'forward', iif: 'eth2', oif: 'eth0', proto: 'TCP', src: '10.0.1.20', dst: '192.0.2.9', sport: 40000, dport: 443 });
    const egr = only(traceSteps(p, out, p.judge(out).steps), (s) => s.chain === 'forward-egress', 'egress');
    assert.equal(egr.endpoint, 'gw1-eth0');
    assert.equal(egr.ruleId, 'builtin:forward-default-allow');
    assert.equal(egr.tiers.length, 0);
    assert.match(egr.note ?? '', /no applyOnForward policy selects this HEP/);

    const est = fwd('198.51.100.7', '10.0.1.20', 'TCP', 80, 'established');
    const e = traceSteps(p, est, p.judge(est).steps);
    assert.equal(e[0]!.ruleId, 'builtin:conntrack-established');
    assert.equal(e[0]!.tiers.length, 0);
    assert.match(e[0]!.note ?? '', /established or related connection/);
  });

  it('the rule-level walk reaches the engine\'s rule on random policies and packets', () => {
    let steps = 0;
    let walked = 0;
    for (let seed = 1; seed <= 120; seed++) {
      const rng = new Rng(seed);
      const compiled = compilePolicy(randomResources(rng), FUZZ_HOST);
      for (let i = 0; i < 20; i++) {
        const facts = randomPacket(rng);
        const j = compiled.judge(facts);
        const traces: StepTrace[] = traceSteps(compiled, facts, j.steps);
        for (const t of traces) {
          steps++;
          if (t.tiers.length > 0 || t.profiles.length > 0) walked++;
          assert.equal(t.consistent, true, `seed ${seed} packet ${i}: ${t.hook} ${t.chain} ${t.endpoint}: engine ${t.ruleId}`);
        }
      }
    }
    assert.ok(walked > 300, `steps ${steps}, walked ${walked}`);
  });

  it('builds a live trace event from the packet processor outcome', () => {
    const { processor, slot } = rig();
    const o = processor.process('filter-forward', wanTcp('198.51.100.7', '10.0.1.20', 80), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, 5000);
    assert.equal(o.verdict, NF_DROP);
    const e = buildTraceEvent(o, slot.current, false, Date.UTC(2026, 0, 2, 3, 4, 5));
    assert.equal(e.at, '2026-01-02T03:04:05.000Z');
    assert.equal(e.consistent, true);
    assert.deepEqual(
      { action: e.decision.action, tier: e.decision.tier, policy: e.decision.policy, rule: e.decision.rule, hep: e.decision.hep, stage: e.decision.stage, src: e.decision.src, dport: e.decision.dport, generation: e.decision.generation },
      { action: 'deny', tier: 'default', policy: 'wan-web', rule: 2, hep: 'gw1-eth0', stage: 'filter-forward', src: '198.51.100.7', dport: 80, generation: 1 },
    );
    assert.equal(typeof e.decision.flowId, 'number');
    assert.deepEqual(e.logs, ['policy:default/wan-web/ingress/1:Log']);
    const text = formatTraceEvent(e);
    assert.match(text, /^2026-01-02T03:04:05\.000Z DENY tcp 198\.51\.100\.7:40000 -> 10\.0\.1\.20:80 iif eth0 oif eth2 ct new at filter-forward/);
    assert.match(text, /=> deny \(drop\) by tier default \/ policy wan-web rule 2 on gw1-eth0/);
    // The retransmitted SYN is answered from the flow table; the trace still explains it.
    const again = processor.process('filter-forward', wanTcp('198.51.100.7', '10.0.1.20', 80), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, 6000);
    assert.equal(again.cached, true);
    const e2 = buildTraceEvent(again, slot.current, false, 6000);
    assert.equal(e2.cached, true);
    assert.equal(e2.decision.ruleId, 'policy:default/wan-web/ingress/2:Deny');
    assert.equal(e2.decision.flowId, e.decision.flowId);
    assert.equal(e2.consistent, true);
  });
});

class FakeSink implements TraceSink {
  events: TraceEvent[] = [];
  droppedCount = 0;
  isReady = true;
  ready(): boolean {
    return this.isReady;
  }
  push(e: TraceEvent): boolean {
    this.events.push(e);
    return true;
  }
  dropped(n: number): void {
    this.droppedCount += n;
  }
}

describe('observe/trace-hub', () => {
  it('is inactive without subscribers and delivers only what each filter matches', () => {
    const { processor, slot } = rig();
    let now = 0;
    const hub = new TraceHub({ acceptMarkBit: LAYOUT.accept, now: () => now });
    assert.equal(hub.active, false);
    const denies = new FakeSink();
    const dns = new FakeSink();
    const offDenies = hub.subscribe(filter('verdict deny'), denies);
    hub.subscribe(filter('udp and dst port 53 and host 10.0.1.53'), dns);
    assert.equal(hub.active, true);
    const send = (pkt: Buffer) => {
      now += 10;
      hub.offer(processor.process('filter-forward', pkt, ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, now), ctMark('new'), slot.current);
    };
    send(wanTcp('198.51.100.7', '10.0.1.20', 80));
    send(wanUdp('198.51.100.7', '10.0.1.53', 53));
    send(wanTcp('198.51.100.7', '10.0.1.20', 22));
    assert.deepEqual(denies.events.map((e) => e.decision.dport), [80]);
    assert.deepEqual(dns.events.map((e) => e.decision.ruleId), ['policy:default/wan-web/ingress/4:Allow']);
    offDenies();
    send(wanTcp('198.51.100.8', '10.0.1.20', 80));
    assert.equal(denies.events.length, 1);
    assert.equal(hub.stats.built, 2);
  });

  it('builds nothing for a backed-up sink and rate-limits explanations, counting every drop', () => {
    const { processor, slot } = rig();
    let now = 1000;
    const hub = new TraceHub({ acceptMarkBit: LAYOUT.accept, maxEventsPerSecond: 5, now: () => now });
    const slow = new FakeSink();
    const fast = new FakeSink();
    hub.subscribe(filter(''), slow);
    hub.subscribe(filter(''), fast);
    slow.isReady = false;
    for (let i = 0; i < 50; i++) hub.offer(processor.process('filter-forward', wanTcp('198.51.100.7', '10.0.1.20', 80, 'S', 10000 + i), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, now), ctMark('new'), slot.current);
    assert.equal(slow.events.length, 0);
    assert.equal(slow.droppedCount, 50);
    assert.equal(fast.events.length, 5, 'the burst of the rate limit');
    assert.equal(fast.droppedCount, 45);
    assert.equal(hub.stats.built, 5);
    now += 1000;
    hub.offer(processor.process('filter-forward', wanTcp('198.51.100.7', '10.0.1.20', 80, 'S', 20000), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, now), ctMark('new'), slot.current);
    assert.equal(fast.events.length, 6);
  });
});
