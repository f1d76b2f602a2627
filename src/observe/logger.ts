/**
 * Structured logs (pino): JSON lines on stdout for journald and log shippers, or pretty output for
 * people. One logger per process; modules take children with a `component` field.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level: string;
  format: 'json' | 'pretty';
  /** Write synchronously (tests, short-lived commands). */
  sync?: boolean;
}

export function createLogger(opts: LoggerOptions): Logger {
  if (opts.format === 'pretty') {
    return pino({
      level: opts.level,
      base: undefined,
      transport: { target: require.resolve('./pretty-transport'), options: { colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  // An async destination keeps logging off the per-packet path; it is flushed on exit. No minimum
  // buffer length: a daemon's lines (start-up, reloads, denies) must reach the journal at once.
  const dest = pino.destination({ dest: 1, sync: opts.sync ?? false, minLength: 0 });
  return pino({ level: opts.level, base: { service: 'nfqwall' }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}
