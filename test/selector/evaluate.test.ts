import { strict as assert } from 'node:assert';

import { ALL_SELECTOR, parseSelector, type Labels, type Selector } from '../../src/selector';

function sel(text: string): Selector {
  const r = parseSelector(text);
  if (!r.ok) throw new Error(`${JSON.stringify(text)} did not parse: ${r.error.message} (column ${r.error.column})`);
  return r.selector;
}

const NONE: Labels = {};
const WAN: Labels = { network: 'wan', role: 'edge-router', env: 'prod' };

describe('selector evaluation', () => {
  const cases: Array<{ selector: string; labels: Labels; expect: boolean; why?: string }> = [
    // all() / global() / empty
    { selector: 'all()', labels: NONE, expect: true },
    { selector: '', labels: NONE, expect: true, why: 'empty selector is all()' },
    { selector: '  ', labels: WAN, expect: true, why: 'blank selector is all()' },
    { selector: 'global()', labels: WAN, expect: true },
    { selector: '!all()', labels: WAN, expect: false, why: 'matches nothing' },
    { selector: '!all()', labels: NONE, expect: false, why: 'matches nothing' },
    // has
    { selector: 'has(network)', labels: WAN, expect: true },
    { selector: 'has(network)', labels: NONE, expect: false },
    { selector: 'has(network)', labels: { network: '' }, expect: true, why: 'an empty value is still present' },
    { selector: '!has(network)', labels: NONE, expect: true },
    { selector: 'has(constructor)', labels: NONE, expect: false, why: 'inherited members are not labels' },
    { selector: 'has(toString)', labels: { toString: 'x' }, expect: true },
    // ==
    { selector: 'network == "wan"', labels: WAN, expect: true },
    { selector: 'network == "lan"', labels: WAN, expect: false },
    { selector: 'network == "wan"', labels: NONE, expect: false, why: 'absent label' },
    { selector: 'network == ""', labels: NONE, expect: false, why: 'absent is not empty' },
    { selector: 'network == ""', labels: { network: '' }, expect: true },
    { selector: 'network == "WAN"', labels: WAN, expect: false, why: 'case-sensitive' },
    // !=
    { selector: 'network != "lan"', labels: WAN, expect: true },
    { selector: 'network != "wan"', labels: WAN, expect: false },
    { selector: 'network != "wan"', labels: NONE, expect: true, why: 'true when absent' },
    // in / not in
    { selector: 'network in {"lan", "wan"}', labels: WAN, expect: true },
    { selector: 'network in {"lan", "dmz"}', labels: WAN, expect: false },
    { selector: 'network in {"wan"}', labels: NONE, expect: false, why: 'absent label' },
    { selector: 'network in {}', labels: WAN, expect: false, why: 'empty set never matches' },
    { selector: 'network not in {"lan"}', labels: WAN, expect: true },
    { selector: 'network not in {"wan", "lan"}', labels: WAN, expect: false },
    { selector: 'network not in {"wan"}', labels: NONE, expect: true, why: 'true when absent' },
    { selector: 'network not in {}', labels: WAN, expect: true, why: 'empty set: always true' },
    { selector: 'network not in {}', labels: NONE, expect: true },
    // contains / starts with / ends with
    { selector: 'role contains "router"', labels: WAN, expect: true },
    { selector: 'role contains "switch"', labels: WAN, expect: false },
    { selector: 'role contains ""', labels: WAN, expect: true, why: '"" matches any present value' },
    { selector: 'role contains ""', labels: NONE, expect: false, why: '"" needs the label present' },
    { selector: 'role starts with "edge"', labels: WAN, expect: true },
    { selector: 'role starts with "router"', labels: WAN, expect: false },
    { selector: 'role starts with ""', labels: { role: '' }, expect: true },
    { selector: 'role starts with "edge"', labels: NONE, expect: false },
    { selector: 'role ends with "router"', labels: WAN, expect: true },
    { selector: 'role ends with "edge"', labels: WAN, expect: false },
    { selector: 'role ends with ""', labels: NONE, expect: false },
    { selector: 'role contains "Router"', labels: WAN, expect: false, why: 'case-sensitive' },
    // boolean logic and precedence
    { selector: 'network == "wan" && env == "prod"', labels: WAN, expect: true },
    { selector: 'network == "wan" && env == "dev"', labels: WAN, expect: false },
    { selector: 'network == "lan" || env == "prod"', labels: WAN, expect: true },
    { selector: '!network == "wan"', labels: WAN, expect: false, why: '! binds looser than ==' },
    { selector: '!!network == "wan"', labels: WAN, expect: true, why: 'even number of ! cancels' },
    { selector: '!(network == "lan" || env == "dev")', labels: WAN, expect: true },
    { selector: '!has(a) || a starts with \'p\' && r in {\'x\'}', labels: { a: 'q' }, expect: false, why: '&& binds tighter than ||' },
    { selector: '!has(a) || a starts with \'p\' && r in {\'x\'}', labels: { a: 'pp', r: 'x' }, expect: true },
    { selector: '!has(a) || a starts with \'p\' && r in {\'x\'}', labels: {}, expect: true },
    { selector: '(!has(a) || a starts with \'p\') && r in {\'x\'}', labels: {}, expect: false, why: 'explicit grouping differs' },
    { selector: 'a == "1" || b == "2" && c == "3"', labels: { a: '1' }, expect: true },
    // odd but valid spellings
    { selector: '9lives == "yes"', labels: { '9lives': 'yes' }, expect: true },
    { selector: 'in in {"in"}', labels: { in: 'in' }, expect: true },
    { selector: `quote == '"'`, labels: { quote: '"' }, expect: true },
    { selector: `quote == "'"`, labels: { quote: "'" }, expect: true },
    { selector: 'projectcalico.org/name == "eth0"', labels: { 'projectcalico.org/name': 'eth0' }, expect: true },
  ];

  for (const c of cases) {
    const title = `${JSON.stringify(c.selector)} on ${JSON.stringify(c.labels)} → ${c.expect}${c.why ? ` (${c.why})` : ''}`;
    it(title, () => {
      assert.equal(sel(c.selector).matches(c.labels), c.expect);
    });
  }

  it('ALL_SELECTOR matches everything and is canonical all()', () => {
    assert.equal(ALL_SELECTOR.matches(NONE), true);
    assert.equal(ALL_SELECTOR.matches(WAN), true);
    assert.equal(ALL_SELECTOR.canonical, 'all()');
  });

  it('works on label maps without a prototype', () => {
    const labels = Object.assign(Object.create(null) as Record<string, string>, { network: 'wan' });
    assert.equal(sel('network == "wan" && !has(hasOwnProperty)').matches(labels), true);
  });

  it('a selector and the parse of its canonical form agree on every label map', () => {
    const texts = [
      '!has(a) || a starts with \'p\' && r in {\'x\'}',
      'a not in {"1", "2"} && !(b ends with "z" || c contains "q")',
      '!(a != "1") && !!has(b)',
    ];
    const maps: Labels[] = [{}, { a: '1' }, { a: '2', b: 'xz' }, { a: 'p', r: 'x' }, { b: 'y', c: 'q' }, { a: '1', b: '' }];
    for (const text of texts) {
      const original = sel(text);
      const reparsed = sel(original.canonical);
      assert.equal(reparsed.canonical, original.canonical);
      for (const m of maps) assert.equal(reparsed.matches(m), original.matches(m), `${text} on ${JSON.stringify(m)}`);
    }
  });
});
