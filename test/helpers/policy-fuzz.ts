/**
 * Random but valid policy sets, host models and packets, for differential testing of the compiled
 * engine against the reference evaluator. Everything derives from one seed.
 */
import {
  DEFAULT_ALLOW_PROFILE,
  DEFAULT_FAILSAFE_INBOUND,
  DEFAULT_FAILSAFE_OUTBOUND,
  type EntityRule,
  type FailsafePort,
  type GlobalNetworkPolicy,
  type GlobalNetworkSet,
  type HostEndpoint,
  type PolicyType,
  type PortSpec,
  type Profile,
  type ResourceSet,
  type Rule,
  type Tier,
  type WorkloadEndpoint,
} from '../../src/config/resources';
import type { HostModel } from '../../src/engine/host-model';
import type { CtState, PacketFacts, PacketPath } from '../../src/engine/packet-facts';
import { parseIp } from '../../src/net/ip';
import { Rng } from './random';

const origin = { location: { file: 'fuzz', line: 1 } };

export const FUZZ_HOST: HostModel = {
  node: 'gw1',
  interfaces: [
    { name: 'lo', addresses: ['127.0.0.1/8', '::1/128'], routes: [], workload: false },
    { name: 'eth0', addresses: ['203.0.113.1/24', '2001:db8:100::1/64'], routes: [], workload: false },
    { name: 'eth1', addresses: ['192.168.0.45/24'], routes: [], workload: false },
    { name: 'eth2', addresses: ['10.0.1.1/24', 'fd00:1::1/64'], routes: ['10.0.2.0/24'], workload: false },
    { name: 'eth3', addresses: ['172.16.0.1/24'], routes: [], workload: false },
    { name: 'cali1', addresses: [], routes: [], workload: true },
  ],
  workloadInterfacePrefix: 'cali',
  ipForward: true,
  nat: [],
  unmanagedVerdict: 'accept',
};

const LABEL_VALUES = ['a', 'b', 'c'];
const SELECTORS = [
  '',
  'all()',
  "network == 'a'",
  "network == 'b'",
  'has(network)',
  '!has(role)',
  "role != 'x'",
  "network in {'a', 'c'}",
  "network not in {'b'}",
  "role starts with 'x'",
  "network == 'a' || role == 'y'",
  "has(network) && !(role == 'x')",
  "edge == 'true'",
  "set == 'blocked'",
];
const NETS4 = ['10.0.0.0/8', '10.0.1.0/24', '198.51.100.0/24', '203.0.113.1/32', '192.168.0.0/16', '172.16.0.0/24'];
const NETS6 = ['fd00:1::/64', '2001:db8::/32', '2001:db8:100::1/128', 'fe80::/10'];
const PORTS: PortSpec[] = [
  { kind: 'range', min: 22, max: 22 },
  { kind: 'range', min: 53, max: 53 },
  { kind: 'range', min: 80, max: 80 },
  { kind: 'range', min: 443, max: 443 },
  { kind: 'range', min: 1024, max: 65535 },
  { kind: 'range', min: 8000, max: 8100 },
];
const NAMED: PortSpec[] = [
  { kind: 'named', name: 'http' },
  { kind: 'named', name: 'dns' },
];
const PROTOCOLS: { num?: number; name?: string }[] = [{}, { num: 6, name: 'TCP' }, { num: 17, name: 'UDP' }, { num: 1, name: 'ICMP' }, { num: 58, name: 'ICMPv6' }, { num: 47 }, { num: 6 }];

function labels(rng: Rng): Record<string, string> {
  const l: Record<string, string> = {};
  if (rng.bool(0.8)) l.network = rng.pick(LABEL_VALUES);
  if (rng.bool(0.4)) l.role = rng.pick(['x', 'y', 'xz']);
  return l;
}

function entity(rng: Rng, family: 4 | 6 | 0, portsAllowed: boolean, namedAllowed: boolean): EntityRule {
  const fam = family === 0 ? (rng.bool() ? 4 : 6) : family;
  const nets = fam === 4 ? NETS4 : NETS6;
  const e: EntityRule = { nets: [], notNets: [], selector: '', notSelector: '', namespaceSelector: '', ports: [], notPorts: [] };
  if (rng.bool(0.25)) e.nets = rng.subset(nets, 0.3).slice(0, 2);
  if (rng.bool(0.1)) e.notNets = rng.subset(nets, 0.3).slice(0, 1);
  if (rng.bool(0.2)) e.selector = rng.pick(SELECTORS.slice(1));
  if (rng.bool(0.1)) e.notSelector = rng.pick(SELECTORS.slice(2));
  if (rng.bool(0.08)) e.namespaceSelector = 'global()';
  if (portsAllowed && rng.bool(0.4)) e.ports = rng.subset(PORTS, 0.3).slice(0, 2);
  if ((portsAllowed || namedAllowed) && rng.bool(0.15)) e.ports = [...e.ports, rng.pick(NAMED)];
  if (portsAllowed && rng.bool(0.1)) e.notPorts = [rng.pick(PORTS)];
  return e;
}

function rule(rng: Rng): Rule {
  const action = rng.pick(['Allow', 'Allow', 'Deny', 'Deny', 'Pass', 'Log'] as const);
  const proto = rng.pick(PROTOCOLS);
  const ports = proto.num === 6 || proto.num === 17;
  const r: Rule = {
    action,
    source: entity(rng, 0, false, false),
    destination: entity(rng, 0, false, false),
    origin,
  };
  // One family across all net lists of a rule (validation rule); pick it first.
  let family: 4 | 6 | 0 = rng.pick([0, 4, 6] as const);
  if (proto.name === 'ICMP') family = 4;
  if (proto.name === 'ICMPv6') family = 6;
  r.source = entity(rng, family, ports && rng.bool(0.3), proto.num === undefined);
  r.destination = entity(rng, family, ports, proto.num === undefined);
  if (family === 0) {
    // Entities may have picked different families; keep only one.
    const pickFam = rng.bool() ? 4 : 6;
    const keep = (list: string[]) => list.filter((n) => n.includes(':') === (pickFam === 6));
    for (const s of [r.source, r.destination]) {
      s.nets = keep(s.nets);
      s.notNets = keep(s.notNets);
    }
  }
  if (proto.num !== undefined) r.protocol = proto.num;
  if (proto.name !== undefined) r.protocolName = proto.name;
  if (rng.bool(0.1) && proto.num === undefined) r.notProtocol = rng.pick([6, 17, 1]);
  if ((proto.num === 1 || proto.num === 58) && rng.bool(0.5)) {
    r.icmp = rng.bool() ? { type: rng.pick([0, 3, 8, 128, 135]) } : { type: rng.pick([3, 8]), code: rng.pick([0, 1]) };
  } else if ((proto.num === 1 || proto.num === 58) && rng.bool(0.3)) r.notICMP = { type: rng.pick([8, 128]) };
  if (rng.bool(0.15)) {
    const v = proto.name === 'ICMP' ? 4 : proto.name === 'ICMPv6' ? 6 : rng.pick([4, 6] as const);
    const nets = [...r.source.nets, ...r.source.notNets, ...r.destination.nets, ...r.destination.notNets];
    if (nets.every((n) => n.includes(':') === (v === 6))) r.ipVersion = v;
  }
  return r;
}

export function randomResources(rng: Rng): ResourceSet {
  const tiers: Tier[] = [{ kind: 'Tier', name: 'default', order: 1_000_000, defaultAction: 'Deny', origin }];
  const extraTiers = rng.int(3);
  for (let i = 0; i < extraTiers; i++) {
    const t: Tier = { kind: 'Tier', name: `t${i}`, defaultAction: rng.bool(0.3) ? 'Pass' : 'Deny', origin };
    if (rng.bool(0.8)) t.order = rng.pick([10, 100, 1_000_000, 2_000_000]);
    tiers.push(t);
  }
  const profiles: Profile[] = [
    {
      kind: 'Profile',
      name: DEFAULT_ALLOW_PROFILE,
      ingress: [{ action: 'Allow', source: emptyEntity(), destination: emptyEntity(), origin }],
      egress: [{ action: 'Allow', source: emptyEntity(), destination: emptyEntity(), origin }],
      labelsToApply: {},
      origin,
    },
    {
      kind: 'Profile',
      name: 'p1',
      ingress: Array.from({ length: rng.int(3) }, () => rule(rng)),
      egress: Array.from({ length: rng.int(3) }, () => rule(rng)),
      labelsToApply: rng.bool() ? { edge: 'true', network: 'c' } : {},
      origin,
    },
  ];
  const heps: HostEndpoint[] = [];
  const nHeps = rng.int(5);
  for (let i = 0; i < nHeps; i++) {
    const iface = rng.pick(['eth0', 'eth1', 'eth2', 'eth3', 'lo', '*', '', 'eth0']);
    const ips: string[] = iface === '' || rng.bool(0.6) ? rng.subset(['203.0.113.1', '2001:db8:100::1', '10.0.1.1', '192.168.0.45', 'fd00:1::1', '10.9.9.9'], 0.4) : [];
    if (iface === '' && ips.length === 0) ips.push('10.0.1.1');
    heps.push({
      kind: 'HostEndpoint',
      name: `hep-${rng.pick(['a', 'b', 'c', 'd'])}${i}`,
      labels: labels(rng),
      node: rng.bool(0.85) ? 'gw1' : 'other',
      interfaceName: iface,
      expectedIPs: ips,
      profiles: rng.subset([DEFAULT_ALLOW_PROFILE, 'p1', 'missing'], 0.25),
      ports: rng.bool(0.3) ? [{ name: 'http', protocol: 'TCP', port: 8080 }, { name: 'dns', protocol: 'UDP', port: 53 }] : [],
      origin,
    });
  }
  const sets: GlobalNetworkSet[] = [];
  for (let i = 0; i < rng.int(3); i++) {
    sets.push({ kind: 'GlobalNetworkSet', name: `set${i}`, labels: rng.bool() ? { set: 'blocked' } : labels(rng), nets: rng.subset([...NETS4, ...NETS6], 0.3), origin });
  }
  const weps: WorkloadEndpoint[] = [];
  if (rng.bool(0.4)) {
    weps.push({
      kind: 'WorkloadEndpoint',
      name: 'wl1',
      namespace: 'default',
      labels: labels(rng),
      node: 'gw1',
      interfaceName: 'cali1',
      ipNetworks: ['10.65.0.2/32'],
      profiles: rng.subset([DEFAULT_ALLOW_PROFILE, 'p1'], 0.5),
      ports: [],
      origin,
    });
  }
  const policies: GlobalNetworkPolicy[] = [];
  const nPol = 1 + rng.int(7);
  for (let i = 0; i < nPol; i++) {
    const kind = rng.pick(['normal', 'normal', 'aof', 'aof', 'prednat', 'dnt'] as const);
    const ingress = Array.from({ length: rng.int(4) }, () => rule(rng));
    let egress = Array.from({ length: rng.int(4) }, () => rule(rng));
    if (kind === 'prednat') egress = [];
    let types: PolicyType[] = rng.pick([['Ingress'], ['Egress'], ['Ingress', 'Egress']] as PolicyType[][]);
    if (kind === 'prednat') types = ['Ingress'];
    const tier = rng.pick(tiers).name;
    const p: GlobalNetworkPolicy = {
      kind: 'GlobalNetworkPolicy',
      name: `${tier === 'default' ? '' : `${tier}.`}pol-${rng.pick(['a', 'b', 'ab', 'a-b'])}${i}`,
      tier,
      selector: rng.pick(SELECTORS),
      types,
      ingress,
      egress,
      applyOnForward: kind !== 'normal',
      preDNAT: kind === 'prednat',
      doNotTrack: kind === 'dnt',
      origin,
    };
    if (rng.bool(0.6)) p.order = rng.pick([1, 10, 10, 100, 500.5]);
    policies.push(p);
  }
  const failsafe = (def: readonly FailsafePort[]): FailsafePort[] =>
    rng.bool(0.7) ? [...def] : rng.bool() ? [] : [{ protocol: 'tcp', port: 22, net: '10.0.0.0/8' }, { protocol: 'udp', port: 53 }];
  return {
    policies,
    hostEndpoints: heps,
    workloadEndpoints: weps,
    networkSets: sets,
    tiers,
    profiles,
    felix: {
      failsafeInboundHostPorts: failsafe(DEFAULT_FAILSAFE_INBOUND),
      failsafeOutboundHostPorts: failsafe(DEFAULT_FAILSAFE_OUTBOUND),
      denyAction: 'Drop',
      disableConntrackInvalidCheck: rng.bool(0.1),
      logPrefix: 'calico-packet',
      logActionRateLimitBurst: 5,
    },
  };
}

function emptyEntity(): EntityRule {
  return { nets: [], notNets: [], selector: '', notSelector: '', namespaceSelector: '', ports: [], notPorts: [] };
}

const ADDR4 = ['10.0.1.10', '10.0.1.1', '203.0.113.1', '198.51.100.7', '192.168.0.45', '192.168.0.10', '172.16.0.10', '10.65.0.2', '8.8.8.8', '10.9.9.9', '127.0.0.1'];
const ADDR6 = ['fd00:1::10', 'fd00:1::1', '2001:db8:100::1', '2001:db8::7', 'fe80::1', '2001:4860::8888', '::1'];
const IFACES = ['eth0', 'eth1', 'eth2', 'eth3', 'lo', 'cali1'];

export function randomPacket(rng: Rng): PacketFacts {
  const family = rng.bool(0.7) ? 4 : 6;
  const pool = family === 4 ? ADDR4 : ADDR6;
  const path = rng.pick(['local-in', 'forward', 'local-out'] as PacketPath[]);
  const proto = rng.pick(family === 4 ? [6, 6, 17, 17, 1, 47, 132] : [6, 6, 17, 58, 47]);
  const hasPorts = proto === 6 || proto === 17 || proto === 132;
  const isIcmp = proto === 1 || proto === 58;
  const dport = hasPorts ? rng.pick([22, 53, 67, 68, 80, 443, 8080, 8050, 179, 40000, 2379]) : -1;
  const dst = parseIp(rng.pick(pool))!;
  const ct = rng.pick(['new', 'new', 'new', 'new', 'established', 'reply', 'related', 'invalid', 'untracked'] as CtState[]);
  const dnat = path !== 'local-in' && rng.bool(0.15);
  return {
    path,
    iif: path === 'local-out' ? null : rng.pick(IFACES),
    oif: path === 'local-in' ? null : rng.pick(IFACES),
    family,
    proto,
    src: parseIp(rng.pick(pool))!,
    dst,
    sport: hasPorts ? rng.pick([40000, 53, 68, 22, 80, 50000]) : -1,
    dport,
    icmpType: isIcmp ? rng.pick([0, 3, 8, 128, 135, 136]) : -1,
    icmpCode: isIcmp ? rng.pick([0, 1]) : -1,
    ctState: ct,
    preDnatDst: dnat ? parseIp(rng.pick(pool))! : dst,
    preDnatDport: dnat && hasPorts ? rng.pick([8080, 80, 22]) : dport,
  };
}
