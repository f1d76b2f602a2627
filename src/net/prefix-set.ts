/**
 * A set of IP prefixes of one family, compiled into sorted, merged, disjoint address ranges so that
 * membership is a binary search with no allocation. Built at policy compile time; queried per packet.
 *
 * IPv4 ranges are plain numbers. IPv6 ranges compare four 32-bit words; they live in one flat
 * Uint32Array (start words then end words per range) to keep memory compact.
 */
import { type IpAddress, type IpFamily, type IpPrefix } from './ip';

const MAX32 = 0xffffffff;

/** Start and end (inclusive) of a prefix as four words each. */
function prefixBounds(p: IpPrefix): { start: number[]; end: number[] } {
  const start: number[] = [0, 0, 0, 0];
  const end: number[] = [0, 0, 0, 0];
  for (let i = 0; i < (p.family === 4 ? 1 : 4); i++) {
    const bitsHere = Math.max(0, Math.min(32, p.length - 32 * i));
    const hostMask = bitsHere >= 32 ? 0 : (MAX32 >>> bitsHere) >>> 0;
    start[i] = p.network.words[i]! >>> 0;
    end[i] = (p.network.words[i]! | hostMask) >>> 0;
  }
  return { start, end };
}

export function cmpWords(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number): number {
  for (let k = 0; k < 4; k++) {
    const x = a[ai + k]!;
    const y = b[bi + k]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** words + 1 (saturating); used to merge adjacent ranges. */
export function successor(w: number[], family: IpFamily): number[] | null {
  const r = w.slice();
  for (let k = family === 4 ? 0 : 3; k >= 0; k--) {
    if (r[k]! !== MAX32) {
      r[k] = r[k]! + 1;
      for (let j = k + 1; j < 4; j++) r[j] = 0;
      return r;
    }
  }
  return null;
}

export class PrefixSet {
  readonly family: IpFamily;
  /** IPv4: [start0, end0, start1, end1, ...]. */
  private readonly v4: Uint32Array;
  /** IPv6: per range 8 words (start[4], end[4]). */
  private readonly v6: Uint32Array;
  readonly rangeCount: number;

  private constructor(family: IpFamily, v4: Uint32Array, v6: Uint32Array, count: number) {
    this.family = family;
    this.v4 = v4;
    this.v6 = v6;
    this.rangeCount = count;
  }

  static empty(family: IpFamily): PrefixSet {
    return new PrefixSet(family, new Uint32Array(0), new Uint32Array(0), 0);
  }

  /** Build from prefixes; prefixes of the other family are ignored. */
  static from(family: IpFamily, prefixes: Iterable<IpPrefix>): PrefixSet {
    const ranges: { start: number[]; end: number[] }[] = [];
    for (const p of prefixes) if (p.family === family) ranges.push(prefixBounds(p));
    ranges.sort((a, b) => cmpWords(a.start, 0, b.start, 0));
    const merged: { start: number[]; end: number[] }[] = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last) {
        const next = successor(last.end, family);
        if (next === null || cmpWords(r.start, 0, next, 0) <= 0) {
          if (cmpWords(r.end, 0, last.end, 0) > 0) last.end = r.end;
          continue;
        }
      }
      merged.push({ start: r.start.slice(), end: r.end.slice() });
    }
    if (family === 4) {
      const v4 = new Uint32Array(merged.length * 2);
      merged.forEach((r, i) => {
        v4[2 * i] = r.start[0]!;
        v4[2 * i + 1] = r.end[0]!;
      });
      return new PrefixSet(4, v4, new Uint32Array(0), merged.length);
    }
    const v6 = new Uint32Array(merged.length * 8);
    merged.forEach((r, i) => {
      for (let k = 0; k < 4; k++) {
        v6[8 * i + k] = r.start[k]!;
        v6[8 * i + 4 + k] = r.end[k]!;
      }
    });
    return new PrefixSet(6, new Uint32Array(0), v6, merged.length);
  }

  get isEmpty(): boolean {
    return this.rangeCount === 0;
  }

  /** Membership of an address given as four words (IPv4 in word 0). */
  containsWords(w: ArrayLike<number>): boolean {
    if (this.family === 4) {
      const a = w[0]!;
      const r = this.v4;
      let lo = 0;
      let hi = this.rangeCount - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (a < r[2 * mid]!) hi = mid - 1;
        else if (a > r[2 * mid + 1]!) lo = mid + 1;
        else return true;
      }
      return false;
    }
    const r = this.v6;
    let lo = 0;
    let hi = this.rangeCount - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (cmpWords(w, 0, r, 8 * mid) < 0) hi = mid - 1;
      else if (cmpWords(w, 0, r, 8 * mid + 4) > 0) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** The merged ranges as [start words, end words] (for building indexes; allocates). */
  ranges(): { start: number[]; end: number[] }[] {
    const out: { start: number[]; end: number[] }[] = [];
    for (let i = 0; i < this.rangeCount; i++) {
      if (this.family === 4) out.push({ start: [this.v4[2 * i]!, 0, 0, 0], end: [this.v4[2 * i + 1]!, 0, 0, 0] });
      else out.push({ start: Array.from(this.v6.subarray(8 * i, 8 * i + 4)), end: Array.from(this.v6.subarray(8 * i + 4, 8 * i + 8)) });
    }
    return out;
  }

  contains(addr: IpAddress): boolean {
    return addr.family === this.family && this.containsWords(addr.words);
  }
}
