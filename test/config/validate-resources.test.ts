import { strict as assert } from 'node:assert';
import { CFG, DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND } from '../../src/config';
import { assertIssues, gnp, hep, resource, run, runYaml, V3 } from './config-helpers';

interface DocCase {
  name: string;
  docs: unknown[];
  issues: string[];
}

const felix = (spec: unknown, name = 'default') => resource('FelixConfiguration', name, spec);
const gns = (spec: unknown, name = 'n', metadata: Record<string, unknown> = {}) => resource('GlobalNetworkSet', name, spec, metadata);
const tier = (spec: unknown, name = 't') => resource('Tier', name, spec);
const profile = (spec: unknown, name = 'pr') => resource('Profile', name, spec);
const okHep = { node: 'gw1', interfaceName: 'eth0' };

const cases: DocCase[] = [
  // envelope
  { name: 'apiVersion is required', docs: [{ kind: 'Tier', metadata: { name: 't' } }], issues: ['NFQ_CFG_API_VERSION@apiVersion'] },
  { name: 'apiVersion v1 is rejected', docs: [{ ...tier({}), apiVersion: 'projectcalico.org/v1' }], issues: ['NFQ_CFG_API_VERSION@apiVersion'] },
  { name: 'kind is required', docs: [{ apiVersion: V3, metadata: { name: 'x' } }], issues: ['NFQ_CFG_KIND_UNKNOWN@kind'] },
  { name: 'unknown kind', docs: [resource('Firewall', 'x', {})], issues: ['NFQ_CFG_KIND_UNKNOWN@kind'] },
  { name: 'kind case matters', docs: [resource('globalnetworkpolicy', 'x', {})], issues: ['NFQ_CFG_KIND_UNKNOWN@kind'] },
  { name: 'namespaced NetworkPolicy is not supported', docs: [resource('NetworkPolicy', 'x', {})], issues: ['NFQ_CFG_KIND_UNSUPPORTED@kind'] },
  { name: 'document must be a map', docs: ['just a string'], issues: ['NFQ_CFG_NOT_A_RESOURCE@'] },
  { name: 'unknown top-level field', docs: [{ ...tier({}), status: {} }], issues: [] },
  { name: 'unknown top-level field on a policy', docs: [{ ...gnp({}), status: {} }], issues: ['NFQ_CFG_UNKNOWN_FIELD@status'] },
  { name: 'spec must be a map, and nothing else is said about it', docs: [hep(['eth0'])], issues: ['NFQ_CFG_TYPE@spec'] },
  { name: 'metadata is required', docs: [{ apiVersion: V3, kind: 'Tier', spec: {} }], issues: ['NFQ_CFG_REQUIRED@metadata'] },
  { name: 'metadata.name is required', docs: [{ apiVersion: V3, kind: 'Tier', metadata: { labels: {} } }], issues: ['NFQ_CFG_REQUIRED@metadata.name'] },
  {
    name: 'read-only metadata fields are accepted',
    docs: [resource('Tier', 't', {}, { uid: 'abc', resourceVersion: '12', creationTimestamp: '2024-01-01T00:00:00Z', generation: 3 })],
    issues: [],
  },
  { name: 'unknown metadata field', docs: [resource('Tier', 't', {}, { label: { a: 'b' } })], issues: ['NFQ_CFG_UNKNOWN_FIELD@metadata.label'] },
  { name: 'name too long', docs: [hep(okHep, 'a'.repeat(254))], issues: ['NFQ_CFG_NAME@metadata.name'] },
  { name: 'subdomain name with dots', docs: [hep(okHep, 'gw1.eth0.v2')], issues: [] },
  { name: 'label with prefix', docs: [hep(okHep, 'h', { labels: { 'example.com/role': 'edge', 'app.kubernetes.io/name': 'x' } })], issues: [] },
  { name: 'empty label value', docs: [hep(okHep, 'h', { labels: { edge: '' } })], issues: [] },
  { name: 'bad label key', docs: [hep(okHep, 'h', { labels: { '-edge': 'x' } })], issues: ['NFQ_CFG_LABEL_KEY@metadata.labels["-edge"]'] },
  { name: 'bad label prefix', docs: [hep(okHep, 'h', { labels: { 'Example.com/x': 'y' } })], issues: ['NFQ_CFG_LABEL_KEY@metadata.labels["Example.com/x"]'] },
  { name: 'label name too long', docs: [hep(okHep, 'h', { labels: { ['a'.repeat(64)]: 'y' } })], issues: [`NFQ_CFG_LABEL_KEY@metadata.labels.${'a'.repeat(64)}`] },
  { name: 'bad label value', docs: [hep(okHep, 'h', { labels: { edge: 'yes please' } })], issues: ['NFQ_CFG_LABEL_VALUE@metadata.labels.edge'] },
  { name: 'labels must be a map', docs: [hep(okHep, 'h', { labels: ['edge'] })], issues: ['NFQ_CFG_TYPE@metadata.labels'] },
  { name: 'annotations', docs: [hep(okHep, 'h', { annotations: { 'Example.com/Note': 'free text, any characters!' } })], issues: [] },
  { name: 'bad annotation key', docs: [hep(okHep, 'h', { annotations: { 'a b': 'x' } })], issues: ['NFQ_CFG_ANNOTATION@metadata.annotations["a b"]'] },
  { name: 'annotations too large', docs: [hep(okHep, 'h', { annotations: { big: 'x'.repeat(256 * 1024) } })], issues: ['NFQ_CFG_ANNOTATION@metadata.annotations'] },

  // duplicates
  { name: 'duplicate HostEndpoint', docs: [hep(okHep), hep(okHep)], issues: ['NFQ_CFG_DUPLICATE_NAME@metadata.name'] },
  { name: 'same name, different kinds', docs: [hep(okHep, 'x'), gnp({}, 'x'), tier({}, 'x'), gns({}, 'x'), profile({}, 'x')], issues: [] },
  { name: 'duplicate Tier', docs: [tier({ order: 1 }), tier({ order: 2 })], issues: ['NFQ_CFG_DUPLICATE_NAME@metadata.name'] },
  { name: 'duplicate FelixConfiguration', docs: [felix({}), felix({})], issues: ['NFQ_CFG_DUPLICATE_NAME@metadata.name'] },

  // GlobalNetworkSet
  { name: 'GNS with CIDRs, bare IPs, both families, /0', docs: [gns({ nets: ['10.0.0.0/8', '192.0.2.7', 'fd00::/8', '0.0.0.0/0'] })], issues: [] },
  { name: 'GNS without nets', docs: [gns({})], issues: [] },
  { name: 'GNS bad net', docs: [gns({ nets: ['10.0.0.0/8', '10.0.0.256'] })], issues: ['NFQ_CFG_CIDR@spec.nets[1]'] },
  {
    name: 'GNS reserved namespace label',
    docs: [gns({ nets: [] }, 'n', { labels: { 'projectcalico.org/namespace': 'x' } })],
    issues: ['NFQ_CFG_RESERVED_LABEL@metadata.labels["projectcalico.org/namespace"]'],
  },
  { name: 'GNS unknown field', docs: [gns({ nets: [], allowedEgressDomains: ['x.com'] })], issues: ['NFQ_CFG_UNKNOWN_FIELD@spec.allowedEgressDomains'] },

  // Tier
  { name: 'tier with order and Pass', docs: [tier({ order: 50, defaultAction: 'Pass' })], issues: [] },
  { name: 'tier without order', docs: [tier({})], issues: [] },
  { name: 'tier name with a dot', docs: [tier({}, 'a.b')], issues: ['NFQ_CFG_NAME@metadata.name'] },
  { name: 'tier name too long', docs: [tier({}, 'a'.repeat(64))], issues: ['NFQ_CFG_NAME@metadata.name'] },
  { name: 'tier defaultAction case', docs: [tier({ defaultAction: 'pass' })], issues: ['NFQ_CFG_TIER_DEFAULT_ACTION@spec.defaultAction'] },
  { name: 'tier defaultAction Allow', docs: [tier({ defaultAction: 'Allow' })], issues: ['NFQ_CFG_TIER_DEFAULT_ACTION@spec.defaultAction'] },
  { name: 'tier order must be a number', docs: [tier({ order: '100' })], issues: ['NFQ_CFG_TYPE@spec.order'] },
  { name: 'explicit default tier with built-in values', docs: [tier({ order: 1000000, defaultAction: 'Deny' }, 'default')], issues: [] },
  { name: 'default tier with another order', docs: [tier({ order: 100 }, 'default')], issues: ['NFQ_CFG_TIER_RESERVED@spec.order'] },
  { name: 'default tier without order', docs: [tier({}, 'default')], issues: ['NFQ_CFG_TIER_RESERVED@spec'] },
  { name: 'default tier with Pass', docs: [tier({ order: 1000000, defaultAction: 'Pass' }, 'default')], issues: ['NFQ_CFG_TIER_RESERVED@spec.defaultAction'] },
  { name: 'kube-admin tier', docs: [tier({ order: 1000, defaultAction: 'Pass' }, 'kube-admin')], issues: [] },
  { name: 'kube-admin tier must Pass', docs: [tier({ order: 1000 }, 'kube-admin')], issues: ['NFQ_CFG_TIER_RESERVED@spec'] },
  { name: 'kube-baseline tier order', docs: [tier({ order: 1, defaultAction: 'Pass' }, 'kube-baseline')], issues: ['NFQ_CFG_TIER_RESERVED@spec.order'] },

  // Profile
  { name: 'profile with rules and labels', docs: [profile({ ingress: [{ action: 'Allow' }], labelsToApply: { edge: 'true' } })], issues: [] },
  { name: 'profile bad rule', docs: [profile({ egress: [{ action: 'Allow', protocol: 'udp' }] })], issues: ['NFQ_CFG_PROTOCOL@spec.egress[0].protocol'] },
  { name: 'profile bad labelsToApply', docs: [profile({ labelsToApply: { edge: 1 } })], issues: ['NFQ_CFG_TYPE@spec.labelsToApply.edge'] },
  { name: 'profile unknown field', docs: [profile({ labels: {} })], issues: ['NFQ_CFG_UNKNOWN_FIELD@spec.labels'] },
  {
    name: 'built-in profile written with its content',
    docs: [profile({ ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] }, 'projectcalico-default-allow')],
    issues: [],
  },
  {
    name: 'built-in profile changed',
    docs: [profile({ ingress: [{ action: 'Deny' }], egress: [{ action: 'Allow' }] }, 'projectcalico-default-allow')],
    issues: ['NFQ_CFG_BUILTIN_PROFILE@metadata.name'],
  },

  // FelixConfiguration
  { name: 'felix default', docs: [felix({ failsafeInboundHostPorts: [{ protocol: 'TCP', port: 22, net: '10.0.0.0/8' }] })], issues: [] },
  { name: 'felix per-node', docs: [felix({ disableConntrackInvalidCheck: true }, 'node.gw1')], issues: [] },
  { name: 'felix other name', docs: [felix({}, 'global')], issues: ['NFQ_CFG_FELIX_NAME@metadata.name'] },
  { name: 'felix failsafe protocol lower case is fine', docs: [felix({ failsafeOutboundHostPorts: [{ protocol: 'udp', port: 53 }] })], issues: [] },
  { name: 'felix failsafe SCTP', docs: [felix({ failsafeInboundHostPorts: [{ protocol: 'SCTP', port: 22 }] })], issues: ['NFQ_CFG_FAILSAFE@spec.failsafeInboundHostPorts[0].protocol'] },
  { name: 'felix failsafe without protocol', docs: [felix({ failsafeInboundHostPorts: [{ port: 22 }] })], issues: ['NFQ_CFG_FAILSAFE@spec.failsafeInboundHostPorts[0]'] },
  { name: 'felix failsafe port 0', docs: [felix({ failsafeInboundHostPorts: [{ protocol: 'TCP', port: 0 }] })], issues: ['NFQ_CFG_FAILSAFE@spec.failsafeInboundHostPorts[0].port'] },
  { name: 'felix failsafe env syntax', docs: [felix({ failsafeInboundHostPorts: ['tcp:22'] })], issues: ['NFQ_CFG_FAILSAFE@spec.failsafeInboundHostPorts[0]'] },
  { name: 'felix failsafe bad net', docs: [felix({ failsafeInboundHostPorts: [{ protocol: 'TCP', port: 22, net: 'lan' }] })], issues: ['NFQ_CFG_CIDR@spec.failsafeInboundHostPorts[0].net'] },
  { name: 'felix failsafe unknown field', docs: [felix({ failsafeInboundHostPorts: [{ protocol: 'TCP', port: 22, cidr: '10.0.0.0/8' }] })], issues: ['NFQ_CFG_UNKNOWN_FIELD@spec.failsafeInboundHostPorts[0].cidr'] },
  { name: 'felix deny action', docs: [felix({ iptablesFilterDenyAction: 'Reject' })], issues: [] },
  { name: 'felix bad deny action', docs: [felix({ iptablesFilterDenyAction: 'DISCARD' })], issues: ['NFQ_CFG_INVALID_VALUE@spec.iptablesFilterDenyAction'] },
  { name: 'felix bad log prefix', docs: [felix({ logPrefix: 'drop!' })], issues: ['NFQ_CFG_INVALID_VALUE@spec.logPrefix'] },
  { name: 'felix bad rate limit', docs: [felix({ logActionRateLimit: '10/s' })], issues: ['NFQ_CFG_INVALID_VALUE@spec.logActionRateLimit'] },
  { name: 'felix burst out of range', docs: [felix({ logActionRateLimitBurst: 10000 })], issues: ['NFQ_CFG_INVALID_VALUE@spec.logActionRateLimitBurst'] },
  { name: 'felix field without effect warns', docs: [felix({ bpfEnabled: false, logSeverityScreen: 'Info' })], issues: ['NFQ_CFG_FELIX_NO_EFFECT@spec.bpfEnabled', 'NFQ_CFG_FELIX_NO_EFFECT@spec.logSeverityScreen'] },
  { name: 'felix typo is an error', docs: [felix({ failsafeInboundHostPort: [] })], issues: ['NFQ_CFG_UNKNOWN_FIELD@spec.failsafeInboundHostPort'] },
];

describe('config: metadata, duplicates, GlobalNetworkSet, Tier, Profile, FelixConfiguration', () => {
  for (const c of cases) {
    it(c.name, () => assertIssues(run(...c.docs).all, c.issues));
  }

  it('issue codes are distinct and prefixed', () => {
    const codes = Object.values(CFG);
    assert.equal(new Set(codes).size, codes.length);
    for (const c of codes) assert.match(c, /^NFQ_CFG_[A-Z0-9_]+$/);
  });

  it('a duplicate points at the second definition and names the first', () => {
    const r = run(hep(okHep, 'gw1.eth0'), tier({}), hep(okHep, 'gw1.eth0'));
    assert.equal(r.errors.length, 1);
    const e = r.errors[0]!;
    assert.match(e.message, /duplicate HostEndpoint name "gw1\.eth0": already defined at test\.yaml:4\b/);
    assert.equal(e.location.line, 18); // third document, metadata.name
    assert.equal(r.resources.hostEndpoints.length, 1, 'the first definition is kept');
  });

  it('GNS nets are normalised: bare IPs get a length, host bits are cleared', () => {
    const r = run(gns({ nets: ['192.0.2.7', '10.0.0.5/24', 'fd00::1', '10.0.0.0/24'] }));
    assert.deepEqual(r.resources.networkSets[0]!.nets, ['192.0.2.7/32', '10.0.0.0/24', 'fd00::1/128']);
  });

  it('Tier output and defaults', () => {
    const r = run(tier({ order: 100 }, 'security'), tier({ defaultAction: 'Pass' }, 'late'));
    const tiers = Object.fromEntries(r.resources.tiers.map((t) => [t.name, [t.order, t.defaultAction]]));
    assert.deepEqual(tiers, { security: [100, 'Deny'], late: [undefined, 'Pass'], default: [1000000, 'Deny'] });
  });

  it('Profile output', () => {
    const p = run(profile({ ingress: [{ action: 'Deny' }], labelsToApply: { edge: 'true' } })).resources.profiles[0]!;
    assert.deepEqual([p.name, p.ingress.length, p.egress.length, p.labelsToApply], ['pr', 1, 0, { edge: 'true' }]);
  });

  describe('implicit objects', () => {
    it('the default tier and the default-allow profile exist without being written', () => {
      const r = run();
      assert.deepEqual(r.resources.tiers.map((t) => [t.name, t.order, t.defaultAction]), [['default', 1000000, 'Deny']]);
      const p = r.resources.profiles;
      assert.equal(p.length, 1);
      assert.equal(p[0]!.name, 'projectcalico-default-allow');
      assert.deepEqual([p[0]!.ingress.map((x) => x.action), p[0]!.egress.map((x) => x.action)], [['Allow'], ['Allow']]);
      assert.equal(p[0]!.origin.location.file, '<built-in>');
    });

    it('writing them explicitly does not duplicate them', () => {
      const r = run(
        tier({ order: 1000000, defaultAction: 'Deny' }, 'default'),
        profile({ ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] }, 'projectcalico-default-allow'),
      );
      assertIssues(r.all, []);
      assert.equal(r.resources.tiers.length, 1);
      assert.equal(r.resources.profiles.length, 1);
      assert.equal(r.resources.tiers[0]!.origin.location.file, 'test.yaml');
    });

    it('implicit objects are not counted as written resources', () => {
      const r = run(hep(okHep));
      assert.equal(r.counts.Tier, 0);
      assert.equal(r.counts.Profile, 0);
      assert.equal(r.counts.HostEndpoint, 1);
    });
  });

  describe('FelixConfiguration settings', () => {
    it('defaults without any FelixConfiguration', () => {
      const f = run().resources.felix;
      assert.deepEqual(f.failsafeInboundHostPorts, DEFAULT_FAILSAFE_INBOUND);
      assert.deepEqual(f.failsafeOutboundHostPorts, DEFAULT_FAILSAFE_OUTBOUND);
      assert.deepEqual([f.denyAction, f.disableConntrackInvalidCheck, f.logPrefix, f.logActionRateLimit, f.logActionRateLimitBurst], ['Drop', false, 'calico-packet', undefined, 5]);
    });

    it('failsafe entries as users write them', () => {
      const text = [
        'apiVersion: projectcalico.org/v3',
        'kind: FelixConfiguration',
        'metadata:',
        '  name: default',
        'spec:',
        '  failsafeInboundHostPorts:',
        '  - protocol: TCP',
        '    net: 10.0.0.0/8',
        '    port: 22',
        '  - {protocol: udp, port: 68, net: "fd00::5/64"}',
        '  failsafeOutboundHostPorts: []',
        '  iptablesFilterDenyAction: REJECT',
        '  logActionRateLimit: 30/minute',
        '  logActionRateLimitBurst: 10',
        '  logPrefix: "nfq %k %n"',
        '  disableConntrackInvalidCheck: true',
      ].join('\n');
      const r = runYaml(text);
      assertIssues(r.all, []);
      assert.deepEqual(r.resources.felix, {
        failsafeInboundHostPorts: [
          { protocol: 'tcp', port: 22, net: '10.0.0.0/8' },
          { protocol: 'udp', port: 68, net: 'fd00::/64' },
        ],
        failsafeOutboundHostPorts: [],
        denyAction: 'Reject',
        disableConntrackInvalidCheck: true,
        logPrefix: 'nfq %k %n',
        logActionRateLimit: 0.5,
        logActionRateLimitBurst: 10,
      });
    });

    it('null failsafe list keeps the defaults', () => {
      const r = runYaml('apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec:\n  failsafeInboundHostPorts:\n');
      assertIssues(r.all, []);
      assert.deepEqual(r.resources.felix.failsafeInboundHostPorts, DEFAULT_FAILSAFE_INBOUND);
    });

    it('node.<name> applies over default only for that node', () => {
      const docs = [felix({ iptablesFilterDenyAction: 'Reject', logPrefix: 'global' }), felix({ logPrefix: 'gw1' }, 'node.gw1'), felix({ logPrefix: 'gw2' }, 'node.gw2')];
      const forGw1 = runYaml(docs.map((d) => JSON.stringify(d)).join('\n---\n'), { nodeName: 'gw1' }).resources.felix;
      assert.deepEqual([forGw1.denyAction, forGw1.logPrefix], ['Reject', 'gw1']);
      const noNode = run(...docs).resources.felix;
      assert.deepEqual([noNode.denyAction, noNode.logPrefix], ['Reject', 'global']);
    });
  });
});
