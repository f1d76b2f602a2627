/**
 * `nfqwall status [--socket PATH] [--json]` — ask the running daemon how it is: policy generation,
 * the last reload and its errors, counts, backend, fail mode, per-queue counters (nfqwall's and the
 * kernel's from /proc/net/netfilter/nfnetlink_queue), flow-table size and evictions.
 *
 * Also home of what the control-socket commands (status, reload, flows, trace) share: the
 * --socket option, output sinks and the exit code of a connection problem (daemon not running:
 * exit 3).
 */
import type { Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_FATAL, EXIT_OK, EXIT_USAGE } from '../exit-codes';
import type { CommandModule } from './index';
import { ControlClientError, connectControl, type ControlConnection } from '../../src/control/client';
import { DEFAULT_CONTROL_SOCKET } from '../../src/control/protocol';
import { formatStatus } from '../../src/observe/status';

/** Where a command writes (tests capture it). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

export function addSocketOption(cmd: Command): Command {
  return cmd.option('--socket <path>', 'control socket of the daemon', DEFAULT_CONTROL_SOCKET);
}

/**
 * Run `fn` with a connection to the daemon. Connection problems are printed and mapped to exit
 * codes: not running / unusable socket → 3; an error the daemon returned for a bad argument → 2.
 */
export async function withControl(command: string, socket: string, io: CliIo, fn: (c: ControlConnection) => Promise<number>): Promise<number> {
  let conn: ControlConnection;
  try {
    conn = await connectControl(socket);
  } catch (err) {
    return reportControlError(command, err, io);
  }
  try {
    return await fn(conn);
  } catch (err) {
    return reportControlError(command, err, io);
  } finally {
    conn.close();
  }
}

export function reportControlError(command: string, err: unknown, io: CliIo): number {
  if (err instanceof ControlClientError) {
    if (err.kind === 'not-running') {
      io.err(`nfqwall ${command}: ${err.message}\n(start it with \`systemctl start nfqwall\` or \`nfqwall run\`; use --socket if it listens elsewhere)\n`);
      return EXIT_FATAL;
    }
    if (err.kind === 'remote') {
      io.err(`nfqwall ${command}: the daemon refused: ${err.message}\n`);
      return err.remote?.code === 'BAD_FILTER' || err.remote?.code === 'BAD_REQUEST' ? EXIT_USAGE : EXIT_FATAL;
    }
    io.err(`nfqwall ${command}: ${err.message}\n`);
    return EXIT_FATAL;
  }
  throw err;
}

export interface StatusOptions {
  socket: string;
  json?: boolean;
}

export async function runStatus(opts: StatusOptions, io: CliIo = processIo): Promise<number> {
  return withControl('status', opts.socket, io, async (c) => {
    const s = await c.status();
    io.out(opts.json ? `${JSON.stringify(s)}\n` : formatStatus(s));
    return EXIT_OK;
  });
}

export const statusCommand: CommandModule = {
  register(program: Command, setExit: ExitCodeSink): void {
    addSocketOption(
      program
        .command('status')
        .description('show the running daemon: policy generation, last reload and its errors, counts, backend, fail mode, queue and flow-table counters'),
    )
      .option('--json', 'print the status object as JSON')
      .action(async (opts: StatusOptions) => setExit(await runStatus(opts)));
  },
};
