/** Output of the live replay: one line per packet (or JSON), and the summary. */
import type { LivePacket, LiveRunResult } from './live-replay';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function route(p: LivePacket): string {
  if (p.path === '') return '';
  return `${p.path} ${p.iif ?? '-'}>${p.oif ?? '-'}`;
}

function liveText(p: LivePacket): string {
  if (p.skipped !== '') return `not replayed: ${p.skipped}`;
  if (p.error !== '') return `error: ${p.error}`;
  const fate = p.live ?? '?';
  const latency = p.live === 'allow' && p.latencyMs !== null ? ` (${p.latencyMs} ms${p.late ? ', late' : ''})` : '';
  return `${pad(fate, 5)}${latency}${p.differs ? '  DIFFERS' : ''}`.trimEnd();
}

/** The per-packet table. */
export function formatLiveTable(packets: readonly LivePacket[]): string {
  const w = Math.max(6, ...packets.map((p) => p.packet.length));
  const rw = Math.max(5, ...packets.map((p) => route(p).length));
  const lines = [`${pad('#', 6)}  ${pad('packet', w)}  ${pad('route', rw)}  ${pad('offline', 11)}  live`];
  for (const p of packets) {
    lines.push(`${pad(String(p.index), 6)}  ${pad(p.packet, w)}  ${pad(route(p), rw)}  ${pad(p.offline, 11)}  ${liveText(p)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `N packets compared, M differ` and what was not replayed, by reason. */
export function formatLiveSummary(packets: readonly LivePacket[], r: LiveRunResult): string {
  const skipped = new Map<string, number>();
  for (const p of packets) if (p.skipped !== '') skipped.set(p.skipped, (skipped.get(p.skipped) ?? 0) + 1);
  const parts = [`${r.compared} packets compared, ${r.differ} differ`];
  const nSkipped = [...skipped.values()].reduce((a, b) => a + b, 0);
  if (nSkipped > 0) parts.push(`${nSkipped} not replayed live (${[...skipped].map(([why, n]) => `${n} ${why}`).join('; ')})`);
  if (r.errors > 0) parts.push(`${r.errors} could not be sent`);
  if (r.unmatched > 0) parts.push(`${r.unmatched} unrelated packets seen`);
  return `${parts.join('; ')}\n`;
}

export function liveJson(p: LivePacket): Record<string, unknown> {
  return {
    index: p.index,
    input: p.input,
    packet: p.packet,
    path: p.path || null,
    iif: p.iif,
    oif: p.oif,
    offline: p.offline,
    live: p.live,
    differs: p.differs,
    latencyMs: p.latencyMs,
    late: p.late,
    skipped: p.skipped || null,
    error: p.error || null,
  };
}
