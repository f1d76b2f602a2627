/**
 * The JSON/YAML packet description used by conformance cases, `nfqwall eval` and `nfqwall explain`
 * (the `packet` shape of the conformance format), turned into PacketFacts.
 */
import { PROTOCOL_NUMBERS } from '../config/resources';
import { parseIp, type IpAddress } from '../net/ip';
import type { CtState, PacketFacts, PacketPath } from './packet-facts';

export interface PacketDescription {
  path: PacketPath;
  hook?: string;
  iif?: string | null;
  oif?: string | null;
  family?: 4 | 6;
  src: string;
  dst: string;
  proto: string | number;
  sport?: number | null;
  dport?: number | null;
  icmpType?: number | null;
  icmpCode?: number | null;
  ctState?: CtState;
  addrs?: 'no-nat' | 'post-dnat';
  preDnatDst?: string | null;
  preDnatDport?: number | null;
  postSnatSrc?: string | null;
  note?: string;
}

const PATHS: readonly PacketPath[] = ['local-in', 'forward', 'local-out'];
const CT_STATES: readonly CtState[] = ['new', 'established', 'related', 'reply', 'invalid', 'untracked'];
const KNOWN = new Set([
  'path', 'hook', 'iif', 'oif', 'family', 'src', 'dst', 'proto', 'sport', 'dport', 'icmpType', 'icmpCode',
  'ctState', 'addrs', 'preDnatDst', 'preDnatDport', 'postSnatSrc', 'note',
]);

export type DescriptionResult = { ok: true; facts: PacketFacts } | { ok: false; errors: string[] };

function port(v: unknown, field: string, errors: string[]): number {
  if (v === undefined || v === null) return -1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) {
    errors.push(`${field}: must be a port number 0..65535 or null`);
    return -1;
  }
  return v;
}

function small(v: unknown, field: string, max: number, errors: string[]): number {
  if (v === undefined || v === null) return -1;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    errors.push(`${field}: must be an integer 0..${max} or null`);
    return -1;
  }
  return v;
}

/** Validate a packet description and build PacketFacts; every problem is reported. */
export function factsFromDescription(d: unknown): DescriptionResult {
  const errors: string[] = [];
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return { ok: false, errors: ['packet: must be an object'] };
  const o = d as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) errors.push(`${k}: unknown field`);
  const path = o.path as PacketPath;
  if (!PATHS.includes(path)) errors.push(`path: must be one of ${PATHS.join(', ')}`);
  const iif = o.iif === undefined ? null : o.iif;
  const oif = o.oif === undefined ? null : o.oif;
  if (iif !== null && typeof iif !== 'string') errors.push('iif: must be an interface name or null');
  if (oif !== null && typeof oif !== 'string') errors.push('oif: must be an interface name or null');
  if ((path === 'local-in' || path === 'forward') && iif === null) errors.push(`iif: required for path ${path}`);
  if ((path === 'local-out' || path === 'forward') && oif === null) errors.push(`oif: required for path ${path}`);
  const src = typeof o.src === 'string' ? parseIp(o.src) : null;
  const dst = typeof o.dst === 'string' ? parseIp(o.dst) : null;
  if (!src) errors.push('src: must be an IPv4 or IPv6 address');
  if (!dst) errors.push('dst: must be an IPv4 or IPv6 address');
  if (src && dst && src.family !== dst.family) errors.push('src/dst: addresses of different families');
  if (o.family !== undefined && o.family !== 4 && o.family !== 6) errors.push('family: must be 4 or 6');
  if (src && o.family !== undefined && o.family !== src.family) errors.push(`family: ${String(o.family)} does not match the addresses`);
  let proto = -1;
  if (typeof o.proto === 'number' && Number.isInteger(o.proto) && o.proto >= 0 && o.proto <= 255) proto = o.proto;
  else if (typeof o.proto === 'string' && PROTOCOL_NUMBERS[o.proto] !== undefined) proto = PROTOCOL_NUMBERS[o.proto]!;
  else if (typeof o.proto === 'string' && /^\d+$/.test(o.proto) && Number(o.proto) <= 255) proto = Number(o.proto);
  else errors.push(`proto: must be one of ${Object.keys(PROTOCOL_NUMBERS).join(', ')} or a number 0..255`);
  const sport = port(o.sport, 'sport', errors);
  const dport = port(o.dport, 'dport', errors);
  const icmpType = small(o.icmpType, 'icmpType', 255, errors);
  const icmpCode = small(o.icmpCode, 'icmpCode', 255, errors);
  const ctState = (o.ctState ?? 'new') as CtState;
  if (!CT_STATES.includes(ctState)) errors.push(`ctState: must be one of ${CT_STATES.join(', ')}`);
  let preDst: IpAddress | null = dst;
  let preDport = dport;
  if (o.addrs !== undefined && o.addrs !== 'no-nat' && o.addrs !== 'post-dnat') errors.push('addrs: must be no-nat or post-dnat');
  if (o.preDnatDst !== undefined && o.preDnatDst !== null) {
    preDst = typeof o.preDnatDst === 'string' ? parseIp(o.preDnatDst) : null;
    if (!preDst) errors.push('preDnatDst: must be an address');
  }
  if (o.preDnatDport !== undefined && o.preDnatDport !== null) preDport = port(o.preDnatDport, 'preDnatDport', errors);
  if (errors.length > 0 || !src || !dst || !preDst) return { ok: false, errors };
  return {
    ok: true,
    facts: {
      path,
      iif: path === 'local-out' ? null : (iif as string),
      oif: path === 'local-in' ? null : (oif as string),
      family: src.family,
      proto,
      src,
      dst,
      sport,
      dport,
      icmpType,
      icmpCode,
      ctState,
      preDnatDst: preDst,
      preDnatDport: preDport,
    },
  };
}
