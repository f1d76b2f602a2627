import { strict as assert } from 'node:assert';
import { summariseRuleset } from '../../src/lab/lab';
import { dnatRuleset, labNames, labNamespaces, labPrefixProblem, labUpSteps } from '../../src/lab/topology';

describe('lab/topology', () => {
  const names = labNames('nfqw');

  it('names the four namespaces after the prefix', () => {
    assert.deepEqual(labNamespaces(names), ['nfqw-router', 'nfqw-app', 'nfqw-maint', 'nfqw-wl']);
  });

  const prefixes: Array<[string, boolean]> = [
    ['nfqw', true],
    ['t1a2b3c4', true],
    ['a', true],
    ['abcdefghijkl', true],
    ['abcdefghijklm', false],
    ['', false],
    ['1lab', false],
    ['Lab', false],
    ['my-lab', false],
    ['a/b', false],
  ];
  for (const [prefix, ok] of prefixes) {
    it(`${ok ? 'accepts' : 'rejects'} the prefix "${prefix}"`, () => {
      assert.equal(labPrefixProblem(prefix) === undefined, ok);
    });
  }

  it('never touches the host namespace: every step after creating the namespaces runs inside one', () => {
    const steps = labUpSteps(names, { dnat: true });
    const own = new Set(labNamespaces(names));
    const [creates, rest] = [steps.slice(0, 4), steps.slice(4)];
    assert.deepEqual(
      creates.map((s) => s.argv),
      labNamespaces(names).map((ns) => ['ip', 'netns', 'add', ns]),
    );
    for (const { argv } of rest) {
      const ns = argv[1] === '-n' ? argv[2] : argv[1] === 'netns' && argv[2] === 'exec' ? argv[3] : undefined;
      assert.ok(ns !== undefined && own.has(ns), `step runs outside the lab: ${argv.join(' ')}`);
      // A veth's peer must be created directly in a lab namespace, never in the caller's.
      const peer = argv.indexOf('peer');
      if (peer >= 0) assert.ok(own.has(argv[argv.indexOf('netns', peer) + 1] ?? ''), argv.join(' '));
    }
  });

  it('adds the DNAT table only when asked', () => {
    const has = (dnat: boolean) => labUpSteps(names, { dnat }).some((s) => s.input === dnatRuleset());
    assert.equal(has(true), true);
    assert.equal(has(false), false);
    assert.match(dnatRuleset(), /ip daddr 10\.10\.0\.1 tcp dport 8080 dnat to 10\.20\.0\.2:80/);
  });

  it('finds nfqwall tables, NFQWALL chains, queue rules and the lab DNAT table in nft JSON', () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        { table: { family: 'ip', name: 'lab_dnat' } },
        { table: { family: 'inet', name: 'nfqwall' } },
        { table: { family: 'ip', name: 'filter' } },
        { chain: { family: 'ip', table: 'filter', name: 'NFQWALL-FORWARD' } },
        { chain: { family: 'ip', table: 'filter', name: 'FORWARD' } },
        { rule: { expr: [{ counter: {} }, { xt: { type: 'target', name: 'NFQUEUE' } }] } },
        { rule: { expr: [{ queue: { num: 3 } }] } },
        { rule: { expr: [{ accept: null }] } },
      ],
    });
    assert.deepEqual(summariseRuleset(json), {
      dnat: true,
      nfqwall: { present: true, tables: ['inet nfqwall'], chains: ['ip filter NFQWALL-FORWARD'], queueRules: 2 },
    });
    assert.deepEqual(summariseRuleset('{"nftables":[{"metainfo":{}}]}'), {
      dnat: false,
      nfqwall: { present: false, tables: [], chains: [], queueRules: 0 },
    });
  });
});
