/**
 * The store as a list of sources (files or etcd keys), each with its parsed documents and the
 * problems found reading it; validation of such a list is the same for every datastore, and
 * the same as `loadResourceDir`.
 */
import { validateDocuments, type RawDocument, type SupportedKind, type ResourceSet } from '../config';
import { sortIssues } from '../config/load';
import type { Issue } from '../errors';
import { DS } from './codes';
import { describeRef, refOf, type ResourceRef } from './kinds';
import type { ChangeResult, StoredResource } from './types';

export interface SourceEntry {
  /** File path or etcd key; issues name it as their `file`. */
  readonly name: string;
  readonly documents: readonly RawDocument[];
  /** Problems found reading this source (YAML syntax, key layout). */
  readonly issues: readonly Issue[];
}

export interface EntriesValidation {
  resources: ResourceSet;
  issues: Issue[];
  files: string[];
  counts: Record<SupportedKind, number>;
  ok: boolean;
}

/** Validate every document of every entry together, as one policy directory. */
export function validateEntries(entries: readonly SourceEntry[], options: { nodeName?: string; extraIssues?: readonly Issue[] } = {}): EntriesValidation {
  const docs: RawDocument[] = [];
  const readIssues: Issue[] = [...(options.extraIssues ?? [])];
  for (const e of entries) {
    for (const d of e.documents) docs.push(d);
    for (const i of e.issues) readIssues.push(i);
  }
  const v = validateDocuments(docs, options.nodeName !== undefined ? { nodeName: options.nodeName } : {});
  const files = entries.map((e) => e.name);
  const issues = sortIssues([...readIssues, ...v.issues], files);
  return { resources: v.resources, issues, files, counts: v.counts, ok: !issues.some((i) => i.severity === 'error') };
}

/** The stored resources of `entries` (documents without a usable kind/name are left out). */
export function storedResources(entries: readonly SourceEntry[]): StoredResource[] {
  const out: StoredResource[] = [];
  for (const e of entries) {
    for (const d of e.documents) {
      const ref = refOf(d.value);
      if (ref) out.push({ ref, value: d.value as Record<string, unknown>, source: e.name });
    }
  }
  return out;
}

/**
 * Calico refuses to delete a tier while a policy names it. `remaining` is the store after the
 * deletion; one error per tier still in use, located where the tier is stored.
 */
export function tierInUseIssues(tiers: readonly { ref: ResourceRef; doc: RawDocument | undefined; source: string }[], remaining: readonly SourceEntry[]): Issue[] {
  const issues: Issue[] = [];
  for (const t of tiers) {
    const users: string[] = [];
    for (const e of remaining) {
      for (const d of e.documents) {
        const ref = refOf(d.value);
        if (ref?.kind !== 'GlobalNetworkPolicy') continue;
        const spec = (d.value as Record<string, unknown>)['spec'];
        const tier = typeof spec === 'object' && spec !== null ? (spec as Record<string, unknown>)['tier'] : undefined;
        if (tier === t.ref.name) users.push(ref.name);
      }
    }
    if (users.length === 0) continue;
    const shown = users.slice(0, 5).join(', ') + (users.length > 5 ? ` and ${users.length - 5} more` : '');
    issues.push({
      code: DS.TIER_IN_USE,
      message: `cannot delete ${describeRef(t.ref)}: ${users.length === 1 ? 'policy' : `${users.length} policies`} still in this tier (${shown}); delete or move ${users.length === 1 ? 'it' : 'them'} first`,
      location: t.doc ? t.doc.locate(['metadata', 'name']) : { file: t.source, line: 1 },
      severity: 'error',
    });
  }
  return issues;
}

/** A refused change (the caller fills in what it did when it succeeds). */
export function emptyResult(issues: Issue[]): ChangeResult {
  return { ok: false, issues, created: [], replaced: [], deleted: [], notFound: [], revision: null };
}

/** calicoctl's wording: `resource does not exist: Tier(x)`. */
export function notFoundIssue(ref: ResourceRef, where: string): Issue {
  return { code: DS.NOT_FOUND, message: `resource does not exist: ${describeRef(ref)}`, location: { file: where, line: 0 }, severity: 'error' };
}
