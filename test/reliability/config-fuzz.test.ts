import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CFG, parseYamlDocuments, validateDocuments } from '../../src/config';
import { compilePolicy } from '../../src/engine';
import type { Issue } from '../../src/errors';
import { Rng } from '../helpers/random';
import { HOSTILE_CASES, type CaseReport } from './config-hostile-cases';
import { mutateDoc, mutateText, stringifyDocs, type Json } from './config-mutate';
import { HOST_MYHOST, seedFromEnv } from './fuzz-fixture';

const ROOT = path.resolve(__dirname, '../../..');
const SEED = seedFromEnv(0x636f6e66);
const RERUN = `FUZZ_SEED=${SEED} npx mocha --no-config --enable-source-maps --timeout 120000 dist/test/reliability/config-fuzz.test.js`;
/** Per hostile case: generous, it only has to catch a hang (the slowest case takes a few seconds). */
const CASE_TIMEOUT_MS = 90_000;

/**
 * The seeds: the config fixtures and the example, each directory as one multi-document text
 * (policies refer to tiers and profiles of other files).
 */
function seedTexts(): { file: string; text: string }[] {
  return ['test/fixtures/config/good', 'examples/seed'].map((d) => {
    const names = readdirSync(path.join(ROOT, d))
      .filter((n) => /\.ya?ml$/.test(n))
      .sort();
    return { file: d, text: names.map((n) => readFileSync(path.join(ROOT, d, n), 'utf8')).join('\n---\n') };
  });
}

/** Problems with the issues of one text: every issue located in that file, on a line that exists. */
function issueProblems(issues: readonly Issue[], file: string, text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/).length;
  const problems: string[] = [];
  for (const i of issues) {
    const l = i.location;
    if (l.file !== file) problems.push(`${i.code}: file ${l.file}, expected ${file}`);
    if (!Number.isInteger(l.line) || l.line < 1 || l.line > lines + 1) problems.push(`${i.code}: line ${l.line} (text has ${lines})`);
    if (l.column !== undefined && (!Number.isInteger(l.column) || l.column < 1)) problems.push(`${i.code}: column ${l.column}`);
    if (!i.code.startsWith('NFQ_CFG_') || i.message.length === 0) problems.push(`malformed issue ${JSON.stringify(i)}`);
  }
  return problems;
}

/** Parse, validate and (when valid) compile one text; returns what went wrong, or [] . */
function loadText(text: string, file: string): { problems: string[]; errors: number } {
  let issues: Issue[];
  let errors: number;
  try {
    const parsed = parseYamlDocuments(text, file);
    const v = validateDocuments(parsed.documents);
    issues = [...parsed.issues, ...v.issues];
    errors = issues.filter((i) => i.severity === 'error').length;
    // What validates must also compile: the engine trusts the validator.
    if (errors === 0) compilePolicy(v.resources, HOST_MYHOST);
  } catch (err) {
    return { problems: [`threw: ${(err as Error).stack ?? String(err)}`], errors: 0 };
  }
  return { problems: issueProblems(issues, file, text), errors };
}

function excerpt(text: string): string {
  const t = text.length > 600 ? `${text.slice(0, 600)}...(${text.length} chars)` : text;
  return JSON.stringify(t);
}

describe('reliability: config fuzz', function () {
  this.timeout(600_000);
  const seeds = seedTexts();
  const seedDocs = seeds.map((s) => ({
    file: s.file,
    docs: parseAllDocuments(s.text)
      .map((d) => d.toJS() as Json)
      .filter((d) => d !== null),
  }));

  it('the seed files themselves load without errors', () => {
    for (const s of seeds) {
      const r = loadText(s.text, s.file);
      assert.deepEqual(r.problems, [], s.file);
      assert.equal(r.errors, 0, s.file);
    }
  });

  it('2 000 structural mutations (wrong types, huge and negative numbers, unicode, nesting, cycles) never throw and are located', () => {
    const rng = new Rng(SEED);
    const heapBefore = process.memoryUsage().heapUsed;
    let withErrors = 0;
    for (let i = 0; i < 2000; i++) {
      const seed = rng.pick(seedDocs);
      const docs = seed.docs.map((d) => (rng.bool(0.7) ? mutateDoc(rng, d) : d));
      let text: string;
      try {
        text = stringifyDocs(docs);
      } catch {
        continue; // the yaml writer refused the value (not the loader under test)
      }
      const file = `mutated/${i}.yaml`;
      const r = loadText(text, file);
      if (r.problems.length > 0) assert.fail(`structural mutation ${i} (of ${seed.file}): ${r.problems.slice(0, 5).join('; ')}\n  text ${excerpt(text)}\n  seed ${SEED}; rerun: ${RERUN}`);
      if (r.errors > 0) withErrors++;
    }
    // Most mutations must have been caught as errors (some land on free-form values and stay valid).
    assert.ok(withErrors > 1000, `only ${withErrors} of 2000 mutations produced an error`);
    // Generous: the batch parses strings of up to a few MB; what matters is that it does not keep them.
    const grown = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(grown < 512 * 2 ** 20, `heap grew by ${(grown / 2 ** 20).toFixed(0)} MiB over the batch`);
  });

  it('3 000 text mutations (indicators, control characters, cuts, indentation) never throw and are located', () => {
    const rng = new Rng(SEED ^ 0x7e47);
    for (let i = 0; i < 3000; i++) {
      const s = rng.pick(seeds);
      const text = mutateText(rng, s.text);
      const file = `text/${i}.yaml`;
      const r = loadText(text, file);
      if (r.problems.length > 0) assert.fail(`text mutation ${i} (of ${s.file}): ${r.problems.slice(0, 5).join('; ')}\n  text ${excerpt(text)}\n  seed ${SEED}; rerun: ${RERUN}`);
    }
  });

  it('mutations that must be errors are reported as errors, located in the mutated document', () => {
    const rng = new Rng(SEED ^ 0xbad);
    const breakers: { name: string; apply(doc: Record<string, Json>): void }[] = [
      { name: 'apiVersion of the wrong type', apply: (d) => void (d['apiVersion'] = rng.pick([1, true, null, [], {}])) },
      { name: 'unknown apiVersion', apply: (d) => void (d['apiVersion'] = rng.pick(['v1', 'projectcalico.org/v2', '', '\u0000'])) },
      { name: 'kind of the wrong type', apply: (d) => void (d['kind'] = rng.pick([1, false, [], { a: 1 }])) },
      { name: 'unknown kind', apply: (d) => void (d['kind'] = rng.pick(['Pod', 'hostendpoint', 'NetworkPolicyX', '\u202eHostEndpoint'])) },
      { name: 'metadata not a map', apply: (d) => void (d['metadata'] = rng.pick(['x', 5, [], null])) },
      { name: 'name with control characters', apply: (d) => void ((d['metadata'] as Record<string, Json>)['name'] = rng.pick(['a\u0000b', 'UPPER', 'x'.repeat(300), '', '\u202e', 'a/b'])) },
      { name: 'unknown top-level field', apply: (d) => void (d[rng.pick(['specc', 'Spec', '\u00e9', 'x'.repeat(500)])] = {}) },
      { name: 'spec not a map', apply: (d) => void (d['spec'] = rng.pick(['x', 5, [1], true])) },
    ];
    for (const seed of seedDocs) {
      for (const b of breakers) {
        const docs = seed.docs.map((d) => structuredClone(d) as Record<string, Json>);
        const target = rng.int(docs.length);
        const doc = docs[target]!;
        // A List seed: break the first item instead.
        const items = doc['items'];
        if (doc['kind'] === 'List' && Array.isArray(items) && items.length > 0) b.apply(items[0] as Record<string, Json>);
        else b.apply(doc);
        const text = stringifyDocs(docs);
        const file = `broken/${path.basename(seed.file)}`;
        const parsed = parseYamlDocuments(text, file);
        const v = validateDocuments(parsed.documents);
        const issues = [...parsed.issues, ...v.issues];
        assert.deepEqual(issueProblems(issues, file, text), [], `${b.name} in ${seed.file}`);
        const errors = issues.filter((i) => i.severity === 'error');
        assert.ok(errors.length > 0, `${b.name} in ${seed.file} (document ${target}) was accepted:\n${text}`);
      }
    }
  });

  describe('hostile directories, each in a child process under a timeout', () => {
    const reports = new Map<string, CaseReport>();
    const failures = new Map<string, string>();
    let heapStart = 0;
    let heapEnd = 0;

    before(async function () {
      this.timeout(CASE_TIMEOUT_MS * HOSTILE_CASES.length);
      // Rerun the child for the remaining cases whenever one dies or hangs; every round settles
      // at least one case, so this ends.
      let remaining = HOSTILE_CASES.map((c) => c.name);
      while (remaining.length > 0) {
        const settled = await runChild(remaining, reports, failures, (h) => (heapStart = heapStart || h), (h) => (heapEnd = h));
        remaining = remaining.filter((n) => !settled.has(n));
      }
    });

    for (const c of HOSTILE_CASES) {
      it(`${c.name}: ${c.what}`, () => {
        const f = failures.get(c.name);
        if (f !== undefined) assert.fail(`${c.name}: ${f}`);
        const r = reports.get(c.name);
        assert.ok(r, `no report for ${c.name}`);
        assert.deepEqual(r.problems, [], c.name);
      });
    }

    it('the loader keeps no memory across the cases', () => {
      assert.ok(heapStart > 0 && heapEnd > 0);
      // Measured after a forced GC in the child; generous bound.
      const grown = heapEnd - heapStart;
      assert.ok(grown < 64 * 2 ** 20, `heap grew by ${(grown / 2 ** 20).toFixed(1)} MiB over ${reports.size} hostile cases`);
    });
  });

  it('duplicate keys: the linear check finds what the yaml parser\'s own (quadratic) check finds', () => {
    const rng = new Rng(SEED ^ 0xd0b);
    const samples = [...seeds.map((s) => s.text), 'a: 1\nb: 2\na: 3\n', '{a: 1, a: 2}\n', '[{a: 1, a: 2}, {b: {c: 1, c: 2}}]\n', '1: a\n1.0: b\n', '~: a\nnull: b\n', '? [a]\n: 1\n? [a]\n: 2\n', '.nan: 1\n.nan: 2\n', 'true: 1\nTrue: 2\n', '"a": 1\n\'a\': 2\n', '!!set {a, a}\n', ': 1\n: 2\n'];
    let withDuplicates = 0;
    for (let i = 0; i < 3000; i++) {
      const lines = rng.pick(samples).split('\n');
      for (let k = 0; k < 1 + rng.int(3); k++) lines.splice(rng.int(lines.length), 0, lines[rng.int(lines.length)] ?? '');
      const text = lines.join('\n');
      const reference = parseAllDocuments(text, { uniqueKeys: true }).map((d) => new Set(d.errors.filter((e) => e.code === 'DUPLICATE_KEY').map((e) => e.pos[0])).size);
      const ours = parseYamlDocuments(text, 'dup.yaml').issues.filter((x) => x.message.includes('Map keys must be unique')).length;
      const want = reference.reduce((a, b) => a + b, 0);
      if (want > 0) withDuplicates++;
      assert.equal(ours, want, `duplicate keys in ${excerpt(text)} (seed ${SEED})`);
    }
    assert.ok(withDuplicates > 1000);
  });

  it('the deep-nesting limit also refuses block nesting (regression: a second deep file aborted the process)', () => {
    for (const text of [`${'- '.repeat(5000)}x\n`, `${'- '.repeat(5000)}x\n`, `${'['.repeat(999)}${']'.repeat(999)}`, `${'['.repeat(999)}${']'.repeat(999)}`]) {
      const r = parseYamlDocuments(text, 'deep.yaml');
      assert.deepEqual(r.issues.map((i) => i.code), [CFG.YAML_LIMIT]);
      assert.equal(r.issues[0]!.location.line, 1);
    }
    // Real resources stay far below the limit: nesting of 100 levels still parses.
    for (const text of [`a: ${'['.repeat(100)}${']'.repeat(100)}\n`, `${'- '.repeat(100)}x\n`, `${'{a: '.repeat(100)}1${'}'.repeat(100)}\n`]) {
      assert.deepEqual(parseYamlDocuments(text, 'ok.yaml').issues, []);
    }
  });
});

/**
 * Fork the hostile-case runner for `names`. Resolves with the cases it settled: reported, or
 * failed (timeout, crash). A case that hangs or dies fails alone; the caller reruns the rest.
 */
function runChild(
  names: string[],
  reports: Map<string, CaseReport>,
  failures: Map<string, string>,
  onStart: (heap: number) => void,
  onEnd: (heap: number) => void,
): Promise<Set<string>> {
  return new Promise((resolve) => {
    const settled = new Set<string>();
    const child = fork(path.join(__dirname, 'config-hostile-cases.js'), names, {
      execArgv: ['--expose-gc', '--max-old-space-size=1536', '--enable-source-maps'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 20_000) stderr += d.toString();
    });
    let current: string | null = null;
    let timer: NodeJS.Timeout | null = null;
    const finishCurrent = (why: string) => {
      if (current !== null && !settled.has(current)) {
        failures.set(current, why);
        settled.add(current);
      }
      current = null;
    };
    child.on('message', (msg: { type: string; name?: string; heap?: number; report?: CaseReport }) => {
      if (msg.type === 'start') onStart(msg.heap ?? 0);
      else if (msg.type === 'begin' && msg.name !== undefined) {
        current = msg.name;
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          finishCurrent(`no answer within ${CASE_TIMEOUT_MS / 1000} s (hang)`);
          child.kill('SIGKILL');
        }, CASE_TIMEOUT_MS);
      } else if (msg.type === 'case' && msg.report) {
        reports.set(msg.report.name, msg.report);
        settled.add(msg.report.name);
        onEnd(msg.report.heapAfter);
        current = null;
        if (timer) clearTimeout(timer);
      }
    });
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      finishCurrent(`the loader process died (exit ${code}, signal ${signal}): ${stderr.slice(-3000)}`);
      // A child that died between cases settles nothing more; make sure the caller progresses.
      if (settled.size === 0) {
        const first = names[0]!;
        failures.set(first, `the runner process died before ${first} (exit ${code}, signal ${signal}): ${stderr.slice(-3000)}`);
        settled.add(first);
      }
      resolve(settled);
    });
  });
}
