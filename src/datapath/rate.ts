// Token buckets in typed arrays, for the two things weft rate-limits on the
// data path: flooded frames per source MAC (BumLimiter) and the ICMP errors
// it writes into the TAP (one bucket).
//
// A bucket holds up to `burst` tokens and gains `rate` a second; each frame
// takes one, and a frame that finds less than one is refused. Time is an
// argument in milliseconds from any monotonic clock (the live loop's
// performance.now(), a test's counter); a clock that goes backwards adds
// nothing. No allocation after construction. On shared memory (fdb/mem.ts)
// every worker takes from the same buckets, without a lock: two workers may
// both take a bucket's last token, so a budget can be passed by one frame
// per worker at a time.

import { randomInt } from 'node:crypto';
import { localMem, type Mem } from '../fdb/mem.js';

export class TokenBuckets {
  readonly size: number;
  readonly rate: number;
  readonly burst: number;
  private readonly perMs: number;
  private readonly tokens: Float64Array;
  private readonly last: Float64Array;

  /** `size` buckets, each `burst` tokens deep (starting full), refilled at `rate` a second. */
  constructor(size: number, rate: number, burst: number, mem: Mem = localMem()) {
    if (!(rate > 0) || !(burst >= 1)) throw new RangeError(`token bucket: rate must be > 0 and burst ≥ 1, got ${rate} and ${burst}`);
    this.size = size;
    this.rate = rate;
    this.burst = burst;
    this.perMs = rate / 1000;
    this.tokens = mem.f64(size);
    this.last = mem.f64(size);
    if (mem.fresh) {
      this.tokens.fill(burst);
      this.last.fill(-Infinity);
    }
  }

  /** Takes a token from bucket `i` at `nowMs`; false when there is none. */
  take(i: number, nowMs: number): boolean {
    let t = this.tokens[i];
    const dt = nowMs - this.last[i];
    if (dt > 0) {
      t = Math.min(this.burst, t + dt * this.perMs);
      this.last[i] = nowMs;
    }
    if (t < 1) {
      this.tokens[i] = t;
      return false;
    }
    this.tokens[i] = t - 1;
    return true;
  }
}

/**
 * Broadcast, multicast and unknown-unicast frames per source MAC and VNI.
 *
 * Buckets are found by a seeded hash of (VNI, MAC) rather than kept per MAC,
 * so the table is fixed (BUM_BUCKETS buckets, 16 bytes each) however many
 * MACs send: two MACs that share a bucket share its budget. The seed is
 * random per limiter, so nobody can pick MACs that land in another host's
 * bucket on purpose. A sender that changes its source MAC for every frame
 * spreads over all buckets, so the most it can flood is BUM_BUCKETS × rate
 * a second in all; a MAC flood is the forwarding table's problem (--fdb-max).
 */
export const BUM_BUCKETS = 1024;

export class BumLimiter {
  private readonly buckets: TokenBuckets;
  private readonly seed: number;

  /** `seed` is for tests that need to know which MACs share a bucket; on attached memory it is the creator's. */
  constructor(readonly rate: number, readonly burst: number, seed?: number, mem: Mem = localMem()) {
    const cell = mem.i32(1);
    if (mem.fresh) cell[0] = seed ?? randomInt(0x7fffffff);
    this.seed = cell[0];
    this.buckets = new TokenBuckets(BUM_BUCKETS, rate, burst, mem);
  }

  /** May the frame whose source MAC is `buf[macOff..+6]`, on `vni`, be flooded at `nowMs`? Takes a token if so. */
  allow(vni: number, buf: Uint8Array, macOff: number, nowMs: number): boolean {
    const hi = (buf[macOff] << 8) | buf[macOff + 1];
    const lo = (buf[macOff + 2] << 24) | (buf[macOff + 3] << 16) | (buf[macOff + 4] << 8) | buf[macOff + 5];
    let h = Math.imul(lo ^ this.seed, 0x9e3779b1) ^ Math.imul(hi ^ (vni << 16) ^ (vni >>> 16), 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 13;
    return this.buckets.take(h & (BUM_BUCKETS - 1), nowMs);
  }
}
