/**
 * Policy classes (§5.2), rule evaluation inside a policy (§3.1), the tier loop (§4.3) and
 * profiles (§4.4).
 */
import type { GlobalNetworkPolicy, Rule } from '../../config/resources';
import type { Direction, RuleRef } from '../decision';
import type { Subject, ReferenceModel } from './model';
import { comparePolicies, type TierInfo } from './ordering';
import type { PacketView } from './packet-view';
import { matchesPacket } from './rule-match';

/**
 * §5.2. `workload` is the class WEP chains use: every policy that is neither untracked nor
 * preDNAT (applyOnForward has no meaning for workloads).
 */
export type PolicyClass = 'normal' | 'forward' | 'preDNAT' | 'untracked' | 'workload';

/** Is `p` of class `cls`? doNotTrack wins over preDNAT; forward = normal ∩ applyOnForward. */
export function policyInClass(p: GlobalNetworkPolicy, cls: PolicyClass): boolean {
  if (p.doNotTrack) return cls === 'untracked';
  if (p.preDNAT) return cls === 'preDNAT';
  switch (cls) {
    case 'normal':
    case 'workload':
      return true;
    case 'forward':
      return p.applyOnForward;
    default:
      return false;
  }
}

/** A policy contributes to a direction only if that direction is in its (defaulted) types (§1.2). */
export function governsDirection(p: GlobalNetworkPolicy, dir: Direction): boolean {
  return p.types.includes(dir === 'ingress' ? 'Ingress' : 'Egress');
}

/** Does the policy's top-level selector select the endpoint? ('' = all(), §1.2.) */
export function policySelects(model: ReferenceModel, p: GlobalNetworkPolicy, subject: Subject): boolean {
  return model.selectors.get(p.selector).matches(subject.labels);
}

/** Policies of `cls` selecting the endpoint, in any direction. */
export function policiesOfClass(model: ReferenceModel, subject: Subject, cls: PolicyClass): GlobalNetworkPolicy[] {
  return model.resources.policies.filter((p) => policyInClass(p, cls) && policySelects(model, p, subject));
}

export interface TierPlan {
  tier: TierInfo;
  /** The tier's policies that select the endpoint, are of the class and govern the direction (§4.2 order). */
  policies: GlobalNetworkPolicy[];
}

/** §4.3: only tiers with at least one such policy participate, in §4.1 order. */
export function participatingTiers(model: ReferenceModel, subject: Subject, cls: PolicyClass, dir: Direction): TierPlan[] {
  const plans: TierPlan[] = [];
  for (const tier of model.tiers) {
    const policies = model.resources.policies
      .filter((p) => p.tier === tier.name && policyInClass(p, cls) && governsDirection(p, dir) && policySelects(model, p, subject))
      .sort(comparePolicies);
    if (policies.length > 0) plans.push({ tier, policies });
  }
  return plans;
}

/** A decision made by a rule or a built-in default. */
export interface Decision {
  result: 'allow' | 'deny';
  rule: RuleRef;
}

function rulesOf(x: { ingress: Rule[]; egress: Rule[] }, dir: Direction): Rule[] {
  return dir === 'ingress' ? x.ingress : x.egress;
}

export type TierLoopOutcome =
  | { kind: 'decided'; decision: Decision }
  /** Fell off the last tier; `tiers` = number of participating tiers (0 = none at all). */
  | { kind: 'fell-through'; tiers: number };

/**
 * §4.3 for one endpoint, class and direction. Allow/Deny are final; Pass ends the tier; Log rules
 * are recorded in `logs` and evaluation continues (§3.1). `endOfTierDrop` is true for the normal,
 * forward and workload classes and false for preDNAT/untracked, where every tier behaves as Pass.
 */
export function runTiers(
  model: ReferenceModel,
  subject: Subject,
  cls: PolicyClass,
  dir: Direction,
  pkt: PacketView,
  endOfTierDrop: boolean,
  logs: RuleRef[],
): TierLoopOutcome {
  const plans = participatingTiers(model, subject, cls, dir);
  for (const { tier, policies } of plans) {
    let passed = false;
    policyLoop: for (const policy of policies) {
      const rules = rulesOf(policy, dir);
      for (let index = 0; index < rules.length; index++) {
        const rule = rules[index]!;
        if (!matchesPacket(model.match, rule, pkt)) continue;
        const ref: RuleRef = { kind: 'policy', tier: tier.name, policy: policy.name, direction: dir, index, action: rule.action };
        if (rule.action === 'Log') {
          logs.push(ref);
          continue;
        }
        if (rule.action === 'Pass') {
          passed = true;
          break policyLoop;
        }
        return { kind: 'decided', decision: { result: rule.action === 'Allow' ? 'allow' : 'deny', rule: ref } };
      }
      // No rule decided: next policy.
    }
    if (!passed && endOfTierDrop && tier.defaultAction === 'Deny') {
      return { kind: 'decided', decision: { result: 'deny', rule: { kind: 'builtin', name: 'end-of-tier', detail: tier.name } } };
    }
    // Pass (rule or tier default): next tier.
  }
  return { kind: 'fell-through', tiers: plans.length };
}

/**
 * §4.4: each profile in list order like a policy: Allow/Deny decide, Pass or no match go to the
 * next profile. A listed profile that does not exist denies everything (§1.1). Null when every
 * profile fell through (the caller applies its own default).
 */
export function runProfiles(
  model: ReferenceModel,
  profileNames: readonly string[],
  dir: Direction,
  pkt: PacketView,
  logs: RuleRef[],
): Decision | null {
  for (const name of profileNames) {
    const profile = model.profiles.get(name);
    if (!profile) return { result: 'deny', rule: { kind: 'builtin', name: 'missing-profile', detail: name } };
    const rules = rulesOf(profile, dir);
    for (let index = 0; index < rules.length; index++) {
      const rule = rules[index]!;
      if (!matchesPacket(model.match, rule, pkt)) continue;
      const ref: RuleRef = { kind: 'profile', profile: name, direction: dir, index, action: rule.action };
      if (rule.action === 'Log') {
        logs.push(ref);
        continue;
      }
      if (rule.action === 'Pass') break;
      return { result: rule.action === 'Allow' ? 'allow' : 'deny', rule: ref };
    }
  }
  return null;
}
