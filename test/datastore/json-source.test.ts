import { strict as assert } from 'node:assert';
import { parseYamlDocuments, validateDocuments, type FieldPath } from '../../src/config';
import { parseJsonResource } from '../../src/datastore/json-source';

const resources: unknown[] = [
  {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: 'edge.web', labels: { 'a/b': 'c' }, annotations: {} },
    spec: {
      tier: 'edge',
      order: 10.5,
      selector: "role == 'wan' && has(x",
      types: ['Ingress'],
      ingress: [
        { action: 'Allw', protocol: 'TCPP', source: { nets: ['10.0.0.0/33'] }, destination: { ports: [80, '1024:2048', 70000] } },
        { action: 'Deny', notProtocol: null, icmp: { type: 300 } },
      ],
      egress: [],
      escaped: 'tab\there "quoted"',
    },
  },
  { apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name: 'Bad_Name' }, spec: { node: 'r1', interfaceName: 'eth0/x', expectedIPs: ['1.2.3.4', 'nope'], unknown: true } },
  { apiVersion: 'v1', kind: 'Tier', metadata: {}, spec: { order: -1, defaultAction: 'Maybe' } },
];

/** Every path in a value, plus ones that do not exist below each map and list. */
function paths(v: unknown, prefix: (string | number)[] = []): FieldPath[] {
  const out: FieldPath[] = [prefix, [...prefix, 'missing'], [...prefix, 7]];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

describe('datastore: JSON fast path', () => {
  for (const [style, indent] of [['pretty', 2], ['compact', 0]] as const) {
    it(`locates every field exactly as the YAML reader does (${style} JSON)`, () => {
      for (const r of resources) {
        const text = JSON.stringify(r, null, indent);
        const fast = parseJsonResource(text, 'k');
        const slow = parseYamlDocuments(text, 'k').documents[0];
        assert.ok(fast && slow);
        assert.deepEqual(fast.value, slow.value);
        for (const p of paths(r)) {
          for (const options of [{}, { key: true }, { offset: 3 }, { offset: 0 }, { offset: 999 }]) {
            assert.deepEqual(fast.locate(p, options), slow.locate(p, options), `${JSON.stringify(p)} ${JSON.stringify(options)}`);
          }
        }
      }
    });
  }

  it('gives the validator the same issues as the YAML reader', () => {
    const texts = resources.map((r) => JSON.stringify(r, null, 2));
    const fast = validateDocuments(texts.map((t, i) => parseJsonResource(t, `k${i}`)!));
    const slow = validateDocuments(texts.flatMap((t, i) => parseYamlDocuments(t, `k${i}`).documents));
    assert.ok(slow.issues.length > 10);
    assert.deepEqual(fast.issues, slow.issues);
  });

  it('leaves anything unusual to the YAML reader', () => {
    assert.equal(parseJsonResource('kind: Tier\n', 'k'), null);
    assert.equal(parseJsonResource('{"kind": "Tier", "kind": "Profile"}', 'k'), null);
    assert.equal(parseJsonResource('{"kind": "TierList", "items": []}', 'k'), null);
    assert.equal(parseJsonResource('[{"kind": "Tier"}]', 'k'), null);
    assert.equal(parseJsonResource('{"kind": "Tier",}', 'k'), null);
    let deep = '1';
    for (let i = 0; i < 40; i++) deep = `{"a": ${deep}}`;
    assert.equal(parseJsonResource(deep, 'k'), null);
    assert.ok(parseJsonResource(' \n{"kind": "Tier", "a\\u0062": {"x": []}}\n', 'k'));
  });
});
