/**
 * Loading what offline commands need: a policy directory and a host model file. Prints every
 * problem (file, line, field, code) to stderr and returns null when the inputs are unusable.
 */
import { readFileSync } from 'node:fs';
import { loadResourceDir, nodeLocation, parseSingleYamlDocument, yamlToJS } from '../src/config';
import type { ResourceSet } from '../src/config/resources';
import { formatIssue } from '../src/errors';
import type { HostModel } from '../src/engine/host-model';
import { hostModelFromData } from '../src/engine/host-model-load';

export async function loadPolicyDir(dir: string): Promise<ResourceSet | null> {
  const r = await loadResourceDir(dir);
  let bad = false;
  for (const i of r.issues) {
    process.stderr.write(`${formatIssue(i)}\n`);
    if (i.severity === 'error') bad = true;
  }
  return bad ? null : r.resources;
}

export function loadHostFile(file: string): HostModel | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    process.stderr.write(`${file}: cannot read host model: ${(err as Error).message}\n`);
    return null;
  }
  // Within the policy loader's limits: a host file is user input too.
  const { doc, lineCounter, issues } = parseSingleYamlDocument(text, file);
  for (const i of issues) process.stderr.write(`${formatIssue(i)}\n`);
  if (issues.length > 0) return null;
  if (doc.errors.length > 0) {
    for (const e of doc.errors) process.stderr.write(`${file}:${e.linePos?.[0]?.line ?? 1}: ${e.message}\n`);
    return null;
  }
  let data: unknown = null;
  if (doc.contents) {
    const js = yamlToJS(doc.contents, doc, nodeLocation(file, lineCounter, doc.contents));
    if ('issue' in js) {
      process.stderr.write(`${formatIssue(js.issue)}\n`);
      return null;
    }
    data = js.value;
  }
  // Accept a conformance case file's `envs` map too: take its only (or first) entry.
  if (data && typeof data === 'object' && 'envs' in (data as object)) {
    const envs = (data as { envs: Record<string, unknown> }).envs;
    data = Object.values(envs)[0];
  }
  const r = hostModelFromData(data);
  if (!r.ok) {
    for (const e of r.errors) process.stderr.write(`${file}: ${e}\n`);
    return null;
  }
  return r.host;
}
