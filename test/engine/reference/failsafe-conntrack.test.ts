import { strict as assert } from 'node:assert';
import { DEFAULT_ALLOW_PROFILE } from '../../../src/config/resources';
import { matchFailsafe } from '../../../src/engine/reference/failsafe';
import { filterView } from '../../../src/engine/reference/packet-view';
import { decidedBy, defaultFelix, gnp, hostOut, judge, packet, rule, trace, wanIn, wanToLan, LAN, WAN } from './helpers';

const wan = "network == 'wan'";

describe('reference evaluator: failsafes (§5.8) and conntrack (§5.9)', () => {
  it('inbound failsafe = protocol + destination port, before every policy in the normal chain', () => {
    const j = judge({ hostEndpoints: [WAN()], policies: [gnp('deny-all', { selector: wan, ingress: [rule('Deny')] })] }, wanIn(22));
    assert.equal(j.verdict, 'allow');
    assert.equal(decidedBy(j), 'builtin:failsafe-inbound:tcp:22');
  });

  it('inbound and outbound lists are asymmetric (§5.8)', () => {
    assert.equal(judge({ hostEndpoints: [WAN()] }, wanIn(53, { proto: 'UDP' })).verdict, 'deny', 'udp:53 is outbound only');
    assert.equal(judge({ hostEndpoints: [WAN()] }, hostOut(22)).verdict, 'deny', 'tcp:22 is inbound only');
    const dns = judge({ hostEndpoints: [WAN()] }, hostOut(53, { proto: 'UDP' }));
    assert.equal(decidedBy(dns), 'builtin:failsafe-outbound:udp:53');
  });

  it('an inbound entry with a net restricts the source, an outbound one the destination (§5.8)', () => {
    const felix = { failsafeInboundHostPorts: [{ protocol: 'tcp' as const, port: 22, net: '10.0.0.0/8' }], failsafeOutboundHostPorts: [{ protocol: 'tcp' as const, port: 443, net: '192.0.2.0/24' }] };
    assert.equal(judge({ hostEndpoints: [WAN()], felix }, wanIn(22)).verdict, 'deny');
    assert.equal(judge({ hostEndpoints: [WAN()], felix }, wanIn(22, { src: '10.9.9.9' })).verdict, 'allow');
    assert.equal(judge({ hostEndpoints: [WAN()], felix }, hostOut(443)).verdict, 'allow');
    assert.equal(judge({ hostEndpoints: [WAN()], felix }, hostOut(443, { dst: '198.51.100.1' })).verdict, 'deny');
  });

  it('an entry with a net exists only for its family; one without applies to both (§5.8)', () => {
    const felix = { failsafeInboundHostPorts: [{ protocol: 'tcp' as const, port: 22, net: '10.0.0.0/8' }, { protocol: 'tcp' as const, port: 2222 }] };
    const v6 = (dport: number) => wanIn(dport, { src: '2001:db8:200::7', dst: '2001:db8:100::1' });
    assert.equal(judge({ hostEndpoints: [WAN()], felix }, v6(22)).verdict, 'deny');
    assert.equal(judge({ hostEndpoints: [WAN()], felix }, v6(2222)).verdict, 'allow');
  });

  it('an empty list disables inbound failsafes (§5.8, FS-03)', () => {
    assert.equal(judge({ hostEndpoints: [WAN()], felix: { failsafeInboundHostPorts: [] } }, wanIn(22)).verdict, 'deny');
  });

  it('no failsafe on forward chains (§5.8, AOF-13)', () => {
    const j = judge({ hostEndpoints: [WAN(), LAN()], policies: [gnp('fwd', { selector: wan, ingress: [rule('Deny')], applyOnForward: true })] }, wanToLan(22));
    assert.equal(decidedBy(j), 'policy:default/fwd/ingress/0:Deny');
  });

  it('untracked chains add reverse (source-port) variants (§5.7, §5.8)', () => {
    const felix = defaultFelix();
    // Reply of the host's DNS query (outbound udp:53) arriving on the WAN.
    const reply = filterView(packet(wanIn(40000, { proto: 'UDP', sport: 53 })));
    assert.deepEqual(matchFailsafe('untracked-ingress', felix, reply), { name: 'failsafe-outbound', detail: 'reverse udp:53' });
    assert.equal(matchFailsafe('normal-ingress', felix, reply), null);
    assert.equal(matchFailsafe('prednat-ingress', felix, reply), null);
    // Reply of an inbound SSH session leaving the host.
    const sshReply = filterView(packet(hostOut(40000, { sport: 22 })));
    assert.deepEqual(matchFailsafe('untracked-egress', felix, sshReply), { name: 'failsafe-inbound', detail: 'reverse tcp:22' });
    assert.equal(matchFailsafe('normal-egress', felix, sshReply), null);
  });

  it('an untracked Deny cannot block a failsafe port (§5.7, §5.8)', () => {
    const j = judge(
      { hostEndpoints: [WAN()], policies: [gnp('dnt-deny', { selector: wan, ingress: [rule('Deny')], doNotTrack: true, applyOnForward: true })] },
      wanIn(22),
    );
    assert.equal(j.verdict, 'allow');
    assert.deepEqual(trace(j), [
      'raw-prerouting/untracked-ingress/gw1-eth0:continue:builtin:failsafe-inbound:tcp:22',
      'filter-input/normal-ingress/gw1-eth0:allow:builtin:failsafe-inbound:tcp:22',
    ]);
  });

  it('ESTABLISHED/RELATED/reply are accepted before policy in tracked chains (§5.9)', () => {
    const res = { hostEndpoints: [WAN()], policies: [gnp('deny', { selector: wan, ingress: [rule('Deny')], applyOnForward: true })] };
    for (const ctState of ['established', 'related', 'reply'] as const) {
      const j = judge(res, wanIn(80, { ctState }));
      assert.equal(j.verdict, 'allow', ctState);
      assert.equal(decidedBy(j), `builtin:conntrack-established`);
    }
    assert.equal(judge(res, wanToLan(80, { ctState: 'established' })).verdict, 'allow');
  });

  it('INVALID is dropped unless disableConntrackInvalidCheck (§5.9)', () => {
    const res = { hostEndpoints: [WAN({ profiles: [DEFAULT_ALLOW_PROFILE] })] };
    assert.equal(decidedBy(judge(res, wanIn(80, { ctState: 'invalid' }))), 'builtin:conntrack-invalid');
    const lenient = judge({ ...res, felix: { disableConntrackInvalidCheck: true } }, wanIn(80, { ctState: 'invalid' }));
    assert.equal(lenient.verdict, 'allow');
  });

  it('INVALID drop comes before the failsafe test (§5.8 "after the conntrack tests")', () => {
    assert.equal(judge({ hostEndpoints: [WAN()] }, wanIn(22, { ctState: 'invalid' })).verdict, 'deny');
  });

  it('untracked chains have no conntrack test: an untracked Deny drops even established packets (§5.9)', () => {
    const j = judge(
      { hostEndpoints: [WAN()], policies: [gnp('dnt-deny', { selector: wan, ingress: [rule('Deny')], doNotTrack: true, applyOnForward: true })] },
      wanIn(80, { ctState: 'established' }),
    );
    assert.equal(j.verdict, 'deny');
    assert.equal(j.decidedBy.hook, 'raw-prerouting');
  });

  it("'untracked' conntrack state is judged like new (§5.9, V6-03)", () => {
    const res = { hostEndpoints: [WAN()], policies: [gnp('web6', { selector: wan, ingress: [rule('Allow', { ipVersion: 6, protocol: 'TCP' })] })] };
    const nd = { path: 'local-in' as const, iif: 'eth0', proto: 'ICMPv6', src: 'fe80::1', dst: 'ff02::1:ff00:1', icmpType: 135, icmpCode: 0, ctState: 'untracked' as const };
    assert.equal(decidedBy(judge(res, nd)), 'builtin:end-of-tier:default');
  });

  it('mangle PREROUTING lets ESTABLISHED packets past preDNAT policy (§5.9, PDN-11)', () => {
    const res = {
      hostEndpoints: [WAN(), LAN()],
      policies: [gnp('pdn-deny', { selector: wan, ingress: [rule('Deny')], preDNAT: true, applyOnForward: true })],
    };
    const j = judge(res, wanToLan(80, { ctState: 'reply' }));
    assert.equal(j.verdict, 'allow');
    assert.deepEqual(trace(j), [
      'mangle-prerouting/prednat-ingress/gw1-eth0:continue:builtin:conntrack-established',
      'filter-forward/forward-ingress/gw1-eth0:allow:builtin:conntrack-established',
    ]);
  });
});
