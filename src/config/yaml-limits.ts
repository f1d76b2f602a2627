/**
 * Resource-exhaustion limits for every YAML text nfqwall reads (policy files, host models,
 * `replay --expect` files, conformance case files): inputs over `maxBytes` are refused, nesting
 * (flow `[`/`{` and block indentation, e.g. `- - - - x`) is capped before parsing, duplicate keys
 * are found in linear time, and alias expansion is capped twice: the work yaml would do resolving
 * aliases is counted first, then `maxAliasCount` (the "billion laughs" guard of the yaml package).
 * yaml composes recursively: deep nesting overflows the stack, and once that has happened V8 may
 * abort the whole process on a later regexp compilation (an abort that no try/catch can stop), so
 * the parser must never get that deep.
 */
import { Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, YAMLParseError } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import type { Issue, SourceLocation } from '../errors';
import { CFG } from './issue-codes';

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

export interface ParsedYamlText {
  /** Empty when the text was refused (see issues). Duplicate keys are errors of their document. */
  docs: Document.Parsed[];
  lineCounter: LineCounter;
  /** NFQ_CFG_FILE_TOO_LARGE or NFQ_CFG_YAML_LIMIT: why the text was refused. */
  issues: Issue[];
}

/**
 * Parse every document of `text` within the size and nesting limits. Never throws. Errors and
 * warnings carry `linePos`. Aliases are not resolved here: see aliasWorkIssue and yamlToJS.
 */
export function parseYamlText(text: string, file: string, options: YamlSourceOptions = {}): ParsedYamlText {
  const lineCounter = new LineCounter();
  const refused = (issue: Issue): ParsedYamlText => ({ docs: [], lineCounter, issues: [issue] });
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
  const size = Buffer.byteLength(text, 'utf8');
  if (size > maxBytes) return refused(fileIssue(file, CFG.FILE_TOO_LARGE, `file is ${size} bytes, more than the limit of ${maxBytes} bytes; split it into several files`));
  const depth = nestingDepth(text);
  const maxDepth = options.maxFlowDepth ?? DEFAULT_MAX_FLOW_DEPTH;
  if (depth.depth > maxDepth) {
    const before = text.slice(0, depth.offset);
    const line = before.split('\n').length;
    const column = depth.offset - before.lastIndexOf('\n');
    return refused({
      code: CFG.YAML_LIMIT,
      message: `nested more than ${maxDepth} levels deep ('[' / '{' or indentation); refusing to parse this file`,
      location: { file, line, column },
      severity: 'error',
    });
  }
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
    return refused(fileIssue(file, CFG.YAML_LIMIT, `YAML could not be parsed: ${(err as Error).message}`));
  }
  for (const doc of docs) {
    for (const e of [...doc.errors, ...doc.warnings]) e.linePos ??= [lineCounter.linePos(e.pos[0]), lineCounter.linePos(e.pos[1])];
  }
  return { docs, lineCounter, issues: [] };
}

export interface SingleYamlDocument {
  /** Contents null for an empty text; empty (and issues set) when refused. */
  doc: Document;
  lineCounter: LineCounter;
  issues: Issue[];
}

/**
 * One YAML document (a host model, an `--expect` file, a conformance case file) within every
 * limit, including the alias work of the whole document; yaml's parseDocument without the
 * exhaustion. Several documents are an error of the first, as with parseDocument.
 */
export function parseSingleYamlDocument(text: string, file: string, options: YamlSourceOptions = {}): SingleYamlDocument {
  const { docs, lineCounter, issues } = parseYamlText(text, file, options);
  const doc: Document = docs[0] ?? new Document();
  const second = docs[1];
  if (second) doc.errors.push(new YAMLParseError([second.range[0], second.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents; a single document is expected'));
  const contents = doc.contents as YamlNode | null;
  if (issues.length === 0 && doc.errors.length === 0 && contents) {
    const issue = aliasWorkIssue(doc, contents, nodeLocation(file, lineCounter, contents));
    if (issue) return { doc: new Document(), lineCounter, issues: [issue] };
  }
  return { doc, lineCounter, issues };
}

/** Where `node` starts (line 1 when it has no range). */
export function nodeLocation(file: string, lineCounter: LineCounter, node: YamlNode | null | undefined): SourceLocation {
  if (!node?.range) return { file, line: 1 };
  const at = lineCounter.linePos(node.range[0]);
  return { file, line: at.line, column: at.col };
}

/** NFQ_CFG_YAML_LIMIT when resolving the aliases under `root` of `doc` would take more than `limit` steps. */
export function aliasWorkIssue(doc: object, root: unknown, location: SourceLocation, limit = MAX_ALIAS_WORK): Issue | null {
  const work = aliasWork(doc, root);
  if (work <= limit) return null;
  return {
    code: CFG.YAML_LIMIT,
    message: `YAML aliases could not be expanded: resolving them would take ${work.toExponential(1)} steps (${limit === MAX_ALIAS_WORK ? 'limit' : 'left in this file'} ${limit.toExponential(1)}); use fewer anchors and aliases`,
    location,
    severity: 'error',
  };
}

/** `node` as plain JS with aliases expanded, or NFQ_CFG_YAML_LIMIT at `location`. Never throws. */
export function yamlToJS(node: YamlNode, doc: Document, location: SourceLocation, maxAliasCount = DEFAULT_MAX_ALIAS_COUNT): { value: unknown } | { issue: Issue } {
  // yaml reports a collection used as a map key with process.emitWarning (stderr noise in a
  // daemon); such a key is stringified and then fails validation as an unknown field anyway.
  const logLevel = doc.options.logLevel;
  doc.options.logLevel = 'error';
  try {
    return { value: node.toJS(doc, { maxAliasCount }) };
  } catch (err) {
    // Excessive alias expansion (ReferenceError from yaml) or an unresolvable alias.
    return { issue: { code: CFG.YAML_LIMIT, message: `YAML aliases could not be expanded: ${(err as Error).message}`, location, severity: 'error' } };
  } finally {
    doc.options.logLevel = logLevel;
  }
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
export const MAX_ALIAS_WORK = 5_000_000;
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
export function aliasWork(doc: object, root: unknown): number {
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
