/**
 * Builds the chains of one endpoint: which policies select it, split by class (§5.2) and direction,
 * per IP family, plus its profiles (§4.4). Compiled rules are shared between endpoints.
 */
import type { GlobalNetworkPolicy, Profile, Rule } from '../../config/resources';
import type { IpFamily } from '../../net/ip';
import { parseSelector } from '../../selector';
import type { Labels, Selector } from '../../selector/types';
import type { Direction, RuleRef } from '../decision';
import type { AddressSetBuilder } from './address-sets';
import { CompiledChain, type ChainEntry } from './chain';
import type { OrderedTier } from './order';
import { compileRule, ruleAppliesToFamily, type CompiledRule } from './rule-compiler';

/** Policy classes of §5.2 (forward = normal ∩ applyOnForward); `workload` is a WEP's (all normal policies). */
export type PolicyClass = 'untracked' | 'prednat' | 'normal' | 'forward' | 'workload';

export function policyInClass(p: GlobalNetworkPolicy, cls: PolicyClass): boolean {
  switch (cls) {
    case 'untracked':
      return p.doNotTrack;
    case 'prednat':
      return p.preDNAT;
    case 'normal':
    case 'workload':
      return !p.doNotTrack && !p.preDNAT;
    case 'forward':
      return !p.doNotTrack && !p.preDNAT && p.applyOnForward;
  }
}

/** A chain per family. */
export interface FamilyChains {
  4: CompiledChain;
  6: CompiledChain;
  /** A policy of the class selects the endpoint in this direction (independent of family). */
  hasTiers: boolean;
}

/** One profile compiled for a direction and family: Allow/Deny decide, Pass/no match go on (§4.4). */
export interface CompiledProfile {
  name: string;
  /** null when the profile does not exist: Calico treats it as deny-all. */
  chain: { 4: CompiledChain; 6: CompiledChain } | null;
}

export class ChainFactory {
  private readonly selectors = new Map<string, Selector>();
  private readonly rules = new Map<string, CompiledRule>();

  constructor(
    private readonly tiers: readonly OrderedTier[],
    private readonly profiles: ReadonlyMap<string, Profile>,
    private readonly sets: AddressSetBuilder,
  ) {}

  selects(p: GlobalNetworkPolicy, labels: Labels): boolean {
    if (p.selector === '') return true;
    let s = this.selectors.get(p.selector);
    if (!s) {
      const r = parseSelector(p.selector);
      if (!r.ok) throw new Error(`policy selector did not parse at compile time: ${p.selector}`);
      s = r.selector;
      this.selectors.set(p.selector, s);
    }
    return s.matches(labels);
  }

  private compiled(owner: string, rule: Rule, family: IpFamily, ref: RuleRef): CompiledRule {
    const key = `${owner}\u0000${ref.kind === 'builtin' ? '' : `${ref.direction}/${ref.index}`}\u0000${family}`;
    let c = this.rules.get(key);
    if (!c) {
      c = compileRule(rule, family, this.sets, ref);
      this.rules.set(key, c);
    }
    return c;
  }

  /** The tiers chain of an endpoint with `labels` for one class and direction. */
  chain(labels: Labels, cls: PolicyClass, dir: Direction): FamilyChains {
    const type = dir === 'ingress' ? 'Ingress' : 'Egress';
    const perTier: { t: OrderedTier; pols: GlobalNetworkPolicy[] }[] = [];
    for (const t of this.tiers) {
      const pols = t.policies.filter((p) => policyInClass(p, cls) && p.types.includes(type) && this.selects(p, labels));
      if (pols.length > 0) perTier.push({ t, pols });
    }
    const build = (family: IpFamily): CompiledChain => {
      const entries: ChainEntry[] = [];
      for (const { t, pols } of perTier) {
        const start = entries.length;
        for (const p of pols) {
          const list = dir === 'ingress' ? p.ingress : p.egress;
          list.forEach((rule, index) => {
            if (!ruleAppliesToFamily(rule, family)) return;
            const ref: RuleRef = { kind: 'policy', tier: t.tier.name, policy: p.name, direction: dir, index, action: rule.action };
            entries.push({ rule: this.compiled(`gnp/${p.name}`, rule, family, ref), tierEnd: -1, end: null });
          });
        }
        const endPos = entries.length;
        // preDNAT and untracked evaluation has no end-of-tier drop: every tier behaves as Pass (§4.3).
        const pass = cls === 'prednat' || cls === 'untracked' || t.tier.defaultAction === 'Pass';
        entries.push({ rule: null, tierEnd: endPos, end: { pass, ref: { kind: 'builtin', name: 'end-of-tier', detail: t.tier.name } } });
        for (let i = start; i < endPos; i++) entries[i]!.tierEnd = endPos;
      }
      return new CompiledChain(entries, perTier.length > 0, family);
    };
    return { 4: build(4), 6: build(6), hasTiers: perTier.length > 0 };
  }

  /** Profiles of an endpoint, in its list order, for one direction. */
  profileChains(names: readonly string[], dir: Direction): CompiledProfile[] {
    return names.map((name) => {
      const prof = this.profiles.get(name);
      if (!prof) return { name, chain: null };
      const build = (family: IpFamily): CompiledChain => {
        const entries: ChainEntry[] = [];
        const list = dir === 'ingress' ? prof.ingress : prof.egress;
        list.forEach((rule, index) => {
          if (!ruleAppliesToFamily(rule, family)) return;
          const ref: RuleRef = { kind: 'profile', profile: name, direction: dir, index, action: rule.action };
          entries.push({ rule: this.compiled(`profile/${name}`, rule, family, ref), tierEnd: -1, end: null });
        });
        const endPos = entries.length;
        // Pass or no match in a profile moves on to the next profile.
        entries.push({ rule: null, tierEnd: endPos, end: { pass: true, ref: { kind: 'builtin', name: 'no-profile-allowed' } } });
        for (let i = 0; i < endPos; i++) entries[i]!.tierEnd = endPos;
        return new CompiledChain(entries, true, family);
      };
      return { name, chain: { 4: build(4), 6: build(6) } };
    });
  }
}
