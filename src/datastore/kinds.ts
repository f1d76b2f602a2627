/**
 * Resource kinds as the calicoctl verbs name them, and the identity of one stored resource
 * (kind + name, plus namespace for WorkloadEndpoints) taken from a raw document.
 */
import { SUPPORTED_KINDS, type SupportedKind } from '../config';

export interface ResourceRef {
  kind: SupportedKind;
  name: string;
  /** WorkloadEndpoint only ("default" when the document has none, as calicoctl does). */
  namespace?: string;
}

interface KindInfo {
  kind: SupportedKind;
  /** Names calicoctl accepts on the command line (matched case-insensitively). */
  names: readonly string[];
  /** `get -o ps` columns, then the extra `-o wide` columns. */
  columns: readonly Column[];
  wide: readonly Column[];
}

type Column = readonly [header: string, value: (v: Record<string, unknown>) => string];

const meta = (v: Record<string, unknown>, k: string): string => str(field(v, 'metadata', k));
const spec = (v: Record<string, unknown>, k: string): string => str(field(v, 'spec', k));
const NAME: Column = ['NAME', (v) => meta(v, 'name')];

/** Same names (and short names) as calicoctl's resource manager; `gns` is an nfqwall extra. */
const KINDS: readonly KindInfo[] = [
  { kind: 'GlobalNetworkPolicy', names: ['globalnetworkpolicy', 'globalnetworkpolicies', 'gnp', 'gnps'], columns: [NAME], wide: [['ORDER', (v) => spec(v, 'order')], ['SELECTOR', (v) => spec(v, 'selector')]] },
  { kind: 'HostEndpoint', names: ['hostendpoint', 'hostendpoints', 'hep', 'heps'], columns: [NAME, ['NODE', (v) => spec(v, 'node')]], wide: [['INTERFACE', (v) => spec(v, 'interfaceName')], ['IPS', (v) => spec(v, 'expectedIPs')], ['PROFILES', (v) => spec(v, 'profiles')]] },
  { kind: 'GlobalNetworkSet', names: ['globalnetworkset', 'globalnetworksets', 'gnetsets', 'gns'], columns: [NAME], wide: [['NETS', (v) => spec(v, 'nets')]] },
  { kind: 'Tier', names: ['tier', 'tiers'], columns: [NAME, ['ORDER', (v) => spec(v, 'order')]], wide: [] },
  { kind: 'Profile', names: ['profile', 'profiles', 'pro', 'pros'], columns: [NAME], wide: [['LABELS', (v) => spec(v, 'labelsToApply')]] },
  { kind: 'FelixConfiguration', names: ['felixconfiguration', 'felixconfigurations', 'felixconfig', 'felixconfigs'], columns: [NAME], wide: [] },
  {
    kind: 'WorkloadEndpoint',
    names: ['workloadendpoint', 'workloadendpoints', 'wep', 'weps'],
    columns: [['NAMESPACE', (v) => meta(v, 'namespace') || 'default'], NAME, ['NODE', (v) => spec(v, 'node')], ['NETWORKS', (v) => spec(v, 'ipNetworks')], ['INTERFACE', (v) => spec(v, 'interfaceName')]],
    wide: [['PROFILES', (v) => spec(v, 'profiles')]],
  },
];

/** The kind a command-line word names (`hep`, `GlobalNetworkPolicies`, ...), or undefined. */
export function kindFromWord(word: string): SupportedKind | undefined {
  const w = word.toLowerCase();
  return KINDS.find((k) => k.names.includes(w))?.kind;
}

/** Every accepted word, for help and error messages. */
export function kindWords(): string {
  return KINDS.map((k) => k.names.join('/')).join(', ');
}

/** Lower-case kind: the etcd key segment and the file name prefix. */
export function kindSegment(kind: SupportedKind): string {
  return kind.toLowerCase();
}

export function kindFromSegment(segment: string): SupportedKind | undefined {
  return SUPPORTED_KINDS.find((k) => k.toLowerCase() === segment);
}

export function tableColumns(kind: SupportedKind, wide: boolean): readonly Column[] {
  const info = KINDS.find((k) => k.kind === kind);
  if (!info) return [NAME];
  return wide ? [...info.columns, ...info.wide] : info.columns;
}

/** The identity of a raw document, or undefined when kind or name is missing or not a string. */
export function refOf(value: unknown): ResourceRef | undefined {
  if (!isRecord(value)) return undefined;
  const kind = value['kind'];
  if (typeof kind !== 'string' || !(SUPPORTED_KINDS as readonly string[]).includes(kind)) return undefined;
  const m = value['metadata'];
  if (!isRecord(m)) return undefined;
  const name = m['name'];
  if (typeof name !== 'string' || name === '') return undefined;
  if (kind !== 'WorkloadEndpoint') return { kind: kind as SupportedKind, name };
  const ns = m['namespace'];
  return { kind: 'WorkloadEndpoint', name, namespace: typeof ns === 'string' && ns !== '' ? ns : 'default' };
}

export function sameRef(a: ResourceRef, b: ResourceRef): boolean {
  return a.kind === b.kind && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '');
}

/** Map key: `HostEndpoint/eth0`, `WorkloadEndpoint/ns/name`. */
export function refId(r: ResourceRef): string {
  return r.namespace !== undefined ? `${r.kind}/${r.namespace}/${r.name}` : `${r.kind}/${r.name}`;
}

/** As calicoctl prints it: `GlobalNetworkPolicy(allow-ssh)`, `WorkloadEndpoint(ns/name)`. */
export function describeRef(r: ResourceRef): string {
  return `${r.kind}(${r.namespace !== undefined ? `${r.namespace}/` : ''}${r.name})`;
}

/**
 * The user's document in calicoctl's field order: apiVersion, kind, metadata, spec, then anything
 * else as written. Values are not touched.
 */
export function calicoShape(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ['apiVersion', 'kind', 'metadata', 'spec']) if (Object.hasOwn(value, k)) out[k] = value[k];
  for (const [k, v] of Object.entries(value)) if (!Object.hasOwn(out, k)) out[k] = v;
  return out;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field(v: Record<string, unknown>, section: string, key: string): unknown {
  const s = v[section];
  return isRecord(s) ? s[key] : undefined;
}

function str(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map(str).join(',');
  if (isRecord(v)) return Object.entries(v).map(([k, x]) => `${k}=${str(x)}`).join(',');
  return String(v);
}
