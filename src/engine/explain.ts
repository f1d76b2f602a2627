/**
 * Human-readable explanation of a judgement: one line per step, then the verdict. Pure.
 */
import type { Judgement, RuleRef, StepOutcome } from './decision';

export function describeRule(r: RuleRef): string {
  switch (r.kind) {
    case 'policy':
      return `tier ${r.tier} / policy ${r.policy} / ${r.direction} rule ${r.index} (${r.action})`;
    case 'profile':
      return `profile ${r.profile} / ${r.direction} rule ${r.index} (${r.action})`;
    case 'builtin':
      return `built-in ${r.name}${r.detail !== undefined ? ` (${r.detail})` : ''}`;
  }
}

export function describeStep(s: StepOutcome): string {
  return `${s.hook.padEnd(18)} ${s.chain.padEnd(17)} ${(s.endpoint ?? '-').padEnd(16)} ${s.result.padEnd(10)} ${describeRule(s.rule)}`;
}

export function formatJudgement(j: Judgement): string {
  const lines = j.steps.map((s) => `  ${describeStep(s)}`);
  for (const l of j.logs) lines.push(`  log: ${describeRule(l)}`);
  const how = j.noVerdict ? ' (no Calico verdict: unmanagedVerdict decided)' : '';
  lines.push(`verdict: ${j.verdict}${how}${j.untracked ? ', untracked' : ''}; decided by ${describeRule(j.decidedBy.rule)}${j.decidedBy.endpoint ? ` on ${j.decidedBy.endpoint}` : ''}`);
  return `${lines.join('\n')}\n`;
}
