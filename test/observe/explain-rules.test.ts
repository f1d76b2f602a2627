import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { runMain } from './helpers';

const REPO = join(__dirname, '..', '..', '..');
const POLICY = join(REPO, 'test', 'fixtures', 'replay', 'policy');
const HOST = join(REPO, 'test', 'fixtures', 'replay', 'host.yaml');

function explain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runMain(['explain', '--config', POLICY, '--host', HOST, ...args]);
}

const HTTP = JSON.stringify({ path: 'forward', iif: 'eth2', oif: 'eth1', src: '10.0.1.10', dst: '192.168.0.10', proto: 'TCP', sport: 40000, dport: 80 });

describe('nfqwall explain --rules', () => {
  it('adds every tier, policy and rule tried, with why each did not match', async () => {
    const r = await explain(['--rules', HTTP]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        '  filter-forward forward-egress gw1.eth1 [forward egress, post-DNAT destination]: deny by built-in end-of-tier (default)',
        "    a tier had policies for the endpoint but none allowed or denied: the tier's default action Deny applies (§4.3)",
        '    tier default (default Deny) -> no policy decided: tier default Deny',
        '      policy allow-ssh-maintenance: no rule decided',
        '        rule 0 Allow no match: destination.ports: destination port 80; the rule wants 22',
        'verdict: deny; decided by built-in end-of-tier (default) on gw1.eth1',
        '',
      ].join('\n'),
    );
  });

  it('--rules --json adds the rule-level traces to the judgement', async () => {
    const r = await explain(['--rules', '--json', HTTP]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { verdict: string; traces: Array<{ ruleId: string; consistent: boolean; tiers: Array<{ policies: Array<{ rules: Array<{ why: string }> }> }> }> };
    assert.equal(j.verdict, 'deny');
    assert.equal(j.traces[0]!.ruleId, 'builtin:end-of-tier:default');
    assert.equal(j.traces[0]!.consistent, true);
    assert.equal(j.traces[0]!.tiers[0]!.policies[0]!.rules[0]!.why, 'destination.ports: destination port 80; the rule wants 22');
  });

  it('without --rules the step-level output is unchanged', async () => {
    const r = await explain([HTTP]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /rule 0 Allow/);
    assert.match(r.stdout, /verdict: deny; decided by built-in end-of-tier \(default\) on gw1\.eth1/);
  });
});
