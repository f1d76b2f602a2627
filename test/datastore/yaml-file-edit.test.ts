import { strict as assert } from 'node:assert';
import { parseAllDocuments } from 'yaml';
import { editYamlText } from '../../src/datastore';

const HEP = (name: string, extra = '') => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: ${name}${extra}
spec:
  node: r1
  interfaceName: eth0
`;

const values = (text: string): unknown[] => parseAllDocuments(text).map((d) => d.toJS());

describe('datastore: editing resources inside a YAML file', () => {
  const three = `# file header\n${HEP('a')}---\n# about b\n${HEP('b')}---\n${HEP('c', '  # c stays')}`;

  it('removes one document and keeps the others byte for byte', () => {
    const r = editYamlText(three, [{ ref: { kind: 'HostEndpoint', name: 'b' }, replacement: null }]);
    assert.equal(r.documents, 2);
    assert.deepEqual(r.found, [{ kind: 'HostEndpoint', name: 'b' }]);
    assert.equal(r.text, `# file header\n${HEP('a')}---\n${HEP('c', '  # c stays')}`);
  });

  it('removes the first document; the next one keeps its marker', () => {
    const r = editYamlText(three, [{ ref: { kind: 'HostEndpoint', name: 'a' }, replacement: null }]);
    assert.deepEqual(values(r.text).map((v) => (v as { metadata: { name: string } }).metadata.name), ['b', 'c']);
    assert.ok(r.text.includes('# about b') && r.text.includes('# c stays'));
  });

  it('replaces a document in place', () => {
    const next = { apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name: 'b' }, spec: { node: 'r2', interfaceName: 'eth1' } };
    const r = editYamlText(three, [{ ref: { kind: 'HostEndpoint', name: 'b' }, replacement: next }]);
    const v = values(r.text) as { metadata: { name: string }; spec: { node: string } }[];
    assert.deepEqual(v.map((x) => x.metadata.name), ['a', 'b', 'c']);
    assert.equal(v[1]!.spec.node, 'r2');
    assert.ok(r.text.startsWith(`# file header\n${HEP('a')}---\n`));
  });

  it('edits items of a List and of a typed list, keeping comments', () => {
    const list = `apiVersion: projectcalico.org/v3
kind: HostEndpointList
items:
  # first
  - metadata: {name: a}
    spec: {node: r1, interfaceName: eth0}
  - metadata: {name: b}  # second
    spec: {node: r1, interfaceName: eth1}
`;
    const r = editYamlText(list, [{ ref: { kind: 'HostEndpoint', name: 'a' }, replacement: null }]);
    const v = values(r.text)[0] as { items: { metadata: { name: string } }[] };
    assert.deepEqual(v.items.map((i) => i.metadata.name), ['b']);
    assert.ok(r.text.includes('# second'));
    const gone = editYamlText(r.text, [{ ref: { kind: 'HostEndpoint', name: 'b' }, replacement: null }]);
    assert.equal(gone.documents, 0);
    assert.equal(gone.text, '');
  });

  it('removes every further occurrence of a replaced resource', () => {
    const dup = `${HEP('a')}---\n${HEP('a')}---\n${HEP('b')}`;
    const next = { apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name: 'a' }, spec: { node: 'r9', interfaceName: 'eth9' } };
    const r = editYamlText(dup, [{ ref: { kind: 'HostEndpoint', name: 'a' }, replacement: next }]);
    const v = values(r.text) as { metadata: { name: string }; spec: { node: string } }[];
    assert.deepEqual(v.map((x) => `${x.metadata.name}@${x.spec.node}`), ['a@r9', 'b@r1']);
  });

  it('leaves a text without the resource unchanged', () => {
    const r = editYamlText(three, [{ ref: { kind: 'Tier', name: 'a' }, replacement: null }]);
    assert.equal(r.text, three);
    assert.deepEqual(r.found, []);
  });

  it('refuses a file with YAML errors', () => {
    assert.throws(() => editYamlText('a: [1\n', [{ ref: { kind: 'Tier', name: 'a' }, replacement: null }]), /YAML errors/);
  });
});
