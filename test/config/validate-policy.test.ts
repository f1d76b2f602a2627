import { strict as assert } from 'node:assert';
import { defaultPolicyTypes, type PolicyType } from '../../src/config';
import { assertIssues, gnp, resource, run, runYaml } from './config-helpers';

interface PolicyCase {
  name: string;
  docs: unknown[];
  issues: string[];
}

const allow = [{ action: 'Allow' }];

const cases: PolicyCase[] = [
  { name: 'empty spec is valid', docs: [gnp({})], issues: [] },
  { name: 'no spec at all is valid', docs: [resource('GlobalNetworkPolicy', 'p')], issues: [] },
  { name: 'unknown spec field', docs: [gnp({ selektor: 'all()' })], issues: ['NFQ_CFG_UNKNOWN_FIELD@spec.selektor'] },
  { name: 'order must be a number', docs: [gnp({ order: 'first' })], issues: ['NFQ_CFG_TYPE@spec.order'] },
  { name: 'applyOnForward must be a boolean', docs: [gnp({ applyOnForward: 'yes' })], issues: ['NFQ_CFG_TYPE@spec.applyOnForward'] },

  // names
  { name: 'name with one tier prefix', docs: [gnp({}, 'default.allow-ssh')], issues: [] },
  { name: 'name with two dots', docs: [gnp({}, 'a.b.c')], issues: ['NFQ_CFG_NAME@metadata.name'] },
  { name: 'upper-case name', docs: [gnp({}, 'AllowSSH')], issues: ['NFQ_CFG_NAME@metadata.name'] },
  { name: 'name prefix other than the tier warns', docs: [gnp({}, 'security.x')], issues: ['NFQ_CFG_POLICY_NAME_TIER@metadata.name'] },
  { name: 'name prefix equal to the tier', docs: [resource('Tier', 'security', { order: 1 }), gnp({ tier: 'security' }, 'security.x')], issues: [] },
  { name: 'policy in a tier without prefix is fine (v3.32+)', docs: [resource('Tier', 'security', { order: 1 }), gnp({ tier: 'security' }, 'x')], issues: [] },

  // tiers
  { name: 'missing tier', docs: [gnp({ tier: 'security' })], issues: ['NFQ_CFG_TIER_MISSING@spec.tier'] },
  { name: 'tier defined after the policy', docs: [gnp({ tier: 'late' }), resource('Tier', 'late', {})], issues: [] },
  { name: 'the default tier is implicit', docs: [gnp({ tier: 'default' })], issues: [] },
  { name: 'tier name must be a name', docs: [gnp({ tier: 'Security' })], issues: ['NFQ_CFG_NAME@spec.tier'] },

  // types
  { name: 'types lower case', docs: [gnp({ types: ['ingress'] })], issues: ['NFQ_CFG_POLICY_TYPE@spec.types[0]'] },
  { name: 'unknown type', docs: [gnp({ types: ['Forward'] })], issues: ['NFQ_CFG_POLICY_TYPE@spec.types[0]'] },
  { name: 'duplicate type', docs: [gnp({ types: ['Ingress', 'Egress', 'Ingress'] })], issues: ['NFQ_CFG_DUPLICATE_TYPE@spec.types[2]'] },
  { name: 'types must be a list', docs: [gnp({ types: 'Ingress' })], issues: ['NFQ_CFG_TYPE@spec.types'] },

  // preDNAT / doNotTrack / applyOnForward
  { name: 'preDNAT ingress policy', docs: [gnp({ preDNAT: true, applyOnForward: true, ingress: allow })], issues: [] },
  { name: 'doNotTrack with both directions', docs: [gnp({ doNotTrack: true, applyOnForward: true, ingress: allow, egress: allow })], issues: [] },
  {
    name: 'preDNAT and doNotTrack',
    docs: [gnp({ preDNAT: true, doNotTrack: true, applyOnForward: true })],
    issues: ['NFQ_CFG_PREDNAT_DONOTTRACK@spec.preDNAT'],
  },
  { name: 'preDNAT with egress rules', docs: [gnp({ preDNAT: true, applyOnForward: true, egress: allow })], issues: ['NFQ_CFG_PREDNAT_EGRESS@spec.egress'] },
  {
    name: "preDNAT with 'Egress' type",
    docs: [gnp({ preDNAT: true, applyOnForward: true, types: ['Ingress', 'Egress'] })],
    issues: ['NFQ_CFG_PREDNAT_EGRESS@spec.types[1]'],
  },
  { name: 'preDNAT without applyOnForward', docs: [gnp({ preDNAT: true, ingress: allow })], issues: ['NFQ_CFG_APPLY_ON_FORWARD_REQUIRED@spec.preDNAT'] },
  {
    name: 'doNotTrack with applyOnForward false',
    docs: [gnp({ doNotTrack: true, applyOnForward: false, ingress: allow })],
    issues: ['NFQ_CFG_APPLY_ON_FORWARD_REQUIRED@spec.applyOnForward'],
  },

  // selectors
  { name: 'selector parses', docs: [gnp({ selector: "network in {'a', 'b'} && !has(skip)" })], issues: [] },
  { name: 'selector syntax error', docs: [gnp({ selector: "network == 'a' &&" })], issues: ['NFQ_CFG_SELECTOR@spec.selector'] },
  { name: 'global() in policy selector', docs: [gnp({ selector: 'global()' })], issues: ['NFQ_CFG_SELECTOR_GLOBAL@spec.selector'] },
  { name: 'selector longer than 1024', docs: [gnp({ selector: `a == '${'x'.repeat(1100)}'` })], issues: ['NFQ_CFG_TOO_LONG@spec.selector'] },
  { name: 'namespaceSelector is not supported', docs: [gnp({ namespaceSelector: "team == 'x'" })], issues: ['NFQ_CFG_UNSUPPORTED@spec.namespaceSelector'] },
  { name: 'empty namespaceSelector is fine', docs: [gnp({ namespaceSelector: '' })], issues: [] },
  { name: 'serviceAccountSelector is not supported', docs: [gnp({ serviceAccountSelector: 'all()' })], issues: ['NFQ_CFG_UNSUPPORTED@spec.serviceAccountSelector'] },
  { name: 'global() in policy namespaceSelector', docs: [gnp({ namespaceSelector: 'global()' })], issues: ['NFQ_CFG_SELECTOR_GLOBAL@spec.namespaceSelector'] },

  // performance hints
  { name: 'performance hint', docs: [gnp({ performanceHints: ['AssumeNeededOnEveryNode'] })], issues: [] },
  { name: 'unknown performance hint', docs: [gnp({ performanceHints: ['Fast'] })], issues: ['NFQ_CFG_INVALID_VALUE@spec.performanceHints[0]'] },
];

describe('config: GlobalNetworkPolicy', () => {
  for (const c of cases) {
    it(c.name, () => {
      const r = run(...c.docs);
      assertIssues(r.all, c.issues);
      if (!c.issues.some((i) => !i.startsWith('NFQ_CFG_POLICY_NAME_TIER'))) assert.equal(r.resources.policies.length, 1);
    });
  }

  describe('types defaulting (Q9)', () => {
    const rows: [string, Record<string, unknown>, PolicyType[]][] = [
      ['no rules -> Ingress', {}, ['Ingress']],
      ['ingress rules only -> Ingress', { ingress: allow }, ['Ingress']],
      ['egress rules only -> Egress', { egress: allow }, ['Egress']],
      ['both -> Ingress, Egress', { ingress: allow, egress: allow }, ['Ingress', 'Egress']],
      ['empty types list is defaulted', { types: [], egress: allow }, ['Egress']],
      ['empty rule lists count as none', { ingress: [], egress: [] }, ['Ingress']],
      ['explicit types are kept', { types: ['Egress'], ingress: allow }, ['Egress']],
      ['explicit order is kept', { types: ['Egress', 'Ingress'] }, ['Egress', 'Ingress']],
    ];
    for (const [name, spec, types] of rows) {
      it(name, () => {
        const r = run(gnp(spec));
        assertIssues(r.all, []);
        assert.deepEqual(r.resources.policies[0]!.types, types);
      });
    }
    it('defaultPolicyTypes', () => {
      assert.deepEqual(defaultPolicyTypes(false, false), ['Ingress']);
      assert.deepEqual(defaultPolicyTypes(true, true), ['Ingress', 'Egress']);
    });
  });

  it('defaults: tier default, selector empty, flags false, order absent', () => {
    const p = run(gnp({})).resources.policies[0]!;
    assert.deepEqual(
      { tier: p.tier, selector: p.selector, aof: p.applyOnForward, pre: p.preDNAT, dnt: p.doNotTrack, order: p.order, ingress: p.ingress, egress: p.egress },
      { tier: 'default', selector: '', aof: false, pre: false, dnt: false, order: undefined, ingress: [], egress: [] },
    );
  });

  it('keeps order and flags', () => {
    const p = run(gnp({ order: 10.5, preDNAT: true, applyOnForward: true, selector: 'has(a)' })).resources.policies[0]!;
    assert.deepEqual([p.order, p.preDNAT, p.applyOnForward, p.selector], [10.5, true, true, 'has(a)']);
  });

  it('order .nan is rejected', () => {
    const r = runYaml('apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  order: .nan\n');
    assertIssues(r.all, ['NFQ_CFG_INVALID_VALUE@spec.order']);
  });

  it('a selector error points at the column inside the value', () => {
    const text = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  selector: \"a == 'x' && b == y\"\n";
    const r = runYaml(text);
    assertIssues(r.all, ['NFQ_CFG_SELECTOR@spec.selector']);
    const loc = r.all[0]!.location;
    // The opening quote is at column 13; the bad token `y` is character 18 of the selector.
    assert.deepEqual([loc.line, loc.column], [5, 13 + 18]);
  });

  it('a global() error points at global( inside a single-quoted value', () => {
    const text = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  selector: 'a == ''x'' || global()'\n";
    const r = runYaml(text);
    const loc = r.all[0]!.location;
    // value starts at column 13 (the quote); "a == 'x' || " is 12 characters written as 14.
    assert.deepEqual([r.all[0]!.code, loc.line, loc.column], ['NFQ_CFG_SELECTOR_GLOBAL', 5, 13 + 1 + 14]);
  });

  it('a block-scalar selector gets a hint about the trailing newline', () => {
    const text = "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  selector: |\n    a == 'x'\n";
    const r = runYaml(text);
    assertIssues(r.all, ['NFQ_CFG_SELECTOR@spec.selector']);
    assert.match(r.all[0]!.message, /block scalar/);
  });
});
