import { strict as assert } from 'node:assert';

import { isValidLabelKey, tokenize } from '../../src/selector/tokenizer';

function kinds(text: string): string[] {
  const r = tokenize(text);
  if (!r.ok) throw new Error(`unexpected tokenize error: ${r.error.message}`);
  return r.tokens.map((t) => (t.kind === 'label' || t.kind === 'string' || t.kind === 'has()' ? `${t.kind}:${t.value}` : t.kind));
}

describe('selector tokenizer', () => {
  const cases: Array<{ text: string; tokens: string[] }> = [
    { text: 'a == "b"', tokens: ['label:a', '==', 'string:b', 'eof'] },
    { text: "a!='b'", tokens: ['label:a', '!=', 'string:b', 'eof'] },
    { text: '\ta\t==\t"b"\t', tokens: ['label:a', '==', 'string:b', 'eof'] },
    { text: 'a in {"x", "y",}', tokens: ['label:a', 'in', '{', 'string:x', ',', 'string:y', ',', '}', 'eof'] },
    { text: 'a notin{}', tokens: ['label:a', 'not in', '{', '}', 'eof'] },
    { text: 'a not \t in {}', tokens: ['label:a', 'not in', '{', '}', 'eof'] },
    { text: 'a startswith"p"', tokens: ['label:a', 'starts with', 'string:p', 'eof'] },
    { text: 'a ends   with "p"', tokens: ['label:a', 'ends with', 'string:p', 'eof'] },
    { text: 'a contains"p"', tokens: ['label:a', 'contains', 'string:p', 'eof'] },
    { text: 'has( a/b.c-d_e )', tokens: ['has():a/b.c-d_e', 'eof'] },
    { text: '!all( )&&global()||(x)', tokens: ['!', 'all()', '&&', 'global()', '||', '(', 'label:x', ')', 'eof'] },
    // Keywords are plain labels when they do not follow a label.
    { text: 'in in {}', tokens: ['label:in', 'in', '{', '}', 'eof'] },
    { text: 'contains contains ""', tokens: ['label:contains', 'contains', 'string:', 'eof'] },
    { text: 'has == "x"', tokens: ['label:has', '==', 'string:x', 'eof'] },
    { text: '9lives == "x"', tokens: ['label:9lives', '==', 'string:x', 'eof'] },
    { text: `a == "it's"`, tokens: ['label:a', '==', "string:it's", 'eof'] },
    { text: '', tokens: ['eof'] },
  ];
  for (const c of cases) {
    it(`tokenizes ${JSON.stringify(c.text)}`, () => {
      assert.deepEqual(kinds(c.text), c.tokens);
    });
  }

  it('records 0-based token offsets', () => {
    const r = tokenize('  a == "b"');
    assert.ok(r.ok);
    assert.deepEqual(
      r.tokens.map((t) => t.start),
      [2, 4, 7, 10],
    );
  });

  const errors: Array<{ text: string; message: RegExp; offset: number }> = [
    { text: 'a = "x"', message: /^expected ==$/, offset: 2 },
    { text: 'a & b', message: /^expected &&$/, offset: 2 },
    { text: 'a | b', message: /^expected \|\|$/, offset: 2 },
    { text: 'a == "x', message: /^unterminated string$/, offset: 5 },
    { text: "a == 'x\"", message: /^unterminated string$/, offset: 5 },
    { text: 'a\n== "x"', message: /line break/, offset: 1 },
    { text: 'a IN {}', message: /^expected operator after label "a".*found "IN"/, offset: 2 },
    { text: 'a inx {}', message: /^expected operator after label "a"/, offset: 2 },
    { text: 'has()', message: /^expected identifier in has\(/, offset: 4 },
    { text: 'has(a b)', message: /^no closing '\)' after has\($/, offset: 6 },
    { text: 'all(x)', message: /^no closing '\)' after all\($/, offset: 4 },
    { text: 'global(', message: /^no closing '\)' after global\($/, offset: 7 },
    { text: '#a == "x"', message: /^expected identifier, found "#"$/, offset: 0 },
  ];
  for (const c of errors) {
    it(`rejects ${JSON.stringify(c.text)}`, () => {
      const r = tokenize(c.text);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.match(r.error.message, c.message);
      assert.equal(r.error.offset, c.offset);
    });
  }

  const labelKeys: Array<[string, boolean]> = [
    ['projectcalico.org/namespace', true],
    ['a'.repeat(512), true],
    ['a'.repeat(513), false],
    ['', false],
    ['a b', false],
    ['ä', false],
  ];
  for (const [key, valid] of labelKeys) {
    it(`isValidLabelKey(${JSON.stringify(key.length > 20 ? `${key.slice(0, 8)}…(${key.length})` : key)}) is ${valid}`, () => {
      assert.equal(isValidLabelKey(key), valid);
    });
  }
});
