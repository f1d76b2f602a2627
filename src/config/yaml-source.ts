/**
 * YAML text -> raw resource documents that remember where every field was written.
 *
 * Parsing uses `yaml` v2 (YAML 1.2 core schema: `yes`/`on` are strings, `1024:2048` is a string)
 * with a LineCounter, so any field path can be mapped back to a line and column. A file may hold
 * several `---` documents; a document may also be a `kind: List` (or `<Kind>List`, as
 * `calicoctl get -o yaml` prints) or a bare YAML sequence of resources, as calicoctl accepts.
 * Each list item becomes its own RawDocument whose paths start with `items[i]`.
 *
 * Safety: size, nesting, duplicate-key and alias limits are those of yaml-limits.ts.
 */
import { Document, isAlias, isCollection, isMap, isScalar, isSeq, LineCounter, Scalar } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import type { Issue, SourceLocation } from '../errors';
import { CFG } from './issue-codes';
import { aliasWork, aliasWorkIssue, DEFAULT_MAX_ALIAS_COUNT, MAX_ALIAS_WORK, parseYamlText, yamlToJS, type YamlSourceOptions } from './yaml-limits';

export { DEFAULT_MAX_ALIAS_COUNT, DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_FLOW_DEPTH, type YamlSourceOptions } from './yaml-limits';

/** A field path inside a document: map keys and sequence indexes, e.g. ['spec', 'ingress', 0, 'action']. */
export type FieldPath = readonly (string | number)[];

export interface LocateOptions {
  /** Point at the key of the last path element (for unknown fields) instead of its value. */
  key?: boolean;
  /**
   * 0-based character index inside a string value. Mapped to a column when the scalar is written
   * on one line in a form whose characters map one to one (plain, or quoted without escapes);
   * otherwise the scalar's start is used.
   */
  offset?: number;
}

/** One resource as written, before validation. */
export interface RawDocument {
  /** Plain JS data (maps are objects, sequences arrays). */
  readonly value: unknown;
  /** File name as given to the parser (used verbatim in issues). */
  readonly file: string;
  /**
   * Where the field at `path` (relative to this resource) was written. When the path does not
   * exist, falls back to the nearest existing parent (its key line, where the missing field
   * belongs). `location.path` is the full display path, e.g. `items[2].spec.ingress[0].action`.
   */
  locate(path: FieldPath, options?: LocateOptions): SourceLocation;
}

export interface ParsedDocuments {
  documents: RawDocument[];
  issues: Issue[];
}

const API_VERSION = 'projectcalico.org/v3';
/** Typed list kinds calicoctl prints and accepts (`HostEndpointList`, ...). */
const TYPED_LIST_KINDS = new Set([
  'GlobalNetworkPolicyList',
  'HostEndpointList',
  'WorkloadEndpointList',
  'GlobalNetworkSetList',
  'TierList',
  'ProfileList',
  'FelixConfigurationList',
]);

/** `spec.ingress[0].destination.ports[1]`; keys that are not identifiers are quoted: `labels["a/b"]`. */
export function formatFieldPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Parse every document of one YAML text. Never throws; problems come back as issues. */
export function parseYamlDocuments(text: string, file: string, options: YamlSourceOptions = {}): ParsedDocuments {
  const { docs, lineCounter, issues } = parseYamlText(text, file, options);
  if (issues.length > 0) return { documents: [], issues };

  const documents: RawDocument[] = [];
  // One budget for the whole file: many documents each just under the limit must not add up.
  let aliasWorkLeft = MAX_ALIAS_WORK;
  for (const doc of docs) {
    let broken = false;
    const reported = new Set<number>();
    for (const e of doc.errors) {
      broken = true;
      // The parser often adds follow-up errors at the same spot; the first one says it best.
      if (reported.has(e.pos[0])) continue;
      reported.add(e.pos[0]);
      const lp = lineCounter.linePos(e.pos[0]);
      issues.push({
        code: CFG.YAML_SYNTAX,
        message: `YAML syntax error: ${firstLine(e.message)}`,
        location: { file, line: lp.line, column: lp.col },
        severity: 'error',
      });
    }
    for (const w of doc.warnings) {
      const lp = lineCounter.linePos(w.pos[0]);
      issues.push({
        code: CFG.YAML_WARNING,
        message: `YAML: ${firstLine(w.message)}`,
        location: { file, line: lp.line, column: lp.col },
        severity: 'warning',
      });
    }
    // A broken document is skipped: validating half-parsed data would only add noise.
    if (broken || doc.contents === null) continue;
    const sub = rawDocumentsFromNode(doc.contents, lineCounter, file, { doc, maxAliasCount: options.maxAliasCount, aliasWorkLimit: aliasWorkLeft });
    const work = aliasWork(doc, doc.contents);
    if (work <= aliasWorkLeft) aliasWorkLeft -= work;
    documents.push(...sub.documents);
    issues.push(...sub.issues);
  }
  return { documents, issues };
}

export interface NodeSourceOptions {
  /** The Document the node belongs to; needed to resolve aliases. */
  doc?: Document;
  /** Display prefix for every path (e.g. ['cases', 3, 'resources', 0]). */
  pathPrefix?: FieldPath;
  maxAliasCount?: number;
  /** Alias resolution steps allowed (see aliasWork); default MAX_ALIAS_WORK. */
  aliasWorkLimit?: number;
}

/**
 * RawDocuments from an already-parsed yaml node (for resources embedded in a larger YAML file,
 * e.g. a conformance case). Lists and sequences expand into one document per item; an empty
 * (null) node yields none.
 */
export function rawDocumentsFromNode(
  node: YamlNode,
  lineCounter: LineCounter,
  file: string,
  options: NodeSourceOptions = {},
): ParsedDocuments {
  const issues: Issue[] = [];
  const documents: RawDocument[] = [];
  const doc = options.doc ?? new Document();
  const prefix = options.pathPrefix ?? [];
  const base = makeRawDocument(undefined, node, lineCounter, file, prefix);
  const tooMuch = aliasWorkIssue(options.doc ?? doc, options.doc?.contents ?? node, base.locate([]), options.aliasWorkLimit ?? MAX_ALIAS_WORK);
  if (tooMuch) return { documents, issues: [tooMuch] };
  const js = yamlToJS(node, doc, base.locate([]), options.maxAliasCount ?? DEFAULT_MAX_ALIAS_COUNT);
  if ('issue' in js) return { documents, issues: [js.issue] };
  const value = js.value;
  if (value === null || value === undefined) return { documents, issues };

  if (Array.isArray(value)) {
    // calicoctl accepts a top-level sequence of resources.
    value.forEach((item, i) => documents.push(makeRawDocument(item, node, lineCounter, file, prefix, [i])));
    return { documents, issues };
  }
  const kind = isRecord(value) && Object.hasOwn(value, 'kind') ? value['kind'] : undefined;
  if (isRecord(value) && typeof kind === 'string' && (kind === 'List' || TYPED_LIST_KINDS.has(kind))) {
    expandList(value, kind, node, lineCounter, file, prefix, documents, issues);
    return { documents, issues };
  }
  documents.push(makeRawDocument(value, node, lineCounter, file, prefix));
  return { documents, issues };
}

function expandList(
  value: Record<string, unknown>,
  kind: string,
  node: YamlNode,
  lineCounter: LineCounter,
  file: string,
  prefix: FieldPath,
  documents: RawDocument[],
  issues: Issue[],
): void {
  const list = makeRawDocument(value, node, lineCounter, file, prefix);
  const err = (path: FieldPath, code: string, message: string, key = false): void => {
    issues.push({ code, message, location: list.locate(path, { key }), severity: 'error' });
  };
  const apiVersion = value['apiVersion'];
  // Generic Lists come from kubectl (`v1`) or calicoctl (`projectcalico.org/v3`).
  const okVersions = kind === 'List' ? [API_VERSION, 'v1'] : [API_VERSION];
  if (typeof apiVersion !== 'string' || !okVersions.includes(apiVersion)) {
    err(['apiVersion'], CFG.API_VERSION, `apiVersion of a ${kind} must be ${okVersions.map((v) => `'${v}'`).join(' or ')}`);
  }
  for (const key of Object.keys(value)) {
    if (!['apiVersion', 'kind', 'metadata', 'items'].includes(key)) {
      err([key], CFG.UNKNOWN_FIELD, `unknown field "${key}" in ${kind} (allowed: apiVersion, kind, metadata, items)`, true);
    }
  }
  const items = Object.hasOwn(value, 'items') ? value['items'] : undefined;
  if (items === undefined || items === null) return; // an empty list is fine
  if (!Array.isArray(items)) {
    err(['items'], CFG.NOT_A_RESOURCE, `items of a ${kind} must be a sequence of resources`);
    return;
  }
  const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
  items.forEach((item, i) => {
    let v: unknown = item;
    if (itemKind !== undefined && isRecord(item)) {
      // Items of a typed list may omit their own kind/apiVersion (Go unmarshals them into the typed slice).
      if (!Object.hasOwn(item, 'kind')) v = { ...item, kind: itemKind };
      if (!Object.hasOwn(item, 'apiVersion')) v = { ...(v as object), apiVersion: API_VERSION };
      const k = (v as Record<string, unknown>)['kind'];
      if (k !== itemKind) {
        err(['items', i, 'kind'], CFG.KIND_UNKNOWN, `a ${kind} can only hold ${itemKind} items, not ${JSON.stringify(k)}`);
        return;
      }
    }
    documents.push(makeRawDocument(v, node, lineCounter, file, prefix, ['items', i]));
  });
}

function makeRawDocument(
  value: unknown,
  root: YamlNode,
  lineCounter: LineCounter,
  file: string,
  displayPrefix: FieldPath,
  nodePrefix: FieldPath = [],
): RawDocument {
  return {
    value,
    file,
    locate(path: FieldPath, options: LocateOptions = {}): SourceLocation {
      const full = [...nodePrefix, ...path];
      const pos = locateInNode(root, lineCounter, full, options);
      const display = formatFieldPath([...displayPrefix, ...full]);
      const loc: SourceLocation = { file, line: pos.line };
      if (pos.col !== undefined) loc.column = pos.col;
      if (display !== '') loc.path = display;
      return loc;
    },
  };
}

interface LinePos {
  line: number;
  col?: number;
}

function locateInNode(root: YamlNode, lc: LineCounter, path: FieldPath, options: LocateOptions): LinePos {
  let cur: unknown = root;
  let keyNode: YamlNode | undefined; // key of the last map step that was found
  let found = 0;
  for (const seg of path) {
    // Aliased content lives elsewhere; the alias itself is the useful place to point at.
    if (isAlias(cur)) break;
    let next: unknown;
    let nextKey: YamlNode | undefined;
    if (isMap(cur) && typeof seg === 'string') {
      const pair = cur.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
      if (pair) {
        next = pair.value ?? undefined;
        nextKey = pair.key as YamlNode;
        // `key:` with nothing after it has no value node; the key is the place.
        if (next === undefined) {
          keyNode = nextKey;
          found++;
          cur = undefined;
          break;
        }
      }
    } else if (isSeq(cur) && typeof seg === 'number') {
      next = cur.items[seg];
    }
    if (next === undefined || next === null) break;
    cur = next;
    keyNode = nextKey;
    found++;
  }
  const complete = found === path.length;
  const node = cur as YamlNode | undefined;
  if (complete && node && !options.key && !(isCollection(node) && !node.flow && keyNode)) {
    return nodePosition(node, lc, options.offset);
  }
  if (keyNode?.range) return toPos(lc, keyNode.range[0]);
  if (node?.range) return toPos(lc, node.range[0]);
  return root.range ? toPos(lc, root.range[0]) : { line: 1 };
}

function nodePosition(node: YamlNode, lc: LineCounter, offset: number | undefined): LinePos {
  if (!node.range) return { line: 1 };
  const start = node.range[0];
  if (offset === undefined || !isScalar(node) || typeof node.value !== 'string') return toPos(lc, start);
  const col = scalarColumnShift(node, lc, offset);
  const p = toPos(lc, start);
  return col === undefined ? p : { line: p.line, col: (p.col ?? 1) + col };
}

/** Column shift of character `offset` of a one-line scalar relative to its start, or undefined. */
function scalarColumnShift(node: Scalar, lc: LineCounter, offset: number): number | undefined {
  const value = node.value as string;
  const [start, end] = node.range ?? [0, 0];
  if (lc.linePos(start).line !== lc.linePos(end).line || offset < 0 || offset > value.length) return undefined;
  const width = end - start;
  switch (node.type) {
    case Scalar.PLAIN:
      return width === value.length ? offset : undefined;
    case Scalar.QUOTE_DOUBLE:
      return width === value.length + 2 ? offset + 1 : undefined;
    case Scalar.QUOTE_SINGLE: {
      // '' inside single quotes stands for one quote character.
      const quotes = (value.match(/'/g) ?? []).length;
      if (width !== value.length + 2 + quotes) return undefined;
      const before = (value.slice(0, offset).match(/'/g) ?? []).length;
      return offset + 1 + before;
    }
    default:
      return undefined;
  }
}

function toPos(lc: LineCounter, offset: number): LinePos {
  const p = lc.linePos(offset);
  return { line: p.line, col: p.col };
}

function firstLine(message: string): string {
  const nl = message.indexOf('\n');
  return (nl < 0 ? message : message.slice(0, nl)).replace(/:$/, '');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
