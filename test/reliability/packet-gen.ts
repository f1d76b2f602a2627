/**
 * Seeded generator of hostile packets for the reliability fuzz tests and the fuzz benchmark.
 *
 * A corpus of valid packets is built once (the builder is slow next to the parser); every fuzz
 * packet is then a corpus packet copied into a scratch buffer and mutated in place, or a packet
 * written directly into the scratch buffer (extension-header chains, garbage options, nested ICMP
 * errors, random bytes). Everything derives from one seed, so a failure is replayed by its seed
 * and packet index.
 */
import { Rng } from '../helpers/random';
import {
  IpProto,
  buildEcho,
  buildIcmp,
  buildIcmpError,
  buildIcmpv6,
  buildRaw,
  buildSctp,
  buildTcp,
  buildUdp,
  buildUdpLite,
  fragmentPacket,
  type IpOptions,
  type Ipv6ExtHeader,
} from '../../src/packet';

/** How a fuzz packet was made (counted per kind, printed by the benchmark). */
export const GEN_KINDS = [
  'valid',
  'truncated',
  'bit-flips',
  'field-corruption',
  'bogus-length',
  'ipv4-options',
  'ipv6-ext-chain',
  'ipv6-ext-loop',
  'fragment',
  'icmp-error-garbage',
  'icmp-error-nested',
  'icmp-error-related',
  'trailing-garbage',
  'random-bytes',
] as const;
export type GenKind = (typeof GEN_KINDS)[number];

/** Addresses the policies under test care about (HEP addresses, network sets, bogons), and others. */
const V4 = ['203.0.113.1', '203.0.113.9', '192.168.0.45', '192.168.0.10', '10.0.1.1', '10.0.1.130', '10.0.2.7', '10.10.0.1', '10.10.0.2', '10.20.0.1', '10.20.0.2', '10.65.0.2', '198.51.100.7', '192.0.2.200', '172.16.0.5', '127.0.0.1', '0.0.0.0', '255.255.255.255', '224.0.0.1', '8.8.8.8'];
const V6 = ['2001:db8:100::1', '2001:db8:100::99', 'fd00:1::1', 'fd00:1::80', 'fd10:10::1', 'fd10:10::2', 'fd10:20::1', 'fd10:20::2', 'fd10:65::2', 'fe80::1', 'ff02::1', '::1', '::', '2001:4860::8888'];
const PORTS = [22, 53, 67, 68, 80, 179, 443, 6443, 8000, 8080, 8081, 11211, 0, 1, 1023, 1024, 40000, 65535];
const ICMP_ERR = [3, 4, 5, 11, 12];
const ICMP6_ERR = [1, 2, 3, 4];
const EXT_TYPES: readonly Ipv6ExtHeader['type'][] = ['hop-by-hop', 'destination', 'routing', 'fragment', 'ah'];
const EXT_PROTOS = [IpProto.HOP_BY_HOP, IpProto.IPV6_ROUTING, IpProto.IPV6_DEST_OPTS, IpProto.AH, IpProto.IPV6_FRAGMENT];
const INTERESTING_BYTES = [0x00, 0x01, 0x05, 0x06, 0x0f, 0x11, 0x14, 0x28, 0x2b, 0x2c, 0x3a, 0x3b, 0x3c, 0x40, 0x45, 0x4f, 0x60, 0x7f, 0x80, 0x84, 0x88, 0xfe, 0xff];
const INTERESTING_U16 = [0, 1, 7, 8, 19, 20, 39, 40, 41, 59, 60, 576, 1280, 1500, 0x7fff, 0x8000, 0xfff8, 0xfffe, 0xffff];

/** Largest packet the generator writes (a jumbogram-sized scratch keeps BIG TCP paths reachable). */
export const SCRATCH_BYTES = 70_000;

export interface GenPacket {
  kind: GenKind;
  /** A view into the generator's scratch buffer: valid until the next call. */
  bytes: Buffer;
}

export class PacketGenerator {
  readonly rng: Rng;
  readonly corpus: Buffer[] = [];
  private readonly scratch = Buffer.alloc(SCRATCH_BYTES);
  private readonly out: GenPacket = { kind: 'valid', bytes: this.scratch.subarray(0, 0) };
  /** Valid packets handed out lately: ICMP errors about them can find their flows. */
  private readonly recent: Buffer[] = [];

  constructor(seed: number) {
    this.rng = new Rng(seed);
    this.buildCorpus();
  }

  private v4(): string {
    return this.rng.pick(V4);
  }
  private v6(): string {
    return this.rng.pick(V6);
  }
  private port(): number {
    return this.rng.bool(0.8) ? this.rng.pick(PORTS) : this.rng.int(65536);
  }
  private ip(six: boolean, extra: Partial<IpOptions> = {}): IpOptions {
    return six ? { src: this.v6(), dst: this.v6(), ...extra } : { src: this.v4(), dst: this.v4(), ...extra };
  }
  private bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.rng.int(256);
    return b;
  }
  private extChain(n: number): Ipv6ExtHeader[] {
    const chain: Ipv6ExtHeader[] = [];
    for (let i = 0; i < n; i++) {
      const type = this.rng.pick(EXT_TYPES);
      if (type === 'fragment') chain.push({ type, offset: this.rng.bool(0.7) ? 0 : this.rng.int(8192) * 8, more: this.rng.bool(), id: this.rng.int(1 << 30) });
      else if (type === 'routing') chain.push({ type, routingType: this.rng.int(5), segmentsLeft: this.rng.int(4), data: this.bytes(4 + 8 * this.rng.int(3)) });
      else if (type === 'ah') chain.push({ type, icv: this.bytes(this.rng.pick([0, 4, 12, 20])) });
      else chain.push({ type, options: this.bytes(this.rng.int(20)) });
    }
    return chain;
  }

  /** One well-formed packet of a random kind (may itself be a fragment or an error). */
  private validPacket(depth = 0): Buffer {
    const r = this.rng;
    const six = r.bool(0.45);
    const ext = six && r.bool(0.25) ? { extHeaders: this.extChain(1 + r.int(4)) } : {};
    const opts = !six && r.bool(0.15) ? { options: this.bytes(4 * r.int(11)) } : {};
    const ip = this.ip(six, { ...ext, ...opts, ttl: r.int(256), tos: r.int(256), id: r.int(65536), dontFragment: r.bool() });
    const payload = r.bool(0.3) ? this.bytes(r.int(200)) : undefined;
    switch (r.int(depth > 0 ? 8 : 10)) {
      case 0:
      case 1:
      case 2:
        return buildTcp(ip, { sport: this.port(), dport: this.port(), flags: r.int(256), seq: r.int(2 ** 32), ack: r.int(2 ** 32), options: r.bool(0.2) ? this.bytes(r.int(41)) : undefined, payload });
      case 3:
      case 4:
        return buildUdp(ip, { sport: this.port(), dport: this.port(), payload });
      case 5:
        return r.bool() ? buildUdpLite(ip, { sport: this.port(), dport: this.port(), coverage: r.pick([0, 8, 12]), payload }) : buildSctp(ip, { sport: this.port(), dport: this.port() });
      case 6:
        return buildEcho(ip, { id: r.int(65536), seq: r.int(65536), reply: r.bool() });
      case 7:
        if (six) return buildIcmpv6(ip, { type: r.pick([128, 129, 133, 134, 135, 136, 143, 130, 139, 200, r.int(256)]), code: r.int(3), payload });
        return buildIcmp(ip, { type: r.pick([0, 8, 13, 14, 9, 10, 17, 18, r.int(256)]), code: r.int(3), payload });
      case 8: {
        // An error about another packet: the quote is itself a valid packet of the same family.
        const quote = this.validPacketOf(six, depth + 1);
        return buildIcmpError(ip, { type: r.pick(six ? ICMP6_ERR : ICMP_ERR), code: r.int(16), rest: r.int(2 ** 32), quote, quoteLength: r.bool(0.5) ? undefined : r.int(quote.length + 1) });
      }
      default:
        return buildRaw(ip, r.pick([IpProto.GRE, IpProto.ESP, 89, 103, 112, 4, 41, 253, 255, IpProto.IPV6_NO_NEXT]), payload);
    }
  }

  private validPacketOf(six: boolean, depth: number): Buffer {
    for (let i = 0; i < 20; i++) {
      const p = this.validPacket(depth);
      if (p[0]! >>> 4 === (six ? 6 : 4)) return p;
    }
    return six ? buildUdp(this.ip(true), { sport: 1, dport: 2 }) : buildUdp(this.ip(false), { sport: 1, dport: 2 });
  }

  private buildCorpus(): void {
    const r = this.rng;
    for (let i = 0; i < 1500; i++) this.corpus.push(this.validPacket());
    // Fragment trains (first fragments that cut the L4 header short, tiny fragments).
    for (let i = 0; i < 150; i++) {
      const whole = this.validPacket();
      try {
        for (const f of fragmentPacket(whole, 8 * (1 + r.int(8)), r.int(65536))) this.corpus.push(f);
      } catch {
        // Packets too short to split, or whose unfragmentable part is malformed on purpose: skip.
      }
    }
  }

  /** Copy `src` into the scratch buffer; returns the length. */
  private load(src: Buffer): number {
    const n = Math.min(src.length, SCRATCH_BYTES);
    src.copy(this.scratch, 0, 0, n);
    return n;
  }

  private done(kind: GenKind, len: number): GenPacket {
    this.out.kind = kind;
    this.out.bytes = this.scratch.subarray(0, len);
    return this.out;
  }

  /** The next fuzz packet. */
  next(): GenPacket {
    const r = this.rng;
    const s = this.scratch;
    const pick = r.int(100);
    if (pick < 12) {
      const p = r.pick(this.corpus);
      if (this.recent.length < 64) this.recent.push(p);
      else this.recent[r.int(64)] = p;
      return this.done('valid', this.load(p));
    }
    if (pick < 22) {
      const n = this.load(r.pick(this.corpus));
      return this.done('truncated', r.int(n));
    }
    if (pick < 34) {
      const n = this.load(r.pick(this.corpus));
      const flips = 1 + r.int(8);
      for (let i = 0; i < flips && n > 0; i++) {
        // Most of the damage in the headers, where the parser makes decisions.
        const at = r.bool(0.8) ? r.int(Math.min(n, 80)) : r.int(n);
        if (r.bool()) s[at] = s[at]! ^ (1 << r.int(8));
        else s[at] = r.bool() ? r.pick(INTERESTING_BYTES) : r.int(256);
      }
      return this.done('bit-flips', n);
    }
    if (pick < 46) return this.done('field-corruption', this.corruptField());
    if (pick < 54) return this.done('bogus-length', this.bogusLength());
    if (pick < 60) return this.done('ipv4-options', this.ipv4Options());
    if (pick < 68) return this.done('ipv6-ext-chain', this.ipv6Chain(false));
    if (pick < 72) return this.done('ipv6-ext-loop', this.ipv6Chain(true));
    if (pick < 80) return this.done('fragment', this.fragment());
    if (pick < 86) return this.done('icmp-error-garbage', this.icmpErrorGarbage());
    if (pick < 89) return this.done('icmp-error-nested', this.icmpErrorNested());
    if (pick < 92) return this.done('icmp-error-related', this.icmpErrorRelated());
    if (pick < 95) {
      const n = this.load(r.pick(this.corpus));
      const extra = Math.min(r.int(600), SCRATCH_BYTES - n);
      for (let i = 0; i < extra; i++) s[n + i] = r.int(256);
      return this.done('trailing-garbage', n + extra);
    }
    // Random bytes, usually with a plausible version nibble so the parser goes further.
    const n = r.bool(0.9) ? r.int(200) : r.int(SCRATCH_BYTES);
    for (let i = 0; i < n; i++) s[i] = r.int(256);
    if (n > 0 && r.bool(0.7)) s[0] = ((r.bool() ? 4 : 6) << 4) | (s[0]! & 0x0f);
    return this.done('random-bytes', n);
  }

  /** A specific header field of a valid packet set to a boundary or random value. */
  private corruptField(): number {
    const r = this.rng;
    const s = this.scratch;
    const n = this.load(r.pick(this.corpus));
    const version = s[0]! >>> 4;
    const u16 = () => (r.bool(0.7) ? r.pick(INTERESTING_U16) : r.int(65536));
    const put16 = (at: number) => {
      if (at + 2 <= n) s.writeUInt16BE(u16(), at);
    };
    if (version === 4) {
      const ihl = (s[0]! & 0x0f) * 4;
      switch (r.int(8)) {
        case 0:
          s[0] = 0x40 | r.int(16); // IHL 0..15
          break;
        case 1:
          put16(2); // total length
          break;
        case 2:
          // Flags and fragment offset: MF, DF, reserved bit, offsets up to the maximum.
          s.writeUInt16BE((r.int(8) << 13) | (r.bool() ? 0x1fff : r.int(0x2000)), 6);
          break;
        case 3:
          s[9] = r.bool() ? r.pick([0, 1, 6, 17, 41, 43, 44, 50, 51, 58, 59, 60, 132, 136, 255]) : r.int(256);
          break;
        case 4:
          s[0] = r.int(256); // version and IHL together
          break;
        case 5:
          if (ihl + 14 <= n) s[ihl + 12] = r.int(256); // TCP data offset (or whatever sits there)
          break;
        case 6:
          put16(ihl + 4); // UDP length / ICMP id
          break;
        default:
          if (ihl < n) s[ihl] = r.pick([3, 4, 5, 11, 12, 0, 8, r.int(256)]); // ICMP type (or a port byte)
      }
    } else {
      switch (r.int(6)) {
        case 0:
          put16(4); // payload length
          break;
        case 1:
          if (n > 6) s[6] = r.pick([...EXT_PROTOS, 6, 17, 58, 59, 50, r.int(256)]); // next header
          break;
        case 2:
          if (n > 41) s[41] = r.int(256); // first extension header's length byte
          break;
        case 3:
          if (n > 40) s[40] = r.pick([...EXT_PROTOS, r.int(256)]); // first extension header's next header
          break;
        case 4:
          s[0] = r.int(256);
          break;
        default:
          if (n > 52) s[40 + 12] = r.int(256); // TCP data offset when there is no extension header
      }
    }
    return n;
  }

  /** The IP length field disagrees with the bytes present (shorter, longer, zero, huge). */
  private bogusLength(): number {
    const r = this.rng;
    const s = this.scratch;
    let n = this.load(r.pick(this.corpus));
    const version = s[0]! >>> 4;
    const candidates = [0, 1, n - 1, n + 1, n + 8, 0xffff, r.int(65536), 20, 40];
    const v = r.pick(candidates) & 0xffff;
    if (version === 4 && n >= 4) s.writeUInt16BE(v, 2);
    else if (n >= 6) s.writeUInt16BE(v, 4);
    // Sometimes a buffer over 64 KiB with a zero length field (the BIG TCP / jumbogram paths).
    if (r.bool(0.03) && n >= 6) {
      const big = 0x10000 + 41 + r.int(2000);
      for (let i = n; i < big; i++) s[i] = i & 0xff;
      s.writeUInt16BE(0, version === 4 ? 2 : 4);
      n = big;
    }
    return n;
  }

  /** An IPv4 header with IHL 6..15 and option bytes that are random or malformed TLVs. */
  private ipv4Options(): number {
    const r = this.rng;
    const s = this.scratch;
    const words = 5 + 1 + r.int(11);
    const ihl = words * 4;
    const l4 = r.bool() ? this.validL4(false) : this.bytes(r.int(60));
    const total = ihl + l4.length;
    s.fill(0, 0, ihl);
    s[0] = 0x40 | (words & 0x0f);
    s[1] = r.int(256);
    s.writeUInt16BE(r.bool(0.9) ? total : r.int(65536), 2);
    s.writeUInt16BE(r.int(65536), 4);
    s.writeUInt16BE(r.bool(0.8) ? 0x4000 : r.int(65536), 6);
    s[8] = r.int(256);
    s[9] = r.pick([6, 17, 1, 132, 136, r.int(256)]);
    this.writeV4Addr(12);
    this.writeV4Addr(16);
    // Option TLVs: type, length (0, 1, 2, too long, random), data.
    for (let i = 20; i < ihl; ) {
      const t = r.pick([0, 1, 7, 0x44, 0x83, 0x89, 0x94, 0x82, r.int(256)]);
      s[i++] = t;
      if (i < ihl) s[i++] = r.pick([0, 1, 2, 3, 4, 40, 255, r.int(256)]);
      const data = r.int(8);
      for (let k = 0; k < data && i < ihl; k++) s[i++] = r.int(256);
    }
    l4.copy(s, ihl);
    return total;
  }

  private writeV4Addr(at: number): void {
    const a = this.rng.pick(V4).split('.').map(Number);
    for (let i = 0; i < 4; i++) this.scratch[at + i] = a[i]!;
  }

  private writeV6Header(payloadLen: number, next: number): void {
    const r = this.rng;
    const s = this.scratch;
    s.writeUInt32BE(((6 << 28) | (r.int(256) << 20) | r.int(1 << 20)) >>> 0, 0);
    s.writeUInt16BE(payloadLen & 0xffff, 4);
    s[6] = next;
    s[7] = r.int(256);
    // Addresses from the corpus of interesting ones would need parsing; raw words do as well here.
    for (let i = 8; i < 40; i++) s[i] = r.int(256);
    if (r.bool(0.5)) {
      // fd10:20::2 -> fd10:10::2 (the lab's hosts), so some chains reach HEP policy.
      s.fill(0, 8, 40);
      s.writeUInt16BE(0xfd10, 8);
      s.writeUInt16BE(0x0020, 10);
      s[23] = 2;
      s.writeUInt16BE(0xfd10, 24);
      s.writeUInt16BE(0x0010, 26);
      s[39] = 2;
    }
  }

  /**
   * An IPv6 packet with a hand-written extension-header chain: long chains (past the parser's
   * limit), loops (a header naming its own type as next, again and again), lengths that overrun
   * the datagram, and a random upper layer after it.
   */
  private ipv6Chain(loop: boolean): number {
    const r = this.rng;
    const s = this.scratch;
    const count = loop ? 10 + r.int(300) : r.int(r.bool(0.8) ? 20 : 200);
    let pos = 40;
    const first = r.pick(EXT_PROTOS);
    let cur: number = first;
    for (let i = 0; i < count && pos + 8 <= SCRATCH_BYTES - 200; i++) {
      const next = loop ? (r.bool(0.9) ? cur : r.pick(EXT_PROTOS)) : i + 1 < count ? r.pick(EXT_PROTOS) : r.pick([6, 17, 58, 59, 50, 132, r.int(256)]);
      // Mostly minimal headers (8 bytes), sometimes a random length byte.
      const lenByte = r.bool(0.85) ? 0 : r.int(256);
      const len = cur === IpProto.IPV6_FRAGMENT ? 8 : cur === IpProto.AH ? (lenByte + 2) * 4 : (lenByte + 1) * 8;
      if (pos + len > SCRATCH_BYTES - 200) break;
      s[pos] = next;
      s[pos + 1] = lenByte;
      for (let k = 2; k < len; k++) s[pos + k] = 0;
      if (cur === IpProto.IPV6_FRAGMENT) s.writeUInt16BE(r.bool(0.8) ? 0 : r.int(65536), pos + 2);
      pos += len;
      cur = next;
    }
    const l4 = r.bool() ? this.validL4(true) : this.bytes(r.int(40));
    l4.copy(s, pos);
    const end = pos + l4.length;
    const lenField = r.bool(0.85) ? end - 40 : r.int(65536);
    this.writeV6Header(lenField, first);
    return r.bool(0.1) ? r.int(end + 1) : end;
  }

  /** Just an L4 header (TCP, UDP or ICMP), as bytes to put after a hand-written IP header. */
  private validL4(six: boolean): Buffer {
    const p = this.validPacketOf(six, 1);
    const off = six ? 40 : (p[0]! & 0x0f) * 4;
    return p.subarray(off);
  }

  /** Fragments with overlapping, tiny, unaligned or past-the-end offsets. */
  private fragment(): number {
    const r = this.rng;
    const s = this.scratch;
    const n = this.load(r.pick(this.corpus));
    const version = s[0]! >>> 4;
    if (version === 4 && n >= 20) {
      const more = r.bool() ? 0x2000 : 0;
      const off = r.pick([0, 1, 2, 3, 0x1fff, 0x1ffe, 8185, r.int(0x2000)]);
      s.writeUInt16BE(more | off | (r.bool(0.1) ? 0x8000 : 0), 6);
      // Tiny first fragments: cut the L4 header short but keep the length consistent.
      if (r.bool(0.3)) {
        const ihl = (s[0]! & 0x0f) * 4;
        const cut = Math.min(n, ihl + r.int(24));
        s.writeUInt16BE(cut, 2);
        return cut;
      }
      return n;
    }
    if (version === 6 && n >= 48) {
      // Insert a fragment header right after the fixed header.
      const frag = Buffer.alloc(8);
      frag[0] = s[6]!;
      frag.writeUInt16BE((r.pick([0, 8, 16, 0xfff8, r.int(0x2000) * 8]) & 0xfff8) | (r.bool() ? 1 : 0) | r.int(2) * 2, 2);
      frag.writeUInt32BE(r.int(2 ** 32), 4);
      const rest = Buffer.from(s.subarray(40, n));
      frag.copy(s, 40);
      const cut = r.bool(0.3) ? r.int(rest.length + 1) : rest.length;
      rest.copy(s, 48, 0, cut);
      s[6] = IpProto.IPV6_FRAGMENT;
      s.writeUInt16BE(8 + cut, 4);
      return 48 + cut;
    }
    return n;
  }

  /** An ICMP error whose quote is garbage, truncated, of the wrong family, or absent. */
  private icmpErrorGarbage(): number {
    const r = this.rng;
    const six = r.bool();
    let quote: Buffer;
    switch (r.int(5)) {
      case 0:
        quote = this.bytes(r.int(80));
        break;
      case 1: {
        const q = this.validPacketOf(six, 1);
        quote = q.subarray(0, r.int(q.length + 1));
        break;
      }
      case 2:
        quote = this.validPacketOf(!six, 1); // other family
        break;
      case 3: {
        quote = Buffer.from(this.validPacketOf(six, 1));
        const flips = 1 + r.int(6);
        for (let i = 0; i < flips && quote.length > 0; i++) quote[r.int(Math.min(quote.length, 60))] = r.int(256);
        break;
      }
      default:
        quote = Buffer.alloc(0);
    }
    const p = buildIcmpError(this.ip(six), { type: r.pick(six ? ICMP6_ERR : ICMP_ERR), code: r.int(16), quote });
    return this.load(p);
  }

  /** An error about a packet sent lately, addressed back to its sender (RELATED when the flow is known). */
  private icmpErrorRelated(): number {
    const r = this.rng;
    const q = this.recent.length > 0 ? r.pick(this.recent) : r.pick(this.corpus);
    const six = q[0]! >>> 4 === 6;
    const words = (at: number): [number, number, number, number] => (six ? [q.readUInt32BE(at), q.readUInt32BE(at + 4), q.readUInt32BE(at + 8), q.readUInt32BE(at + 12)] : [q.readUInt32BE(at), 0, 0, 0]);
    if (q.length < (six ? 40 : 20)) return this.load(q);
    const dst = { family: six ? (6 as const) : (4 as const), words: words(six ? 8 : 12) };
    const src = r.bool() ? { family: dst.family, words: words(six ? 24 : 16) } : six ? this.v6() : this.v4();
    return this.load(buildIcmpError({ src, dst }, { type: r.pick(six ? ICMP6_ERR : ICMP_ERR), code: r.int(16), quote: q, quoteLength: r.bool(0.8) ? undefined : r.int(q.length + 1) }));
  }

  /** Errors quoting errors quoting errors (each quote cut short or not). */
  private icmpErrorNested(): number {
    const r = this.rng;
    const six = r.bool();
    let inner = this.validPacketOf(six, 1);
    const levels = 1 + r.int(5);
    for (let i = 0; i < levels; i++) {
      inner = buildIcmpError(this.ip(six), { type: r.pick(six ? ICMP6_ERR : ICMP_ERR), code: r.int(16), quote: inner, quoteLength: r.bool() ? undefined : r.int(inner.length + 1) });
    }
    return this.load(inner);
  }
}
