/**
 * Hostile policy directories for the config fuzz test, and a runner that loads them one after
 * another in a child process (`node config-hostile-cases.js NAME...`, results over IPC).
 *
 * Each case runs in the child so that a hang, a runaway allocation or a V8 abort (deep nesting
 * can end in one, see src/config/yaml-source.ts) fails that case instead of killing mocha: the
 * parent watches every case with a timeout. The child runs with --expose-gc and a capped heap.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CFG, DEFAULT_MAX_FILE_BYTES, loadResourceDir, type LoadOptions, type LoadResult } from '../../src/config';
import { Rng } from '../helpers/random';

export interface HostileCase {
  name: string;
  /** What the case tries. */
  what: string;
  /** Write the directory's content. */
  setup(dir: string, rng: Rng): void;
  options?: LoadOptions;
  /** Codes that must be among the issues (each located). */
  codes?: string[];
  /** At least one error is required (default true when `codes` is given). */
  error?: boolean;
  /** Number of files the loader must report reading. */
  files?: number;
  /** Load a path inside the case directory instead of the directory itself. */
  target?: string;
}

export interface CaseReport {
  name: string;
  problems: string[];
  issues: number;
  errors: number;
  files: number;
  ms: number;
  /** heapUsed after the case and a GC (bytes). */
  heapAfter: number;
  /** heapUsed right after loading, before the result is dropped. */
  heapPeak: number;
}

const HEP = (name: string, labels: string) => `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: ${name}\n  labels: ${labels}\nspec:\n  node: myhost\n  interfaceName: eth0\n`;
const GNP = (name: string, selector: string) => `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: ${name}\nspec:\n  selector: ${selector}\n  ingress:\n    - action: Allow\n`;

function put(dir: string, name: string, text: string | Buffer): void {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function laughs(levels: number, fan: number): string {
  let s = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n';
  for (let i = 1; i < levels; i++) s += `a${i}: &a${i} [${Array.from({ length: fan }, () => `*a${i - 1}`).join(', ')}]\n`;
  return s;
}

function indented(depth: number, line: (i: number) => string): string {
  const parts: string[] = [];
  for (let i = 0; i < depth; i++) parts.push(line(i));
  return parts.join('');
}

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

export const HOSTILE_CASES: HostileCase[] = [
  {
    name: 'billion-laughs',
    what: 'the classic alias bomb: 9 levels of 9 aliases (10^9 strings when expanded)',
    setup: (d) => put(d, 'bomb.yaml', laughs(9, 9)),
    codes: [CFG.YAML_LIMIT],
  },
  {
    name: 'billion-laughs-in-labels',
    what: 'an alias bomb inside a HostEndpoint',
    setup: (d) => put(d, 'hep.yaml', HEP('x', `\n${laughs(12, 10).replace(/^/gm, '    ')}`)),
    codes: [CFG.YAML_LIMIT],
  },
  {
    name: 'alias-fanout',
    what: '200 000 aliases of one anchored map in one sequence',
    setup: (d) => put(d, 'fan.yaml', `x: &x {a: 1, b: [1, 2, 3]}\nl: [${Array.from({ length: 200_000 }, () => '*x').join(',')}]\n`),
    codes: [CFG.YAML_LIMIT],
  },
  {
    name: 'alias-distinct-anchors',
    what: '80 000 anchors, each aliased once (yaml scans every earlier anchor per alias: minutes before the fix)',
    setup: (d) => {
      const defs = Array.from({ length: 80_000 }, (_, i) => `  - &b${i} x\n`).join('');
      put(d, 'anchors.yaml', `defs:\n${defs}uses: [${Array.from({ length: 80_000 }, (_, i) => `*b${i}`).join(', ')}]\n`);
    },
    codes: [CFG.YAML_LIMIT],
  },
  {
    name: 'alias-self-reference',
    what: 'an anchored sequence of 1 000 aliases of itself, 4 KB (close to a minute before the fix)',
    setup: (d) => put(d, 'self.yaml', `a: &a [${Array.from({ length: 1000 }, () => '*a').join(', ')}]\n`),
    codes: [CFG.YAML_LIMIT],
  },
  {
    name: 'alias-nested-anchors',
    what: '20 000 anchors aliased inside one aliased sequence (every inner alias walks the document)',
    setup: (d) => {
      const defs = Array.from({ length: 20_000 }, (_, i) => `  - &b${i} x\n`).join('');
      put(d, 'nested.yaml', `defs:\n${defs}a: &a [${Array.from({ length: 20_000 }, (_, i) => `*b${i}`).join(', ')}]\nc: *a\n`);
    },
    codes: [CFG.YAML_LIMIT],
  },
  {
    name: 'aliases-in-use',
    what: 'a rule anchor reused 300 times and a label set reused 300 times (must still load)',
    setup: (d) => {
      const rules = Array.from({ length: 300 }, () => '    - *rule').join('\n');
      put(d, 'p.yaml', `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  selector: all()\n  ingress:\n    - &rule {action: Allow, protocol: TCP, destination: {ports: [22, 443]}}\n${rules}\n`);
      put(d, 'h.yaml', `apiVersion: projectcalico.org/v3\nkind: List\nitems:\n${Array.from({ length: 300 }, (_, i) => `  - apiVersion: projectcalico.org/v3\n    kind: GlobalNetworkSet\n    metadata: {name: s${i}, labels: ${i === 0 ? '&l {role: x}' : '*l'}}\n    spec: {nets: [10.0.0.${i % 250}/32]}\n`).join('')}`);
    },
    error: false,
  },
  {
    name: 'circular-aliases',
    what: 'anchors whose content aliases themselves (circular data after expansion)',
    setup: (d) => {
      put(d, 'a.yaml', 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: &m\n  name: x\n  labels: {a: *m}\n  annotations: &an {a: *an}\nspec: &s\n  selector: all()\n  ingress: [*s]\n  egress: &e [*e]\n');
      put(d, 'b.yaml', 'apiVersion: projectcalico.org/v3\nkind: List\nitems: &i [*i, *i]\n');
      put(d, 'c.yaml', '&t [*t]\n');
    },
    error: true,
  },
  {
    name: 'file-10MB',
    what: 'a 10 MB file of valid resources (over the default 4 MiB limit)',
    setup: (d) => {
      const doc = `---\n${GNP('p', "role == 'x'")}`;
      put(d, 'big.yaml', doc.repeat(Math.ceil((10 * 1024 * 1024) / doc.length)));
    },
    codes: [CFG.FILE_TOO_LARGE],
  },
  {
    name: 'file-just-under-limit',
    what: 'the largest file the default limit accepts: ~4 MiB, 12 000 network sets',
    setup: (d) => {
      const parts: string[] = [];
      let size = 0;
      for (let i = 0; ; i++) {
        const doc = `---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: set-${i}\n  labels: {role: r${i % 7}}\nspec:\n  nets: [10.${i % 250}.0.0/16, 192.0.2.${i % 250}/32, 'fd00:${(i % 65000).toString(16)}::/64', 198.51.100.0/24, 203.0.113.0/24]\n`;
        if (size + doc.length > DEFAULT_MAX_FILE_BYTES - 1) break;
        parts.push(doc);
        size += doc.length;
      }
      put(d, 'sets.yaml', parts.join(''));
    },
    error: false,
  },
  {
    name: 'deep-flow-seq',
    what: '10 000 nested flow sequences',
    setup: (d) => put(d, 'deep.yaml', `${'['.repeat(10_000)}${']'.repeat(10_000)}\n`),
    codes: [CFG.YAML_LIMIT],
  },
  {
    name: 'deep-flow-map',
    what: '10 000 nested flow maps in a label',
    setup: (d) => put(d, 'deep.yaml', HEP('x', `${'{a: '.repeat(10_000)}b${'}'.repeat(10_000)}`)),
    codes: [CFG.YAML_LIMIT],
  },
  {
    name: 'deep-unclosed',
    what: '1 000 000 unclosed [ and {',
    setup: (d) => put(d, 'deep.yaml', '[{'.repeat(500_000)),
    codes: [CFG.YAML_LIMIT],
  },
  {
    name: 'deep-compact-seq',
    what: '10 000 nested block sequences written compactly (- - - ... x)',
    setup: (d) => put(d, 'deep.yaml', `${'- '.repeat(10_000)}x\n`),
    codes: [CFG.YAML_LIMIT],
  },
  {
    name: 'deep-block-maps',
    what: '2 000 nested block maps by indentation',
    setup: (d) => put(d, 'deep.yaml', indented(2000, (i) => `${' '.repeat(i)}a:\n`)),
    codes: [CFG.YAML_LIMIT],
  },
  {
    name: 'deep-seq-map-alternating',
    what: '1 000 levels of "- a:" (a sequence of maps of sequences ...)',
    setup: (d) => put(d, 'deep.yaml', indented(1000, (i) => `${' '.repeat(2 * i)}- a:\n`)),
    codes: [CFG.YAML_LIMIT],
  },
  {
    name: 'deep-files-in-a-row',
    what: 'three deeply nested files in one directory (before the fix the second one aborted the process)',
    setup: (d) => {
      put(d, 'a.yaml', `${'- '.repeat(3000)}x\n`);
      put(d, 'b.yaml', `${'['.repeat(999)}${']'.repeat(999)}\n`);
      put(d, 'c.yaml', `${'- '.repeat(2000)}x\n`);
    },
    codes: [CFG.YAML_LIMIT],
    files: 3,
  },
  {
    name: 'deep-but-allowed',
    what: 'nesting just under the limit, in places where the validator expects scalars',
    setup: (d) => {
      put(d, 'a.yaml', HEP('x', `{a: ${'['.repeat(200)}1${']'.repeat(200)}}`));
      put(d, 'b.yaml', GNP('y', `${'['.repeat(120)}${']'.repeat(120)}`));
      put(d, 'c.yaml', `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: z}\nspec:\n  ingress:\n${indented(60, (i) => `${' '.repeat(4 + 2 * i)}- action:\n`)}`);
    },
    error: true,
  },
  {
    name: 'many-documents',
    what: '100 000 empty documents and 3 000 policies in one file',
    setup: (d) => {
      put(d, 'empty.yaml', '---\n'.repeat(100_000));
      put(d, 'many.yaml', Array.from({ length: 3000 }, (_, i) => `---\n${GNP(`p-${i}`, `role == 'r${i}'`)}`).join(''));
    },
    error: false,
  },
  {
    name: 'many-errors',
    what: '5 000 broken documents (every one with several errors)',
    setup: (d) => put(d, 'bad.yaml', Array.from({ length: 5000 }, (_, i) => `---\napiVersion: ${i % 5 === 0 ? 'v9' : 'projectcalico.org/v3'}\nkind: Tier\nmetadata: {name: T_${i}}\nspec: {order: -1e400, bogus: [1]}\n`).join('')),
    codes: [CFG.API_VERSION, CFG.NAME, CFG.UNKNOWN_FIELD],
  },
  {
    name: 'long-line',
    what: 'a 3 MB selector on one line, and a 3 MB label key',
    setup: (d) => {
      put(d, 'a.yaml', GNP('a', `"${"a == 'b' && ".repeat(250_000)}c == 'd'"`));
      put(d, 'b.yaml', HEP('b', `{${'k'.repeat(1_000_000)}: v}`));
    },
    codes: [CFG.TOO_LONG],
  },
  {
    name: 'many-keys',
    what: '100 000 labels on one endpoint, 10 000 duplicated keys',
    setup: (d) => {
      put(d, 'a.yaml', HEP('a', `{${Array.from({ length: 100_000 }, (_, i) => `k${i}: v`).join(', ')}}`));
      put(d, 'b.yaml', HEP('b', `{${Array.from({ length: 10_000 }, () => 'k: v').join(', ')}}`));
    },
    error: true,
  },
  {
    name: 'unicode-and-control',
    what: 'NUL, BOM, bidi overrides, escapes, invalid UTF-8 and emoji in names, labels and selectors',
    setup: (d) => {
      put(d, 'a.yaml', HEP('"ma\\u0000l\\u202eicious"', '{"r\\u00f4le\\u200b": "\\u0007\\u001b[31m", "\\ud83d\\ude00": x}'));
      put(d, 'b.yaml', GNP('b', `"n\\u0000 == 'x\\u202e' && \\u00e9t\\u00e9 in {'\\ud800'}"`));
      put(d, 'c.yaml', Buffer.concat([Buffer.from('\ufeff'), Buffer.from(HEP('c', '{a: b}')), Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x0a])]));
      put(d, 'd.yaml', `\ufeff${GNP('d\u0085e', "'\u2028'")}`);
    },
    error: true,
  },
  {
    name: 'binary-garbage',
    what: '20 files of 64 KiB random bytes named .yaml / .yml',
    setup: (d, rng) => {
      for (let i = 0; i < 20; i++) put(d, `garbage-${i}.${i % 2 ? 'yml' : 'yaml'}`, randomBytes(rng, 65536));
    },
    error: true,
    files: 20,
  },
  {
    name: 'tags-and-directives',
    what: 'YAML directives, custom and binary tags, sets, ordered maps, merge keys',
    setup: (d) => {
      put(d, 'a.yaml', `%YAML 1.1\n%TAG !x! tag:example.com,2000:\n---\n${HEP('!x!a', '!!binary aGVsbG8=')}`);
      put(d, 'b.yaml', `apiVersion: !!js/function 'function(){}'\nkind: !!set {a, b}\nmetadata: !!omap [{name: b}]\nspec: !custom\n  <<: {node: n}\n`);
      put(d, 'c.yaml', '%YAML 9.9\n--- !!str\n...\n--- !<tag:yaml.org,2002:map>\na: b\n');
    },
    error: true,
  },
  {
    name: 'symlink-dir-loop',
    what: 'subdirectory links back to the directory (and a two-link cycle), read recursively',
    setup: (d) => {
      put(d, 'a.yaml', GNP('a', 'all()'));
      symlinkSync('.', path.join(d, 'loop'));
      mkdirSync(path.join(d, 'sub'));
      symlinkSync('..', path.join(d, 'sub', 'up'));
      symlinkSync(path.join(d, 'sub'), path.join(d, 'sub2'));
    },
    options: { recursive: true },
    codes: [CFG.SYMLINK_LOOP],
  },
  {
    name: 'symlink-file-loops',
    what: 'a link to itself, a two-link cycle, a dangling link, a link to a directory named .yaml',
    setup: (d) => {
      put(d, 'ok.yaml', GNP('ok', 'all()'));
      symlinkSync('self.yaml', path.join(d, 'self.yaml'));
      symlinkSync('b.yaml', path.join(d, 'a.yaml'));
      symlinkSync('a.yaml', path.join(d, 'b.yaml'));
      symlinkSync('nowhere/x.yaml', path.join(d, 'dangling.yaml'));
      mkdirSync(path.join(d, 'dir.yaml'));
    },
    codes: [CFG.SYMLINK_LOOP, CFG.FILE_READ],
  },
  {
    name: 'special-files',
    what: '.yaml links to /dev/zero and /dev/urandom and a FIFO named .yaml (reading any of them would never end)',
    setup: (d) => {
      put(d, 'ok.yaml', GNP('ok', 'all()'));
      symlinkSync('/dev/zero', path.join(d, 'zero.yaml'));
      symlinkSync('/dev/urandom', path.join(d, 'random.yml'));
      try {
        execFileSync('mkfifo', [path.join(d, 'fifo.yaml')], { stdio: 'ignore' });
      } catch {
        // No mkfifo: the two device links still make the point.
      }
    },
    error: false,
    files: 1,
  },
  {
    name: 'thousand-files',
    what: '1 000 files: valid tiers, broken YAML and invalid resources mixed',
    setup: (d) => {
      for (let i = 0; i < 1000; i++) {
        const name = `f-${String(i).padStart(4, '0')}.yaml`;
        if (i % 10 === 3) put(d, name, 'kind: [unclosed\n');
        else if (i % 10 === 7) put(d, name, `apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: BAD_${i}}\nspec: {order: x}\n`);
        else put(d, name, `apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: t-${i}}\nspec: {order: ${i}}\n`);
      }
    },
    codes: [CFG.YAML_SYNTAX, CFG.NAME],
    files: 1000,
  },
  {
    name: 'not-a-directory',
    what: 'the policy path is a file',
    setup: (d) => {
      put(d, 'file.yaml', GNP('a', 'all()'));
    },
    target: 'file.yaml',
    codes: [CFG.DIR_READ],
  },
  {
    name: 'missing-directory',
    what: 'the policy path does not exist',
    setup: () => undefined,
    target: 'no/such/dir',
    codes: [CFG.DIR_READ],
  },
];

/** Every issue must name a file inside the case directory (or the directory) and a line >= 1. */
export function locationProblems(r: LoadResult, dir: string): string[] {
  const problems: string[] = [];
  for (const i of r.issues) {
    const loc = i.location;
    const where = `${loc.file}:${loc.line}`;
    if (typeof loc.file !== 'string' || !(loc.file === dir || loc.file.startsWith(dir))) problems.push(`issue ${i.code} names file ${String(loc.file)} outside ${dir}`);
    if (!Number.isInteger(loc.line) || loc.line < 1) problems.push(`issue ${i.code} at ${where}: line is not >= 1`);
    if (loc.column !== undefined && (!Number.isInteger(loc.column) || loc.column < 1)) problems.push(`issue ${i.code} at ${where}: column ${loc.column}`);
    if (typeof i.code !== 'string' || !i.code.startsWith('NFQ_CFG_')) problems.push(`issue without a config code: ${JSON.stringify(i.code)}`);
    if (typeof i.message !== 'string' || i.message.length === 0) problems.push(`issue ${i.code} at ${where} has no message`);
    if (i.severity !== 'error' && i.severity !== 'warning') problems.push(`issue ${i.code} has severity ${String(i.severity)}`);
    if (problems.length > 20) break;
  }
  return problems;
}

async function runCase(c: HostileCase, root: string): Promise<CaseReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const dir = mkdtempSync(path.join(root, `${c.name}-`));
  const rng = new Rng(0xc0ff1e);
  c.setup(dir, rng);
  const problems: string[] = [];
  const start = process.hrtime.bigint();
  const target = c.target !== undefined ? path.join(dir, c.target) : dir;
  let r: LoadResult | null = null;
  try {
    r = await loadResourceDir(target, c.options ?? {});
  } catch (err) {
    problems.push(`loadResourceDir threw: ${(err as Error).stack ?? String(err)}`);
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const heapPeak = process.memoryUsage().heapUsed;
  let report: CaseReport = { name: c.name, problems, issues: 0, errors: 0, files: 0, ms, heapAfter: 0, heapPeak };
  if (r !== null) {
    const errors = r.issues.filter((i) => i.severity === 'error');
    report = { ...report, issues: r.issues.length, errors: errors.length, files: r.files.length };
    problems.push(...locationProblems(r, target === dir ? dir : path.dirname(target)));
    for (const code of c.codes ?? []) if (!r.issues.some((i) => i.code === code)) problems.push(`expected an issue ${code}; got ${[...new Set(r.issues.map((i) => i.code))].join(', ') || 'none'}`);
    const wantError = c.error ?? (c.codes !== undefined && c.codes.length > 0);
    if (wantError && errors.length === 0) problems.push('expected at least one error, got none');
    if (c.error === false && errors.length > 0) problems.push(`expected no error, got ${errors.length}: ${errors.slice(0, 3).map((e) => `${e.code} ${e.message}`).join('; ')}`);
    if (c.files !== undefined && r.files.length !== c.files) problems.push(`expected ${c.files} files read, got ${r.files.length}`);
  }
  r = null;
  rmSync(dir, { recursive: true, force: true });
  gc?.();
  report.heapAfter = process.memoryUsage().heapUsed;
  return report;
}

/** Child side: run the named cases (all when none named), one IPC message per case. */
async function childMain(names: string[]): Promise<void> {
  const send = (msg: unknown) => new Promise<void>((resolve) => process.send!(msg, () => resolve()));
  const root = mkdtempSync(path.join(tmpdir(), 'nfqwall-hostile-'));
  try {
    (globalThis as { gc?: () => void }).gc?.();
    await send({ type: 'start', heap: process.memoryUsage().heapUsed });
    for (const c of HOSTILE_CASES) {
      if (names.length > 0 && !names.includes(c.name)) continue;
      await send({ type: 'begin', name: c.name });
      await send({ type: 'case', report: await runCase(c, root) });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  await send({ type: 'end' });
}

if (require.main === module) {
  childMain(process.argv.slice(2)).then(
    () => process.disconnect?.(),
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
