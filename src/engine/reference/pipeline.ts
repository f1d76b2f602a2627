/**
 * The packet pipeline of §5.3 (A: local-in, B: local-out, C: forward), one function per hook.
 * The accept-mark is passed between hooks explicitly; where Calico renders no verdict the host's
 * `unmanagedVerdict` decides (§7.1).
 */
import type { HostEndpoint } from '../../config/resources';
import type { ChainKind, Direction, HookName, HookOutcome, RuleRef, StepOutcome, StepResult } from '../decision';
import type { PacketFacts, PacketPath } from '../packet-facts';
import {
  forwardChain,
  isEstablished,
  normalChain,
  preDnatChain,
  untrackedChain,
  workloadChain,
  type ChainOutcome,
} from './chains';
import type { ReferenceModel } from './model';
import { filterView, preDnatView, wasDnatted } from './packet-view';
import { policiesOfClass, type PolicyClass } from './tier-loop';

/** The hooks a packet meets on its path, in order (§5.3 A, B, C). */
export function hooksForPath(path: PacketPath): HookName[] {
  switch (path) {
    case 'local-in':
      return ['raw-prerouting', 'mangle-prerouting', 'filter-input'];
    case 'forward':
      return ['raw-prerouting', 'mangle-prerouting', 'filter-forward'];
    case 'local-out':
      return ['raw-output', 'filter-output', 'mangle-postrouting'];
  }
}

/** ICMPv6 types the workload-to-host chain accepts before policy (MLD, RS, NS, NA; Q6). */
const WORKLOAD_TO_HOST_ICMPV6 = [130, 131, 132, 133, 135, 136];

/** A hook's outcome plus the step whose result it carries (null when the hook only continued). */
export interface HookRun extends HookOutcome {
  decisive: StepOutcome | null;
}

function builtin(name: Extract<RuleRef, { kind: 'builtin' }>['name'], detail?: string): RuleRef {
  return detail === undefined ? { kind: 'builtin', name } : { kind: 'builtin', name, detail };
}

/** Collects the steps and logs of one hook and builds its outcome. */
class HookRecorder {
  readonly steps: StepOutcome[] = [];
  readonly logs: RuleRef[] = [];

  constructor(
    private readonly hook: HookName,
    private readonly unmanagedVerdict: 'accept' | 'drop',
  ) {}

  step(chain: ChainKind, endpoint: string | null, result: StepResult, rule: RuleRef): StepOutcome {
    const s: StepOutcome = { hook: this.hook, chain, endpoint, result, rule };
    this.steps.push(s);
    return s;
  }

  private done(action: HookOutcome['action'], decisive: StepOutcome | null, extra: Partial<HookOutcome> = {}): HookRun {
    return {
      action,
      acceptMark: extra.acceptMark ?? false,
      untrack: extra.untrack ?? false,
      noVerdict: extra.noVerdict ?? false,
      steps: this.steps,
      logs: this.logs,
      decisive,
    };
  }

  accept(decisive: StepOutcome): HookRun {
    return this.done('accept', decisive);
  }

  drop(decisive: StepOutcome): HookRun {
    return this.done('drop', decisive);
  }

  /** Later hooks decide; an Allow of an untracked/preDNAT chain sets the accept-mark. */
  proceed(decisive: StepOutcome | null = null, acceptMark = false, untrack = false): HookRun {
    return this.done('continue', decisive, { acceptMark, untrack });
  }

  /** Calico rendered no verdict (the step says why): the unmanaged setting decides (§7.1). */
  noVerdict(why: StepOutcome): HookRun {
    return this.done(this.unmanagedVerdict === 'accept' ? 'accept' : 'drop', why, { noVerdict: true });
  }
}

export class Pipeline {
  constructor(private readonly model: ReferenceModel) {}

  private recorder(hook: HookName): HookRecorder {
    return new HookRecorder(hook, this.model.host.unmanagedVerdict);
  }

  private hasClass(hep: HostEndpoint, cls: PolicyClass): boolean {
    return policiesOfClass(this.model, this.model.hostSubject(hep), cls).length > 0;
  }

  private isWorkload(iface: string | null): iface is string {
    return iface !== null && this.model.endpoints.isWorkload(iface);
  }

  /** Evaluate one hook. `acceptMark`: an earlier untracked/preDNAT Allow marked the packet. */
  run(hook: HookName, f: PacketFacts, acceptMark: boolean): HookRun {
    switch (hook) {
      case 'raw-prerouting':
        return this.rawPrerouting(f);
      case 'mangle-prerouting':
        return this.manglePrerouting(f, acceptMark);
      case 'filter-input':
        return this.filterInput(f, acceptMark);
      case 'filter-forward':
        return this.filterForward(f, acceptMark);
      case 'raw-output':
        return this.rawOutput(f);
      case 'filter-output':
        return this.filterOutput(f, acceptMark);
      case 'mangle-postrouting':
        return this.manglePostrouting(f, acceptMark);
    }
  }

  /**
   * A.1 / C.1 raw PREROUTING: untracked ingress policy of HEPn(iif) (never `*`, never a workload
   * interface), seen before DNAT. Allow ⇒ NOTRACK + accept-mark; Deny ⇒ DROP; else continue.
   */
  private rawPrerouting(f: PacketFacts): HookRun {
    const rec = this.recorder('raw-prerouting');
    if (f.path === 'local-out') return rec.proceed();
    const hep = this.model.endpoints.untrackedHep(f.iif);
    if (!hep || !this.hasClass(hep, 'untracked')) return rec.proceed();
    const out = untrackedChain(this.model, this.model.hostSubject(hep), 'ingress', preDnatView(f), rec.logs);
    return this.untrackedResult(rec, 'untracked-ingress', hep, out);
  }

  /** B.1 raw OUTPUT: untracked egress policy of HEPn(oif), seen before nat OUTPUT. */
  private rawOutput(f: PacketFacts): HookRun {
    const rec = this.recorder('raw-output');
    if (f.path !== 'local-out') return rec.proceed();
    const hep = this.model.endpoints.untrackedHep(f.oif);
    if (!hep || !this.hasClass(hep, 'untracked')) return rec.proceed();
    const out = untrackedChain(this.model, this.model.hostSubject(hep), 'egress', preDnatView(f), rec.logs);
    return this.untrackedResult(rec, 'untracked-egress', hep, out);
  }

  private untrackedResult(rec: HookRecorder, chain: ChainKind, hep: HostEndpoint, out: ChainOutcome): HookRun {
    const s = rec.step(chain, hep.name, out.result, out.rule);
    if (out.result === 'deny') return rec.drop(s);
    if (out.result === 'allow') return rec.proceed(s, true, true);
    return rec.proceed();
  }

  /**
   * A.3 / C.3 mangle PREROUTING: ESTABLISHED/RELATED and accept-marked packets leave mangle;
   * otherwise the preDNAT chain of the HEP chosen by the preDNAT dispatch (Q10), seen before
   * DNAT. Allow ⇒ accept-mark; Deny ⇒ DROP; no match or failsafe ⇒ continue.
   */
  private manglePrerouting(f: PacketFacts, acceptMark: boolean): HookRun {
    const rec = this.recorder('mangle-prerouting');
    if (f.path === 'local-out') return rec.proceed();
    const hep = this.model.endpoints.preDnatHep(f.iif, (h) => this.hasClass(h, 'preDNAT'));
    if (!hep) return rec.proceed();
    if (isEstablished(f.ctState)) {
      rec.step('prednat-ingress', hep.name, 'continue', builtin('conntrack-established'));
      return rec.proceed();
    }
    if (acceptMark) {
      rec.step('prednat-ingress', hep.name, 'continue', builtin('accept-mark'));
      return rec.proceed();
    }
    const out = preDnatChain(this.model, this.model.hostSubject(hep), f.ctState, preDnatView(f), rec.logs);
    const s = rec.step('prednat-ingress', hep.name, out.result, out.rule);
    if (out.result === 'deny') return rec.drop(s);
    if (out.result === 'allow') return rec.proceed(s, true, false);
    return rec.proceed();
  }

  /**
   * A.5 filter INPUT. Workload interfaces go to the workload-to-host chain first (before the
   * accept-mark test, as Felix orders it). Then accept-mark ⇒ ACCEPT; HEP(iif) ⇒ normal ingress
   * chain; no HEP ⇒ no verdict.
   */
  private filterInput(f: PacketFacts, acceptMark: boolean): HookRun {
    const rec = this.recorder('filter-input');
    if (f.path !== 'local-in') return rec.proceed();
    if (this.isWorkload(f.iif)) return this.workloadToHost(rec, f, f.iif);
    if (acceptMark) return rec.accept(rec.step('dispatch', null, 'allow', builtin('accept-mark')));
    const hep = this.model.endpoints.normalHep(f.iif);
    if (!hep) return rec.noVerdict(rec.step('dispatch', null, 'no-verdict', builtin('unmanaged-interface')));
    return this.normalResult(rec, 'normal-ingress', hep, 'ingress', f);
  }

  /**
   * §5.11 WEP → host: ICMPv6 ND/MLD accepted first, then the WEP's egress chain; what it allows
   * meets DefaultEndpointToHostAction (DROP). HEP policy does not apply on this path.
   */
  private workloadToHost(rec: HookRecorder, f: PacketFacts, iif: string): HookRun {
    const wep = this.model.endpoints.workloadEndpoint(iif);
    if (f.family === 6 && f.proto === 58 && WORKLOAD_TO_HOST_ICMPV6.includes(f.icmpType)) {
      return rec.accept(rec.step('workload-egress', wep?.name ?? null, 'allow', builtin('endpoint-to-host', `icmpv6 type ${f.icmpType}`)));
    }
    if (!wep) return rec.drop(rec.step('workload-egress', null, 'deny', builtin('workload-default-deny', `no WorkloadEndpoint for ${iif}`)));
    const out = workloadChain(this.model, this.model.workloadSubject(wep), 'egress', f.ctState, filterView(f), rec.logs);
    const s = rec.step('workload-egress', wep.name, out.result, out.rule);
    if (out.final) return rec.accept(s);
    if (out.result !== 'allow') return rec.drop(s);
    return rec.drop(rec.step('workload-egress', wep.name, 'deny', builtin('endpoint-to-host')));
  }

  /** Normal HEP chain in filter INPUT/OUTPUT or mangle POSTROUTING: it always decides. */
  private normalResult(rec: HookRecorder, chain: ChainKind, hep: HostEndpoint, dir: Direction, f: PacketFacts): HookRun {
    const out = normalChain(this.model, this.model.hostSubject(hep), dir, f.ctState, filterView(f), rec.logs);
    const s = rec.step(chain, hep.name, out.result, out.rule);
    return out.result === 'allow' ? rec.accept(s) : rec.drop(s);
  }

  /**
   * B.3 filter OUTPUT: accept-mark ⇒ ACCEPT; to a local workload ⇒ no verdict (never policed);
   * DNAT'd ⇒ deferred to mangle POSTROUTING; HEP(oif) ⇒ normal egress chain; else no verdict.
   */
  private filterOutput(f: PacketFacts, acceptMark: boolean): HookRun {
    const rec = this.recorder('filter-output');
    if (f.path !== 'local-out') return rec.proceed();
    if (acceptMark) return rec.accept(rec.step('dispatch', null, 'allow', builtin('accept-mark')));
    if (this.isWorkload(f.oif)) return rec.noVerdict(rec.step('dispatch', null, 'no-verdict', builtin('host-to-workload')));
    if (wasDnatted(f)) return rec.proceed();
    const hep = this.model.endpoints.normalHep(f.oif);
    if (!hep) return rec.noVerdict(rec.step('dispatch', null, 'no-verdict', builtin('unmanaged-interface')));
    return this.normalResult(rec, 'normal-egress', hep, 'egress', f);
  }

  /**
   * B.4 mangle POSTROUTING: only locally originated DNAT'd packets, with the final oif and the
   * translated destination. The to-host dispatch skips local workloads.
   */
  private manglePostrouting(f: PacketFacts, acceptMark: boolean): HookRun {
    const rec = this.recorder('mangle-postrouting');
    if (f.path !== 'local-out') return rec.proceed();
    if (acceptMark) return rec.accept(rec.step('dispatch', null, 'allow', builtin('accept-mark')));
    if (!wasDnatted(f)) return rec.proceed();
    if (this.isWorkload(f.oif)) return rec.noVerdict(rec.step('dispatch', null, 'no-verdict', builtin('host-to-workload')));
    const hep = this.model.endpoints.normalHep(f.oif);
    if (!hep) return rec.noVerdict(rec.step('dispatch', null, 'no-verdict', builtin('unmanaged-interface')));
    return this.normalResult(rec, 'normal-egress', hep, 'egress', f);
  }

  /**
   * C.5 filter FORWARD, in Felix's order:
   *  a. no accept-mark and HEP(iif): forward-ingress leg (Allow sets the mark);
   *  b. workload chains: WEP egress of a workload iif, WEP ingress of a workload oif;
   *  c. HEP(oif), unconditionally (Q3): clears the mark, then its forward-egress leg;
   *  d. mark set ⇒ ACCEPT, else no verdict.
   * ESTABLISHED/RELATED in any chain is a final ACCEPT; Deny/INVALID a final DROP.
   * `setter` is the step whose Allow the accept-mark currently carries.
   */
  private filterForward(f: PacketFacts, acceptMark: boolean): HookRun {
    const rec = this.recorder('filter-forward');
    if (f.path !== 'forward') return rec.proceed();
    const view = filterView(f);
    let setter: StepOutcome | null = null;

    // a.
    if (acceptMark) {
      setter = rec.step('dispatch', null, 'allow', builtin('accept-mark'));
    } else {
      const hep = this.model.endpoints.forwardHep(f.iif);
      if (hep) {
        const out = forwardChain(this.model, this.model.hostSubject(hep), 'ingress', f.ctState, view, rec.logs);
        const s = rec.step('forward-ingress', hep.name, out.result, out.rule);
        if (out.final) return rec.accept(s);
        if (out.result === 'deny') return rec.drop(s);
        if (out.result === 'allow') setter = s;
      }
    }

    // b.
    const legs: Array<{ iface: string; dir: Direction; chain: ChainKind }> = [];
    if (this.isWorkload(f.iif)) legs.push({ iface: f.iif, dir: 'egress', chain: 'workload-egress' });
    if (this.isWorkload(f.oif)) legs.push({ iface: f.oif, dir: 'ingress', chain: 'workload-ingress' });
    for (const leg of legs) {
      const wep = this.model.endpoints.workloadEndpoint(leg.iface);
      if (!wep) return rec.drop(rec.step(leg.chain, null, 'deny', builtin('workload-default-deny', `no WorkloadEndpoint for ${leg.iface}`)));
      const out = workloadChain(this.model, this.model.workloadSubject(wep), leg.dir, f.ctState, view, rec.logs);
      const s = rec.step(leg.chain, wep.name, out.result, out.rule);
      if (out.final) return rec.accept(s);
      if (out.result !== 'allow') return rec.drop(s);
      setter = s;
    }

    // c.
    const outHep = this.model.endpoints.forwardHep(f.oif);
    if (outHep) {
      setter = null;
      const out = forwardChain(this.model, this.model.hostSubject(outHep), 'egress', f.ctState, view, rec.logs);
      const s = rec.step('forward-egress', outHep.name, out.result, out.rule);
      if (out.final) return rec.accept(s);
      if (out.result === 'deny') return rec.drop(s);
      if (out.result === 'allow') setter = s;
    }

    // d.
    if (setter) return rec.accept(setter);
    const last = rec.steps[rec.steps.length - 1];
    if (last) return rec.noVerdict(last);
    return rec.noVerdict(rec.step('dispatch', null, 'no-verdict', builtin('unmanaged-interface')));
  }
}
