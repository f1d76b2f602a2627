/**
 * The field names every packet, flow and trace record shares, so one query finds a flow in all
 * of them: flowId, family, proto, src, dst, sport, dport, iif, oif, stage, hep, tier, policy,
 * rule (index), ruleId (stable rule identity), action, generation.
 */
import type { HookName, RuleRef } from '../engine/decision';
import { ruleKey } from '../engine/decision';
import type { PacketFacts } from '../engine/packet-facts';
import { formatIp } from '../net/ip';
import { protocolName } from './filter';

export interface RuleFields {
  /** Tier of a policy rule; for a built-in end-of-tier, the tier that ended. */
  tier: string | null;
  /** Policy or profile name; null for built-in rules. */
  policy: string | null;
  /** Rule index inside the policy's ingress or egress list; null for built-in rules. */
  rule: number | null;
  /** ruleKey(): `policy:tier/name/direction/index:Action`, `profile:...`, `builtin:name[:detail]`. */
  ruleId: string;
}

export interface PacketFields {
  family: 4 | 6;
  proto: string;
  src: string;
  dst: string;
  sport: number | null;
  dport: number | null;
  iif: string | null;
  oif: string | null;
}

export interface DecisionFields extends PacketFields, RuleFields {
  flowId: number | null;
  /** The hook (netfilter stage) where the decision was made. */
  stage: HookName | null;
  /** The endpoint (HEP, or namespace/name of a WEP) whose chain decided. */
  hep: string | null;
  /** allow | deny | continue (a raw/mangle stage let the packet go on) | log (a Log rule). */
  action: string;
  generation: number;
}

export function ruleFields(ref: RuleRef): RuleFields {
  switch (ref.kind) {
    case 'policy':
      return { tier: ref.tier, policy: ref.policy, rule: ref.index, ruleId: ruleKey(ref) };
    case 'profile':
      return { tier: null, policy: ref.profile, rule: ref.index, ruleId: ruleKey(ref) };
    case 'builtin':
      return { tier: ref.name === 'end-of-tier' ? (ref.detail ?? null) : null, policy: null, rule: null, ruleId: ruleKey(ref) };
  }
}

export function portOrNull(p: number): number | null {
  return p >= 0 ? p : null;
}

/** Packet fields from engine facts (post-DNAT destination, pre-SNAT source, as the filter stage sees them). */
export function packetFields(f: PacketFacts): PacketFields {
  return {
    family: f.family,
    proto: protocolName(f.proto),
    src: formatIp(f.src),
    dst: formatIp(f.dst),
    sport: portOrNull(f.sport),
    dport: portOrNull(f.dport),
    iif: f.iif,
    oif: f.oif,
  };
}
