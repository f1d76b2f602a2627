/**
 * Which labels an object has (§2.4, §1.8).
 */
import type { GlobalNetworkSet, HostEndpoint, Profile, WorkloadEndpoint } from '../../config/resources';
import type { Labels } from '../../selector';

export const NAMESPACE_LABEL = 'projectcalico.org/namespace';
export const ORCHESTRATOR_LABEL = 'projectcalico.org/orchestrator';

/**
 * Labels inherited from the listed profiles' `labelsToApply`. When two profiles set the same key,
 * the one listed first wins (Felix's label inheritance looks parents up in list order).
 * Missing profiles contribute nothing.
 */
function profileLabels(profileNames: readonly string[], profiles: ReadonlyMap<string, Profile>): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of profileNames) {
    const p = profiles.get(name);
    if (!p) continue;
    for (const [k, v] of Object.entries(p.labelsToApply)) if (!out.has(k)) out.set(k, v);
  }
  return out;
}

/** HEP: own labels ∪ profile labelsToApply, own value wins; no implicit labels. */
export function hostEndpointLabels(hep: HostEndpoint, profiles: ReadonlyMap<string, Profile>): Labels {
  const merged = profileLabels(hep.profiles, profiles);
  for (const [k, v] of Object.entries(hep.labels)) merged.set(k, v);
  return Object.fromEntries(merged);
}

/**
 * WEP: own labels ∪ profile labelsToApply (own wins), plus the implicit namespace and orchestrator
 * labels that Calico's client stores on every WEP (these override anything the user wrote).
 * `orchestrator` is read if the validated object carries it (the v3 `spec.orchestrator`).
 */
export function workloadEndpointLabels(wep: WorkloadEndpoint, profiles: ReadonlyMap<string, Profile>): Labels {
  const merged = profileLabels(wep.profiles, profiles);
  for (const [k, v] of Object.entries(wep.labels)) merged.set(k, v);
  merged.set(NAMESPACE_LABEL, wep.namespace);
  const orchestrator = (wep as WorkloadEndpoint & { orchestrator?: unknown }).orchestrator;
  if (typeof orchestrator === 'string' && orchestrator !== '') merged.set(ORCHESTRATOR_LABEL, orchestrator);
  return Object.fromEntries(merged);
}

/** GlobalNetworkSet: its own labels only. */
export function networkSetLabels(gns: GlobalNetworkSet): Labels {
  return Object.fromEntries(Object.entries(gns.labels));
}
