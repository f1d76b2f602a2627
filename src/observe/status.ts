/**
 * `nfqwall status`: the daemon's status object plus the kernel's per-queue counters, and its
 * text form. The formatter reads the object defensively: it is JSON that crossed a socket, and an
 * older or newer daemon may send fields this client does not know.
 */
import { formatIssue, type Issue } from '../errors';
import { describeHealth } from '../datastore/health';
import type { DatastoreHealth } from '../datastore/types';
import { readQueueStats, type KernelQueueStats } from '../queue/queue-stats';

/** Add `kernelQueues` (nfnetlink_queue counters of the daemon's queues) to a status object. */
export async function withKernelQueues(status: Record<string, unknown>, read: () => Promise<KernelQueueStats[]> = () => readQueueStats()): Promise<Record<string, unknown>> {
  let kernel: KernelQueueStats[];
  try {
    kernel = await read();
  } catch (err) {
    return { ...status, kernelQueues: null, kernelQueuesError: String((err as Error).message ?? err) };
  }
  const queues = Array.isArray(status.queues) ? (status.queues as Array<Record<string, unknown>>) : null;
  if (queues) {
    const hookOf = new Map<number, string>();
    for (const q of queues) if (typeof q.queueNumber === 'number') hookOf.set(q.queueNumber, String(q.hook ?? ''));
    kernel = kernel.filter((k) => hookOf.has(k.queueNumber)).map((k) => ({ ...k, hook: hookOf.get(k.queueNumber) }));
  }
  return { ...status, kernelQueues: kernel };
}

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {};
}

function num(v: unknown): string {
  return typeof v === 'number' ? String(v) : '-';
}

function isIssue(v: unknown): v is Issue {
  const o = obj(v);
  return typeof o.code === 'string' && typeof o.message === 'string' && typeof o.location === 'object' && o.location !== null;
}

/** Every issue of a reload outcome, one line each (errors first). */
export function formatReloadIssues(issues: unknown): string[] {
  if (!Array.isArray(issues)) return [];
  const list = issues.filter(isIssue);
  list.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1));
  return list.map((i) => formatIssue(i));
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** The text form of a status report. */
export function formatStatus(report: unknown): string {
  const s = obj(report);
  const out: string[] = [];
  out.push(`nfqwall: policy generation ${num(s.generation)}, backend ${String(s.backend ?? '-')}, mode ${String(s.mode ?? '-')}, fail mode ${String(s.failMode ?? '-')}`);
  const r = obj(s.lastReload);
  if (Object.keys(r).length > 0) {
    const issues = Array.isArray(r.issues) ? r.issues.filter(isIssue) : [];
    const errors = issues.filter((i) => i.severity === 'error').length;
    const warnings = issues.length - errors;
    const how = r.ok === true ? 'ok' : 'FAILED (the previous policy stays in force)';
    out.push(`last reload: ${how} at ${String(r.at ?? '-')} in ${num(r.durationMs)} ms, generation ${num(r.generation)}${errors + warnings > 0 ? `; ${errors} errors, ${warnings} warnings` : ''}`);
    for (const line of formatReloadIssues(issues)) out.push(`  ${line}`);
  } else out.push('last reload: none');
  const c = obj(s.counts);
  out.push(`policy: ${num(c.heps)} HostEndpoints, ${num(c.tiers)} tiers, ${num(c.policies)} policies, ${num(c.rules)} rules`);
  if (s.datastore && typeof s.datastore === 'object') out.push(`datastore: ${describeHealth(s.datastore as DatastoreHealth)}`);
  const f = obj(s.flows);
  out.push(`flows: ${num(f.size)} of ${num(f.capacity)}; created ${num(f.created)}, evicted ${num(f.evictions ?? f.evicted)}, expired ${num(f.expired)}, closed ${num(f.closed)}`);
  const k = obj(s.counters);
  out.push(`packets: ${num(k.packets)} (accepted ${num(k.accepted)}, dropped ${num(k.dropped)}, repeated ${num(k.repeated)}); parse errors ${num(k.parseErrors)}, re-judged ${num(k.rejudged)}, handler errors ${num(k.handlerErrors)}`);
  out.push(`reloads: ${num(k.reloadsOk)} ok, ${num(k.reloadsFailed)} failed; interface refreshes ${num(k.hostRefreshes)}`);
  const queues = Array.isArray(s.queues) ? (s.queues as unknown[]).map(obj) : [];
  const kernel = Array.isArray(s.kernelQueues) ? (s.kernelQueues as unknown[]).map(obj) : [];
  const byNumber = new Map<number, Obj>();
  for (const kq of kernel) if (typeof kq.queueNumber === 'number') byNumber.set(kq.queueNumber, kq);
  const numbers = [...new Set([...queues.map((q) => q.queueNumber), ...kernel.map((q) => q.queueNumber)].filter((n): n is number => typeof n === 'number'))].sort((a, b) => a - b);
  if (numbers.length > 0) {
    const rows: string[][] = [['QUEUE', 'HOOK', 'PACKETS', 'ACCEPT', 'DROP', 'REPEAT', 'PENDING', 'K-WAITING', 'K-QUEUE-DROPPED', 'K-USER-DROPPED']];
    for (const n of numbers) {
      const q = queues.find((x) => x.queueNumber === n) ?? {};
      const kq: Obj = byNumber.get(n) ?? {};
      const v = obj(q.verdicts);
      const bound = byNumber.has(n);
      rows.push([
        String(n),
        String(q.hook ?? kq.hook ?? '-'),
        num(q.packets),
        num(v.accept),
        num(v.drop),
        num(v.repeat),
        num(q.pending),
        bound ? num(kq.queueTotal) : 'unbound',
        bound ? num(kq.queueDropped) : '-',
        bound ? num(kq.userDropped) : '-',
      ]);
    }
    out.push('queues (K- columns: kernel counters from /proc/net/netfilter/nfnetlink_queue):');
    for (const l of table(rows)) out.push(`  ${l}`);
  }
  if (typeof s.kernelQueuesError === 'string') out.push(`kernel queue counters unavailable: ${s.kernelQueuesError}`);
  return `${out.join('\n')}\n`;
}
