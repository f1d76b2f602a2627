/**
 * IP addresses as numbers, for the per-packet path and for compiled address sets.
 *
 * An address is held as four unsigned 32-bit words, most significant first. IPv4 uses word 0
 * only (the other three are 0), so both families share one representation and comparison.
 * Parsing of text goes through `ip-address` (a well-kept library); only the numeric form is ours.
 */
import { Address6 } from 'ip-address';

export type IpFamily = 4 | 6;

export interface IpAddress {
  family: IpFamily;
  /** Four uint32 words, most significant first; IPv4 in words[0]. */
  words: [number, number, number, number];
}

export interface IpPrefix {
  family: IpFamily;
  /** Network address (host bits zero). */
  network: IpAddress;
  length: number;
}

const V4_STRICT = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Parse a plain address (no prefix length). Returns null when the text is not one. */
export function parseIp(text: string): IpAddress | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return null;
  if (text.includes('/')) return null;
  if (V4_STRICT.test(text)) {
    const p = text.split('.').map(Number);
    return { family: 4, words: [(((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0), 0, 0, 0] };
  }
  if (!text.includes(':')) return null;
  if (!Address6.isValid(text) || text.includes('%')) return null;
  const a = new Address6(text);
  const hex = a.canonicalForm().replace(/:/g, '');
  if (hex.length !== 32) return null;
  return {
    family: 6,
    words: [
      parseInt(hex.slice(0, 8), 16) >>> 0,
      parseInt(hex.slice(8, 16), 16) >>> 0,
      parseInt(hex.slice(16, 24), 16) >>> 0,
      parseInt(hex.slice(24, 32), 16) >>> 0,
    ],
  };
}

/** Mask of the top `bits` bits of a 32-bit word (bits 0..32). */
function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

/** Bits of one family's address. */
export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** Zero the host bits of `addr` beyond `length`. */
export function maskAddress(addr: IpAddress, length: number): IpAddress {
  const words: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) words[i] = (addr.words[i]! & wordMask(length - 32 * i)) >>> 0;
  return { family: addr.family, words };
}

export interface ParsedCidr {
  prefix: IpPrefix;
  /** True when the text had host bits set beyond the prefix (e.g. 10.0.0.5/8). */
  hadHostBits: boolean;
  /** True when the text had an explicit /length. */
  hadLength: boolean;
}

/** Parse `addr/len` (or a bare address when `allowBare`, meaning /32 or /128). */
export function parseCidr(text: string, allowBare = false): ParsedCidr | null {
  if (typeof text !== 'string') return null;
  const slash = text.indexOf('/');
  if (slash < 0) {
    if (!allowBare) return null;
    const a = parseIp(text);
    if (!a) return null;
    return { prefix: { family: a.family, network: a, length: familyBits(a.family) }, hadHostBits: false, hadLength: false };
  }
  const addr = parseIp(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(lenText)) return null;
  const length = Number(lenText);
  if (length > familyBits(addr.family)) return null;
  const network = maskAddress(addr, length);
  const hadHostBits = network.words.some((w, i) => w !== addr.words[i]);
  return { prefix: { family: addr.family, network, length }, hadHostBits, hadLength: true };
}

/** Is `addr` inside `prefix`? */
export function prefixContains(prefix: IpPrefix, addr: IpAddress): boolean {
  if (prefix.family !== addr.family) return false;
  for (let i = 0; i < 4; i++) {
    const m = wordMask(prefix.length - 32 * i);
    if (((addr.words[i]! & m) >>> 0) !== prefix.network.words[i]) return false;
  }
  return true;
}

/** Compare two addresses of the same family numerically (-1, 0, 1). */
export function compareIp(a: IpAddress, b: IpAddress): number {
  for (let i = 0; i < 4; i++) {
    const x = a.words[i]!;
    const y = b.words[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Text form: dotted quad for IPv4, RFC 5952 compressed form for IPv6. */
export function formatIp(addr: IpAddress): string {
  if (addr.family === 4) {
    const w = addr.words[0];
    return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
  }
  const groups: string[] = [];
  for (const w of addr.words) groups.push((w >>> 16).toString(16), (w & 0xffff).toString(16));
  return new Address6(groups.join(':')).correctForm();
}

export function formatPrefix(p: IpPrefix): string {
  return `${formatIp(p.network)}/${p.length}`;
}
