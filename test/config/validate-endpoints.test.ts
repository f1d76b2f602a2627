import { strict as assert } from 'node:assert';
import { assertIssues, hep, resource, run } from './config-helpers';

interface EndpointCase {
  name: string;
  docs: unknown[];
  issues: string[];
}

const wep = (spec: unknown, name = 'w', metadata: Record<string, unknown> = {}) => resource('WorkloadEndpoint', name, spec, metadata);

const cases: EndpointCase[] = [
  // HostEndpoint
  { name: 'HEP with interface', docs: [hep({ node: 'gw1', interfaceName: 'eth0' })], issues: [] },
  { name: 'HEP with expectedIPs only', docs: [hep({ node: 'gw1', expectedIPs: ['10.0.0.1', 'fd00::1'] })], issues: [] },
  { name: 'HEP for all interfaces', docs: [hep({ node: 'gw1', interfaceName: '*' })], issues: [] },
  { name: 'HEP interface with dots and dashes', docs: [hep({ node: 'gw1', interfaceName: 'br-lan.100' })], issues: [] },
  { name: 'HEP without node', docs: [hep({ interfaceName: 'eth0' })], issues: ['NFQ_CFG_REQUIRED@spec.node'] },
  { name: 'HEP with empty node', docs: [hep({ node: '', interfaceName: 'eth0' })], issues: ['NFQ_CFG_REQUIRED@spec.node'] },
  { name: 'HEP without spec', docs: [resource('HostEndpoint', 'h')], issues: ['NFQ_CFG_REQUIRED@spec.node', 'NFQ_CFG_HEP_NO_INTERFACE@spec'] },
  { name: 'HEP node must be a DNS name', docs: [hep({ node: 'GW_1', interfaceName: 'eth0' })], issues: ['NFQ_CFG_NAME@spec.node'] },
  { name: 'HEP without interface or IPs', docs: [hep({ node: 'gw1' })], issues: ['NFQ_CFG_HEP_NO_INTERFACE@spec'] },
  { name: 'HEP with empty interface and IPs', docs: [hep({ node: 'gw1', interfaceName: '', expectedIPs: [] })], issues: ['NFQ_CFG_HEP_NO_INTERFACE@spec.interfaceName'] },
  { name: 'HEP interface name too long', docs: [hep({ node: 'gw1', interfaceName: 'a-very-long-ifname' })], issues: ['NFQ_CFG_INTERFACE_NAME@spec.interfaceName'] },
  { name: 'HEP interface wildcard pattern', docs: [hep({ node: 'gw1', interfaceName: 'eth*' })], issues: ['NFQ_CFG_INTERFACE_NAME@spec.interfaceName'] },
  { name: 'HEP expectedIPs with a prefix', docs: [hep({ node: 'gw1', expectedIPs: ['10.0.0.1/32'] })], issues: ['NFQ_CFG_IP_ADDRESS@spec.expectedIPs[0]'] },
  { name: 'HEP expectedIPs garbage', docs: [hep({ node: 'gw1', expectedIPs: ['10.0.0.1', 'gw1'] })], issues: ['NFQ_CFG_IP_ADDRESS@spec.expectedIPs[1]'] },
  { name: 'HEP expectedIPs must be strings', docs: [hep({ node: 'gw1', expectedIPs: [17] })], issues: ['NFQ_CFG_TYPE@spec.expectedIPs[0]'] },
  { name: 'HEP unknown field', docs: [hep({ node: 'gw1', interface: 'eth0', interfaceName: 'eth0' })], issues: ['NFQ_CFG_UNKNOWN_FIELD@spec.interface'] },
  { name: 'HEP profile name invalid', docs: [hep({ node: 'gw1', interfaceName: 'eth0', profiles: ['Bad_Profile'] })], issues: ['NFQ_CFG_NAME@spec.profiles[0]'] },
  { name: 'HEP missing profile is a warning', docs: [hep({ node: 'gw1', interfaceName: 'eth0', profiles: ['nope'] })], issues: ['NFQ_CFG_PROFILE_MISSING@spec.profiles[0]'] },
  {
    name: 'HEP profile defined elsewhere',
    docs: [hep({ node: 'gw1', interfaceName: 'eth0', profiles: ['edge', 'projectcalico-default-allow'] }), resource('Profile', 'edge', {})],
    issues: [],
  },
  { name: 'HEP named port', docs: [hep({ node: 'gw1', interfaceName: 'eth0', ports: [{ name: 'https', protocol: 'TCP', port: 443 }] })], issues: [] },
  { name: 'HEP named port lower-case protocol', docs: [hep({ node: 'gw1', interfaceName: 'eth0', ports: [{ name: 'dns', protocol: 'udp', port: 53 }] })], issues: [] },
  {
    name: 'HEP port protocol without ports',
    docs: [hep({ node: 'gw1', interfaceName: 'eth0', ports: [{ name: 'ping', protocol: 'ICMP', port: 1 }] })],
    issues: ['NFQ_CFG_ENDPOINT_PORT@spec.ports[0].protocol'],
  },
  { name: 'HEP port 0', docs: [hep({ node: 'gw1', interfaceName: 'eth0', ports: [{ name: 'x', protocol: 'TCP', port: 0 }] })], issues: ['NFQ_CFG_ENDPOINT_PORT@spec.ports[0].port'] },
  {
    name: 'HEP port name upper case',
    docs: [hep({ node: 'gw1', interfaceName: 'eth0', ports: [{ name: 'HTTPS', protocol: 'TCP', port: 443 }] })],
    issues: ['NFQ_CFG_ENDPOINT_PORT@spec.ports[0].name'],
  },
  { name: 'HEP port without name', docs: [hep({ node: 'gw1', interfaceName: 'eth0', ports: [{ protocol: 'TCP', port: 443 }] })], issues: ['NFQ_CFG_ENDPOINT_PORT@spec.ports[0]'] },
  { name: 'HEP name may not contain _', docs: [hep({ node: 'gw1', interfaceName: 'eth0' }, 'gw1_eth0')], issues: ['NFQ_CFG_NAME@metadata.name'] },
  { name: 'HEP label value must be a string', docs: [hep({ node: 'gw1', interfaceName: 'eth0' }, 'h', { labels: { edge: true } })], issues: ['NFQ_CFG_TYPE@metadata.labels.edge'] },
  { name: 'HEP namespace is not allowed', docs: [hep({ node: 'gw1', interfaceName: 'eth0' }, 'h', { namespace: 'default' })], issues: ['NFQ_CFG_NAMESPACE@metadata.namespace'] },

  // WorkloadEndpoint
  {
    name: 'WEP as the orchestrator writes it',
    docs: [
      wep(
        {
          node: 'gw1',
          orchestrator: 'k8s',
          pod: 'web',
          endpoint: 'eth0',
          workload: '',
          containerID: 'abc123',
          interfaceName: 'cali123',
          ipNetworks: ['10.65.0.2/32', 'fd00:65::2'],
          profiles: ['projectcalico-default-allow'],
          ports: [{ name: 'http', protocol: 'TCP', port: 80, hostPort: 8080, hostIP: '0.0.0.0' }],
          mac: '02:00:00:00:00:01',
          ipNATs: [{ internalIP: '10.65.0.2', externalIP: '203.0.113.9' }],
          ipv4Gateway: '169.254.1.1',
        },
        'gw1-k8s-web-eth0',
        { namespace: 'default', labels: { app: 'web' } },
      ),
    ],
    issues: [],
  },
  { name: 'WEP ipNetworks with host bits', docs: [wep({ node: 'gw1', ipNetworks: ['10.65.0.2/24'] })], issues: ['NFQ_CFG_CIDR@spec.ipNetworks[0]'] },
  { name: 'WEP interface * is not allowed', docs: [wep({ node: 'gw1', interfaceName: '*' })], issues: ['NFQ_CFG_INTERFACE_NAME@spec.interfaceName'] },
  { name: 'WEP port without a name is fine', docs: [wep({ node: 'gw1', ports: [{ protocol: 'TCP', port: 80, hostPort: 80 }] })], issues: [] },
  { name: 'WEP unknown field', docs: [wep({ node: 'gw1', ipNetwork: ['10.0.0.1'] })], issues: ['NFQ_CFG_UNKNOWN_FIELD@spec.ipNetwork'] },
  { name: 'WEP bad gateway', docs: [wep({ node: 'gw1', ipv4Gateway: 'fe80::1' })], issues: ['NFQ_CFG_IP_ADDRESS@spec.ipv4Gateway'] },
  { name: 'WEP missing profile warns', docs: [wep({ node: 'gw1', profiles: ['kns.default'] })], issues: ['NFQ_CFG_PROFILE_MISSING@spec.profiles[0]'] },
  {
    name: 'WEPs in different namespaces may share a name',
    docs: [wep({ node: 'gw1' }, 'w', { namespace: 'a' }), wep({ node: 'gw1' }, 'w', { namespace: 'b' })],
    issues: [],
  },
  {
    name: 'WEPs in one namespace may not',
    docs: [wep({ node: 'gw1' }, 'w'), wep({ node: 'gw1' }, 'w', { namespace: 'default' })],
    issues: ['NFQ_CFG_DUPLICATE_NAME@metadata.name'],
  },
];

describe('config: HostEndpoint and WorkloadEndpoint', () => {
  for (const c of cases) {
    it(c.name, () => assertIssues(run(...c.docs).all, c.issues));
  }

  it('HEP output: defaults and canonical addresses', () => {
    const r = run(hep({ node: 'gw1', expectedIPs: ['2001:DB8::0:1'] }, 'h', { labels: { network: 'wan' } }));
    assertIssues(r.all, []);
    const h = r.resources.hostEndpoints[0]!;
    assert.deepEqual(
      { name: h.name, labels: h.labels, node: h.node, iface: h.interfaceName, ips: h.expectedIPs, profiles: h.profiles, ports: h.ports },
      { name: 'h', labels: { network: 'wan' }, node: 'gw1', iface: '', ips: ['2001:db8::1'], profiles: [], ports: [] },
    );
  });

  it('HEP named ports are normalised', () => {
    const r = run(hep({ node: 'gw1', interfaceName: 'eth0', ports: [{ name: 'dns', protocol: 'udp', port: 53 }, { name: 'ssh', protocol: 6, port: 22 }] }));
    assert.deepEqual(r.resources.hostEndpoints[0]!.ports, [
      { name: 'dns', protocol: 'UDP', port: 53 },
      { name: 'ssh', protocol: 'TCP', port: 22 },
    ]);
  });

  it('WEP output: namespace defaults to default', () => {
    const r = run(wep({ node: 'gw1', interfaceName: 'cali1', ipNetworks: ['10.65.0.2'] }));
    assertIssues(r.all, []);
    const w = r.resources.workloadEndpoints[0]!;
    assert.deepEqual([w.namespace, w.node, w.interfaceName, w.ipNetworks], ['default', 'gw1', 'cali1', ['10.65.0.2/32']]);
  });
});
