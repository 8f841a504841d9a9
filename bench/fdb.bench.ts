// FDB hot-path cost: lookups at 1k and 1M entries (hit and miss), learning a
// known MAC (refresh) and a new one. Each call does 1000 operations over a
// preallocated buffer of MACs, walking on from where the last call stopped,
// so the 1M cases touch the whole table (cache misses included) rather than
// the same 1000 slots. Ends with a heap check: steady-state lookups and
// refreshes must not grow the heap.

import { runCases } from './lib.js';
import { Fdb, LEARN_FULL } from '../src/fdb/fdb.js';
import { PeerTable } from '../src/fdb/peers.js';

const OPS = 1000;
const BIG = 1_000_000;
const VNI = 42;

/** `n` distinct MACs, 6 bytes each, in no particular order. */
function macBuffer(n: number, salt: number): Buffer {
  const buf = Buffer.alloc(n * 6);
  for (let i = 0; i < n; i++) {
    const lo = Math.imul(i ^ salt, 0x9e3779b1) >>> 0; // a bijection of i, so distinct
    const o = i * 6;
    buf[o] = 0x02; buf[o + 1] = salt;
    buf[o + 2] = lo >>> 24; buf[o + 3] = lo >>> 16; buf[o + 4] = lo >>> 8; buf[o + 5] = lo;
  }
  return buf;
}

const peers = new PeerTable();
const peer = peers.internIp('198.18.0.2', 8472);
peers.ref(peer);

const small = new Fdb({ peers });
const smallMacs = macBuffer(1000, 1);
for (let i = 0; i < 1000; i++) small.learn(VNI, smallMacs, i * 6, peer, 0);

const big = new Fdb({ peers, maxEntries: BIG });
const bigMacs = macBuffer(BIG, 2);
for (let i = 0; i < BIG; i++) big.learn(VNI, bigMacs, i * 6, peer, 0);
const missMacs = macBuffer(BIG, 3); // another second octet: never in the table

// The learn-new table is grown once to its full size, then cleared whenever
// it fills, so every learn inserts into a big table without doubling it.
const fresh = new Fdb({ peers, maxEntries: BIG });
const freshMacs = macBuffer(BIG, 4);
for (let i = 0; i < BIG; i++) fresh.learn(VNI, freshMacs, i * 6, peer, 0);
fresh.clear();

let sink = 0;
let cur = 0, curMiss = 0, curNew = 0, now = 1;

const results = runCases('fdb', [
  {
    name: 'lookup hit, 1k entries',
    perCall: OPS,
    fn: () => {
      for (let i = 0; i < OPS; i++) sink += small.lookup(VNI, smallMacs, i * 6);
    },
  },
  {
    name: 'lookup hit, 1M entries',
    perCall: OPS,
    fn: () => {
      for (let i = 0; i < OPS; i++) {
        sink += big.lookup(VNI, bigMacs, cur * 6);
        if (++cur === BIG) cur = 0;
      }
    },
  },
  {
    name: 'lookup miss, 1M entries',
    perCall: OPS,
    fn: () => {
      for (let i = 0; i < OPS; i++) {
        sink += big.lookup(VNI, missMacs, curMiss * 6);
        if (++curMiss === BIG) curMiss = 0;
      }
    },
  },
  {
    name: 'learn refresh (existing entry), 1k entries',
    perCall: OPS,
    fn: () => {
      now++;
      for (let i = 0; i < OPS; i++) sink += small.learn(VNI, smallMacs, i * 6, peer, now);
    },
  },
  {
    name: 'learn new, into a 1M-entry table',
    perCall: OPS,
    fn: () => {
      for (let i = 0; i < OPS; i++) {
        if (curNew === BIG) { fresh.clear(); curNew = 0; }
        if (fresh.learn(VNI, freshMacs, curNew * 6, peer, now) === LEARN_FULL) throw new Error('unexpected full');
        curNew++;
      }
    },
  },
]);

// Steady state must not allocate: a million lookups and refreshes after a
// full GC should leave the heap where it was (give or take V8's own noise).
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let r = 0; r < 1000; r++) {
    for (let i = 0; i < OPS; i++) {
      sink += big.lookup(VNI, bigMacs, ((r * OPS + i) % BIG) * 6);
      sink += small.learn(VNI, smallMacs, i * 6, peer, now + r);
    }
  }
  gc();
  const grew = process.memoryUsage().heapUsed - before;
  process.stdout.write(`fdb      heap growth after 1M lookups + 1M refreshes: ${grew} bytes\n`);
} else {
  process.stdout.write('fdb      (run with --expose-gc for the heap check)\n');
}
const mib = (big.memoryBytes() / 2 ** 20).toFixed(1), kib = (small.memoryBytes() / 1024).toFixed(1);
process.stdout.write(`fdb      typed arrays: ${mib} MiB for 1M entries, ${kib} KiB for 1k\n`);
if (sink === 0.5) process.stdout.write(`${results.length}\n`); // keep `sink` alive
