/** The policy engine: compile validated resources for a host, judge packets, explain verdicts. */
export { compilePolicy, CompiledPolicy, type CompileOptions } from './compiled-policy';
export type {
  BuiltinRuleName,
  ChainKind,
  Direction,
  HookName,
  HookOutcome,
  Judgement,
  PolicyEvaluator,
  RuleRef,
  StepOutcome,
  StepResult,
} from './decision';
export { ruleKey } from './decision';
export type { HostInterface, HostModel, NatRule, UnmanagedVerdict } from './host-model';
export { isWorkloadInterface } from './host-model';
export { hostModelFromData, parseFailsafeEntry } from './host-model-load';
export type { CtState, PacketFacts, PacketPath } from './packet-facts';
export { factsFromDescription, type PacketDescription } from './packet-description';
