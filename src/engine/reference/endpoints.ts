/**
 * Which endpoint governs an interface: host endpoints (§5.1, §5.12, Q10) and local workload
 * endpoints (§5.11).
 */
import type { HostEndpoint, ResourceSet, WorkloadEndpoint } from '../../config/resources';
import { parseIp, type IpAddress } from '../../net/ip';
import { isWorkloadInterface, type HostModel } from '../host-model';
import { compareBytes } from './ordering';

function sameIp(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.words.every((w, i) => w === b.words[i]);
}

/** Addresses configured on interface `name` (the address part of each "addr/len"). */
export function interfaceAddresses(host: HostModel, name: string): IpAddress[] {
  const iface = host.interfaces.find((i) => i.name === name);
  if (!iface) return [];
  const out: IpAddress[] = [];
  for (const text of iface.addresses) {
    const slash = text.indexOf('/');
    const a = parseIp(slash < 0 ? text : text.slice(0, slash));
    if (a) out.push(a);
  }
  return out;
}

/** The lexicographically smallest name wins (§5.1 item 2, Q7; §7.10e for several `*` HEPs). */
function smallestByName<T extends { name: string }>(items: readonly T[]): T | null {
  let best: T | null = null;
  for (const it of items) if (best === null || compareBytes(it.name, best.name) < 0) best = it;
  return best;
}

export class EndpointResolver {
  /** HEPs enforced here: `spec.node` equals this host's node name. */
  private readonly localHeps: HostEndpoint[];
  /** WEPs of this node: only they have interfaces here. */
  private readonly localWeps: WorkloadEndpoint[];

  constructor(
    resources: ResourceSet,
    private readonly host: HostModel,
  ) {
    this.localHeps = resources.hostEndpoints.filter((h) => h.node === host.node);
    this.localWeps = resources.workloadEndpoints.filter((w) => w.node === host.node);
  }

  isWorkload(iface: string): boolean {
    return isWorkloadInterface(this.host, iface);
  }

  /**
   * §5.1 items 1–2, ignoring `*` (Calico's HEPn): candidates are HEPs named for the interface
   * and HEPs with an empty interfaceName whose expectedIPs include an address of the interface;
   * a named match has no priority; smallest name wins. Workload interfaces never match.
   */
  namedHep(iface: string | null): HostEndpoint | null {
    if (iface === null || this.isWorkload(iface)) return null;
    const addrs = interfaceAddresses(this.host, iface);
    const candidates = this.localHeps.filter((h) => {
      if (h.interfaceName === iface) return true;
      if (h.interfaceName !== '') return false;
      return h.expectedIPs.some((text) => {
        const ip = parseIp(text);
        return ip !== null && addrs.some((a) => sameIp(a, ip));
      });
    });
    return smallestByName(candidates);
  }

  /** The all-interfaces HEP (`interfaceName: "*"`), smallest name if several. */
  starHep(): HostEndpoint | null {
    return smallestByName(this.localHeps.filter((h) => h.interfaceName === '*'));
  }

  /**
   * HEP(i) for the normal classes (filter INPUT/OUTPUT, mangle POSTROUTING): the named HEP, else
   * the `*` HEP (§5.1 item 3), including `lo` (Q5). Callers exempt workload interfaces before
   * asking (§5.11, §5.12).
   */
  normalHep(iface: string | null): HostEndpoint | null {
    if (iface === null) return null;
    return this.namedHep(iface) ?? this.starHep();
  }

  /** HEP(i) on the forward path: as normal, and the `*` HEP also covers workload interfaces (§5.12). */
  forwardHep(iface: string | null): HostEndpoint | null {
    if (iface === null) return null;
    return this.namedHep(iface) ?? this.starHep();
  }

  /** HEPn(i): untracked policy never uses the `*` HEP (§5.1 item 3, §5.7). */
  untrackedHep(iface: string | null): HostEndpoint | null {
    return this.namedHep(iface);
  }

  /**
   * Q10: the preDNAT dispatch lists only interfaces whose governing HEP has preDNAT policy; every
   * other interface (a named HEP without preDNAT policy, no HEP, a workload interface) runs the
   * `*` HEP's preDNAT policy if the `*` HEP has any.
   */
  preDnatHep(iface: string | null, hasPreDnat: (hep: HostEndpoint) => boolean): HostEndpoint | null {
    if (iface === null) return null;
    const named = this.namedHep(iface);
    if (named && hasPreDnat(named)) return named;
    const star = this.starHep();
    if (star && hasPreDnat(star)) return star;
    return null;
  }

  /** The local WEP whose interfaceName is `iface` (§5.11); smallest name if several. */
  workloadEndpoint(iface: string): WorkloadEndpoint | null {
    return smallestByName(this.localWeps.filter((w) => w.interfaceName === iface));
  }
}
