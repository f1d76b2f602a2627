import { strict as assert } from 'node:assert';

import {
  checkSelectorLength,
  MAX_SELECTOR_LENGTH,
  parseSelector,
  referencedLabels,
  SELECTOR_SYNTAX_CODE,
  SELECTOR_TOO_LONG_CODE,
  selectorAst,
  selectorUsesGlobal,
} from '../../src/selector';

function canonical(text: string): string {
  const r = parseSelector(text);
  if (!r.ok) throw new Error(`${JSON.stringify(text)} did not parse: ${r.error.message} (column ${r.error.column})`);
  return r.selector.canonical;
}

describe('selector parser', () => {
  describe('accepts', () => {
    const cases: Array<{ text: string; canonical: string }> = [
      { text: '', canonical: 'all()' },
      { text: 'all()', canonical: 'all()' },
      { text: 'all( )', canonical: 'all()' },
      { text: 'global()', canonical: 'global()' },
      { text: 'has( a )', canonical: 'has(a)' },
      { text: '\thas(a)\t&&\tb == "c"', canonical: '(has(a) && b == "c")' },
      { text: "a == 'x'", canonical: 'a == "x"' },
      { text: `a == '"quoted"'`, canonical: `a == '"quoted"'` },
      { text: `a == "it's"`, canonical: `a == "it's"` },
      { text: 'a notin {"x"}', canonical: 'a not in {"x"}' },
      { text: 'a startswith "x"', canonical: 'a starts with "x"' },
      { text: 'a endswith "x"', canonical: 'a ends with "x"' },
      { text: 'a in {}', canonical: 'a in {}' },
      { text: 'a in {"x",}', canonical: 'a in {"x"}' },
      { text: 'a in {"y", "x", "y"}', canonical: 'a in {"x", "y"}' },
      { text: '0 == "zero"', canonical: '0 == "zero"' },
      { text: 'has(1a)', canonical: 'has(1a)' },
      { text: 'x contains "" && y ends with\t""', canonical: '(x contains "" && y ends with "")' },
      { text: '!has(a) || a starts with \'p\' && r in {\'x\'}', canonical: '(!has(a) || (a starts with "p" && r in {"x"}))' },
      { text: '((a == "1"))', canonical: 'a == "1"' },
      { text: '!!!has(a)', canonical: '!has(a)' },
      { text: 'has(a) && (has(b) && has(c))', canonical: '(has(a) && has(b) && has(c))' },
      { text: '(has(a) || has(b)) || has(c)', canonical: '(has(a) || has(b) || has(c))' },
      { text: '(has(a) || has(b)) && has(c)', canonical: '((has(a) || has(b)) && has(c))' },
      { text: '!(has(a) && has(b))', canonical: '!(has(a) && has(b))' },
      { text: 'a in {"x"} && in == "y"', canonical: '(a in {"x"} && in == "y")' },
      { text: 'a' + '.'.repeat(511) + ' == "x"', canonical: 'a' + '.'.repeat(511) + ' == "x"' },
    ];
    for (const c of cases) {
      it(`${JSON.stringify(c.text.length > 60 ? c.text.slice(0, 20) + '…' : c.text)} → ${JSON.stringify(c.canonical.length > 60 ? c.canonical.slice(0, 20) + '…' : c.canonical)}`, () => {
        assert.equal(canonical(c.text), c.canonical);
      });
    }
  });

  describe('rejects with the column of the problem', () => {
    const cases: Array<{ text: string; column: number; message: RegExp }> = [
      { text: 'a == "x"\n', column: 9, message: /line break/ },
      { text: 'a == "x" &&\nb == "y"', column: 12, message: /line break/ },
      { text: 'a\r\n', column: 2, message: /line break/ },
      { text: 'has (a)', column: 5, message: /^expected operator after label "has"/ },
      { text: 'a', column: 2, message: /^expected operator after label "a".*found end of selector/ },
      { text: 'a b', column: 3, message: /^expected operator after label "a"/ },
      { text: 'a && b == "x"', column: 3, message: /^expected operator after label "a".*found "&&"/ },
      { text: 'a Contains "x"', column: 3, message: /^expected operator after label "a"/ },
      { text: 'a starts "x"', column: 3, message: /^expected operator after label "a"/ },
      { text: 'a == "x', column: 6, message: /^unterminated string$/ },
      { text: "a in {'x}", column: 7, message: /^unterminated string$/ },
      { text: 'a = "x"', column: 3, message: /^expected ==$/ },
      { text: 'a == "x" & b == "y"', column: 10, message: /^expected &&$/ },
      { text: 'a == "x" | b == "y"', column: 10, message: /^expected \|\|$/ },
      { text: 'a == b', column: 6, message: /^expected string after "==", found label "b"$/ },
      { text: 'a contains', column: 11, message: /^expected string after "contains", found end of selector$/ },
      { text: 'a in "x"', column: 6, message: /^expected set literal after "in"/ },
      { text: 'a in x', column: 6, message: /^expected set literal after "in", found label "x"$/ },
      // Calico checks the word boundary after the whitespace that follows `not in`.
      { text: 'a not in x', column: 3, message: /^expected operator after label "a".*found "not"$/ },
      { text: 'a not in ("x")', column: 10, message: /^expected set literal after "not in"/ },
      { text: 'a in {"x" "y"}', column: 11, message: /^expected } / },
      { text: 'a in {,}', column: 7, message: /^expected } / },
      { text: 'a in {"x",,}', column: 11, message: /^expected } / },
      { text: 'a in {"x"', column: 10, message: /^expected } .*end of selector$/ },
      { text: '(a == "x"', column: 10, message: /^expected \), found end of selector$/ },
      { text: '((has(a)) || has(b)', column: 20, message: /^expected \)/ },
      { text: 'a == "x")', column: 9, message: /^unexpected content at end of selector/ },
      { text: 'has(a) has(b)', column: 8, message: /^unexpected content at end of selector/ },
      { text: 'a == "x" &&', column: 12, message: /^unexpected end of selector/ },
      { text: '!', column: 2, message: /^unexpected end of selector/ },
      { text: '()', column: 2, message: /^unexpected "\)"/ },
      { text: '&& a == "x"', column: 1, message: /^unexpected "&&"/ },
      { text: 'has()', column: 5, message: /^expected identifier in has\(/ },
      { text: 'has(a', column: 6, message: /^no closing '\)' after has\($/ },
      { text: 'all(', column: 5, message: /^no closing '\)' after all\($/ },
      { text: 'a == "é" && ü == "x"', column: 13, message: /^expected identifier, found "ü"$/ },
      { text: 'a == "😀" && #', column: 13, message: /^expected identifier/ },
      { text: 'x == "y" && ' + 'a'.repeat(513) + ' == "x"', column: 13, message: /^label too long/ },
      { text: 'has(' + 'a'.repeat(513) + ')', column: 5, message: /^label too long/ },
    ];
    for (const c of cases) {
      it(`${JSON.stringify(c.text.length > 40 ? c.text.slice(0, 24) + '…' : c.text)} at column ${c.column}`, () => {
        const r = parseSelector(c.text);
        assert.equal(r.ok, false, 'should not parse');
        if (r.ok) return;
        assert.equal(r.error.code, SELECTOR_SYNTAX_CODE);
        assert.match(r.error.message, c.message);
        assert.equal(r.error.column, c.column);
      });
    }
  });

  describe('canonical form', () => {
    const equal: Array<[string, string]> = [
      ["a == 'x'", 'a == "x"'],
      ['a==\t"x"', '  a == "x"  '],
      ['a notin {"y","x"}', "a not in {'x', 'y', }"],
      ['has(a)&&has(b)', '(has(a)) && ((has(b)))'],
      ['!!has(a)', 'has(a)'],
      ['!(!has(a))', 'has(a)'],
      ['a && b || c'.replace(/([abc])/g, 'has($1)'), '(has(a) && has(b)) || has(c)'],
      ['has(a) || has(b) || has(c)', 'has(a) || (has(b) || has(c))'],
      ['', 'all()'],
    ];
    for (const [x, y] of equal) {
      it(`${JSON.stringify(x)} ≡ ${JSON.stringify(y)}`, () => {
        assert.equal(canonical(x), canonical(y));
      });
    }

    const different: Array<[string, string]> = [
      ['has(a) && has(b) || has(c)', 'has(a) && (has(b) || has(c))'],
      ['a in {"x"}', 'a not in {"x"}'],
      ['all()', 'global()'],
      ['a == "x"', 'a == "x "'],
    ];
    for (const [x, y] of different) {
      it(`${JSON.stringify(x)} ≢ ${JSON.stringify(y)}`, () => {
        assert.notEqual(canonical(x), canonical(y));
      });
    }

    it('keeps the source text as written', () => {
      const r = parseSelector("  a == 'x' ");
      assert.ok(r.ok);
      assert.equal(r.selector.source, "  a == 'x' ");
    });
  });

  describe('length limit', () => {
    it(`accepts exactly ${MAX_SELECTOR_LENGTH} characters`, () => {
      const text = 'a == "' + 'x'.repeat(MAX_SELECTOR_LENGTH - 7) + '"';
      assert.equal(text.length, MAX_SELECTOR_LENGTH);
      assert.equal(checkSelectorLength(text), undefined);
      assert.equal(parseSelector(text).ok, true);
    });

    it(`rejects ${MAX_SELECTOR_LENGTH + 1} characters with ${SELECTOR_TOO_LONG_CODE}`, () => {
      const text = 'a == "' + 'x'.repeat(MAX_SELECTOR_LENGTH - 6) + '"';
      const r = parseSelector(text);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.error.code, SELECTOR_TOO_LONG_CODE);
      assert.equal(r.error.column, MAX_SELECTOR_LENGTH + 1);
      assert.deepEqual(checkSelectorLength(text), r.error);
    });

    it('counts characters, not UTF-16 units', () => {
      // 1024 characters, 1029 UTF-16 units.
      const text = 'a == "' + '😀'.repeat(5) + 'x'.repeat(MAX_SELECTOR_LENGTH - 12) + '"';
      assert.equal([...text].length, MAX_SELECTOR_LENGTH);
      assert.equal(checkSelectorLength(text), undefined);
    });
  });

  describe('selectorUsesGlobal', () => {
    const cases: Array<[string, boolean]> = [
      ['global()', true],
      ['has(a) && global( )', true],
      ['a == "global("', true],
      ['global == "x"', false],
      ['has(global)', false],
    ];
    for (const [text, expect] of cases) {
      it(`${JSON.stringify(text)} → ${expect}`, () => {
        assert.equal(selectorUsesGlobal(text), expect);
      });
    }
  });

  describe('tree access', () => {
    it('referencedLabels lists every label key once, sorted', () => {
      const r = parseSelector('b == "1" || !has(a) && b in {"x"} && c.d/e not in {}');
      assert.ok(r.ok);
      const root = selectorAst(r.selector);
      assert.ok(root);
      assert.deepEqual(referencedLabels(root), ['a', 'b', 'c.d/e']);
    });
  });
});
