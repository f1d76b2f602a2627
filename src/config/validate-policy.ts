/**
 * GlobalNetworkPolicy (calico-semantics.md §1.2): fields, `types` defaulting (§5.14 Q9) and the
 * preDNAT / doNotTrack / applyOnForward cross-field rules. Whether spec.tier exists is checked
 * later, across all documents (validate.ts).
 */
import type { GlobalNetworkPolicy, PolicyType } from './resources';
import { DEFAULT_TIER_NAME } from './resources';
import { selectorUsesGlobal } from '../selector';
import { CFG } from './issue-codes';
import { Checker, checkFields, own, readBool, readList, readNumber, readString, shown } from './validate-context';
import { isSubdomain, readEnvelope } from './validate-metadata';
import { readRules } from './validate-rule';
import { readSelector } from './validate-selector';

const SPEC_FIELDS = [
  'tier',
  'order',
  'selector',
  'types',
  'ingress',
  'egress',
  'applyOnForward',
  'preDNAT',
  'doNotTrack',
  'namespaceSelector',
  'serviceAccountSelector',
  'performanceHints',
];
const POLICY_TYPES: readonly PolicyType[] = ['Ingress', 'Egress'];

/** `types` as written, or the default of §1.2: [Ingress], [Egress] or both, from which rules exist. */
export function defaultPolicyTypes(hasIngressRules: boolean, hasEgressRules: boolean): PolicyType[] {
  if (hasEgressRules && hasIngressRules) return ['Ingress', 'Egress'];
  if (hasEgressRules) return ['Egress'];
  return ['Ingress'];
}

export function validatePolicy(c: Checker, value: Record<string, unknown>): { name: string | undefined; resource: GlobalNetworkPolicy | undefined } {
  const { meta, spec } = readEnvelope(c, value, 'GlobalNetworkPolicy', 'policy');
  if (spec === null) return { name: meta.name, resource: undefined };
  checkFields(c, spec, ['spec'], SPEC_FIELDS, 'GlobalNetworkPolicy spec');

  let tier = readString(c, spec, ['spec'], 'tier');
  if (tier === undefined || tier === '') tier = DEFAULT_TIER_NAME;
  else if (tier !== null && !isSubdomain(tier)) {
    c.error(['spec', 'tier'], CFG.NAME, `invalid tier name "${tier}": tier names are lower case alphanumeric characters or '-'`);
    tier = null;
  }
  const order = readNumber(c, spec, ['spec'], 'order');
  const selector = readSelector(c, spec, ['spec'], 'selector', { forbidGlobal: true });
  for (const key of ['namespaceSelector', 'serviceAccountSelector']) {
    const text = readString(c, spec, ['spec'], key);
    if (!text) continue;
    if (selectorUsesGlobal(text)) {
      c.error(['spec', key], CFG.SELECTOR_GLOBAL, `global() can only be used in an EntityRule namespaceSelector (found in spec.${key})`, {
        offset: text.indexOf('global('),
      });
    } else {
      c.error(
        ['spec', key],
        CFG.UNSUPPORTED,
        `spec.${key} is not supported for host endpoints: it only matches Kubernetes workloads, so a policy using it never selects a HostEndpoint; nfqwall rejects it deliberately`,
      );
    }
  }
  checkPerformanceHints(c, spec);

  const rawIngress = own(spec, 'ingress');
  const rawEgress = own(spec, 'egress');
  const ingress = readRules(c, spec, 'ingress');
  const egress = readRules(c, spec, 'egress');
  const applyOnForward = readBool(c, spec, ['spec'], 'applyOnForward');
  const preDNAT = readBool(c, spec, ['spec'], 'preDNAT');
  const doNotTrack = readBool(c, spec, ['spec'], 'doNotTrack');

  const explicitTypes = readTypes(c, spec);
  const types =
    explicitTypes && explicitTypes.length > 0
      ? explicitTypes
      : defaultPolicyTypes(Array.isArray(rawIngress) && rawIngress.length > 0, Array.isArray(rawEgress) && rawEgress.length > 0);

  // Cross-field rules, in the order Calico lists them.
  if (preDNAT && doNotTrack) c.error(['spec', 'preDNAT'], CFG.PREDNAT_DONOTTRACK, 'preDNAT and doNotTrack cannot both be true');
  if (preDNAT && Array.isArray(rawEgress) && rawEgress.length > 0) {
    c.error(['spec', 'egress'], CFG.PREDNAT_EGRESS, 'preDNAT policy cannot have any egress rules (preDNAT policy applies to ingress only)');
  }
  if (preDNAT && explicitTypes) {
    const i = explicitTypes.indexOf('Egress');
    if (i >= 0) c.error(['spec', 'types', i], CFG.PREDNAT_EGRESS, "preDNAT policy cannot have 'Egress' type");
  }
  if ((preDNAT || doNotTrack) && applyOnForward !== true && applyOnForward !== null) {
    const flag = preDNAT ? 'preDNAT' : 'doNotTrack';
    c.error(
      own(spec, 'applyOnForward') !== undefined ? ['spec', 'applyOnForward'] : ['spec', flag],
      CFG.APPLY_ON_FORWARD_REQUIRED,
      `applyOnForward must be true if either preDNAT or doNotTrack is true (${flag} is true)`,
    );
  }

  if (meta.name !== undefined && typeof tier === 'string' && meta.name.includes('.')) {
    const prefix = meta.name.slice(0, meta.name.indexOf('.'));
    if (prefix !== tier) {
      c.warn(
        ['metadata', 'name'],
        CFG.POLICY_NAME_TIER,
        `policy name prefix "${prefix}." does not match its tier "${tier}"; Calico before v3.32 requires "<tier>.<name>" names and would reject it`,
      );
    }
  }

  if (c.errorCount > 0 || meta.name === undefined || typeof tier !== 'string' || selector === null || ingress === null || egress === null) {
    return { name: meta.name, resource: undefined };
  }
  const policy: GlobalNetworkPolicy = {
    kind: 'GlobalNetworkPolicy',
    name: meta.name,
    tier,
    selector,
    types,
    ingress,
    egress,
    applyOnForward: applyOnForward === true,
    preDNAT: preDNAT === true,
    doNotTrack: doNotTrack === true,
    origin: { location: c.at([]) },
  };
  if (typeof order === 'number') policy.order = order;
  return { name: meta.name, resource: policy };
}

/** spec.types: Ingress/Egress, exact case, no duplicates. null when invalid. */
function readTypes(c: Checker, spec: Record<string, unknown>): PolicyType[] | null | undefined {
  const list = readList(c, spec, ['spec'], 'types');
  if (list === undefined || list === null) return list;
  const out: PolicyType[] = [];
  let ok = true;
  list.forEach((t, i) => {
    if (typeof t !== 'string' || !(POLICY_TYPES as readonly string[]).includes(t)) {
      ok = false;
      const near = typeof t === 'string' ? POLICY_TYPES.find((p) => p.toLowerCase() === t.toLowerCase()) : undefined;
      c.error(
        ['spec', 'types', i],
        CFG.POLICY_TYPE,
        near ? `invalid policy type "${String(t)}": types are case-sensitive; use ${near}` : `invalid policy type ${shown(t)}: must be Ingress or Egress`,
      );
      return;
    }
    if (out.includes(t as PolicyType)) {
      ok = false;
      c.error(['spec', 'types', i], CFG.DUPLICATE_TYPE, `'${t}' type specified more than once`);
      return;
    }
    out.push(t as PolicyType);
  });
  return ok ? out : null;
}

function checkPerformanceHints(c: Checker, spec: Record<string, unknown>): void {
  const list = readList(c, spec, ['spec'], 'performanceHints');
  if (!list) return;
  const seen = new Set<unknown>();
  list.forEach((h, i) => {
    if (h !== 'AssumeNeededOnEveryNode') {
      c.error(['spec', 'performanceHints', i], CFG.INVALID_VALUE, `invalid performance hint ${shown(h)}: the only hint is AssumeNeededOnEveryNode`);
    } else if (seen.has(h)) {
      c.error(['spec', 'performanceHints', i], CFG.INVALID_VALUE, `performance hint ${h} listed more than once`);
    }
    seen.add(h);
  });
}
