/**
 * Address fields. Three flavours, as in Calico:
 *  - rule nets/notNets: strict CIDR, explicit length, host bits zero (§1.4);
 *  - "cidr" (GlobalNetworkSet nets, Felix failsafe net, WEP ipNetworks): CIDR or bare address,
 *    host bits normalised away (§1.6);
 *  - plain addresses (HostEndpoint expectedIPs, §1.1).
 */
import { formatIp, formatPrefix, parseCidr, parseIp, type IpFamily } from '../net/ip';
import { CFG } from './issue-codes';
import { Checker, checkMaxItems, readStringList } from './validate-context';
import type { FieldPath } from './yaml-source';

export const MAX_RULE_NETS = 256;

export interface RuleNet {
  cidr: string;
  family: IpFamily;
  /** Index in the YAML list, for locating follow-up errors. */
  index: number;
}

/** Rule `nets` / `notNets`. Returns the valid entries; invalid ones are reported. */
export function readRuleNets(
  c: Checker,
  obj: Record<string, unknown>,
  path: FieldPath,
  key: 'nets' | 'notNets',
): { nets: RuleNet[]; ok: boolean } {
  const list = readStringList(c, obj, path, key);
  if (!list) return { nets: [], ok: list !== null };
  checkMaxItems(c, list, [...path, key], MAX_RULE_NETS);
  const nets: RuleNet[] = [];
  let ok = true;
  list.forEach((text, i) => {
    const at = [...path, key, i];
    const parsed = parseCidr(text, false);
    if (!parsed) {
      ok = false;
      const ip = parseIp(text);
      c.error(
        at,
        CFG.CIDR,
        ip
          ? `invalid CIDR "${text}": rule ${key} need a prefix length; write ${formatIp(ip)}/${ip.family === 4 ? 32 : 128} for a single address`
          : `invalid CIDR "${text}" (expected an address with a prefix length, e.g. 10.0.0.0/8 or fd00::/64)`,
      );
      return;
    }
    if (parsed.hadHostBits) {
      ok = false;
      c.error(at, CFG.CIDR, `invalid CIDR "${text}": host bits must be zero; did you mean ${formatPrefix(parsed.prefix)}?`);
      return;
    }
    if (key === 'notNets' && parsed.prefix.length === 0) {
      ok = false;
      c.error(at, CFG.NOTNETS_CATCH_ALL, `catch-all CIDR in negation creates logical contradiction (matches no traffic): notNets "${text}"`);
      return;
    }
    nets.push({ cidr: formatPrefix(parsed.prefix), family: parsed.prefix.family, index: i });
  });
  return { nets, ok };
}

/** A lenient CIDR: bare address (=> /32, /128) or CIDR with host bits cleared. undefined when invalid. */
export function normaliseCidr(text: string): { cidr: string; family: IpFamily } | undefined {
  const parsed = parseCidr(text, true);
  if (!parsed) return undefined;
  return { cidr: formatPrefix(parsed.prefix), family: parsed.prefix.family };
}

/**
 * A list of CIDRs or bare addresses (GlobalNetworkSet nets; WorkloadEndpoint ipNetworks with
 * `strictHostBits`, Calico's "net" rule). Host bits are cleared in the result.
 */
export function readLenientNets(
  c: Checker,
  obj: Record<string, unknown>,
  path: FieldPath,
  key: string,
  options: { strictHostBits?: boolean } = {},
): string[] | null {
  const list = readStringList(c, obj, path, key);
  if (list === undefined) return [];
  if (list === null) return null;
  const out: string[] = [];
  let ok = true;
  list.forEach((text, i) => {
    const parsed = parseCidr(text, true);
    if (!parsed) {
      ok = false;
      c.error([...path, key, i], CFG.CIDR, `invalid CIDR or IP address "${text}" (e.g. 10.0.0.0/8, 192.0.2.7 or fd00::/64)`);
      return;
    }
    if (options.strictHostBits && parsed.hadHostBits) {
      ok = false;
      c.error([...path, key, i], CFG.CIDR, `invalid CIDR "${text}": host bits must be zero; did you mean ${formatPrefix(parsed.prefix)}?`);
      return;
    }
    out.push(formatPrefix(parsed.prefix));
  });
  return ok ? out : null;
}

/** Plain addresses (no prefix length), canonical text. */
export function readPlainIps(c: Checker, obj: Record<string, unknown>, path: FieldPath, key: string): string[] | null {
  const list = readStringList(c, obj, path, key);
  if (list === undefined) return [];
  if (list === null) return null;
  const out: string[] = [];
  let ok = true;
  list.forEach((text, i) => {
    const ip = parseIp(text);
    if (!ip) {
      ok = false;
      const hint = text.includes('/') ? `: ${key} entries are plain addresses without a prefix length` : '';
      c.error([...path, key, i], CFG.IP_ADDRESS, `invalid IP address "${text}"${hint}`);
      return;
    }
    out.push(formatIp(ip));
  });
  return ok ? out : null;
}
