/**
 * Validated and defaulted Calico `projectcalico.org/v3` resources, as the engine consumes them.
 * `src/config/validate.ts` produces these from YAML; the engine never sees raw documents.
 *
 * Field names follow the Calico API. Everything optional in the API is either defaulted here
 * (types, tier, profiles, ...) or kept optional when "absent" has its own meaning (order).
 */
import type { SourceLocation } from '../errors';

export type RuleAction = 'Allow' | 'Deny' | 'Log' | 'Pass';
export type PolicyType = 'Ingress' | 'Egress';

/** Where a resource (and each of its parts) was written; carried into explanations. */
export interface Origin {
  location: SourceLocation;
}

/** A port list entry: numeric range (single port = min==max) or a named port. */
export type PortSpec = { kind: 'range'; min: number; max: number } | { kind: 'named'; name: string };

export interface IcmpMatch {
  type: number;
  code?: number;
}

export interface EntityRule {
  /** CIDR strings exactly as validated (host bits zero, explicit length). */
  nets: string[];
  notNets: string[];
  /** Selector source text; '' when absent. */
  selector: string;
  notSelector: string;
  /** '' (no restriction) or 'global()' — the only value meaningful for a HEP firewall. */
  namespaceSelector: string;
  ports: PortSpec[];
  notPorts: PortSpec[];
}

export interface Rule {
  action: RuleAction;
  ipVersion?: 4 | 6;
  /** IP protocol number 1..255, or undefined when absent. Names are resolved at validation. */
  protocol?: number;
  notProtocol?: number;
  /** True when `protocol` was written by name ICMP/ICMPv6 (implies the family, §3.3). */
  protocolName?: string;
  notProtocolName?: string;
  icmp?: IcmpMatch;
  notICMP?: IcmpMatch;
  source: EntityRule;
  destination: EntityRule;
  origin: Origin;
}

export interface GlobalNetworkPolicy {
  kind: 'GlobalNetworkPolicy';
  name: string;
  tier: string;
  /** undefined = +infinity (sorts after every numeric order). */
  order?: number;
  selector: string;
  /** Defaulted per §1.2. */
  types: PolicyType[];
  ingress: Rule[];
  egress: Rule[];
  applyOnForward: boolean;
  preDNAT: boolean;
  doNotTrack: boolean;
  origin: Origin;
}

export interface EndpointPort {
  name: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port: number;
}

export interface HostEndpoint {
  kind: 'HostEndpoint';
  name: string;
  labels: Record<string, string>;
  node: string;
  /** '' when absent; '*' = all interfaces. */
  interfaceName: string;
  /** Plain addresses as validated. */
  expectedIPs: string[];
  profiles: string[];
  ports: EndpointPort[];
  origin: Origin;
}

export interface WorkloadEndpoint {
  kind: 'WorkloadEndpoint';
  name: string;
  namespace: string;
  labels: Record<string, string>;
  node: string;
  interfaceName: string;
  /** CIDRs (usually /32 or /128). */
  ipNetworks: string[];
  profiles: string[];
  ports: EndpointPort[];
  /** spec.orchestrator (k8s, openstack, ...): the implicit label projectcalico.org/orchestrator. */
  orchestrator?: string;
  origin: Origin;
}

export interface GlobalNetworkSet {
  kind: 'GlobalNetworkSet';
  name: string;
  labels: Record<string, string>;
  /** Normalised CIDRs (host bits cleared; bare IPs become /32 or /128). */
  nets: string[];
  origin: Origin;
}

export interface Tier {
  kind: 'Tier';
  name: string;
  /** undefined = after all ordered tiers. */
  order?: number;
  defaultAction: 'Deny' | 'Pass';
  origin: Origin;
}

export interface Profile {
  kind: 'Profile';
  name: string;
  ingress: Rule[];
  egress: Rule[];
  labelsToApply: Record<string, string>;
  origin: Origin;
}

/** One failsafe entry: protocol + port, optionally restricted by a CIDR (§5.8). */
export interface FailsafePort {
  protocol: 'tcp' | 'udp';
  port: number;
  /** CIDR; inbound: source net, outbound: destination net. */
  net?: string;
}

/** The verdict-changing part of FelixConfiguration (§1.9), merged over the defaults. */
export interface FelixSettings {
  failsafeInboundHostPorts: FailsafePort[];
  failsafeOutboundHostPorts: FailsafePort[];
  /** 'Drop' or 'Reject' (iptablesFilterDenyAction). */
  denyAction: 'Drop' | 'Reject';
  disableConntrackInvalidCheck: boolean;
  logPrefix: string;
  /** Log action rate limit per second; undefined = unlimited. */
  logActionRateLimit?: number;
  logActionRateLimitBurst: number;
}

/** Everything a policy directory holds, validated, defaulted, implicit objects included. */
export interface ResourceSet {
  policies: GlobalNetworkPolicy[];
  hostEndpoints: HostEndpoint[];
  workloadEndpoints: WorkloadEndpoint[];
  networkSets: GlobalNetworkSet[];
  tiers: Tier[];
  profiles: Profile[];
  felix: FelixSettings;
}

export const DEFAULT_TIER_NAME = 'default';
export const DEFAULT_TIER_ORDER = 1_000_000;
export const DEFAULT_ALLOW_PROFILE = 'projectcalico-default-allow';

export const DEFAULT_FAILSAFE_INBOUND: readonly FailsafePort[] = [
  { protocol: 'tcp', port: 22 },
  { protocol: 'udp', port: 68 },
  { protocol: 'tcp', port: 179 },
  { protocol: 'tcp', port: 2379 },
  { protocol: 'tcp', port: 2380 },
  { protocol: 'tcp', port: 5473 },
  { protocol: 'tcp', port: 6443 },
  { protocol: 'tcp', port: 6666 },
  { protocol: 'tcp', port: 6667 },
];

export const DEFAULT_FAILSAFE_OUTBOUND: readonly FailsafePort[] = [
  { protocol: 'udp', port: 53 },
  { protocol: 'udp', port: 67 },
  { protocol: 'tcp', port: 179 },
  { protocol: 'tcp', port: 2379 },
  { protocol: 'tcp', port: 2380 },
  { protocol: 'tcp', port: 5473 },
  { protocol: 'tcp', port: 6443 },
  { protocol: 'tcp', port: 6666 },
  { protocol: 'tcp', port: 6667 },
];

export const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = {
  TCP: 6,
  UDP: 17,
  ICMP: 1,
  ICMPv6: 58,
  SCTP: 132,
  UDPLite: 136,
};
