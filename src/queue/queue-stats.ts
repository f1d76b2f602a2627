/**
 * The kernel's per-queue counters, from /proc/net/netfilter/nfnetlink_queue (one line per bound
 * queue, in the network namespace of the reader). Columns, from the kernel's `seq_show`:
 * queue number, peer portid, packets waiting for a verdict, copy mode, copy range, dropped
 * because the queue was full, dropped because the netlink socket was full, last packet id, 1.
 */
import { readFile } from 'node:fs/promises';

export const NFQUEUE_PROC_PATH = '/proc/net/netfilter/nfnetlink_queue';

export interface KernelQueueStats {
  queueNumber: number;
  /** Netlink port id of the process bound to the queue. */
  portId: number;
  /** Packets handed to userspace that have no verdict yet. */
  queueTotal: number;
  /** 0 none, 1 meta, 2 packet (NFQNL_COPY_*). */
  copyMode: number;
  copyRange: number;
  /** Dropped because `queueTotal` reached the queue's maximum length. */
  queueDropped: number;
  /** Dropped because the consumer's socket buffer was full (reported as ENOBUFS, if not suppressed). */
  userDropped: number;
  /** Id of the last packet queued (ids count up from 1 per queue). */
  idSequence: number;
}

/** Parse the proc file's text; lines that do not have the nine numeric columns are skipped. */
export function parseQueueStats(text: string): KernelQueueStats[] {
  const out: KernelQueueStats[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !f.slice(0, 8).every((x) => /^\d+$/.test(x))) continue;
    const n = f.slice(0, 8).map(Number) as [number, number, number, number, number, number, number, number];
    out.push({
      queueNumber: n[0],
      portId: n[1],
      queueTotal: n[2],
      copyMode: n[3],
      copyRange: n[4],
      queueDropped: n[5],
      userDropped: n[6],
      idSequence: n[7],
    });
  }
  return out;
}

/** Counters of every queue bound in this process's network namespace ([] when none ever was). */
export async function readQueueStats(path: string = NFQUEUE_PROC_PATH): Promise<KernelQueueStats[]> {
  try {
    return parseQueueStats(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
