/**
 * The command line of a long-lived helper process the daemon runs (`ip monitor`, `conntrack -E`).
 *
 * Two things must not outlive the daemon through such a child:
 *  - the NFQUEUE netlink sockets: the queue binding opens them without close-on-exec, so a child
 *    started (or restarted) after the queues are open inherits them, and after a SIGKILL of the
 *    daemon the kernel would keep queueing to a process that never answers (fail-open broken, and a
 *    restarted daemon could not bind the queues). `bash` closes every descriptor above 2 before it
 *    execs the helper;
 *  - the child itself: `setpriv --pdeathsig KILL` ends it when the daemon dies.
 */
import { existsSync } from 'node:fs';

/** Closes inherited descriptors > 2, then execs "$0" "$@". */
export const CLOSE_INHERITED_FDS_SCRIPT = 'for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-"; done; exec "$0" "$@"';

export interface WatcherTools {
  setpriv: boolean;
  bash: boolean;
}

function found(names: string[]): boolean {
  return names.some((p) => existsSync(p));
}

export function detectWatcherTools(): WatcherTools {
  return {
    setpriv: found(['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv']),
    bash: found(['/bin/bash', '/usr/bin/bash']),
  };
}

/** `argv` wrapped so the child holds none of the daemon's descriptors and dies with it. */
export function watcherCommand(argv: readonly string[], tools: WatcherTools = detectWatcherTools()): string[] {
  const clean = tools.bash ? ['bash', '-c', CLOSE_INHERITED_FDS_SCRIPT, ...argv] : [...argv];
  return tools.setpriv ? ['setpriv', '--pdeathsig', 'KILL', ...clean] : clean;
}
