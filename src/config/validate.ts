/**
 * RawDocument[] -> validated, defaulted ResourceSet plus every issue, in one pass (pure).
 *
 * Per document: kind dispatch to validate-<kind>.ts. Across documents: duplicate names per kind,
 * policy tiers that must exist, endpoint profiles that should exist, FelixConfiguration
 * precedence, and the implicit objects every Calico datastore has (tier `default`, profile
 * `projectcalico-default-allow`). A resource with any error is left out of the ResourceSet; the
 * set is only meant to be used when no error was reported.
 */
import type { Issue, SourceLocation } from '../errors';
import type { FelixSettings, GlobalNetworkPolicy, Origin, Profile, ResourceSet, Tier } from './resources';
import {
  DEFAULT_ALLOW_PROFILE,
  DEFAULT_FAILSAFE_INBOUND,
  DEFAULT_FAILSAFE_OUTBOUND,
  DEFAULT_TIER_NAME,
  DEFAULT_TIER_ORDER,
} from './resources';
import { CFG } from './issue-codes';
import { Checker, isRecord, own } from './validate-context';
import { validateFelix } from './validate-felix';
import { validateHostEndpoint } from './validate-host-endpoint';
import { checkKindAndVersion, isSubdomain, SUPPORTED_KINDS, type SupportedKind } from './validate-metadata';
import { validateNetworkSet } from './validate-network-set';
import { validatePolicy } from './validate-policy';
import { validateProfile } from './validate-profile';
import { validateTier } from './validate-tier';
import { validateWorkloadEndpoint } from './validate-workload-endpoint';
import type { RawDocument } from './yaml-source';

export interface ValidateOptions {
  /**
   * This host's node name. A FelixConfiguration `node.<nodeName>` then applies over `default`;
   * without it, node-specific FelixConfigurations are validated but not applied.
   */
  nodeName?: string;
}

export interface ValidationResult {
  resources: ResourceSet;
  issues: Issue[];
  /** Valid resources per kind as written by the user (implicit objects not counted). */
  counts: Record<SupportedKind, number>;
}

/** Where implicit objects come from. */
export const BUILTIN_ORIGIN: Origin = Object.freeze({ location: Object.freeze({ file: '<built-in>', line: 0 }) });

/** Calico's default tier: always present. */
export function builtinDefaultTier(): Tier {
  return { kind: 'Tier', name: DEFAULT_TIER_NAME, order: DEFAULT_TIER_ORDER, defaultAction: 'Deny', origin: BUILTIN_ORIGIN };
}

/** Calico's built-in allow-all profile: one Allow rule per direction. */
export function builtinDefaultAllowProfile(): Profile {
  const allow = () => ({
    action: 'Allow' as const,
    source: emptyEntity(),
    destination: emptyEntity(),
    origin: BUILTIN_ORIGIN,
  });
  return { kind: 'Profile', name: DEFAULT_ALLOW_PROFILE, ingress: [allow()], egress: [allow()], labelsToApply: {}, origin: BUILTIN_ORIGIN };
}

function emptyEntity() {
  return { nets: [], notNets: [], selector: '', notSelector: '', namespaceSelector: '', ports: [], notPorts: [] };
}

/** Felix defaults (§1.9). */
export function defaultFelixSettings(): FelixSettings {
  return {
    failsafeInboundHostPorts: DEFAULT_FAILSAFE_INBOUND.map((p) => ({ ...p })),
    failsafeOutboundHostPorts: DEFAULT_FAILSAFE_OUTBOUND.map((p) => ({ ...p })),
    denyAction: 'Drop',
    disableConntrackInvalidCheck: false,
    logPrefix: 'calico-packet',
    logActionRateLimitBurst: 5,
  };
}

interface Seen {
  kind: SupportedKind;
  key: string;
  location: SourceLocation;
}

export function validateDocuments(docs: readonly RawDocument[], options: ValidateOptions = {}): ValidationResult {
  const issues: Issue[] = [];
  const resources: ResourceSet = {
    policies: [],
    hostEndpoints: [],
    workloadEndpoints: [],
    networkSets: [],
    tiers: [],
    profiles: [],
    felix: defaultFelixSettings(),
  };
  const counts = Object.fromEntries(SUPPORTED_KINDS.map((k) => [k, 0])) as Record<SupportedKind, number>;
  const firstByKey = new Map<string, Seen>();
  const declaredTiers = new Set<string>([DEFAULT_TIER_NAME]);
  const declaredProfiles = new Set<string>([DEFAULT_ALLOW_PROFILE]);
  const tierRefs: { c: Checker; tier: string; policy: GlobalNetworkPolicy | undefined }[] = [];
  const profileRefs: { c: Checker; profiles: unknown[] }[] = [];
  const felixDocs = new Map<string, Partial<FelixSettings>>();

  for (const doc of docs) {
    const c = new Checker(doc, issues);
    const kind = checkKindAndVersion(c, doc.value);
    if (kind === undefined || !isRecord(doc.value)) continue;
    const value = doc.value;
    const spec = isRecord(own(value, 'spec')) ? (own(value, 'spec') as Record<string, unknown>) : {};

    let name: string | undefined;
    let dupKey: string | undefined;
    let valid = false;
    switch (kind) {
      case 'GlobalNetworkPolicy': {
        const r = validatePolicy(c, value);
        name = r.name;
        const tier = own(spec, 'tier');
        if (typeof tier === 'string' && isSubdomain(tier)) tierRefs.push({ c, tier, policy: r.resource });
        if (r.resource) resources.policies.push(r.resource);
        valid = r.resource !== undefined;
        break;
      }
      case 'HostEndpoint': {
        const r = validateHostEndpoint(c, value);
        name = r.name;
        if (r.resource) resources.hostEndpoints.push(r.resource);
        valid = r.resource !== undefined;
        break;
      }
      case 'WorkloadEndpoint': {
        const r = validateWorkloadEndpoint(c, value);
        name = r.name;
        if (name !== undefined) dupKey = `${r.namespace}/${name}`;
        if (r.resource) resources.workloadEndpoints.push(r.resource);
        valid = r.resource !== undefined;
        break;
      }
      case 'GlobalNetworkSet': {
        const r = validateNetworkSet(c, value);
        name = r.name;
        if (r.resource) resources.networkSets.push(r.resource);
        valid = r.resource !== undefined;
        break;
      }
      case 'Tier': {
        const r = validateTier(c, value);
        name = r.name;
        if (name !== undefined) declaredTiers.add(name);
        if (r.resource) resources.tiers.push(r.resource);
        valid = r.resource !== undefined;
        break;
      }
      case 'Profile': {
        const r = validateProfile(c, value);
        name = r.name;
        if (name !== undefined) declaredProfiles.add(name);
        if (r.resource) resources.profiles.push(r.resource);
        valid = r.resource !== undefined;
        break;
      }
      case 'FelixConfiguration': {
        const r = validateFelix(c, value);
        name = r.name;
        if (name !== undefined && r.settings && !felixDocs.has(name)) felixDocs.set(name, r.settings);
        valid = r.settings !== undefined;
        break;
      }
    }
    if (kind === 'HostEndpoint' || kind === 'WorkloadEndpoint') {
      const profiles = own(spec, 'profiles');
      if (Array.isArray(profiles)) profileRefs.push({ c, profiles });
    }
    if (valid) counts[kind]++;

    // Duplicate names: the later definition is the error, pointing back at the first.
    if (name !== undefined) {
      const key = `${kind}:${dupKey ?? name}`;
      const here = c.at(['metadata', 'name']);
      const first = firstByKey.get(key);
      if (first) {
        c.error(
          ['metadata', 'name'],
          CFG.DUPLICATE_NAME,
          `duplicate ${kind} name "${dupKey ?? name}": already defined at ${first.location.file}:${first.location.line}`,
        );
        if (valid) {
          counts[kind]--;
          dropLast(resources, kind);
        }
      } else firstByKey.set(key, { kind, key, location: here });
    }
  }

  for (const { c, tier, policy } of tierRefs) {
    if (!declaredTiers.has(tier)) {
      if (policy && resources.policies.includes(policy)) {
        resources.policies = resources.policies.filter((p) => p !== policy);
        counts.GlobalNetworkPolicy--;
      }
      c.error(
        ['spec', 'tier'],
        CFG.TIER_MISSING,
        `tier "${tier}" does not exist: define a Tier named "${tier}" (Calico refuses a policy whose tier is missing)`,
      );
    }
  }
  for (const { c, profiles } of profileRefs) {
    profiles.forEach((p, i) => {
      if (typeof p === 'string' && isSubdomain(p) && !declaredProfiles.has(p)) {
        c.warn(
          ['spec', 'profiles', i],
          CFG.PROFILE_MISSING,
          `profile "${p}" is not defined in any file; Calico treats a missing profile as deny-all in its place`,
        );
      }
    });
  }

  const globalFelix = felixDocs.get('default');
  if (globalFelix) Object.assign(resources.felix, globalFelix);
  const nodeFelix = options.nodeName !== undefined ? felixDocs.get(`node.${options.nodeName}`) : undefined;
  if (nodeFelix) Object.assign(resources.felix, nodeFelix);

  if (!resources.tiers.some((t) => t.name === DEFAULT_TIER_NAME)) resources.tiers.push(builtinDefaultTier());
  if (!resources.profiles.some((p) => p.name === DEFAULT_ALLOW_PROFILE)) resources.profiles.push(builtinDefaultAllowProfile());

  return { resources, issues, counts };
}

/** Remove the resource just added for `kind` (a duplicate keeps the first definition only). */
function dropLast(resources: ResourceSet, kind: SupportedKind): void {
  switch (kind) {
    case 'GlobalNetworkPolicy':
      resources.policies.pop();
      break;
    case 'HostEndpoint':
      resources.hostEndpoints.pop();
      break;
    case 'WorkloadEndpoint':
      resources.workloadEndpoints.pop();
      break;
    case 'GlobalNetworkSet':
      resources.networkSets.pop();
      break;
    case 'Tier':
      resources.tiers.pop();
      break;
    case 'Profile':
      resources.profiles.pop();
      break;
    case 'FelixConfiguration':
      break; // felixDocs keeps the first already
  }
}
