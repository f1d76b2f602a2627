/**
 * Conformance case files (format: test/conformance/README.md): parse, and turn each case into the
 * engine's inputs. Pure: the caller reads the file. Resources go through the same validator as a
 * policy directory, with line numbers inside the case file.
 */
import { isMap, isSeq, type Node as YamlNode, type YAMLMap } from 'yaml';
import type { ResourceSet } from '../config/resources';
import { nodeLocation, parseSingleYamlDocument, rawDocumentsFromNode, validateDocuments, yamlToJS } from '../config';
import type { Issue } from '../errors';
import { formatIssue } from '../errors';
import type { HostModel } from '../engine/host-model';
import { hostModelFromData } from '../engine/host-model-load';
import { factsFromDescription } from '../engine/packet-description';
import type { PacketFacts } from '../engine/packet-facts';

export interface ConformanceCase {
  id: string;
  title: string;
  line: number;
  optional: boolean;
  expect: 'allow' | 'deny';
  /** Ready inputs, or the reasons the case cannot run (counted as a failure). */
  inputs: { resources: ResourceSet; host: HostModel; facts: PacketFacts } | { errors: string[] };
}

export interface CaseFile {
  cases: ConformanceCase[];
  /** Problems with the file itself (not with one case). */
  errors: string[];
}

function nodeAt(map: YAMLMap, key: string): YamlNode | null {
  const n = map.get(key, true) as YamlNode | undefined;
  return n ?? null;
}

export function parseCaseFile(text: string, file: string): CaseFile {
  // Within the policy loader's size, nesting, duplicate-key and alias limits.
  const { doc, lineCounter, issues } = parseSingleYamlDocument(text, file);
  if (issues.length > 0) return { cases: [], errors: issues.map(formatIssue) };
  const errors: string[] = doc.errors.map((e) => `${file}:${e.linePos?.[0]?.line ?? 1}: ${e.message}`);
  if (errors.length > 0 || !isMap(doc.contents)) return { cases: [], errors: errors.length ? errors : [`${file}: not a mapping with envs and cases`] };
  const root = doc.contents;
  const envsNode = nodeAt(root, 'envs');
  // Aliases are expanded within the limits (yaml's toJSON would leave them as {source} objects).
  const envsJs = envsNode ? yamlToJS(envsNode, doc, nodeLocation(file, lineCounter, envsNode)) : { value: {} };
  if ('issue' in envsJs) return { cases: [], errors: [formatIssue(envsJs.issue)] };
  const envs = (typeof envsJs.value === 'object' && envsJs.value !== null ? envsJs.value : {}) as Record<string, unknown>;
  const casesNode = nodeAt(root, 'cases');
  if (!casesNode || !isSeq(casesNode)) return { cases: [], errors: [`${file}: no 'cases' list`] };
  const hosts = new Map<string, { host: HostModel } | { errors: string[] }>();
  const cases: ConformanceCase[] = [];
  casesNode.items.forEach((item, index) => {
    const line = item && (item as YamlNode).range ? lineCounter.linePos((item as YamlNode).range![0]).line : 1;
    if (!isMap(item)) {
      errors.push(`${file}:${line}: cases[${index}] is not a mapping`);
      return;
    }
    const js = yamlToJS(item, doc, nodeLocation(file, lineCounter, item));
    if ('issue' in js) {
      errors.push(formatIssue(js.issue));
      return;
    }
    const plain = js.value as Record<string, unknown>;
    const id = typeof plain.id === 'string' ? plain.id : `cases[${index}]`;
    const caseErrors: string[] = [];
    const expect = plain.expect;
    if (expect !== 'allow' && expect !== 'deny') caseErrors.push(`${file}:${line}: ${id}: expect must be allow or deny`);
    // Host model
    const envName = typeof plain.env === 'string' ? plain.env : '';
    let host = hosts.get(envName);
    if (!host) {
      const r = hostModelFromData(envs[envName]);
      host = r.ok ? { host: r.host } : { errors: r.errors.map((e) => `${file}: envs.${envName}: ${e}`) };
      if (!(envName in envs)) host = { errors: [`${file}:${line}: ${id}: unknown env '${envName}'`] };
      hosts.set(envName, host);
    }
    if ('errors' in host) caseErrors.push(...host.errors);
    // Resources, validated exactly like a policy directory
    let resources: ResourceSet | null = null;
    const resNode = nodeAt(item, 'resources');
    if (resNode) {
      const raw = rawDocumentsFromNode(resNode, lineCounter, file, { doc, pathPrefix: ['cases', index, 'resources'] });
      const v = validateDocuments(raw.documents);
      const problems: Issue[] = [...raw.issues, ...v.issues].filter((i) => i.severity === 'error');
      if (problems.length > 0) caseErrors.push(...problems.map(formatIssue));
      else resources = v.resources;
    } else caseErrors.push(`${file}:${line}: ${id}: no resources`);
    // Packet
    const pk = factsFromDescription(plain.packet);
    if (!pk.ok) caseErrors.push(...pk.errors.map((e) => `${file}:${line}: ${id}: packet.${e}`));
    cases.push({
      id,
      title: typeof plain.title === 'string' ? plain.title : '',
      line,
      optional: plain.optional === true,
      expect: expect === 'allow' ? 'allow' : 'deny',
      inputs:
        caseErrors.length === 0 && resources && pk.ok && 'host' in host
          ? { resources, host: host.host, facts: pk.facts }
          : { errors: caseErrors },
    });
  });
  return { cases, errors };
}
