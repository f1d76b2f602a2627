import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { summaryLine } from '../../tools/commands/validate';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'nfqwall');
const FIXTURES = path.join('test', 'fixtures', 'config');

function nfqwall(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('nfqwall validate', function () {
  // Each case starts a Node process.
  this.timeout(20000);

  it('a valid directory: exit 0 and one summary line', () => {
    const r = nfqwall('validate', path.join(FIXTURES, 'good'));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, 'ok: 6 files, 4 HostEndpoints, 4 GlobalNetworkPolicies, 2 GlobalNetworkSets, 3 Tiers, 1 Profile, 1 FelixConfiguration\n');
  });

  it('an invalid directory: exit 1, every issue located, then a count', () => {
    const r = nfqwall('validate', path.join(FIXTURES, 'bad'));
    assert.equal(r.status, 1);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 22);
    assert.equal(lines.at(-1), 'invalid: 19 errors, 2 warnings in 5 files');
    assert.ok(
      lines.includes(
        'test/fixtures/config/bad/policies.yaml:45:17: spec.ingress[1].protocol: error: protocol name invalid: "tcp"; protocol names are case-sensitive: use TCP [NFQ_CFG_PROTOCOL]',
      ),
      r.stdout,
    );
    for (const l of lines.slice(0, -1)) assert.match(l, /^test\/fixtures\/config\/bad\/[a-z-]+\.ya?ml:\d+(:\d+)?: .*\[NFQ_CFG_[A-Z_]+\]$/);
  });

  it('--json', () => {
    const r = nfqwall('validate', '--json', path.join(FIXTURES, 'bad'));
    assert.equal(r.status, 1);
    const out = JSON.parse(r.stdout) as { ok: boolean; errors: number; warnings: number; files: string[]; issues: { code: string; location: { line: number } }[] };
    assert.deepEqual([out.ok, out.errors, out.warnings, out.files.length, out.issues.length], [false, 19, 2, 5, 21]);
    const good = JSON.parse(nfqwall('validate', '--json', path.join(FIXTURES, 'good')).stdout) as { ok: boolean; counts: Record<string, number> };
    assert.equal(good.ok, true);
    assert.equal(good.counts['HostEndpoint'], 4);
  });

  it('an unreadable directory is a usage error (exit 2)', () => {
    const r = nfqwall('validate', path.join(FIXTURES, 'no-such-dir'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /NFQ_CFG_DIR_READ/);
  });

  it('a missing argument is a usage error (exit 2)', () => {
    assert.equal(nfqwall('validate').status, 2);
  });

  it('summary line wording', () => {
    const counts = { HostEndpoint: 1, WorkloadEndpoint: 0, GlobalNetworkPolicy: 2, GlobalNetworkSet: 0, Tier: 0, Profile: 0, FelixConfiguration: 0 };
    assert.equal(summaryLine({ files: ['a'], counts, issues: [] }), 'ok: 1 file, 1 HostEndpoint, 2 GlobalNetworkPolicies');
    const warning = { code: 'X', message: 'm', location: { file: 'a', line: 1 }, severity: 'warning' as const };
    assert.equal(summaryLine({ files: [], counts: { ...counts, GlobalNetworkPolicy: 0, HostEndpoint: 0 }, issues: [warning, warning] }), 'ok: 0 files, 2 warnings');
  });
});
