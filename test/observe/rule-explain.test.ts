import { strict as assert } from 'node:assert';
import type { Rule } from '../../src/config/resources';
import { ReferenceModel } from '../../src/engine/reference/model';
import { filterView, preDnatView } from '../../src/engine/reference/packet-view';
import { matchesPacket } from '../../src/engine/reference/rule-match';
import { explainRule } from '../../src/observe/rule-explain';
import { FUZZ_HOST, randomPacket, randomResources } from '../helpers/policy-fuzz';
import { Rng } from '../helpers/random';
import { gns, gw1Host, hep, named, packet, port, resources, rule } from '../engine/reference/helpers';

describe('observe/rule-explain', () => {
  it('agrees with the reference matcher on random policies and packets (no drift)', () => {
    let rules = 0;
    let matched = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const rng = new Rng(seed);
      const res = randomResources(rng);
      const model = new ReferenceModel(res, FUZZ_HOST);
      const all: Rule[] = [...res.policies.flatMap((p) => [...p.ingress, ...p.egress]), ...res.profiles.flatMap((p) => [...p.ingress, ...p.egress])];
      for (let i = 0; i < 15; i++) {
        const facts = randomPacket(rng);
        for (const view of [filterView(facts), preDnatView(facts)]) {
          for (const r of all) {
            const e = explainRule(model.match, r, view);
            const want = matchesPacket(model.match, r, view);
            assert.equal(e.matched, want, `seed ${seed}: rule ${JSON.stringify({ ...r, origin: undefined })} packet ${JSON.stringify(view)}`);
            assert.equal(e.failed.length === 0, want);
            rules++;
            if (want) matched++;
          }
        }
      }
    }
    // The corpus must exercise both outcomes substantially.
    assert.ok(rules > 10_000 && matched > 500 && rules - matched > 500, `rules ${rules}, matched ${matched}`);
  });

  const model = new ReferenceModel(
    resources({
      hostEndpoints: [hep('gw1-eth0', { labels: { network: 'wan' }, interfaceName: 'eth0', expectedIPs: ['203.0.113.1'], ports: [{ name: 'http-alt', protocol: 'TCP', port: 8080 }] })],
      networkSets: [gns('resolvers', { role: 'dns' }, ['10.0.1.53/32', 'fd00:1::53/128'])],
    }),
    gw1Host(),
  );
  const tcp = (dst: string, dport: number, src = '198.51.100.7') => filterView(packet({ path: 'forward', iif: 'eth0', oif: 'eth2', proto: 'TCP', src, dst, sport: 40000, dport }));

  it('names each failed criterion with what the rule wants and what the packet has', () => {
    const r = rule('Allow', { protocol: 'UDP', source: { nets: ['10.0.0.0/8'] }, destination: { ports: [port(53)] } });
    const e = explainRule(model.match, r, tcp('10.0.1.53', 80));
    assert.equal(e.matched, false);
    assert.deepEqual(e.failed.map((c) => c.criterion), ['protocol', 'source.nets', 'destination.ports']);
    assert.match(e.failed[0]!.detail, /packet protocol tcp \(6\); the rule wants udp \(17\)/);
    assert.match(e.failed[1]!.detail, /source 198\.51\.100\.7 is in none of 10\.0\.0\.0\/8/);
    assert.match(e.failed[2]!.detail, /destination port 80; the rule wants 53/);
  });

  it('explains selectors, notSelector and notNets by the objects that own the address', () => {
    const sel = rule('Allow', { destination: { selector: "role == 'dns'" } });
    const hit = explainRule(model.match, sel, tcp('10.0.1.53', 53));
    assert.equal(hit.matched, true);
    assert.match(hit.checks[0]!.detail, /destination 10\.0\.1\.53 belongs to GlobalNetworkSet resolvers, which matches selector `role == 'dns'`/);
    const miss = explainRule(model.match, sel, tcp('10.0.1.54', 53));
    assert.equal(miss.failed[0]!.criterion, 'destination.selector');
    assert.match(miss.failed[0]!.detail, /10\.0\.1\.54 is not an address of any object matching selector `role == 'dns'`/);
    const not = explainRule(model.match, rule('Deny', { destination: { notSelector: "role == 'dns'" } }), tcp('10.0.1.53', 53));
    assert.equal(not.failed[0]!.criterion, 'destination.notSelector');
    assert.match(not.failed[0]!.detail, /excluded by notSelector/);
    const nn = explainRule(model.match, rule('Deny', { source: { notNets: ['198.51.100.0/24'] } }), tcp('10.0.1.53', 53));
    assert.match(nn.failed[0]!.detail, /source 198\.51\.100\.7 is in excluded 198\.51\.100\.0\/24/);
  });

  it('named ports only match addresses of endpoints declaring them (§3.5)', () => {
    const r = rule('Allow', { protocol: 'TCP', destination: { ports: [named('http-alt')] } });
    assert.equal(explainRule(model.match, r, tcp('203.0.113.1', 8080)).matched, true);
    const e = explainRule(model.match, r, tcp('203.0.113.2', 8080));
    assert.equal(e.failed[0]!.criterion, 'destination.ports');
    assert.match(e.failed[0]!.detail, /destination port 8080; the rule wants named port 'http-alt'/);
  });

  it('a rule not rendered for the packet family says why (§3.3)', () => {
    const v6 = filterView(packet({ path: 'forward', iif: 'eth0', oif: 'eth2', proto: 'TCP', src: '2001:db8::7', dst: 'fd00:1::53', sport: 40000, dport: 53 }));
    let e = explainRule(model.match, rule('Allow', { source: { nets: ['10.0.0.0/8'] } }), v6);
    assert.deepEqual(e.failed.map((c) => c.criterion), ['source.nets']);
    assert.match(e.failed[0]!.detail, /lists no IPv6 CIDR/);
    e = explainRule(model.match, rule('Allow', { protocol: 'ICMP' }), v6);
    assert.match(e.failed[0]!.detail, /ICMP \(by name\) makes the rule IPv4-only/);
    e = explainRule(model.match, rule('Allow', { ipVersion: 4 }), v6);
    assert.equal(e.failed[0]!.criterion, 'ipVersion');
    assert.equal(explainRule(model.match, rule('Allow', { destination: { selector: "role == 'dns'" } }), v6).matched, true, 'IPv6 members of the set');
  });

  it('ICMP type/code and packets without ports', () => {
    const ping = filterView(packet({ path: 'forward', iif: 'eth0', oif: 'eth2', proto: 'ICMP', src: '198.51.100.7', dst: '10.0.1.53', icmpType: 8, icmpCode: 0 }));
    assert.equal(explainRule(model.match, rule('Allow', { protocol: 'ICMP', icmp: { type: 8 } }), ping).matched, true);
    const e = explainRule(model.match, rule('Allow', { protocol: 'ICMP', icmp: { type: 0 } }), ping);
    assert.match(e.failed[0]!.detail, /ICMP type 8 code 0; the rule wants type 0/);
    const p = explainRule(model.match, rule('Allow', { destination: { ports: [port(53)] } }), ping);
    assert.match(p.failed[0]!.detail, /the packet \(icmp\) has no ports/);
    assert.equal(explainRule(model.match, rule('Allow'), ping).checks.length, 0);
  });
});
