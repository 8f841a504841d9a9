// How full the forwarding loop's batches are: frames per TAP read and
// datagrams per socket read, as a histogram with power-of-two buckets. A
// batch costs one system call, so "how many packets per call" is what says
// whether batching pays; /metrics exports it as weft_batch_size.
//
// The loop observes once per batch with an indexed add into a typed array
// (no allocation, no prom-client call); a scrape turns the buckets into
// cumulative counts.

/** Upper bounds of the buckets (le); one more bucket above the last is +Inf. */
export const BATCH_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048];

/** The two directions, as indexes into BatchSizes. */
export const TAP_TO_WIRE = 0;
export const WIRE_TO_TAP = 1;
export const BATCH_DIRECTIONS = ['tap_to_wire', 'wire_to_tap'] as const;

const SLOTS = BATCH_BUCKETS.length + 1;

export class BatchSizes {
  /** Per direction, SLOTS non-cumulative bucket counts. */
  readonly buckets = new Float64Array(BATCH_DIRECTIONS.length * SLOTS);
  /** Per direction: batches observed, and packets in them. */
  readonly count = new Float64Array(BATCH_DIRECTIONS.length);
  readonly sum = new Float64Array(BATCH_DIRECTIONS.length);

  /** Records one batch of `n` (≥ 1) packets in direction `dir`. */
  observe(dir: number, n: number): void {
    // The smallest power of two ≥ n is 2^(32 - clz32(n - 1)); its exponent is the bucket.
    let b = n <= 1 ? 0 : 32 - Math.clz32(n - 1);
    if (b > SLOTS - 1) b = SLOTS - 1;
    this.buckets[dir * SLOTS + b]++;
    this.count[dir]++;
    this.sum[dir] += n;
  }

  /** Cumulative counts for direction `dir`, one per BATCH_BUCKETS entry then +Inf (allocates; for scrapes). */
  cumulative(dir: number): number[] {
    const out: number[] = [];
    let acc = 0;
    for (let b = 0; b < SLOTS; b++) {
      acc += this.buckets[dir * SLOTS + b];
      out.push(acc);
    }
    return out;
  }
}
