/**
 * Build a SteeringPlan from what HEP resolution says about interfaces (which interface has which
 * class of policy) and the daemon's steering settings. Pure.
 */
import type { SteeringInfo } from '../engine/compiled-policy';
import { markLayout } from './marks';
import { type HookName, type HookSteering, type InterfaceMatch, type QueueTarget, type SteeringPlan } from './plan';

/**
 * Interfaces per stage, from the engine's HEP resolution (calico-semantics §5.1, §5.2): a name is in a
 * list when the HEP governing it needs that stage; the `anyInterface` flags say every interface does
 * (an all-interfaces `*` HEP, which never applies to untracked policy).
 */
export type PolicyInterfaceInfo = SteeringInfo;

export interface PlanSettings {
  /** nft table / iptables chain prefix name. */
  table: string;
  mode: 'flow' | 'packet';
  failMode: 'open' | 'closed';
  markMask: number;
  /** A queue number per hook, or a range for fanout over several workers. */
  queues: Record<HookName, number | QueueTarget>;
  existingFlowsOnReload: 'rejudge' | 'keep';
  generation: number;
}

export function planFromPolicyInfo(info: PolicyInterfaceInfo, settings: PlanSettings): SteeringPlan {
  const none: InterfaceMatch = { all: false, names: [] };
  const match = (names: string[], all: boolean): InterfaceMatch => (all ? { all: true } : { all: false, names: [...new Set(names)].sort() });
  const hook = (name: HookName, iifs: InterfaceMatch, oifs: InterfaceMatch): HookSteering => {
    const q = settings.queues[name];
    const queue = typeof q === 'number' ? { from: q, to: q } : { from: q.from, to: q.to };
    const used = (m: InterfaceMatch) => m.all || m.names.length > 0;
    return { enabled: used(iifs) || used(oifs), queue, iifs, oifs };
  };
  const a = info.anyInterface;
  const output = match(info.outputOifs, a.output);
  const hooks: SteeringPlan['hooks'] = {
    rawPrerouting: hook('rawPrerouting', match(info.untrackedIifs, false), none),
    manglePrerouting: hook('manglePrerouting', match(info.preDnatIifs, a.preDnat), none),
    filterInput: hook('filterInput', match(info.inputIifs, a.input), none),
    filterForward: hook('filterForward', match(info.forwardIifs, a.forwardIn), match(info.forwardOifs, a.forwardOut)),
    rawOutput: hook('rawOutput', none, match(info.untrackedOifs, false)),
    filterOutput: hook('filterOutput', none, output),
    // Whatever output judges, DNAT'd local packets are judged here instead (same interfaces).
    manglePostrouting: hook('manglePostrouting', none, output),
  };
  return {
    table: settings.table,
    mode: settings.mode,
    failMode: settings.failMode,
    marks: markLayout(settings.markMask),
    generation: settings.generation,
    keepExistingFlows: settings.existingFlowsOnReload === 'keep',
    hooks,
  };
}
