/**
 * Every conformance case (test/conformance/cases.yaml, a copy of the shared cases) through the
 * compiled engine, in process, one `it` per case; and once through the CLI, whose closing line is a
 * public interface.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCaseFile, runCase } from '../../src/conformance';
import { compilePolicy } from '../../src/engine';

const root = join(__dirname, '..', '..', '..');
const file = join(root, 'test', 'conformance', 'cases.yaml');

describe('conformance cases (compiled engine)', () => {
  const parsed = parseCaseFile(readFileSync(file, 'utf8'), file);
  it('the case file parses', () => assert.deepEqual(parsed.errors, []));
  for (const c of parsed.cases) {
    it(`${c.id}: ${c.title}`, () => {
      const r = runCase(c, (res, host) => compilePolicy(res, host));
      assert.deepEqual(r.errors, []);
      assert.equal(r.got, r.expected, `decided by ${r.rule}`);
    });
  }
  it('nfqwall conformance prints one line per case and the closing line', () => {
    const out = execFileSync(join(root, 'bin', 'nfqwall'), ['conformance', file], { encoding: 'utf8' });
    const lines = out.trim().split('\n');
    assert.equal(lines.length, parsed.cases.length + 1);
    assert.match(lines[0]!, /^PASS \S+ expected=(allow|deny) got=(allow|deny) rule=\S+$/);
    assert.equal(lines[lines.length - 1], `${parsed.cases.length} passed, 0 failed`);
  });
  it('exits 1 and counts a failing case', () => {
    const bad = readFileSync(file, 'utf8').replace(/expect: allow\n/, 'expect: deny\n');
    const tmp = join(root, 'dist', 'conformance-flipped.yaml');
    require('node:fs').writeFileSync(tmp, bad);
    let status = 0;
    let out = '';
    try {
      execFileSync(join(root, 'bin', 'nfqwall'), ['conformance', tmp], { encoding: 'utf8' });
    } catch (err) {
      status = (err as { status: number }).status;
      out = (err as { stdout: string }).stdout;
    }
    assert.equal(status, 1);
    assert.match(out, /^FAIL /m);
    assert.match(out, new RegExp(`^${parsed.cases.length - 1} passed, 1 failed$`, 'm'));
  });
});
