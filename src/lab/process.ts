/**
 * Long-running processes inside a lab namespace (servers, queue consumers, load generators), each
 * with a hard lifetime so nothing a test or benchmark starts can outlive it by much.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export type ProcessExit = { code: number | null; signal: NodeJS.Signals | null };
export type OutputStream = 'stdout' | 'stderr';

export interface NsProcess {
  child: ChildProcess;
  /** Complete output lines so far, per stream. */
  lines: Record<OutputStream, string[]>;
  /** Resolve with the first line (past or future) of `stream` matching `pred`; reject after `timeoutMs` or at exit. */
  waitForLine(pred: (line: string) => boolean, timeoutMs: number, stream?: OutputStream): Promise<string>;
  /** Resolves once the process has exited and its output is read. */
  exited: Promise<ProcessExit>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
  stop(graceMs?: number): Promise<ProcessExit>;
}

const MAX_LINES = 10_000;

/** Start `argv` inside namespace `ns`; it is killed with SIGKILL after `lifetimeMs` whatever happens. */
export function spawnInNamespace(ns: string, argv: readonly string[], options: { lifetimeMs: number }): NsProcess {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<OutputStream, string[]> = { stdout: [], stderr: [] };
  const waiters: Array<{ stream: OutputStream; pred: (l: string) => boolean; resolve: (l: string) => void }> = [];
  const exited = new Promise<ProcessExit>((resolve) => {
    // 'close' (not 'exit'): by then every line the process printed has been seen.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  for (const stream of ['stdout', 'stderr'] as const) {
    let partial = '';
    child[stream].setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (lines[stream].length < MAX_LINES) lines[stream].push(line);
        for (let i = waiters.length - 1; i >= 0; i--) {
          const w = waiters[i];
          if (w && w.stream === stream && w.pred(line)) {
            waiters.splice(i, 1);
            w.resolve(line);
          }
        }
      }
    });
  }
  const hardStop = setTimeout(() => child.kill('SIGKILL'), options.lifetimeMs);
  void exited.then(() => clearTimeout(hardStop));
  const describe = () => `\`${argv.join(' ')}\` in ${ns}; stdout: ${lines.stdout.join(' | ')}; stderr: ${lines.stderr.join(' | ')}`;

  return {
    child,
    lines,
    exited,
    waitForLine(pred, timeoutMs, stream = 'stdout') {
      const seen = lines[stream].find(pred);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms from ${describe()}`)), timeoutMs);
        waiters.push({
          stream,
          pred,
          resolve: (l) => {
            clearTimeout(t);
            resolve(l);
          },
        });
        void exited.then(() => {
          clearTimeout(t);
          reject(new Error(`exited before the expected line: ${describe()}`));
        });
      });
    },
    async stop(graceMs = 2000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const r = await exited;
        clearTimeout(t);
        return r;
      }
      return exited;
    },
  };
}
