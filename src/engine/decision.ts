/**
 * What the engine answers: a verdict and why.
 *
 * Every outcome names the rule that produced it: a real rule of a policy or profile, or a named
 * built-in rule (failsafe, conntrack, end-of-tier, ...). Logs, traces and replay print these.
 * Both evaluators (compiled and reference) return exactly these shapes, so they can be compared.
 */
import type { RuleAction } from '../config/resources';
import type { PacketFacts } from './packet-facts';

/** The netfilter check points where Calico evaluates policy (calico-semantics.md §5.3). */
export type HookName =
  | 'raw-prerouting' // untracked ingress (doNotTrack)
  | 'mangle-prerouting' // preDNAT
  | 'filter-input' // normal ingress
  | 'filter-forward' // forward legs (and workload chains)
  | 'raw-output' // untracked egress
  | 'filter-output' // normal egress
  | 'mangle-postrouting'; // normal egress of DNAT'd locally originated packets

/** Which endpoint chain produced an outcome. */
export type ChainKind =
  | 'untracked-ingress'
  | 'untracked-egress'
  | 'prednat-ingress'
  | 'normal-ingress'
  | 'normal-egress'
  | 'forward-ingress'
  | 'forward-egress'
  | 'workload-ingress' // WEP ingress policy (packet going to a local workload)
  | 'workload-egress' // WEP egress policy (packet coming from a local workload)
  | 'dispatch'; // no endpoint chain ran (unmanaged interface, accept-mark, host-to-workload)

export type Direction = 'ingress' | 'egress';

/** Built-in (synthetic) rules: outcomes that no user rule produced. */
export type BuiltinRuleName =
  | 'conntrack-established' // ESTABLISHED/RELATED accepted before policy (§5.9)
  | 'conntrack-invalid' // INVALID dropped (§5.9)
  | 'failsafe-inbound' // §5.8
  | 'failsafe-outbound'
  | 'end-of-tier' // a tier had policies for the endpoint but none decided (§4.3)
  | 'no-profile-allowed' // normal class fell past the tiers and no profile allowed (§4.4)
  | 'missing-profile' // a listed profile does not exist: acts as deny-all (§1.1)
  | 'forward-default-allow' // forward leg with no AoF policy in this direction (§5.4 F2)
  | 'forward-no-verdict' // Pass past the last tier on a forward leg (§5.14 Q2)
  | 'workload-default-deny' // WEP chain fell past tiers and profiles
  | 'endpoint-to-host' // workload -> host default action (§5.11)
  | 'unmanaged-interface' // no HEP governs the interface (§5.4 N)
  | 'accept-mark' // an earlier untracked/preDNAT Allow accepted the packet (§5.3)
  | 'host-to-workload' // host -> own workload is never policed (§5.11)
  | 'stage-no-match' // preDNAT/untracked evaluation ended without a verdict (continue)
  | 'unmanaged-verdict'; // where Calico renders no verdict, the configured fallback decided

export type RuleRef =
  | { kind: 'policy'; tier: string; policy: string; direction: Direction; index: number; action: RuleAction }
  | { kind: 'profile'; profile: string; direction: Direction; index: number; action: RuleAction }
  | { kind: 'builtin'; name: BuiltinRuleName; /** e.g. the tier of an end-of-tier, the failsafe entry */ detail?: string };

/** What one endpoint chain (or dispatch step) concluded. */
export type StepResult = 'allow' | 'deny' | 'continue' | 'no-verdict';

export interface StepOutcome {
  hook: HookName;
  chain: ChainKind;
  /** The governing HEP or WEP name, or null. */
  endpoint: string | null;
  result: StepResult;
  rule: RuleRef;
}

/** The end-to-end verdict for one packet. */
export interface Judgement {
  verdict: 'allow' | 'deny';
  /** True when Calico rendered no verdict and the unmanaged setting decided. */
  noVerdict: boolean;
  /** True when an untracked (doNotTrack) Allow untracked the packet. */
  untracked: boolean;
  /** The step that decided (for noVerdict: the last step that ran, or the dispatch step). */
  decidedBy: StepOutcome;
  /** Every step that ran, in order. */
  steps: StepOutcome[];
  /** Log rules whose criteria matched, in the order they were hit. */
  logs: RuleRef[];
}

/** What one hook decides for a packet (the live daemon queues per hook). */
export interface HookOutcome {
  /** accept: stop, deliver; drop: stop; continue: later hooks decide. */
  action: 'accept' | 'drop' | 'continue';
  /** Set the accept-mark (untracked/preDNAT Allow). */
  acceptMark: boolean;
  /** Untrack the packet (untracked Allow). */
  untrack: boolean;
  /** Calico rendered no verdict here (`accept` then came from the unmanaged setting). */
  noVerdict: boolean;
  steps: StepOutcome[];
  logs: RuleRef[];
}

/** The contract both evaluators implement. Pure: no I/O, no clock. */
export interface PolicyEvaluator {
  /** Judge a packet end to end along its `path`. */
  judge(facts: PacketFacts): Judgement;
  /**
   * Evaluate one hook as the live dataplane meets it. `acceptMark` tells whether an earlier
   * hook's Allow marked the packet.
   */
  evaluateHook(hook: HookName, facts: PacketFacts, acceptMark: boolean): HookOutcome;
}

/** A stable string identity of a rule reference, for comparisons, metrics labels and logs. */
export function ruleKey(ref: RuleRef): string {
  switch (ref.kind) {
    case 'policy':
      return `policy:${ref.tier}/${ref.policy}/${ref.direction}/${ref.index}:${ref.action}`;
    case 'profile':
      return `profile:${ref.profile}/${ref.direction}/${ref.index}:${ref.action}`;
    case 'builtin':
      return `builtin:${ref.name}${ref.detail !== undefined ? `:${ref.detail}` : ''}`;
  }
}
