/**
 * One endpoint chain each (§5.5; workload chains §5.11): conntrack tests, failsafes, the tier
 * loop of the chain's class, then the chain's own default.
 */
import type { FelixSettings } from '../../config/resources';
import type { Direction, RuleRef, StepResult } from '../decision';
import type { CtState } from '../packet-facts';
import { matchFailsafe } from './failsafe';
import type { ReferenceModel, Subject } from './model';
import type { PacketView } from './packet-view';
import { runProfiles, runTiers } from './tier-loop';

export interface ChainOutcome {
  result: StepResult;
  rule: RuleRef;
  /**
   * True for the conntrack ACCEPT at the top of a tracked filter chain: a real ACCEPT that ends
   * all processing, unlike a policy Allow on a forward leg, which only sets the accept-mark.
   */
  final: boolean;
}

function outcome(result: StepResult, rule: RuleRef, final = false): ChainOutcome {
  return { result, rule, final };
}

function builtin(name: Extract<RuleRef, { kind: 'builtin' }>['name'], detail?: string): RuleRef {
  return detail === undefined ? { kind: 'builtin', name } : { kind: 'builtin', name, detail };
}

/** Replies, later packets and related ICMP (§5.9); 'reply' is the packet of an established flow. */
export function isEstablished(ct: CtState): boolean {
  return ct === 'established' || ct === 'related' || ct === 'reply';
}

/** INVALID is dropped unless disableConntrackInvalidCheck (§5.9, §1.9). */
export function isDroppedInvalid(ct: CtState, felix: FelixSettings): boolean {
  return ct === 'invalid' && !felix.disableConntrackInvalidCheck;
}

/**
 * The conntrack tests at the top of every tracked chain (§5.5, §5.9). 'untracked' and 'new'
 * packets match neither test and are judged by policy.
 */
function conntrackTests(ct: CtState, felix: FelixSettings): ChainOutcome | null {
  if (isEstablished(ct)) return outcome('allow', builtin('conntrack-established'), true);
  if (isDroppedInvalid(ct, felix)) return outcome('deny', builtin('conntrack-invalid'));
  return null;
}

/**
 * Normal HEP chain: local ingress (filter INPUT) or local egress (filter OUTPUT / mangle
 * POSTROUTING). Conntrack, failsafe (ACCEPT), normal tiers with end-of-tier drop, profiles,
 * then DROP (§5.4 rows L1–L3).
 */
export function normalChain(model: ReferenceModel, hep: Subject, dir: Direction, ct: CtState, pkt: PacketView, logs: RuleRef[]): ChainOutcome {
  const felix = model.resources.felix;
  const ctOut = conntrackTests(ct, felix);
  if (ctOut) return ctOut;
  const fs = matchFailsafe(dir === 'ingress' ? 'normal-ingress' : 'normal-egress', felix, pkt);
  if (fs) return outcome('allow', builtin(fs.name, fs.detail));
  const tiers = runTiers(model, hep, 'normal', dir, pkt, true, logs);
  if (tiers.kind === 'decided') return outcome(tiers.decision.result, tiers.decision.rule);
  const prof = runProfiles(model, hep.profiles, dir, pkt, logs);
  if (prof) return outcome(prof.result, prof.rule);
  return outcome('deny', builtin('no-profile-allowed'));
}

/**
 * Forward leg of a HEP (filter FORWARD): conntrack (ESTABLISHED is a final ACCEPT), no
 * failsafe (§5.8), AoF tiers with end-of-tier drop. A leg with no AoF policy in this direction
 * allows (§5.4 F2, implemented per direction as §5.14 Q1 / §7.2 ask); Pass past the last tier
 * renders no verdict (Q2). No profiles.
 */
export function forwardChain(model: ReferenceModel, hep: Subject, dir: Direction, ct: CtState, pkt: PacketView, logs: RuleRef[]): ChainOutcome {
  const ctOut = conntrackTests(ct, model.resources.felix);
  if (ctOut) return ctOut;
  const tiers = runTiers(model, hep, 'forward', dir, pkt, true, logs);
  if (tiers.kind === 'decided') return outcome(tiers.decision.result, tiers.decision.rule);
  if (tiers.tiers === 0) return outcome('allow', builtin('forward-default-allow'));
  return outcome('no-verdict', builtin('forward-no-verdict'));
}

/**
 * preDNAT chain (mangle PREROUTING, ingress only, §5.6). The pipeline has already let
 * ESTABLISHED/RELATED and accept-marked packets through. INVALID drops; an inbound failsafe ends
 * the stage without a verdict (Q4); tiers all behave as Pass; no match continues.
 */
export function preDnatChain(model: ReferenceModel, hep: Subject, ct: CtState, pkt: PacketView, logs: RuleRef[]): ChainOutcome {
  const felix = model.resources.felix;
  if (isDroppedInvalid(ct, felix)) return outcome('deny', builtin('conntrack-invalid'));
  const fs = matchFailsafe('prednat-ingress', felix, pkt);
  if (fs) return outcome('continue', builtin(fs.name, fs.detail));
  const tiers = runTiers(model, hep, 'preDNAT', 'ingress', pkt, false, logs);
  if (tiers.kind === 'decided') return outcome(tiers.decision.result, tiers.decision.rule);
  return outcome('continue', builtin('stage-no-match'));
}

/**
 * Untracked chain (raw PREROUTING ingress / raw OUTPUT egress, §5.7): no conntrack test,
 * failsafes with their reverse variants end the stage without a verdict, tiers all behave as
 * Pass, no match continues.
 */
export function untrackedChain(model: ReferenceModel, hep: Subject, dir: Direction, pkt: PacketView, logs: RuleRef[]): ChainOutcome {
  const fs = matchFailsafe(dir === 'ingress' ? 'untracked-ingress' : 'untracked-egress', model.resources.felix, pkt);
  if (fs) return outcome('continue', builtin(fs.name, fs.detail));
  const tiers = runTiers(model, hep, 'untracked', dir, pkt, false, logs);
  if (tiers.kind === 'decided') return outcome(tiers.decision.result, tiers.decision.rule);
  return outcome('continue', builtin('stage-no-match'));
}

/**
 * WEP chain (§5.11): 'ingress' = traffic to the workload, 'egress' = traffic from it.
 * Conntrack (ESTABLISHED is a final ACCEPT), no failsafes, tiers with end-of-tier drop,
 * profiles, then DROP.
 */
export function workloadChain(model: ReferenceModel, wep: Subject, dir: Direction, ct: CtState, pkt: PacketView, logs: RuleRef[]): ChainOutcome {
  const ctOut = conntrackTests(ct, model.resources.felix);
  if (ctOut) return ctOut;
  const tiers = runTiers(model, wep, 'workload', dir, pkt, true, logs);
  if (tiers.kind === 'decided') return outcome(tiers.decision.result, tiers.decision.rule);
  const prof = runProfiles(model, wep.profiles, dir, pkt, logs);
  if (prof) return outcome(prof.result, prof.rule);
  return outcome('deny', builtin('workload-default-deny'));
}
