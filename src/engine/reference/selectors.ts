/**
 * Selector parsing (through src/selector) with a cache. Resources reach the engine validated, so a
 * selector that does not parse is a programming error here, not user input: it throws.
 */
import { parseSelector, type Labels, type Selector } from '../../selector';

export type LabelPredicate = (labels: Labels) => boolean;

export class SelectorCache {
  private readonly cache = new Map<string, Selector>();

  /** The parsed selector for `text` ('' is all(), §2.2). */
  get(text: string): Selector {
    const hit = this.cache.get(text);
    if (hit) return hit;
    const parsed = parseSelector(text);
    if (!parsed.ok) throw new Error(`reference evaluator: invalid selector ${JSON.stringify(text)}: ${parsed.error.message}`);
    this.cache.set(text, parsed.selector);
    return parsed.selector;
  }

  /** A predicate for `text`. */
  predicate(text: string): LabelPredicate {
    const sel = this.get(text);
    return (labels) => sel.matches(labels);
  }
}
