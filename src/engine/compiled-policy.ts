/**
 * The compiled policy: everything resolved at compile time (HEP per interface, tiers, ordered rules,
 * address and port sets), so that judging a packet is a map lookup by interface and a walk over an
 * indexed rule array. Implements the stage pipeline of calico-semantics.md §5.3 for every hook.
 *
 * Immutable after construction except for per-interface memo tables (deterministic caches).
 * The per-packet path never awaits; `decide()` allocates nothing beyond what a trace asks for.
 */
import type { HostEndpoint, Profile, ResourceSet, WorkloadEndpoint } from '../config/resources';
import type { IpFamily } from '../net/ip';
import type {
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
import type { HostModel } from './host-model';
import { isWorkloadInterface } from './host-model';
import type { CtState, PacketFacts } from './packet-facts';
import { AddressSetBuilder } from './compile/address-sets';
import { OUTCOME_ALLOW, OUTCOME_DENY, type ChainResult } from './compile/chain';
import { ChainFactory, type CompiledProfile, type FamilyChains, type PolicyClass } from './compile/endpoint-chains';
import { addressedObjects, endpointLabels, HepResolver, wepLabels } from './compile/endpoints';
import { compileFailsafes, matchFailsafe, type CompiledFailsafe } from './compile/failsafe';
import { orderTiers } from './compile/order';
import type { MatchInput } from './compile/rule-compiler';

/** All chains of one endpoint (HEP or WEP). Built lazily per class. */
class EndpointPolicy {
  private readonly chains = new Map<string, FamilyChains>();
  private readonly profs = new Map<Direction, CompiledProfile[]>();
  constructor(
    readonly name: string,
    private readonly labels: Record<string, string>,
    private readonly profileNames: readonly string[],
    private readonly factory: ChainFactory,
  ) {}

  chain(cls: PolicyClass, dir: Direction): FamilyChains {
    const key = `${cls}/${dir}`;
    let c = this.chains.get(key);
    if (!c) {
      c = this.factory.chain(this.labels, cls, dir);
      this.chains.set(key, c);
    }
    return c;
  }

  profiles(dir: Direction): CompiledProfile[] {
    let p = this.profs.get(dir);
    if (!p) {
      p = this.factory.profileChains(this.profileNames, dir);
      this.profs.set(dir, p);
    }
    return p;
  }
}

/** Collects steps; the fast path keeps only what it needs, traces keep everything. */
interface StepSink {
  step(hook: HookName, chain: ChainKind, endpoint: string | null, result: StepResult, rule: RuleRef): void;
  logs: RuleRef[] | null;
}

class RecordingSink implements StepSink {
  readonly steps: StepOutcome[] = [];
  logs: RuleRef[] = [];
  step(hook: HookName, chain: ChainKind, endpoint: string | null, result: StepResult, rule: RuleRef): void {
    this.steps.push({ hook, chain, endpoint, result, rule });
  }
}

/** The fast path's sink: remembers only what `pickDecider` would choose, allocating nothing. */
class DecisionSink implements StepSink {
  logs: RuleRef[] | null = null;
  allow: StepOutcome = { hook: 'filter-input', chain: 'dispatch', endpoint: null, result: 'allow', rule: { kind: 'builtin', name: 'accept-mark' } };
  deny: StepOutcome = { hook: 'filter-input', chain: 'dispatch', endpoint: null, result: 'deny', rule: { kind: 'builtin', name: 'accept-mark' } };
  last: StepOutcome = { hook: 'filter-input', chain: 'dispatch', endpoint: null, result: 'no-verdict', rule: { kind: 'builtin', name: 'unmanaged-interface' } };
  /** Whether `allow` holds a real (non accept-mark) allow step of the current packet. */
  private realAllow = false;
  reset(): void {
    this.realAllow = false;
    this.last.rule = REF_UNMANAGED_FAST;
    this.last.result = 'no-verdict';
    this.last.chain = 'dispatch';
    this.last.endpoint = null;
  }
  step(hook: HookName, chain: ChainKind, endpoint: string | null, result: StepResult, rule: RuleRef): void {
    setStep(this.last, hook, chain, endpoint, result, rule);
    if (result === 'allow') {
      const markOnly = rule.kind === 'builtin' && rule.name === 'accept-mark';
      // An accept-mark step only carries an earlier allow forward; keep the real one when known.
      if (!markOnly || !this.realAllow) setStep(this.allow, hook, chain, endpoint, result, rule);
      if (!markOnly) this.realAllow = true;
    } else if (result === 'deny') setStep(this.deny, hook, chain, endpoint, result, rule);
  }
}

function setStep(o: StepOutcome, hook: HookName, chain: ChainKind, endpoint: string | null, result: StepResult, rule: RuleRef): void {
  o.hook = hook;
  o.chain = chain;
  o.endpoint = endpoint;
  o.result = result;
  o.rule = rule;
}

const REF_UNMANAGED_FAST: RuleRef = { kind: 'builtin', name: 'unmanaged-interface' };

/** The fast path's answer. The object is reused by the next `decide()` call: copy what you keep. */
export interface Decision {
  verdict: 'allow' | 'deny';
  noVerdict: boolean;
  untracked: boolean;
  /** The deciding step (same choice as Judgement.decidedBy). */
  decidedBy: StepOutcome;
}

/** Interfaces per stage for the steering plan (same shape as dataplane's PolicyInterfaceInfo). */
export interface SteeringInfo {
  untrackedIifs: string[];
  untrackedOifs: string[];
  preDnatIifs: string[];
  inputIifs: string[];
  forwardIifs: string[];
  forwardOifs: string[];
  outputOifs: string[];
  anyInterface: { preDnat: boolean; input: boolean; forwardIn: boolean; forwardOut: boolean; output: boolean };
}

/** The live fast path's answer for one hook (reused object). */
export interface HookDecision {
  action: 'accept' | 'drop' | 'continue';
  acceptMark: boolean;
  untrack: boolean;
  noVerdict: boolean;
  decidedBy: StepOutcome;
}

const B = (name: import('./decision').BuiltinRuleName, detail?: string): RuleRef =>
  detail === undefined ? { kind: 'builtin', name } : { kind: 'builtin', name, detail };

const REF_CT_EST = B('conntrack-established');
const REF_CT_INVALID = B('conntrack-invalid');
const REF_UNMANAGED = B('unmanaged-interface');
const REF_ACCEPT_MARK = B('accept-mark');
const REF_HOST_TO_WL = B('host-to-workload');
const REF_NO_MATCH = B('stage-no-match');
const REF_NO_PROFILE = B('no-profile-allowed');
const REF_FWD_DEFAULT = B('forward-default-allow');
const REF_FWD_NO_VERDICT = B('forward-no-verdict');
const REF_WL_DEFAULT = B('workload-default-deny');
const REF_EP_TO_HOST = B('endpoint-to-host');

type HookAction = 'accept' | 'drop' | 'continue' | 'no-verdict';

/** Per-hook result fields written by the hook functions (reused). */
interface HookState {
  action: HookAction;
  acceptMark: boolean;
  untrack: boolean;
}

export interface CompileOptions {
  /** Endpoint-to-host default for packets from local workloads (Felix DefaultEndpointToHostAction). */
  endpointToHostAction?: 'Drop' | 'Accept';
}

export class CompiledPolicy implements PolicyEvaluator {
  readonly host: HostModel;
  readonly resources: ResourceSet;
  private readonly heps: HepResolver;
  private readonly hepPolicies = new Map<string, EndpointPolicy>();
  private readonly wepByIface = new Map<string, EndpointPolicy>();
  private readonly failIn: CompiledFailsafe[];
  private readonly failOut: CompiledFailsafe[];
  private readonly invalidCheck: boolean;
  private readonly endpointToHostAccept: boolean;
  private readonly unmanagedAccept: boolean;
  private readonly input: MatchInput = { family: 4, proto: 0, src: [0, 0, 0, 0], dst: [0, 0, 0, 0], sport: -1, dport: -1, icmpType: -1, icmpCode: -1 };
  private readonly res: ChainResult = { outcome: 0, ref: null, logs: null };
  private readonly state: HookState = { action: 'continue', acceptMark: false, untrack: false };
  /** Counts for status output. */
  readonly stats: { tiers: number; policies: number; rules: number; localHeps: number };

  constructor(resources: ResourceSet, host: HostModel, options: CompileOptions = {}) {
    this.host = host;
    this.resources = resources;
    const profiles = new Map<string, Profile>(resources.profiles.map((p) => [p.name, p]));
    const tiers = orderTiers(resources.tiers, resources.policies);
    const sets = new AddressSetBuilder(addressedObjects(resources, profiles));
    const factory = new ChainFactory(tiers, profiles, sets);
    const local = resources.hostEndpoints.filter((h) => h.node === host.node);
    this.heps = new HepResolver(host, local);
    for (const h of local) this.hepPolicies.set(h.name, new EndpointPolicy(h.name, endpointLabels(h.labels, h.profiles, profiles), h.profiles, factory));
    for (const w of resources.workloadEndpoints) {
      if (w.node !== host.node) continue;
      if (this.wepByIface.has(w.interfaceName)) continue;
      this.wepByIface.set(w.interfaceName, new EndpointPolicy(wepName(w), wepLabels(w, profiles), w.profiles, factory));
    }
    this.failIn = compileFailsafes(resources.felix.failsafeInboundHostPorts);
    this.failOut = compileFailsafes(resources.felix.failsafeOutboundHostPorts);
    this.invalidCheck = !resources.felix.disableConntrackInvalidCheck;
    this.endpointToHostAccept = options.endpointToHostAction === 'Accept';
    this.unmanagedAccept = host.unmanagedVerdict !== 'drop';
    let rules = 0;
    for (const p of resources.policies) rules += p.ingress.length + p.egress.length;
    this.stats = { tiers: tiers.length, policies: resources.policies.length, rules, localHeps: local.length };
  }

  private readonly workloadMemo = new Map<string, boolean>();

  /** Memoised: the per-packet path must not scan the interface list. */
  private isWorkload(iface: string): boolean {
    let w = this.workloadMemo.get(iface);
    if (w === undefined) {
      w = isWorkloadInterface(this.host, iface);
      this.workloadMemo.set(iface, w);
    }
    return w;
  }

  /** The HEP governing an interface for normal/forward policy (§5.1), or null. */
  governingHep(iface: string): HostEndpoint | null {
    return this.heps.hep(iface);
  }

  /**
   * Which interfaces need which stage, for the steering rules (only what needs a decision reaches
   * userspace). Interface names are those of the host model plus every named HEP's interfaceName,
   * so an interface that appears later is covered once it exists.
   */
  steeringInfo(): SteeringInfo {
    const names = new Set<string>(this.host.interfaces.map((i) => i.name));
    for (const h of this.resources.hostEndpoints) if (h.node === this.host.node && h.interfaceName !== '' && h.interfaceName !== '*') names.add(h.interfaceName);
    const info: SteeringInfo = {
      untrackedIifs: [], untrackedOifs: [], preDnatIifs: [], inputIifs: [], forwardIifs: [], forwardOifs: [], outputOifs: [],
      anyInterface: { preDnat: false, input: false, forwardIn: false, forwardOut: false, output: false },
    };
    const wild = this.heps.wildcardHep;
    const has = (h: HostEndpoint | null, cls: PolicyClass, dir: Direction) => h !== null && this.hepPolicy(h).chain(cls, dir).hasTiers;
    const wildPreDnat = has(wild, 'prednat', 'ingress');
    for (const name of [...names].sort()) {
      const named = this.heps.namedHep(name);
      const hep = this.heps.hep(name);
      if (has(named, 'untracked', 'ingress')) info.untrackedIifs.push(name);
      if (has(named, 'untracked', 'egress')) info.untrackedOifs.push(name);
      if (has(hep, 'prednat', 'ingress')) info.preDnatIifs.push(name);
      if (this.isWorkload(name)) {
        // Workload traffic to the host and through the host is policed by WEP chains (§5.11).
        info.inputIifs.push(name);
        info.forwardIifs.push(name);
        info.forwardOifs.push(name);
        continue;
      }
      if (hep !== null) {
        info.inputIifs.push(name);
        info.outputOifs.push(name);
        info.forwardIifs.push(name);
        info.forwardOifs.push(name);
      }
    }
    if (wild !== null) {
      info.anyInterface = { preDnat: wildPreDnat, input: true, forwardIn: true, forwardOut: true, output: true };
    }
    if (!this.unmanagedAccept) {
      // Calico renders no verdict on unmanaged interfaces; with unmanagedVerdict drop, nfqwall must see them all.
      info.anyInterface = { preDnat: info.anyInterface.preDnat, input: true, forwardIn: true, forwardOut: true, output: true };
    }
    return info;
  }

  private hepPolicy(h: HostEndpoint): EndpointPolicy {
    return this.hepPolicies.get(h.name)!;
  }

  // ---- public API ---------------------------------------------------------------------------

  private readonly fast = new DecisionSink();
  private readonly decision: Decision = { verdict: 'deny', noVerdict: false, untracked: false, decidedBy: this.fast.last };

  /**
   * The per-packet fast path: the same verdict and deciding rule as `judge()`, without building a
   * trace. Allocates nothing; the returned object is reused.
   */
  decide(facts: PacketFacts): Decision {
    const sink = this.fast;
    sink.reset();
    const r = this.walk(facts, sink);
    const d = this.decision;
    d.verdict = r.verdict;
    d.noVerdict = r.noVerdict;
    d.untracked = r.untracked;
    d.decidedBy = r.noVerdict ? sink.last : r.verdict === 'allow' ? sink.allow : sink.deny;
    return d;
  }

  judge(facts: PacketFacts): Judgement {
    const sink = new RecordingSink();
    const r = this.walk(facts, sink);
    const decided = pickDecider(sink.steps, r.verdict, r.noVerdict);
    return { verdict: r.verdict, noVerdict: r.noVerdict, untracked: r.untracked, decidedBy: decided, steps: sink.steps, logs: sink.logs };
  }

  evaluateHook(hook: HookName, facts: PacketFacts, acceptMark: boolean): HookOutcome {
    const sink = new RecordingSink();
    this.runHook(hook, facts, facts.ctState, acceptMark, sink);
    const s = this.state;
    let action: HookOutcome['action'];
    let noVerdict = false;
    if (s.action === 'no-verdict') {
      noVerdict = true;
      action = this.unmanagedAccept ? 'accept' : 'drop';
    } else action = s.action;
    return { action, acceptMark: s.acceptMark, untrack: s.untrack, noVerdict, steps: sink.steps, logs: sink.logs };
  }

  private readonly hookDecision: HookDecision = { action: 'continue', acceptMark: false, untrack: false, noVerdict: false, decidedBy: this.fast.last };

  /**
   * The live dataplane's fast path for one hook: same outcome as `evaluateHook()`, no trace, no
   * allocation. The returned object is reused.
   */
  decideHook(hook: HookName, facts: PacketFacts, acceptMark: boolean): HookDecision {
    const sink = this.fast;
    sink.reset();
    this.runHook(hook, facts, facts.ctState, acceptMark, sink);
    const s = this.state;
    const d = this.hookDecision;
    d.acceptMark = s.acceptMark;
    d.untrack = s.untrack;
    d.noVerdict = s.action === 'no-verdict';
    d.action = d.noVerdict ? (this.unmanagedAccept ? 'accept' : 'drop') : s.action === 'no-verdict' ? 'accept' : s.action;
    d.decidedBy = d.noVerdict || s.action === 'continue' ? sink.last : s.action === 'accept' ? sink.allow : sink.deny;
    return d;
  }

  // ---- the pipeline -------------------------------------------------------------------------

  private readonly walked = { verdict: 'deny' as 'allow' | 'deny', noVerdict: false, untracked: false };

  /** Run the hooks of the packet's path in order (§5.3 A/B/C). The result object is reused. */
  private walk(facts: PacketFacts, sink: StepSink): { verdict: 'allow' | 'deny'; noVerdict: boolean; untracked: boolean } {
    const hooks = facts.path === 'local-in' ? HOOKS_LOCAL_IN : facts.path === 'forward' ? HOOKS_FORWARD : isDnat(facts) ? HOOKS_LOCAL_OUT_DNAT : HOOKS_LOCAL_OUT;
    const w = this.walked;
    let mark = false;
    w.untracked = false;
    w.noVerdict = false;
    let ct: CtState = facts.ctState;
    for (let i = 0; i < hooks.length; i++) {
      this.runHook(hooks[i]!, facts, ct, mark, sink);
      const s = this.state;
      if (s.untrack) {
        w.untracked = true;
        ct = 'untracked';
      }
      if (s.acceptMark) mark = true;
      if (s.action === 'accept') {
        w.verdict = 'allow';
        return w;
      }
      if (s.action === 'drop') {
        w.verdict = 'deny';
        return w;
      }
      if (s.action === 'no-verdict') break;
    }
    // No hook decided (unmanaged interface, host-to-workload, ...): the configured fallback decides.
    w.noVerdict = true;
    w.verdict = this.unmanagedAccept ? 'allow' : 'deny';
    return w;
  }

  private runHook(hook: HookName, f: PacketFacts, ct: CtState, mark: boolean, sink: StepSink): void {
    const s = this.state;
    s.action = 'continue';
    s.acceptMark = false;
    s.untrack = false;
    switch (hook) {
      case 'raw-prerouting':
        if (f.iif !== null) this.untracked(hook, f, f.iif, 'ingress', sink);
        return;
      case 'raw-output':
        if (f.oif !== null) this.untracked(hook, f, f.oif, 'egress', sink);
        return;
      case 'mangle-prerouting':
        if (f.iif !== null) this.preDnat(f, f.iif, ct, mark, sink);
        return;
      case 'filter-input':
        this.filterInput(f, ct, mark, sink);
        return;
      case 'filter-output':
        this.filterOutput(hook, f, ct, mark, sink, true);
        return;
      case 'mangle-postrouting':
        this.filterOutput(hook, f, ct, mark, sink, false);
        return;
      case 'filter-forward':
        this.filterForward(f, ct, mark, sink);
        return;
    }
  }

  /** Point the shared match input at the packet, with the pre- or post-DNAT destination. */
  private matchInput(f: PacketFacts, preDnat: boolean): MatchInput {
    const m = this.input;
    m.family = f.family;
    m.proto = f.proto;
    m.src = f.src.words;
    m.dst = preDnat ? f.preDnatDst.words : f.dst.words;
    m.sport = f.sport;
    m.dport = preDnat ? f.preDnatDport : f.dport;
    m.icmpType = f.icmpType;
    m.icmpCode = f.icmpCode;
    return m;
  }

  /** Run an endpoint's tiers chain; returns OUTCOME_*, with the ref in this.res. */
  private runChain(chains: FamilyChains, family: IpFamily, m: MatchInput, sink: StepSink): number {
    const res = this.res;
    res.logs = sink.logs;
    chains[family].evaluate(m, res);
    return res.outcome;
  }

  /** Profiles after the tiers (§4.4): Allow/Deny decide; after the last one, deny. */
  private readonly profileResult: { allow: boolean; ref: RuleRef } = { allow: false, ref: REF_NO_PROFILE };
  private readonly missingProfileRefs = new Map<string, RuleRef>();

  /** Profiles after the tiers (§4.4): Allow/Deny decide; after the last one, deny. Result reused. */
  private runProfiles(profiles: readonly CompiledProfile[], family: IpFamily, m: MatchInput, sink: StepSink): { allow: boolean; ref: RuleRef } {
    const out = this.profileResult;
    for (const p of profiles) {
      if (p.chain === null) {
        let ref = this.missingProfileRefs.get(p.name);
        if (!ref) {
          ref = B('missing-profile', p.name);
          this.missingProfileRefs.set(p.name, ref);
        }
        out.allow = false;
        out.ref = ref;
        return out;
      }
      const res = this.res;
      res.logs = sink.logs;
      p.chain[family].evaluate(m, res);
      if (res.outcome === OUTCOME_ALLOW || res.outcome === OUTCOME_DENY) {
        out.allow = res.outcome === OUTCOME_ALLOW;
        out.ref = res.ref!;
        return out;
      }
    }
    out.allow = false;
    out.ref = REF_NO_PROFILE;
    return out;
  }

  /** raw PREROUTING / raw OUTPUT: untracked policy of HEPn (never the `*` HEP) (§5.7). */
  private untracked(hook: HookName, f: PacketFacts, iface: string, dir: Direction, sink: StepSink): void {
    const hep = this.heps.namedHep(iface);
    if (hep === null) return;
    const chains = this.hepPolicy(hep).chain('untracked', dir);
    if (!chains.hasTiers) return;
    const kind: ChainKind = dir === 'ingress' ? 'untracked-ingress' : 'untracked-egress';
    const m = this.matchInput(f, true);
    // Failsafes first, in both directions, so untracked policy cannot half-untrack a failsafe flow.
    const fsDirect = dir === 'ingress'
      ? matchFailsafe(this.failIn, f.family, f.proto, m.dport, m.src)
      : matchFailsafe(this.failOut, f.family, f.proto, m.dport, m.dst);
    const fsReverse = fsDirect
      ? null
      : dir === 'ingress'
        ? matchFailsafe(this.failOut, f.family, f.proto, m.sport, m.src)
        : matchFailsafe(this.failIn, f.family, f.proto, m.sport, m.dst);
    if (fsDirect || fsReverse) {
      const isIn = (dir === 'ingress') === (fsDirect !== null);
      const ref = fsDirect ? (isIn ? fsDirect.inboundRef : fsDirect.outboundRef) : isIn ? fsReverse!.reverseRef.inbound : fsReverse!.reverseRef.outbound;
      sink.step(hook, kind, hep.name, 'continue', ref);
      return;
    }
    const out = this.runChain(chains, f.family, m, sink);
    if (out === OUTCOME_ALLOW) {
      sink.step(hook, kind, hep.name, 'allow', this.res.ref!);
      this.state.acceptMark = true;
      this.state.untrack = true;
    } else if (out === OUTCOME_DENY) {
      sink.step(hook, kind, hep.name, 'deny', this.res.ref!);
      this.state.action = 'drop';
    } else sink.step(hook, kind, hep.name, 'continue', REF_NO_MATCH);
  }

  /** mangle PREROUTING: preDNAT policy with the original destination (§5.6, Q10). */
  private preDnat(f: PacketFacts, iif: string, ct: CtState, mark: boolean, sink: StepSink): void {
    if (ct === 'established' || ct === 'related' || ct === 'reply' || mark) return;
    let hep = this.heps.hep(iif);
    let chains = hep ? this.hepPolicy(hep).chain('prednat', 'ingress') : null;
    if (!chains || !chains.hasTiers) {
      // Q10: any interface whose HEP has no preDNAT policy falls to the `*` HEP's preDNAT policy.
      const wild = this.heps.wildcardHep;
      hep = wild;
      chains = wild ? this.hepPolicy(wild).chain('prednat', 'ingress') : null;
      if (!chains || !chains.hasTiers) return;
    }
    const name = hep!.name;
    if (ct === 'invalid' && this.invalidCheck) {
      sink.step('mangle-prerouting', 'prednat-ingress', name, 'deny', REF_CT_INVALID);
      this.state.action = 'drop';
      return;
    }
    const m = this.matchInput(f, true);
    const fs = matchFailsafe(this.failIn, f.family, f.proto, m.dport, m.src);
    if (fs) {
      sink.step('mangle-prerouting', 'prednat-ingress', name, 'continue', fs.inboundRef);
      return;
    }
    const out = this.runChain(chains, f.family, m, sink);
    if (out === OUTCOME_ALLOW) {
      sink.step('mangle-prerouting', 'prednat-ingress', name, 'allow', this.res.ref!);
      this.state.acceptMark = true;
    } else if (out === OUTCOME_DENY) {
      sink.step('mangle-prerouting', 'prednat-ingress', name, 'deny', this.res.ref!);
      this.state.action = 'drop';
    } else sink.step('mangle-prerouting', 'prednat-ingress', name, 'continue', REF_NO_MATCH);
  }

  /**
   * A normal (local) endpoint chain (§5.5): conntrack, failsafe, tiers, profiles, deny.
   * Returns accept or drop.
   */
  private normalChain(hook: HookName, kind: ChainKind, hep: HostEndpoint, dir: Direction, f: PacketFacts, ct: CtState, sink: StepSink): 'accept' | 'drop' {
    if (ct === 'established' || ct === 'related' || ct === 'reply') {
      sink.step(hook, kind, hep.name, 'allow', REF_CT_EST);
      return 'accept';
    }
    if (ct === 'invalid' && this.invalidCheck) {
      sink.step(hook, kind, hep.name, 'deny', REF_CT_INVALID);
      return 'drop';
    }
    const m = this.matchInput(f, false);
    const fs = dir === 'ingress'
      ? matchFailsafe(this.failIn, f.family, f.proto, m.dport, m.src)
      : matchFailsafe(this.failOut, f.family, f.proto, m.dport, m.dst);
    if (fs) {
      sink.step(hook, kind, hep.name, 'allow', dir === 'ingress' ? fs.inboundRef : fs.outboundRef);
      return 'accept';
    }
    const ep = this.hepPolicy(hep);
    const out = this.runChain(ep.chain('normal', dir), f.family, m, sink);
    if (out === OUTCOME_ALLOW || out === OUTCOME_DENY) {
      sink.step(hook, kind, hep.name, out === OUTCOME_ALLOW ? 'allow' : 'deny', this.res.ref!);
      return out === OUTCOME_ALLOW ? 'accept' : 'drop';
    }
    const p = this.runProfiles(ep.profiles(dir), f.family, m, sink);
    sink.step(hook, kind, hep.name, p.allow ? 'allow' : 'deny', p.ref);
    return p.allow ? 'accept' : 'drop';
  }

  /** filter INPUT (§5.3 A.5, and WEP → host §5.11). */
  private filterInput(f: PacketFacts, ct: CtState, mark: boolean, sink: StepSink): void {
    const s = this.state;
    const iif = f.iif;
    // Felix dispatches workload interfaces before it looks at the accept-mark.
    if (iif !== null && this.isWorkload(iif)) {
      if (f.proto === 58 && ND_TYPES.has(f.icmpType)) {
        // Workload-to-host chains let ICMPv6 neighbour discovery and MLD through before policy (Q6).
        sink.step('filter-input', 'dispatch', null, 'allow', B('endpoint-to-host', `icmpv6 type ${f.icmpType}`));
        s.action = 'accept';
        return;
      }
      const r = this.workloadChain('filter-input', iif, 'egress', f, ct, sink);
      if (r === 'drop' || r === 'accept-final') {
        s.action = r === 'drop' ? 'drop' : 'accept';
        return;
      }
      // After the workload's egress policy allowed it, the endpoint-to-host action decides (§5.11).
      sink.step('filter-input', 'dispatch', null, this.endpointToHostAccept ? 'allow' : 'deny', REF_EP_TO_HOST);
      s.action = this.endpointToHostAccept ? 'accept' : 'drop';
      return;
    }
    if (mark) {
      sink.step('filter-input', 'dispatch', null, 'allow', REF_ACCEPT_MARK);
      s.action = 'accept';
      return;
    }
    const hep = iif === null ? null : this.heps.hep(iif);
    if (hep === null) {
      sink.step('filter-input', 'dispatch', null, 'no-verdict', REF_UNMANAGED);
      s.action = 'no-verdict';
      return;
    }
    s.action = this.normalChain('filter-input', 'normal-ingress', hep, 'ingress', f, ct, sink);
  }

  /** filter OUTPUT (and mangle POSTROUTING for DNAT'd packets) (§5.3 B.3/B.4). */
  private filterOutput(hook: HookName, f: PacketFacts, ct: CtState, mark: boolean, sink: StepSink, atOutput: boolean): void {
    const s = this.state;
    if (mark) {
      sink.step(hook, 'dispatch', null, 'allow', REF_ACCEPT_MARK);
      s.action = 'accept';
      return;
    }
    const oif = f.oif;
    if (oif !== null && this.isWorkload(oif)) {
      sink.step(hook, 'dispatch', null, 'no-verdict', REF_HOST_TO_WL);
      s.action = 'no-verdict';
      return;
    }
    // A DNAT'd locally originated packet is judged in POSTROUTING against its final out-interface.
    if (atOutput && isDnat(f)) return;
    const hep = oif === null ? null : this.heps.hep(oif);
    if (hep === null) {
      sink.step(hook, 'dispatch', null, 'no-verdict', REF_UNMANAGED);
      s.action = 'no-verdict';
      return;
    }
    s.action = this.normalChain(hook, 'normal-egress', hep, 'egress', f, ct, sink);
  }

  /**
   * A workload endpoint chain (§5.11). Returns 'allow' (go on), 'accept-final' (conntrack accepted),
   * or 'drop'.
   */
  private workloadChain(hook: HookName, iface: string, dir: Direction, f: PacketFacts, ct: CtState, sink: StepSink): 'allow' | 'accept-final' | 'drop' {
    const kind: ChainKind = dir === 'ingress' ? 'workload-ingress' : 'workload-egress';
    const wep = this.wepByIface.get(iface);
    if (!wep) {
      sink.step(hook, kind, null, 'deny', B('workload-default-deny', `no WorkloadEndpoint for ${iface}`));
      return 'drop';
    }
    if (ct === 'established' || ct === 'related' || ct === 'reply') {
      sink.step(hook, kind, wep.name, 'allow', REF_CT_EST);
      return 'accept-final';
    }
    if (ct === 'invalid' && this.invalidCheck) {
      sink.step(hook, kind, wep.name, 'deny', REF_CT_INVALID);
      return 'drop';
    }
    const m = this.matchInput(f, false);
    const out = this.runChain(wep.chain('workload', dir), f.family, m, sink);
    if (out === OUTCOME_ALLOW || out === OUTCOME_DENY) {
      sink.step(hook, kind, wep.name, out === OUTCOME_ALLOW ? 'allow' : 'deny', this.res.ref!);
      return out === OUTCOME_ALLOW ? 'allow' : 'drop';
    }
    const p = this.runProfiles(wep.profiles(dir), f.family, m, sink);
    sink.step(hook, kind, wep.name, p.allow ? 'allow' : 'deny', p.allow ? p.ref : p.ref === REF_NO_PROFILE ? REF_WL_DEFAULT : p.ref);
    return p.allow ? 'allow' : 'drop';
  }

  /**
   * A forward leg (§5.3 C.5 a/c). Returns 'accept-final', 'drop', 'mark' (allowed: set accept-mark),
   * or 'none' (no verdict from this leg).
   */
  private forwardLeg(hep: HostEndpoint, dir: Direction, f: PacketFacts, ct: CtState, sink: StepSink): 'accept-final' | 'drop' | 'mark' | 'none' {
    const kind: ChainKind = dir === 'ingress' ? 'forward-ingress' : 'forward-egress';
    if (ct === 'established' || ct === 'related' || ct === 'reply') {
      sink.step('filter-forward', kind, hep.name, 'allow', REF_CT_EST);
      return 'accept-final';
    }
    if (ct === 'invalid' && this.invalidCheck) {
      sink.step('filter-forward', kind, hep.name, 'deny', REF_CT_INVALID);
      return 'drop';
    }
    const chains = this.hepPolicy(hep).chain('forward', dir);
    if (!chains.hasTiers) {
      sink.step('filter-forward', kind, hep.name, 'allow', REF_FWD_DEFAULT);
      return 'mark';
    }
    const out = this.runChain(chains, f.family, this.matchInput(f, false), sink);
    if (out === OUTCOME_ALLOW) {
      sink.step('filter-forward', kind, hep.name, 'allow', this.res.ref!);
      return 'mark';
    }
    if (out === OUTCOME_DENY) {
      sink.step('filter-forward', kind, hep.name, 'deny', this.res.ref!);
      return 'drop';
    }
    sink.step('filter-forward', kind, hep.name, 'no-verdict', REF_FWD_NO_VERDICT);
    return 'none';
  }

  /** filter FORWARD (§5.3 C.5, §5.10, §5.11). */
  private filterForward(f: PacketFacts, ct: CtState, markIn: boolean, sink: StepSink): void {
    const s = this.state;
    let mark = markIn;
    let legNoVerdict = false;
    const iif = f.iif;
    const oif = f.oif;
    // a. the in-interface's forward-ingress leg, unless an earlier stage already allowed the packet
    if (!mark && iif !== null) {
      const hi = this.heps.hep(iif);
      if (hi) {
        const r = this.forwardLeg(hi, 'ingress', f, ct, sink);
        if (r === 'accept-final') return void (s.action = 'accept');
        if (r === 'drop') return void (s.action = 'drop');
        if (r === 'mark') mark = true;
        else legNoVerdict = true;
      }
    } else if (mark) sink.step('filter-forward', 'dispatch', null, 'allow', REF_ACCEPT_MARK);
    // b. workload chains
    if (iif !== null && this.isWorkload(iif)) {
      const r = this.workloadChain('filter-forward', iif, 'egress', f, ct, sink);
      if (r === 'accept-final') return void (s.action = 'accept');
      if (r === 'drop') return void (s.action = 'drop');
      mark = true;
    }
    if (oif !== null && this.isWorkload(oif)) {
      const r = this.workloadChain('filter-forward', oif, 'ingress', f, ct, sink);
      if (r === 'accept-final') return void (s.action = 'accept');
      if (r === 'drop') return void (s.action = 'drop');
      mark = true;
    }
    // c. the out-interface's forward-egress leg runs unconditionally and clears the mark first (Q3)
    if (oif !== null) {
      const ho = this.heps.hep(oif);
      if (ho) {
        const r = this.forwardLeg(ho, 'egress', f, ct, sink);
        if (r === 'accept-final') return void (s.action = 'accept');
        if (r === 'drop') return void (s.action = 'drop');
        mark = r === 'mark';
        legNoVerdict = r === 'none';
      }
    }
    // d.
    if (mark) {
      s.action = 'accept';
      return;
    }
    // A leg that ended without a verdict (Q2) already said why; otherwise no endpoint was involved.
    if (!legNoVerdict) sink.step('filter-forward', 'dispatch', null, 'no-verdict', REF_UNMANAGED);
    s.action = 'no-verdict';
  }
}

/** ICMPv6 types Felix accepts from workloads to the host before policy: MLD 130-132, RS 133, NS 135, NA 136. */
const ND_TYPES: ReadonlySet<number> = new Set([130, 131, 132, 133, 135, 136]);

const HOOKS_LOCAL_IN: readonly HookName[] = ['raw-prerouting', 'mangle-prerouting', 'filter-input'];
const HOOKS_FORWARD: readonly HookName[] = ['raw-prerouting', 'mangle-prerouting', 'filter-forward'];
const HOOKS_LOCAL_OUT: readonly HookName[] = ['raw-output', 'filter-output'];
const HOOKS_LOCAL_OUT_DNAT: readonly HookName[] = ['raw-output', 'filter-output', 'mangle-postrouting'];

function isDnat(f: PacketFacts): boolean {
  if (f.dnat !== undefined) return f.dnat;
  const a = f.dst.words;
  const b = f.preDnatDst.words;
  return f.dport !== f.preDnatDport || a[0] !== b[0] || a[1] !== b[1] || a[2] !== b[2] || a[3] !== b[3];
}

function wepName(w: WorkloadEndpoint): string {
  return `${w.namespace}/${w.name}`;
}

/**
 * The step that decided: for a deny, the step that denied; for an allow, the last step that allowed
 * (accept-mark dispatch steps only carry an earlier decision forward); for no verdict, the last step.
 */
function pickDecider(steps: StepOutcome[], verdict: 'allow' | 'deny', noVerdict: boolean): StepOutcome {
  if (!noVerdict) {
    const want: StepResult = verdict === 'allow' ? 'allow' : 'deny';
    for (let i = steps.length - 1; i >= 0; i--) {
      const s = steps[i]!;
      if (s.result !== want) continue;
      if (s.rule.kind === 'builtin' && s.rule.name === 'accept-mark') continue;
      return s;
    }
  }
  const last = steps[steps.length - 1];
  if (last) return last;
  return { hook: 'filter-input', chain: 'dispatch', endpoint: null, result: 'no-verdict', rule: REF_UNMANAGED };
}

/** Compile resources for a host. Pure; throws only on programming errors (inputs are validated). */
export function compilePolicy(resources: ResourceSet, host: HostModel, options: CompileOptions = {}): CompiledPolicy {
  return new CompiledPolicy(resources, host, options);
}
