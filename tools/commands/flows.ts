/**
 * `nfqwall flows [FILTER] [--socket PATH] [--limit N] [--json]` — the daemon's current flows
 * (most recently active first): age, idle time, state, verdict, deciding policy/rule, packet and
 * byte counters per direction. FILTER is the trace/flows filter language (src/observe/filter.ts),
 * e.g. `nfqwall flows port 22 and verdict deny`.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_OK, EXIT_USAGE } from '../exit-codes';
import type { CommandModule } from './index';
import { parseFilter } from '../../src/observe/filter';
import { formatFlowTable } from '../../src/observe/flows-view';
import { DEFAULT_FLOWS_LIMIT, MAX_FLOWS_LIMIT } from '../../src/control/protocol';
import { addSocketOption, processIo, withControl, type CliIo } from './status';

export interface FlowsOptions {
  socket: string;
  json?: boolean;
  limit?: number;
}

/** Check filter words locally so a typo is a usage error (exit 2) without asking the daemon. */
export function checkFilterWords(command: string, words: readonly string[], io: CliIo): string | null {
  const text = words.join(' ');
  const f = parseFilter(text);
  if (f.ok) return text;
  io.err(`nfqwall ${command}: bad filter: ${f.error.message}\n`);
  return null;
}

export async function runFlows(words: readonly string[], opts: FlowsOptions, io: CliIo = processIo): Promise<number> {
  const filter = checkFilterWords('flows', words, io);
  if (filter === null) return EXIT_USAGE;
  return withControl('flows', opts.socket, io, async (c) => {
    const listing = await c.flows(filter, opts.limit ?? DEFAULT_FLOWS_LIMIT);
    io.out(opts.json ? `${JSON.stringify(listing)}\n` : formatFlowTable(listing));
    return EXIT_OK;
  });
}

function parseLimit(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > MAX_FLOWS_LIMIT) throw new InvalidArgumentError(`must be an integer 0..${MAX_FLOWS_LIMIT}`);
  return n;
}

export const flowsCommand: CommandModule = {
  register(program: Command, setExit: ExitCodeSink): void {
    addSocketOption(
      program
        .command('flows')
        .description('list the daemon\'s current flows: age, state, verdict, deciding policy/rule, counters')
        .argument('[filter...]', 'filter, e.g. "host 10.0.0.1 and port 22", "net fd00::/8 and verdict deny", "policy allow-ssh"'),
    )
      .option('--limit <n>', `show at most N flows (default ${DEFAULT_FLOWS_LIMIT})`, parseLimit)
      .option('--json', 'print the listing as JSON')
      .action(async (words: string[], opts: FlowsOptions) => setExit(await runFlows(words, opts)));
  },
};
