/**
 * `nfqwall conformance FILE...` — run conformance case files; one line per case and a closing
 * `N passed, M failed` line. Exit 0 only when every case passes.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../exit-codes';
import { parseCaseFile, runCase, type EvaluatorFactory } from '../../src/conformance';
import { compilePolicy } from '../../src/engine';
import { createReferenceEvaluator } from '../../src/engine/reference';

export const ENGINES: Record<string, EvaluatorFactory> = {
  compiled: (r, h) => compilePolicy(r, h),
  reference: (r, h) => createReferenceEvaluator(r, h),
};

export function register(program: Command, setExit: ExitCodeSink): void {
  program
    .command('conformance')
    .description('run conformance case files and report PASS/FAIL per case')
    .argument('<files...>', 'case files (format: test/conformance/README.md)')
    .option('--json', 'print one JSON object per case instead of text lines')
    .option('--engine <name>', 'evaluator: compiled (default) or reference', 'compiled')
    .option('--only <ids>', 'comma-separated case ids to run')
    .action((files: string[], opts: { json?: boolean; engine: string; only?: string }) => {
      const make = ENGINES[opts.engine];
      if (!make) {
        process.stderr.write(`nfqwall conformance: unknown engine '${opts.engine}' (compiled, reference)\n`);
        return setExit(EXIT_USAGE);
      }
      const only = opts.only ? new Set(opts.only.split(',')) : null;
      let passed = 0;
      let failed = 0;
      for (const file of files) {
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (err) {
          process.stderr.write(`nfqwall conformance: cannot read ${file}: ${(err as Error).message}\n`);
          return setExit(EXIT_USAGE);
        }
        const parsed = parseCaseFile(text, file);
        for (const e of parsed.errors) {
          process.stderr.write(`${e}\n`);
          failed++;
        }
        for (const c of parsed.cases) {
          if (only && !only.has(c.id)) continue;
          const r = runCase(c, make);
          if (r.pass) passed++;
          else failed++;
          if (opts.json) {
            process.stdout.write(`${JSON.stringify({ id: r.id, result: r.pass ? 'PASS' : 'FAIL', expected: r.expected, got: r.got, rule: r.rule, title: r.title, decidedBy: r.judgement?.decidedBy ?? null, errors: r.errors })}\n`);
          } else {
            process.stdout.write(`${r.pass ? 'PASS' : 'FAIL'} ${r.id} expected=${r.expected} got=${r.got} rule=${r.rule || '-'}\n`);
            for (const e of r.errors) process.stdout.write(`  ${e}\n`);
          }
        }
      }
      if (opts.json) process.stdout.write(`${JSON.stringify({ summary: `${passed} passed, ${failed} failed`, passed, failed })}\n`);
      else process.stdout.write(`${passed} passed, ${failed} failed\n`);
      setExit(failed === 0 ? EXIT_OK : EXIT_PROBLEMS);
    });
}
