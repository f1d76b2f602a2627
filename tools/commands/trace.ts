/**
 * `nfqwall trace [FILTER] [--socket PATH] [--json]` — stream the daemon's live decisions that
 * match FILTER, each with its full explanation (every stage, the governing HEP, the tiers and
 * policies considered, for each rule tried why it did or did not match, the final rule), until
 * Ctrl-C. When this terminal cannot keep up, the daemon drops events rather than slow down, and
 * says how many (reported on stderr).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_FATAL, EXIT_OK, EXIT_USAGE } from '../exit-codes';
import type { CommandModule } from './index';
import { formatTraceEvent } from '../../src/observe/trace';
import { addSocketOption, processIo, withControl, type CliIo } from './status';
import { checkFilterWords } from './flows';

export interface TraceOptions {
  socket: string;
  json?: boolean;
  /** Stop streaming when aborted (the command line aborts on SIGINT / SIGTERM). */
  signal?: AbortSignal;
  /** Stop after this many events (tests, scripts). */
  count?: number;
}

export async function runTrace(words: readonly string[], opts: TraceOptions, io: CliIo = processIo): Promise<number> {
  const filter = checkFilterWords('trace', words, io);
  if (filter === null) return EXIT_USAGE;
  return withControl('trace', opts.socket, io, async (c) => {
    let seen = 0;
    let stopRequested = false;
    const stop = () => {
      stopRequested = true;
      c.close();
    };
    const t = await c.trace(
      filter,
      (e) => {
        if (stopRequested) return;
        io.out(opts.json ? `${JSON.stringify(e)}\n` : formatTraceEvent(e));
        seen++;
        if (opts.count !== undefined && seen >= opts.count) stop();
      },
      (count, total) => {
        if (opts.json) io.out(`${JSON.stringify({ type: 'dropped', count, total })}\n`);
        else io.err(`nfqwall trace: ${count} events dropped because this client fell behind (${total} in total)\n`);
      },
    );
    io.err(`nfqwall trace: tracing ${t.filter === '' ? 'every decision' : `decisions matching: ${t.filter}`} (Ctrl-C to stop)\n`);
    if (opts.signal) {
      if (opts.signal.aborted) stop();
      else opts.signal.addEventListener('abort', stop, { once: true });
    }
    await t.done;
    if (stopRequested) return EXIT_OK;
    io.err('nfqwall trace: the daemon closed the connection\n');
    return EXIT_FATAL;
  });
}

export const traceCommand: CommandModule = {
  register(program: Command, setExit: ExitCodeSink): void {
    addSocketOption(
      program
        .command('trace')
        .description('stream live decisions matching FILTER with their full explanation, until Ctrl-C')
        .argument('[filter...]', 'filter, e.g. "host 10.0.0.1 and port 22", "iif eth0 and verdict deny", "proto icmpv6 or policy allow-ssh"'),
    )
      .option('--json', 'one JSON object per event')
      .option('--count <n>', 'stop after N events', (v) => {
        if (!/^[1-9]\d{0,8}$/.test(v)) throw new InvalidArgumentError('must be a positive integer');
        return Number(v);
      })
      .action(async (words: string[], opts: TraceOptions) => {
        const ac = new AbortController();
        const onSignal = () => ac.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          setExit(await runTrace(words, { ...opts, signal: ac.signal }));
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
  },
};
