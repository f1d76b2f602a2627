/**
 * Text and JSON forms of replay results: the per-flow table, the summary line and the per-packet
 * JSON line. Pure.
 */
import { ruleKey, type StepOutcome } from '../engine/decision';
import { describeRule } from '../engine/explain';
import { formatIp, type IpAddress } from '../net/ip';
import { flowStateText, type FlowRecord, type PacketResult, type ReplayStats } from './replay-engine';

const PROTO_NAMES: Readonly<Record<number, string>> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP', 136: 'UDPLite' };

/** Calico's protocol name (TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite) or the number. */
export function protoName(proto: number): string {
  return PROTO_NAMES[proto] ?? String(proto);
}

function hasPorts(proto: number): boolean {
  return proto === 6 || proto === 17 || proto === 132 || proto === 136;
}

function endpoint(a: IpAddress, port: number, proto: number): string {
  const ip = formatIp(a);
  if (!hasPorts(proto) || port < 0) return ip;
  return a.family === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** `TCP`, `ICMP 8/0`, `ICMPv6 128/0`, `47`. */
function protoText(proto: number, icmpType: number, icmpCode: number): string {
  const name = protoName(proto);
  return icmpType >= 0 ? `${name} ${icmpType}/${icmpCode}` : name;
}

/** `gw1.eth1: tier default / policy allow-ssh / egress rule 0 (Allow)`; `-: built-in unmanaged-interface`. */
export function describeDecider(step: StepOutcome): string {
  return `${step.endpoint ?? '-'}: ${describeRule(step.rule)}`;
}

/** The HEP, tier, policy and rule of a deciding step, for JSON. */
export function deciderFields(step: StepOutcome): { hep: string | null; tier: string | null; policy: string | null; rule: string; hook: string; chain: string } {
  const r = step.rule;
  return {
    hep: step.endpoint,
    tier: r.kind === 'policy' ? r.tier : null,
    policy: r.kind === 'policy' ? r.policy : r.kind === 'profile' ? `profile:${r.profile}` : null,
    rule: ruleKey(r),
    hook: step.hook,
    chain: step.chain,
  };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(6);
}

function verdictText(row: FlowRecord): string {
  if (row.verdict === 'allow' && row.denied > 0) return `allow (${row.denied} dropped)`;
  if (row.verdict === 'deny' && row.allowed > 0) return `deny (${row.allowed} allowed)`;
  return row.verdict;
}

/**
 * The per-flow table: one row per flow in order of first packet. `startMs` is the time shown as
 * +0 (the first packet of the replay).
 */
export function formatFlowTable(flows: readonly FlowRecord[], startMs: number): string {
  const head = ['flow', 'first', 'time', 'proto', 'source', 'destination', 'path', 'in', 'out', 'verdict', 'pkts>', 'bytes>', 'pkts<', 'bytes<', 'state', 'decided by'];
  const right = new Set([0, 1, 2, 10, 11, 12, 13]);
  const rows: string[][] = [head];
  for (const f of flows) {
    rows.push([
      String(f.id),
      `#${f.firstIndex}`,
      `+${seconds(f.firstTimeMs - startMs)}`,
      protoText(f.proto, f.icmpType, f.icmpCode),
      endpoint(f.src, f.sport, f.proto),
      endpoint(f.dst, f.dport, f.proto),
      f.path,
      f.iif ?? '-',
      f.oif ?? '-',
      verdictText(f),
      String(f.packetsOriginal),
      String(f.bytesOriginal),
      String(f.packetsReply),
      String(f.bytesReply),
      flowStateText(f),
      describeDecider(f.decidedBy),
    ]);
  }
  const widths = head.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const last = head.length - 1;
  return `${rows
    .map((r) =>
      r
        .map((cell, c) => (c === last ? cell : right.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

function counted(rec: Record<string, number>): string {
  return Object.entries(rec)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

/** `replayed 120 packets from 2 files: 100 allowed, 12 denied, ...; 14 flows (10 allowed, 4 denied)`. */
export function formatSummary(stats: ReplayStats, flows: readonly FlowRecord[], inputs: number): string {
  const parts = [`${stats.allowed} allowed`, `${stats.denied} denied`];
  if (stats.parseErrors > 0) parts.push(`${stats.parseErrors} parse errors (${counted(stats.parseErrorsByStatus)})`);
  if (stats.notIp > 0) parts.push(`${stats.notIp} not IP`);
  if (stats.noRoute > 0) parts.push(`${stats.noRoute} no route`);
  let allowedFlows = 0;
  for (const f of flows) if (f.verdict === 'allow') allowedFlows++;
  const files = inputs === 1 ? '1 file' : `${inputs} files`;
  return `replayed ${stats.packets} packets from ${files}: ${parts.join(', ')}; ${flows.length} flows (${allowedFlows} allowed, ${flows.length - allowedFlows} denied)\n`;
}

/** One JSON object per packet: where it went, its verdict and why. */
export function packetJson(r: PacketResult, inputName: string): Record<string, unknown> {
  const o: Record<string, unknown> = {
    index: r.index,
    file: inputName,
    time: Number((r.timeMs / 1000).toFixed(6)),
    length: r.length,
    verdict: r.verdict,
  };
  if (r.verdict === 'not-ip') {
    o.reason = r.reason;
    return o;
  }
  if (r.verdict === 'parse-error') {
    o.status = r.status;
    o.reason = r.reason;
    return o;
  }
  const v = r.view;
  const family = v.family === 6 ? 6 : 4;
  o.family = family;
  o.proto = protoName(v.proto);
  o.src = formatIp({ family, words: [v.src[0], v.src[1], v.src[2], v.src[3]] });
  o.dst = formatIp({ family, words: [v.dst[0], v.dst[1], v.dst[2], v.dst[3]] });
  o.sport = v.sport >= 0 ? v.sport : null;
  o.dport = v.dport >= 0 ? v.dport : null;
  o.icmpType = v.icmpType >= 0 ? v.icmpType : null;
  o.icmpCode = v.icmpCode >= 0 ? v.icmpCode : null;
  const d = r.direction;
  o.path = d.path;
  o.iif = d.iif;
  o.oif = d.oif;
  o.iifFrom = d.iifSource;
  if (r.verdict === 'no-route') {
    o.reason = r.reason;
    return o;
  }
  o.ctState = r.ctState;
  o.flow = r.flow?.id ?? null;
  o.noVerdict = r.noVerdict;
  if (r.untracked) o.untracked = true;
  if (r.decidedBy) {
    o.rule = ruleKey(r.decidedBy.rule);
    o.decidedBy = deciderFields(r.decidedBy);
  }
  if (r.judgement) {
    o.steps = r.judgement.steps.map((s) => ({ hook: s.hook, chain: s.chain, endpoint: s.endpoint, result: s.result, rule: ruleKey(s.rule) }));
    if (r.judgement.logs.length > 0) o.logs = r.judgement.logs.map(ruleKey);
  }
  return o;
}

/** One JSON object per flow row. */
export function flowJson(f: FlowRecord, inputName: string): Record<string, unknown> {
  return {
    id: f.id,
    firstIndex: f.firstIndex,
    file: inputName,
    firstTime: Number((f.firstTimeMs / 1000).toFixed(6)),
    lastTime: Number((f.lastTimeMs / 1000).toFixed(6)),
    family: f.family,
    proto: protoName(f.proto),
    src: formatIp(f.src),
    dst: formatIp(f.dst),
    sport: f.sport >= 0 ? f.sport : null,
    dport: f.dport >= 0 ? f.dport : null,
    icmpType: f.icmpType >= 0 ? f.icmpType : null,
    icmpCode: f.icmpCode >= 0 ? f.icmpCode : null,
    path: f.path,
    iif: f.iif,
    oif: f.oif,
    verdict: f.verdict,
    noVerdict: f.noVerdict,
    decidedBy: deciderFields(f.decidedBy),
    packetsOriginal: f.packetsOriginal,
    bytesOriginal: f.bytesOriginal,
    packetsReply: f.packetsReply,
    bytesReply: f.bytesReply,
    allowed: f.allowed,
    denied: f.denied,
    attempts: f.attempts,
    state: flowStateText(f),
  };
}
