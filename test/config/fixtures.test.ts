import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { loadResourceDir, parseYamlDocuments, rawDocumentsFromNode, validateDocuments } from '../../src/config';
import { formatIssue } from '../../src/errors';

/** Repository root (tests run from dist/test/config). */
const ROOT = path.resolve(__dirname, '..', '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'config');

describe('config: fixture directories', () => {
  it('good/ validates without a single issue', async () => {
    const r = await loadResourceDir(path.join(FIXTURES, 'good'));
    assert.deepEqual(r.issues.map(formatIssue), []);
    assert.deepEqual(r.counts, {
      GlobalNetworkPolicy: 4,
      HostEndpoint: 4,
      WorkloadEndpoint: 0,
      GlobalNetworkSet: 2,
      Tier: 3,
      Profile: 1,
      FelixConfiguration: 1,
    });
    const { resources } = r;
    assert.deepEqual(resources.felix.failsafeInboundHostPorts, [
      { protocol: 'tcp', port: 22, net: '192.168.0.0/24' },
      { protocol: 'udp', port: 68 },
    ]);
    assert.deepEqual(resources.networkSets.find((n) => n.name === 'partners')?.nets, ['198.51.100.7/32', '192.0.2.128/25']);
    const seed = resources.policies.find((p) => p.name === 'allow-ssh-maintenance');
    assert.deepEqual([seed?.tier, seed?.types, seed?.applyOnForward], ['default', ['Egress'], true]);
  });

  it('bad/ reports every mistake with its line, in one pass', async () => {
    const r = await loadResourceDir(path.join(FIXTURES, 'bad'));
    const found = r.issues.map((i) => [path.basename(i.location.file), i.location.line, i.code]);
    assert.deepEqual(found, [
      ['broken.yaml', 4, 'NFQ_CFG_YAML_SYNTAX'],
      ['broken.yaml', 14, 'NFQ_CFG_RESERVED_LABEL'],
      ['felix.yaml', 6, 'NFQ_CFG_FELIX_NO_EFFECT'],
      ['felix.yaml', 10, 'NFQ_CFG_FAILSAFE'],
      ['hosts.yaml', 8, 'NFQ_CFG_REQUIRED'],
      ['hosts.yaml', 18, 'NFQ_CFG_INTERFACE_NAME'],
      ['hosts.yaml', 19, 'NFQ_CFG_PROFILE_MISSING'],
      ['hosts.yaml', 22, 'NFQ_CFG_KIND_UNKNOWN'],
      ['more-hosts.yml', 11, 'NFQ_CFG_IP_ADDRESS'],
      ['more-hosts.yml', 15, 'NFQ_CFG_DUPLICATE_NAME'],
      ['policies.yaml', 6, 'NFQ_CFG_SELECTOR'],
      ['policies.yaml', 13, 'NFQ_CFG_CIDR'],
      ['policies.yaml', 29, 'NFQ_CFG_PREDNAT_EGRESS'],
      ['policies.yaml', 38, 'NFQ_CFG_UNKNOWN_FIELD'],
      ['policies.yaml', 43, 'NFQ_CFG_MIXED_IP_FAMILIES'],
      ['policies.yaml', 45, 'NFQ_CFG_PROTOCOL'],
      ['policies.yaml', 48, 'NFQ_CFG_PORT_PROTOCOL'],
      ['policies.yaml', 52, 'NFQ_CFG_ICMP_CODE_WITHOUT_TYPE'],
      ['policies.yaml', 55, 'NFQ_CFG_NOTNETS_CATCH_ALL'],
      ['policies.yaml', 56, 'NFQ_CFG_RULE_ACTION'],
      ['policies.yaml', 63, 'NFQ_CFG_TIER_MISSING'],
    ]);
    // Every mistake line of the fixtures is marked, and every marked line is reported.
    const marked: [string, number][] = [];
    for (const f of r.files) {
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((l, i) => {
          if (l.includes('# MISTAKE')) marked.push([path.basename(f), i + 1]);
        });
    }
    const reported = new Set(found.map(([f, l]) => `${f}:${l}`));
    // The YAML syntax error is reported on the line above the bad indentation.
    for (const [f, l] of marked) assert.ok(reported.has(`${f}:${l}`) || reported.has(`${f}:${l - 1}`), `${f}:${l} is not reported`);
    assert.equal(r.issues.filter((i) => i.severity === 'error').length, 19);
  });
});

describe('config: conformance case resources', () => {
  it('every case in test/conformance/cases.yaml validates cleanly', () => {
    const file = path.join(ROOT, 'test', 'conformance', 'cases.yaml');
    const lineCounter = new LineCounter();
    const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter });
    const cases = doc.get('cases');
    assert.ok(isSeq(cases));
    const problems: string[] = [];
    cases.items.forEach((c, i) => {
      assert.ok(isMap(c));
      const res = c.get('resources', true);
      assert.ok(res && isSeq(res));
      const raw = rawDocumentsFromNode(res, lineCounter, 'cases.yaml', { doc, pathPrefix: ['cases', i, 'resources'] });
      const v = validateDocuments(raw.documents, { nodeName: 'gw1' });
      problems.push(...[...raw.issues, ...v.issues].map(formatIssue));
    });
    assert.ok(cases.items.length > 50);
    assert.deepEqual(problems, []);
  });
});

describe('config: robustness', () => {
  it('never throws on mangled versions of the valid fixtures', () => {
    const texts = ['00-tiers.yaml', '10-seed.yaml', '20-hosts.yaml', '30-netsets.yml', '40-policies.yaml', '50-felix-and-profile.yaml'].map((f) =>
      readFileSync(path.join(FIXTURES, 'good', f), 'utf8'),
    );
    // Small seeded PRNG (mulberry32) so a failure is reproducible.
    let seed = 0x5eed;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const alphabet = ' \n-:[]{}\'"#&*!|>,.0123456789abcXYZ/';
    for (let round = 0; round < 400; round++) {
      let text = texts[round % texts.length]!;
      const edits = 1 + Math.floor(rand() * 6);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * text.length);
        const ch = alphabet[Math.floor(rand() * alphabet.length)]!;
        const op = rand();
        text = op < 0.4 ? text.slice(0, at) + text.slice(at + 1) : op < 0.8 ? text.slice(0, at) + ch + text.slice(at) : text.slice(0, at) + ch + text.slice(at + 1);
      }
      const parsed = parseYamlDocuments(text, `mangled-${round}.yaml`);
      const v = validateDocuments(parsed.documents);
      for (const i of [...parsed.issues, ...v.issues]) {
        assert.ok(i.location.line >= 1, `round ${round}: ${formatIssue(i)}`);
        assert.match(i.code, /^NFQ_CFG_/);
      }
    }
  });
});
