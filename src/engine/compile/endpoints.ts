/**
 * Endpoints as the compiler sees them: labels (§2.4), addresses, named ports, and which HEP governs
 * which interface (§5.1). Everything here runs at compile time.
 */
import type { EndpointPort, HostEndpoint, Profile, ResourceSet, WorkloadEndpoint } from '../../config/resources';
import type { HostModel } from '../host-model';
import { isWorkloadInterface } from '../host-model';
import { parseCidr, parseIp, type IpPrefix } from '../../net/ip';
import type { Labels } from '../../selector/types';

export const NAMESPACE_LABEL = 'projectcalico.org/namespace';
export const ORCHESTRATOR_LABEL = 'projectcalico.org/orchestrator';

/** Anything a rule selector can match: a HEP (any node), a WEP, or a GlobalNetworkSet. */
export interface AddressedObject {
  kind: 'HostEndpoint' | 'WorkloadEndpoint' | 'GlobalNetworkSet';
  name: string;
  labels: Labels;
  /** Namespaced objects (WEPs) are excluded by `namespaceSelector: global()`. */
  namespaced: boolean;
  prefixes: IpPrefix[];
  ports: EndpointPort[];
}

/** Labels of an endpoint: its own, plus each profile's labelsToApply (own labels win; earlier profiles win). */
export function endpointLabels(
  own: Readonly<Record<string, string>>,
  profileNames: readonly string[],
  profiles: ReadonlyMap<string, Profile>,
): Record<string, string> {
  const merged: Record<string, string> = {};
  for (let i = profileNames.length - 1; i >= 0; i--) {
    const p = profiles.get(profileNames[i]!);
    if (p) Object.assign(merged, p.labelsToApply);
  }
  return Object.assign(merged, own);
}

export function wepLabels(wep: WorkloadEndpoint, profiles: ReadonlyMap<string, Profile>): Record<string, string> {
  const implicit: Record<string, string> = { [NAMESPACE_LABEL]: wep.namespace };
  if (wep.orchestrator) implicit[ORCHESTRATOR_LABEL] = wep.orchestrator;
  return endpointLabels({ ...wep.labels, ...implicit }, wep.profiles, profiles);
}

function hostPrefixes(ips: readonly string[]): IpPrefix[] {
  const out: IpPrefix[] = [];
  for (const ip of ips) {
    const a = parseIp(ip);
    if (a) out.push({ family: a.family, network: a, length: a.family === 4 ? 32 : 128 });
  }
  return out;
}

function cidrPrefixes(nets: readonly string[]): IpPrefix[] {
  const out: IpPrefix[] = [];
  for (const n of nets) {
    const c = parseCidr(n, true);
    if (c) out.push(c.prefix);
  }
  return out;
}

/** Every object whose addresses rule selectors can pick, across all nodes (§2.5). */
export function addressedObjects(resources: ResourceSet, profiles: ReadonlyMap<string, Profile>): AddressedObject[] {
  const out: AddressedObject[] = [];
  for (const h of resources.hostEndpoints) {
    out.push({
      kind: 'HostEndpoint',
      name: h.name,
      labels: endpointLabels(h.labels, h.profiles, profiles),
      namespaced: false,
      prefixes: hostPrefixes(h.expectedIPs),
      ports: h.ports,
    });
  }
  for (const w of resources.workloadEndpoints) {
    out.push({
      kind: 'WorkloadEndpoint',
      name: `${w.namespace}/${w.name}`,
      labels: wepLabels(w, profiles),
      namespaced: true,
      prefixes: cidrPrefixes(w.ipNetworks),
      ports: w.ports,
    });
  }
  for (const s of resources.networkSets) {
    out.push({ kind: 'GlobalNetworkSet', name: s.name, labels: s.labels, namespaced: false, prefixes: cidrPrefixes(s.nets), ports: [] });
  }
  return out;
}

/** HEP resolution for one node (§5.1), memoised per interface name. */
export class HepResolver {
  private readonly named = new Map<string, HostEndpoint[]>();
  private readonly byIpOnly: HostEndpoint[];
  private readonly wildcard: HostEndpoint | null;
  private readonly cache = new Map<string, HostEndpoint | null>();
  private readonly cacheNamedOnly = new Map<string, HostEndpoint | null>();

  constructor(
    private readonly host: HostModel,
    localHeps: readonly HostEndpoint[],
  ) {
    const sorted = [...localHeps].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const h of sorted) {
      if (h.interfaceName !== '' && h.interfaceName !== '*') {
        const list = this.named.get(h.interfaceName) ?? [];
        list.push(h);
        this.named.set(h.interfaceName, list);
      }
    }
    this.byIpOnly = sorted.filter((h) => h.interfaceName === '' && h.expectedIPs.length > 0);
    this.wildcard = sorted.find((h) => h.interfaceName === '*') ?? null;
  }

  get wildcardHep(): HostEndpoint | null {
    return this.wildcard;
  }

  /** HEPn(i): the governing HEP ignoring `*` (used by untracked policy). */
  namedHep(iface: string): HostEndpoint | null {
    let hit = this.cacheNamedOnly.get(iface);
    if (hit !== undefined) return hit;
    hit = this.resolveNamed(iface);
    this.cacheNamedOnly.set(iface, hit);
    return hit;
  }

  /** HEP(i): named/IP match, else the `*` HEP, else null (unmanaged). */
  hep(iface: string): HostEndpoint | null {
    let hit = this.cache.get(iface);
    if (hit !== undefined) return hit;
    hit = this.resolveNamed(iface) ?? this.wildcard;
    this.cache.set(iface, hit);
    return hit;
  }

  private resolveNamed(iface: string): HostEndpoint | null {
    // Workload interfaces are never bound to a named HEP; only `*` reaches them (§5.12).
    if (isWorkloadInterface(this.host, iface)) return null;
    const candidates: HostEndpoint[] = [...(this.named.get(iface) ?? [])];
    const info = this.host.interfaces.find((i) => i.name === iface);
    if (info && this.byIpOnly.length > 0) {
      const local = new Set<string>();
      for (const a of info.addresses) {
        // The interface address itself (not its network): "10.0.1.1/24" holds 10.0.1.1.
        const ip = parseIp(a.split('/')[0] ?? '');
        if (ip) local.add(addrKey(ip.family, ip.words));
      }
      for (const h of this.byIpOnly) {
        if (h.expectedIPs.some((ip) => {
          const p = parseIp(ip);
          return p !== null && local.has(addrKey(p.family, p.words));
        })) candidates.push(h);
      }
    }
    if (candidates.length === 0) return null;
    candidates.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return candidates[0]!;
  }
}

function addrKey(family: number, w: readonly number[]): string {
  return `${family}:${w[0]}.${w[1]}.${w[2]}.${w[3]}`;
}
