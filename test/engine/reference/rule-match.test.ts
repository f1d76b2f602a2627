import { strict as assert } from 'node:assert';
import type { Rule } from '../../../src/config/resources';
import { buildAddressObjects } from '../../../src/engine/reference/address-objects';
import { filterView } from '../../../src/engine/reference/packet-view';
import { matchesPacket, ruleForFamily, type MatchContext } from '../../../src/engine/reference/rule-match';
import { SelectorCache } from '../../../src/engine/reference/selectors';
import {
  gns,
  hep,
  named,
  packet,
  port,
  range,
  resources,
  rule,
  wanIn,
  wep,
  type PacketInit,
  type ResourceInit,
} from './helpers';

function ctx(init: ResourceInit = {}): MatchContext {
  const res = resources(init);
  return { objects: buildAddressObjects(res, new Map(res.profiles.map((p) => [p.name, p]))), selectors: new SelectorCache() };
}

function matches(r: Rule, p: PacketInit, init: ResourceInit = {}): boolean {
  return matchesPacket(ctx(init), r, filterView(packet(p)));
}

const v6In = (extra: Partial<PacketInit> = {}): PacketInit => wanIn(80, { src: '2001:db8:200::7', dst: '2001:db8:100::1', ...extra });

describe('reference evaluator: rule matching (§3.2–§3.6)', () => {
  it('an empty rule matches every packet of both families (§3.7)', () => {
    assert.ok(matches(rule('Allow'), wanIn(80)));
    assert.ok(matches(rule('Allow'), v6In()));
    assert.ok(matches(rule('Allow'), wanIn(-1, { proto: 47, sport: null, dport: null })));
  });

  it('ipVersion drops the rule for the other family (§3.3)', () => {
    assert.equal(ruleForFamily(rule('Allow', { ipVersion: 6 }), 4), null);
    assert.ok(ruleForFamily(rule('Allow', { ipVersion: 6 }), 6));
    assert.equal(matches(rule('Allow', { ipVersion: 6 }), wanIn(80)), false);
  });

  it('protocol ICMP / ICMPv6 by name implies the family; by number it does not (§3.3)', () => {
    assert.equal(ruleForFamily(rule('Allow', { protocol: 'ICMP' }), 6), null);
    assert.equal(ruleForFamily(rule('Allow', { protocol: 'ICMPv6' }), 4), null);
    assert.ok(ruleForFamily(rule('Allow', { protocol: 1 }), 6));
    assert.ok(ruleForFamily(rule('Allow', { notProtocol: 'ICMP' }), 6), 'notProtocol implies nothing');
  });

  it('a nets list with no CIDR of the packet family drops the whole rule (§3.3)', () => {
    const r = rule('Allow', { source: { notNets: ['192.0.2.0/24'] } });
    assert.ok(matches(r, wanIn(80)));
    assert.equal(matches(r, v6In()), false, 'v4 notNets does not mean "any" for v6');
    assert.equal(matches(rule('Allow', { destination: { nets: ['fd00::/8'] } }), wanIn(80)), false);
  });

  it('protocol and notProtocol (§3.2)', () => {
    assert.ok(matches(rule('Allow', { protocol: 'TCP' }), wanIn(80)));
    assert.equal(matches(rule('Allow', { protocol: 'UDP' }), wanIn(80)), false);
    assert.equal(matches(rule('Allow', { notProtocol: 'TCP' }), wanIn(80)), false);
    assert.ok(matches(rule('Allow', { notProtocol: 47 }), wanIn(80)));
    assert.ok(matches(rule('Allow', { protocol: 47 }), wanIn(-1, { proto: 47, sport: null, dport: null })));
  });

  it('nets: any CIDR; notNets: none of them (§3.2)', () => {
    assert.ok(matches(rule('Allow', { source: { nets: ['10.0.0.0/8', '198.51.100.0/24'] } }), wanIn(80)));
    assert.equal(matches(rule('Allow', { source: { nets: ['10.0.0.0/8'] } }), wanIn(80)), false);
    assert.equal(matches(rule('Allow', { source: { notNets: ['10.0.0.0/8', '198.51.100.0/24'] } }), wanIn(80)), false);
    assert.ok(matches(rule('Allow', { destination: { nets: ['203.0.113.1/32'] } }), wanIn(80)));
  });

  it('selector matches the addresses of HEPs (expectedIPs), WEPs (ipNetworks) and network sets (§3.2)', () => {
    const init: ResourceInit = {
      hostEndpoints: [hep('h', { labels: { r: 'x' }, node: 'elsewhere', interfaceName: 'eth9', expectedIPs: ['198.51.100.7'] })],
      workloadEndpoints: [wep('w', { labels: { r: 'x' }, ipNetworks: ['10.65.0.2/32'] })],
      networkSets: [gns('s', { r: 'x' }, ['192.0.2.0/24'])],
    };
    const r = rule('Allow', { source: { selector: "r == 'x'" } });
    assert.ok(matches(r, wanIn(80), init));
    assert.ok(matches(r, wanIn(80, { src: '10.65.0.2' }), init));
    assert.ok(matches(r, wanIn(80, { src: '192.0.2.200' }), init));
    assert.equal(matches(r, wanIn(80, { src: '198.51.100.8' }), init), false);
  });

  it('a selector whose objects have no addresses never matches; a HEP without expectedIPs contributes none (§3.2)', () => {
    const init: ResourceInit = { hostEndpoints: [hep('h', { labels: { r: 'x' }, interfaceName: 'eth0' })] };
    assert.equal(matches(rule('Allow', { source: { selector: "r == 'x'" } }), wanIn(80), init), false);
    assert.equal(matches(rule('Allow', { source: { selector: 'all()' } }), wanIn(80)), false, 'all() is not "any packet"');
  });

  it('notSelector alone: unknown addresses satisfy it (§3.2, SEL-07)', () => {
    const init: ResourceInit = { networkSets: [gns('partners', { role: 'partner' }, ['198.51.100.0/24'])] };
    const r = rule('Allow', { source: { notSelector: "role == 'partner'" } });
    assert.equal(matches(r, wanIn(80), init), false);
    assert.ok(matches(r, wanIn(80, { src: '192.0.2.9' }), init));
  });

  it('selector + notSelector on one side combine over labels: an address also owned by an excluded object still matches (§3.2)', () => {
    const init: ResourceInit = {
      networkSets: [gns('wide', { zone: 'a' }, ['198.51.100.0/24']), gns('narrow', { zone: 'a', bad: 'yes' }, ['198.51.100.7/32'])],
    };
    const r = rule('Allow', { source: { selector: "zone == 'a'", notSelector: "bad == 'yes'" } });
    assert.ok(matches(r, wanIn(80), init), 'in "wide", which matches the combined selector');
    const onlyBad: ResourceInit = { networkSets: [gns('narrow', { zone: 'a', bad: 'yes' }, ['198.51.100.7/32'])] };
    assert.equal(matches(r, wanIn(80), onlyBad), false);
  });

  it('namespaceSelector global() restricts to HEPs and network sets (§2.5, SEL-11)', () => {
    const init: ResourceInit = {
      workloadEndpoints: [wep('w', { labels: { app: 'x' }, ipNetworks: ['198.51.100.7/32'] })],
      networkSets: [gns('s', { app: 'x' }, ['192.0.2.0/24'])],
    };
    const r = rule('Allow', { source: { selector: "app == 'x'", namespaceSelector: 'global()' } });
    assert.equal(matches(r, wanIn(80), init), false, 'WEP address excluded');
    assert.ok(matches(r, wanIn(80, { src: '192.0.2.1' }), init));
    const alone = rule('Allow', { source: { namespaceSelector: 'global()' } });
    assert.ok(matches(alone, wanIn(80, { src: '192.0.2.1' }), init), 'global() alone = every HEP/GNS address');
    assert.equal(matches(alone, wanIn(80), init), false);
  });

  it('selector address sets are per family (§3.3)', () => {
    const init: ResourceInit = { networkSets: [gns('s', { r: 'x' }, ['198.51.100.0/24', '2001:db8:200::/48'])] };
    const r = rule('Allow', { source: { selector: "r == 'x'" } });
    assert.ok(matches(r, v6In(), init));
    assert.equal(matches(r, v6In({ src: '2001:db8:300::1' }), init), false);
  });

  it('ports: single ports and inclusive ranges, ORed; source ports use sport (§3.4)', () => {
    const r = rule('Allow', { protocol: 'TCP', destination: { ports: [port(22), range(1024, 2048)] } });
    assert.ok(matches(r, wanIn(22)));
    assert.ok(matches(r, wanIn(1024)));
    assert.ok(matches(r, wanIn(2048)));
    assert.equal(matches(r, wanIn(2049)), false);
    assert.ok(matches(rule('Allow', { protocol: 'TCP', source: { ports: [port(40000)] } }), wanIn(80)));
  });

  it('notPorts: none may match (§3.4)', () => {
    const r = rule('Allow', { protocol: 'TCP', destination: { notPorts: [range(8000, 8999)] } });
    assert.equal(matches(r, wanIn(8080)), false);
    assert.ok(matches(r, wanIn(7999)));
  });

  it('a packet without ports never matches a port list (§3.4)', () => {
    const r = rule('Allow', { destination: { ports: [named('web')] } });
    const init: ResourceInit = { hostEndpoints: [hep('h', { expectedIPs: ['203.0.113.1'], ports: [{ name: 'web', protocol: 'TCP', port: 80 }] })] };
    assert.equal(matches(r, wanIn(-1, { proto: 'ICMP', sport: null, dport: null, icmpType: 8, icmpCode: 0 }), init), false);
    assert.ok(matches(rule('Allow', { destination: { notPorts: [named('web')] } }), wanIn(-1, { proto: 47, sport: null, dport: null }), init));
  });

  it('named ports: (endpoint expectedIP, protocol, port) only — other local addresses do not match (§3.5, NPORT-02)', () => {
    const init: ResourceInit = { hostEndpoints: [hep('h', { interfaceName: 'eth0', expectedIPs: ['203.0.113.1'], ports: [{ name: 'https-alt', protocol: 'TCP', port: 8443 }] })] };
    const r = rule('Allow', { protocol: 'TCP', destination: { ports: [named('https-alt')] } });
    assert.ok(matches(r, wanIn(8443), init));
    assert.equal(matches(r, wanIn(8443, { dst: '203.0.113.2' }), init), false);
    assert.equal(matches(r, wanIn(8444), init), false);
  });

  it('named ports are filtered by the rule protocol; without one the port protocol must equal the packet protocol (§3.5)', () => {
    const init: ResourceInit = { hostEndpoints: [hep('h', { expectedIPs: ['203.0.113.1'], ports: [{ name: 'dns', protocol: 'UDP', port: 53 }] })] };
    const udp = wanIn(53, { proto: 'UDP' });
    assert.equal(matches(rule('Allow', { protocol: 'TCP', destination: { ports: [named('dns')] } }), wanIn(53), init), false);
    assert.ok(matches(rule('Allow', { destination: { ports: [named('dns')] } }), udp, init));
    assert.equal(matches(rule('Allow', { destination: { ports: [named('dns')] } }), wanIn(53), init), false, 'TCP packet, UDP port');
  });

  it('named ports come from every endpoint (WEPs too) and are restricted by the positive selector (§3.5)', () => {
    const init: ResourceInit = {
      hostEndpoints: [hep('h', { labels: { role: 'gw' }, expectedIPs: ['203.0.113.1'], ports: [{ name: 'web', protocol: 'TCP', port: 8080 }] })],
      workloadEndpoints: [wep('w', { labels: { role: 'app' }, ipNetworks: ['10.65.0.2/32'], ports: [{ name: 'web', protocol: 'TCP', port: 80 }] })],
    };
    const any = rule('Allow', { protocol: 'TCP', destination: { ports: [named('web')] } });
    assert.ok(matches(any, wanIn(80, { dst: '10.65.0.2' }), init));
    assert.ok(matches(any, wanIn(8080), init));
    const gwOnly = rule('Allow', { protocol: 'TCP', destination: { selector: "role == 'gw'", ports: [named('web')] } });
    assert.equal(matches(gwOnly, wanIn(80, { dst: '10.65.0.2' }), init), false);
    assert.ok(matches(gwOnly, wanIn(8080), init));
  });

  it('numeric and named ports in one list are ORed (§3.2)', () => {
    const init: ResourceInit = { hostEndpoints: [hep('h', { expectedIPs: ['203.0.113.1'], ports: [{ name: 'web', protocol: 'TCP', port: 8080 }] })] };
    const r = rule('Allow', { protocol: 'TCP', destination: { ports: [port(22), named('web')] } });
    assert.ok(matches(r, wanIn(22), init));
    assert.ok(matches(r, wanIn(8080), init));
    assert.equal(matches(r, wanIn(8081), init), false);
  });

  it('nets and selector on one side must both match (§3.2)', () => {
    const init: ResourceInit = { networkSets: [gns('admins', { role: 'admin' }, ['10.0.1.200/32', '10.0.2.0/24'])] };
    const r = rule('Allow', { source: { nets: ['10.0.1.0/24'], selector: "role == 'admin'" } });
    assert.ok(matches(r, wanIn(80, { src: '10.0.1.200' }), init));
    assert.equal(matches(r, wanIn(80, { src: '10.0.2.5' }), init), false);
    assert.equal(matches(r, wanIn(80, { src: '10.0.1.201' }), init), false);
  });

  it('icmp type alone matches any code; type+code both (§3.6)', () => {
    const ping = (code: number): PacketInit => wanIn(-1, { proto: 'ICMP', sport: null, dport: null, icmpType: 8, icmpCode: code });
    assert.ok(matches(rule('Allow', { protocol: 'ICMP', icmp: { type: 8 } }), ping(3)));
    assert.ok(matches(rule('Allow', { protocol: 'ICMP', icmp: { type: 8, code: 0 } }), ping(0)));
    assert.equal(matches(rule('Allow', { protocol: 'ICMP', icmp: { type: 8, code: 0 } }), ping(1)), false);
    assert.equal(matches(rule('Allow', { protocol: 'ICMP', icmp: { type: 0 } }), ping(0)), false);
  });

  it('notICMP negates the type/code test but still requires ICMP (§3.6)', () => {
    const icmp = (type: number): PacketInit => wanIn(-1, { proto: 'ICMP', sport: null, dport: null, icmpType: type, icmpCode: 0 });
    const r = rule('Allow', { protocol: 'ICMP', notICMP: { type: 8 } });
    assert.equal(matches(r, icmp(8)), false);
    assert.ok(matches(r, icmp(0)));
    assert.equal(matches(rule('Allow', { notICMP: { type: 8 } }), wanIn(80)), false, 'TCP is not ICMP');
  });

  it('ICMP rules never match ICMPv6 packets (§3.6)', () => {
    const nd: PacketInit = { path: 'local-in', iif: 'eth0', proto: 'ICMPv6', src: 'fe80::1', dst: 'ff02::1', icmpType: 8, icmpCode: 0 };
    assert.equal(matches(rule('Allow', { protocol: 'ICMP', icmp: { type: 8 } }), nd), false);
    assert.equal(matches(rule('Allow', { protocol: 1, icmp: { type: 8 } }), nd), false);
    assert.ok(matches(rule('Allow', { protocol: 'ICMPv6', icmp: { type: 8 } }), nd));
  });
});
