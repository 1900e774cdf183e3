/**
 * Latencies in microseconds, counted in buckets: 1 us wide up to 10 ms, 100 us
 * wide up to 1 s, then one overflow bucket. Fixed memory however long the run,
 * percentiles exact to the bucket width.
 */
const FINE_US = 10_000;
const COARSE_STEP_US = 100;
const COARSE_END_US = 1_000_000;
const COARSE = (COARSE_END_US - FINE_US) / COARSE_STEP_US;

export class Histogram {
  private readonly counts = new Uint32Array(FINE_US + COARSE + 1);
  count = 0;
  sumUs = 0;
  maxUs = 0;

  /** Record one latency in microseconds. */
  add(us: number): void {
    const v = us < 0 ? 0 : us;
    let i: number;
    if (v < FINE_US) i = v | 0;
    else if (v < COARSE_END_US) i = FINE_US + (((v - FINE_US) / COARSE_STEP_US) | 0);
    else i = FINE_US + COARSE;
    this.counts[i]!++;
    this.count++;
    this.sumUs += v;
    if (v > this.maxUs) this.maxUs = v;
  }

  /** The latency below which a fraction `q` (0..1) of the samples lie (the bucket's upper edge); 0 when empty. */
  percentile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        if (i < FINE_US) return i + 1;
        if (i < FINE_US + COARSE) return FINE_US + (i - FINE_US + 1) * COARSE_STEP_US;
        return this.maxUs;
      }
    }
    return this.maxUs;
  }

  get meanUs(): number {
    return this.count ? this.sumUs / this.count : 0;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumUs = 0;
    this.maxUs = 0;
  }
}
