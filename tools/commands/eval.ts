/**
 * `nfqwall eval --config DIR --host HOST.yaml` — judge packets described as JSON lines on stdin
 * (the `packet` shape of the conformance cases); one JSON line per packet with verdict and
 * explanation. `nfqwall explain` gives the same for one packet in readable form.
 */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../exit-codes';
import { compilePolicy, factsFromDescription, ruleKey, type Judgement } from '../../src/engine';
import { formatJudgement } from '../../src/engine/explain';
import { loadHostFile, loadPolicyDir } from '../inputs';
import { formatJudgementWithRules, traceSteps } from '../../src/observe/trace';

export function judgementJson(j: Judgement): Record<string, unknown> {
  return {
    verdict: j.verdict,
    noVerdict: j.noVerdict,
    untracked: j.untracked,
    rule: ruleKey(j.decidedBy.rule),
    decidedBy: j.decidedBy,
    steps: j.steps,
    logs: j.logs.map(ruleKey),
  };
}

export function register(program: Command, setExit: ExitCodeSink): void {
  program
    .command('eval')
    .description('judge packets given as JSON lines on stdin; print one JSON line per packet')
    .requiredOption('--config <dir>', 'directory of Calico resources')
    .requiredOption('--host <file>', 'host model YAML (the shape of a conformance `envs` entry)')
    .action(async (opts: { config: string; host: string }) => {
      const resources = await loadPolicyDir(opts.config);
      const host = loadHostFile(opts.host);
      if (!resources || !host) return setExit(EXIT_USAGE);
      const policy = compilePolicy(resources, host);
      let bad = 0;
      let lineNo = 0;
      const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
      for await (const line of rl) {
        lineNo++;
        if (line.trim() === '') continue;
        let data: unknown;
        try {
          data = JSON.parse(line);
        } catch (err) {
          bad++;
          process.stdout.write(`${JSON.stringify({ line: lineNo, error: `not JSON: ${(err as Error).message}` })}\n`);
          continue;
        }
        const f = factsFromDescription(data);
        if (!f.ok) {
          bad++;
          process.stdout.write(`${JSON.stringify({ line: lineNo, error: f.errors.join('; ') })}\n`);
          continue;
        }
        process.stdout.write(`${JSON.stringify({ line: lineNo, ...judgementJson(policy.judge(f.facts)) })}\n`);
      }
      setExit(bad === 0 ? EXIT_OK : EXIT_PROBLEMS);
    });

  program
    .command('explain')
    .description('explain the verdict for one packet (JSON packet description) step by step')
    .requiredOption('--config <dir>', 'directory of Calico resources')
    .requiredOption('--host <file>', 'host model YAML')
    .option('--json', 'print the explanation as JSON')
    .option('--rules', 'also explain every tier, policy and rule tried and why each did or did not match')
    .argument('<packet>', 'packet description as JSON, e.g. \'{"path":"forward","iif":"eth2","oif":"eth1","src":"10.0.1.10","dst":"192.168.0.10","proto":"TCP","sport":40000,"dport":22}\'')
    .action(async (packet: string, opts: { config: string; host: string; json?: boolean; rules?: boolean }) => {
      let data: unknown;
      try {
        data = JSON.parse(packet);
      } catch (err) {
        process.stderr.write(`nfqwall explain: packet is not JSON: ${(err as Error).message}\n`);
        return setExit(EXIT_USAGE);
      }
      const f = factsFromDescription(data);
      if (!f.ok) {
        for (const e of f.errors) process.stderr.write(`nfqwall explain: packet.${e}\n`);
        return setExit(EXIT_USAGE);
      }
      const resources = await loadPolicyDir(opts.config);
      const host = loadHostFile(opts.host);
      if (!resources || !host) return setExit(EXIT_USAGE);
      const policy = compilePolicy(resources, host);
      const j = policy.judge(f.facts);
      if (opts.rules) {
        const traces = traceSteps(policy, f.facts, j.steps);
        process.stdout.write(opts.json ? `${JSON.stringify({ ...judgementJson(j), traces })}\n` : formatJudgementWithRules(j, traces));
      } else process.stdout.write(opts.json ? `${JSON.stringify(judgementJson(j))}\n` : formatJudgement(j));
      setExit(EXIT_OK);
    });
}
