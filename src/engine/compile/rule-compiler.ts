/**
 * One Calico rule compiled for one IP family (calico-semantics.md §3.2–§3.6): every list turned into
 * a numeric set so that matching a packet is a handful of comparisons and binary searches.
 */
import type { EntityRule, PortSpec, Rule } from '../../config/resources';
import type { IpFamily } from '../../net/ip';
import { parseCidr, type IpPrefix } from '../../net/ip';
import { PortSet } from '../../net/port-set';
import { PrefixSet } from '../../net/prefix-set';
import type { RuleRef } from '../decision';
import type { AddressSetBuilder, NamedPortIndex } from './address-sets';

/** The packet fields a rule looks at, for one stage (pre- or post-DNAT destination). */
export interface MatchInput {
  family: IpFamily;
  proto: number;
  src: ArrayLike<number>;
  dst: ArrayLike<number>;
  sport: number;
  dport: number;
  icmpType: number;
  icmpCode: number;
}

export interface CompiledSide {
  nets: PrefixSet | null;
  notNets: PrefixSet | null;
  /** Addresses of objects matched by the selector (null = no selector). */
  selector: PrefixSet | null;
  notSelector: PrefixSet | null;
  ports: PortSet | null;
  namedPorts: NamedPortIndex | null;
  notPorts: PortSet | null;
  notNamedPorts: NamedPortIndex | null;
}

export interface CompiledRule {
  action: 'Allow' | 'Deny' | 'Log' | 'Pass';
  /** -1 = any. */
  proto: number;
  notProto: number;
  /** icmp/notICMP type and code, -1 = absent. */
  icmpType: number;
  icmpCode: number;
  notIcmpType: number;
  notIcmpCode: number;
  /** Protocols an ICMP criterion needs (rule protocol, or ICMP/ICMPv6 of the family when unset). */
  icmpProto: number;
  src: CompiledSide;
  dst: CompiledSide;
  /** Numeric destination ports (for the compiler's index), null when the rule does not constrain them. */
  dstPortIndexable: PortSet | null;
  ref: RuleRef;
}

const ICMP = 1;
const ICMPV6 = 58;

function cidrs(list: readonly string[], family: IpFamily): IpPrefix[] {
  const out: IpPrefix[] = [];
  for (const n of list) {
    const c = parseCidr(n, true);
    if (c && c.prefix.family === family) out.push(c.prefix);
  }
  return out;
}

/** §3.3: does this rule exist for `family` at all? */
export function ruleAppliesToFamily(rule: Rule, family: IpFamily): boolean {
  if (rule.ipVersion !== undefined && rule.ipVersion !== family) return false;
  if (rule.protocolName === 'ICMP' && family !== 4) return false;
  if (rule.protocolName === 'ICMPv6' && family !== 6) return false;
  for (const list of [rule.source.nets, rule.source.notNets, rule.destination.nets, rule.destination.notNets]) {
    if (list.length > 0 && cidrs(list, family).length === 0) return false;
  }
  return true;
}

function splitPorts(list: readonly PortSpec[]): { ranges: { min: number; max: number }[]; names: string[] } {
  const ranges: { min: number; max: number }[] = [];
  const names: string[] = [];
  for (const p of list) {
    if (p.kind === 'range') ranges.push({ min: p.min, max: p.max });
    else names.push(p.name);
  }
  return { ranges, names };
}

function compileSide(side: EntityRule, family: IpFamily, protocol: number | undefined, sets: AddressSetBuilder): CompiledSide {
  const scope = { globalOnly: side.namespaceSelector.replace(/[ \t]/g, '') === 'global()' };
  const hasSel = side.selector !== '' || scope.globalOnly;
  const ports = splitPorts(side.ports);
  const notPorts = splitPorts(side.notPorts);
  return {
    nets: side.nets.length > 0 ? PrefixSet.from(family, cidrs(side.nets, family)) : null,
    notNets: side.notNets.length > 0 ? PrefixSet.from(family, cidrs(side.notNets, family)) : null,
    // With a positive selector the notSelector combines over labels; alone it excludes addresses (§3.2).
    selector: hasSel ? sets.addresses(family, side.selector, side.notSelector, scope) : null,
    notSelector: !hasSel && side.notSelector !== '' ? sets.addresses(family, side.notSelector, '', scope) : null,
    ports: ports.ranges.length > 0 ? PortSet.from(ports.ranges) : null,
    namedPorts: ports.names.length > 0 ? sets.namedPorts(family, ports.names, side.selector, scope, protocol) : null,
    notPorts: notPorts.ranges.length > 0 ? PortSet.from(notPorts.ranges) : null,
    notNamedPorts: notPorts.names.length > 0 ? sets.namedPorts(family, notPorts.names, side.selector, scope, protocol) : null,
  };
}

export function compileRule(rule: Rule, family: IpFamily, sets: AddressSetBuilder, ref: RuleRef): CompiledRule {
  const src = compileSide(rule.source, family, rule.protocol, sets);
  const dst = compileSide(rule.destination, family, rule.protocol, sets);
  return {
    action: rule.action,
    proto: rule.protocol ?? -1,
    notProto: rule.notProtocol ?? -1,
    icmpType: rule.icmp ? rule.icmp.type : -1,
    icmpCode: rule.icmp && rule.icmp.code !== undefined ? rule.icmp.code : -1,
    notIcmpType: rule.notICMP ? rule.notICMP.type : -1,
    notIcmpCode: rule.notICMP && rule.notICMP.code !== undefined ? rule.notICMP.code : -1,
    icmpProto: rule.protocol ?? (family === 4 ? ICMP : ICMPV6),
    src,
    dst,
    dstPortIndexable: dst.ports !== null && dst.namedPorts === null ? dst.ports : null,
    ref,
  };
}

function namedHas(idx: NamedPortIndex, addr: ArrayLike<number>, proto: number, port: number): boolean {
  const set = idx.get(proto * 65536 + port);
  return set !== undefined && set.containsWords(addr);
}

function sideMatches(s: CompiledSide, addr: ArrayLike<number>, port: number, proto: number): boolean {
  if (s.nets !== null && !s.nets.containsWords(addr)) return false;
  if (s.notNets !== null && s.notNets.containsWords(addr)) return false;
  if (s.selector !== null && !s.selector.containsWords(addr)) return false;
  if (s.notSelector !== null && s.notSelector.containsWords(addr)) return false;
  if (s.ports !== null || s.namedPorts !== null) {
    if (port < 0) return false;
    const hit = (s.ports !== null && s.ports.has(port)) || (s.namedPorts !== null && namedHas(s.namedPorts, addr, proto, port));
    if (!hit) return false;
  }
  if (port >= 0 && (s.notPorts !== null || s.notNamedPorts !== null)) {
    if (s.notPorts !== null && s.notPorts.has(port)) return false;
    if (s.notNamedPorts !== null && namedHas(s.notNamedPorts, addr, proto, port)) return false;
  }
  return true;
}

/** Does the rule match the packet? All present criteria ANDed (§3.2). */
export function ruleMatches(r: CompiledRule, p: MatchInput): boolean {
  if (r.proto >= 0 && p.proto !== r.proto) return false;
  if (r.notProto >= 0 && p.proto === r.notProto) return false;
  if (r.icmpType >= 0) {
    if (p.proto !== r.icmpProto || p.icmpType !== r.icmpType) return false;
    if (r.icmpCode >= 0 && p.icmpCode !== r.icmpCode) return false;
  }
  if (r.notIcmpType >= 0) {
    // notICMP still requires an ICMP packet of the rule's protocol (§3.6).
    if (p.proto !== r.icmpProto) return false;
    if (p.icmpType === r.notIcmpType && (r.notIcmpCode < 0 || p.icmpCode === r.notIcmpCode)) return false;
  }
  return sideMatches(r.src, p.src, p.sport, p.proto) && sideMatches(r.dst, p.dst, p.dport, p.proto);
}
