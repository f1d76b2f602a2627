/**
 * Running the system tools the lab is built with (`ip`, `nft`, `iptables-nft`, ...): one bounded
 * child process per call, never a shell, so names and addresses cannot be re-interpreted.
 */
import { execFile } from 'node:child_process';
import { NfqwallError } from '../errors';

export interface CommandResult {
  argv: readonly string[];
  /** Exit status; null when the process was killed by a signal (for instance on timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  /** Kill the command after this long (default 10 s). */
  timeoutMs?: number;
  /** Written to the command's stdin. */
  input?: string;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;

/** Run `argv` and report how it ended; never throws for a non-zero exit. */
export function runCommand(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new RangeError('runCommand: empty argv'));
  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
        // A program that could not be started (ENOENT, EACCES) has no exit status: report it as
        // a shell would, 127, with the reason in stderr.
        const spawnError = e && typeof e.code === 'string' ? `${e.message}\n` : '';
        let code: number | null = 0;
        if (e) code = typeof e.code === 'number' ? e.code : spawnError ? 127 : child.exitCode;
        resolve({
          argv,
          code,
          stdout,
          stderr: spawnError + stderr,
          timedOut: Boolean(e?.killed) && child.signalCode === 'SIGKILL',
        });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Run `argv` and throw `LAB_COMMAND_FAILED` unless it exits 0; resolves to its stdout. */
export async function runChecked(argv: readonly string[], options: RunOptions = {}): Promise<string> {
  const r = await runCommand(argv, options);
  if (r.code !== 0) throw commandError(r);
  return r.stdout;
}

export function commandError(r: CommandResult): NfqwallError {
  const why = r.timedOut ? 'timed out' : r.code === null ? 'was killed' : `exited ${r.code}`;
  const detail = r.stderr.trim() || r.stdout.trim();
  return new NfqwallError('NFQ_LAB_COMMAND_FAILED', `\`${r.argv.join(' ')}\` ${why}${detail ? `: ${detail}` : ''}`);
}
