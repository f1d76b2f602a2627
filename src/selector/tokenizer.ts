/**
 * Selector tokenizer (calico-semantics.md §2.1), modelled on libcalico-go's tokenizer so that
 * exactly the same inputs are accepted.
 */

export const MAX_LABEL_LENGTH = 512;

export type TokenKind =
  | 'label'
  | 'string'
  | '('
  | ')'
  | '{'
  | '}'
  | ','
  | '=='
  | '!='
  | '!'
  | '&&'
  | '||'
  | 'in'
  | 'not in'
  | 'contains'
  | 'starts with'
  | 'ends with'
  | 'all()'
  | 'global()'
  | 'has()'
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Label name (label, has()) or string contents (string); '' otherwise. */
  readonly value: string;
  /** 0-based UTF-16 offset of the token's first character. */
  readonly start: number;
}

/** A lexical error; `offset` is 0-based and converted to a column by the parser. */
export interface TokenizeError {
  readonly message: string;
  readonly offset: number;
}

export type TokenizeResult = { ok: true; tokens: Token[] } | { ok: false; error: TokenizeError };

const CH_TAB = 0x09;
const CH_SPACE = 0x20;

function isIdentChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || // _
    c === 0x2e || // .
    c === 0x2f || // /
    c === 0x2d // -
  );
}

/** Only space and tab separate tokens; every other whitespace character is an error. */
function skipWhitespace(text: string, i: number): number {
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== CH_SPACE && c !== CH_TAB) break;
    i++;
  }
  return i;
}

function scanIdentifier(text: string, i: number): number {
  while (i < text.length && isIdentChar(text.charCodeAt(i))) i++;
  return i;
}

/** End of input counts as a word boundary, as in Calico. */
function isWordBoundary(text: string, i: number): boolean {
  return i >= text.length || !isIdentChar(text.charCodeAt(i));
}

/** True when `label` is a complete, valid label key (1..512 chars of [A-Za-z0-9_./-]). */
export function isValidLabelKey(label: string): boolean {
  return label.length > 0 && label.length <= MAX_LABEL_LENGTH && scanIdentifier(label, 0) === label.length;
}

/**
 * Match a one- or multi-word operator keyword at `i`. Returns the offset after it, or -1.
 * Calico trims whitespace after every word, the last one included, before the word-boundary
 * check; copying that keeps `a not in x` an operator error, like Calico, whereas `a in x` is a
 * set-literal error.
 */
function cutKeyword(text: string, i: number, words: readonly string[]): number {
  let j = i;
  for (const word of words) {
    if (!text.startsWith(word, j)) return -1;
    j += word.length;
    if (words.length > 1) j = skipWhitespace(text, j);
  }
  return isWordBoundary(text, j) ? j : -1;
}

const OPERATORS: ReadonlyArray<readonly [TokenKind, readonly string[]]> = [
  ['contains', ['contains']],
  ['starts with', ['starts', 'with']],
  ['ends with', ['ends', 'with']],
  ['not in', ['not', 'in']],
  ['in', ['in']],
];

/** Shared with the parser so both layers word this error the same way. */
export function expectedOperatorAfter(label: string): string {
  return `expected operator after label ${JSON.stringify(label)} (==, !=, in, not in, contains, starts with, ends with)`;
}

function describeChar(text: string, i: number): string {
  const cp = text.codePointAt(i) ?? 0;
  return JSON.stringify(String.fromCodePoint(cp));
}

function isLineBreak(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c === 0x0a || c === 0x0d;
}

/** Typically a YAML block scalar (`selector: |`) that kept its trailing newline. */
function lineBreakError(offset: number): TokenizeError {
  return { message: 'unexpected line break in selector (only space and tab may separate tokens)', offset };
}

/** Error for a character that cannot start the expected token; line breaks get a message of their own. */
function badCharError(text: string, i: number, expected: string): TokenizeError {
  if (isLineBreak(text, i)) return lineBreakError(i);
  if (i >= text.length) return { message: `${expected}, found end of selector`, offset: i };
  return { message: `${expected}, found ${describeChar(text, i)}`, offset: i };
}

function labelTooLong(text: string, start: number, end: number): TokenizeError {
  const shown = text.slice(start, start + 32);
  return {
    message: `label too long: "${shown}..." is ${end - start} characters, the maximum is ${MAX_LABEL_LENGTH}`,
    offset: start,
  };
}

export function tokenize(text: string): TokenizeResult {
  const tokens: Token[] = [];
  const fail = (message: string, offset: number): TokenizeResult => ({ ok: false, error: { message, offset } });
  let i = 0;
  for (;;) {
    i = skipWhitespace(text, i);
    if (i >= text.length) {
      tokens.push({ kind: 'eof', value: '', start: text.length });
      return { ok: true, tokens };
    }
    const start = i;
    const last = tokens.length > 0 ? tokens[tokens.length - 1] : undefined;
    const ch = text[i];
    switch (ch) {
      case '(':
      case ')':
      case '{':
      case '}':
      case ',':
        tokens.push({ kind: ch, value: '', start });
        i++;
        continue;
      case '"':
      case "'": {
        // No escapes: the string ends at the next quote of the same kind.
        const close = text.indexOf(ch, i + 1);
        if (close < 0) return fail('unterminated string', start);
        tokens.push({ kind: 'string', value: text.slice(i + 1, close), start });
        i = close + 1;
        continue;
      }
      case '=':
        if (text[i + 1] !== '=') return fail('expected ==', start);
        tokens.push({ kind: '==', value: '', start });
        i += 2;
        continue;
      case '!':
        if (text[i + 1] === '=') {
          tokens.push({ kind: '!=', value: '', start });
          i += 2;
        } else {
          tokens.push({ kind: '!', value: '', start });
          i++;
        }
        continue;
      case '&':
        if (text[i + 1] !== '&') return fail('expected &&', start);
        tokens.push({ kind: '&&', value: '', start });
        i += 2;
        continue;
      case '|':
        if (text[i + 1] !== '|') return fail('expected ||', start);
        tokens.push({ kind: '||', value: '', start });
        i += 2;
        continue;
      default:
        break;
    }

    if (last !== undefined && last.kind === 'label') {
      // Keywords are only operators directly after a label; elsewhere `in` etc. are plain labels.
      let matched = false;
      for (const [kind, words] of OPERATORS) {
        const end = cutKeyword(text, i, words);
        if (end >= 0) {
          tokens.push({ kind, value: '', start });
          i = end;
          matched = true;
          break;
        }
      }
      if (!matched) {
        if (isLineBreak(text, i)) return { ok: false, error: lineBreakError(i) };
        const wordEnd = scanIdentifier(text, i);
        const found = wordEnd > i ? JSON.stringify(text.slice(i, Math.min(wordEnd, i + 32))) : describeChar(text, i);
        return fail(`${expectedOperatorAfter(last.value)}, found ${found}`, start);
      }
      continue;
    }

    if (text.startsWith('has(', i)) {
      const idStart = skipWhitespace(text, i + 4);
      const idEnd = scanIdentifier(text, idStart);
      if (idEnd === idStart) return { ok: false, error: badCharError(text, idStart, 'expected identifier in has(') };
      if (idEnd - idStart > MAX_LABEL_LENGTH) return { ok: false, error: labelTooLong(text, idStart, idEnd) };
      const close = skipWhitespace(text, idEnd);
      if (isLineBreak(text, close)) return { ok: false, error: lineBreakError(close) };
      if (text[close] !== ')') return fail("no closing ')' after has(", close);
      tokens.push({ kind: 'has()', value: text.slice(idStart, idEnd), start });
      i = close + 1;
      continue;
    }
    if (text.startsWith('all(', i) || text.startsWith('global(', i)) {
      const isAll = text[i] === 'a';
      const close = skipWhitespace(text, i + (isAll ? 4 : 7));
      if (isLineBreak(text, close)) return { ok: false, error: lineBreakError(close) };
      if (text[close] !== ')') return fail(`no closing ')' after ${isAll ? 'all(' : 'global('}`, close);
      tokens.push({ kind: isAll ? 'all()' : 'global()', value: '', start });
      i = close + 1;
      continue;
    }

    const end = scanIdentifier(text, i);
    if (end === i) return { ok: false, error: badCharError(text, i, 'expected identifier') };
    if (end - i > MAX_LABEL_LENGTH) return { ok: false, error: labelTooLong(text, i, end) };
    tokens.push({ kind: 'label', value: text.slice(i, end), start });
    i = end;
  }
}
