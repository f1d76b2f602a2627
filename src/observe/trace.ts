/**
 * Full explanations of decisions, for `nfqwall trace` (live) and `nfqwall explain --rules`
 * (offline): every stage the packet met, the governing endpoint of each, the tiers and policies
 * considered in order and, for each rule tried, why it did or did not match.
 *
 * The steps come from the compiled engine (`evaluateHook` / `judge`, the same code that gave the
 * verdict). The rule-level detail is a second, literal walk over the validated resources with the
 * reference evaluator's model (tier order, policy selection, classes) and `explainRule`; each step
 * records whether that walk reached the same rule as the engine (`consistent`).
 *
 * Only built when someone asks: it allocates freely and is far slower than the verdict path.
 */
import type { GlobalNetworkPolicy, Rule, RuleAction } from '../config/resources';
import type { CompiledPolicy } from '../engine/compiled-policy';
import type { ChainKind, Direction, HookName, Judgement, RuleRef, StepOutcome, StepResult } from '../engine/decision';
import { ruleKey } from '../engine/decision';
import { describeRule } from '../engine/explain';
import type { PacketFacts } from '../engine/packet-facts';
import { ReferenceModel, type Subject } from '../engine/reference/model';
import { filterView, preDnatView, type PacketView } from '../engine/reference/packet-view';
import { participatingTiers, type PolicyClass } from '../engine/reference/tier-loop';
import { formatIp } from '../net/ip';
import type { PacketOutcome } from '../pipeline/packet-processor';
import { NF_ACCEPT, NF_DROP, verdictName } from '../queue/verdict-codes';
import { protocolName } from './filter';
import { flowIdOf } from './flow-id';
import { packetFields, ruleFields, type DecisionFields } from './records';
import { explainRule, summarizeRuleExplanation, type CriterionCheck } from './rule-explain';

export interface RuleTrace {
  index: number;
  action: RuleAction;
  matched: boolean;
  /** no-match; log (matched, logged, evaluation went on); pass (ends the tier); allow / deny (final). */
  outcome: 'no-match' | 'log' | 'pass' | 'allow' | 'deny';
  /** "matched", or the failed criteria with their reasons. */
  why: string;
  checks: CriterionCheck[];
}

export interface PolicyTrace {
  policy: string;
  order: number | null;
  rules: RuleTrace[];
  /** What the policy did: a final allow/deny, pass (ends the tier), or no-match (next policy). */
  outcome: 'allow' | 'deny' | 'pass' | 'no-match';
}

export interface TierTrace {
  tier: string;
  defaultAction: 'Deny' | 'Pass';
  policies: PolicyTrace[];
  /** decided: a rule allowed or denied; pass: a Pass rule or default Pass ended the tier; end-of-tier: default Deny. */
  outcome: 'decided' | 'pass' | 'end-of-tier';
}

export interface ProfileTrace {
  profile: string;
  missing: boolean;
  rules: RuleTrace[];
  outcome: 'allow' | 'deny' | 'pass' | 'no-match';
}

export interface StepTrace {
  hook: HookName;
  chain: ChainKind;
  /** The governing HEP (or namespace/name of a WEP), or null. */
  endpoint: string | null;
  result: StepResult;
  rule: RuleRef;
  ruleId: string;
  /** describeRule() of the deciding rule. */
  decidedBy: string;
  /** Policy class and direction of the chain, when it is an endpoint chain. */
  policyClass: PolicyClass | null;
  direction: Direction | null;
  /** The destination the chain matched against (§5.13): pre-DNAT for untracked/preDNAT, post-DNAT otherwise. */
  view: 'pre-DNAT' | 'post-DNAT' | null;
  /** Why no rules ran, or what a built-in outcome means. */
  note: string | null;
  tiers: TierTrace[];
  profiles: ProfileTrace[];
  /** The rule-level walk reached the same rule as the engine. */
  consistent: boolean;
}

/** What built-in outcomes mean (calico-semantics.md sections in brackets). */
const BUILTIN_NOTES: Record<string, string> = {
  'conntrack-established': 'the packet belongs to an established or related connection: accepted before any policy (§5.9)',
  'conntrack-invalid': 'conntrack classified the packet INVALID: dropped before any policy (§5.9)',
  'failsafe-inbound': 'an inbound failsafe port (failsafeInboundHostPorts) matched: policy is not consulted (§5.8)',
  'failsafe-outbound': 'an outbound failsafe port (failsafeOutboundHostPorts) matched: policy is not consulted (§5.8)',
  'accept-mark': 'an earlier untracked or preDNAT Allow marked the packet: accepted without this chain (§5.3)',
  'unmanaged-interface': 'no HostEndpoint governs the interface: Calico renders no verdict, unmanagedVerdict decides (§5.4)',
  'host-to-workload': 'traffic from the host to a local workload is never policed (§5.11)',
  'endpoint-to-host': 'workload-to-host traffic: ICMPv6 ND/MLD pass first, the rest meets DefaultEndpointToHostAction after the workload policy (§5.11)',
  'forward-default-allow': 'no applyOnForward policy selects this HEP in this direction: the forward leg allows (§5.4 F2)',
  'end-of-tier': "a tier had policies for the endpoint but none allowed or denied: the tier's default action Deny applies (§4.3)",
  'no-profile-allowed': 'no tier decided and no profile allowed: denied (§4.4)',
  'missing-profile': 'the endpoint lists a profile that does not exist: it denies everything (§1.1)',
  'forward-no-verdict': 'every tier passed on this forward leg: no verdict here (§5.14 Q2)',
  'workload-default-deny': "the workload's chain fell through its tiers and profiles: denied",
  'stage-no-match': 'no rule of this untracked/preDNAT stage allowed or denied: the packet goes on to the next stage',
  'unmanaged-verdict': 'Calico renders no verdict here: the configured unmanagedVerdict decides',
};

/** Built-in outcomes decided before (or instead of) any policy rule. */
const NO_RULES_RUN = new Set(['conntrack-established', 'conntrack-invalid', 'failsafe-inbound', 'failsafe-outbound', 'accept-mark', 'unmanaged-interface', 'host-to-workload', 'endpoint-to-host', 'forward-default-allow', 'unmanaged-verdict']);

interface ChainShape {
  cls: PolicyClass;
  dir: Direction;
  preDnat: boolean;
  /** Tiers whose policies all fell through deny (normal, forward, workload), else behave as Pass. */
  endOfTierDrop: boolean;
  profiles: boolean;
  workload: boolean;
}

const CHAIN_SHAPES: Partial<Record<ChainKind, ChainShape>> = {
  'untracked-ingress': { cls: 'untracked', dir: 'ingress', preDnat: true, endOfTierDrop: false, profiles: false, workload: false },
  'untracked-egress': { cls: 'untracked', dir: 'egress', preDnat: true, endOfTierDrop: false, profiles: false, workload: false },
  'prednat-ingress': { cls: 'preDNAT', dir: 'ingress', preDnat: true, endOfTierDrop: false, profiles: false, workload: false },
  'normal-ingress': { cls: 'normal', dir: 'ingress', preDnat: false, endOfTierDrop: true, profiles: true, workload: false },
  'normal-egress': { cls: 'normal', dir: 'egress', preDnat: false, endOfTierDrop: true, profiles: true, workload: false },
  'forward-ingress': { cls: 'forward', dir: 'ingress', preDnat: false, endOfTierDrop: true, profiles: false, workload: false },
  'forward-egress': { cls: 'forward', dir: 'egress', preDnat: false, endOfTierDrop: true, profiles: false, workload: false },
  'workload-ingress': { cls: 'workload', dir: 'ingress', preDnat: false, endOfTierDrop: true, profiles: true, workload: true },
  'workload-egress': { cls: 'workload', dir: 'egress', preDnat: false, endOfTierDrop: true, profiles: true, workload: true },
};

const models = new WeakMap<CompiledPolicy, ReferenceModel>();

/** The reference model of a compiled policy (built once per policy generation, only when tracing). */
function modelOf(policy: CompiledPolicy): ReferenceModel {
  let m = models.get(policy);
  if (!m) {
    m = new ReferenceModel(policy.resources, policy.host);
    models.set(policy, m);
  }
  return m;
}

function subjectOf(model: ReferenceModel, shape: ChainShape, endpoint: string): Subject | null {
  const node = model.host.node;
  if (shape.workload) {
    const w = model.resources.workloadEndpoints.find((x) => x.node === node && (`${x.namespace}/${x.name}` === endpoint || x.name === endpoint));
    return w ? model.workloadSubject(w) : null;
  }
  const h = model.resources.hostEndpoints.find((x) => x.node === node && x.name === endpoint);
  return h ? model.hostSubject(h) : null;
}

function rulesOf(x: { ingress: Rule[]; egress: Rule[] }, dir: Direction): Rule[] {
  return dir === 'ingress' ? x.ingress : x.egress;
}

function traceRule(model: ReferenceModel, rule: Rule, index: number, pkt: PacketView): RuleTrace {
  const e = explainRule(model.match, rule, pkt);
  let outcome: RuleTrace['outcome'] = 'no-match';
  if (e.matched) outcome = rule.action === 'Log' ? 'log' : rule.action === 'Pass' ? 'pass' : rule.action === 'Allow' ? 'allow' : 'deny';
  return { index, action: rule.action, matched: e.matched, outcome, why: summarizeRuleExplanation(e), checks: e.checks };
}

/** §4.3 walked with explanations; returns the deciding ref, or null when it fell through. */
function walkTiers(model: ReferenceModel, subject: Subject, shape: ChainShape, pkt: PacketView, out: TierTrace[]): { ref: RuleRef | null; tiers: number } {
  const plans = participatingTiers(model, subject, shape.cls, shape.dir);
  for (const { tier, policies } of plans) {
    const tt: TierTrace = { tier: tier.name, defaultAction: tier.defaultAction, policies: [], outcome: 'pass' };
    out.push(tt);
    let passed = false;
    for (const policy of policies) {
      const pt = tracePolicy(model, policy, shape.dir, pkt);
      tt.policies.push(pt);
      if (pt.outcome === 'allow' || pt.outcome === 'deny') {
        tt.outcome = 'decided';
        const last = pt.rules[pt.rules.length - 1]!;
        return { ref: { kind: 'policy', tier: tier.name, policy: policy.name, direction: shape.dir, index: last.index, action: last.action }, tiers: plans.length };
      }
      if (pt.outcome === 'pass') {
        passed = true;
        break;
      }
    }
    if (!passed && shape.endOfTierDrop && tier.defaultAction === 'Deny') {
      tt.outcome = 'end-of-tier';
      return { ref: { kind: 'builtin', name: 'end-of-tier', detail: tier.name }, tiers: plans.length };
    }
  }
  return { ref: null, tiers: plans.length };
}

function tracePolicy(model: ReferenceModel, policy: GlobalNetworkPolicy, dir: Direction, pkt: PacketView): PolicyTrace {
  const pt: PolicyTrace = { policy: policy.name, order: policy.order ?? null, rules: [], outcome: 'no-match' };
  const rules = rulesOf(policy, dir);
  for (let i = 0; i < rules.length; i++) {
    const rt = traceRule(model, rules[i]!, i, pkt);
    pt.rules.push(rt);
    if (rt.outcome === 'allow' || rt.outcome === 'deny' || rt.outcome === 'pass') {
      pt.outcome = rt.outcome;
      break;
    }
  }
  return pt;
}

/** §4.4 walked with explanations. */
function walkProfiles(model: ReferenceModel, subject: Subject, dir: Direction, pkt: PacketView, out: ProfileTrace[]): RuleRef | null {
  for (const name of subject.profiles) {
    const profile = model.profiles.get(name);
    if (!profile) {
      out.push({ profile: name, missing: true, rules: [], outcome: 'deny' });
      return { kind: 'builtin', name: 'missing-profile', detail: name };
    }
    const pt: ProfileTrace = { profile: name, missing: false, rules: [], outcome: 'no-match' };
    out.push(pt);
    const rules = rulesOf(profile, dir);
    for (let i = 0; i < rules.length; i++) {
      const rt = traceRule(model, rules[i]!, i, pkt);
      pt.rules.push(rt);
      if (rt.outcome === 'pass') {
        pt.outcome = 'pass';
        break;
      }
      if (rt.outcome === 'allow' || rt.outcome === 'deny') {
        pt.outcome = rt.outcome;
        return { kind: 'profile', profile: name, direction: dir, index: i, action: rules[i]!.action };
      }
    }
  }
  return null;
}

/** Explain one engine step at rule level. */
export function traceStep(policy: CompiledPolicy, facts: PacketFacts, step: StepOutcome): StepTrace {
  const st: StepTrace = {
    hook: step.hook,
    chain: step.chain,
    endpoint: step.endpoint,
    result: step.result,
    rule: step.rule,
    ruleId: ruleKey(step.rule),
    decidedBy: describeRule(step.rule),
    policyClass: null,
    direction: null,
    view: null,
    note: step.rule.kind === 'builtin' ? (BUILTIN_NOTES[step.rule.name] ?? null) : null,
    tiers: [],
    profiles: [],
    consistent: true,
  };
  const shape = CHAIN_SHAPES[step.chain];
  if (!shape) return st;
  st.policyClass = shape.cls;
  st.direction = shape.dir;
  st.view = shape.preDnat ? 'pre-DNAT' : 'post-DNAT';
  if (step.rule.kind === 'builtin' && (NO_RULES_RUN.has(step.rule.name) || (step.rule.name === 'workload-default-deny' && step.rule.detail !== undefined))) return st;
  if (step.endpoint === null) return st;
  const model = modelOf(policy);
  const subject = subjectOf(model, shape, step.endpoint);
  if (!subject) {
    st.consistent = false;
    st.note = `endpoint ${step.endpoint} is not among this host's endpoints`;
    return st;
  }
  const pkt = shape.preDnat ? preDnatView(facts) : filterView(facts);
  const walked = walkTiers(model, subject, shape, pkt, st.tiers);
  let ref = walked.ref;
  if (ref === null && shape.profiles) {
    ref = walkProfiles(model, subject, shape.dir, pkt, st.profiles) ?? { kind: 'builtin', name: shape.workload ? 'workload-default-deny' : 'no-profile-allowed' };
  }
  if (ref === null) {
    if (shape.cls === 'forward') ref = walked.tiers === 0 ? { kind: 'builtin', name: 'forward-default-allow' } : { kind: 'builtin', name: 'forward-no-verdict' };
    else ref = { kind: 'builtin', name: 'stage-no-match' };
  }
  st.consistent = ruleKey(ref) === st.ruleId;
  return st;
}

/** Explain every step of a judgement or hook outcome. */
export function traceSteps(policy: CompiledPolicy, facts: PacketFacts, steps: readonly StepOutcome[]): StepTrace[] {
  return steps.map((s) => traceStep(policy, facts, s));
}

// ---- live trace events ---------------------------------------------------------------------

export interface TracePacket {
  family: 4 | 6;
  proto: string;
  protoNumber: number;
  src: string;
  dst: string;
  sport: number | null;
  dport: number | null;
  icmpType: number | null;
  icmpCode: number | null;
  iif: string | null;
  oif: string | null;
  /** Conntrack state as the engine saw it. */
  ct: string;
  path: string;
}

export interface TraceEvent {
  /** ISO time of the decision. */
  at: string;
  /** The shared record fields of the decision (see records.ts). */
  decision: DecisionFields;
  /** The queue's hook; `evaluatedHook` differs when a reply-direction packet was judged again as its flow's original direction. */
  hook: HookName;
  evaluatedHook: HookName;
  /** The netfilter verdict given (repeat: the verdict is stored in the mark and the packet re-runs the chain). */
  verdict: 'accept' | 'drop' | 'repeat';
  /** The verdict came from the flow table, not from the engine (the explanation is recomputed). */
  cached: boolean;
  rejudged: boolean;
  packet: TracePacket;
  steps: StepTrace[];
  /** Log rules whose criteria matched (ruleIds). */
  logs: string[];
  /** The recomputed explanation reached the same outcome as the live verdict. */
  consistent: boolean;
}

/** The hook the processor evaluated (it swaps input/output for re-judged reply packets). */
export function evaluatedHookOf(hook: HookName, facts: PacketFacts): HookName {
  if (hook === 'filter-input' && facts.path === 'local-out') return 'filter-output';
  if (hook === 'filter-output' && facts.path === 'local-in') return 'filter-input';
  return hook;
}

function tracePacket(f: PacketFacts): TracePacket {
  return {
    family: f.family,
    proto: protocolName(f.proto),
    protoNumber: f.proto,
    src: formatIp(f.src),
    dst: formatIp(f.dst),
    sport: f.sport >= 0 ? f.sport : null,
    dport: f.dport >= 0 ? f.dport : null,
    icmpType: f.icmpType >= 0 ? f.icmpType : null,
    icmpCode: f.icmpCode >= 0 ? f.icmpCode : null,
    iif: f.iif,
    oif: f.oif,
    ct: f.ctState,
    path: f.path,
  };
}

/**
 * The trace event for one processed packet. Call synchronously after `PacketProcessor.process`
 * (the outcome is reused by the next call). `acceptMark`: the packet carried the accept-mark bit.
 */
export function buildTraceEvent(o: PacketOutcome, policy: CompiledPolicy, acceptMark: boolean, now: number): TraceEvent {
  const facts = o.facts;
  const evalHook = evaluatedHookOf(o.hook, facts);
  const h = policy.evaluateHook(evalHook, facts, acceptMark);
  const steps = traceSteps(policy, facts, h.steps);
  const d = o.decision;
  const flowDecision = o.flow?.decision ?? null;
  let action: string;
  let rule: RuleRef;
  let stage: HookName | null;
  let hep: string | null;
  if (d !== null) {
    action = d.action === 'accept' ? 'allow' : d.action === 'drop' ? 'deny' : 'continue';
    rule = d.decidedBy.rule;
    stage = d.decidedBy.hook;
    hep = d.decidedBy.endpoint;
  } else if (flowDecision !== null) {
    action = flowDecision.verdict === NF_DROP ? 'deny' : 'allow';
    rule = flowDecision.rule;
    stage = flowDecision.hook;
    hep = flowDecision.endpoint;
  } else {
    action = o.verdict === NF_ACCEPT ? 'allow' : 'deny';
    rule = { kind: 'builtin', name: 'unmanaged-verdict' };
    stage = o.hook;
    hep = null;
  }
  const expected = h.action === 'accept' ? 'allow' : h.action === 'drop' ? 'deny' : 'continue';
  return {
    at: new Date(now).toISOString(),
    decision: {
      flowId: o.flow ? flowIdOf(o.flow) : null,
      ...packetFields(facts),
      stage,
      hep,
      ...ruleFields(rule),
      action,
      generation: o.generation,
    },
    hook: o.hook,
    evaluatedHook: evalHook,
    verdict: verdictName(o.verdict),
    cached: o.cached,
    rejudged: o.rejudged,
    packet: tracePacket(facts),
    steps,
    logs: h.logs.map(ruleKey),
    consistent: expected === action && steps.every((s) => s.consistent),
  };
}

// ---- text ----------------------------------------------------------------------------------

function ruleLine(r: RuleTrace, indent: string): string {
  const tag = r.outcome === 'no-match' ? 'no match' : r.outcome === 'log' ? 'matched: logged, evaluation continues' : r.outcome === 'pass' ? 'matched: Pass, ends the tier' : `matched: ${r.outcome}`;
  const why = r.matched ? '' : `: ${r.why}`;
  return `${indent}rule ${r.index} ${r.action.padEnd(5)} ${tag}${why}`;
}

/** Rule-level lines of one step (no trailing newline). */
export function formatStepTrace(s: StepTrace, indent = '  '): string[] {
  const lines: string[] = [];
  const where = s.endpoint ?? '-';
  const cls = s.policyClass ? ` [${s.policyClass} ${s.direction}, ${s.view} destination]` : '';
  lines.push(`${indent}${s.hook} ${s.chain} ${where}${cls}: ${s.result} by ${s.decidedBy}`);
  const inner = `${indent}  `;
  if (s.note) lines.push(`${inner}${s.note}`);
  for (const t of s.tiers) {
    const end = t.outcome === 'end-of-tier' ? ' -> no policy decided: tier default Deny' : t.outcome === 'pass' ? ' -> passed to the next tier' : '';
    lines.push(`${inner}tier ${t.tier} (default ${t.defaultAction})${end}`);
    for (const p of t.policies) {
      lines.push(`${inner}  policy ${p.policy}${p.order !== null ? ` (order ${p.order})` : ''}${p.rules.length === 0 ? `: no ${s.direction ?? ''} rules` : ''}${p.outcome === 'no-match' && p.rules.length > 0 ? ': no rule decided' : ''}`);
      for (const r of p.rules) lines.push(ruleLine(r, `${inner}    `));
    }
  }
  for (const p of s.profiles) {
    if (p.missing) {
      lines.push(`${inner}profile ${p.profile}: does not exist, denies everything`);
      continue;
    }
    lines.push(`${inner}profile ${p.profile}${p.outcome === 'no-match' ? ': no rule decided' : ''}`);
    for (const r of p.rules) lines.push(ruleLine(r, `${inner}  `));
  }
  if (!s.consistent) lines.push(`${inner}(note: the rule-level walk did not reach the engine's rule; the engine's verdict stands)`);
  return lines;
}

function endpointText(p: TracePacket): string {
  const ep = (a: string, port: number | null) => (port === null ? a : p.family === 6 ? `[${a}]:${port}` : `${a}:${port}`);
  const icmp = p.icmpType !== null ? ` type ${p.icmpType}/${p.icmpCode ?? 0}` : '';
  return `${p.proto} ${ep(p.src, p.sport)} -> ${ep(p.dst, p.dport)}${icmp}`;
}

/** A live trace event as text (several lines, ending in a newline). */
export function formatTraceEvent(e: TraceEvent): string {
  const p = e.packet;
  const d = e.decision;
  const ifs = [p.iif ? `iif ${p.iif}` : '', p.oif ? `oif ${p.oif}` : ''].filter((x) => x !== '').join(' ');
  const extra = [e.cached ? 'cached verdict' : '', e.rejudged ? 're-judged' : '', d.flowId !== null ? `flow ${d.flowId}` : '', `gen ${d.generation}`].filter((x) => x !== '').join(', ');
  const lines = [`${e.at} ${d.action.toUpperCase()} ${endpointText(p)} ${ifs} ct ${p.ct} at ${e.hook} (${extra})`];
  for (const s of e.steps) lines.push(...formatStepTrace(s));
  for (const l of e.logs) lines.push(`  log: ${l}`);
  const final = d.policy !== null ? `${d.tier !== null ? `tier ${d.tier} / ` : ''}policy ${d.policy} rule ${d.rule}` : d.ruleId;
  lines.push(`  => ${d.action} (${e.verdict}) by ${final}${d.hep ? ` on ${d.hep}` : ''}`);
  return `${lines.join('\n')}\n`;
}

/** An offline judgement with its rule-level explanation (`nfqwall explain --rules`). */
export function formatJudgementWithRules(j: Judgement, traces: readonly StepTrace[]): string {
  const lines = traces.flatMap((t) => formatStepTrace(t));
  for (const l of j.logs) lines.push(`  log: ${describeRule(l)}`);
  const how = j.noVerdict ? ' (no Calico verdict: unmanagedVerdict decided)' : '';
  lines.push(`verdict: ${j.verdict}${how}${j.untracked ? ', untracked' : ''}; decided by ${describeRule(j.decidedBy.rule)}${j.decidedBy.endpoint ? ` on ${j.decidedBy.endpoint}` : ''}`);
  return `${lines.join('\n')}\n`;
}
