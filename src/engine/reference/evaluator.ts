/**
 * The reference evaluator: a direct, unoptimised reading of calico-semantics.md, used as the
 * oracle for the compiled engine. `judge` walks the hooks of the packet's path (§5.3) carrying
 * the accept-mark and the untracked state between them.
 */
import type { ResourceSet } from '../../config/resources';
import type { HookName, HookOutcome, Judgement, PolicyEvaluator, RuleRef, StepOutcome } from '../decision';
import type { HostModel } from '../host-model';
import type { PacketFacts } from '../packet-facts';
import { ReferenceModel } from './model';
import { hooksForPath, Pipeline } from './pipeline';

function isAcceptMarkStep(s: StepOutcome): boolean {
  return s.rule.kind === 'builtin' && s.rule.name === 'accept-mark';
}

class ReferenceEvaluator implements PolicyEvaluator {
  private readonly pipeline: Pipeline;

  constructor(private readonly model: ReferenceModel) {
    this.pipeline = new Pipeline(model);
  }

  evaluateHook(hook: HookName, facts: PacketFacts, acceptMark: boolean): HookOutcome {
    const run = this.pipeline.run(hook, facts, acceptMark);
    return {
      action: run.action,
      acceptMark: run.acceptMark,
      untrack: run.untrack,
      noVerdict: run.noVerdict,
      steps: run.steps,
      logs: run.logs,
    };
  }

  judge(facts: PacketFacts): Judgement {
    const steps: StepOutcome[] = [];
    const logs: RuleRef[] = [];
    let f = facts;
    let mark = false;
    let untracked = false;
    /** The untracked/preDNAT Allow that set the accept-mark. */
    let markSetter: StepOutcome | null = null;

    for (const hook of hooksForPath(facts.path)) {
      const run = this.pipeline.run(hook, f, mark);
      steps.push(...run.steps);
      logs.push(...run.logs);
      if (run.untrack) {
        // NOTRACK: later stages see no conntrack entry and judge the packet as new (§5.7).
        untracked = true;
        f = { ...f, ctState: 'untracked' };
      }
      if (run.acceptMark) {
        mark = true;
        markSetter = run.decisive;
      }
      if (run.action === 'continue') continue;
      let decidedBy = run.decisive ?? steps[steps.length - 1]!;
      // An accept carried by the mark was decided by the rule that set it.
      if (isAcceptMarkStep(decidedBy) && markSetter) decidedBy = markSetter;
      return {
        verdict: run.action === 'accept' ? 'allow' : 'deny',
        noVerdict: run.noVerdict,
        untracked,
        decidedBy,
        steps,
        logs,
      };
    }

    // Unreachable for well-formed paths: the last hook of every path always decides.
    const last: StepOutcome = {
      hook: hooksForPath(facts.path).at(-1)!,
      chain: 'dispatch',
      endpoint: null,
      result: 'no-verdict',
      rule: { kind: 'builtin', name: 'unmanaged-verdict', detail: this.model.host.unmanagedVerdict },
    };
    steps.push(last);
    return {
      verdict: this.model.host.unmanagedVerdict === 'accept' ? 'allow' : 'deny',
      noVerdict: true,
      untracked,
      decidedBy: last,
      steps,
      logs,
    };
  }
}

/** Build the reference evaluator for validated resources on one host. */
export function createReferenceEvaluator(resources: ResourceSet, host: HostModel): PolicyEvaluator {
  return new ReferenceEvaluator(new ReferenceModel(resources, host));
}
