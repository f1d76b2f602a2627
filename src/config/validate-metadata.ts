/**
 * apiVersion, kind, the top-level layout and `metadata` (calico-semantics.md §1.0), shared by
 * every kind. Name rules differ per kind (§1.1–§1.9), label and annotation rules do not.
 */
import { CFG } from './issue-codes';
import { Checker, checkFields, describe, isRecord, own, readMap, readString, shown } from './validate-context';
import type { FieldPath } from './yaml-source';

export const API_VERSION = 'projectcalico.org/v3';

/** Kinds nfqwall validates and enforces. */
export const SUPPORTED_KINDS = [
  'GlobalNetworkPolicy',
  'HostEndpoint',
  'WorkloadEndpoint',
  'GlobalNetworkSet',
  'Tier',
  'Profile',
  'FelixConfiguration',
] as const;
export type SupportedKind = (typeof SUPPORTED_KINDS)[number];

/** Other projectcalico.org/v3 kinds, and why nfqwall does not take them. */
const UNSUPPORTED_KINDS: Readonly<Record<string, string>> = {
  NetworkPolicy: 'namespaced policy never selects host endpoints; use a GlobalNetworkPolicy',
  StagedNetworkPolicy: 'staged policies have no effect on traffic',
  StagedGlobalNetworkPolicy: 'staged policies have no effect on traffic',
  StagedKubernetesNetworkPolicy: 'staged policies have no effect on traffic',
  NetworkSet: 'namespaced network sets are only matched with a namespaceSelector, which nfqwall rejects; use a GlobalNetworkSet',
  KubernetesNetworkPolicy: 'Kubernetes policy never selects host endpoints',
  BGPConfiguration: 'BGP is not part of a packet filter',
  BGPPeer: 'BGP is not part of a packet filter',
  BGPFilter: 'BGP is not part of a packet filter',
  IPPool: 'IP address management is not part of a packet filter',
  IPReservation: 'IP address management is not part of a packet filter',
  IPAMConfiguration: 'IP address management is not part of a packet filter',
  KubeControllersConfiguration: 'Kubernetes controllers are not part of a packet filter',
  ClusterInformation: 'cluster bookkeeping is not part of a packet filter',
  CalicoNodeStatus: 'node status is not part of a packet filter',
  Node: 'node objects are not part of a packet filter; HostEndpoints name their node in spec.node',
  QoSPolicy: 'QoS is not part of a packet filter',
};

/** Cluster-scoped kinds; only WorkloadEndpoint is namespaced. */
export function isNamespaced(kind: SupportedKind): boolean {
  return kind === 'WorkloadEndpoint';
}

const NAME_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_LABEL_RE = new RegExp(`^${NAME_LABEL}$`);
const DNS_SUBDOMAIN_RE = new RegExp(`^${NAME_LABEL}(\\.${NAME_LABEL})*$`);
const GNP_NAME_RE = new RegExp(`^(${NAME_LABEL}\\.)?${NAME_LABEL}$`);
const QUALIFIED_NAME_RE = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export type NameRule = 'subdomain' | 'policy' | 'tier' | 'felix';

/** Problems with a resource name under `rule`; empty when valid. */
export function nameProblems(name: string, rule: NameRule): string[] {
  const out: string[] = [];
  if (name === '') return ['name must not be empty'];
  const max = rule === 'tier' ? 63 : 253;
  if (name.length > max) out.push(`name is too long by ${name.length - max} bytes (at most ${max})`);
  switch (rule) {
    case 'subdomain':
      if (!DNS_SUBDOMAIN_RE.test(name)) out.push(SUBDOMAIN_MSG);
      break;
    case 'policy':
      if (!GNP_NAME_RE.test(name)) {
        out.push(
          "name must consist of lower case alphanumeric characters or '-', start and end with an alphanumeric character, and may have one '<prefix>.' (regex: " +
            GNP_NAME_RE.source +
            ')',
        );
      }
      break;
    case 'tier':
      if (!DNS_LABEL_RE.test(name)) out.push(`name must consist of lower case alphanumeric characters or '-' (regex: ${NAME_LABEL})`);
      break;
    case 'felix':
      if (name !== 'default' && !(name.startsWith('node.') && DNS_SUBDOMAIN_RE.test(name.slice(5)))) {
        out.push("a FelixConfiguration must be named 'default' (global) or 'node.<node name>' (one node)");
      }
      break;
  }
  return out;
}

const SUBDOMAIN_MSG = "name must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";

/** Is `name` a valid DNS-1123 subdomain (Calico's generic resource-name rule)? */
export function isSubdomain(name: string): boolean {
  return name.length > 0 && name.length <= 253 && DNS_SUBDOMAIN_RE.test(name);
}

/** Kubernetes qualified name (`[prefix/]name`) problems; empty when valid. */
export function qualifiedNameProblems(key: string): string[] {
  const parts = key.split('/');
  let name = key;
  const out: string[] = [];
  if (parts.length > 2) return [`"${key}" must be a qualified name: an optional DNS subdomain prefix and '/', then a name`];
  if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix === '') out.push('prefix part must not be empty');
    else if (!isSubdomain(prefix)) out.push(`prefix part "${prefix}" must be a DNS subdomain: ${SUBDOMAIN_MSG}`);
  }
  if (name === '') out.push('name part must not be empty');
  else {
    if (name.length > 63) out.push('name part must be no more than 63 characters');
    if (!QUALIFIED_NAME_RE.test(name)) {
      out.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
    }
  }
  return out;
}

export function labelValueProblems(value: string): string[] {
  const out: string[] = [];
  if (value.length > 63) out.push('label value must be no more than 63 characters');
  if (!LABEL_VALUE_RE.test(value)) {
    out.push("label value must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
  }
  return out;
}

/**
 * A label map (metadata.labels, spec.labelsToApply). Values must be YAML strings: Calico decodes
 * into map[string]string, so `enabled: true` is an error there too (quote it).
 */
export function readLabels(c: Checker, obj: Record<string, unknown>, path: FieldPath, key: string): Record<string, string> {
  const out: Record<string, string> = {};
  const map = readMap(c, obj, path, key);
  if (!map) return out;
  for (const [k, v] of Object.entries(map)) {
    const p = [...path, key, k];
    let ok = true;
    for (const problem of qualifiedNameProblems(k)) {
      c.error(p, CFG.LABEL_KEY, `invalid label key "${k}": ${problem}`, { key: true });
      ok = false;
    }
    if (typeof v !== 'string') {
      const hint = typeof v === 'boolean' || typeof v === 'number' ? ` (quote it: '${String(v)}')` : '';
      c.error(p, CFG.TYPE, `label value of "${k}" must be a string, found ${describe(v)}${hint}`);
      continue;
    }
    for (const problem of labelValueProblems(v)) {
      c.error(p, CFG.LABEL_VALUE, `invalid value ${JSON.stringify(v)} for label "${k}": ${problem}`);
      ok = false;
    }
    // Keys were validated above; `__proto__` and friends cannot pass, so plain assignment is safe.
    if (ok) out[k] = v;
  }
  return out;
}

function readAnnotations(c: Checker, meta: Record<string, unknown>, path: FieldPath): void {
  const map = readMap(c, meta, path, 'annotations');
  if (!map) return;
  checkAnnotationMap(c, map, [...path, 'annotations']);
}

/** Annotations (object or rule metadata): qualified-name keys (case-insensitive), string values, ≤ 256 KiB. */
export function checkAnnotationMap(c: Checker, map: Record<string, unknown>, path: FieldPath): void {
  let total = 0;
  for (const [k, v] of Object.entries(map)) {
    for (const problem of qualifiedNameProblems(k.toLowerCase())) {
      c.error([...path, k], CFG.ANNOTATION, `invalid annotation key "${k}": ${problem}`, { key: true });
    }
    if (typeof v !== 'string') {
      c.error([...path, k], CFG.TYPE, `annotation "${k}" must be a string, found ${describe(v)}`);
      continue;
    }
    total += k.length + v.length;
  }
  const limit = 256 * 1024;
  if (total > limit) c.error(path, CFG.ANNOTATION, `total size of annotations is too large by ${total - limit} bytes`);
}

/** ObjectMeta fields that may appear (e.g. in `calicoctl get -o yaml` output) and carry no meaning here. */
const METADATA_FIELDS = [
  'name',
  'namespace',
  'labels',
  'annotations',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'generateName',
  'selfLink',
  'ownerReferences',
  'finalizers',
  'managedFields',
] as const;

export interface Metadata {
  /** undefined when missing or invalid (already reported). */
  name: string | undefined;
  namespace: string | undefined;
  labels: Record<string, string>;
}

/**
 * Check the top level (`apiVersion`, `kind`, `metadata`, `spec` and nothing else) and
 * `metadata`. Returns the metadata and the spec map: {} when absent, null when it is not a map
 * (reported; the caller then skips the spec instead of reporting every field as missing).
 */
export function readEnvelope(
  c: Checker,
  value: Record<string, unknown>,
  kind: SupportedKind,
  nameRule: NameRule,
): { meta: Metadata; spec: Record<string, unknown> | null } {
  // Tier objects read back from a cluster carry a status block; it has no meaning here.
  checkFields(c, value, [], kind === 'Tier' ? ['apiVersion', 'kind', 'metadata', 'spec', 'status'] : ['apiVersion', 'kind', 'metadata', 'spec'], kind);
  const meta: Metadata = { name: undefined, namespace: undefined, labels: {} };
  const rawMeta = readMap(c, value, [], 'metadata');
  if (rawMeta === undefined) c.error(['metadata'], CFG.REQUIRED, `${kind} needs metadata with a name`);
  if (rawMeta) {
    checkFields(c, rawMeta, ['metadata'], METADATA_FIELDS, 'metadata');
    const name = readString(c, rawMeta, ['metadata'], 'name');
    if (name === undefined || name === '') c.error(['metadata', 'name'], CFG.REQUIRED, `metadata.name is required for a ${kind}`);
    else if (name !== null) {
      const problems = nameProblems(name, nameRule);
      for (const p of problems) c.error(['metadata', 'name'], nameRule === 'felix' ? CFG.FELIX_NAME : CFG.NAME, `invalid ${kind} name "${name}": ${p}`);
      if (problems.length === 0) meta.name = name;
    }
    const ns = readString(c, rawMeta, ['metadata'], 'namespace');
    if (typeof ns === 'string' && ns !== '') {
      if (!isNamespaced(kind)) {
        c.error(['metadata', 'namespace'], CFG.NAMESPACE, `${kind} is cluster-scoped; remove metadata.namespace`);
      } else if (!isSubdomain(ns)) {
        c.error(['metadata', 'namespace'], CFG.NAME, `invalid namespace "${ns}": ${SUBDOMAIN_MSG}`);
      } else meta.namespace = ns;
    }
    meta.labels = readLabels(c, rawMeta, ['metadata'], 'labels');
    readAnnotations(c, rawMeta, ['metadata']);
  }
  const spec = readMap(c, value, [], 'spec');
  return { meta, spec: spec === undefined ? {} : spec };
}

/** What the document's kind is, or undefined after reporting why it cannot be validated. */
export function checkKindAndVersion(c: Checker, value: unknown): SupportedKind | undefined {
  if (!isRecord(value)) {
    c.error([], CFG.NOT_A_RESOURCE, `a resource must be a YAML mapping with apiVersion, kind, metadata and spec; found ${describe(value)}`);
    return undefined;
  }
  const kind = own(value, 'kind');
  const apiVersion = own(value, 'apiVersion');
  let versionOk = true;
  if (apiVersion === undefined || apiVersion === null) {
    c.error(['apiVersion'], CFG.API_VERSION, `apiVersion is required and must be '${API_VERSION}'`);
    versionOk = false;
  } else if (apiVersion !== API_VERSION) {
    const hint = apiVersion === 'projectcalico.org/v1' || apiVersion === 'v1' ? ' (v1 resources must be converted, e.g. with calicoctl convert)' : '';
    c.error(['apiVersion'], CFG.API_VERSION, `apiVersion must be '${API_VERSION}', found ${shown(apiVersion)}${hint}`);
    versionOk = false;
  }
  if (kind === undefined || kind === null || kind === '') {
    c.error(['kind'], CFG.KIND_UNKNOWN, `kind is required (one of ${SUPPORTED_KINDS.join(', ')})`);
    return undefined;
  }
  if (typeof kind !== 'string') {
    c.error(['kind'], CFG.TYPE, `kind must be a string, found ${describe(kind)}`);
    return undefined;
  }
  if ((SUPPORTED_KINDS as readonly string[]).includes(kind)) return versionOk ? (kind as SupportedKind) : undefined;
  const why = Object.hasOwn(UNSUPPORTED_KINDS, kind) ? UNSUPPORTED_KINDS[kind] : undefined;
  if (why !== undefined) {
    c.error(['kind'], CFG.KIND_UNSUPPORTED, `kind ${kind} is not supported by nfqwall: ${why}`);
    return undefined;
  }
  const exact = SUPPORTED_KINDS.find((k) => k.toLowerCase() === kind.toLowerCase());
  c.error(
    ['kind'],
    CFG.KIND_UNKNOWN,
    exact ? `unknown kind "${kind}"; kinds are case-sensitive: did you mean ${exact}?` : `unknown kind "${kind}" (expected one of ${SUPPORTED_KINDS.join(', ')})`,
  );
  return undefined;
}
