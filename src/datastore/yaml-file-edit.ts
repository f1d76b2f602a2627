/**
 * Replace or remove resources inside a YAML file that may hold several documents, Lists or
 * sequences, leaving every other document byte for byte as it was (comments included): the text
 * is rebuilt from yaml's concrete syntax tree, and only the documents that change are re-rendered.
 */
import { CST, isSeq, Parser, parseAllDocuments, stringify, type Document } from 'yaml';
import { DEFAULT_MAX_ALIAS_COUNT } from '../config';
import { isRecord, refId, refOf, type ResourceRef } from './kinds';

export interface FileEdit {
  ref: ResourceRef;
  /** The new document, or null to remove the resource. Every further occurrence is removed. */
  replacement: Record<string, unknown> | null;
}

export interface EditResult {
  text: string;
  /** Documents left in the file; 0 means the file can go. */
  documents: number;
  /** Refs found (and so replaced or removed). */
  found: ResourceRef[];
}

const TYPED_LIST = /^(GlobalNetworkPolicy|HostEndpoint|WorkloadEndpoint|GlobalNetworkSet|Tier|Profile|FelixConfiguration)List$/;

/** One resource document as nfqwall writes it. */
export function renderResource(value: Record<string, unknown>): string {
  // lineWidth 0: long selectors stay on one line instead of being folded.
  return stringify(value, { lineWidth: 0 });
}

/** Apply `edits` to `text`. Throws when the text does not parse cleanly (callers validate first). */
export function editYamlText(text: string, edits: readonly FileEdit[]): EditResult {
  const tokens = [...new Parser().parse(text)];
  const parsed = parseAllDocuments(text);
  const docs: Document.Parsed[] = Array.isArray(parsed) ? parsed : [];
  if (docs.some((d) => d.errors.length > 0)) throw new Error('the file has YAML errors; fix them before changing it with nfqwall');
  const docTokens = tokens.filter((t) => t.type === 'document').length;
  if (docTokens !== docs.length) throw new Error('unexpected YAML structure');

  const byId = new Map(edits.map((e) => [refId(e.ref), e]));
  const done = new Set<string>(); // refs already replaced once: later occurrences are removed
  const found = new Map<string, ResourceRef>();
  type DocAction = { kind: 'keep' } | { kind: 'drop' } | { kind: 'replace'; value: Record<string, unknown> } | { kind: 'edited' };
  const actions: DocAction[] = docs.map((doc): DocAction => {
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: DEFAULT_MAX_ALIAS_COUNT });
    } catch {
      return { kind: 'keep' };
    }
    const decide = (item: unknown): 'keep' | 'drop' | Record<string, unknown> => {
      const ref = refOf(item);
      if (!ref) return 'keep';
      const id = refId(ref);
      const e = byId.get(id);
      if (!e) return 'keep';
      found.set(id, ref);
      if (e.replacement === null || done.has(id)) return 'drop';
      done.add(id);
      return e.replacement;
    };
    if (isRecord(value) && typeof value['kind'] === 'string' && (value['kind'] === 'List' || TYPED_LIST.test(value['kind']))) {
      const items = value['items'];
      if (!Array.isArray(items)) return { kind: 'keep' };
      const itemKind = value['kind'] === 'List' ? undefined : value['kind'].slice(0, -'List'.length);
      return editItems(doc, ['items'], items.map((it) => (itemKind !== undefined && isRecord(it) && !Object.hasOwn(it, 'kind') ? { ...it, kind: itemKind } : it)), decide);
    }
    if (Array.isArray(value)) return editItems(doc, [], value, decide);
    const d = decide(value);
    return d === 'keep' ? { kind: 'keep' } : d === 'drop' ? { kind: 'drop' } : { kind: 'replace', value: d };
  });

  let out = '';
  let emitted = 0;
  let k = -1;
  let skipDocEnd = false;
  for (const tok of tokens) {
    if (tok.type === 'doc-end' && skipDocEnd) {
      skipDocEnd = false;
      continue;
    }
    skipDocEnd = false;
    if (tok.type !== 'document') {
      out += CST.stringify(tok);
      continue;
    }
    k++;
    const action = actions[k] ?? { kind: 'keep' };
    const doc = docs[k]!;
    const needsMarker = emitted > 0 && !doc.directives.docStart;
    switch (action.kind) {
      case 'keep':
        out += (needsMarker ? '---\n' : '') + CST.stringify(tok);
        emitted++;
        break;
      case 'drop':
        skipDocEnd = true;
        break;
      case 'replace':
        out += (emitted > 0 || doc.directives.docStart ? '---\n' : '') + renderResource(action.value);
        emitted++;
        skipDocEnd = true;
        break;
      case 'edited':
        if (needsMarker) doc.directives.docStart = true;
        out += String(doc);
        emitted++;
        skipDocEnd = true;
        break;
    }
  }
  return { text: emitted === 0 ? '' : out, documents: emitted, found: [...found.values()] };

  function editItems(
    doc: Document.Parsed,
    base: (string | number)[],
    items: unknown[],
    decide: (item: unknown) => 'keep' | 'drop' | Record<string, unknown>,
  ): DocAction {
    const decisions = items.map(decide);
    if (decisions.every((d) => d === 'keep')) return { kind: 'keep' };
    if (decisions.every((d) => d === 'drop')) return { kind: 'drop' };
    // Replace first (indexes still valid), then delete from the back.
    decisions.forEach((d, i) => {
      if (d !== 'keep' && d !== 'drop') doc.setIn([...base, i], doc.createNode(d));
    });
    for (let i = decisions.length - 1; i >= 0; i--) if (decisions[i] === 'drop') doc.deleteIn([...base, i]);
    const seq = base.length === 0 ? doc.contents : doc.getIn(base, true);
    if (isSeq(seq) && seq.items.length === 0) return { kind: 'drop' };
    return { kind: 'edited' };
  }
}
