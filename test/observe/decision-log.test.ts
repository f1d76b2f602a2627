import { strict as assert } from 'node:assert';
import { DecisionLog, denyBucketKey, formatLogPrefix } from '../../src/observe/decision-log';
import { TokenBucket } from '../../src/observe/rate-limit';
import { ctMark, IFINDEX, LAYOUT, memoryLogger, rig, wanTcp, wanUdp } from './helpers';

describe('observe/decision-log', () => {
  it('a flood of 100 000 denies gives bounded records and an exact suppressed count', () => {
    const { processor, slot } = rig();
    const { logger, records } = memoryLogger();
    const log = new DecisionLog({ logger, denies: 'sampled', felix: slot.current.resources.felix, acceptMarkBit: LAYOUT.accept });
    // 100 000 denied SYNs (distinct flows) over 10 s of packet time, 0.1 ms apart.
    const t0 = 1_000_000;
    const N = 100_000;
    let reported = 0;
    for (let i = 0; i < N; i++) {
      const now = t0 + i / 10;
      const pkt = wanTcp(`192.0.2.${1 + (i % 200)}`, '10.0.1.20', 443, 'S', 1024 + (i % 60000));
      const o = processor.process('filter-forward', pkt, ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, now);
      log.packet(o, ctMark('new'), slot.current, now);
      // The daemon's 1 s timer.
      if (i % 10_000 === 9_999) reported += Object.values(log.flushSuppressed(now).deny).reduce((a, b) => a + b, 0);
    }
    reported += Object.values(log.flushSuppressed(t0 + N / 10, true).deny).reduce((a, b) => a + b, 0);
    const denied = records.filter((r) => r.event === 'packet.denied');
    const reports = records.filter((r) => r.event === 'log.suppressed');
    // Burst 20 plus 10/s for 10 s, at most.
    assert.ok(denied.length <= 20 + 10 * 10 + 1, `${denied.length} records`);
    assert.ok(denied.length >= 100, `${denied.length} records`);
    assert.equal(denied.length + reported, N, 'every deny is either logged or counted as suppressed');
    assert.equal(log.totals.denyLogged, denied.length);
    assert.equal(log.totals.denySuppressed, N - denied.length);
    assert.equal(reports.reduce((a, r) => a + (r.suppressed as number), 0), N - denied.length);
    assert.ok(reports.length >= 1 && reports.length <= 2, 'reports are themselves rate-limited (10 s)');
    assert.deepEqual(Object.keys(reports[0]!.byPolicy as object), ['default/<end of tier>']);
    // The record carries the shared field names.
    const r = denied[0]!;
    for (const k of ['flowId', 'family', 'proto', 'src', 'dst', 'sport', 'dport', 'iif', 'oif', 'stage', 'hep', 'tier', 'policy', 'rule', 'ruleId', 'action', 'generation']) assert.ok(k in r, `field ${k}`);
    assert.deepEqual([r.family, r.proto, r.dport, r.iif, r.oif, r.stage, r.hep, r.tier, r.action, r.ruleId], [4, 'tcp', 443, 'eth0', 'eth2', 'filter-forward', 'gw1-eth0', 'default', 'deny', 'builtin:end-of-tier:default']);
  });

  it('rate-limits per policy: a flood on one policy does not silence another', () => {
    const { processor, slot } = rig();
    const { logger, records } = memoryLogger();
    const log = new DecisionLog({ logger, denies: 'sampled', denyRate: { perSecond: 1, burst: 3 }, felix: slot.current.resources.felix, acceptMarkBit: LAYOUT.accept });
    const now = 5000;
    for (let i = 0; i < 50; i++) log.packet(processor.process('filter-forward', wanTcp('192.0.2.9', '10.0.1.20', 443, 'S', 2000 + i), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, now), ctMark('new'), slot.current, now);
    log.packet(processor.process('filter-forward', wanTcp('203.0.113.66', '10.0.1.20', 443), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, now), ctMark('new'), slot.current, now);
    const denied = records.filter((r) => r.event === 'packet.denied');
    assert.equal(denied.length, 4);
    assert.equal(denied[3]!.policy, 'security.block-bad');
    assert.deepEqual(log.flushSuppressed(now).deny, { 'default/<end of tier>': 47 });
  });

  it('off logs no deny; all logs every deny up to its safety cap', () => {
    const { processor, slot } = rig();
    const off = memoryLogger();
    const all = memoryLogger();
    const logOff = new DecisionLog({ logger: off.logger, denies: 'off', felix: { logPrefix: 'x', logActionRateLimitBurst: 5 }, acceptMarkBit: LAYOUT.accept });
    const logAll = new DecisionLog({ logger: all.logger, denies: 'all', felix: { logPrefix: 'x', logActionRateLimitBurst: 5 }, acceptMarkBit: LAYOUT.accept });
    for (let i = 0; i < 500; i++) {
      const o = processor.process('filter-forward', wanTcp('192.0.2.9', '10.0.1.20', 443, 'S', 3000 + i), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, 7000);
      logOff.packet(o, 0, slot.current, 7000);
      logAll.packet(o, 0, slot.current, 7000);
    }
    assert.equal(off.records.filter((r) => r.event === 'packet.denied').length, 0);
    assert.equal(all.records.filter((r) => r.event === 'packet.denied').length, 500);
  });

  it('Log rules log with the FelixConfiguration prefix and rate limit, and evaluation continues', () => {
    const { processor, slot } = rig();
    const { logger, records } = memoryLogger();
    const felix = slot.current.resources.felix;
    assert.equal(felix.logPrefix, 'nfq %k %t/%n');
    assert.equal(felix.logActionRateLimit, 5);
    assert.equal(felix.logActionRateLimitBurst, 2);
    const log = new DecisionLog({ logger, denies: 'off', felix, acceptMarkBit: LAYOUT.accept });
    for (let i = 0; i < 10; i++) {
      const o = processor.process('filter-forward', wanTcp('198.51.100.7', '10.0.1.20', 80, 'S', 4000 + i), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, 9000);
      log.packet(o, ctMark('new'), slot.current, 9000);
    }
    // A packet the Log rule does not match logs nothing.
    log.packet(processor.process('filter-forward', wanUdp('198.51.100.7', '10.0.1.53', 53), ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, 9000), ctMark('new'), slot.current, 9000);
    const logged = records.filter((r) => r.event === 'rule.log');
    assert.equal(logged.length, 2, 'burst 2, no time passed');
    assert.equal(logged[0]!.msg, 'nfq gnp default/wan-web');
    assert.deepEqual([logged[0]!.policy, logged[0]!.rule, logged[0]!.action, logged[0]!.ruleId], ['wan-web', 1, 'log', 'policy:default/wan-web/ingress/1:Log']);
    assert.equal(log.totals.logActionSuppressed, 8);
    assert.deepEqual(log.flushSuppressed(9000).logAction, { 'default/wan-web#ingress/1': 8 });
  });

  it('prefix placeholders and bucket keys', () => {
    const ref = { kind: 'policy', tier: 'security', policy: 'block', direction: 'ingress', index: 0, action: 'Deny' } as const;
    assert.equal(formatLogPrefix('calico-packet', ref), 'calico-packet');
    assert.equal(formatLogPrefix('%t:%k:%n:%p 100%%', ref), 'security:gnp:block:block 100%');
    assert.equal(formatLogPrefix('%k %n', { kind: 'profile', profile: 'edge', direction: 'egress', index: 1, action: 'Log' }), 'pro edge');
    assert.equal(denyBucketKey(ref), 'security/block');
    assert.equal(denyBucketKey({ kind: 'builtin', name: 'conntrack-invalid' }), 'builtin:conntrack-invalid');
  });

  it('TokenBucket refills with time and counts what it refuses', () => {
    const b = new TokenBucket(2, 2, 0);
    assert.deepEqual([b.take(0), b.take(0), b.take(0)], [true, true, false]);
    assert.equal(b.take(499), false);
    assert.equal(b.take(1000), true);
    assert.equal(b.drainSuppressed(), 2);
    assert.equal(b.drainSuppressed(), 0);
  });
});
