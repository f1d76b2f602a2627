/**
 * A stand-in for the daemon behind the control socket: ControlHandlers over a real packet
 * processor, flow table and trace hub (the seam the daemon plugs into), with scripted reloads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ControlHandlers, ReloadReport } from '../../src/control/protocol';
import type { Filter } from '../../src/observe/filter';
import { listFlows } from '../../src/observe/flows-view';
import { TraceHub, type TraceSink } from '../../src/observe/trace-hub';
import { ctMark, IFINDEX, LAYOUT, rig, wanTcp, type Rig } from '../observe/helpers';

export const RELOAD_OK: ReloadReport = { ok: true, generation: 2, at: '2026-01-02T03:04:05.000Z', issues: [], durationMs: 7, counts: { tiers: 2, policies: 2, rules: 7, heps: 1 } };

export const RELOAD_FAILED: ReloadReport = {
  ok: false,
  generation: 2,
  at: '2026-01-02T03:05:00.000Z',
  durationMs: 3,
  issues: [
    { code: 'NFQ_CFG_UNKNOWN_FIELD', message: "unknown field 'protocl'", location: { file: '/etc/nfqwall/policy/wan.yaml', line: 12, column: 7, path: 'spec.ingress[1].protocl' }, severity: 'error' },
    { code: 'NFQ_CFG_BAD_SELECTOR', message: "selector: expected a label name at 'network =='", location: { file: '/etc/nfqwall/policy/wan.yaml', line: 4, path: 'spec.selector' }, severity: 'error' },
    { code: 'NFQ_CFG_NO_EFFECT', message: 'ipipEnabled has no effect in nfqwall', location: { file: '/etc/nfqwall/policy/felix.yaml', line: 6, path: 'spec.ipipEnabled' }, severity: 'warning' },
  ],
};

export class FakeDaemon implements ControlHandlers {
  readonly rig: Rig = rig('packet');
  readonly hub = new TraceHub({ acceptMarkBit: LAYOUT.accept, maxEventsPerSecond: 1_000_000 });
  readonly reloads: ReloadReport[] = [];
  reloadCalls = 0;
  now = 1_000_000;

  status(): Record<string, unknown> {
    return {
      generation: this.rig.slot.generation,
      lastReload: RELOAD_OK,
      backend: 'nft',
      mode: 'flow',
      failMode: 'open',
      counts: { tiers: 2, policies: 2, rules: 7, heps: 1 },
      counters: { packets: 3, accepted: 2, dropped: 1, repeated: 0, parseErrors: 0, rejudged: 0, handlerErrors: 0, reloadsOk: 1, reloadsFailed: 0, hostRefreshes: 0 },
      flows: { size: this.rig.flows.size, capacity: this.rig.flows.capacity, evictions: 0, ...this.rig.flows.stats },
      queues: [{ hook: 'filter-forward', queueNumber: 4103, packets: 3, verdicts: { accept: 2, drop: 1, repeat: 0 }, pending: 0 }],
      kernelQueues: [{ queueNumber: 4103, hook: 'filter-forward', portId: 77, queueTotal: 0, copyMode: 2, copyRange: 65535, queueDropped: 11, userDropped: 2, idSequence: 3 }],
    };
  }

  async reload(): Promise<ReloadReport> {
    this.reloadCalls++;
    const r = this.reloads.shift();
    if (!r) throw new Error('no reload scripted');
    return r;
  }

  flows(filter: Filter, limit: number): unknown {
    return listFlows(this.rig.flows, filter, this.now, limit);
  }

  subscribeTrace(filter: Filter, sink: TraceSink): () => void {
    return this.hub.subscribe(filter, sink);
  }

  /** One forwarded SYN from the WAN side through the processor, offered to the trace hub. */
  packet(src: string, dport: number, sport = 40000): void {
    this.now += 1;
    const mark = ctMark('new');
    const o = this.rig.processor.process('filter-forward', wanTcp(src, '10.0.1.20', dport, 'S', sport), mark, IFINDEX.eth0, IFINDEX.eth2, this.now);
    if (this.hub.active) this.hub.offer(o, mark, this.rig.slot.current);
  }
}

/** A private directory for sockets (0700, root's); the socket lives in run/nfqwall below it. */
export function socketDir(): { dir: string; socket: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'nfqwall-ctl-'));
  return { dir, socket: join(dir, 'run', 'nfqwall', 'control.sock'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
