/**
 * Test support for the reference evaluator: small builders for hand-made resource sets (implicit
 * objects included, as the validator produces them), a host like the conformance `gw1-default`
 * environment, packets from text, and the conversion of conformance cases (documents through the
 * real config validator; env and packet converted here).
 */
import {
  DEFAULT_ALLOW_PROFILE,
  DEFAULT_FAILSAFE_INBOUND,
  DEFAULT_FAILSAFE_OUTBOUND,
  DEFAULT_TIER_NAME,
  DEFAULT_TIER_ORDER,
  PROTOCOL_NUMBERS,
  type EntityRule,
  type FailsafePort,
  type FelixSettings,
  type GlobalNetworkPolicy,
  type GlobalNetworkSet,
  type HostEndpoint,
  type IcmpMatch,
  type Origin,
  type PolicyType,
  type PortSpec,
  type Profile,
  type ResourceSet,
  type Rule,
  type RuleAction,
  type Tier,
  type WorkloadEndpoint,
} from '../../../src/config/resources';
import { ruleKey, type Judgement, type PolicyEvaluator } from '../../../src/engine/decision';
import { createReferenceEvaluator } from '../../../src/engine/reference';
import { stringify } from 'yaml';
import { parseYamlDocuments, validateDocuments } from '../../../src/config';
import type { HostInterface, HostModel } from '../../../src/engine/host-model';
import type { CtState, PacketFacts, PacketPath } from '../../../src/engine/packet-facts';
import { formatPrefix, parseCidr, parseIp, type IpAddress } from '../../../src/net/ip';

export const ORIGIN: Origin = { location: { file: 'test', line: 1 } };

// ---------------------------------------------------------------------------------------------
// Builders for hand-made resource sets

export function entity(e: Partial<EntityRule> = {}): EntityRule {
  return { nets: [], notNets: [], selector: '', notSelector: '', namespaceSelector: '', ports: [], notPorts: [], ...e };
}

export function port(n: number): PortSpec {
  return { kind: 'range', min: n, max: n };
}

export function range(min: number, max: number): PortSpec {
  return { kind: 'range', min, max };
}

export function named(name: string): PortSpec {
  return { kind: 'named', name };
}

export interface RuleInit {
  ipVersion?: 4 | 6;
  protocol?: string | number;
  notProtocol?: string | number;
  icmp?: IcmpMatch;
  notICMP?: IcmpMatch;
  source?: Partial<EntityRule>;
  destination?: Partial<EntityRule>;
}

function protoNumber(p: string | number): number {
  if (typeof p === 'number') return p;
  const n = PROTOCOL_NUMBERS[p];
  if (n === undefined) throw new Error(`unknown protocol ${p}`);
  return n;
}

export function rule(action: RuleAction, init: RuleInit = {}): Rule {
  const r: Rule = { action, source: entity(init.source), destination: entity(init.destination), origin: ORIGIN };
  if (init.ipVersion !== undefined) r.ipVersion = init.ipVersion;
  if (init.protocol !== undefined) {
    r.protocol = protoNumber(init.protocol);
    if (typeof init.protocol === 'string') r.protocolName = init.protocol;
  }
  if (init.notProtocol !== undefined) {
    r.notProtocol = protoNumber(init.notProtocol);
    if (typeof init.notProtocol === 'string') r.notProtocolName = init.notProtocol;
  }
  if (init.icmp) r.icmp = init.icmp;
  if (init.notICMP) r.notICMP = init.notICMP;
  return r;
}

export interface PolicyInit {
  tier?: string;
  order?: number;
  selector?: string;
  types?: PolicyType[];
  ingress?: Rule[];
  egress?: Rule[];
  applyOnForward?: boolean;
  preDNAT?: boolean;
  doNotTrack?: boolean;
}

/** §1.2 types defaulting. */
export function defaultTypes(ingress: readonly unknown[], egress: readonly unknown[]): PolicyType[] {
  if (egress.length === 0) return ['Ingress'];
  if (ingress.length === 0) return ['Egress'];
  return ['Ingress', 'Egress'];
}

export function gnp(name: string, init: PolicyInit = {}): GlobalNetworkPolicy {
  const ingress = init.ingress ?? [];
  const egress = init.egress ?? [];
  const p: GlobalNetworkPolicy = {
    kind: 'GlobalNetworkPolicy',
    name,
    tier: init.tier ?? DEFAULT_TIER_NAME,
    selector: init.selector ?? '',
    types: init.types ?? defaultTypes(ingress, egress),
    ingress,
    egress,
    applyOnForward: init.applyOnForward ?? false,
    preDNAT: init.preDNAT ?? false,
    doNotTrack: init.doNotTrack ?? false,
    origin: ORIGIN,
  };
  if (init.order !== undefined) p.order = init.order;
  return p;
}

export function hep(name: string, init: Partial<Omit<HostEndpoint, 'kind' | 'name'>> = {}): HostEndpoint {
  return {
    kind: 'HostEndpoint',
    name,
    labels: {},
    node: 'gw1',
    interfaceName: '',
    expectedIPs: [],
    profiles: [],
    ports: [],
    origin: ORIGIN,
    ...init,
  };
}

export function wep(name: string, init: Partial<Omit<WorkloadEndpoint, 'kind' | 'name'>> = {}): WorkloadEndpoint {
  return {
    kind: 'WorkloadEndpoint',
    name,
    namespace: 'default',
    labels: {},
    node: 'gw1',
    interfaceName: '',
    ipNetworks: [],
    profiles: [],
    ports: [],
    origin: ORIGIN,
    ...init,
  };
}

/** Network set nets are normalised by validation (host bits cleared, bare IPs as /32 or /128). */
function normaliseNet(text: string): string {
  const c = parseCidr(text, true);
  if (!c) throw new Error(`bad net ${text}`);
  return formatPrefix(c.prefix);
}

export function gns(name: string, labels: Record<string, string>, nets: string[]): GlobalNetworkSet {
  return { kind: 'GlobalNetworkSet', name, labels, nets: nets.map(normaliseNet), origin: ORIGIN };
}

export function tier(name: string, order: number | undefined, defaultAction: 'Deny' | 'Pass' = 'Deny'): Tier {
  const t: Tier = { kind: 'Tier', name, defaultAction, origin: ORIGIN };
  if (order !== undefined) t.order = order;
  return t;
}

export function profile(name: string, init: Partial<Omit<Profile, 'kind' | 'name'>> = {}): Profile {
  return { kind: 'Profile', name, ingress: [], egress: [], labelsToApply: {}, origin: ORIGIN, ...init };
}

export function defaultFelix(): FelixSettings {
  return {
    failsafeInboundHostPorts: [...DEFAULT_FAILSAFE_INBOUND],
    failsafeOutboundHostPorts: [...DEFAULT_FAILSAFE_OUTBOUND],
    denyAction: 'Drop',
    disableConntrackInvalidCheck: false,
    logPrefix: 'calico-packet',
    logActionRateLimitBurst: 5,
  };
}

/** The implicit objects every ResourceSet holds: the default tier and the default-allow profile. */
export function implicitTier(): Tier {
  return tier(DEFAULT_TIER_NAME, DEFAULT_TIER_ORDER, 'Deny');
}

export function defaultAllowProfile(): Profile {
  return profile(DEFAULT_ALLOW_PROFILE, { ingress: [rule('Allow')], egress: [rule('Allow')] });
}

export interface ResourceInit {
  policies?: GlobalNetworkPolicy[];
  hostEndpoints?: HostEndpoint[];
  workloadEndpoints?: WorkloadEndpoint[];
  networkSets?: GlobalNetworkSet[];
  tiers?: Tier[];
  profiles?: Profile[];
  felix?: Partial<FelixSettings>;
}

/** A ResourceSet with the implicit objects included (as the validator produces). */
export function resources(init: ResourceInit = {}): ResourceSet {
  const tiers = init.tiers ?? [];
  const profiles = init.profiles ?? [];
  return {
    policies: init.policies ?? [],
    hostEndpoints: init.hostEndpoints ?? [],
    workloadEndpoints: init.workloadEndpoints ?? [],
    networkSets: init.networkSets ?? [],
    tiers: tiers.some((t) => t.name === DEFAULT_TIER_NAME) ? tiers : [implicitTier(), ...tiers],
    profiles: profiles.some((p) => p.name === DEFAULT_ALLOW_PROFILE) ? profiles : [defaultAllowProfile(), ...profiles],
    felix: { ...defaultFelix(), ...init.felix },
  };
}

// ---------------------------------------------------------------------------------------------
// Host and packets

/** Like the conformance environment gw1-default. */
export function gw1Host(overrides: Partial<HostModel> = {}): HostModel {
  const interfaces: HostInterface[] = [
    { name: 'lo', addresses: ['127.0.0.1/8', '::1/128'], routes: [], workload: false },
    { name: 'eth0', addresses: ['203.0.113.1/24', '203.0.113.2/24', '2001:db8:100::1/64'], routes: [], workload: false },
    { name: 'eth1', addresses: ['192.168.0.45/24'], routes: [], workload: false },
    { name: 'eth2', addresses: ['10.0.1.1/24', 'fd00:1::1/64'], routes: ['10.0.2.0/24'], workload: false },
    { name: 'eth3', addresses: ['172.16.0.1/24'], routes: [], workload: false },
    { name: 'cali123', addresses: [], routes: [], workload: true },
  ];
  return {
    node: 'gw1',
    interfaces,
    workloadInterfacePrefix: 'cali',
    ipForward: true,
    nat: [{ type: 'masquerade', source: '10.0.1.0/24', outInterface: 'eth0' }],
    unmanagedVerdict: 'accept',
    ...overrides,
  };
}

function ip(text: string): IpAddress {
  const a = parseIp(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a;
}

export interface PacketInit {
  path: PacketPath;
  iif?: string | null;
  oif?: string | null;
  proto: string | number;
  src: string;
  dst: string;
  sport?: number | null;
  dport?: number | null;
  icmpType?: number | null;
  icmpCode?: number | null;
  ctState?: CtState;
  preDnatDst?: string | null;
  preDnatDport?: number | null;
}

/** PacketFacts from text; missing ports/ICMP fields are -1, ctState defaults to new. */
export function packet(p: PacketInit): PacketFacts {
  const src = ip(p.src);
  const dst = ip(p.dst);
  const dport = p.dport ?? -1;
  return {
    path: p.path,
    iif: p.iif ?? null,
    oif: p.oif ?? null,
    family: src.family,
    proto: protoNumber(p.proto),
    src,
    dst,
    sport: p.sport ?? -1,
    dport,
    icmpType: p.icmpType ?? -1,
    icmpCode: p.icmpCode ?? -1,
    ctState: p.ctState ?? 'new',
    preDnatDst: p.preDnatDst ? ip(p.preDnatDst) : dst,
    preDnatDport: p.preDnatDport ?? dport,
  };
}

// ---------------------------------------------------------------------------------------------
// Conformance cases: documents through the real validator, env and packet converted here

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {};
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function strings(v: unknown): string[] {
  return list(v).map(String);
}

function protoOf(v: unknown): string | number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  return /^\d+$/.test(String(v)) ? Number(v) : String(v);
}

/** Failsafe entries as the env writes them: "tcp:22", "udp:10.0.0.0/8:53", "tcp:[fd00::/8]:22". */
function failsafeList(v: unknown): FailsafePort[] {
  return list(v).map((e) => {
    const m = /^(tcp|udp):(?:(\[[^\]]+\]|[^:]+):)?(\d+)$/i.exec(String(e));
    if (!m) throw new Error(`bad failsafe entry ${String(e)}`);
    const entry: FailsafePort = { protocol: m[1]!.toLowerCase() as 'tcp' | 'udp', port: Number(m[3]) };
    if (m[2]) entry.net = m[2].replace(/^\[|\]$/g, '');
    return entry;
  });
}

/** A case's plain v3 documents through the config validator; any error fails the test. */
export function validatedResources(docs: readonly unknown[], nodeName: string, file = 'case.yaml'): ResourceSet {
  const text = docs.map((d) => stringify(d)).join('---\n');
  const parsed = parseYamlDocuments(text, file);
  const result = validateDocuments(parsed.documents, { nodeName });
  const errors = [...parsed.issues, ...result.issues].filter((i) => i.severity === 'error');
  if (errors.length > 0) throw new Error(`${file}: ${errors.map((e) => `${e.code} ${e.message}`).join('; ')}`);
  return result.resources;
}

/** A conformance `envs` entry into a HostModel. */
export function hostFromEnv(env: unknown): HostModel {
  const o = obj(env);
  const host: HostModel = {
    node: String(o.node),
    interfaces: list(o.interfaces).map((i) => {
      const it = obj(i);
      return { name: String(it.name), addresses: strings(it.addresses), routes: strings(it.routes), workload: it.workload === true };
    }),
    workloadInterfacePrefix: typeof o.workloadInterfacePrefix === 'string' ? o.workloadInterfacePrefix : 'cali',
    ipForward: o.ipForward !== false,
    nat: [],
    unmanagedVerdict: o.unmanagedVerdict === 'drop' ? 'drop' : 'accept',
  };
  if (o.failsafeInboundHostPorts !== undefined) host.failsafeInboundHostPorts = failsafeList(o.failsafeInboundHostPorts);
  if (o.failsafeOutboundHostPorts !== undefined) host.failsafeOutboundHostPorts = failsafeList(o.failsafeOutboundHostPorts);
  return host;
}

/** A conformance `packet` into PacketFacts. */
export function factsFromCasePacket(p: unknown): PacketFacts {
  const o = obj(p);
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const init: PacketInit = {
    path: o.path as PacketPath,
    iif: str(o.iif),
    oif: str(o.oif),
    proto: protoOf(o.proto) ?? 0,
    src: String(o.src),
    dst: String(o.dst),
    sport: num(o.sport),
    dport: num(o.dport),
    icmpType: num(o.icmpType),
    icmpCode: num(o.icmpCode),
    ctState: (o.ctState ?? 'new') as CtState,
    preDnatDst: str(o.preDnatDst),
    preDnatDport: num(o.preDnatDport),
  };
  return packet(init);
}

// ---------------------------------------------------------------------------------------------
// Shortcuts for scenario tests

export function evaluator(init: ResourceInit, host: HostModel = gw1Host()): PolicyEvaluator {
  return createReferenceEvaluator(resources(init), host);
}

export function judge(init: ResourceInit, p: PacketInit, host: HostModel = gw1Host()): Judgement {
  return evaluator(init, host).judge(packet(p));
}

/** The decidedBy rule as a string (ruleKey). */
export function decidedBy(j: Judgement): string {
  return ruleKey(j.decidedBy.rule);
}

/** Steps as `hook/chain/endpoint:result:rule` strings. */
export function trace(j: Judgement): string[] {
  return j.steps.map((s) => `${s.hook}/${s.chain}/${s.endpoint ?? '-'}:${s.result}:${ruleKey(s.rule)}`);
}

/** HEPs like the conformance ones. */
export const WAN = (init: Partial<Omit<HostEndpoint, 'kind' | 'name'>> = {}): HostEndpoint =>
  hep('gw1-eth0', { labels: { network: 'wan' }, interfaceName: 'eth0', expectedIPs: ['203.0.113.1', '2001:db8:100::1'], ...init });
export const LAN = (init: Partial<Omit<HostEndpoint, 'kind' | 'name'>> = {}): HostEndpoint =>
  hep('gw1-eth2', { labels: { network: 'lan' }, interfaceName: 'eth2', expectedIPs: ['10.0.1.1', 'fd00:1::1'], ...init });

/** A new TCP packet from the internet to the WAN address. */
export function wanIn(dport: number, extra: Partial<PacketInit> = {}): PacketInit {
  return { path: 'local-in', iif: 'eth0', proto: 'TCP', src: '198.51.100.7', dst: '203.0.113.1', sport: 40000, dport, ...extra };
}

/** A new TCP packet forwarded from the internet into the LAN. */
export function wanToLan(dport: number, extra: Partial<PacketInit> = {}): PacketInit {
  return { path: 'forward', iif: 'eth0', oif: 'eth2', proto: 'TCP', src: '198.51.100.7', dst: '10.0.1.20', sport: 40000, dport, ...extra };
}

/** A new TCP packet the host sends out of the WAN interface. */
export function hostOut(dport: number, extra: Partial<PacketInit> = {}): PacketInit {
  return { path: 'local-out', oif: 'eth0', proto: 'TCP', src: '203.0.113.1', dst: '192.0.2.9', sport: 50000, dport, ...extra };
}
