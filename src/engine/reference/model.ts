/**
 * Everything the reference evaluator derives once from the resources and the host: selector
 * cache, profile index, tier order, rule-selector objects, endpoint resolution.
 * Nothing here is optimised beyond avoiding re-parsing.
 */
import type { HostEndpoint, Profile, ResourceSet, WorkloadEndpoint } from '../../config/resources';
import type { Labels } from '../../selector';
import type { HostModel } from '../host-model';
import { buildAddressObjects } from './address-objects';
import { EndpointResolver } from './endpoints';
import { hostEndpointLabels, workloadEndpointLabels } from './labels';
import { orderedTiers, type TierInfo } from './ordering';
import type { MatchContext } from './rule-match';
import { SelectorCache } from './selectors';

/** An endpoint as policy sees it: name, labels (§2.4), profiles. */
export interface Subject {
  kind: 'HostEndpoint' | 'WorkloadEndpoint';
  name: string;
  labels: Labels;
  profiles: readonly string[];
}

export class ReferenceModel {
  readonly selectors = new SelectorCache();
  readonly profiles: ReadonlyMap<string, Profile>;
  readonly tiers: readonly TierInfo[];
  readonly match: MatchContext;
  readonly endpoints: EndpointResolver;

  constructor(
    readonly resources: ResourceSet,
    readonly host: HostModel,
  ) {
    this.profiles = new Map(resources.profiles.map((p) => [p.name, p]));
    this.tiers = orderedTiers(resources.tiers, resources.policies);
    this.match = { objects: buildAddressObjects(resources, this.profiles), selectors: this.selectors };
    this.endpoints = new EndpointResolver(resources, host);
  }

  hostSubject(hep: HostEndpoint): Subject {
    return { kind: 'HostEndpoint', name: hep.name, labels: hostEndpointLabels(hep, this.profiles), profiles: hep.profiles };
  }

  workloadSubject(wep: WorkloadEndpoint): Subject {
    return { kind: 'WorkloadEndpoint', name: wep.name, labels: workloadEndpointLabels(wep, this.profiles), profiles: wep.profiles };
  }
}
