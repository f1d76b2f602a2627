/**
 * `nfqwall reload [--socket PATH] [--json]` — ask the daemon to re-read its policy directory and
 * print the outcome: success (generation, counts, warnings) or every error. Exit 0 on success,
 * 1 when the reload failed (the previous policy stays in force), 3 when the daemon is not running.
 */
import type { Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_OK, EXIT_PROBLEMS } from '../exit-codes';
import type { CommandModule } from './index';
import type { ReloadReport } from '../../src/control/protocol';
import { formatReloadIssues } from '../../src/observe/status';
import { addSocketOption, processIo, withControl, type CliIo } from './status';

export interface ReloadOptions {
  socket: string;
  json?: boolean;
}

/** The text printed for a reload outcome. */
export function formatReload(r: ReloadReport): string {
  const lines: string[] = [];
  const issues = formatReloadIssues(r.issues);
  if (r.ok) {
    const c = r.counts;
    const counts = c ? ` (${c.heps} HostEndpoints, ${c.tiers} tiers, ${c.policies} policies, ${c.rules} rules)` : '';
    lines.push(`reload ok: policy generation ${r.generation} in force${counts}, took ${r.durationMs} ms`);
  } else {
    const errors = Array.isArray(r.issues) ? r.issues.filter((i) => i.severity === 'error').length : 0;
    lines.push(`reload FAILED: ${errors > 0 ? `${errors} error${errors === 1 ? '' : 's'}` : 'see below'}; the previous policy (generation ${r.generation}) stays in force`);
  }
  lines.push(...issues);
  if (!r.ok && r.error) lines.push(r.error);
  if (!r.ok && issues.length === 0 && !r.error) lines.push('(no configuration errors: compiling the policy or installing the steering rules failed; the daemon log has the details)');
  return `${lines.join('\n')}\n`;
}

export async function runReload(opts: ReloadOptions, io: CliIo = processIo): Promise<number> {
  return withControl('reload', opts.socket, io, async (c) => {
    const r = await c.reload();
    if (opts.json) io.out(`${JSON.stringify(r)}\n`);
    else if (r.ok) io.out(formatReload(r));
    else io.err(formatReload(r));
    return r.ok ? EXIT_OK : EXIT_PROBLEMS;
  });
}

export const reloadCommand: CommandModule = {
  register(program: Command, setExit: ExitCodeSink): void {
    addSocketOption(program.command('reload').description('make the daemon reload its policy directory and print the outcome (every error on failure)'))
      .option('--json', 'print the outcome as JSON')
      .action(async (opts: ReloadOptions) => setExit(await runReload(opts)));
  },
};
