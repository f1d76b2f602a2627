/**
 * `--expect` files: a YAML list of expectations about a replay, so that a policy repository can
 * keep a regression suite of captures and the verdicts they must get.
 *
 *   - {match: {src: 10.0.1.10, dst: 192.168.0.10, proto: TCP, dport: 22}, expect: allow}
 *   - match: {src: 10.0.1.0/24, dst: 192.168.0.0/24, proto: TCP, dport: 80}
 *     expect: deny
 *     flow: true          # flow-level: the verdict of each matching flow's first packet
 *     count: 2            # exactly 2 matching flows (default: at least 1)
 *
 * Packet-level (the default): every matching judged packet must get the verdict. Flow-level
 * (`flow: true`): every matching flow row, matched on its first packet's tuple. `count: 0` asserts
 * that nothing matches. Match fields: src, dst (address or CIDR), proto (name or number), sport,
 * dport, icmpType, icmpCode, path, iif, oif. Pure: the caller reads the file.
 */
import { isMap, isScalar, isSeq, type Node as YamlNode, type Pair } from 'yaml';
import { parseSingleYamlDocument } from '../config';
import { formatIssue } from '../errors';
import type { PacketPath } from '../engine/packet-facts';
import { formatIp, formatPrefix, parseCidr, prefixContains, type IpAddress, type IpPrefix } from '../net/ip';
import { describeDecider, protoName } from './format';
import type { FlowRecord, PacketResult } from './replay-engine';

export interface ExpectationMatch {
  src: IpPrefix | null;
  dst: IpPrefix | null;
  /** -1: any. */
  proto: number;
  sport: number;
  dport: number;
  icmpType: number;
  icmpCode: number;
  path: PacketPath | null;
  iif: string | null;
  oif: string | null;
}

export interface Expectation {
  file: string;
  /** 1-based line of the list item. */
  line: number;
  /** 1-based position in the list. */
  index: number;
  name: string | null;
  match: ExpectationMatch;
  expect: 'allow' | 'deny';
  flow: boolean;
  /** Exact number of matches required; null: at least one. */
  count: number | null;
  /** `{src: 10.0.1.10, proto: TCP, dport: 22}` */
  matchText: string;
}

export interface ExpectationParseResult {
  expectations: Expectation[];
  /** `file:line:col: message`, in file order. */
  errors: string[];
}

const ITEM_KEYS = new Set(['match', 'expect', 'flow', 'count', 'name']);
const MATCH_KEYS = ['src', 'dst', 'proto', 'sport', 'dport', 'icmpType', 'icmpCode', 'path', 'iif', 'oif'] as const;
const PATHS: readonly PacketPath[] = ['local-in', 'forward', 'local-out'];
const PROTOS: Readonly<Record<string, number>> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58, sctp: 132, udplite: 136 };

/** Parse and validate an expectation file; every problem is reported with its line and column. */
export function parseExpectations(text: string, file: string): ExpectationParseResult {
  // Within the policy loader's size, nesting, duplicate-key and alias limits.
  const { doc, lineCounter: lc, issues } = parseSingleYamlDocument(text, file);
  if (issues.length > 0) return { expectations: [], errors: issues.map(formatIssue) };
  const errors: string[] = [];
  const located: Array<{ line: number; col: number; text: string }> = [];
  const at = (node: { range?: [number, number, number] | null | undefined } | null | undefined, message: string): void => {
    const pos = node?.range ? lc.linePos(node.range[0]) : { line: 1, col: 1 };
    const line = Math.max(1, pos.line);
    const col = Math.max(1, pos.col);
    located.push({ line, col, text: `${file}:${line}:${col}: ${message}` });
    errors.push(located[located.length - 1]!.text);
  };
  const inFileOrder = (): string[] => located.sort((a, b) => a.line - b.line || a.col - b.col).map((l) => l.text);
  for (const e of doc.errors) {
    const p = e.linePos?.[0];
    errors.push(`${file}:${p?.line ?? 1}:${p?.col ?? 1}: ${e.message.split('\n')[0]}`);
  }
  if (errors.length > 0) return { expectations: [], errors };
  const root = doc.contents;
  if (!isSeq(root)) {
    at(root as YamlNode | null, 'an expectation file is a YAML list of {match: {...}, expect: allow|deny} items');
    return { expectations: [], errors: inFileOrder() };
  }
  if (root.items.length === 0) at(root, 'the list has no expectations');
  const expectations: Expectation[] = [];
  root.items.forEach((item, i) => {
    const node = item as YamlNode;
    const before = errors.length;
    if (!isMap(node)) return void at(node, `item ${i + 1}: must be a mapping with match and expect`);
    const get = (key: string): Pair<unknown, unknown> | undefined => node.items.find((p) => isScalar(p.key) && p.key.value === key);
    for (const p of node.items) {
      const k = isScalar(p.key) ? String(p.key.value) : '?';
      if (!ITEM_KEYS.has(k)) at(p.key as YamlNode, `unknown field '${k}' (match, expect, flow, count, name)`);
    }
    const expectPair = get('expect');
    let expect: 'allow' | 'deny' = 'allow';
    if (!expectPair) at(node, `item ${i + 1}: expect: required (allow or deny)`);
    else {
      const v = scalarValue(expectPair.value);
      if (v !== 'allow' && v !== 'deny') at(expectPair.value as YamlNode, `expect: must be allow or deny, got ${show(v)}`);
      else expect = v;
    }
    let flow = false;
    const flowPair = get('flow');
    if (flowPair) {
      const v = scalarValue(flowPair.value);
      if (typeof v !== 'boolean') at(flowPair.value as YamlNode, `flow: must be true or false, got ${show(v)}`);
      else flow = v;
    }
    let count: number | null = null;
    const countPair = get('count');
    if (countPair) {
      const v = scalarValue(countPair.value);
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) at(countPair.value as YamlNode, `count: must be a whole number >= 0, got ${show(v)}`);
      else count = v;
    }
    let name: string | null = null;
    const namePair = get('name');
    if (namePair) {
      const v = scalarValue(namePair.value);
      if (typeof v !== 'string') at(namePair.value as YamlNode, 'name: must be a string');
      else name = v;
    }
    const match: ExpectationMatch = { src: null, dst: null, proto: -1, sport: -1, dport: -1, icmpType: -1, icmpCode: -1, path: null, iif: null, oif: null };
    const shown: string[] = [];
    const matchPair = get('match');
    if (!matchPair) at(node, `item ${i + 1}: match: required (a mapping of src, dst, proto, sport, dport, ...)`);
    else if (!isMap(matchPair.value)) at(matchPair.value as YamlNode, 'match: must be a mapping of src, dst, proto, sport, dport, icmpType, icmpCode, path, iif, oif');
    else {
      const m = matchPair.value;
      const fields = new Map<string, Pair<unknown, unknown>>();
      for (const p of m.items) {
        const k = isScalar(p.key) ? String(p.key.value) : '?';
        if (!(MATCH_KEYS as readonly string[]).includes(k)) at(p.key as YamlNode, `match: unknown field '${k}' (${MATCH_KEYS.join(', ')})`);
        else fields.set(k, p);
      }
      for (const key of MATCH_KEYS) {
        const p = fields.get(key);
        if (!p) continue;
        const vn = p.value as YamlNode;
        const v = scalarValue(p.value);
        switch (key) {
          case 'src':
          case 'dst': {
            const c = typeof v === 'string' ? parseCidr(v, true) : null;
            if (!c) at(vn, `match.${key}: must be an IP address or CIDR, got ${show(v)}`);
            else {
              match[key] = c.prefix;
              shown.push(`${key}: ${c.hadLength ? formatPrefix(c.prefix) : formatIp(c.prefix.network)}`);
            }
            break;
          }
          case 'proto': {
            let n = -1;
            if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255) n = v;
            else if (typeof v === 'string' && PROTOS[v.toLowerCase()] !== undefined) n = PROTOS[v.toLowerCase()]!;
            if (n < 0) at(vn, `match.proto: must be TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 0..255, got ${show(v)}`);
            else {
              match.proto = n;
              shown.push(`proto: ${protoName(n)}`);
            }
            break;
          }
          case 'sport':
          case 'dport':
            if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) at(vn, `match.${key}: must be a port number 0..65535, got ${show(v)}`);
            else {
              match[key] = v;
              shown.push(`${key}: ${v}`);
            }
            break;
          case 'icmpType':
          case 'icmpCode':
            if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) at(vn, `match.${key}: must be a number 0..255, got ${show(v)}`);
            else {
              match[key] = v;
              shown.push(`${key}: ${v}`);
            }
            break;
          case 'path':
            if (typeof v !== 'string' || !(PATHS as readonly string[]).includes(v)) at(vn, `match.path: must be one of ${PATHS.join(', ')}, got ${show(v)}`);
            else {
              match.path = v as PacketPath;
              shown.push(`path: ${v}`);
            }
            break;
          case 'iif':
          case 'oif':
            if (typeof v !== 'string' || v === '') at(vn, `match.${key}: must be an interface name`);
            else {
              match[key] = v;
              shown.push(`${key}: ${v}`);
            }
            break;
        }
      }
      if (match.src && match.dst && match.src.family !== match.dst.family) at(m, 'match: src and dst are of different address families');
      const portless = match.proto >= 0 && match.proto !== 6 && match.proto !== 17 && match.proto !== 132 && match.proto !== 136;
      if (portless && (match.sport >= 0 || match.dport >= 0)) at(m, `match: ${protoName(match.proto)} has no ports; sport/dport need TCP, UDP, SCTP or UDPLite`);
    }
    if (errors.length > before) return;
    const pos = node.range ? lc.linePos(node.range[0]) : { line: 1 };
    expectations.push({ file, line: pos.line, index: i + 1, name, match, expect, flow, count, matchText: `{${shown.join(', ')}}` });
  });
  return { expectations: errors.length > 0 ? [] : expectations, errors: inFileOrder() };
}

function scalarValue(v: unknown): unknown {
  return isScalar(v) ? v.value : v === null || v === undefined ? null : v;
}

function show(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'object') return 'a collection';
  return JSON.stringify(v);
}

interface Tuple {
  family: number;
  proto: number;
  src: IpAddress;
  dst: IpAddress;
  sport: number;
  dport: number;
  icmpType: number;
  icmpCode: number;
  path: PacketPath;
  iif: string | null;
  oif: string | null;
}

function matches(m: ExpectationMatch, t: Tuple): boolean {
  if (m.proto >= 0 && m.proto !== t.proto) return false;
  if (m.sport >= 0 && m.sport !== t.sport) return false;
  if (m.dport >= 0 && m.dport !== t.dport) return false;
  if (m.icmpType >= 0 && m.icmpType !== t.icmpType) return false;
  if (m.icmpCode >= 0 && m.icmpCode !== t.icmpCode) return false;
  if (m.src && !prefixContains(m.src, t.src)) return false;
  if (m.dst && !prefixContains(m.dst, t.dst)) return false;
  if (m.path !== null && m.path !== t.path) return false;
  if (m.iif !== null && m.iif !== t.iif) return false;
  if (m.oif !== null && m.oif !== t.oif) return false;
  return true;
}

function endpointText(a: IpAddress, port: number): string {
  const ip = formatIp(a);
  if (port < 0) return ip;
  return a.family === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function tupleText(t: Tuple): string {
  const icmp = t.icmpType >= 0 ? ` ${t.icmpType}/${t.icmpCode}` : '';
  return `${protoName(t.proto)}${icmp} ${endpointText(t.src, t.sport)} -> ${endpointText(t.dst, t.dport)} ${t.path} ${t.iif ?? '-'}->${t.oif ?? '-'}`;
}

/** The outcome of one expectation. */
export interface ExpectationResult {
  expectation: Expectation;
  met: boolean;
  /** Packets / flows that matched the filter. */
  matched: number;
  /** Of those, how many got the other verdict. */
  wrong: number;
  /** The first few wrong ones, described. */
  samples: string[];
}

const MAX_SAMPLES = 5;

/** Checks expectations while a replay runs (packet-level) and at its end (flow-level). */
export class ExpectationChecker {
  private readonly packetLevel: Expectation[];
  private readonly state: Map<Expectation, { matched: number; wrong: number; samples: string[] }>;
  private readonly expectations: readonly Expectation[];

  constructor(expectations: readonly Expectation[]) {
    this.expectations = expectations;
    this.packetLevel = expectations.filter((e) => !e.flow);
    this.state = new Map(expectations.map((e) => [e, { matched: 0, wrong: 0, samples: [] }]));
  }

  /** Feed every packet result; only judged packets (allow / deny) can match. */
  packet(r: PacketResult): void {
    if (!r.judged || this.packetLevel.length === 0) return;
    const f = r.facts;
    for (const e of this.packetLevel) {
      if (!matches(e.match, f)) continue;
      const s = this.state.get(e)!;
      s.matched++;
      if (r.verdict === e.expect) continue;
      s.wrong++;
      if (s.samples.length < MAX_SAMPLES) {
        const how = r.decidedBy ? ` (${describeDecider(r.decidedBy)})` : '';
        s.samples.push(`${r.verdict.padEnd(5)}  packet #${r.index} ${tupleText(f)}, ct ${r.ctState ?? '-'}${how}`);
      }
    }
  }

  /** Evaluate everything, flow-level expectations against the replay's flow rows. */
  finish(flows: readonly FlowRecord[]): ExpectationResult[] {
    for (const e of this.expectations) {
      if (!e.flow) continue;
      const s = this.state.get(e)!;
      for (const row of flows) {
        if (!matches(e.match, row)) continue;
        s.matched++;
        if (row.verdict === e.expect) continue;
        s.wrong++;
        if (s.samples.length < MAX_SAMPLES) {
          s.samples.push(`${row.verdict.padEnd(5)}  flow ${row.id} (first packet #${row.firstIndex}) ${tupleText(row)} (${describeDecider(row.decidedBy)})`);
        }
      }
    }
    return this.expectations.map((e) => {
      const s = this.state.get(e)!;
      const countOk = e.count === null ? s.matched >= 1 : s.matched === e.count;
      return { expectation: e, met: countOk && s.wrong === 0, matched: s.matched, wrong: s.wrong, samples: s.samples };
    });
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * The report: one line per met expectation, a diff (`- expected` / `+ got`) for each unmet one,
 * and a closing count line.
 */
export function formatExpectationReport(results: readonly ExpectationResult[]): string {
  const lines: string[] = [];
  let failed = 0;
  for (const r of results) {
    const e = r.expectation;
    const unit = e.flow ? 'flow' : 'packet';
    const title = `${e.file}:${e.line}: ${e.name !== null ? `${e.name}: ` : ''}${unit}s ${e.matchText} expect ${e.expect}${e.count !== null ? `, count ${e.count}` : ''}`;
    if (r.met) {
      lines.push(`met      ${title} (${plural(r.matched, unit)})`);
      continue;
    }
    failed++;
    lines.push(`NOT MET  ${title}`);
    const countOk = e.count === null ? r.matched >= 1 : r.matched === e.count;
    if (!countOk) {
      lines.push(`  - expected ${e.count === null ? `at least 1 matching ${unit}` : `${plural(e.count, `matching ${unit}`)}`}`);
      lines.push(`  + got      ${r.matched === 0 ? `no matching ${unit}` : plural(r.matched, `matching ${unit}`)}`);
    }
    if (r.wrong > 0) {
      lines.push(`  - expected ${e.expect} for every matching ${unit}`);
      for (const s of r.samples) lines.push(`  + got      ${s}`);
      if (r.wrong > r.samples.length) lines.push(`  + ... and ${r.wrong - r.samples.length} more (${r.wrong} of ${plural(r.matched, unit)} got the other verdict)`);
    }
  }
  lines.push(`expectations: ${results.length - failed} met, ${failed} not met`);
  return `${lines.join('\n')}\n`;
}
