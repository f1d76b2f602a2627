/** Builders for config tests: resources as JS objects, validated through the real YAML path. */
import { strict as assert } from 'node:assert';
import { stringify } from 'yaml';
import type { Issue } from '../../src/errors';
import { parseYamlDocuments, validateDocuments, type ValidateOptions, type ValidationResult } from '../../src/config';

export const V3 = 'projectcalico.org/v3';

export function resource(kind: string, name: string, spec?: unknown, metadata: Record<string, unknown> = {}): Record<string, unknown> {
  const r: Record<string, unknown> = { apiVersion: V3, kind, metadata: { name, ...metadata } };
  if (spec !== undefined) r['spec'] = spec;
  return r;
}

export const gnp = (spec: unknown, name = 'p'): Record<string, unknown> => resource('GlobalNetworkPolicy', name, spec);
export const hep = (spec: unknown, name = 'h', metadata: Record<string, unknown> = {}): Record<string, unknown> =>
  resource('HostEndpoint', name, spec, metadata);
/** A policy with one ingress rule. */
export const ingressRule = (rule: unknown): Record<string, unknown> => gnp({ ingress: [rule] });

export interface Run extends ValidationResult {
  /** Parse and validation issues together. */
  all: Issue[];
  errors: Issue[];
  warnings: Issue[];
}

/** YAML text of several resources (one document each). */
export function yamlOf(...objs: unknown[]): string {
  return objs.map((o) => stringify(o)).join('---\n');
}

export function runYaml(text: string, options: ValidateOptions = {}, file = 'test.yaml'): Run {
  const parsed = parseYamlDocuments(text, file);
  const v = validateDocuments(parsed.documents, options);
  const all = [...parsed.issues, ...v.issues];
  return { ...v, all, errors: all.filter((i) => i.severity === 'error'), warnings: all.filter((i) => i.severity === 'warning') };
}

export function run(...objs: unknown[]): Run {
  return runYaml(yamlOf(...objs));
}

/** `CODE@path` of every issue (sorted), for compact assertions. */
export function summary(issues: readonly Issue[]): string[] {
  return issues.map((i) => `${i.code}@${i.location.path ?? ''}`).sort();
}

/** Assert the exact set of issues as `CODE@path` strings. */
export function assertIssues(issues: readonly Issue[], expected: readonly string[]): void {
  assert.deepEqual(summary(issues), [...expected].sort(), issues.map((i) => `${i.code} ${i.location.path}: ${i.message}`).join('\n'));
}
