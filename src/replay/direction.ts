/**
 * Which way a captured packet goes through the host, and through which interfaces, inferred from
 * the host model (docs/replay.md "Direction and interfaces"). A capture holds bytes only; the
 * engine needs the path (local-in / forward / local-out) and iif/oif that the kernel would have
 * given the packet at its netfilter hooks.
 *
 * Path, from the addresses:
 *   1. destination is a unicast address of any host interface (or inside a loopback prefix,
 *      e.g. all of 127.0.0.0/8)                                  -> local-in
 *   2. otherwise source is such a local address                  -> local-out
 *   3. otherwise destination is multicast, limited broadcast or the directed broadcast of a
 *      connected IPv4 network (the kernel delivers these locally) -> local-in
 *   4. otherwise                                                 -> forward
 *
 * Out-interface (forward, local-out): the longest-prefix match of the destination over every
 * interface's connected networks (its address prefixes) and routes ("0.0.0.0/0" / "::/0" is a
 * default route). A local-out packet to a link-scoped destination (multicast, broadcast,
 * link-local) leaves by the capture interface when that names a host interface (or is mapped by
 * --iface), as does one with no route at all.
 *
 * In-interface (local-in, forward), first that applies:
 *   a. the capture interface (pcapng if_name) when it names a host interface; for a forwarded
 *      packet not when it is the out-interface (the packet was captured on its way out);
 *   b. an --iface mapping of the capture interface index or name (same proviso);
 *   c. for a packet from the host to itself, the loopback interface (the kernel loops it via lo);
 *   d. the longest-prefix match of the source (the interface the reply would leave by).
 *
 * Pure and allocation-free per packet: prefixes are precomputed into word/mask arrays.
 */
import type { HostModel } from '../engine/host-model';
import type { PacketPath } from '../engine/packet-facts';
import { parseCidr } from '../net/ip';

type Words = ArrayLike<number>;

/** A capture interface (by index or name) -> host interface name. */
export interface InterfaceMap {
  byIndex: ReadonlyMap<number, string>;
  byName: ReadonlyMap<string, string>;
}

export const EMPTY_INTERFACE_MAP: InterfaceMap = { byIndex: new Map(), byName: new Map() };

/**
 * Parse `--iface` values: comma-separated `CAPTURE=HOST` pairs, where CAPTURE is a capture
 * interface index (pcapng interface ID; 0 for classic pcap) or an interface name. Every HOST must
 * be an interface of the host model.
 */
export function parseInterfaceMap(specs: readonly string[], host: HostModel): { map: InterfaceMap; errors: string[] } {
  const byIndex = new Map<number, string>();
  const byName = new Map<string, string>();
  const errors: string[] = [];
  const names = new Set(host.interfaces.map((i) => i.name));
  for (const spec of specs) {
    for (const part of spec.split(',')) {
      const item = part.trim();
      if (item === '') continue;
      const eq = item.indexOf('=');
      const from = eq < 0 ? '' : item.slice(0, eq).trim();
      const to = eq < 0 ? '' : item.slice(eq + 1).trim();
      if (from === '' || to === '') {
        errors.push(`--iface ${item}: expected CAPTURE=HOST (capture interface index or name = host interface)`);
        continue;
      }
      if (!names.has(to)) {
        errors.push(`--iface ${item}: ${to} is not an interface of the host model (${[...names].join(', ')})`);
        continue;
      }
      if (/^\d+$/.test(from)) byIndex.set(Number(from), to);
      else byName.set(from, to);
    }
  }
  return { map: { byIndex, byName }, errors };
}

/** One prefix with its interface, as four network words and four masks. */
interface Prefix {
  family: 4 | 6;
  net: [number, number, number, number];
  mask: [number, number, number, number];
  length: number;
  iface: string;
}

function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

function makePrefix(family: 4 | 6, words: Words, length: number, iface: string): Prefix {
  const mask: [number, number, number, number] = [wordMask(length), wordMask(length - 32), wordMask(length - 64), wordMask(length - 96)];
  const net: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) net[i] = ((words[i] ?? 0) & mask[i]!) >>> 0;
  return { family, net, mask, length, iface };
}

function inPrefix(p: Prefix, a: Words): boolean {
  return (
    ((a[0]! & p.mask[0]) >>> 0) === p.net[0] &&
    ((a[1]! & p.mask[1]) >>> 0) === p.net[1] &&
    ((a[2]! & p.mask[2]) >>> 0) === p.net[2] &&
    ((a[3]! & p.mask[3]) >>> 0) === p.net[3]
  );
}

/** Longest prefix first; at equal length the host model's order (connected networks before routes). */
function longestFirst(list: Prefix[]): Prefix[] {
  return list
    .map((p, i) => ({ p, i }))
    .sort((a, b) => b.p.length - a.p.length || a.i - b.i)
    .map((x) => x.p);
}

function lookup(list: readonly Prefix[], a: Words): string | null {
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    if (inPrefix(p, a)) return p.iface;
  }
  return null;
}

/** How the in-interface was found (shown in explanations). */
export type IifSource = 'capture' | 'iface-map' | 'loopback' | 'route' | 'none';

/** Result slot, reused for every packet. */
export interface DirectionOut {
  path: PacketPath;
  iif: string | null;
  oif: string | null;
  iifSource: IifSource;
  /** Empty when the path and interfaces were found; otherwise why not (the packet gets `no-route`). */
  problem: string;
}

export function createDirectionOut(): DirectionOut {
  return { path: 'forward', iif: null, oif: null, iifSource: 'none', problem: '' };
}

export class HostDirection {
  private readonly local4 = new Set<number>();
  private readonly local6: Array<[number, number, number, number]> = [];
  /** Prefixes of loopback interfaces: every address inside is local (127.0.0.0/8). */
  private readonly loopbackNets: Prefix[] = [];
  private readonly broadcast4 = new Set<number>();
  private readonly routes4: Prefix[];
  private readonly routes6: Prefix[];
  private readonly hostIfaces: ReadonlySet<string>;
  private readonly loopback: string | null;
  private readonly map: InterfaceMap;

  constructor(host: HostModel, map: InterfaceMap = EMPTY_INTERFACE_MAP) {
    this.map = map;
    this.hostIfaces = new Set(host.interfaces.map((i) => i.name));
    const r4: Prefix[] = [];
    const r6: Prefix[] = [];
    let loopback: string | null = null;
    for (const iface of host.interfaces) {
      const isLoopback = iface.name === 'lo' || iface.addresses.some((a) => a.startsWith('127.') || a === '::1/128' || a === '::1');
      if (isLoopback && loopback === null) loopback = iface.name;
      for (const text of iface.addresses) {
        const c = parseCidr(text, true);
        if (!c) continue;
        // The address itself (before masking) is what is local.
        const slash = text.indexOf('/');
        const addr = parseCidr(slash < 0 ? text : text.slice(0, slash), true);
        if (!addr) continue;
        const w = addr.prefix.network.words;
        if (c.prefix.family === 4) {
          this.local4.add(w[0]);
          // Directed broadcast of the connected network (not for /31, /32: RFC 3021 and hosts).
          if (c.prefix.length <= 30) this.broadcast4.add((c.prefix.network.words[0] | ~wordMask(c.prefix.length)) >>> 0);
        } else this.local6.push([w[0], w[1], w[2], w[3]]);
        const p = makePrefix(c.prefix.family, c.prefix.network.words, c.prefix.length, iface.name);
        if (isLoopback) this.loopbackNets.push(p);
        // A host route (/32, /128) on a non-loopback interface still says where that address is.
        (c.prefix.family === 4 ? r4 : r6).push(p);
      }
      for (const text of iface.routes) {
        const c = parseCidr(text, true);
        if (!c) continue;
        (c.prefix.family === 4 ? r4 : r6).push(makePrefix(c.prefix.family, c.prefix.network.words, c.prefix.length, iface.name));
      }
    }
    this.loopback = loopback;
    this.routes4 = longestFirst(r4);
    this.routes6 = longestFirst(r6);
  }

  /** Is `a` an address of this host (any interface, or inside a loopback network)? */
  isLocal(family: 4 | 6, a: Words): boolean {
    if (family === 4) {
      if (this.local4.has(a[0]!)) return true;
    } else {
      const l = this.local6;
      for (let i = 0; i < l.length; i++) {
        const x = l[i]!;
        if (x[0] === a[0] && x[1] === a[1] && x[2] === a[2] && x[3] === a[3]) return true;
      }
    }
    const lo = this.loopbackNets;
    for (let i = 0; i < lo.length; i++) if (lo[i]!.family === family && inPrefix(lo[i]!, a)) return true;
    return false;
  }

  /** Multicast, limited broadcast or a connected network's broadcast: delivered to the host. */
  private isLocalDelivery(family: 4 | 6, a: Words): boolean {
    if (family === 4) {
      const w = a[0]!;
      return w >>> 28 === 0xe || w === 0xffffffff || this.broadcast4.has(w);
    }
    return a[0]! >>> 24 === 0xff;
  }

  /** Interface by longest-prefix match (connected networks and routes), or null. */
  route(family: 4 | 6, a: Words): string | null {
    return lookup(family === 4 ? this.routes4 : this.routes6, a);
  }

  /** The host interface a capture interface stands for (by name, then --iface), or null. */
  captureInterface(name: string | undefined, index: number, out: DirectionOut): string | null {
    if (name !== undefined && this.hostIfaces.has(name)) {
      out.iifSource = 'capture';
      return name;
    }
    const m = (name !== undefined ? this.map.byName.get(name) : undefined) ?? this.map.byIndex.get(index);
    if (m !== undefined) {
      out.iifSource = 'iface-map';
      return m;
    }
    return null;
  }

  /**
   * Fill `out` for a packet src -> dst seen on capture interface (`captureName`, `captureIndex`).
   * Returns false (with `out.problem` set) when an interface the path needs cannot be found.
   */
  resolve(family: 4 | 6, src: Words, dst: Words, captureName: string | undefined, captureIndex: number, out: DirectionOut): boolean {
    out.iif = null;
    out.oif = null;
    out.iifSource = 'none';
    out.problem = '';
    const dstLocal = this.isLocal(family, dst);
    const srcLocal = this.isLocal(family, src);
    if (dstLocal) out.path = 'local-in';
    else if (srcLocal) out.path = 'local-out';
    else if (this.isLocalDelivery(family, dst)) out.path = 'local-in';
    else out.path = 'forward';

    if (out.path !== 'local-in') {
      let oif: string | null = null;
      // Link-scoped destinations leave by the interface the socket chose, which only the capture tells.
      if (out.path === 'local-out' && (this.isLocalDelivery(family, dst) || isLinkLocal(family, dst))) oif = this.captureInterface(captureName, captureIndex, out);
      if (oif === null) oif = this.route(family, dst);
      if (oif === null && out.path === 'local-out') oif = this.captureInterface(captureName, captureIndex, out);
      out.iifSource = 'none';
      if (oif === null) {
        out.problem = 'no connected network or route contains the destination';
        return false;
      }
      out.oif = oif;
      if (out.path === 'local-out') return true;
    }

    let iif = this.captureInterface(captureName, captureIndex, out);
    // A forwarded packet seen on its out-interface was captured leaving: the capture says nothing about where it came in.
    if (iif !== null && out.path === 'forward' && iif === out.oif) iif = null;
    if (iif === null && srcLocal && this.loopback !== null) {
      iif = this.loopback;
      out.iifSource = 'loopback';
    }
    if (iif === null) {
      iif = this.route(family, src);
      out.iifSource = iif === null ? 'none' : 'route';
    }
    if (iif === null) {
      out.problem = 'no in-interface: the capture interface is not a host interface, no --iface mapping, and no connected network or route contains the source';
      return false;
    }
    out.iif = iif;
    return true;
  }
}

/** fe80::/10 and 169.254.0.0/16. */
function isLinkLocal(family: 4 | 6, a: Words): boolean {
  return family === 4 ? a[0]! >>> 16 === 0xa9fe : a[0]! >>> 22 === 0x3fa;
}
