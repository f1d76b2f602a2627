/**
 * Calico selector language (calico-semantics.md §2): parse once, evaluate many times.
 */

import { ALL_NODE, evaluate, toCanonical, type SelectorNode } from './ast';
import { checkSelectorLength, parseSelectorAst } from './parser';
import type { Labels, Selector, SelectorParseResult } from './types';

export type { Labels, Selector, SelectorParseResult, SelectorSyntaxError } from './types';
export type { MatchOp, SelectorNode } from './ast';
export { evaluate, referencedLabels, toCanonical } from './ast';
export {
  checkSelectorLength,
  MAX_SELECTOR_LENGTH,
  parseSelectorAst,
  SELECTOR_SYNTAX_CODE,
  SELECTOR_TOO_LONG_CODE,
} from './parser';
export { isValidLabelKey, MAX_LABEL_LENGTH } from './tokenizer';

class ParsedSelector implements Selector {
  readonly canonical: string;

  constructor(
    readonly root: SelectorNode,
    readonly source: string,
  ) {
    this.canonical = toCanonical(root);
    Object.freeze(this);
  }

  matches(labels: Labels): boolean {
    return evaluate(this.root, labels);
  }
}

/** Parse selector text: length limit first, then syntax. The empty selector is all(). */
export function parseSelector(text: string): SelectorParseResult {
  const tooLong = checkSelectorLength(text);
  if (tooLong !== undefined) return { ok: false, error: tooLong };
  const parsed = parseSelectorAst(text);
  if (!parsed.ok) return parsed;
  return { ok: true, selector: new ParsedSelector(parsed.node, text) };
}

/** The tree of a selector returned by parseSelector (undefined for foreign implementations). */
export function selectorAst(selector: Selector): SelectorNode | undefined {
  return selector instanceof ParsedSelector ? selector.root : undefined;
}

export const ALL_SELECTOR: Selector = new ParsedSelector(ALL_NODE, 'all()');

/**
 * Calico's CEL rule is a plain substring test, so `global(` inside a string literal also counts
 * (calico-semantics.md §2.5).
 */
export function selectorUsesGlobal(text: string): boolean {
  return text.includes('global(');
}
