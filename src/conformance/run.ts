/**
 * Runs conformance cases through an evaluator and reports each result. Pure.
 */
import type { Judgement, PolicyEvaluator } from '../engine/decision';
import { ruleKey } from '../engine/decision';
import type { HostModel } from '../engine/host-model';
import type { ResourceSet } from '../config/resources';
import type { ConformanceCase } from './case-file';

export type EvaluatorFactory = (resources: ResourceSet, host: HostModel) => PolicyEvaluator;

export interface CaseResult {
  id: string;
  title: string;
  expected: 'allow' | 'deny';
  got: 'allow' | 'deny' | 'error';
  pass: boolean;
  /** Deciding rule key, or the errors that kept the case from running. */
  rule: string;
  judgement: Judgement | null;
  errors: string[];
}

export function runCase(c: ConformanceCase, make: EvaluatorFactory): CaseResult {
  if ('errors' in c.inputs) {
    return { id: c.id, title: c.title, expected: c.expect, got: 'error', pass: false, rule: '', judgement: null, errors: c.inputs.errors };
  }
  try {
    const evaluator = make(c.inputs.resources, c.inputs.host);
    const j = evaluator.judge(c.inputs.facts);
    return {
      id: c.id,
      title: c.title,
      expected: c.expect,
      got: j.verdict,
      pass: j.verdict === c.expect,
      rule: ruleKey(j.decidedBy.rule),
      judgement: j,
      errors: [],
    };
  } catch (err) {
    return { id: c.id, title: c.title, expected: c.expect, got: 'error', pass: false, rule: '', judgement: null, errors: [String((err as Error).stack ?? err)] };
  }
}
