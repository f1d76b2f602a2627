/**
 * The rows of `nfqwall flows`: age, state, verdict, deciding rule and counters per flow, filtered
 * by the FILTER language.
 *
 * Two sources: nfqwall's flow table (`listFlows`: every flow in packet mode; in flow mode the
 * denied and undecided ones, since the table forgets a flow once the kernel holds its verdict)
 * and, in flow mode, the kernel's conntrack table (`listKernelFlows`: the flows whose allow
 * verdict is stored in the ct mark, with the kernel's state, timeout and byte counts; the deciding
 * rule and age come from the flow log when flow records are on). `mergeFlowListings` joins them.
 *
 * Neither table keeps interfaces per flow, so `iif`/`oif` primitives match no flow.
 */
import { decodeFlowKey, FlowStatus, tcpStateName, type FlowEntry, type FlowTable } from '../conntrack';
import { conntrackFlowKey, listConntrack, type ConntrackListOptions } from './conntrack-events';
import type { KnownFlow } from './flow-log';
import { IpProto, isPortProto } from '../packet';
import type { FlowDecision } from '../pipeline/packet-processor';
import { NF_DROP } from '../queue/verdict-codes';
import { formatIp } from '../net/ip';
import { protocolName, type Filter, type FilterSubject } from './filter';
import { flowIdOf } from './flow-id';
import { ruleFields } from './records';

export interface FlowRow {
  /** Where state and counters come from: nfqwall's flow table, or the kernel's conntrack table. */
  source: 'nfqwall' | 'kernel';
  /** nfqwall's flow id (null for a kernel flow nfqwall has no record of). */
  flowId: number | null;
  /** The kernel's conntrack id (kernel rows). */
  ctId: number | null;
  family: 4 | 6;
  proto: string;
  /** Original direction (the side that sent the first packet). */
  src: string;
  dst: string;
  sport: number | null;
  dport: number | null;
  /** ICMP query identifier, or null. */
  icmpId: number | null;
  /** TCP state name, or unreplied / replied / stream / assured for other protocols. */
  state: string;
  /** Null when unknown (a kernel flow without a flow record). */
  ageMs: number | null;
  idleMs: number | null;
  /** Time left before the idle timeout removes the flow (ms). */
  expiresInMs: number;
  verdict: 'allow' | 'deny' | null;
  stage: string | null;
  hep: string | null;
  tier: string | null;
  policy: string | null;
  rule: number | null;
  ruleId: string | null;
  generation: number | null;
  packetsOrig: number;
  bytesOrig: number;
  packetsReply: number;
  bytesReply: number;
}

export interface FlowListing {
  rows: FlowRow[];
  /** Entries in the table. */
  total: number;
  /** Entries the filter matched (rows holds at most `limit` of them). */
  matched: number;
  truncated: boolean;
}

function stateOf(e: FlowEntry<unknown>, proto: number): string {
  if (proto === IpProto.TCP) return tcpStateName(e.tcpState);
  if (e.status & FlowStatus.UDP_STREAM) return 'stream';
  if (e.status & FlowStatus.ASSURED) return 'assured';
  return e.status & FlowStatus.SEEN_REPLY ? 'replied' : 'unreplied';
}

/** List flows matching `filter` (at most `limit` rows). `now` in ms, same clock as the table's. */
export function listFlows(table: FlowTable<FlowDecision>, filter: Filter, now: number, limit = 1000): FlowListing {
  const rows: FlowRow[] = [];
  let matched = 0;
  let total = 0;
  const subject: FilterSubject = {
    family: 4, proto: 0, src: { family: 4, words: [0, 0, 0, 0] }, dst: { family: 4, words: [0, 0, 0, 0] },
    sport: -1, dport: -1, iif: null, oif: null, verdict: null, rule: null, endpoint: null,
  };
  const epoch = table.epoch;
  for (const e of table.entries()) {
    total++;
    const k = decodeFlowKey(e.key);
    if (!k) continue;
    const lowFirst = (e.status & FlowStatus.ORIGINAL_SRC_LOW) !== 0;
    const ports = isPortProto(k.proto);
    const icmp = k.proto === IpProto.ICMP || k.proto === IpProto.ICMPV6;
    subject.family = k.family;
    subject.proto = k.proto;
    subject.src = lowFirst ? k.low : k.high;
    subject.dst = lowFirst ? k.high : k.low;
    subject.sport = ports ? (lowFirst ? k.lowPort : k.highPort) : -1;
    subject.dport = ports ? (lowFirst ? k.highPort : k.lowPort) : -1;
    const d = e.decision;
    subject.verdict = d === null ? null : d.verdict === NF_DROP ? 'deny' : 'allow';
    subject.rule = d?.rule ?? null;
    subject.endpoint = d?.endpoint ?? null;
    if (!filter.matches(subject)) continue;
    matched++;
    if (rows.length >= limit) continue;
    const rf = d ? ruleFields(d.rule) : null;
    const first = epoch + e.firstSeen;
    const last = epoch + e.lastSeen;
    rows.push({
      source: 'nfqwall',
      flowId: flowIdOf(e),
      ctId: null,
      family: k.family,
      proto: protocolName(k.proto),
      src: formatIp(subject.src),
      dst: formatIp(subject.dst),
      sport: ports ? subject.sport : null,
      dport: ports ? subject.dport : null,
      icmpId: icmp ? k.lowPort : null,
      state: stateOf(e, k.proto),
      ageMs: Math.max(0, now - first),
      idleMs: Math.max(0, now - last),
      expiresInMs: Math.max(0, table.expiresAt(e) - now),
      verdict: subject.verdict,
      stage: d?.hook ?? null,
      hep: d?.endpoint ?? null,
      tier: rf?.tier ?? null,
      policy: rf?.policy ?? null,
      rule: rf?.rule ?? null,
      ruleId: rf?.ruleId ?? null,
      generation: e.generation >= 0 ? e.generation : null,
      packetsOrig: e.packetsOriginal,
      bytesOrig: e.bytesOriginal,
      packetsReply: e.packetsReply,
      bytesReply: e.bytesReply,
    });
  }
  return { rows, total, matched, truncated: matched > rows.length };
}

export interface KernelFlowOptions extends ConntrackListOptions {
  filter: Filter;
  now: number;
  limit: number;
  /** What nfqwall knows of a flow by its flow key (FlowLog.lookup). */
  annotate?: (key: string) => KnownFlow | undefined;
  /** The ct-mark bits of a stored deny (MarkLayout.drop), to tell the verdict; default: allow. */
  dropBit?: number;
}

/** Flows of the kernel's conntrack table (flow mode: pass nfqwall's DECIDED bit as `markFilter`). */
export async function listKernelFlows(opts: KernelFlowOptions): Promise<FlowListing> {
  const rows: FlowRow[] = [];
  let matched = 0;
  const subject: FilterSubject = {
    family: 4, proto: 0, src: { family: 4, words: [0, 0, 0, 0] }, dst: { family: 4, words: [0, 0, 0, 0] },
    sport: -1, dport: -1, iif: null, oif: null, verdict: null, rule: null, endpoint: null,
  };
  const total = await listConntrack(opts, (e) => {
    const key = conntrackFlowKey(e);
    const known = key === null ? undefined : opts.annotate?.(key);
    const ports = isPortProto(e.proto);
    subject.family = e.family;
    subject.proto = e.proto;
    subject.src = e.orig.src;
    // Post-DNAT destination, as nfqwall's filter hooks saw it.
    subject.dst = e.reply.src;
    subject.sport = ports ? (e.orig.sport ?? -1) : -1;
    subject.dport = ports ? (e.reply.sport ?? -1) : -1;
    subject.verdict = opts.dropBit !== undefined && (e.mark & opts.dropBit) !== 0 ? 'deny' : 'allow';
    subject.rule = known?.rule ?? null;
    subject.endpoint = known?.fields.hep ?? null;
    if (!opts.filter.matches(subject)) return;
    matched++;
    if (rows.length >= opts.limit) return;
    const f = known?.fields;
    rows.push({
      source: 'kernel',
      flowId: f?.flowId ?? null,
      ctId: e.id,
      family: e.family,
      proto: protocolName(e.proto),
      src: formatIp(subject.src),
      dst: formatIp(subject.dst),
      sport: ports ? subject.sport : null,
      dport: ports ? subject.dport : null,
      icmpId: e.orig.icmpId,
      state: e.state ?? (e.flags.includes('ASSURED') ? 'assured' : e.flags.includes('UNREPLIED') ? 'unreplied' : 'replied'),
      ageMs: known ? Math.max(0, opts.now - known.start) : null,
      idleMs: null,
      expiresInMs: (e.timeout ?? 0) * 1000,
      verdict: subject.verdict,
      stage: f?.stage ?? null,
      hep: f?.hep ?? null,
      tier: f?.tier ?? null,
      policy: f?.policy ?? null,
      rule: f?.rule ?? null,
      ruleId: f?.ruleId ?? null,
      generation: f?.generation ?? null,
      packetsOrig: e.orig.packets ?? 0,
      bytesOrig: e.orig.bytes ?? 0,
      packetsReply: e.reply.packets ?? 0,
      bytesReply: e.reply.bytes ?? 0,
    });
  });
  return { rows, total, matched, truncated: matched > rows.length };
}

/**
 * nfqwall's rows first, then the kernel's flows it does not list itself; at most `limit` rows.
 * A flow in both keeps nfqwall's identity, rule and age but takes the kernel's state, timeout and
 * counters, and has no idle time (in flow mode only the kernel saw the flow's later packets).
 */
export function mergeFlowListings(own: FlowListing, kernel: FlowListing, limit: number): FlowListing {
  const id = (r: FlowRow) => `${r.proto} ${r.src} ${r.sport ?? r.icmpId} ${r.dst} ${r.dport}`;
  const byId = new Map(kernel.rows.map((r) => [id(r), r]));
  const rows = own.rows.map((r) => {
    const k = byId.get(id(r));
    if (!k) return r;
    byId.delete(id(r));
    // nfqwall's last-seen time stops at the packets it was shown: the flow's idle time is unknown.
    return { ...r, source: 'kernel' as const, ctId: k.ctId, state: k.state, idleMs: k.idleMs, expiresInMs: k.expiresInMs, packetsOrig: k.packetsOrig, bytesOrig: k.bytesOrig, packetsReply: k.packetsReply, bytesReply: k.bytesReply };
  });
  const dups = kernel.rows.length - byId.size;
  const all = [...rows, ...byId.values()].slice(0, limit);
  const matched = own.matched + kernel.matched - dups;
  return { rows: all, total: own.total + kernel.total, matched, truncated: matched > all.length };
}

function duration(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n}`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)}K`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)}M`;
  return `${(n / 1024 / 1024 / 1024).toFixed(1)}G`;
}

function endpoint(addr: string, port: number | null, family: 4 | 6): string {
  if (port === null) return addr;
  return family === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** A fixed-width table of flows (one header line, one line per row). */
export function formatFlowTable(listing: FlowListing): string {
  const header = ['ID', 'AGE', 'IDLE', 'PROTO', 'SOURCE', 'DESTINATION', 'STATE', 'VERDICT', 'POLICY/RULE', 'PKTS o/r', 'BYTES o/r'];
  const lines: string[][] = [header];
  for (const r of listing.rows) {
    const rule = r.policy !== null ? `${r.tier !== null ? `${r.tier}/` : ''}${r.policy}#${r.rule}` : r.ruleId ?? '-';
    lines.push([
      r.flowId !== null ? String(r.flowId) : `ct:${r.ctId ?? '?'}`,
      duration(r.ageMs),
      duration(r.idleMs),
      r.proto,
      endpoint(r.src, r.sport, r.family),
      endpoint(r.dst, r.dport, r.family) + (r.icmpId !== null ? ` id ${r.icmpId}` : ''),
      r.state,
      r.verdict ?? '-',
      rule,
      `${r.packetsOrig}/${r.packetsReply}`,
      `${bytes(r.bytesOrig)}/${bytes(r.bytesReply)}`,
    ]);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const text = lines.map((l) => l.map((c, i) => (i === l.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
  const foot = `${listing.matched} of ${listing.total} flows matched${listing.truncated ? `; showing the ${listing.rows.length} most recently active` : ''}`;
  return `${text.join('\n')}\n${foot}\n`;
}
