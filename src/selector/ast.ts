/**
 * Selector syntax tree, evaluation (calico-semantics.md §2.3) and canonical text.
 *
 * Trees are built only through the `make*` helpers, which keep them normalised: nested &&/||
 * are flattened, double negation is removed and set literals are sorted and de-duplicated.
 * The canonical text is a plain print of the normalised tree, so equivalent spellings
 * (quotes, spacing, redundant parentheses, `!!`, set order) give the same string.
 */

import type { Labels } from './types';

export type MatchOp = 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith';

export type SelectorNode =
  | { readonly kind: 'all' }
  | { readonly kind: 'global' }
  | { readonly kind: 'has'; readonly label: string }
  | { readonly kind: MatchOp; readonly label: string; readonly value: string }
  | {
      readonly kind: 'in' | 'notIn';
      readonly label: string;
      /** Sorted, without duplicates (canonical order). */
      readonly values: readonly string[];
      readonly set: ReadonlySet<string>;
    }
  | { readonly kind: 'not'; readonly operand: SelectorNode }
  | { readonly kind: 'and' | 'or'; readonly operands: readonly SelectorNode[] };

export const ALL_NODE: SelectorNode = Object.freeze({ kind: 'all' });
export const GLOBAL_NODE: SelectorNode = Object.freeze({ kind: 'global' });

export function makeHas(label: string): SelectorNode {
  return { kind: 'has', label };
}

export function makeMatch(kind: MatchOp, label: string, value: string): SelectorNode {
  return { kind, label, value };
}

export function makeSetMatch(kind: 'in' | 'notIn', label: string, values: readonly string[]): SelectorNode {
  // Default sort compares UTF-16 code units: deterministic, which is all the canonical form needs.
  const sorted = [...new Set(values)].sort();
  return { kind, label, values: sorted, set: new Set(sorted) };
}

export function makeNot(operand: SelectorNode): SelectorNode {
  return operand.kind === 'not' ? operand.operand : { kind: 'not', operand };
}

/** n-ary && / ||; operands of the same kind are spliced in, a single operand is returned as is. */
export function makeBool(kind: 'and' | 'or', operands: readonly SelectorNode[]): SelectorNode {
  const flat: SelectorNode[] = [];
  for (const op of operands) {
    if (op.kind === kind) flat.push(...op.operands);
    else flat.push(op);
  }
  if (flat.length === 1 && flat[0] !== undefined) return flat[0];
  if (flat.length === 0) throw new Error(`makeBool(${kind}) needs at least one operand`);
  return { kind, operands: flat };
}

/**
 * Label lookup. The typeof test both detects absence and ignores inherited members such as
 * `constructor` or `toString`, which a plain `in`/index test would report as present.
 */
function get(labels: Labels, key: string): string | undefined {
  const v = labels[key];
  return typeof v === 'string' ? v : undefined;
}

/** Evaluate a tree against one label map. Pure, allocation-free, short-circuiting. */
export function evaluate(node: SelectorNode, labels: Labels): boolean {
  switch (node.kind) {
    case 'all':
    case 'global':
      return true;
    case 'has':
      return get(labels, node.label) !== undefined;
    case 'eq':
      return get(labels, node.label) === node.value;
    case 'ne':
      // True when the label is absent.
      return get(labels, node.label) !== node.value;
    case 'contains': {
      const v = get(labels, node.label);
      return v !== undefined && v.includes(node.value);
    }
    case 'startsWith': {
      const v = get(labels, node.label);
      return v !== undefined && v.startsWith(node.value);
    }
    case 'endsWith': {
      const v = get(labels, node.label);
      return v !== undefined && v.endsWith(node.value);
    }
    case 'in': {
      const v = get(labels, node.label);
      return v !== undefined && node.set.has(v);
    }
    case 'notIn': {
      // True when the label is absent.
      const v = get(labels, node.label);
      return v === undefined || !node.set.has(v);
    }
    case 'not':
      return !evaluate(node.operand, labels);
    case 'and': {
      const ops = node.operands;
      for (let i = 0; i < ops.length; i++) if (!evaluate(ops[i]!, labels)) return false;
      return true;
    }
    case 'or': {
      const ops = node.operands;
      for (let i = 0; i < ops.length; i++) if (evaluate(ops[i]!, labels)) return true;
      return false;
    }
  }
}

/** Double quotes unless the value contains one; a value can never contain both kinds. */
function quote(value: string): string {
  return value.includes('"') ? `'${value}'` : `"${value}"`;
}

const MATCH_OP_TEXT: Readonly<Record<MatchOp, string>> = {
  eq: ' == ',
  ne: ' != ',
  contains: ' contains ',
  startsWith: ' starts with ',
  endsWith: ' ends with ',
};

/**
 * Canonical text, in the format of Calico's Selector.String(): `&&`/`||` groups are always
 * parenthesised, `!` is written directly before its operand, sets as `{"a", "b"}`.
 * The result parses back to the same tree.
 */
export function toCanonical(node: SelectorNode): string {
  switch (node.kind) {
    case 'all':
      return 'all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${node.label})`;
    case 'eq':
    case 'ne':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return node.label + MATCH_OP_TEXT[node.kind] + quote(node.value);
    case 'in':
    case 'notIn':
      return `${node.label} ${node.kind === 'in' ? 'in' : 'not in'} {${node.values.map(quote).join(', ')}}`;
    case 'not':
      return '!' + toCanonical(node.operand);
    case 'and':
    case 'or':
      return `(${node.operands.map(toCanonical).join(node.kind === 'and' ? ' && ' : ' || ')})`;
  }
}

/** Every label key the tree refers to, sorted (useful for indexing objects by relevant labels). */
export function referencedLabels(node: SelectorNode): string[] {
  const out = new Set<string>();
  const walk = (n: SelectorNode): void => {
    switch (n.kind) {
      case 'all':
      case 'global':
        return;
      case 'not':
        walk(n.operand);
        return;
      case 'and':
      case 'or':
        n.operands.forEach(walk);
        return;
      default:
        out.add(n.label);
    }
  };
  walk(node);
  return [...out].sort();
}
