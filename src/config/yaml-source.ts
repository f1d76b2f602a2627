/**
 * YAML text -> raw resource documents that remember where every field was written.
 *
 * Parsing uses `yaml` v2 (YAML 1.2 core schema: `yes`/`on` are strings, `1024:2048` is a string)
 * with a LineCounter, so any field path can be mapped back to a line and column. A file may hold
 * several `---` documents; a document may also be a `kind: List` (or `<Kind>List`, as
 * `calicoctl get -o yaml` prints) or a bare YAML sequence of resources, as calicoctl accepts.
 * Each list item becomes its own RawDocument whose paths start with `items[i]`.
 *
 * Safety: inputs over `maxBytes` are refused, alias expansion is capped (`maxAliasCount`, the
 * "billion laughs" guard of the yaml package), and nesting (flow `[`/`{` and block indentation,
 * e.g. `- - - - x`) is capped before parsing. yaml composes recursively: deep nesting overflows
 * the stack, and once that has happened V8 may abort the whole process on a later regexp
 * compilation (an abort that no try/catch can stop), so the parser must never get that deep.
 */
import { Document, isAlias, isCollection, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, Scalar, YAMLParseError } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import type { Issue, SourceLocation } from '../errors';
import { CFG } from './issue-codes';

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

export interface YamlSourceOptions {
  /** Refuse texts larger than this many bytes (UTF-8). Default 4 MiB. */
  maxBytes?: number;
  /** Alias expansion budget passed to yaml's toJS. Default 1000 (yaml's own default, 100, trips on a rule anchor reused ~100 times). */
  maxAliasCount?: number;
  /**
   * Refuse texts nested deeper than this: `[`/`{` depth plus the block indentation (leading
   * spaces and `-`/`?`/`:` indicators) of the line where the flow starts. Default 256.
   */
  maxFlowDepth?: number;
}

export const DEFAULT_MAX_FILE_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_ALIAS_COUNT = 1000;
/** Far above real resources (about 10 levels), far below where the parser overflows the stack (about 900). */
export const DEFAULT_MAX_FLOW_DEPTH = 256;

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
  const issues: Issue[] = [];
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) {
    issues.push(fileIssue(file, CFG.FILE_TOO_LARGE, `file is ${size} bytes, more than the limit of ${maxBytes} bytes; split it into several files`));
    return { documents: [], issues };
  }
  const depth = nestingDepth(text);
  const maxDepth = options.maxFlowDepth ?? DEFAULT_MAX_FLOW_DEPTH;
  if (depth.depth > maxDepth) {
    const before = text.slice(0, depth.offset);
    const line = before.split('\n').length;
    const column = depth.offset - before.lastIndexOf('\n');
    issues.push({
      code: CFG.YAML_LIMIT,
      message: `nested more than ${maxDepth} levels deep ('[' / '{' or indentation); refusing to parse this file`,
      location: { file, line, column },
      severity: 'error',
    });
    return { documents: [], issues };
  }

  const lineCounter = new LineCounter();
  let docs: Document.Parsed[];
  try {
    // Duplicate keys are checked below: yaml's own check (uniqueKeys: true) compares every key
    // with every earlier key of its map, so 100 000 keys in one map took minutes.
    const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
    // parseAllDocuments returns an EmptyStream (array-like, no documents) for empty input.
    docs = Array.isArray(parsed) ? parsed : [];
    for (const doc of docs) addDuplicateKeyErrors(doc);
  } catch (err) {
    // The parser is recursive; absurd nesting can overflow the stack.
    issues.push(fileIssue(file, CFG.YAML_LIMIT, `YAML could not be parsed: ${(err as Error).message}`));
    return { documents: [], issues };
  }

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
  const work = aliasWork(options.doc ?? doc, options.doc?.contents ?? node);
  const workLimit = options.aliasWorkLimit ?? MAX_ALIAS_WORK;
  if (work > workLimit) {
    issues.push({
      code: CFG.YAML_LIMIT,
      message: `YAML aliases could not be expanded: resolving them would take ${work.toExponential(1)} steps (${workLimit === MAX_ALIAS_WORK ? 'limit' : 'left in this file'} ${workLimit.toExponential(1)}); use fewer anchors and aliases`,
      location: base.locate([]),
      severity: 'error',
    });
    return { documents, issues };
  }
  let value: unknown;
  // yaml reports a collection used as a map key with process.emitWarning (stderr noise in a
  // daemon); such a key is stringified and then fails validation as an unknown field anyway.
  const logLevel = doc.options.logLevel;
  doc.options.logLevel = 'error';
  try {
    value = node.toJS(doc, { maxAliasCount: options.maxAliasCount ?? DEFAULT_MAX_ALIAS_COUNT });
  } catch (err) {
    // Excessive alias expansion (ReferenceError from yaml) or an unresolvable alias.
    issues.push({
      code: CFG.YAML_LIMIT,
      message: `YAML aliases could not be expanded: ${(err as Error).message}`,
      location: base.locate([]),
      severity: 'error',
    });
    return { documents, issues };
  } finally {
    doc.options.logLevel = logLevel;
  }
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

/**
 * The error yaml's uniqueKeys check would have raised (same code, message and position), found
 * in linear time: scalar keys of one map are equal when their values are (===, so NaN keys never
 * are). Iterative, since the tree may be deep.
 */
function addDuplicateKeyErrors(doc: Document.Parsed): void {
  const found: YAMLParseError[] = [];
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = pair.key;
        if (isScalar(key) && !(typeof key.value === 'number' && Number.isNaN(key.value))) {
          if (seen.has(key.value)) {
            const at = key.range?.[0] ?? 0;
            found.push(new YAMLParseError([at, at + 1], 'DUPLICATE_KEY', 'Map keys must be unique'));
          } else seen.add(key.value);
        }
        stack.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    } else if (isPair(node)) {
      stack.push(node.key, node.value);
    }
  }
  if (found.length === 0) return;
  doc.errors.push(...found);
  doc.errors.sort((a, b) => a.pos[0] - b.pos[0]);
}

/** Per file, a fraction of a second of yaml's alias resolution; real resources need far less. */
const MAX_ALIAS_WORK = 5_000_000;
const aliasWorkCache = new WeakMap<object, number>();

/**
 * Steps yaml will take to resolve the aliases when converting `root` of `doc` to JS, which is
 * super-linear in two ways: each alias scans the list of anchors and aliases before it
 * (A^2 / 2 for A of them), and its alias-count check sizes an aliased anchor by resolving each
 * alias inside it without that list, walking the whole document each time (aliases inside the
 * target x nodes, for every use when the count stays 0, as with an anchor that aliases itself;
 * a walk costs each node its depth, as it copies the path). 80 000 distinct anchors took
 * minutes, 1 000 self-references in 4 KB close to a minute.
 * Counted here in two linear passes, iteratively (the tree may be deep); cached per document.
 */
function aliasWork(doc: object, root: unknown): number {
  const cached = aliasWorkCache.get(doc);
  if (cached !== undefined) return cached;
  const children = (n: unknown): unknown[] => {
    if (isMap(n) || isSeq(n)) return n.items as unknown[];
    if (isPair(n)) return [n.key, n.value];
    return [];
  };
  // Pre-order, as yaml visits: an alias refers to the last node with its anchor before it.
  const order: unknown[] = [];
  const lastAnchored = new Map<string, unknown>();
  const targets: unknown[] = [];
  let marked = 0;
  let walk = 0;
  const stack: unknown[] = [root];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const n = stack.pop();
    const depth = depths.pop()!;
    if (n === null || n === undefined) continue;
    order.push(n);
    walk += depth;
    if (isAlias(n)) {
      marked++;
      targets.push(lastAnchored.get(n.source));
      continue;
    }
    const anchor = (n as { anchor?: string }).anchor;
    if (typeof anchor === 'string') {
      marked++;
      lastAnchored.set(anchor, n);
    }
    const c = children(n);
    for (let k = c.length - 1; k >= 0; k--) {
      stack.push(c[k]);
      depths.push(depth + 1);
    }
  }
  let work = 0;
  if (targets.length > 0) {
    work = (marked * marked) / 2;
    // Aliases inside each node (not through aliases); children follow their parent in `order`.
    const inside = new Map<unknown, number>();
    for (let k = order.length - 1; k >= 0; k--) {
      const n = order[k];
      let count = 0;
      if (isAlias(n)) count = 1;
      else for (const c of children(n)) count += inside.get(c) ?? 0;
      inside.set(n, count);
    }
    for (const t of targets) work += (inside.get(t) ?? 0) * walk;
  }
  aliasWorkCache.set(doc, work);
  return work;
}

function fileIssue(file: string, code: string, message: string): Issue {
  return { code, message, location: { file, line: 1 }, severity: 'error' };
}

function firstLine(message: string): string {
  const nl = message.indexOf('\n');
  return (nl < 0 ? message : message.slice(0, nl)).replace(/:$/, '');
}

/**
 * Deepest nesting estimate: unclosed `[`/`{` plus the block indentation of the line where the
 * outermost open flow started; outside flows, the line's block indentation. Block indentation
 * counts leading spaces/tabs and `-`/`?`/`:` indicators (each followed by a blank), which is at
 * least the number of block collections the line is nested in. A cheap over-approximation:
 * quotes, comments and block scalars are not skipped.
 */
function nestingDepth(text: string): { depth: number; offset: number } {
  let flow = 0;
  let base = 0;
  let lead = 0;
  let max = 0;
  let at = 0;
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      lineStart = true;
      lead = 0;
      continue;
    }
    if (lineStart) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0x0a;
      const blankNext = next === 0x20 || next === 0x09 || next === 0x0a || next === 0x0d;
      if (c === 0x20 || c === 0x09 || ((c === 0x2d || c === 0x3f || c === 0x3a) && blankNext)) {
        lead++;
        if (flow === 0 && lead > max) {
          max = lead;
          at = i;
        }
        continue;
      }
      lineStart = false;
    }
    if (c === 0x5b || c === 0x7b) {
      if (flow === 0) base = lead;
      flow++;
      if (base + flow > max) {
        max = base + flow;
        at = i;
      }
    } else if ((c === 0x5d || c === 0x7d) && flow > 0) flow--;
  }
  return { depth: max, offset: at };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
