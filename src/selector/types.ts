/**
 * Public contract of the selector language (calico-semantics.md §2).
 * Implementation: tokenizer.ts, parser.ts, ast.ts in this folder; entry point index.ts.
 */

export type Labels = Readonly<Record<string, string>>;

/** A parsed selector. Immutable; `matches` is pure. */
export interface Selector {
  /** Evaluate against one object's labels (§2.3). */
  matches(labels: Labels): boolean;
  /** Canonical text: equal for selectors that parse to the same tree (used for dedup and as a key). */
  readonly canonical: string;
  /** The source text as written. */
  readonly source: string;
}

export interface SelectorSyntaxError {
  /** Stable code, e.g. NFQ_SELECTOR_SYNTAX. */
  code: string;
  message: string;
  /** 1-based column in the selector text where the problem is. */
  column: number;
}

export type SelectorParseResult = { ok: true; selector: Selector } | { ok: false; error: SelectorSyntaxError };
