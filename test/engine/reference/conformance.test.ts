import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { ruleKey } from '../../../src/engine/decision';
import { createReferenceEvaluator } from '../../../src/engine/reference';
import { factsFromCasePacket, hostFromEnv, validatedResources } from './helpers';

interface ConformanceCase {
  id: string;
  title: string;
  env: string;
  resources: unknown[];
  packet: unknown;
  expect: 'allow' | 'deny';
  verdictNote?: string;
}

const CASES_PATH = resolve(__dirname, '../../../../test/conformance/cases.yaml');
const file = parse(readFileSync(CASES_PATH, 'utf8')) as { envs: Record<string, unknown>; cases: ConformanceCase[] };

describe('reference evaluator: conformance cases', () => {
  it('loads the public cases', () => {
    assert.ok(file.cases.length >= 92);
  });

  for (const c of file.cases) {
    it(`${c.id}: ${c.title}`, () => {
      const host = hostFromEnv(file.envs[c.env]);
      const evaluator = createReferenceEvaluator(validatedResources(c.resources, host.node, `${c.id}.yaml`), host);
      const j = evaluator.judge(factsFromCasePacket(c.packet));
      const trace = j.steps.map((s) => `${s.hook}/${s.chain}/${s.endpoint ?? '-'}:${s.result}:${ruleKey(s.rule)}`).join(' | ');
      assert.equal(j.verdict, c.expect, `decidedBy ${ruleKey(j.decidedBy.rule)}; steps: ${trace}`);
      // Where the allow comes from "no Calico verdict", the case says so in verdictNote. Q1 is the
      // exception: §7.2 asks for the documented per-direction explicit ALLOW.
      const q1 = c.verdictNote?.includes('Q1') === true;
      assert.equal(j.noVerdict, c.verdictNote !== undefined && !q1, trace);

      // The same packet on a host whose base policy drops: only no-verdict outcomes change.
      const strict = createReferenceEvaluator(validatedResources(c.resources, host.node, `${c.id}.yaml`), { ...host, unmanagedVerdict: 'drop' });
      const js = strict.judge(factsFromCasePacket(c.packet));
      assert.equal(js.verdict, j.noVerdict ? 'deny' : c.expect);
    });
  }
});
