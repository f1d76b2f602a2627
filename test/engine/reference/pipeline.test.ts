import { strict as assert } from 'node:assert';
import { DEFAULT_ALLOW_PROFILE } from '../../../src/config/resources';
import { ruleKey } from '../../../src/engine/decision';
import {
  decidedBy,
  gnp,
  gw1Host,
  hep,
  hostOut,
  judge,
  port,
  rule,
  tier,
  trace,
  wanIn,
  wanToLan,
  wep,
  LAN,
  WAN,
  type PacketInit,
} from './helpers';

const wan = "network == 'wan'";
const lan = "network == 'lan'";
const allowDefault = { profiles: [DEFAULT_ALLOW_PROFILE] };
const dst = (n: number) => ({ destination: { ports: [port(n)] }, protocol: 'TCP' as const });
const dropHost = gw1Host({ unmanagedVerdict: 'drop' });

describe('reference evaluator: packet pipeline (§5.3, §5.4)', () => {
  describe('local traffic (A, B)', () => {
    it('an interface without HEP renders no verdict: the unmanaged setting decides (§5.4 N)', () => {
      const res = { hostEndpoints: [LAN()] };
      const j = judge(res, wanIn(80));
      assert.deepEqual([j.verdict, j.noVerdict], ['allow', true]);
      assert.equal(decidedBy(j), 'builtin:unmanaged-interface');
      assert.deepEqual([judge(res, wanIn(80), dropHost).verdict, judge(res, wanIn(80), dropHost).noVerdict], ['deny', true]);
      assert.equal(judge(res, hostOut(80)).noVerdict, true);
    });

    it('a governed interface with no policy and no profile denies (§5.4 L1, Q8)', () => {
      const j = judge({ hostEndpoints: [WAN({ labels: {} })] }, wanIn(80));
      assert.deepEqual([j.verdict, j.noVerdict, decidedBy(j)], ['deny', false, 'builtin:no-profile-allowed']);
    });

    it('applyOnForward policies also govern local traffic (§5.2, SEED-10/11)', () => {
      const res = { hostEndpoints: [WAN()], policies: [gnp('aof', { selector: wan, egress: [rule('Allow', dst(443))], applyOnForward: true })] };
      assert.equal(judge(res, hostOut(443)).verdict, 'allow');
      assert.equal(decidedBy(judge(res, hostOut(80))), 'builtin:end-of-tier:default');
    });

    it('preDNAT and untracked policies are not normal policies (§5.2, PDN-07)', () => {
      const res = {
        hostEndpoints: [WAN(allowDefault)],
        policies: [
          gnp('pdn', { selector: wan, ingress: [rule('Log', { protocol: 'UDP' })], preDNAT: true, applyOnForward: true }),
          gnp('dnt', { selector: wan, ingress: [rule('Log', { protocol: 'UDP' })], doNotTrack: true, applyOnForward: true }),
        ],
      };
      assert.equal(decidedBy(judge(res, wanIn(80))), 'profile:projectcalico-default-allow/ingress/0:Allow');
    });

    it('a * HEP polices loopback (Q5)', () => {
      const j = judge({ hostEndpoints: [hep('all', { interfaceName: '*' })] }, { path: 'local-in', iif: 'lo', proto: 'TCP', src: '127.0.0.1', dst: '127.0.0.1', sport: 1, dport: 10250 });
      assert.deepEqual([j.verdict, j.decidedBy.endpoint], ['deny', 'all']);
    });

    it('preDNAT policy sees the original destination, filter policy the translated one (§5.6, §5.13)', () => {
      const res = {
        hostEndpoints: [WAN()],
        policies: [
          gnp('pdn', { selector: wan, ingress: [rule('Deny', { ...dst(8080), destination: { ports: [port(8080)], nets: ['203.0.113.1/32'] } })], preDNAT: true, applyOnForward: true }),
          gnp('normal', { selector: wan, ingress: [rule('Allow', { ...dst(80), destination: { ports: [port(80)], nets: ['203.0.113.1/32'] } })] }),
        ],
      };
      const dnat: PacketInit = wanIn(80, { preDnatDst: '203.0.113.1', preDnatDport: 8080 });
      assert.equal(decidedBy(judge(res, dnat)), 'policy:default/pdn/ingress/0:Deny');
      assert.equal(decidedBy(judge(res, wanIn(80))), 'policy:default/normal/ingress/0:Allow');
    });

    it('preDNAT Allow sets the accept-mark: normal ingress policy is skipped (§5.6)', () => {
      const res = {
        hostEndpoints: [WAN()],
        policies: [gnp('pdn', { selector: wan, ingress: [rule('Allow', dst(443))], preDNAT: true, applyOnForward: true }), gnp('deny', { selector: wan, ingress: [rule('Deny')] })],
      };
      const j = judge(res, wanIn(443));
      assert.equal(j.verdict, 'allow');
      assert.equal(decidedBy(j), 'policy:default/pdn/ingress/0:Allow');
      assert.deepEqual(trace(j), [
        'mangle-prerouting/prednat-ingress/gw1-eth0:allow:policy:default/pdn/ingress/0:Allow',
        'filter-input/dispatch/-:allow:builtin:accept-mark',
      ]);
    });

    it('preDNAT: no match continues, with no end-of-tier drop even in a Deny tier (§5.6, §5.4 P)', () => {
      const res = { hostEndpoints: [WAN(allowDefault)], policies: [gnp('pdn', { selector: wan, ingress: [rule('Deny', { protocol: 'UDP' })], preDNAT: true, applyOnForward: true })] };
      const j = judge(res, wanIn(80));
      assert.equal(j.verdict, 'allow');
      assert.equal(trace(j)[0], 'mangle-prerouting/prednat-ingress/gw1-eth0:continue:builtin:stage-no-match');
    });

    it('preDNAT: an inbound failsafe ends the stage without a mark (§5.6, Q4)', () => {
      const res = { hostEndpoints: [WAN()], policies: [gnp('pdn', { selector: wan, ingress: [rule('Deny')], preDNAT: true, applyOnForward: true })] };
      const j = judge(res, wanIn(22));
      assert.deepEqual(trace(j), [
        'mangle-prerouting/prednat-ingress/gw1-eth0:continue:builtin:failsafe-inbound:tcp:22',
        'filter-input/normal-ingress/gw1-eth0:allow:builtin:failsafe-inbound:tcp:22',
      ]);
    });

    it('doNotTrack Allow: NOTRACK + accept-mark, later stages accept (§5.7, DNT-01)', () => {
      const res = {
        hostEndpoints: [WAN()],
        policies: [
          gnp('dnt', { selector: wan, ingress: [rule('Allow', dst(11211))], doNotTrack: true, applyOnForward: true }),
          gnp('pdn-deny', { selector: wan, ingress: [rule('Deny')], preDNAT: true, applyOnForward: true }),
        ],
      };
      const j = judge(res, wanIn(11211));
      assert.deepEqual([j.verdict, j.untracked], ['allow', true]);
      assert.equal(decidedBy(j), 'policy:default/dnt/ingress/0:Allow');
      assert.deepEqual(trace(j), [
        'raw-prerouting/untracked-ingress/gw1-eth0:allow:policy:default/dnt/ingress/0:Allow',
        'mangle-prerouting/prednat-ingress/gw1-eth0:continue:builtin:accept-mark',
        'filter-input/dispatch/-:allow:builtin:accept-mark',
      ]);
    });

    it('doNotTrack Deny drops in raw; no match continues (§5.7, DNT-05)', () => {
      const res = {
        hostEndpoints: [WAN()],
        policies: [gnp('dnt', { selector: wan, ingress: [rule('Deny', dst(80))], doNotTrack: true, applyOnForward: true }), gnp('allow', { order: 1, selector: wan, ingress: [rule('Allow')] })],
      };
      assert.equal(judge(res, wanIn(80)).decidedBy.hook, 'raw-prerouting');
      assert.equal(decidedBy(judge(res, wanIn(81))), 'policy:default/allow/ingress/0:Allow');
    });

    it('doNotTrack egress applies in raw OUTPUT to locally originated packets, before DNAT (§5.7)', () => {
      const res = {
        hostEndpoints: [WAN()],
        policies: [gnp('dnt-out', { selector: wan, egress: [rule('Allow', { ...dst(9000), destination: { ports: [port(9000)], nets: ['192.0.2.0/24'] } })], doNotTrack: true, applyOnForward: true })],
      };
      const j = judge(res, hostOut(9000));
      assert.deepEqual([j.verdict, j.untracked, j.decidedBy.hook], ['allow', true, 'raw-output']);
      const dnatted = judge(res, hostOut(80, { dst: '198.51.100.50', preDnatDst: '192.0.2.9', preDnatDport: 9000 }));
      assert.deepEqual([dnatted.verdict, dnatted.untracked], ['allow', true]);
    });

    it('asymmetric doNotTrack: the reverse packet is a new tracked flow judged by normal policy (DNT-03)', () => {
      const res = { hostEndpoints: [WAN()], policies: [gnp('dnt-in', { selector: wan, ingress: [rule('Allow', dst(9091))], doNotTrack: true, applyOnForward: true })] };
      const j = judge(res, hostOut(50001, { sport: 9091, dst: '198.51.100.7' }));
      assert.deepEqual([j.verdict, decidedBy(j)], ['deny', 'builtin:no-profile-allowed']);
    });

    it('locally originated DNATed packets are judged at mangle POSTROUTING with the translated destination (§5.3 B.3–4)', () => {
      const res = { hostEndpoints: [WAN()], policies: [gnp('out', { selector: wan, egress: [rule('Allow', { ...dst(8443), destination: { ports: [port(8443)], nets: ['192.0.2.9/32'] } })] })] };
      const j = judge(res, hostOut(8443, { preDnatDst: '198.51.100.99', preDnatDport: 443 }));
      assert.equal(j.verdict, 'allow');
      assert.deepEqual(trace(j), ['mangle-postrouting/normal-egress/gw1-eth0:allow:policy:default/out/egress/0:Allow']);
      assert.equal(judge(res, hostOut(443, { dst: '198.51.100.99', preDnatDst: '192.0.2.9', preDnatDport: 8443 })).verdict, 'deny');
    });

    it('host to its own workload is never policed (§5.11, WEP-03)', () => {
      const res = {
        hostEndpoints: [hep('all', { interfaceName: '*', labels: { host: 'gw1' } })],
        workloadEndpoints: [wep('web', { interfaceName: 'cali123', ipNetworks: ['10.65.0.2/32'] })],
        policies: [gnp('deny', { selector: "host == 'gw1'", ingress: [rule('Deny')], egress: [rule('Deny')], applyOnForward: true })],
      };
      const p: PacketInit = { path: 'local-out', oif: 'cali123', proto: 'TCP', src: '10.0.1.1', dst: '10.65.0.2', sport: 1, dport: 8080 };
      const j = judge(res, p);
      assert.deepEqual([j.verdict, j.noVerdict, decidedBy(j)], ['allow', true, 'builtin:host-to-workload']);
      const dnatted = judge(res, { ...p, preDnatDst: '10.96.0.1', preDnatDport: 80 });
      assert.deepEqual([dnatted.verdict, dnatted.noVerdict], ['allow', true]);
    });
  });

  describe('forwarded traffic (C)', () => {
    it('no AoF policy in a direction: that leg allows (§5.4 F2)', () => {
      const j = judge({ hostEndpoints: [WAN(), LAN()] }, wanToLan(3306));
      assert.deepEqual([j.verdict, j.noVerdict], ['allow', false]);
      assert.deepEqual(trace(j), [
        'filter-forward/forward-ingress/gw1-eth0:allow:builtin:forward-default-allow',
        'filter-forward/forward-egress/gw1-eth2:allow:builtin:forward-default-allow',
      ]);
      assert.equal(decidedBy(j), 'builtin:forward-default-allow');
    });

    it('F2 is per direction: AoF egress policy does not remove the ingress default allow (Q1, §7.2)', () => {
      const res = { hostEndpoints: [WAN(), LAN()], policies: [gnp('wan-out', { selector: wan, egress: [rule('Deny')], applyOnForward: true })] };
      const j = judge(res, wanToLan(80));
      assert.deepEqual([j.verdict, j.noVerdict], ['allow', false]);
      assert.equal(trace(j)[0], 'filter-forward/forward-ingress/gw1-eth0:allow:builtin:forward-default-allow');
    });

    it('non-AoF policies do not apply to forwarded traffic (§5.2, AOF-01)', () => {
      const res = { hostEndpoints: [WAN(), LAN()], policies: [gnp('local-only', { selector: wan, ingress: [rule('Deny')] })] };
      assert.equal(judge(res, wanToLan(23)).verdict, 'allow');
    });

    it('AoF policy present but nothing decides: end-of-tier deny on that leg (§5.4 F3)', () => {
      const res = { hostEndpoints: [WAN(), LAN()], policies: [gnp('aof', { selector: lan, egress: [rule('Allow', dst(22))], applyOnForward: true })] };
      assert.equal(decidedBy(judge(res, wanToLan(80))), 'builtin:end-of-tier:default');
      assert.equal(judge(res, wanToLan(22)).verdict, 'allow');
    });

    it('both legs must allow: an ingress-leg Allow still needs the egress leg (§5.10, F4)', () => {
      const res = {
        hostEndpoints: [WAN(), LAN()],
        policies: [gnp('in', { selector: wan, ingress: [rule('Allow')], applyOnForward: true }), gnp('out', { selector: lan, egress: [rule('Deny', dst(23))], applyOnForward: true })],
      };
      assert.equal(decidedBy(judge(res, wanToLan(23))), 'policy:default/out/egress/0:Deny');
    });

    it('a leg through an unmanaged interface imposes nothing (§5.10, SEED-01)', () => {
      const res = { hostEndpoints: [LAN()], policies: [gnp('out', { selector: lan, egress: [rule('Allow', dst(22))], applyOnForward: true })] };
      const j = judge(res, wanToLan(22));
      assert.deepEqual([j.verdict, j.noVerdict, decidedBy(j)], ['allow', false, 'policy:default/out/egress/0:Allow']);
    });

    it('an ingress-leg Allow with an unmanaged out-interface is accepted by the mark (§5.3 C.5d)', () => {
      const res = { hostEndpoints: [WAN()], policies: [gnp('in', { selector: wan, ingress: [rule('Allow')], applyOnForward: true })] };
      const j = judge(res, { ...wanToLan(80), oif: 'eth3', dst: '172.16.0.9' });
      assert.deepEqual([j.verdict, j.noVerdict, decidedBy(j)], ['allow', false, 'policy:default/in/ingress/0:Allow']);
    });

    it('neither interface governed: no verdict (§5.4 N)', () => {
      const j = judge({}, { ...wanToLan(80), oif: 'eth3', dst: '172.16.0.9' });
      assert.deepEqual([j.verdict, j.noVerdict, decidedBy(j)], ['allow', true, 'builtin:unmanaged-interface']);
      assert.equal(judge({}, { ...wanToLan(80), oif: 'eth3' }, dropHost).verdict, 'deny');
    });

    it('Pass past the last tier on a forward leg renders no verdict (Q2, ORD-10)', () => {
      const res = {
        hostEndpoints: [WAN(), LAN()],
        tiers: [tier('t', 10, 'Pass')],
        policies: [gnp('pass', { tier: 't', selector: wan, ingress: [rule('Pass')], applyOnForward: true }), gnp('out', { selector: lan, egress: [rule('Log')], types: ['Egress'], applyOnForward: true, tier: 't' })],
      };
      const j = judge(res, { ...wanToLan(80), oif: 'eth3', dst: '172.16.0.9' });
      assert.deepEqual([j.verdict, j.noVerdict, decidedBy(j)], ['allow', true, 'builtin:forward-no-verdict']);
      assert.equal(judge(res, { ...wanToLan(80), oif: 'eth3', dst: '172.16.0.9' }, dropHost).verdict, 'deny');
      // The out-leg's own no-verdict clears the mark that the in-leg would have set.
      const both = judge(res, wanToLan(80));
      assert.deepEqual([both.verdict, both.noVerdict, decidedBy(both)], ['allow', true, 'builtin:forward-no-verdict']);
    });

    it('preDNAT Allow skips the in-HEP AoF ingress leg but not the out-HEP egress leg (Q3, PDN-05)', () => {
      const res = {
        hostEndpoints: [WAN(), LAN()],
        policies: [
          gnp('pdn', { selector: wan, ingress: [rule('Allow')], preDNAT: true, applyOnForward: true }),
          gnp('in-deny', { selector: wan, ingress: [rule('Deny')], applyOnForward: true }),
          gnp('out', { selector: lan, egress: [rule('Allow', dst(2222))], applyOnForward: true }),
        ],
      };
      const denied = judge(res, wanToLan(80, { preDnatDst: '203.0.113.1', preDnatDport: 8080 }));
      assert.deepEqual([denied.verdict, decidedBy(denied)], ['deny', 'builtin:end-of-tier:default']);
      assert.deepEqual(trace(denied).slice(1), ['filter-forward/dispatch/-:allow:builtin:accept-mark', 'filter-forward/forward-egress/gw1-eth2:deny:builtin:end-of-tier:default']);
      assert.equal(judge(res, wanToLan(2222)).verdict, 'allow');
    });

    it('preDNAT Allow with an unmanaged out-interface: accepted, decided by the preDNAT rule (§5.6, PDN-03)', () => {
      const res = { hostEndpoints: [WAN()], policies: [gnp('pdn', { selector: wan, ingress: [rule('Allow')], preDNAT: true, applyOnForward: true }), gnp('in-deny', { selector: wan, ingress: [rule('Deny')], applyOnForward: true })] };
      const j = judge(res, { ...wanToLan(80), oif: 'eth3', dst: '172.16.0.9' });
      assert.deepEqual([j.verdict, j.noVerdict, decidedBy(j), j.decidedBy.hook], ['allow', false, 'policy:default/pdn/ingress/0:Allow', 'mangle-prerouting']);
    });

    it('doNotTrack Allow: the out-HEP egress leg still runs and judges the packet as new (§5.7, Q3)', () => {
      const res = {
        hostEndpoints: [WAN(), LAN()],
        policies: [
          gnp('dnt', { selector: wan, ingress: [rule('Allow')], doNotTrack: true, applyOnForward: true }),
          gnp('out', { selector: lan, egress: [rule('Deny', dst(23))], applyOnForward: true }),
        ],
      };
      const j = judge(res, wanToLan(23, { ctState: 'established' }));
      assert.deepEqual([j.verdict, j.untracked, decidedBy(j)], ['deny', true, 'policy:default/out/egress/0:Deny']);
    });

    it('doNotTrack egress never applies to forwarded packets (§5.7)', () => {
      const res = { hostEndpoints: [WAN(), LAN()], policies: [gnp('dnt-out', { selector: lan, egress: [rule('Deny')], doNotTrack: true, applyOnForward: true })] };
      assert.equal(judge(res, wanToLan(80)).verdict, 'allow');
    });

    it('forward egress rules see the pre-SNAT source and post-DNAT destination (§5.13, NAT-01)', () => {
      const res = { hostEndpoints: [WAN()], policies: [gnp('out', { selector: wan, egress: [rule('Allow', { source: { nets: ['10.0.1.0/24'] } })], applyOnForward: true })] };
      const p: PacketInit = { path: 'forward', iif: 'eth2', oif: 'eth0', proto: 'TCP', src: '10.0.1.10', dst: '192.0.2.9', sport: 1, dport: 443 };
      assert.equal(judge(res, p).verdict, 'allow');
    });

    it('logs are collected across legs in the order hit (§3.1)', () => {
      const res = {
        hostEndpoints: [WAN(), LAN()],
        policies: [gnp('in', { selector: wan, ingress: [rule('Log'), rule('Allow')], applyOnForward: true }), gnp('out', { selector: lan, egress: [rule('Log'), rule('Allow')], applyOnForward: true })],
      };
      assert.deepEqual(judge(res, wanToLan(80)).logs.map(ruleKey), ['policy:default/in/ingress/0:Log', 'policy:default/out/egress/0:Log']);
    });
  });

  describe('local workloads (§5.11)', () => {
    const web = () => wep('web', { labels: { app: 'web' }, interfaceName: 'cali123', ipNetworks: ['10.65.0.2/32'], profiles: [DEFAULT_ALLOW_PROFILE] });
    const toWeb = (dport: number): PacketInit => ({ path: 'forward', iif: 'eth0', oif: 'cali123', proto: 'TCP', src: '198.51.100.7', dst: '10.65.0.2', sport: 1, dport });
    const fromWeb = (oif: string, dstAddr: string): PacketInit => ({ path: 'forward', iif: 'cali123', oif, proto: 'TCP', src: '10.65.0.2', dst: dstAddr, sport: 1, dport: 443 });

    it('HEP → WEP: HEP AoF ingress leg, then WEP ingress policy (WEP-01)', () => {
      const res = { hostEndpoints: [WAN()], workloadEndpoints: [web()], policies: [gnp('web-in', { selector: "app == 'web'", ingress: [rule('Deny', dst(23)), rule('Pass')] })] };
      assert.deepEqual(trace(judge(res, toWeb(80))), [
        'filter-forward/forward-ingress/gw1-eth0:allow:builtin:forward-default-allow',
        'filter-forward/workload-ingress/web:allow:profile:projectcalico-default-allow/ingress/0:Allow',
      ]);
      assert.equal(decidedBy(judge(res, toWeb(23))), 'policy:default/web-in/ingress/0:Deny');
      const hepDeny = { ...res, policies: [gnp('wan-fwd', { selector: wan, ingress: [rule('Deny')], applyOnForward: true })] };
      assert.equal(decidedBy(judge(hepDeny, toWeb(80))), 'policy:default/wan-fwd/ingress/0:Deny');
    });

    it('a WEP with neither policy nor allowing profile denies (workload default)', () => {
      const res = { workloadEndpoints: [wep('bare', { interfaceName: 'cali123', ipNetworks: ['10.65.0.2/32'] })] };
      assert.equal(decidedBy(judge(res, toWeb(80))), 'builtin:workload-default-deny');
    });

    it('an unknown workload interface drops', () => {
      assert.equal(decidedBy(judge({}, toWeb(80))), 'builtin:workload-default-deny:no WorkloadEndpoint for cali123');
    });

    it('WEP → HEP: WEP egress, the * HEP AoF ingress (it covers workload interfaces) and the out-HEP AoF egress', () => {
      const res = {
        hostEndpoints: [WAN(), hep('all', { interfaceName: '*', labels: { all: 'yes' } })],
        workloadEndpoints: [web()],
        policies: [
          gnp('star-in', { selector: "all == 'yes'", ingress: [rule('Deny', dst(25)), rule('Allow')], applyOnForward: true }),
          gnp('wan-out', { selector: wan, egress: [rule('Allow', dst(443))], applyOnForward: true }),
        ],
      };
      const j = judge(res, fromWeb('eth0', '192.0.2.9'));
      assert.equal(j.verdict, 'allow');
      assert.deepEqual(trace(j), [
        'filter-forward/forward-ingress/all:allow:policy:default/star-in/ingress/1:Allow',
        'filter-forward/workload-egress/web:allow:profile:projectcalico-default-allow/egress/0:Allow',
        'filter-forward/forward-egress/gw1-eth0:allow:policy:default/wan-out/egress/0:Allow',
      ]);
      assert.equal(decidedBy(judge(res, { ...fromWeb('eth0', '192.0.2.9'), dport: 25 })), 'policy:default/star-in/ingress/0:Deny');
      assert.equal(decidedBy(judge(res, { ...fromWeb('eth0', '192.0.2.9'), dport: 80 })), 'builtin:end-of-tier:default');
    });

    it('HEP → WEP with a * HEP: its AoF egress leg covers the workload interface too (§5.12)', () => {
      const res = {
        hostEndpoints: [WAN(), hep('all', { interfaceName: '*', labels: { all: 'yes' } })],
        workloadEndpoints: [web()],
        policies: [gnp('star-out', { selector: "all == 'yes'", egress: [rule('Allow', dst(80))], applyOnForward: true })],
      };
      assert.equal(judge(res, toWeb(80)).verdict, 'allow');
      assert.deepEqual(trace(judge(res, toWeb(81))).at(-1), 'filter-forward/forward-egress/all:deny:builtin:end-of-tier:default');
    });

    it('WEP → host: WEP egress policy, then DefaultEndpointToHostAction DROP; HEP policy does not apply', () => {
      const res = { hostEndpoints: [hep('all', { interfaceName: '*', ...allowDefault })], workloadEndpoints: [web()] };
      const p: PacketInit = { path: 'local-in', iif: 'cali123', proto: 'TCP', src: '10.65.0.2', dst: '10.0.1.1', sport: 1, dport: 80 };
      const j = judge(res, p);
      assert.equal(j.verdict, 'deny');
      assert.deepEqual(trace(j), [
        'filter-input/workload-egress/web:allow:profile:projectcalico-default-allow/egress/0:Allow',
        'filter-input/workload-egress/web:deny:builtin:endpoint-to-host',
      ]);
      assert.equal(judge(res, { ...p, ctState: 'established' }).verdict, 'allow');
    });

    it('WEP → host: ICMPv6 ND/MLD is accepted before policy (Q6)', () => {
      const res = { workloadEndpoints: [wep('v6', { interfaceName: 'cali123', ipNetworks: ['fd00:65::2/128'] })] };
      const ns: PacketInit = { path: 'local-in', iif: 'cali123', proto: 'ICMPv6', src: 'fe80::2', dst: 'ff02::1:ff00:1', icmpType: 135, icmpCode: 0, ctState: 'untracked' };
      assert.equal(decidedBy(judge(res, ns)), 'builtin:endpoint-to-host:icmpv6 type 135');
      assert.equal(judge(res, { ...ns, icmpType: 128 }).verdict, 'deny');
    });
  });
});
