/**
 * Rule selectors turned into address sets, and named ports turned into (protocol, port) -> address
 * sets (calico-semantics.md §3.2, §3.5). Memoised per selector so that thousands of rules sharing a
 * selector cost one scan of the endpoints.
 */
import { parseSelector } from '../../selector';
import type { Labels, Selector } from '../../selector/types';
import { PrefixSet } from '../../net/prefix-set';
import type { IpFamily, IpPrefix } from '../../net/ip';
import type { AddressedObject } from './endpoints';

const PROTO_BY_NAME: Record<string, number> = { TCP: 6, UDP: 17, SCTP: 132 };

/** Which objects a side's selector picks, as a label predicate plus a scope. */
export interface SelectorScope {
  /** `namespaceSelector: global()` → only non-namespaced objects (HEPs, GlobalNetworkSets). */
  globalOnly: boolean;
}

/** Named ports of one side: key proto*65536+port → addresses of the endpoints that declare it. */
export type NamedPortIndex = Map<number, PrefixSet>;

export class AddressSetBuilder {
  private readonly parsed = new Map<string, Selector>();
  private readonly sets = new Map<string, PrefixSet>();
  private readonly named = new Map<string, NamedPortIndex>();

  constructor(private readonly objects: readonly AddressedObject[]) {}

  private selector(text: string): Selector {
    let s = this.parsed.get(text);
    if (!s) {
      const r = parseSelector(text);
      // Validation guarantees selectors parse; a failure here is a programming error.
      if (!r.ok) throw new Error(`selector did not parse at compile time: ${text}: ${r.error.message}`);
      s = r.selector;
      this.parsed.set(text, s);
    }
    return s;
  }

  /** Objects matched by `positive && !negative` within the scope (negative may be ''). */
  private matching(positive: string, negative: string, scope: SelectorScope): AddressedObject[] {
    const pos = positive === '' ? null : this.selector(positive);
    const neg = negative === '' ? null : this.selector(negative);
    return this.objects.filter((o) => {
      if (scope.globalOnly && o.namespaced) return false;
      const labels: Labels = o.labels;
      if (pos && !pos.matches(labels)) return false;
      if (neg && neg.matches(labels)) return false;
      return true;
    });
  }

  /**
   * Address set of the objects matched by `positive` (optionally minus objects matched by `negative`,
   * combined over labels as Felix does when both are on one side).
   */
  addresses(family: IpFamily, positive: string, negative: string, scope: SelectorScope): PrefixSet {
    const key = `${family}\u0000${positive}\u0000${negative}\u0000${scope.globalOnly ? 1 : 0}`;
    let set = this.sets.get(key);
    if (!set) {
      const prefixes: IpPrefix[] = [];
      for (const o of this.matching(positive, negative, scope)) for (const p of o.prefixes) prefixes.push(p);
      set = PrefixSet.from(family, prefixes);
      this.sets.set(key, set);
    }
    return set;
  }

  /**
   * Named ports `names` of the endpoints matched by `positive` (all endpoints when ''), restricted to
   * `protocol` when the rule has one (§3.5).
   */
  namedPorts(family: IpFamily, names: readonly string[], positive: string, scope: SelectorScope, protocol: number | undefined): NamedPortIndex {
    const key = `${family}\u0000${[...names].sort().join(',')}\u0000${positive}\u0000${scope.globalOnly ? 1 : 0}\u0000${protocol ?? ''}`;
    let idx = this.named.get(key);
    if (idx) return idx;
    const byPort = new Map<number, IpPrefix[]>();
    const wanted = new Set(names);
    for (const o of this.matching(positive, '', scope)) {
      if (o.kind === 'GlobalNetworkSet') continue;
      for (const port of o.ports) {
        if (!wanted.has(port.name)) continue;
        const proto = PROTO_BY_NAME[port.protocol];
        if (proto === undefined || (protocol !== undefined && protocol !== proto)) continue;
        const k = proto * 65536 + port.port;
        const list = byPort.get(k) ?? [];
        for (const p of o.prefixes) if (p.family === family) list.push(p);
        byPort.set(k, list);
      }
    }
    idx = new Map();
    for (const [k, list] of byPort) if (list.length > 0) idx.set(k, PrefixSet.from(family, list));
    this.named.set(key, idx);
    return idx;
  }
}
