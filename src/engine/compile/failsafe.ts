/**
 * Failsafe rules (calico-semantics.md §5.8), compiled into small arrays checked before policy.
 */
import type { FailsafePort } from '../../config/resources';
import { parseCidr, type IpFamily } from '../../net/ip';
import { PrefixSet } from '../../net/prefix-set';
import type { RuleRef } from '../decision';

export interface CompiledFailsafe {
  proto: number;
  port: number;
  /** null = any address of either family. */
  net: PrefixSet | null;
  netFamily: IpFamily | 0;
  label: string;
  /** Pre-built explanation refs, so a failsafe hit allocates nothing. */
  inboundRef: RuleRef;
  outboundRef: RuleRef;
  /** Untracked chains also match replies of failsafe connections by source port (§5.7). */
  reverseRef: { inbound: RuleRef; outbound: RuleRef };
}

export function compileFailsafes(list: readonly FailsafePort[]): CompiledFailsafe[] {
  return list.map((f) => {
    const c = f.net ? parseCidr(f.net, true) : null;
    const label = `${f.protocol}:${f.net ? `${f.net}:` : ''}${f.port}`;
    return {
      proto: f.protocol === 'tcp' ? 6 : 17,
      port: f.port,
      net: c ? PrefixSet.from(c.prefix.family, [c.prefix]) : null,
      netFamily: c ? c.prefix.family : 0,
      label,
      inboundRef: { kind: 'builtin', name: 'failsafe-inbound', detail: label },
      outboundRef: { kind: 'builtin', name: 'failsafe-outbound', detail: label },
      reverseRef: {
        inbound: { kind: 'builtin', name: 'failsafe-inbound', detail: `reverse ${label}` },
        outbound: { kind: 'builtin', name: 'failsafe-outbound', detail: `reverse ${label}` },
      },
    };
  });
}

/**
 * First entry whose protocol and `port` match, with `addr` inside its net when it has one (an entry
 * with a net applies only to that family). Returns the entry or null.
 */
export function matchFailsafe(
  list: readonly CompiledFailsafe[],
  family: IpFamily,
  proto: number,
  port: number,
  addr: ArrayLike<number>,
): CompiledFailsafe | null {
  if (port < 0) return null;
  for (const f of list) {
    if (f.proto !== proto || f.port !== port) continue;
    if (f.net !== null && (f.netFamily !== family || !f.net.containsWords(addr))) continue;
    return f;
  }
  return null;
}
