/**
 * Selector fields (calico-semantics.md §2.5): every selector must parse; `global(` is forbidden
 * in policy selectors and rule `selector`s; a rule namespaceSelector that uses global() must be
 * exactly `global()`. Errors point at the offending character inside the YAML value when the
 * value is written on one line.
 */
import { parseSelector, SELECTOR_TOO_LONG_CODE, selectorUsesGlobal } from '../selector';
import { CFG } from './issue-codes';
import { Checker, readString } from './validate-context';
import type { FieldPath } from './yaml-source';

export const GLOBAL_SELECTOR = 'global()';

/** Read and check one selector field. Returns '' when absent, null when invalid (reported). */
export function readSelector(
  c: Checker,
  obj: Record<string, unknown>,
  path: FieldPath,
  key: string,
  options: { forbidGlobal: boolean },
): string | null {
  const text = readString(c, obj, path, key);
  if (text === undefined) return '';
  if (text === null) return null;
  const at = [...path, key];
  if (options.forbidGlobal && selectorUsesGlobal(text)) {
    c.error(at, CFG.SELECTOR_GLOBAL, `global() can only be used in an EntityRule namespaceSelector (found in ${key} "${text}")`, {
      offset: text.indexOf('global('),
    });
    return null;
  }
  return checkSelectorText(c, at, text) ? text : null;
}

/** Parse `text`; report a syntax error at its column. True when it parses. */
export function checkSelectorText(c: Checker, at: FieldPath, text: string): boolean {
  const parsed = parseSelector(text);
  if (parsed.ok) return true;
  const { error } = parsed;
  if (error.code === SELECTOR_TOO_LONG_CODE) {
    c.error(at, CFG.TOO_LONG, `${String(at[at.length - 1])} is too long: ${error.message}`);
    return false;
  }
  const hint = /[\r\n]/.test(text)
    ? ' (selectors cannot contain line breaks; a YAML block scalar such as `selector: |` keeps a trailing newline: write the selector on one line, quoted)'
    : '';
  c.error(at, CFG.SELECTOR, `invalid selector ${JSON.stringify(text)}: ${error.message} (column ${error.column} of the selector)${hint}`, {
    offset: utf16Offset(text, error.column),
  });
  return false;
}

/** UTF-16 offset of a 1-based code-point column. */
function utf16Offset(text: string, column: number): number {
  let offset = 0;
  let col = 1;
  for (const ch of text) {
    if (col >= column) break;
    offset += ch.length;
    col++;
  }
  return offset;
}
