/**
 * `nfqwall validate DIR`: load a policy directory, print every issue, exit 1 when any is an error.
 * Otherwise print one summary line (`ok: 3 files, 2 HostEndpoints, ...`). `--json` prints one
 * JSON object instead. An unreadable DIR is a usage error (exit 2).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../exit-codes';
import type { CommandModule } from './index';
import { CFG, loadResourceDir, type LoadResult, type SupportedKind } from '../../src/config';
import { formatIssue } from '../../src/errors';

interface ValidateFlags {
  json?: boolean;
  recursive?: boolean;
  node?: string;
  maxFileBytes?: number;
}

/** Summary order: endpoints, then policy, then the rest. */
const SUMMARY_KINDS: readonly SupportedKind[] = [
  'HostEndpoint',
  'WorkloadEndpoint',
  'GlobalNetworkPolicy',
  'GlobalNetworkSet',
  'Tier',
  'Profile',
  'FelixConfiguration',
];

function plural(n: number, word: string): string {
  if (n === 1) return `${n} ${word}`;
  return `${n} ${word.endsWith('y') ? `${word.slice(0, -1)}ies` : `${word}s`}`;
}

/** `ok: 3 files, 2 HostEndpoints, 5 GlobalNetworkPolicies, 1 Tier` (+ warnings when any). */
export function summaryLine(result: Pick<LoadResult, 'files' | 'counts' | 'issues'>): string {
  const parts = [plural(result.files.length, 'file')];
  for (const kind of SUMMARY_KINDS) if (result.counts[kind] > 0) parts.push(plural(result.counts[kind], kind));
  const warnings = result.issues.filter((i) => i.severity === 'warning').length;
  if (warnings > 0) parts.push(plural(warnings, 'warning'));
  return `ok: ${parts.join(', ')}`;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number of bytes');
  return n;
}

export const validateCommand: CommandModule = {
  register(program: Command, setExit: ExitCodeSink): void {
    program
      .command('validate')
      .description('check a directory of Calico projectcalico.org/v3 YAML; print every problem with file, line and field')
      .argument('<dir>', 'directory holding .yaml/.yml files (hidden files are skipped)')
      .option('--json', 'print one JSON object: ok, files, counts, issues')
      .option('-r, --recursive', 'also read subdirectories')
      .option('--node <name>', "this host's node name: apply FelixConfiguration node.<name> over default")
      .option('--max-file-bytes <n>', 'refuse files larger than this', positiveInt)
      .action(async (dir: string, flags: ValidateFlags) => {
        const result = await loadResourceDir(dir, {
          recursive: flags.recursive === true,
          ...(flags.node !== undefined ? { nodeName: flags.node } : {}),
          ...(flags.maxFileBytes !== undefined ? { maxBytes: flags.maxFileBytes } : {}),
        });
        const errors = result.issues.filter((i) => i.severity === 'error');
        const unreadable = errors.some((i) => i.code === CFG.DIR_READ && i.location.file === dir);
        const ok = errors.length === 0;
        if (unreadable && !flags.json) {
          process.stderr.write(`${errors.map(formatIssue).join('\n')}\n`);
          setExit(EXIT_USAGE);
          return;
        }
        // Written in one piece, so a reader such as `head` sees whole lines.
        let text: string;
        if (flags.json) {
          const out = {
            ok,
            files: result.files,
            counts: result.counts,
            errors: errors.length,
            warnings: result.issues.length - errors.length,
            issues: result.issues,
          };
          text = `${JSON.stringify(out, null, 2)}\n`;
        } else {
          const lines = result.issues.map(formatIssue);
          const warnings = result.issues.length - errors.length;
          lines.push(
            ok
              ? summaryLine(result)
              : `invalid: ${plural(errors.length, 'error')}${warnings > 0 ? `, ${plural(warnings, 'warning')}` : ''} in ${plural(result.files.length, 'file')}`,
          );
          text = `${lines.join('\n')}\n`;
        }
        process.stdout.write(text);
        setExit(unreadable ? EXIT_USAGE : ok ? EXIT_OK : EXIT_PROBLEMS);
      });
  },
};
