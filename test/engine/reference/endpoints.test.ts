import { strict as assert } from 'node:assert';
import { DEFAULT_ALLOW_PROFILE } from '../../../src/config/resources';
import { EndpointResolver } from '../../../src/engine/reference/endpoints';
import { ReferenceModel } from '../../../src/engine/reference/model';
import { decidedBy, gnp, gw1Host, hep, judge, profile, resources, rule, trace, wanIn, wep, WAN } from './helpers';

describe('reference evaluator: endpoints (§5.1, §5.11, §2.4)', () => {
  const host = gw1Host();
  const resolve = (heps: ReturnType<typeof hep>[]) => new EndpointResolver(resources({ hostEndpoints: heps }), host);

  it('only HEPs of this node are enforced (§5.1)', () => {
    const r = resolve([hep('other', { node: 'gw2', interfaceName: 'eth0' })]);
    assert.equal(r.namedHep('eth0'), null);
    assert.equal(r.normalHep('eth0'), null);
  });

  it('HEPs of other nodes still feed rule selectors (§1.1)', () => {
    const res = {
      hostEndpoints: [WAN(), hep('peer', { node: 'gw2', labels: { role: 'peer' }, interfaceName: 'eth0', expectedIPs: ['198.51.100.7'] })],
      policies: [gnp('from-peers', { ingress: [rule('Allow', { source: { selector: "role == 'peer'" } })] })],
    };
    assert.equal(judge(res, wanIn(80)).verdict, 'allow');
    assert.equal(judge(res, wanIn(80, { src: '198.51.100.8' })).verdict, 'deny');
  });

  it('a HEP with empty interfaceName binds by expectedIPs (§5.1 item 1)', () => {
    const r = resolve([hep('by-ip', { expectedIPs: ['10.0.1.1'] })]);
    assert.equal(r.namedHep('eth2')?.name, 'by-ip');
    assert.equal(r.namedHep('eth0'), null);
  });

  it('a HEP naming another interface never matches by IP (§5.1 item 1)', () => {
    const r = resolve([hep('named-eth0', { interfaceName: 'eth0', expectedIPs: ['10.0.1.1'] })]);
    assert.equal(r.namedHep('eth2'), null);
    assert.equal(r.namedHep('eth0')?.name, 'named-eth0');
  });

  it('several candidates: smallest name wins, named match has no priority (§5.1 item 2, Q7)', () => {
    const r = resolve([hep('b-named', { interfaceName: 'eth0' }), hep('a-by-ip', { expectedIPs: ['203.0.113.2'] })]);
    assert.equal(r.namedHep('eth0')?.name, 'a-by-ip');
  });

  it('no candidate: the * HEP (smallest name) governs normal and forward dispatch (§5.1 item 3)', () => {
    const r = resolve([hep('z-all', { interfaceName: '*' }), hep('m-all', { interfaceName: '*' })]);
    assert.equal(r.normalHep('eth3')?.name, 'm-all');
    assert.equal(r.forwardHep('eth3')?.name, 'm-all');
    assert.equal(r.normalHep('lo')?.name, 'm-all');
  });

  it('never the * HEP for untracked policy (§5.1, §5.7)', () => {
    const r = resolve([hep('all', { interfaceName: '*' })]);
    assert.equal(r.untrackedHep('eth3'), null);
    const j = judge(
      {
        hostEndpoints: [hep('all', { interfaceName: '*', labels: { host: 'gw1' }, profiles: [DEFAULT_ALLOW_PROFILE] })],
        policies: [gnp('dnt-deny', { selector: "host == 'gw1'", ingress: [rule('Deny')], doNotTrack: true, applyOnForward: true })],
      },
      wanIn(80, { iif: 'eth3', dst: '172.16.0.1' }),
    );
    assert.equal(j.verdict, 'allow');
    assert.deepEqual(trace(j), ['filter-input/normal-ingress/all:allow:profile:projectcalico-default-allow/ingress/0:Allow']);
  });

  it('workload interfaces never get a named HEP; on the forward path the * HEP covers them (§5.1, §5.12)', () => {
    const r = resolve([hep('cali-named', { interfaceName: 'cali123' }), hep('all', { interfaceName: '*' })]);
    assert.equal(r.namedHep('cali123'), null);
    assert.equal(r.untrackedHep('cali123'), null);
    assert.equal(r.forwardHep('cali123')?.name, 'all');
    assert.equal(r.namedHep('cali999'), null, 'workload by prefix');
  });

  it('Q10: preDNAT dispatch falls to the * HEP when the named HEP has no preDNAT policy', () => {
    const res = {
      hostEndpoints: [WAN({ profiles: [DEFAULT_ALLOW_PROFILE] }), hep('all', { interfaceName: '*', labels: { all: 'yes' } })],
      policies: [gnp('star-prednat', { selector: "all == 'yes'", ingress: [rule('Deny', { protocol: 'TCP', destination: { ports: [{ kind: 'range', min: 8080, max: 8080 }] } })], preDNAT: true, applyOnForward: true })],
    };
    const j = judge(res, wanIn(8080));
    assert.equal(j.verdict, 'deny');
    assert.equal(j.decidedBy.endpoint, 'all');
    assert.equal(decidedBy(j), 'policy:default/star-prednat/ingress/0:Deny');
    // Once the named HEP has preDNAT policy of its own, only that one runs.
    res.policies.push(gnp('wan-prednat', { selector: "network == 'wan'", ingress: [rule('Allow', { protocol: 'UDP' })], preDNAT: true, applyOnForward: true }));
    assert.equal(judge(res, wanIn(8080)).verdict, 'allow');
  });

  it('Q10: local workload interfaces run the * HEP preDNAT policy', () => {
    const j = judge(
      {
        hostEndpoints: [hep('all', { interfaceName: '*', labels: { all: 'yes' } })],
        workloadEndpoints: [wep('web', { interfaceName: 'cali123', ipNetworks: ['10.65.0.2/32'], profiles: [DEFAULT_ALLOW_PROFILE] })],
        policies: [gnp('star-prednat', { selector: "all == 'yes'", ingress: [rule('Deny')], preDNAT: true, applyOnForward: true })],
      },
      { path: 'forward', iif: 'cali123', oif: 'eth3', proto: 'TCP', src: '10.65.0.2', dst: '172.16.0.9', sport: 1, dport: 80 },
    );
    assert.equal(j.verdict, 'deny');
    assert.equal(j.decidedBy.hook, 'mangle-prerouting');
  });

  it('WEP lookup by interfaceName, local node only (§5.11)', () => {
    const res = resources({
      workloadEndpoints: [wep('remote', { node: 'gw2', interfaceName: 'cali123' }), wep('local', { interfaceName: 'cali123' })],
    });
    const r = new EndpointResolver(res, host);
    assert.equal(r.workloadEndpoint('cali123')?.name, 'local');
    assert.equal(r.workloadEndpoint('cali999'), null);
  });

  it('HEP labels = own labels ∪ profile labelsToApply, own wins (§2.4)', () => {
    const res = resources({
      hostEndpoints: [WAN({ labels: { network: 'wan', zone: 'own' }, profiles: ['p1', 'p2'] })],
      profiles: [profile('p1', { labelsToApply: { zone: 'p1', tier: 'p1', extra: 'p1' } }), profile('p2', { labelsToApply: { tier: 'p2', more: 'p2' } })],
    });
    const m = new ReferenceModel(res, host);
    const labels = m.hostSubject(res.hostEndpoints[0]!).labels;
    assert.deepEqual({ ...labels }, { network: 'wan', zone: 'own', tier: 'p1', extra: 'p1', more: 'p2' });
  });

  it('WEP labels get projectcalico.org/namespace and projectcalico.org/orchestrator (§2.4)', () => {
    const w = Object.assign(wep('web', { namespace: 'shop', labels: { app: 'web' }, interfaceName: 'cali123' }), { orchestrator: 'k8s' });
    const res = resources({ workloadEndpoints: [w] });
    const labels = new ReferenceModel(res, host).workloadSubject(w).labels;
    assert.equal(labels['projectcalico.org/namespace'], 'shop');
    assert.equal(labels['projectcalico.org/orchestrator'], 'k8s');
    assert.equal(labels.app, 'web');
  });

  it('policy selectors see profile labels too (§2.4, SEL-15)', () => {
    const j = judge(
      {
        hostEndpoints: [WAN({ labels: {}, profiles: ['wan-labels'] })],
        profiles: [profile('wan-labels', { labelsToApply: { zone: 'dmz' } })],
        policies: [gnp('dmz', { selector: "zone == 'dmz'", ingress: [rule('Allow')] })],
      },
      wanIn(80),
    );
    assert.equal(decidedBy(j), 'policy:default/dmz/ingress/0:Allow');
  });
});
