/**
 * Token bucket, with the clock passed in (no timers): a flood never floods the log.
 * What the bucket suppresses is counted so it can be reported.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  suppressed = 0;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Take one token at time `now` (ms); false (and counted) when none is left. */
  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.last) / 1000;
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + elapsed * this.ratePerSecond);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.suppressed++;
    return false;
  }

  /** Suppressed count since the last call (and reset it). */
  drainSuppressed(): number {
    const n = this.suppressed;
    this.suppressed = 0;
    return n;
  }
}
