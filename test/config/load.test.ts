import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadResourceDir } from '../../src/config';

const tier = (name: string, order: number): string => `apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: ${name}\nspec:\n  order: ${order}\n`;

describe('config: loading a directory', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'nfqwall-config-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const put = (name: string, text: string): string => {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  };

  it('reads .yaml and .yml files in byte order, skipping hidden and other files', async () => {
    put('b.yml', tier('b', 2));
    put('a.yaml', tier('a', 1));
    put('C.YAML', tier('c', 3));
    put('.hidden.yaml', 'not: [valid');
    put('notes.txt', 'ignored');
    put('sub/d.yaml', tier('d', 4));
    const r = await loadResourceDir(dir);
    assert.deepEqual(r.issues, []);
    assert.deepEqual(r.files.map((f) => path.basename(f)), ['C.YAML', 'a.yaml', 'b.yml']);
    assert.deepEqual(r.resources.tiers.map((t) => t.name), ['c', 'a', 'b', 'default']);
    assert.equal(r.counts.Tier, 3);
  });

  it('descends into subdirectories when recursive', async () => {
    put('a.yaml', tier('a', 1));
    put('sub/d.yaml', tier('d', 4));
    put('sub/.git/x.yaml', 'not: [valid');
    const r = await loadResourceDir(dir, { recursive: true });
    assert.deepEqual(r.issues, []);
    assert.deepEqual(r.files.map((f) => path.relative(dir, f)), ['a.yaml', path.join('sub', 'd.yaml')]);
  });

  it('follows a symlinked file', async () => {
    const target = put('real/x.data', tier('x', 1));
    symlinkSync(target, path.join(dir, 'x.yaml'));
    const r = await loadResourceDir(dir);
    assert.deepEqual(r.issues, []);
    assert.ok(r.resources.tiers.some((t) => t.name === 'x'));
  });

  it('refuses a symlink that points at itself', async () => {
    symlinkSync('loop.yaml', path.join(dir, 'loop.yaml'));
    const r = await loadResourceDir(dir);
    assert.deepEqual(r.issues.map((i) => [i.code, path.basename(i.location.file)]), [['NFQ_CFG_SYMLINK_LOOP', 'loop.yaml']]);
  });

  it('refuses a directory loop when recursive', async () => {
    put('a.yaml', tier('a', 1));
    mkdirSync(path.join(dir, 'sub'));
    symlinkSync('..', path.join(dir, 'sub', 'up'));
    const r = await loadResourceDir(dir, { recursive: true });
    assert.deepEqual(r.issues.map((i) => i.code), ['NFQ_CFG_SYMLINK_LOOP']);
    assert.equal(r.files.length, 1);
  });

  it('reports a dangling symlink to a YAML file', async () => {
    symlinkSync('missing.data', path.join(dir, 'gone.yaml'));
    const r = await loadResourceDir(dir);
    assert.deepEqual(r.issues.map((i) => i.code), ['NFQ_CFG_FILE_READ']);
  });

  it('refuses files over the size limit before reading them', async () => {
    put('big.yaml', `# ${'x'.repeat(2000)}\n${tier('big', 1)}`);
    put('small.yaml', tier('small', 1));
    const r = await loadResourceDir(dir, { maxBytes: 1000 });
    assert.deepEqual(r.issues.map((i) => [i.code, path.basename(i.location.file), i.location.line]), [['NFQ_CFG_FILE_TOO_LARGE', 'big.yaml', 1]]);
    assert.ok(r.resources.tiers.some((t) => t.name === 'small'), 'other files are still read');
  });

  it('a missing directory', async () => {
    const r = await loadResourceDir(path.join(dir, 'nope'));
    assert.deepEqual(r.issues.map((i) => i.code), ['NFQ_CFG_DIR_READ']);
    assert.deepEqual(r.files, []);
  });

  it('a file instead of a directory', async () => {
    const r = await loadResourceDir(put('a.yaml', tier('a', 1)));
    assert.deepEqual(r.issues.map((i) => i.code), ['NFQ_CFG_DIR_READ']);
  });

  it('an empty directory is a warning', async () => {
    const r = await loadResourceDir(dir);
    assert.deepEqual(r.issues.map((i) => [i.code, i.severity]), [['NFQ_CFG_NO_FILES', 'warning']]);
    assert.deepEqual(r.resources.tiers.map((t) => t.name), ['default']);
  });

  it('issues come in file and line order, cross-document ones included', async () => {
    put('a.yaml', 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  tier: nope\n  ingress: [{action: allow}]\n');
    put('b.yaml', 'kind: [\n');
    const r = await loadResourceDir(dir);
    assert.deepEqual(
      r.issues.map((i) => [path.basename(i.location.file), i.location.line, i.code]),
      [
        ['a.yaml', 5, 'NFQ_CFG_TIER_MISSING'],
        ['a.yaml', 6, 'NFQ_CFG_RULE_ACTION'],
        ['b.yaml', 2, 'NFQ_CFG_YAML_SYNTAX'], // the unclosed '[' is noticed at the end of the text
      ],
    );
  });
});
