/**
 * Rules and entity rules (calico-semantics.md §1.3–§1.5), shared by GlobalNetworkPolicy and
 * Profile. Every problem is reported at the entry that causes it; a rule with errors is dropped
 * from the result (the caller leaves the whole resource out).
 *
 * Deliberate differences from Calico's API (stricter, never more lenient):
 *  - `http`, `services`, `serviceAccounts` and namespaceSelector values other than `global()` are
 *    rejected: they only match Kubernetes workloads, never host-endpoint traffic, and a rule that
 *    silently ignored them would allow more than its author meant.
 *  - `notICMP` requires protocol ICMP/ICMPv6 like `icmp` does (§1.3 recommendation; §7.10 b).
 */
import type { EntityRule, IcmpMatch, Rule, RuleAction } from './resources';
import { PROTOCOL_NUMBERS } from './resources';
import { parseSelector, selectorUsesGlobal } from '../selector';
import { CFG } from './issue-codes';
import { checkAnnotationMap } from './validate-metadata';
import { Checker, checkFields, checkMaxItems, describe, isRecord, own, readInt, readList, readMap, readString, shown } from './validate-context';
import { readRuleNets, type RuleNet } from './validate-nets';
import { readPortList, type PortList } from './validate-ports';
import { checkSelectorText, GLOBAL_SELECTOR, readSelector } from './validate-selector';
import type { FieldPath } from './yaml-source';

export const RULE_ACTIONS: readonly RuleAction[] = ['Allow', 'Deny', 'Log', 'Pass'];
export const MAX_RULES = 1024;

const RULE_FIELDS = ['action', 'ipVersion', 'protocol', 'notProtocol', 'icmp', 'notICMP', 'source', 'destination', 'http', 'metadata'];
const ENTITY_FIELDS = ['nets', 'notNets', 'selector', 'notSelector', 'namespaceSelector', 'ports', 'notPorts', 'serviceAccounts', 'services'];
const PORT_PROTOCOLS = new Set([6, 17, 132]);
const ICMP_V4 = 1;
const ICMP_V6 = 58;

const NOT_FOR_HEPS = 'nfqwall enforces host-endpoint policy and deliberately rejects Kubernetes-only matches';

/** `spec.ingress` or `spec.egress`: every rule checked; null when any rule is invalid. */
export function readRules(c: Checker, spec: Record<string, unknown>, key: 'ingress' | 'egress'): Rule[] | null {
  const list = readList(c, spec, ['spec'], key);
  if (list === undefined) return [];
  if (list === null) return null;
  checkMaxItems(c, list, ['spec', key], MAX_RULES);
  const rules: Rule[] = [];
  let ok = true;
  list.forEach((raw, i) => {
    const rule = readRule(c, raw, ['spec', key, i]);
    if (rule) rules.push(rule);
    else ok = false;
  });
  return ok ? rules : null;
}

interface Protocol {
  num: number;
  name?: string;
}

/** One rule; null when it has errors (all reported). */
export function readRule(c: Checker, raw: unknown, path: FieldPath): Rule | null {
  if (!isRecord(raw)) {
    c.error(path, CFG.TYPE, `a rule must be a map with at least an action, found ${describe(raw)}`);
    return null;
  }
  const before = c.errorCount;
  checkFields(c, raw, path, RULE_FIELDS, 'a rule');

  const action = readAction(c, raw, path);
  const ipVersion = readIpVersion(c, raw, path);
  const protocol = readProtocol(c, raw, path, 'protocol');
  const notProtocol = readProtocol(c, raw, path, 'notProtocol');
  const icmp = readIcmp(c, raw, path, 'icmp');
  const notICMP = readIcmp(c, raw, path, 'notICMP');

  if (own(raw, 'http') !== undefined && own(raw, 'http') !== null) {
    c.error([...path, 'http'], CFG.UNSUPPORTED, `http matches are not supported for host endpoints: ${NOT_FOR_HEPS} (Felix ignores them on L3/L4)`, { key: true });
  }
  const meta = readMap(c, raw, path, 'metadata');
  if (meta) {
    checkFields(c, meta, [...path, 'metadata'], ['annotations'], 'rule metadata');
    const ann = readMap(c, meta, [...path, 'metadata'], 'annotations');
    if (ann) checkAnnotationMap(c, ann, [...path, 'metadata', 'annotations']);
  }

  const source = readEntityRule(c, raw, path, 'source');
  const destination = readEntityRule(c, raw, path, 'destination');

  // ICMP fields need an ICMP protocol (§1.3).
  for (const [key, m] of [['icmp', icmp], ['notICMP', notICMP]] as const) {
    if (m === undefined || m === null || protocol === null) continue;
    if (protocol === undefined || (protocol.num !== ICMP_V4 && protocol.num !== ICMP_V6)) {
      const found = protocol === undefined ? 'no protocol' : `protocol ${protocol.name ?? protocol.num}`;
      c.error(
        [...path, key],
        CFG.ICMP_PROTOCOL,
        `ICMP fields require protocol to be ICMP or ICMPv6 (${key} with ${found})${key === 'notICMP' ? '; nfqwall requires this for notICMP too' : ''}`,
        { key: true },
      );
    }
  }
  // ICMP/ICMPv6 and ipVersion must agree (CEL rules on protocol and notProtocol).
  if (ipVersion !== undefined && ipVersion !== null) {
    for (const [key, p] of [['protocol', protocol], ['notProtocol', notProtocol]] as const) {
      if (!p) continue;
      if (p.num === ICMP_V4 && ipVersion !== 4) c.error([...path, key], CFG.ICMP_IP_VERSION, `protocol ICMP requires ipVersion 4 (found ipVersion ${ipVersion})`);
      if (p.num === ICMP_V6 && ipVersion !== 6) c.error([...path, key], CFG.ICMP_IP_VERSION, `protocol ICMPv6 requires ipVersion 6 (found ipVersion ${ipVersion})`);
    }
  }

  if (source && destination) {
    checkPortProtocol(c, path, protocol, [
      ['source', 'ports', source.portLists.ports],
      ['source', 'notPorts', source.portLists.notPorts],
      ['destination', 'ports', destination.portLists.ports],
      ['destination', 'notPorts', destination.portLists.notPorts],
    ]);
    checkFamilies(c, path, ipVersion ?? undefined, [
      ['source', 'nets', source.nets],
      ['source', 'notNets', source.notNets],
      ['destination', 'nets', destination.nets],
      ['destination', 'notNets', destination.notNets],
    ]);
  }

  if (c.errorCount > before || !action || !source || !destination) return null;
  const rule: Rule = { action, source: source.rule, destination: destination.rule, origin: { location: c.at(path) } };
  if (ipVersion) rule.ipVersion = ipVersion;
  if (protocol) {
    rule.protocol = protocol.num;
    if (protocol.name !== undefined) rule.protocolName = protocol.name;
  }
  if (notProtocol) {
    rule.notProtocol = notProtocol.num;
    if (notProtocol.name !== undefined) rule.notProtocolName = notProtocol.name;
  }
  if (icmp && icmp.match) rule.icmp = icmp.match;
  if (notICMP && notICMP.match) rule.notICMP = notICMP.match;
  return rule;
}

function readAction(c: Checker, raw: Record<string, unknown>, path: FieldPath): RuleAction | undefined {
  const v = own(raw, 'action');
  if (v === undefined || v === null || v === '') {
    c.error(path, CFG.REQUIRED, `rule action is required: one of ${RULE_ACTIONS.join(', ')}`);
    return undefined;
  }
  if (typeof v === 'string' && (RULE_ACTIONS as readonly string[]).includes(v)) return v as RuleAction;
  const near = typeof v === 'string' ? RULE_ACTIONS.find((a) => a.toLowerCase() === v.toLowerCase()) : undefined;
  c.error(
    [...path, 'action'],
    CFG.RULE_ACTION,
    near
      ? `invalid action "${String(v)}": actions are case-sensitive; use ${near}`
      : `invalid action ${shown(v)}: must be one of ${RULE_ACTIONS.join(', ')}`,
  );
  return undefined;
}

function readIpVersion(c: Checker, raw: Record<string, unknown>, path: FieldPath): 4 | 6 | null | undefined {
  const v = own(raw, 'ipVersion');
  if (v === undefined || v === null) return undefined;
  if (v === 4 || v === 6) return v;
  c.error([...path, 'ipVersion'], CFG.IP_VERSION, `ipVersion must be 4 or 6, found ${shown(v)}`);
  return null;
}

/** protocol / notProtocol: a case-sensitive name or a number 1..255 (numeric strings count as numbers). */
function readProtocol(c: Checker, raw: Record<string, unknown>, path: FieldPath, key: string): Protocol | null | undefined {
  const v = own(raw, key);
  if (v === undefined || v === null) return undefined;
  const at = [...path, key];
  let num: number | undefined;
  if (typeof v === 'number') num = v;
  else if (typeof v === 'string' && /^\d+$/.test(v)) num = Number(v);
  else if (typeof v === 'string') {
    const known = Object.hasOwn(PROTOCOL_NUMBERS, v) ? PROTOCOL_NUMBERS[v] : undefined;
    if (known !== undefined) return { num: known, name: v };
    const near = Object.keys(PROTOCOL_NUMBERS).find((n) => n.toLowerCase() === v.toLowerCase());
    c.error(
      at,
      CFG.PROTOCOL,
      near
        ? `protocol name invalid: "${v}"; protocol names are case-sensitive: use ${near}`
        : `protocol name invalid: "${v}" (use ${Object.keys(PROTOCOL_NUMBERS).join(', ')} or a number 1-255)`,
    );
    return null;
  } else {
    c.error(at, CFG.TYPE, `${key} must be a protocol name or number, found ${describe(v)}`);
    return null;
  }
  if (!Number.isInteger(num) || num < 1 || num > 255) {
    c.error(at, CFG.PROTOCOL, `protocol number invalid: ${String(v)} (must be 1-255)`);
    return null;
  }
  return { num };
}

function readIcmp(c: Checker, raw: Record<string, unknown>, path: FieldPath, key: string): { match?: IcmpMatch } | null | undefined {
  const m = readMap(c, raw, path, key);
  if (m === undefined || m === null) return m;
  const at = [...path, key];
  checkFields(c, m, at, ['type', 'code'], key);
  const type = readInt(c, m, at, 'type', 0, 254, CFG.ICMP_RANGE);
  const code = readInt(c, m, at, 'code', 0, 255, CFG.ICMP_RANGE);
  if (code !== undefined && type === undefined) {
    c.error([...at, 'code'], CFG.ICMP_CODE_WITHOUT_TYPE, `ICMP code specified without an ICMP type (${key}.code ${String(code)})`, { key: true });
    return null;
  }
  if (type === null || code === null) return null;
  if (type === undefined) return {};
  return { match: code === undefined ? { type } : { type, code } };
}

interface EntityResult {
  rule: EntityRule;
  nets: RuleNet[];
  notNets: RuleNet[];
  portLists: { ports: PortList; notPorts: PortList };
}

function readEntityRule(c: Checker, raw: Record<string, unknown>, rulePath: FieldPath, side: 'source' | 'destination'): EntityResult | null {
  const empty: EntityRule = { nets: [], notNets: [], selector: '', notSelector: '', namespaceSelector: '', ports: [], notPorts: [] };
  const noPorts: PortList = { ports: [], firstNumeric: undefined, nonEmpty: false, ok: true };
  const m = readMap(c, raw, rulePath, side);
  if (m === null) return null;
  if (m === undefined) return { rule: empty, nets: [], notNets: [], portLists: { ports: noPorts, notPorts: noPorts } };
  const path = [...rulePath, side];
  checkFields(c, m, path, ENTITY_FIELDS, `a rule ${side}`);

  const nets = readRuleNets(c, m, path, 'nets');
  const notNets = readRuleNets(c, m, path, 'notNets');
  const selector = readSelector(c, m, path, 'selector', { forbidGlobal: true });
  // Calico's CEL check covers `selector` only; notSelector: global() is odd but legal.
  const notSelector = readSelector(c, m, path, 'notSelector', { forbidGlobal: false });
  const namespaceSelector = readNamespaceSelector(c, m, path);
  const ports = readPortList(c, m, path, 'ports');
  const notPorts = readPortList(c, m, path, 'notPorts');
  for (const key of ['serviceAccounts', 'services']) {
    const v = own(m, key);
    if (v !== undefined && v !== null) {
      c.error([...path, key], CFG.UNSUPPORTED, `${side}.${key} is not supported for host endpoints: ${NOT_FOR_HEPS}`, { key: true });
    }
  }
  // Parts that parsed are returned even when others failed, so cross-field checks still run;
  // the caller drops the rule because errors were counted.
  return {
    rule: {
      nets: nets.nets.map((n) => n.cidr),
      notNets: notNets.nets.map((n) => n.cidr),
      selector: selector ?? '',
      notSelector: notSelector ?? '',
      namespaceSelector: namespaceSelector ?? '',
      ports: ports.ports,
      notPorts: notPorts.ports,
    },
    nets: nets.nets,
    notNets: notNets.nets,
    portLists: { ports, notPorts },
  };
}

/** '' or 'global()'; anything else is reported (see the file comment). */
function readNamespaceSelector(c: Checker, m: Record<string, unknown>, path: FieldPath): string | null {
  const text = readString(c, m, path, 'namespaceSelector');
  if (text === undefined || text === '') return '';
  if (text === null) return null;
  const at = [...path, 'namespaceSelector'];
  if (selectorUsesGlobal(text)) {
    if (!checkSelectorText(c, at, text)) return null;
    const parsed = parseSelector(text);
    const globalOnly = parseSelector(GLOBAL_SELECTOR);
    if (!parsed.ok || !globalOnly.ok || parsed.selector.canonical !== globalOnly.selector.canonical) {
      c.error(at, CFG.SELECTOR_GLOBAL, `global() cannot be combined with other selectors (namespaceSelector "${text}")`);
      return null;
    }
    return GLOBAL_SELECTOR;
  }
  c.error(
    at,
    CFG.UNSUPPORTED,
    `namespaceSelector "${text}" is not supported for host endpoints: ${NOT_FOR_HEPS}; only namespaceSelector: global() (HostEndpoints and GlobalNetworkSets) is accepted`,
  );
  return null;
}

/** Port/protocol coupling (§1.3): numeric ports need a port protocol; any port forbids other protocols. */
function checkPortProtocol(c: Checker, rulePath: FieldPath, protocol: Protocol | null | undefined, lists: [string, string, PortList][]): void {
  if (protocol === null) return; // already reported
  for (const [side, key, list] of lists) {
    if (protocol === undefined) {
      if (list.firstNumeric !== undefined) {
        c.error(
          [...rulePath, side, key, list.firstNumeric],
          CFG.PORT_PROTOCOL,
          'rules with numeric port or port range must set protocol to TCP or UDP or SCTP (notProtocol does not count)',
        );
      }
    } else if (!PORT_PROTOCOLS.has(protocol.num) && list.nonEmpty) {
      c.error(
        [...rulePath, side, key],
        CFG.PORT_PROTOCOL,
        `rules that specify ports must set protocol to TCP or UDP or SCTP (found protocol ${protocol.name ?? protocol.num})`,
      );
    }
  }
}

/** One IP family per rule, agreeing with ipVersion (§1.4). */
function checkFamilies(c: Checker, rulePath: FieldPath, ipVersion: 4 | 6 | undefined, lists: [string, string, RuleNet[]][]): void {
  let first: { net: RuleNet; where: string } | undefined;
  for (const [side, key, nets] of lists) {
    for (const net of nets) {
      const at = [...rulePath, side, key, net.index];
      if (ipVersion !== undefined) {
        if (net.family !== ipVersion) {
          c.error(at, CFG.IP_VERSION_MISMATCH, `rule IP version doesn't match CIDR version: ipVersion is ${ipVersion} but ${net.cidr} is IPv${net.family}`);
          return;
        }
        continue;
      }
      if (!first) first = { net, where: `${side}.${key}` };
      else if (first.net.family !== net.family) {
        c.error(
          at,
          CFG.MIXED_IP_FAMILIES,
          `rule contains both IPv4 and IPv6 CIDRs (${first.net.cidr} in ${first.where}, ${net.cidr} here); write one rule per IP family`,
        );
        return;
      }
    }
  }
}
