import { strict as assert } from 'node:assert';
import type { Rule } from '../../src/config';
import { assertIssues, ingressRule, run } from './config-helpers';

interface RuleCase {
  name: string;
  rule: Record<string, unknown>;
  /** Expected issues as CODE@path; empty = valid. */
  issues: string[];
  /** Checks on the validated rule (valid cases only). */
  check?: (r: Rule) => void;
}

const R = 'spec.ingress[0]';

const cases: RuleCase[] = [
  // action
  { name: 'minimal allow rule', rule: { action: 'Allow' }, issues: [], check: (r) => assert.equal(r.action, 'Allow') },
  { name: 'each action is accepted: Deny', rule: { action: 'Deny' }, issues: [] },
  { name: 'each action is accepted: Log', rule: { action: 'Log' }, issues: [] },
  { name: 'each action is accepted: Pass', rule: { action: 'Pass' }, issues: [] },
  { name: 'action is required', rule: { protocol: 'TCP' }, issues: [`NFQ_CFG_REQUIRED@${R}`] },
  { name: 'action is case-sensitive', rule: { action: 'allow' }, issues: [`NFQ_CFG_RULE_ACTION@${R}.action`] },
  { name: 'unknown action', rule: { action: 'Accept' }, issues: [`NFQ_CFG_RULE_ACTION@${R}.action`] },
  { name: 'unknown rule field', rule: { action: 'Allow', proto: 'TCP' }, issues: [`NFQ_CFG_UNKNOWN_FIELD@${R}.proto`] },

  // ipVersion
  { name: 'ipVersion 6', rule: { action: 'Allow', ipVersion: 6 }, issues: [], check: (r) => assert.equal(r.ipVersion, 6) },
  { name: 'ipVersion must be 4 or 6', rule: { action: 'Allow', ipVersion: 5 }, issues: [`NFQ_CFG_IP_VERSION@${R}.ipVersion`] },
  { name: 'ipVersion as a string is rejected', rule: { action: 'Allow', ipVersion: '4' }, issues: [`NFQ_CFG_IP_VERSION@${R}.ipVersion`] },

  // protocol
  { name: 'protocol by name', rule: { action: 'Allow', protocol: 'UDPLite' }, issues: [], check: (r) => assert.deepEqual([r.protocol, r.protocolName], [136, 'UDPLite']) },
  { name: 'protocol number', rule: { action: 'Allow', protocol: 47 }, issues: [], check: (r) => assert.deepEqual([r.protocol, r.protocolName], [47, undefined]) },
  { name: 'numeric protocol string is a number', rule: { action: 'Allow', protocol: '6' }, issues: [], check: (r) => assert.equal(r.protocol, 6) },
  { name: 'protocol 255 is the maximum', rule: { action: 'Allow', protocol: 255 }, issues: [] },
  { name: 'protocol 0 is invalid', rule: { action: 'Allow', protocol: 0 }, issues: [`NFQ_CFG_PROTOCOL@${R}.protocol`] },
  { name: 'protocol 256 is invalid', rule: { action: 'Allow', protocol: 256 }, issues: [`NFQ_CFG_PROTOCOL@${R}.protocol`] },
  { name: 'protocol names are case-sensitive (tcp)', rule: { action: 'Allow', protocol: 'tcp' }, issues: [`NFQ_CFG_PROTOCOL@${R}.protocol`] },
  { name: 'protocol names are case-sensitive (icmpv6)', rule: { action: 'Allow', protocol: 'icmpv6' }, issues: [`NFQ_CFG_PROTOCOL@${R}.protocol`] },
  { name: 'unknown protocol name', rule: { action: 'Allow', protocol: 'GRE' }, issues: [`NFQ_CFG_PROTOCOL@${R}.protocol`] },
  { name: 'notProtocol by name', rule: { action: 'Allow', notProtocol: 'TCP' }, issues: [], check: (r) => assert.equal(r.notProtocol, 6) },
  { name: 'notProtocol name is case-sensitive', rule: { action: 'Allow', notProtocol: 'Udp' }, issues: [`NFQ_CFG_PROTOCOL@${R}.notProtocol`] },

  // ICMP
  { name: 'icmp type and code', rule: { action: 'Allow', protocol: 'ICMP', icmp: { type: 3, code: 4 } }, issues: [], check: (r) => assert.deepEqual(r.icmp, { type: 3, code: 4 }) },
  { name: 'icmp type only', rule: { action: 'Allow', protocol: 1, icmp: { type: 8 } }, issues: [], check: (r) => assert.deepEqual(r.icmp, { type: 8 }) },
  { name: 'icmp type 254 is the maximum', rule: { action: 'Allow', protocol: 'ICMP', icmp: { type: 254 } }, issues: [] },
  { name: 'icmp type 255 is invalid', rule: { action: 'Allow', protocol: 'ICMP', icmp: { type: 255 } }, issues: [`NFQ_CFG_ICMP_RANGE@${R}.icmp.type`] },
  { name: 'icmp code 256 is invalid', rule: { action: 'Allow', protocol: 'ICMP', icmp: { type: 3, code: 256 } }, issues: [`NFQ_CFG_ICMP_RANGE@${R}.icmp.code`] },
  { name: 'icmp code without type', rule: { action: 'Allow', protocol: 'ICMP', icmp: { code: 0 } }, issues: [`NFQ_CFG_ICMP_CODE_WITHOUT_TYPE@${R}.icmp.code`] },
  { name: 'notICMP code without type', rule: { action: 'Allow', protocol: 'ICMP', notICMP: { code: 1 } }, issues: [`NFQ_CFG_ICMP_CODE_WITHOUT_TYPE@${R}.notICMP.code`] },
  { name: 'icmp requires protocol', rule: { action: 'Allow', icmp: { type: 8 } }, issues: [`NFQ_CFG_ICMP_PROTOCOL@${R}.icmp`] },
  { name: 'icmp requires an ICMP protocol', rule: { action: 'Allow', protocol: 'TCP', icmp: { type: 8 } }, issues: [`NFQ_CFG_ICMP_PROTOCOL@${R}.icmp`] },
  { name: 'notICMP requires an ICMP protocol too', rule: { action: 'Allow', notICMP: { type: 8 } }, issues: [`NFQ_CFG_ICMP_PROTOCOL@${R}.notICMP`] },
  { name: 'icmp with ICMPv6 by number', rule: { action: 'Allow', protocol: 58, icmp: { type: 128 } }, issues: [] },
  { name: 'ICMP with ipVersion 6', rule: { action: 'Allow', protocol: 'ICMP', ipVersion: 6 }, issues: [`NFQ_CFG_ICMP_IP_VERSION@${R}.protocol`] },
  { name: 'ICMPv6 with ipVersion 4', rule: { action: 'Allow', protocol: 'ICMPv6', ipVersion: 4 }, issues: [`NFQ_CFG_ICMP_IP_VERSION@${R}.protocol`] },
  { name: 'protocol 1 with ipVersion 6', rule: { action: 'Allow', protocol: 1, ipVersion: 6 }, issues: [`NFQ_CFG_ICMP_IP_VERSION@${R}.protocol`] },
  { name: 'notProtocol ICMPv6 with ipVersion 4', rule: { action: 'Allow', notProtocol: 'ICMPv6', ipVersion: 4 }, issues: [`NFQ_CFG_ICMP_IP_VERSION@${R}.notProtocol`] },
  { name: 'unknown icmp field', rule: { action: 'Allow', protocol: 'ICMP', icmp: { type: 8, typ: 1 } }, issues: [`NFQ_CFG_UNKNOWN_FIELD@${R}.icmp.typ`] },

  // ports
  {
    name: 'ports: number, numeric string, range, named',
    rule: { action: 'Allow', protocol: 'TCP', destination: { ports: [22, '80', '1024:2048', 'https'] } },
    issues: [],
    check: (r) =>
      assert.deepEqual(r.destination.ports, [
        { kind: 'range', min: 22, max: 22 },
        { kind: 'range', min: 80, max: 80 },
        { kind: 'range', min: 1024, max: 2048 },
        { kind: 'named', name: 'https' },
      ]),
  },
  { name: 'port 0 is invalid', rule: { action: 'Allow', protocol: 'TCP', destination: { ports: [0] } }, issues: [`NFQ_CFG_PORT@${R}.destination.ports[0]`] },
  { name: 'port 65536 is invalid', rule: { action: 'Allow', protocol: 'TCP', destination: { ports: [65536] } }, issues: [`NFQ_CFG_PORT@${R}.destination.ports[0]`] },
  { name: 'range with 0 is invalid', rule: { action: 'Allow', protocol: 'TCP', destination: { ports: ['0:10'] } }, issues: [`NFQ_CFG_PORT@${R}.destination.ports[0]`] },
  { name: 'reversed range is invalid', rule: { action: 'Allow', protocol: 'UDP', source: { ports: [53, '2000:1000'] } }, issues: [`NFQ_CFG_PORT@${R}.source.ports[1]`] },
  { name: 'range above 65535 is invalid', rule: { action: 'Allow', protocol: 'UDP', source: { ports: ['1:70000'] } }, issues: [`NFQ_CFG_PORT@${R}.source.ports[0]`] },
  { name: 'bad named port', rule: { action: 'Allow', destination: { ports: ['HTTPS'] } }, issues: [`NFQ_CFG_PORT@${R}.destination.ports[0]`] },
  { name: 'named port needs a letter', rule: { action: 'Allow', destination: { ports: ['80-81'] } }, issues: [`NFQ_CFG_PORT@${R}.destination.ports[0]`] },
  { name: 'port as a map', rule: { action: 'Allow', protocol: 'TCP', destination: { ports: [{ port: 22 }] } }, issues: [`NFQ_CFG_TYPE@${R}.destination.ports[0]`] },
  { name: 'named ports need no protocol', rule: { action: 'Allow', destination: { ports: ['ssh'] } }, issues: [] },
  { name: 'numeric port needs a protocol', rule: { action: 'Allow', destination: { ports: ['ssh', 22] } }, issues: [`NFQ_CFG_PORT_PROTOCOL@${R}.destination.ports[1]`] },
  { name: 'numeric notPorts need a protocol', rule: { action: 'Allow', source: { notPorts: ['1:1023'] } }, issues: [`NFQ_CFG_PORT_PROTOCOL@${R}.source.notPorts[0]`] },
  { name: 'notProtocol does not satisfy the port rule', rule: { action: 'Allow', notProtocol: 'TCP', destination: { ports: [22] } }, issues: [`NFQ_CFG_PORT_PROTOCOL@${R}.destination.ports[0]`] },
  { name: 'ports with ICMP are invalid', rule: { action: 'Allow', protocol: 'ICMP', destination: { ports: [22] } }, issues: [`NFQ_CFG_PORT_PROTOCOL@${R}.destination.ports`] },
  { name: 'named ports with UDPLite are invalid', rule: { action: 'Allow', protocol: 'UDPLite', destination: { ports: ['dns'] } }, issues: [`NFQ_CFG_PORT_PROTOCOL@${R}.destination.ports`] },
  { name: 'ports with SCTP by number', rule: { action: 'Allow', protocol: 132, destination: { ports: [3868] } }, issues: [] },
  { name: 'more than 50 ports', rule: { action: 'Allow', protocol: 'TCP', destination: { ports: Array.from({ length: 51 }, (_, i) => i + 1) } }, issues: [`NFQ_CFG_TOO_LONG@${R}.destination.ports`] },

  // nets
  { name: 'nets with CIDRs', rule: { action: 'Allow', source: { nets: ['10.0.0.0/8', '192.0.2.7/32'] } }, issues: [], check: (r) => assert.deepEqual(r.source.nets, ['10.0.0.0/8', '192.0.2.7/32']) },
  { name: 'IPv6 nets are canonicalised', rule: { action: 'Allow', destination: { nets: ['2001:DB8:0::/32'] } }, issues: [], check: (r) => assert.deepEqual(r.destination.nets, ['2001:db8::/32']) },
  { name: 'bare IP in nets', rule: { action: 'Allow', source: { nets: ['10.0.0.5'] } }, issues: [`NFQ_CFG_CIDR@${R}.source.nets[0]`] },
  { name: 'host bits in nets', rule: { action: 'Allow', source: { nets: ['10.0.0.5/8'] } }, issues: [`NFQ_CFG_CIDR@${R}.source.nets[0]`] },
  { name: 'garbage in notNets', rule: { action: 'Allow', source: { notNets: ['ten.0.0.0/8'] } }, issues: [`NFQ_CFG_CIDR@${R}.source.notNets[0]`] },
  { name: 'prefix too long', rule: { action: 'Allow', source: { nets: ['10.0.0.0/33'] } }, issues: [`NFQ_CFG_CIDR@${R}.source.nets[0]`] },
  { name: 'notNets catch-all IPv4', rule: { action: 'Deny', destination: { notNets: ['0.0.0.0/0'] } }, issues: [`NFQ_CFG_NOTNETS_CATCH_ALL@${R}.destination.notNets[0]`] },
  { name: 'notNets catch-all IPv6', rule: { action: 'Deny', destination: { notNets: ['::/0'] } }, issues: [`NFQ_CFG_NOTNETS_CATCH_ALL@${R}.destination.notNets[0]`] },
  { name: 'nets catch-all is fine', rule: { action: 'Deny', destination: { nets: ['0.0.0.0/0'] } }, issues: [] },
  { name: 'both families in one list', rule: { action: 'Allow', source: { nets: ['10.0.0.0/8', 'fd00::/8'] } }, issues: [`NFQ_CFG_MIXED_IP_FAMILIES@${R}.source.nets[1]`] },
  { name: 'both families across sides', rule: { action: 'Allow', source: { nets: ['10.0.0.0/8'] }, destination: { notNets: ['fd00::/8'] } }, issues: [`NFQ_CFG_MIXED_IP_FAMILIES@${R}.destination.notNets[0]`] },
  { name: 'ipVersion disagrees with nets', rule: { action: 'Allow', ipVersion: 6, source: { nets: ['10.0.0.0/8'] } }, issues: [`NFQ_CFG_IP_VERSION_MISMATCH@${R}.source.nets[0]`] },
  { name: 'ipVersion agrees with nets', rule: { action: 'Allow', ipVersion: 6, source: { nets: ['fd00::/8'] } }, issues: [] },
  { name: 'nets must be a list', rule: { action: 'Allow', source: { nets: '10.0.0.0/8' } }, issues: [`NFQ_CFG_TYPE@${R}.source.nets`] },

  // selectors
  { name: 'rule selector', rule: { action: 'Allow', source: { selector: "role == 'admin'", notSelector: 'has(blocked)' } }, issues: [], check: (r) => assert.equal(r.source.selector, "role == 'admin'") },
  { name: 'rule selector syntax error', rule: { action: 'Allow', source: { selector: 'role == admin' } }, issues: [`NFQ_CFG_SELECTOR@${R}.source.selector`] },
  { name: 'notSelector syntax error', rule: { action: 'Allow', destination: { notSelector: 'has(x' } }, issues: [`NFQ_CFG_SELECTOR@${R}.destination.notSelector`] },
  { name: 'global() in rule selector', rule: { action: 'Allow', source: { selector: 'global()' } }, issues: [`NFQ_CFG_SELECTOR_GLOBAL@${R}.source.selector`] },
  { name: "global( inside a string literal counts", rule: { action: 'Allow', source: { selector: "a == 'global('" } }, issues: [`NFQ_CFG_SELECTOR_GLOBAL@${R}.source.selector`] },
  { name: 'namespaceSelector global()', rule: { action: 'Allow', source: { selector: 'all()', namespaceSelector: 'global()' } }, issues: [], check: (r) => assert.equal(r.source.namespaceSelector, 'global()') },
  { name: 'namespaceSelector global( ) normalised', rule: { action: 'Allow', source: { namespaceSelector: 'global( )' } }, issues: [], check: (r) => assert.equal(r.source.namespaceSelector, 'global()') },
  { name: 'namespaceSelector global() combined', rule: { action: 'Allow', source: { namespaceSelector: "global() && a == 'b'" } }, issues: [`NFQ_CFG_SELECTOR_GLOBAL@${R}.source.namespaceSelector`] },
  { name: 'namespaceSelector other values are not supported', rule: { action: 'Allow', source: { namespaceSelector: 'all()' } }, issues: [`NFQ_CFG_UNSUPPORTED@${R}.source.namespaceSelector`] },
  { name: 'serviceAccounts are not supported', rule: { action: 'Allow', source: { serviceAccounts: { names: ['a'] } } }, issues: [`NFQ_CFG_UNSUPPORTED@${R}.source.serviceAccounts`] },
  { name: 'services are not supported', rule: { action: 'Allow', destination: { services: { name: 'x', namespace: 'y' } } }, issues: [`NFQ_CFG_UNSUPPORTED@${R}.destination.services`] },
  { name: 'http is not supported', rule: { action: 'Allow', http: { methods: ['GET'] } }, issues: [`NFQ_CFG_UNSUPPORTED@${R}.http`] },
  { name: 'unknown entity field', rule: { action: 'Allow', destination: { port: [22] } }, issues: [`NFQ_CFG_UNKNOWN_FIELD@${R}.destination.port`] },

  // metadata
  { name: 'rule metadata annotations', rule: { action: 'Allow', metadata: { annotations: { 'example.com/why': 'ticket 42' } } }, issues: [] },
  { name: 'rule metadata unknown field', rule: { action: 'Allow', metadata: { labels: {} } }, issues: [`NFQ_CFG_UNKNOWN_FIELD@${R}.metadata.labels`] },
  { name: 'rule must be a map', rule: 'Allow' as unknown as Record<string, unknown>, issues: [`NFQ_CFG_TYPE@${R}`] },
];

describe('config: rules', () => {
  for (const c of cases) {
    it(c.name, () => {
      const r = run(ingressRule(c.rule));
      assertIssues(r.all, c.issues);
      if (c.issues.length === 0) {
        const rule = r.resources.policies[0]?.ingress[0];
        assert.ok(rule, 'the rule is in the ResourceSet');
        c.check?.(rule);
      } else {
        assert.equal(r.resources.policies.length, 0, 'an invalid policy is left out');
      }
    });
  }

  it('an empty rule side means no constraint', () => {
    const r = run(ingressRule({ action: 'Allow', source: {}, destination: null }));
    assertIssues(r.all, []);
    const rule = r.resources.policies[0]!.ingress[0]!;
    assert.deepEqual(rule.source, { nets: [], notNets: [], selector: '', notSelector: '', namespaceSelector: '', ports: [], notPorts: [] });
    assert.deepEqual(rule.destination, rule.source);
  });

  it('every bad rule of a policy is reported, not just the first', () => {
    const r = run({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'p' },
      spec: { ingress: [{ action: 'allow' }, { action: 'Allow', protocol: 'tcp' }], egress: [{ action: 'Deny', source: { nets: ['1.2.3.4'] } }] },
    });
    assertIssues(r.all, [
      'NFQ_CFG_RULE_ACTION@spec.ingress[0].action',
      'NFQ_CFG_PROTOCOL@spec.ingress[1].protocol',
      'NFQ_CFG_CIDR@spec.egress[0].source.nets[0]',
    ]);
  });

  it('a rule keeps where it was written', () => {
    const r = run(ingressRule({ action: 'Allow' }));
    const loc = r.resources.policies[0]!.ingress[0]!.origin.location;
    assert.equal(loc.file, 'test.yaml');
    assert.equal(loc.path, 'spec.ingress[0]');
    assert.ok(loc.line > 1);
  });
});
