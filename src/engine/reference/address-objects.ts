/**
 * The objects that rule selectors can name (§2.5, §3.2): HEPs and WEPs of all nodes and all
 * GlobalNetworkSets, each with its labels, its addresses and (endpoints only) its named ports.
 */
import type { EndpointPort, Profile, ResourceSet } from '../../config/resources';
import { familyBits, parseCidr, parseIp, prefixContains, type IpAddress, type IpPrefix } from '../../net/ip';
import type { Labels } from '../../selector';
import { hostEndpointLabels, networkSetLabels, workloadEndpointLabels } from './labels';

export interface AddressObject {
  kind: 'HostEndpoint' | 'WorkloadEndpoint' | 'GlobalNetworkSet';
  name: string;
  labels: Labels;
  /** HEP: expectedIPs as /32 or /128 (none when omitted); WEP: ipNetworks; GNS: nets. */
  prefixes: IpPrefix[];
  /** Named ports (§3.5); always empty for network sets. */
  ports: EndpointPort[];
}

function hostPrefix(text: string): IpPrefix | null {
  const a = parseIp(text);
  return a ? { family: a.family, network: a, length: familyBits(a.family) } : null;
}

function cidrPrefix(text: string): IpPrefix | null {
  return parseCidr(text, true)?.prefix ?? null;
}

function present<T>(v: T | null): v is T {
  return v !== null;
}

export function buildAddressObjects(resources: ResourceSet, profiles: ReadonlyMap<string, Profile>): AddressObject[] {
  const out: AddressObject[] = [];
  for (const hep of resources.hostEndpoints) {
    out.push({
      kind: 'HostEndpoint',
      name: hep.name,
      labels: hostEndpointLabels(hep, profiles),
      prefixes: hep.expectedIPs.map(hostPrefix).filter(present),
      ports: hep.ports,
    });
  }
  for (const wep of resources.workloadEndpoints) {
    out.push({
      kind: 'WorkloadEndpoint',
      name: wep.name,
      labels: workloadEndpointLabels(wep, profiles),
      prefixes: wep.ipNetworks.map(cidrPrefix).filter(present),
      ports: wep.ports,
    });
  }
  for (const gns of resources.networkSets) {
    out.push({
      kind: 'GlobalNetworkSet',
      name: gns.name,
      labels: networkSetLabels(gns),
      prefixes: gns.nets.map(cidrPrefix).filter(present),
      ports: [],
    });
  }
  return out;
}

/** Does the object own `addr`? (Per family: a v6 packet only meets v6 members, §3.3.) */
export function objectHasAddress(obj: AddressObject, addr: IpAddress): boolean {
  return obj.prefixes.some((p) => prefixContains(p, addr));
}
