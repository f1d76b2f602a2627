/**
 * A set of port numbers as sorted, merged inclusive ranges; membership by binary search.
 */
export class PortSet {
  /** [min0, max0, min1, max1, ...] */
  private readonly ranges: Uint16Array;
  readonly rangeCount: number;

  private constructor(ranges: Uint16Array) {
    this.ranges = ranges;
    this.rangeCount = ranges.length / 2;
  }

  static from(ranges: Iterable<{ min: number; max: number }>): PortSet {
    const list = [...ranges].map((r) => ({ min: r.min, max: r.max })).sort((a, b) => a.min - b.min);
    const merged: { min: number; max: number }[] = [];
    for (const r of list) {
      const last = merged[merged.length - 1];
      if (last && r.min <= last.max + 1) {
        if (r.max > last.max) last.max = r.max;
      } else merged.push(r);
    }
    const arr = new Uint16Array(merged.length * 2);
    merged.forEach((r, i) => {
      arr[2 * i] = r.min;
      arr[2 * i + 1] = r.max;
    });
    return new PortSet(arr);
  }

  get isEmpty(): boolean {
    return this.rangeCount === 0;
  }

  has(port: number): boolean {
    const r = this.ranges;
    let lo = 0;
    let hi = this.rangeCount - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (port < r[2 * mid]!) hi = mid - 1;
      else if (port > r[2 * mid + 1]!) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** The merged ranges, for building indexes. */
  *each(): IterableIterator<{ min: number; max: number }> {
    for (let i = 0; i < this.rangeCount; i++) yield { min: this.ranges[2 * i]!, max: this.ranges[2 * i + 1]! };
  }
}
