/**
 * Direction-normalised flow keys.
 *
 * Both directions of a flow map to one key: the endpoint that compares lower (address, then port)
 * goes first. `srcIsLow` tells which side of the key the packet's source is; comparing it with
 * the entry's original orientation gives the packet's direction.
 *
 * The key is a short string made by one String.fromCharCode call over 16-bit units: no
 * intermediate arrays, and a flat string, so the Map stores no rope of concatenation nodes.
 * Layout: [family/proto, low address (2 or 8 units), high address, port A, port B], 7 units for
 * IPv4 and 19 for IPv6. It is an opaque binary string; use formatFlowKey to print one.
 *
 * ICMP query flows (echo, timestamp, ...) use the identifier as port A and, as port B, the request
 * type plus a bit telling whether the initiator is the low address: a request and its reply share
 * the key, a request from the other side does not (as in the kernel, where the reply tuple
 * carries the reply type).
 */
import { formatIp, type IpAddress } from '../net/ip';
import { IpProto, icmp6ReplyType, icmp6RequestType, icmpReplyType, icmpRequestType, isIcmpError, isPortProto, type PacketView } from '../packet';

export type Words = Readonly<[number, number, number, number]>;

/** Direction of a packet relative to the flow's first packet. */
export const FlowDir = {
  ORIGINAL: 0,
  REPLY: 1,
} as const;
export type FlowDir = (typeof FlowDir)[keyof typeof FlowDir];

/** How a packet relates to flow keys. The first four produce a key; the rest do not. */
export const KeyKind = {
  /** TCP, UDP, UDPLite, SCTP: addresses and ports. */
  PORTS: 0,
  /** ICMP/ICMPv6 query request (echo, timestamp, info, address mask, node information). */
  ICMP_REQUEST: 1,
  /** The matching reply type. */
  ICMP_REPLY: 2,
  /** Any other protocol: addresses only. */
  GENERIC: 3,
  /** An ICMP error: it belongs to the flow of the packet it quotes. */
  ICMP_ERROR: 4,
  /** ICMPv6 neighbour discovery / MLD: the kernel does not track these (UNTRACKED). */
  ICMP_UNTRACKED: 5,
  /** ICMP type that is neither a query, a reply nor an error: conntrack cannot track it. */
  ICMP_INVALID: 6,
  /** A non-first fragment of a port protocol: no ports to key on. */
  FRAGMENT: 7,
  /** No usable header (view not parsed, or a port protocol without its header). */
  NO_HEADER: 8,
} as const;
export type KeyKind = (typeof KeyKind)[keyof typeof KeyKind];

/** True for the kinds that carry a key. */
export function isKeyed(kind: KeyKind): boolean {
  return kind <= KeyKind.GENERIC;
}

/** Output slot for the key builders (reused; the builders allocate nothing but the key string). */
export interface FlowKeyOut {
  key: string;
  /** The packet's source is the first (low) endpoint of the key. */
  srcIsLow: boolean;
}

export function createFlowKeyOut(): FlowKeyOut {
  return { key: '', srcIsLow: true };
}

/** Compare endpoint (a, aPort) with (b, bPort): address words first, then port. */
export function compareEndpoints(family: number, a: Words, aPort: number, b: Words, bPort: number): number {
  const n = family === 6 ? 4 : 1;
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return aPort === bPort ? 0 : aPort < bPort ? -1 : 1;
}

/**
 * Key for endpoints already in key order (`lo` first). Ports must be 0..65535; use 0 when the
 * protocol has none.
 */
export function encodeFlowKey(family: number, proto: number, lo: Words, loPort: number, hi: Words, hiPort: number): string {
  const head = (family === 6 ? 0x100 : 0) | (proto & 0xff);
  if (family !== 6) {
    const l = lo[0];
    const h = hi[0];
    return String.fromCharCode(head, l >>> 16, l & 0xffff, h >>> 16, h & 0xffff, loPort, hiPort);
  }
  return String.fromCharCode(
    head,
    lo[0] >>> 16,
    lo[0] & 0xffff,
    lo[1] >>> 16,
    lo[1] & 0xffff,
    lo[2] >>> 16,
    lo[2] & 0xffff,
    lo[3] >>> 16,
    lo[3] & 0xffff,
    hi[0] >>> 16,
    hi[0] & 0xffff,
    hi[1] >>> 16,
    hi[1] & 0xffff,
    hi[2] >>> 16,
    hi[2] & 0xffff,
    hi[3] >>> 16,
    hi[3] & 0xffff,
    loPort,
    hiPort,
  );
}

/** Normalised key for a packet (src, sport) -> (dst, dport). */
function portsKey(family: number, proto: number, src: Words, sport: number, dst: Words, dport: number, out: FlowKeyOut): void {
  if (compareEndpoints(family, src, sport, dst, dport) <= 0) {
    out.srcIsLow = true;
    out.key = encodeFlowKey(family, proto, src, sport, dst, dport);
  } else {
    out.srcIsLow = false;
    out.key = encodeFlowKey(family, proto, dst, dport, src, sport);
  }
}

/** Untracked ICMPv6 types (the kernel's noct_valid_new): MLD and neighbour/router discovery. */
function icmp6Untracked(type: number): boolean {
  return (type >= 130 && type <= 136) || type === 143;
}

/** Key for an ICMP(v6) message of `type` with identifier `id` travelling src -> dst. */
function icmpKey(family: number, proto: number, type: number, id: number, src: Words, dst: Words, out: FlowKeyOut): KeyKind {
  let kind: KeyKind;
  let request: number;
  if (family === 4) {
    if (isIcmpError(type)) return KeyKind.ICMP_ERROR;
    if (icmpReplyType(type) >= 0) {
      kind = KeyKind.ICMP_REQUEST;
      request = type;
    } else {
      request = icmpRequestType(type);
      if (request < 0) return KeyKind.ICMP_INVALID;
      kind = KeyKind.ICMP_REPLY;
    }
  } else {
    if (type < 128) return KeyKind.ICMP_ERROR;
    if (icmp6Untracked(type)) return KeyKind.ICMP_UNTRACKED;
    if (icmp6ReplyType(type) >= 0) {
      kind = KeyKind.ICMP_REQUEST;
      request = type;
    } else {
      request = icmp6RequestType(type);
      if (request < 0) return KeyKind.ICMP_INVALID;
      kind = KeyKind.ICMP_REPLY;
    }
  }
  const c = compareEndpoints(family, src, 0, dst, 0);
  // The initiator is the source of a request and the destination of a reply.
  const initiatorIsLow = kind === KeyKind.ICMP_REQUEST ? c <= 0 : c >= 0;
  const tag = request | (initiatorIsLow ? 0x100 : 0);
  const idPort = id < 0 ? 0 : id;
  if (c <= 0) {
    out.srcIsLow = true;
    out.key = encodeFlowKey(family, proto, src, idPort, dst, tag);
  } else {
    out.srcIsLow = false;
    out.key = encodeFlowKey(family, proto, dst, idPort, src, tag);
  }
  return kind;
}

/** Key of a parsed packet. Allocates only the key string. */
export function flowKeyOfView(view: PacketView, out: FlowKeyOut): KeyKind {
  const family = view.family;
  const proto = view.proto;
  // A view left behind by a failed parse may have a family but no final protocol.
  if (family === 0 || proto < 0) return KeyKind.NO_HEADER;
  if (isPortProto(proto)) {
    if (!view.hasL4Header) return view.fragment ? KeyKind.FRAGMENT : KeyKind.NO_HEADER;
    portsKey(family, proto, view.src, view.sport, view.dst, view.dport, out);
    return KeyKind.PORTS;
  }
  if ((family === 4 && proto === IpProto.ICMP) || (family === 6 && proto === IpProto.ICMPV6)) {
    if (!view.hasL4Header) return view.fragment ? KeyKind.FRAGMENT : KeyKind.NO_HEADER;
    return icmpKey(family, proto, view.icmpType, view.icmpId, view.src, view.dst, out);
  }
  portsKey(family, proto, view.src, 0, view.dst, 0, out);
  return KeyKind.GENERIC;
}

/**
 * Key of the packet quoted by an ICMP error (view.isIcmpError with innerStatus OK): the flow the
 * error is about. `srcIsLow` refers to the quoted packet's source.
 */
export function flowKeyOfQuoted(view: PacketView, out: FlowKeyOut): KeyKind {
  const family = view.innerFamily;
  if (family === 0 || view.innerStatus !== 0) return KeyKind.NO_HEADER;
  const proto = view.innerProto;
  if (isPortProto(proto)) {
    if (view.innerFragment) return KeyKind.FRAGMENT;
    portsKey(family, proto, view.innerSrc, view.innerSport, view.innerDst, view.innerDport, out);
    return KeyKind.PORTS;
  }
  if ((family === 4 && proto === IpProto.ICMP) || (family === 6 && proto === IpProto.ICMPV6)) {
    if (view.innerFragment) return KeyKind.FRAGMENT;
    return icmpKey(family, proto, view.innerIcmpType, view.innerIcmpId, view.innerSrc, view.innerDst, out);
  }
  portsKey(family, proto, view.innerSrc, 0, view.innerDst, 0, out);
  return KeyKind.GENERIC;
}

/** The parts of a key, for logs and tools. */
export interface FlowKeyParts {
  family: 4 | 6;
  proto: number;
  low: IpAddress;
  high: IpAddress;
  /** Ports (port protocols); for ICMP queries lowPort is the identifier and highPort the tag. */
  lowPort: number;
  highPort: number;
}

/** Family of a key without decoding it. */
export function keyFamily(key: string): 4 | 6 {
  return key.charCodeAt(0) & 0x100 ? 6 : 4;
}

/** IP protocol of a key without decoding it. */
export function keyProto(key: string): number {
  return key.charCodeAt(0) & 0xff;
}

/** Decode a key; null when the string is not one. */
export function decodeFlowKey(key: string): FlowKeyParts | null {
  const family = keyFamily(key);
  const n = family === 6 ? 4 : 1;
  if (key.length !== 1 + 4 * n + 2) return null;
  const words = (at: number): [number, number, number, number] => {
    const w: [number, number, number, number] = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) w[i] = ((key.charCodeAt(at + 2 * i) << 16) | key.charCodeAt(at + 2 * i + 1)) >>> 0;
    return w;
  };
  return {
    family,
    proto: keyProto(key),
    low: { family, words: words(1) },
    high: { family, words: words(1 + 2 * n) },
    lowPort: key.charCodeAt(1 + 4 * n),
    highPort: key.charCodeAt(2 + 4 * n),
  };
}

/** Human-readable form, e.g. `tcp4 10.0.0.1:40000 <-> 10.0.0.2:80`, `ip4/47 10.0.0.1 <-> 10.0.0.2`. */
export function formatFlowKey(key: string): string {
  const p = decodeFlowKey(key);
  if (!p) return `<bad key ${JSON.stringify(key)}>`;
  const names: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };
  const known = names[p.proto];
  const name = known === undefined ? `ip${p.family}/${p.proto}` : p.proto === IpProto.ICMPV6 ? known : `${known}${p.family}`;
  const ep = (a: IpAddress, port: number): string => (a.family === 6 ? `[${formatIp(a)}]:${port}` : `${formatIp(a)}:${port}`);
  if (isPortProto(p.proto)) return `${name} ${ep(p.low, p.lowPort)} <-> ${ep(p.high, p.highPort)}`;
  if (p.proto === IpProto.ICMP || p.proto === IpProto.ICMPV6) {
    const initiator = p.highPort & 0x100 ? 'low' : 'high';
    return `${name} ${formatIp(p.low)} <-> ${formatIp(p.high)} id ${p.lowPort} type ${p.highPort & 0xff} from ${initiator}`;
  }
  return `${name} ${formatIp(p.low)} <-> ${formatIp(p.high)}`;
}
