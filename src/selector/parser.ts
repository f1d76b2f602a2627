/**
 * Recursive-descent parser for the selector grammar (calico-semantics.md §2.2).
 * Precedence, high to low: match operators and parenthesised groups, `!`, `&&`, `||`.
 */

import {
  ALL_NODE,
  GLOBAL_NODE,
  makeBool,
  makeHas,
  makeMatch,
  makeNot,
  makeSetMatch,
  type MatchOp,
  type SelectorNode,
} from './ast';
import { expectedOperatorAfter, tokenize, type Token, type TokenKind } from './tokenizer';
import type { SelectorSyntaxError } from './types';

export const SELECTOR_SYNTAX_CODE = 'NFQ_SELECTOR_SYNTAX';
export const SELECTOR_TOO_LONG_CODE = 'NFQ_SELECTOR_TOO_LONG';
/** Calico's API limit for every selector field. */
export const MAX_SELECTOR_LENGTH = 1024;

export type SelectorAstResult = { ok: true; node: SelectorNode } | { ok: false; error: SelectorSyntaxError };

/** 1-based column counted in code points, so a non-BMP character in a string counts once. */
function columnOf(text: string, offset: number): number {
  let column = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Skip the low half of a surrogate pair.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < offset) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    column++;
  }
  return column;
}

function countCodePoints(text: string, limit: number): number {
  let n = 0;
  for (const _ of text) {
    if (++n > limit) break;
  }
  return n;
}

/**
 * Length check, separate from parsing so the validator can report it on its own.
 * Counted in characters (code points), as Kubernetes checks a CRD `maxLength`.
 */
export function checkSelectorLength(text: string): SelectorSyntaxError | undefined {
  // UTF-16 length is an upper bound of the code point count: only count when it might matter.
  if (text.length <= MAX_SELECTOR_LENGTH) return undefined;
  if (countCodePoints(text, MAX_SELECTOR_LENGTH) <= MAX_SELECTOR_LENGTH) return undefined;
  return {
    code: SELECTOR_TOO_LONG_CODE,
    message: `selector too long: more than ${MAX_SELECTOR_LENGTH} characters`,
    column: MAX_SELECTOR_LENGTH + 1,
  };
}

const EOF_TOKEN: Token = { kind: 'eof', value: '', start: 0 };

function describe(tok: Token): string {
  switch (tok.kind) {
    case 'eof':
      return 'end of selector';
    case 'label':
      return `label ${JSON.stringify(tok.value)}`;
    case 'string':
      return `string ${JSON.stringify(tok.value)}`;
    case 'has()':
      return `has(${tok.value})`;
    default:
      return JSON.stringify(tok.kind);
  }
}

class ParseFailure {
  constructor(
    readonly message: string,
    readonly offset: number,
  ) {}
}

const STRING_OPS: Partial<Record<TokenKind, MatchOp>> = {
  '==': 'eq',
  '!=': 'ne',
  contains: 'contains',
  'starts with': 'startsWith',
  'ends with': 'endsWith',
};

class Parser {
  private pos = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  private peek(): Token {
    // The tokenizer always ends the list with eof and the parser never consumes it.
    return this.tokens[this.pos] ?? EOF_TOKEN;
  }

  private next(): Token {
    const tok = this.peek();
    if (tok.kind !== 'eof') this.pos++;
    return tok;
  }

  private fail(message: string, tok: Token): never {
    throw new ParseFailure(message, tok.start);
  }

  parseSelector(): SelectorNode {
    if (this.peek().kind === 'eof') return ALL_NODE;
    const node = this.parseOr();
    const rest = this.peek();
    if (rest.kind !== 'eof') this.fail(`unexpected content at end of selector: ${describe(rest)}`, rest);
    return node;
  }

  private parseOr(): SelectorNode {
    const operands = [this.parseAnd()];
    while (this.peek().kind === '||') {
      this.next();
      operands.push(this.parseAnd());
    }
    return operands.length === 1 ? operands[0]! : makeBool('or', operands);
  }

  private parseAnd(): SelectorNode {
    const operands = [this.parseUnary()];
    while (this.peek().kind === '&&') {
      this.next();
      operands.push(this.parseUnary());
    }
    return operands.length === 1 ? operands[0]! : makeBool('and', operands);
  }

  private parseUnary(): SelectorNode {
    let negated = false;
    while (this.peek().kind === '!') {
      this.next();
      negated = !negated;
    }
    const node = this.parsePrimary();
    return negated ? makeNot(node) : node;
  }

  private parsePrimary(): SelectorNode {
    const tok = this.next();
    switch (tok.kind) {
      case 'all()':
        return ALL_NODE;
      case 'global()':
        return GLOBAL_NODE;
      case 'has()':
        return makeHas(tok.value);
      case '(': {
        const inner = this.parseOr();
        const close = this.peek();
        if (close.kind !== ')') this.fail(`expected ), found ${describe(close)}`, close);
        this.next();
        return inner;
      }
      case 'label':
        return this.parseLabelOperation(tok);
      case 'eof':
        return this.fail('unexpected end of selector, expected an expression', tok);
      default:
        return this.fail(`unexpected ${describe(tok)}, expected an expression`, tok);
    }
  }

  private parseLabelOperation(label: Token): SelectorNode {
    const op = this.next();
    const matchOp = STRING_OPS[op.kind];
    if (matchOp !== undefined) {
      const value = this.next();
      if (value.kind !== 'string') this.fail(`expected string after ${JSON.stringify(op.kind)}, found ${describe(value)}`, value);
      return makeMatch(matchOp, label.value, value.value);
    }
    if (op.kind === 'in' || op.kind === 'not in') {
      const open = this.next();
      if (open.kind !== '{') this.fail(`expected set literal after ${JSON.stringify(op.kind)}, found ${describe(open)}`, open);
      const values: string[] = [];
      // { } and a trailing comma are both accepted, as in Calico.
      while (this.peek().kind === 'string') {
        values.push(this.next().value);
        if (this.peek().kind !== ',') break;
        this.next();
      }
      const close = this.peek();
      if (close.kind !== '}') this.fail(`expected } or a string in set literal, found ${describe(close)}`, close);
      this.next();
      return makeSetMatch(op.kind === 'in' ? 'in' : 'notIn', label.value, values);
    }
    return this.fail(`${expectedOperatorAfter(label.value)}, found ${describe(op)}`, op);
  }
}

/** Parse to a normalised tree (see ast.ts). Does not apply the length limit. */
export function parseSelectorAst(text: string): SelectorAstResult {
  const lexed = tokenize(text);
  if (!lexed.ok) {
    return {
      ok: false,
      error: { code: SELECTOR_SYNTAX_CODE, message: lexed.error.message, column: columnOf(text, lexed.error.offset) },
    };
  }
  try {
    return { ok: true, node: new Parser(lexed.tokens).parseSelector() };
  } catch (e) {
    if (!(e instanceof ParseFailure)) throw e;
    return { ok: false, error: { code: SELECTOR_SYNTAX_CODE, message: e.message, column: columnOf(text, e.offset) } };
  }
}
