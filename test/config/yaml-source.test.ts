import { strict as assert } from 'node:assert';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { formatFieldPath, parseYamlDocuments, rawDocumentsFromNode, validateDocuments } from '../../src/config';
import { assertIssues, runYaml } from './config-helpers';

const HEP = (name: string, indent = ''): string =>
  [`apiVersion: projectcalico.org/v3`, `kind: HostEndpoint`, `metadata:`, `  name: ${name}`, `spec:`, `  node: gw1`, `  interfaceName: eth0`]
    .map((l) => indent + l)
    .join('\n');

describe('config: YAML source positions', () => {
  const text = [
    'apiVersion: projectcalico.org/v3', // 1
    'kind: GlobalNetworkPolicy', // 2
    'metadata:', // 3
    '  name: p', // 4
    'spec:', // 5
    '  ingress:', // 6
    '    - action: Allow', // 7
    '      destination:', // 8
    '        ports: [22, "80",   https]', // 9
    '        nets:', // 10
    '          - 10.0.0.0/8', // 11
    "  selector: 'a == ''b'' && c'", // 12
    '  order:', // 13
  ].join('\n');
  const doc = parseYamlDocuments(text, 'p.yaml').documents[0]!;

  it('locates a scalar value', () => {
    assert.deepEqual(doc.locate(['spec', 'ingress', 0, 'action']), { file: 'p.yaml', line: 7, column: 15, path: 'spec.ingress[0].action' });
  });

  it('locates items of a flow sequence', () => {
    const loc = doc.locate(['spec', 'ingress', 0, 'destination', 'ports', 2]);
    assert.deepEqual([loc.line, loc.column, loc.path], [9, 29, 'spec.ingress[0].destination.ports[2]']);
  });

  it('locates items of a block sequence', () => {
    assert.deepEqual([doc.locate(['spec', 'ingress', 0, 'destination', 'nets', 0]).line], [11]);
  });

  it('points at the key of a block collection', () => {
    const loc = doc.locate(['spec', 'ingress', 0, 'destination']);
    assert.deepEqual([loc.line, loc.column], [8, 7]);
  });

  it('points at the key when asked (unknown fields)', () => {
    const loc = doc.locate(['spec', 'ingress', 0, 'action'], { key: true });
    assert.deepEqual([loc.line, loc.column], [7, 7]);
  });

  it('falls back to the nearest existing parent', () => {
    const loc = doc.locate(['spec', 'ingress', 0, 'destination', 'notPorts', 3]);
    assert.deepEqual([loc.line, loc.column, loc.path], [8, 7, 'spec.ingress[0].destination.notPorts[3]']);
    assert.equal(doc.locate(['spec', 'types']).line, 5);
    assert.equal(doc.locate(['nothing', 'here']).line, 1);
  });

  it('a key without a value is located at the key', () => {
    assert.equal(doc.locate(['spec', 'order']).line, 13);
  });

  it('maps an offset inside a single-quoted scalar with escaped quotes', () => {
    // value: a == 'b' && c ("c" is character 12); written 'a == ''b'' && c' from column 13
    const loc = doc.locate(['spec', 'selector'], { offset: 12 });
    assert.deepEqual([loc.line, loc.column], [12, 13 + 1 + 12 + 2]);
  });

  it('an offset in a scalar with escapes falls back to the scalar start', () => {
    const d = parseYamlDocuments('a: "x\\ty z"\n', 'f.yaml').documents[0]!;
    assert.equal(d.locate(['a'], { offset: 4 }).column, 4);
  });

  it('formats field paths', () => {
    assert.equal(formatFieldPath(['spec', 'ingress', 0, 'destination', 'ports', 1]), 'spec.ingress[0].destination.ports[1]');
    assert.equal(formatFieldPath(['metadata', 'labels', 'example.com/role']), 'metadata.labels["example.com/role"]');
    assert.equal(formatFieldPath([3, 'spec']), '[3].spec');
    assert.equal(formatFieldPath([]), '');
  });
});

describe('config: YAML documents', () => {
  it('reads several documents per file, skipping empty ones', () => {
    const text = `${HEP('a')}\n---\n# just a comment\n---\n${HEP('b')}\n---\n`;
    const r = parseYamlDocuments(text, 'f.yaml');
    assert.deepEqual(r.issues, []);
    assert.equal(r.documents.length, 2);
    assert.equal(r.documents[1]!.locate(['metadata', 'name']).line, 14);
  });

  it('empty text has no documents', () => {
    assert.deepEqual(parseYamlDocuments('', 'f.yaml'), { documents: [], issues: [] });
  });

  it('expands kind: List into items with their own paths and lines', () => {
    const text = ['apiVersion: v1', 'kind: List', 'items:', `- ${HEP('a', '  ').trimStart()}`, `- ${HEP('b', '  ').trimStart()}`].join('\n');
    const r = parseYamlDocuments(text, 'list.yaml');
    assert.deepEqual(r.issues, []);
    assert.equal(r.documents.length, 2);
    const loc = r.documents[1]!.locate(['spec', 'node']);
    assert.deepEqual([loc.line, loc.path], [16, 'items[1].spec.node']);
    const v = validateDocuments(r.documents);
    assertIssues(v.issues, []);
    assert.deepEqual(v.resources.hostEndpoints.map((h) => h.name), ['a', 'b']);
  });

  it('expands a typed list whose items omit kind and apiVersion', () => {
    const text = 'apiVersion: projectcalico.org/v3\nkind: TierList\nitems:\n- metadata: {name: a}\n  spec: {order: 1}\n- metadata: {name: b}\n';
    const r = runYaml(text);
    assertIssues(r.all, []);
    assert.deepEqual(r.resources.tiers.map((t) => t.name), ['a', 'b', 'default']);
  });

  it('a typed list refuses other kinds', () => {
    const r = runYaml('apiVersion: projectcalico.org/v3\nkind: TierList\nitems:\n- kind: Profile\n  metadata: {name: a}\n');
    assertIssues(r.all, ['NFQ_CFG_KIND_UNKNOWN@items[0].kind']);
  });

  it('checks the List wrapper', () => {
    const r = runYaml('apiVersion: projectcalico.org/v2\nkind: List\nmetadata: {}\nextra: 1\nitems: {}\n');
    assertIssues(r.all, ['NFQ_CFG_API_VERSION@apiVersion', 'NFQ_CFG_UNKNOWN_FIELD@extra', 'NFQ_CFG_NOT_A_RESOURCE@items']);
  });

  it('an empty List is fine', () => {
    assertIssues(runYaml('apiVersion: v1\nkind: List\nitems: []\n').all, []);
  });

  it('accepts a top-level sequence of resources', () => {
    const r = runYaml(`- ${HEP('a', '  ').trimStart()}\n- ${HEP('b', '  ').trimStart()}\n`);
    assertIssues(r.all, []);
    assert.equal(r.resources.hostEndpoints.length, 2);
  });

  it('reports a syntax error with its line and keeps the other documents', () => {
    const text = `${HEP('a')}\n---\nkind: [\n---\n${HEP('b')}\n`;
    const r = parseYamlDocuments(text, 'f.yaml');
    assert.equal(r.documents.length, 2);
    assert.equal(r.issues.length, 1);
    assert.equal(r.issues[0]!.code, 'NFQ_CFG_YAML_SYNTAX');
    assert.ok(r.issues[0]!.location.line >= 9 && r.issues[0]!.location.line <= 10, String(r.issues[0]!.location.line));
    assert.ok(r.issues[0]!.location.column !== undefined);
  });

  it('duplicate keys are a syntax error', () => {
    const r = parseYamlDocuments('a: 1\nb: 2\na: 3\n', 'f.yaml');
    assert.deepEqual(r.issues.map((i) => [i.code, i.location.line]), [['NFQ_CFG_YAML_SYNTAX', 3]]);
    assert.equal(r.documents.length, 0);
  });

  it('unknown tags are a warning', () => {
    const r = parseYamlDocuments('a: !custom 1\n', 'f.yaml');
    assert.deepEqual(r.issues.map((i) => [i.code, i.severity]), [['NFQ_CFG_YAML_WARNING', 'warning']]);
  });

  it('YAML 1.2: yes is a string, not a boolean', () => {
    const r = runYaml('apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec: {applyOnForward: yes}\n');
    assertIssues(r.all, ['NFQ_CFG_TYPE@spec.applyOnForward']);
  });

  it('an unquoted port range stays a string', () => {
    const r = runYaml('apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress: [{action: Allow, protocol: TCP, destination: {ports: [1024:2048]}}]\n');
    assertIssues(r.all, []);
    assert.deepEqual(r.resources.policies[0]!.ingress[0]!.destination.ports, [{ kind: 'range', min: 1024, max: 2048 }]);
  });

  it('aliases are expanded', () => {
    const text = 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress:\n  - &r {action: Allow, protocol: TCP}\n  egress:\n  - *r\n';
    const r = runYaml(text);
    assertIssues(r.all, []);
    assert.equal(r.resources.policies[0]!.egress[0]!.protocol, 6);
  });

  it('refuses an alias bomb', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [n, p] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd']]) lines.push(`${n}: &${n} [${Array(9).fill(`*${p}`).join(',')}]`);
    const r = parseYamlDocuments(lines.join('\n'), 'bomb.yaml');
    assert.deepEqual(r.issues.map((i) => i.code), ['NFQ_CFG_YAML_LIMIT']);
    assert.equal(r.documents.length, 0);
  });

  it('refuses text over the size limit', () => {
    const r = parseYamlDocuments(`${HEP('a')}\n`, 'big.yaml', { maxBytes: 50 });
    assert.deepEqual(r.issues.map((i) => [i.code, i.location.line]), [['NFQ_CFG_FILE_TOO_LARGE', 1]]);
  });

  it('refuses absurd flow nesting before parsing', () => {
    const r = parseYamlDocuments(`a: 1\nb: ${'['.repeat(30000)}\n`, 'deep.yaml');
    assert.deepEqual(r.issues.map((i) => [i.code, i.location.line]), [['NFQ_CFG_YAML_LIMIT', 2]]);
  });

  it('a collection used as a key is an unknown field, without process warnings', () => {
    const original = process.emitWarning;
    let warned = 0;
    process.emitWarning = (() => {
      warned++;
    }) as typeof process.emitWarning;
    try {
      const r = runYaml('apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t}\nspec:\n  ? {order: 1}\n  : 2\n');
      assert.deepEqual(r.all.map((i) => i.code), ['NFQ_CFG_UNKNOWN_FIELD']);
    } finally {
      process.emitWarning = original;
    }
    assert.equal(warned, 0);
  });

  it('documents that are not maps are reported', () => {
    const r = runYaml('42\n---\n"text"\n');
    assertIssues(r.all, ['NFQ_CFG_NOT_A_RESOURCE@', 'NFQ_CFG_NOT_A_RESOURCE@']);
  });
});

describe('config: resources embedded in a larger YAML file', () => {
  const text = [
    'cases:', // 1
    '- id: A', // 2
    '  resources:', // 3
    '  - apiVersion: projectcalico.org/v3', // 4
    '    kind: HostEndpoint', // 5
    '    metadata: {name: h}', // 6
    '    spec:', // 7
    '      interfaceName: eth0', // 8
    '  - &shared', // 9
    '    apiVersion: projectcalico.org/v3', // 10
    '    kind: Tier', // 11
    '    metadata: {name: t}', // 12
    '- id: B', // 13
    '  resources:', // 14
    '  - *shared', // 15
  ].join('\n');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const cases = doc.get('cases');
  assert.ok(isSeq(cases));

  it('reports real lines and prefixed paths', () => {
    const first = cases.items[0];
    assert.ok(isMap(first));
    const resources = first.get('resources', true);
    assert.ok(resources && isSeq(resources));
    const raw = rawDocumentsFromNode(resources, lineCounter, 'cases.yaml', { doc, pathPrefix: ['cases', 0, 'resources'] });
    assert.equal(raw.documents.length, 2);
    const v = validateDocuments(raw.documents);
    assert.deepEqual(
      v.issues.map((i) => [i.code, i.location.file, i.location.line, i.location.path]),
      [['NFQ_CFG_REQUIRED', 'cases.yaml', 7, 'cases[0].resources[0].spec.node']],
    );
  });

  it('resolves aliases through the given document', () => {
    const second = cases.items[1];
    assert.ok(isMap(second));
    const resources = second.get('resources', true);
    assert.ok(resources && isSeq(resources));
    const raw = rawDocumentsFromNode(resources, lineCounter, 'cases.yaml', { doc });
    const v = validateDocuments(raw.documents);
    assertIssues([...raw.issues, ...v.issues], []);
    assert.ok(v.resources.tiers.some((t) => t.name === 't'));
  });
});
