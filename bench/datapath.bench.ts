// Encap and decap per packet, through the same batch functions the daemon
// and `weft replay` use: 64 frames a batch, headroom in front, one VNI.
// After the timed runs, a steady-state loop checks that forwarding does not
// grow the heap (the data path allocates nothing per packet).

import { Datapath } from '../src/datapath/datapath.js';
import { decapBatch } from '../src/datapath/decap.js';
import { encapBatch } from '../src/datapath/encap.js';
import { DatagramBatch, FrameBatch, SendList, HEADROOM } from '../src/io/batch.js';
import { parseMac, writeMac } from '../src/wire/mac.js';
import { runCases } from './lib.js';

const BATCH = 64;
const FRAME = 1450;            // a full-MTU inner frame
const SLOT = HEADROOM + 2048;

const dp = new Datapath();
const v = dp.addVni(1, { port: 8472 });
dp.addFloodPeer(v, '198.18.0.2');
dp.addFloodPeer(v, '198.18.0.3');
const known = parseMac('02:00:0a:f4:02:01');
dp.addStatic(v, known, '198.18.0.2');

// TAP side: BATCH frames to a known unicast MAC, and BATCH broadcasts.
function frameSlab(dst: number): { frames: FrameBatch; slab: Buffer } {
  const slab = Buffer.alloc(SLOT * BATCH);
  const frames = new FrameBatch(BATCH, slab);
  for (let i = 0; i < BATCH; i++) {
    const at = i * SLOT + HEADROOM;
    writeMac(slab, at, dst);
    writeMac(slab, at + 6, parseMac('02:00:0a:f4:01:01'));
    slab.writeUInt16BE(0x0800, at + 12);
    slab[at + 14] = 0x45; slab[at + 23] = 17;
    slab.writeUInt32BE(0x0af40101, at + 26); slab.writeUInt32BE(0x0af40201 + i, at + 30);
    frames.push(at, FRAME);
  }
  return { frames, slab };
}
const uni = frameSlab(known);
const bcast = frameSlab(0xffffffffffff);
const sends = new SendList(BATCH * 2);

// Wire side: BATCH VXLAN datagrams from one peer, 64 source MACs.
const rxSlab = Buffer.alloc(SLOT * BATCH);
const dgrams = new DatagramBatch(BATCH, rxSlab);
for (let i = 0; i < BATCH; i++) {
  const at = i * SLOT + HEADROOM;
  rxSlab[at] = 0x08; rxSlab[at + 6] = 1;
  writeMac(rxSlab, at + 8, parseMac('02:00:0a:f4:01:01'));
  writeMac(rxSlab, at + 14, parseMac('02:00:0a:f5:00:00') + i);
  rxSlab.writeUInt16BE(0x0800, at + 20);
  dgrams.off[i] = at; dgrams.len[i] = FRAME + 8;
  dgrams.srcAddr.set([0, 0, 0xffff, 0xc6120002], i * 4);
  dgrams.srcPort[i] = 40000;
}
dgrams.count = BATCH;
const inner = new FrameBatch(BATCH);
let now = 0;

// The same with weft run's defences on: only known sources, a BUM budget
// (never exhausted here: this measures the checks, not drops).
const guarded = new Datapath({ knownSourcesOnly: true, bumRate: 1e9 });
const gv = guarded.addVni(1, { port: 8472, mtu: 1450 });
guarded.addFloodPeer(gv, '198.18.0.2');
guarded.addFloodPeer(gv, '198.18.0.3');
guarded.addStatic(gv, known, '198.18.0.2');

runCases('datapath', [
  { name: `encap unicast (batch ${BATCH}, ${FRAME} B)`, perCall: BATCH, fn: () => encapBatch(dp, v, uni.frames, sends, 0) },
  { name: `encap broadcast to 2 peers (batch ${BATCH})`, perCall: BATCH, fn: () => encapBatch(dp, v, bcast.frames, sends, 0) },
  { name: `decap + learn refresh (batch ${BATCH})`, perCall: BATCH, fn: () => decapBatch(dp, dgrams, inner, now++) },
  { name: `encap broadcast, BUM budget on (batch ${BATCH})`, perCall: BATCH, fn: () => encapBatch(guarded, gv, bcast.frames, sends, now++) },
  { name: `decap + learn refresh, known sources only (batch ${BATCH})`, perCall: BATCH, fn: () => decapBatch(guarded, dgrams, inner, now++) },
]);

// Steady state: 2 million frames each way; the heap must not grow.
const g = (globalThis as { gc?: () => void }).gc;
g?.();
const before = process.memoryUsage().heapUsed;
for (let k = 0; k < 2_000_000 / BATCH; k++) {
  encapBatch(dp, v, uni.frames, sends, 0);
  decapBatch(dp, dgrams, inner, now++);
  encapBatch(guarded, gv, bcast.frames, sends, now);
  decapBatch(guarded, dgrams, inner, now++);
}
g?.();
const after = process.memoryUsage().heapUsed;
process.stdout.write(`datapath steady state: 2M frames each way, heap ${(before / 1e6).toFixed(2)} MB → ${(after / 1e6).toFixed(2)} MB (${after - before >= 0 ? '+' : ''}${((after - before) / 1024).toFixed(1)} KiB)${g ? '' : ' (run with --expose-gc for a clean figure)'}\n`);
