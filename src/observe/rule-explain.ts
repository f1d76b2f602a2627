/**
 * Why one rule did or did not match one packet: every criterion the rule has (calico-semantics.md
 * §3.2–§3.7), each with its outcome and a sentence saying why. Pure.
 *
 * It mirrors the reference evaluator's rule matching (src/engine/reference/rule-match.ts) and
 * reuses its family rendering (§3.3), address objects and selector cache; the test suite checks
 * `explainRule(...).matched` against `matchesPacket` on random policies and packets so the two
 * cannot drift apart.
 */
import type { EntityRule, PortSpec, Rule } from '../config/resources';
import { formatIp, formatPrefix, prefixContains, type IpAddress, type IpFamily, type IpPrefix } from '../net/ip';
import { protocolHasPorts } from '../engine/packet-facts';
import { objectHasAddress, type AddressObject } from '../engine/reference/address-objects';
import type { PacketView } from '../engine/reference/packet-view';
import { namedPortMatches, positivePredicate, ruleForFamily, type MatchContext } from '../engine/reference/rule-match';
import type { LabelPredicate } from '../engine/reference/selectors';
import { protocolName } from './filter';

/** The criteria a rule can have, by their field names in the Calico API. */
export type Criterion =
  | 'ipVersion'
  | 'protocol'
  | 'notProtocol'
  | 'icmp'
  | 'notICMP'
  | 'source.nets'
  | 'source.notNets'
  | 'source.selector'
  | 'source.notSelector'
  | 'source.ports'
  | 'source.notPorts'
  | 'destination.nets'
  | 'destination.notNets'
  | 'destination.selector'
  | 'destination.notSelector'
  | 'destination.ports'
  | 'destination.notPorts';

export interface CriterionCheck {
  criterion: Criterion;
  ok: boolean;
  /** One sentence: what the rule asks and what the packet has. */
  detail: string;
}

export interface RuleExplanation {
  matched: boolean;
  /** Every criterion the rule has, in evaluation order (absent criteria match everything). */
  checks: CriterionCheck[];
  /** The failed ones (empty when matched). */
  failed: CriterionCheck[];
}

function famName(f: IpFamily): string {
  return f === 4 ? 'IPv4' : 'IPv6';
}

function portsText(list: readonly PortSpec[]): string {
  return list.map((p) => (p.kind === 'named' ? `named port '${p.name}'` : p.min === p.max ? String(p.min) : `${p.min}:${p.max}`)).join(', ');
}

function netsText(list: readonly IpPrefix[]): string {
  return list.map(formatPrefix).join(', ');
}

/**
 * §3.3 in words: why the rule does not exist for the packet's family (null when it does).
 * Same conditions, same order, as `ruleForFamily`.
 */
function familyReason(rule: Rule, family: IpFamily): CriterionCheck | null {
  if (rule.ipVersion !== undefined && rule.ipVersion !== family) {
    return { criterion: 'ipVersion', ok: false, detail: `rule is for ${famName(rule.ipVersion)} only (ipVersion ${rule.ipVersion}); the packet is ${famName(family)}` };
  }
  if (rule.protocolName === 'ICMP' && family !== 4) return { criterion: 'protocol', ok: false, detail: 'protocol ICMP (by name) makes the rule IPv4-only; the packet is IPv6' };
  if (rule.protocolName === 'ICMPv6' && family !== 6) return { criterion: 'protocol', ok: false, detail: 'protocol ICMPv6 (by name) makes the rule IPv6-only; the packet is IPv4' };
  const sides: Array<[Criterion, readonly string[]]> = [
    ['source.nets', rule.source.nets],
    ['source.notNets', rule.source.notNets],
    ['destination.nets', rule.destination.nets],
    ['destination.notNets', rule.destination.notNets],
  ];
  for (const [criterion, list] of sides) {
    if (list.length === 0) continue;
    // Validated CIDRs: the family is visible from the text.
    const has = list.some((t) => (t.includes(':') ? 6 : 4) === family);
    if (!has) return { criterion, ok: false, detail: `${criterion} lists no ${famName(family)} CIDR (${list.join(', ')}), so the rule does not exist for ${famName(family)} packets (§3.3)` };
  }
  return null;
}

/** The objects (kind/name) matching `pred` that own `addr`. */
function owners(objects: readonly AddressObject[], pred: LabelPredicate, addr: IpAddress): AddressObject[] {
  return objects.filter((o) => pred(o.labels) && objectHasAddress(o, addr));
}

function objName(o: AddressObject): string {
  return `${o.kind} ${o.name}`;
}

/** The first entry of `list` the packet matches, or null (§3.4: a packet without ports matches none). */
function portListHit(ctx: MatchContext, list: readonly PortSpec[], rule: Rule, selected: LabelPredicate | null, addr: IpAddress, pkt: PacketView, port: number): PortSpec | null {
  if (!protocolHasPorts(pkt.proto) || port < 0) return null;
  for (const spec of list) {
    if (spec.kind === 'range' ? port >= spec.min && port <= spec.max : namedPortMatches(ctx, spec.name, rule, selected, addr, pkt.proto, port)) return spec;
  }
  return null;
}

function describeSpec(spec: PortSpec): string {
  return spec.kind === 'named' ? `named port '${spec.name}'` : spec.min === spec.max ? `port ${spec.min}` : `range ${spec.min}:${spec.max}`;
}

interface Side {
  name: 'source' | 'destination';
  nets: IpPrefix[];
  notNets: IpPrefix[];
  entity: EntityRule;
}

function sideChecks(ctx: MatchContext, rule: Rule, side: Side, addr: IpAddress, port: number, pkt: PacketView, out: CriterionCheck[]): void {
  const s = side.name;
  const a = formatIp(addr);
  if (side.nets.length > 0) {
    const hit = side.nets.find((p) => prefixContains(p, addr));
    out.push({
      criterion: `${s}.nets`,
      ok: hit !== undefined,
      detail: hit ? `${s} ${a} is in ${formatPrefix(hit)}` : `${s} ${a} is in none of ${netsText(side.nets)}`,
    });
  }
  if (side.notNets.length > 0) {
    const hit = side.notNets.find((p) => prefixContains(p, addr));
    out.push({
      criterion: `${s}.notNets`,
      ok: hit === undefined,
      detail: hit ? `${s} ${a} is in excluded ${formatPrefix(hit)}` : `${s} ${a} is in none of the excluded ${netsText(side.notNets)}`,
    });
  }
  const entity = side.entity;
  const positive = positivePredicate(entity, ctx.selectors);
  if (positive) {
    const text = [entity.selector && `selector \`${entity.selector}\``, entity.namespaceSelector && `namespaceSelector \`${entity.namespaceSelector}\``, entity.notSelector && `notSelector \`${entity.notSelector}\``]
      .filter((x) => x !== '')
      .join(' and ');
    const hits = owners(ctx.objects, positive, addr);
    out.push({
      criterion: `${s}.selector`,
      ok: hits.length > 0,
      detail: hits.length > 0
        ? `${s} ${a} belongs to ${hits.map(objName).join(', ')}, which ${hits.length === 1 ? 'matches' : 'match'} ${text}`
        : `${s} ${a} is not an address of any object matching ${text} (unknown addresses never match a selector)`,
    });
  } else if (entity.notSelector !== '') {
    const hits = owners(ctx.objects, ctx.selectors.predicate(entity.notSelector), addr);
    out.push({
      criterion: `${s}.notSelector`,
      ok: hits.length === 0,
      detail: hits.length > 0
        ? `${s} ${a} belongs to ${hits.map(objName).join(', ')}, excluded by notSelector \`${entity.notSelector}\``
        : `${s} ${a} belongs to no object matching notSelector \`${entity.notSelector}\``,
    });
  }
  const portText = protocolHasPorts(pkt.proto) && port >= 0 ? `${s} port ${port}` : `the packet (${protocolName(pkt.proto)}) has no ports`;
  if (entity.ports.length > 0) {
    const hit = portListHit(ctx, entity.ports, rule, positive, addr, pkt, port);
    out.push({
      criterion: `${s}.ports`,
      ok: hit !== null,
      detail: hit ? `${portText} matches ${describeSpec(hit)}` : `${portText}; the rule wants ${portsText(entity.ports)}`,
    });
  }
  if (entity.notPorts.length > 0) {
    const hit = portListHit(ctx, entity.notPorts, rule, positive, addr, pkt, port);
    out.push({
      criterion: `${s}.notPorts`,
      ok: hit === null,
      detail: hit ? `${portText} is excluded by ${describeSpec(hit)}` : `${portText} is not among the excluded ${portsText(entity.notPorts)}`,
    });
  }
}

function icmpText(m: { type: number; code?: number }): string {
  return m.code === undefined ? `type ${m.type}` : `type ${m.type} code ${m.code}`;
}

/** Explain the rule against the packet view of its stage (pre- or post-DNAT, §5.13). */
export function explainRule(ctx: MatchContext, rule: Rule, pkt: PacketView): RuleExplanation {
  const notRendered = familyReason(rule, pkt.family);
  const fr = notRendered ? null : ruleForFamily(rule, pkt.family);
  if (notRendered || !fr) {
    const check = notRendered ?? { criterion: 'ipVersion' as const, ok: false, detail: `rule does not exist for ${famName(pkt.family)}` };
    return { matched: false, checks: [check], failed: [check] };
  }
  const checks: CriterionCheck[] = [];
  const pn = `${protocolName(pkt.proto)} (${pkt.proto})`;
  if (rule.ipVersion !== undefined) checks.push({ criterion: 'ipVersion', ok: true, detail: `packet is ${famName(pkt.family)}` });
  if (rule.protocol !== undefined) {
    const ok = pkt.proto === rule.protocol;
    checks.push({ criterion: 'protocol', ok, detail: ok ? `protocol is ${pn}` : `packet protocol ${pn}; the rule wants ${protocolName(rule.protocol)} (${rule.protocol})` });
  }
  if (rule.notProtocol !== undefined) {
    const ok = pkt.proto !== rule.notProtocol;
    checks.push({ criterion: 'notProtocol', ok, detail: ok ? `protocol ${pn} is not the excluded ${protocolName(rule.notProtocol)}` : `protocol ${pn} is excluded` });
  }
  const icmpProto = pkt.family === 4 ? 1 : 58;
  const isIcmp = pkt.proto === icmpProto;
  const has = isIcmp ? `ICMP type ${pkt.icmpType} code ${pkt.icmpCode}` : `the packet is not ${pkt.family === 4 ? 'ICMP' : 'ICMPv6'}`;
  const test = (m: { type: number; code?: number }) => pkt.icmpType === m.type && (m.code === undefined || pkt.icmpCode === m.code);
  if (rule.icmp) {
    const ok = isIcmp && test(rule.icmp);
    checks.push({ criterion: 'icmp', ok, detail: ok ? `${has} matches ${icmpText(rule.icmp)}` : `${has}; the rule wants ${icmpText(rule.icmp)}` });
  }
  if (rule.notICMP) {
    const ok = isIcmp && !test(rule.notICMP);
    checks.push({ criterion: 'notICMP', ok, detail: ok ? `${has} is not the excluded ${icmpText(rule.notICMP)}` : isIcmp ? `${has} is excluded` : `${has} (notICMP still requires ICMP)` });
  }
  sideChecks(ctx, rule, { name: 'source', ...fr.source }, pkt.src, pkt.sport, pkt, checks);
  sideChecks(ctx, rule, { name: 'destination', ...fr.destination }, pkt.dst, pkt.dport, pkt, checks);
  const failed = checks.filter((c) => !c.ok);
  return { matched: failed.length === 0, checks, failed };
}

/** One line: "matched" or the failed criteria with their reasons. */
export function summarizeRuleExplanation(e: RuleExplanation): string {
  if (e.matched) return e.checks.length === 0 ? 'matched (the rule has no criteria)' : 'matched';
  return e.failed.map((c) => `${c.criterion}: ${c.detail}`).join('; ');
}
