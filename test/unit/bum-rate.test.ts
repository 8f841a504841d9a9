// The BUM budget (--bum-rate, datapath/rate.ts), table-driven: each row is
// a data path with a rate and burst, then batches of frames at given times,
// and how many of them must be flooded and how many dropped as
// tx_drop_bum_rate. Time is the argument encap takes; no clock is read.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Datapath } from '../../src/datapath/datapath.js';
import { BumLimiter, TokenBuckets } from '../../src/datapath/rate.js';
import { parseMac } from '../../src/wire/mac.js';
import { eth, MAC_A, MAC_B, MAC_C, BCAST } from '../helpers/packets.js';
import { encapAll } from '../helpers/datapath.js';

const P2 = '198.18.0.2', P3 = '198.18.0.3';

interface Step {
  atMs: number;
  /** [source MAC, destination MAC] per frame, on VNI 1 unless `vni`. */
  frames: [string, string][];
  vni?: number;
}

interface Row { name: string; rate: number; burst?: number; steps: Step[]; flooded: number; dropped: number; unicast?: number }

const many = (n: number, src = MAC_A, dst = BCAST): [string, string][] => Array.from({ length: n }, () => [src, dst]);

const rows: Row[] = [
  // No limit configured: everything is flooded.
  { name: 'off', rate: 0, steps: [{ atMs: 0, frames: many(5000) }], flooded: 5000, dropped: 0 },
  // The burst passes at once, the rest of the batch is dropped.
  { name: 'burst then drop', rate: 100, burst: 10, steps: [{ atMs: 0, frames: many(25) }], flooded: 10, dropped: 15 },
  // Default burst is one second's worth.
  { name: 'default burst = rate', rate: 100, steps: [{ atMs: 0, frames: many(150) }], flooded: 100, dropped: 50 },
  // Refill: 100/s for 50 ms is 5 more.
  { name: 'refill by time', rate: 100, burst: 10, steps: [{ atMs: 1000, frames: many(10) }, { atMs: 1050, frames: many(10) }], flooded: 15, dropped: 5 },
  // The bucket never holds more than its burst, however long it was idle.
  { name: 'idle does not bank more than the burst', rate: 100, burst: 10, steps: [{ atMs: 0, frames: many(10) }, { atMs: 3_600_000, frames: many(50) }], flooded: 20, dropped: 40 },
  // Time that goes backwards adds nothing.
  { name: 'clock backwards', rate: 100, burst: 5, steps: [{ atMs: 5000, frames: many(5) }, { atMs: 1000, frames: many(5) }], flooded: 5, dropped: 5 },
  // Per source MAC: B has its own budget while A is over.
  { name: 'per source MAC', rate: 10, burst: 3, steps: [{ atMs: 0, frames: [...many(5, MAC_A), ...many(5, MAC_B)] }], flooded: 6, dropped: 4 },
  // Per VNI: the same MAC on another VNI has its own budget.
  { name: 'per VNI', rate: 10, burst: 3, steps: [{ atMs: 0, frames: many(5) }, { atMs: 0, frames: many(5), vni: 2 }], flooded: 6, dropped: 4 },
  // Multicast and unknown unicast count against the same budget as broadcast.
  { name: 'multicast and unknown unicast too', rate: 10, burst: 4, steps: [{ atMs: 0, frames: [[MAC_A, BCAST], [MAC_A, '33:33:00:00:00:01'], [MAC_A, '02:00:00:00:99:99'], [MAC_A, '01:00:5e:00:00:fb'], [MAC_A, BCAST]] }], flooded: 4, dropped: 1 },
  // Known unicast is never limited, and takes no tokens.
  { name: 'known unicast untouched', rate: 10, burst: 2, steps: [{ atMs: 0, frames: [...many(100, MAC_A, MAC_C), ...many(3)] }], flooded: 2, dropped: 1, unicast: 100 },
  // A steady 1000 frames/s against a 1000/s budget: nothing lost (ARP/ND-like traffic is far below).
  { name: 'steady at the rate', rate: 1000, burst: 1000, steps: Array.from({ length: 100 }, (_, k) => ({ atMs: k * 10, frames: many(10) })), flooded: 1000, dropped: 0 },
];

for (const r of rows) {
  test(`bum rate: ${r.name}`, () => {
    const dp = new Datapath({ bumRate: r.rate, bumBurst: r.burst });
    // A fixed seed, under which MAC_A and MAC_B, and VNI 1 and 2, have buckets of their own
    // (with a random one they share a bucket once in 1024 runs).
    if (dp.bum) (dp as { bum: BumLimiter }).bum = new BumLimiter(dp.bum.rate, dp.bum.burst, 1);
    const vs = [dp.addVni(1, { port: 8472 }), dp.addVni(2, { port: 8472 })];
    for (const v of vs) { dp.addFloodPeer(v, P2); dp.addFloodPeer(v, P3); }
    dp.addStatic(vs[0], parseMac(MAC_C), P3);
    let copies = 0;
    for (const s of r.steps) {
      const v = s.vni === 2 ? vs[1] : vs[0];
      copies += encapAll(dp, v, s.frames.map(([src, dst]) => eth({ src, dst })), undefined, s.atMs).length;
    }
    const c = dp.counters.snapshot();
    assert.is(c.tx_flooded, r.flooded, JSON.stringify(dp.counters.nonZero()));
    assert.is(c.tx_drop_bum_rate, r.dropped);
    assert.is(c.tx_unicast, r.unicast ?? 0);
    assert.is(copies, r.flooded * 2 + (r.unicast ?? 0), 'a dropped frame makes no datagram');
  });
}

test('TokenBuckets: fractional refill accumulates; buckets are independent', () => {
  const t = new TokenBuckets(2, 3, 1); // 3 a second, depth 1
  assert.ok(t.take(0, 0));
  assert.is(t.take(0, 100), false); // 0.3 tokens
  assert.is(t.take(0, 200), false); // 0.6
  assert.ok(t.take(0, 334));        // 1.002
  assert.ok(t.take(1, 334), 'bucket 1 is still full');
  assert.throws(() => new TokenBuckets(1, 0, 1), /rate must be > 0/);
});

test.run();
