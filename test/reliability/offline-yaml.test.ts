import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCaseFile } from '../../src/conformance';
import { parseExpectations } from '../../src/replay';
import { main } from '../../tools/cli';
import { loadHostFile } from '../../tools/inputs';
import { HOST_FILE, goldenPackets, replay, tempDir, writeGoldenPcap } from '../replay/helpers';

/**
 * YAML named on the command line of offline tools (host model files, `replay --expect`,
 * conformance case files) gets the policy loader's limits: nesting, duplicate keys, aliases.
 * Each hostile file must be refused quickly with a located NFQ_CFG_YAML_LIMIT.
 */

/** Refused within this many milliseconds (before the limits: a stack overflow, or 7-45 s). */
const FAST_MS = 5_000;
const LIMIT = /^\S+:\d+:\d+: error: .*\[NFQ_CFG_YAML_LIMIT\]$/m;

/** 2 000 levels of `- ` (4 KB): the parser overflowed its stack. */
const deepBlock = (): string => `${'- '.repeat(2_000)}x\n`;
/** 20 000 anchors, each aliased once: alias resolution is super-linear. */
const manyAnchors = (indent: string): string => {
  const lines: string[] = [];
  for (let i = 0; i < 20_000; i++) lines.push(`${indent}- &a${i} {match: {dport: ${(i % 65_000) + 1}}, expect: allow}`);
  for (let i = 0; i < 20_000; i++) lines.push(`${indent}- *a${i}`);
  return `${lines.join('\n')}\n`;
};
/** An anchor aliasing itself 1 000 times (4 KB): 54 s in the yaml package. */
const selfAliases = (key: string): string => `${key}: &a [${Array(1_000).fill('*a').join(', ')}]\n`;
/** Billion laughs: 9 levels of 9 aliases. */
const laughs = (indent: string): string => {
  const lines = [`${indent}l0: &l0 [x, x, x, x, x, x, x, x, x]`];
  for (let i = 1; i < 10; i++) lines.push(`${indent}l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n`;
};

async function timed<T>(what: string, body: () => T | Promise<T>): Promise<T> {
  const t = Date.now();
  const r = await body();
  const ms = Date.now() - t;
  assert.ok(ms < FAST_MS, `${what}: ${ms} ms`);
  return r;
}

/** stderr of `body` (in-process). */
async function stderrOf<T>(body: () => T | Promise<T>): Promise<{ value: T; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  const err = process.stderr.write;
  const out = process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write;
  try {
    return { value: await body(), stderr, stdout };
  } finally {
    process.stderr.write = err;
    process.stdout.write = out;
  }
}

describe('reliability: YAML limits of offline inputs', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let golden: string;
  const put = (name: string, text: string): string => {
    const file = join(tmp.dir, name);
    writeFileSync(file, text);
    return file;
  };
  before(() => {
    tmp = tempDir();
    golden = join(tmp.dir, 'golden.pcap');
    writeGoldenPcap(golden, goldenPackets());
  });
  after(() => tmp.remove());

  describe('host model files (eval, explain, ruleset, replay --host)', () => {
    it('a deeply nested host file is refused at its line and column, twice in one process', async () => {
      for (const name of ['deep1.yaml', 'deep2.yaml']) {
        const file = put(name, deepBlock());
        const r = await timed(name, () => stderrOf(() => loadHostFile(file)));
        assert.equal(r.value, null);
        assert.match(r.stderr, LIMIT);
        assert.ok(r.stderr.startsWith(`${file}:1:`), r.stderr);
        assert.match(r.stderr, /nested more than 256 levels deep/);
      }
      const flow = put('deep-flow.yaml', `node: ${'['.repeat(100_000)}\n`);
      assert.match((await timed('flow', () => stderrOf(() => loadHostFile(flow)))).stderr, LIMIT);
    });

    it('alias bombs in a host file are refused', async () => {
      for (const [name, text] of [
        ['anchors.yaml', `node: gw1\ninterfaces:\n${manyAnchors('  ')}`],
        ['self.yaml', selfAliases('node')],
        ['laughs.yaml', `node: gw1\n${laughs('')}`],
      ] as const) {
        const file = put(`host-${name}`, text);
        const r = await timed(name, () => stderrOf(() => loadHostFile(file)));
        assert.equal(r.value, null, name);
        assert.match(r.stderr, LIMIT, name);
        assert.match(r.stderr, /YAML aliases could not be expanded/, name);
      }
    });

    it('duplicate keys are located', async () => {
      const file = put('host-dup.yaml', 'node: gw1\ninterfaces: []\nnode: gw2\n');
      const r = await stderrOf(() => loadHostFile(file));
      assert.equal(r.value, null);
      assert.equal(r.stderr, `${file}:3: Map keys must be unique\n`);
    });

    it('a refused host file is a usage error (exit 2), as any bad host file', async () => {
      const file = put('host-deep.yaml', deepBlock());
      const r = await timed('replay --host', () => replay([golden], { host: file }));
      assert.equal(r.code, 2);
      assert.match(r.stderr, LIMIT);
      // The real host file still loads, the same in every way.
      assert.notEqual(loadHostFile(HOST_FILE), null);
    });
  });

  describe('replay --expect files', () => {
    it('an alias bomb is refused with exit 2', async () => {
      for (const [name, text] of [
        ['anchors', manyAnchors('')],
        ['self', selfAliases('- a')],
        ['deep', deepBlock()],
      ] as const) {
        const file = put(`expect-${name}.yaml`, text);
        const parsed = await timed(name, () => parseExpectations(readFileSync(file, 'utf8'), file));
        assert.equal(parsed.expectations.length, 0);
        assert.match(parsed.errors.join('\n'), LIMIT, name);
        const r = await timed(`replay --expect ${name}`, () => replay([golden], { expect: file }));
        assert.equal(r.code, 2, name);
        assert.match(r.stderr, LIMIT, name);
        assert.equal(r.stdout, '', name);
      }
    });

    it('syntax errors and duplicate keys point at their line and column', () => {
      const parsed = parseExpectations('- {match: {dport: 1}, expect: allow}\n- {match: {dport: 1, dport: 2}, expect: allow}\n', 'e.yaml');
      assert.deepEqual(parsed.errors, ['e.yaml:2:22: Map keys must be unique']);
    });
  });

  describe('conformance case files', () => {
    it('alias bombs and deep nesting are refused', async () => {
      for (const [name, text] of [
        ['anchors', `envs: {}\ncases:\n${manyAnchors('  ')}`],
        ['laughs', `envs:\n  gw1:\n    node: gw1\n${laughs('    ')}cases: []\n`],
        ['self', `cases: []\n${selfAliases('envs')}`],
        ['deep', `envs: {}\ncases:\n  - ${deepBlock()}`],
      ] as const) {
        const file = put(`case-${name}.yaml`, text);
        const parsed = await timed(name, () => parseCaseFile(readFileSync(file, 'utf8'), file));
        assert.equal(parsed.cases.length, 0, name);
        assert.match(parsed.errors.join('\n'), LIMIT, name);
      }
    });

    it('nfqwall conformance reports the refused file as a failure (exit 1), as a broken one', async () => {
      const file = put('case-cli.yaml', `cases: []\n${selfAliases('envs')}`);
      const r = await timed('conformance', () => stderrOf(() => main(['node', 'nfqwall', 'conformance', file])));
      assert.equal(r.value, 1);
      assert.match(r.stderr, LIMIT);
      assert.match(r.stdout, /0 passed, 1 failed/);
    });

    it('aliases within the limits are expanded (envs and cases)', () => {
      const text = readFileSync(join(__dirname, '../../../test/conformance/cases.yaml'), 'utf8');
      const plain = parseCaseFile(text, 'cases.yaml');
      // An env and the first case's packet reused through aliases.
      const aliased = text
        .replace(/^envs:\n  gw1-default:\n/m, 'envs:\n  gw1-default: &gw1\n')
        .replace(/^cases:\n/m, '  again: *gw1\ncases:\n')
        .replace(/^  packet:\n/m, '  packet: &p\n')
        .replace(/\s*$/, '\n- {id: AGAIN, env: again, expect: allow, resources: [], packet: *p}\n');
      const withAlias = parseCaseFile(aliased, 'cases.yaml');
      assert.deepEqual(withAlias.errors, []);
      assert.equal(withAlias.cases.length, plain.cases.length + 1);
      const again = withAlias.cases.at(-1)!.inputs;
      const first = withAlias.cases[0]!.inputs;
      assert.ok('facts' in again && 'facts' in first, JSON.stringify(again));
      assert.deepEqual(again.facts, first.facts);
      assert.deepEqual(again.host, first.host);
    });
  });
});
