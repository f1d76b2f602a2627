/**
 * Does one rule match one packet? (§3.2–§3.7). Every present criterion must hold; absent ones
 * match everything.
 */
import { PROTOCOL_NUMBERS, type EntityRule, type PortSpec, type Rule } from '../../config/resources';
import { parseCidr, prefixContains, type IpAddress, type IpFamily, type IpPrefix } from '../../net/ip';
import type { Labels } from '../../selector';
import { protocolHasPorts } from '../packet-facts';
import { objectHasAddress, type AddressObject } from './address-objects';
import { NAMESPACE_LABEL } from './labels';
import type { PacketView } from './packet-view';
import type { LabelPredicate, SelectorCache } from './selectors';

/** What rule matching needs besides the rule and the packet. */
export interface MatchContext {
  objects: readonly AddressObject[];
  selectors: SelectorCache;
}

/** One side of a rule after the per-family filtering of §3.3. */
interface FamilyEntity {
  nets: IpPrefix[];
  notNets: IpPrefix[];
  entity: EntityRule;
}

/** A rule as rendered for one IP family (§3.3). */
export interface FamilyRule {
  rule: Rule;
  source: FamilyEntity;
  destination: FamilyEntity;
}

/** Parse a net list and keep the CIDRs of `family`; `dropped` when non-empty but none is of it. */
function netsForFamily(list: readonly string[], family: IpFamily): { prefixes: IpPrefix[]; dropped: boolean } {
  const all = list.map((t) => parseCidr(t, true)?.prefix).filter((p): p is IpPrefix => p !== undefined);
  const prefixes = all.filter((p) => p.family === family);
  return { prefixes, dropped: list.length > 0 && prefixes.length === 0 };
}

/**
 * §3.3 FilterRuleToIPVersion: the rule as it exists for `family`, or null when it is not rendered
 * for that family at all (ipVersion differs; ICMP/ICMPv6 by name of the other family; a non-empty
 * nets/notNets list with no CIDR of this family).
 */
export function ruleForFamily(rule: Rule, family: IpFamily): FamilyRule | null {
  if (rule.ipVersion !== undefined && rule.ipVersion !== family) return null;
  if (rule.protocolName === 'ICMP' && family !== 4) return null;
  if (rule.protocolName === 'ICMPv6' && family !== 6) return null;
  const sn = netsForFamily(rule.source.nets, family);
  const snn = netsForFamily(rule.source.notNets, family);
  const dn = netsForFamily(rule.destination.nets, family);
  const dnn = netsForFamily(rule.destination.notNets, family);
  if (sn.dropped || snn.dropped || dn.dropped || dnn.dropped) return null;
  return {
    rule,
    source: { nets: sn.prefixes, notNets: snn.prefixes, entity: rule.source },
    destination: { nets: dn.prefixes, notNets: dnn.prefixes, entity: rule.destination },
  };
}

/**
 * The namespace part of a rule side (§2.5): `global()` becomes `!has(projectcalico.org/namespace)`
 * (only HEPs and network sets). Other values only select namespaced objects; Calico evaluates them
 * against the namespace's labels, which it copies onto each WEP with the `pcns.` prefix.
 */
function namespacePredicate(text: string, selectors: SelectorCache): LabelPredicate {
  if (text.trim() === 'global()') return (labels) => typeof labels[NAMESPACE_LABEL] !== 'string';
  const ns = selectors.get(text);
  return (labels) => {
    if (typeof labels[NAMESPACE_LABEL] !== 'string') return false;
    const nsLabels: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) if (k.startsWith('pcns.')) nsLabels[k.slice(5)] = v;
    return ns.matches(nsLabels);
  };
}

/**
 * The positive selector of a side (§3.2): `selector` AND the namespace part; when a notSelector is
 * also present it is folded in over labels, `(selector) && !(notSelector)` (Felix
 * combineMatchesIfPossible). Null when the side has no positive selector.
 */
export function positivePredicate(entity: EntityRule, selectors: SelectorCache): LabelPredicate | null {
  const parts: LabelPredicate[] = [];
  if (entity.selector !== '') parts.push(selectors.predicate(entity.selector));
  if (entity.namespaceSelector !== '') parts.push(namespacePredicate(entity.namespaceSelector, selectors));
  if (parts.length === 0) return null;
  if (entity.notSelector !== '') {
    const not = selectors.predicate(entity.notSelector);
    parts.push((labels) => !not(labels));
  }
  return (labels: Labels) => parts.every((p) => p(labels));
}

/** Is `addr` an address of some object matching `pred`? */
function inSelectedAddresses(ctx: MatchContext, pred: LabelPredicate, addr: IpAddress): boolean {
  return ctx.objects.some((o) => pred(o.labels) && objectHasAddress(o, addr));
}

/**
 * §3.5: is (addr, packet protocol, port) a member of named port `name`? Members come from every
 * endpoint (cluster-wide) declaring the name, restricted to endpoints matching the side's positive
 * selector and to the rule's protocol if it has one. Only the endpoint's own addresses count.
 */
/** §3.5 named port membership (shared with the trace explainer, so both read it the same way). */
export function namedPortMatches(
  ctx: MatchContext,
  name: string,
  rule: Rule,
  selected: LabelPredicate | null,
  addr: IpAddress,
  packetProto: number,
  port: number,
): boolean {
  for (const obj of ctx.objects) {
    if (obj.kind === 'GlobalNetworkSet') continue;
    if (selected && !selected(obj.labels)) continue;
    for (const p of obj.ports) {
      if (p.name !== name) continue;
      const proto = PROTOCOL_NUMBERS[p.protocol];
      if (rule.protocol !== undefined && proto !== rule.protocol) continue;
      if (proto !== packetProto || p.port !== port) continue;
      if (objectHasAddress(obj, addr)) return true;
    }
  }
  return false;
}

/** Does any entry of a port list match? A packet without ports matches none (§3.4). */
function portListMatches(
  ctx: MatchContext,
  list: readonly PortSpec[],
  rule: Rule,
  selected: LabelPredicate | null,
  addr: IpAddress,
  pkt: PacketView,
  port: number,
): boolean {
  if (!protocolHasPorts(pkt.proto) || port < 0) return false;
  return list.some((spec) =>
    spec.kind === 'range'
      ? port >= spec.min && port <= spec.max
      : namedPortMatches(ctx, spec.name, rule, selected, addr, pkt.proto, port),
  );
}

/** All criteria of one side (§3.2): nets, notNets, selector(s), ports, notPorts. */
function sideMatches(ctx: MatchContext, rule: Rule, side: FamilyEntity, addr: IpAddress, port: number, pkt: PacketView): boolean {
  if (side.nets.length > 0 && !side.nets.some((p) => prefixContains(p, addr))) return false;
  if (side.notNets.some((p) => prefixContains(p, addr))) return false;

  const entity = side.entity;
  const positive = positivePredicate(entity, ctx.selectors);
  if (positive) {
    // Unknown addresses never match a positive selector.
    if (!inSelectedAddresses(ctx, positive, addr)) return false;
  } else if (entity.notSelector !== '') {
    // notSelector alone: addresses unknown to Calico satisfy it.
    if (inSelectedAddresses(ctx, ctx.selectors.predicate(entity.notSelector), addr)) return false;
  }

  if (entity.ports.length > 0 && !portListMatches(ctx, entity.ports, rule, positive, addr, pkt, port)) return false;
  if (entity.notPorts.length > 0 && portListMatches(ctx, entity.notPorts, rule, positive, addr, pkt, port)) return false;
  return true;
}

/** The ICMP protocol number of the packet's family. */
function icmpProtocolOf(family: IpFamily): number {
  return family === 4 ? PROTOCOL_NUMBERS.ICMP! : PROTOCOL_NUMBERS.ICMPv6!;
}

/** §3.6: icmp {type[,code]} / notICMP; both require an ICMP packet of the packet's family. */
function icmpMatches(rule: Rule, pkt: PacketView): boolean {
  const isIcmp = pkt.proto === icmpProtocolOf(pkt.family);
  const test = (m: { type: number; code?: number }): boolean =>
    pkt.icmpType === m.type && (m.code === undefined || pkt.icmpCode === m.code);
  if (rule.icmp && !(isIcmp && test(rule.icmp))) return false;
  if (rule.notICMP && !(isIcmp && !test(rule.notICMP))) return false;
  return true;
}

/** Does the family-rendered rule match the packet? */
export function ruleMatches(ctx: MatchContext, fr: FamilyRule, pkt: PacketView): boolean {
  const rule = fr.rule;
  if (rule.protocol !== undefined && pkt.proto !== rule.protocol) return false;
  if (rule.notProtocol !== undefined && pkt.proto === rule.notProtocol) return false;
  if (!icmpMatches(rule, pkt)) return false;
  if (!sideMatches(ctx, rule, fr.source, pkt.src, pkt.sport, pkt)) return false;
  if (!sideMatches(ctx, rule, fr.destination, pkt.dst, pkt.dport, pkt)) return false;
  return true;
}

/** Convenience: §3.3 then §3.2 for a raw rule. */
export function matchesPacket(ctx: MatchContext, rule: Rule, pkt: PacketView): boolean {
  const fr = ruleForFamily(rule, pkt.family);
  return fr !== null && ruleMatches(ctx, fr, pkt);
}
