// The user-space work weft does per TCP segment on each side of one
// stream, without the system calls: what the live profile's user CPU per GB
// is made of, measured where the VM's run-to-run noise does not reach.
//
//   sender:   4 TSO super-frames as one TAP read leaves them (virtio-net
//             header, 45 × 1398 bytes each) → readTapFrames (cut into
//             segments, payloads left in place) → encapBatch with per-flow
//             source ports, as `weft run` sends;
//   receiver: the same segments as 4 GRO messages of VXLAN datagrams, laid
//             out as UdpSocket.recv leaves them (one source, each message's
//             later datagrams marked as following) → decapBatch →
//             planTapWrite (verified, coalesced back into 4 super-frames
//             for a gathering TAP write).
// Each side is then printed in parts (the TAP read alone, decap alone, and
// each side's checksums alone), so that what a cut would save is seen
// before it is made. Printed per segment (ns) and as CPU seconds per GB of TCP payload. Only
// the JavaScript and the addon's checksums: UdpSocket.sendGso and the
// forwarder's routing need a socket and are left out.

import { TapReadSlab } from '../src/io/tap-read.js';
import { newTapStats } from '../src/io/tap.js';
import { writeVnet, VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 } from '../src/io/vnet.js';
import { TapWritePlan, planTapWrite } from '../src/io/tap-write.js';
import { DatagramBatch, FrameBatch, SendList, HEADROOM, copyFrame } from '../src/io/batch.js';
import { Datapath } from '../src/datapath/datapath.js';
import { encapBatch } from '../src/datapath/encap.js';
import { decapBatch } from '../src/datapath/decap.js';
import { csumCopySlicesImpl, csumRangesImpl } from '../src/io/csum.js';

const MSS = 1398;
const SEGS = 45;
const READS = 4;
const HDR = 14 + 20 + 32;          // Ethernet + IPv4 + TCP with timestamps
const PEER = [0, 0, 0xffff, 0xc6120002];   // 198.18.0.2, IPv4-mapped

/** Super-frame k of the stream: IPv4/TCP with timestamps, its sequence after the ones before. */
function superFrame(k: number): Buffer {
  const f = Buffer.alloc(HDR + SEGS * MSS);
  f.writeUIntBE(0x02000af40201, 0, 6); f.writeUIntBE(0x02000af40101, 6, 6); f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45; f.writeUInt16BE(20 + 32 + SEGS * MSS, 16); f.writeUInt16BE(0x4000, 20); f[22] = 64; f[23] = 6;
  f.writeUInt32BE(0x0af40001, 26); f.writeUInt32BE(0x0af40002, 30);
  f.writeUInt16BE(40000, 34); f.writeUInt16BE(5201, 36); f.writeUInt32BE(1000 + k * SEGS * MSS, 38); f.writeUInt32BE(7, 42);
  f[46] = 8 << 4; f[47] = 0x10; f.writeUInt16BE(500, 48);
  for (let i = HDR; i < f.length; i++) f[i] = (i * 2654435761) >>> 24;
  return f;
}

// ---- sender ----
const tap = new TapReadSlab(READS, true, true);
for (let k = 0; k < READS; k++) {
  const f = superFrame(k), h = tap.rawOffs[k];
  writeVnet(tap.slab, h, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, HDR, MSS, 34, 16);
  f.copy(tap.slab, h + VNET_HDR_LEN);
  tap.rawLens[k] = VNET_HDR_LEN + f.length;
}
// The TAP read overwrites nothing it reads: the super-frames stay for every call.
const frames = new FrameBatch(TapReadSlab.batchFor(READS, true));
const stats = newTapStats();
const dpTx = new Datapath();
const vTx = dpTx.addVni(1, { port: 8472 });
dpTx.addStatic(vTx, 0x02000af40201, '198.18.0.2');
const sends = new SendList(frames.capacity);
const segments = tap.fill(READS, frames, stats);
if (segments !== READS * SEGS) throw new Error(`the TAP read gave ${segments} segments`);

// ---- receiver: the sender's datagrams, whole, in GRO messages ----
const slot = (HEADROOM + SEGS * (8 + HDR + MSS) + 63) & ~63;
const rxSlab = Buffer.alloc(slot * READS);
const dgrams = new DatagramBatch(segments, rxSlab);
encapBatch(dpTx, vTx, frames, sends, 0);
for (let k = 0; k < READS; k++) {
  let at = k * slot + HEADROOM;
  for (let s = 0; s < SEGS; s++) {
    const j = k * SEGS + s, d = dgrams.count++;
    rxSlab.writeUInt32BE(0x08000000, at); rxSlab.writeUInt32BE(1 << 8, at + 4);
    const len = 8 + copyFrame(frames, j, rxSlab, at + 8);
    dgrams.off[d] = at; dgrams.len[d] = len;
    dgrams.srcAddr.set(PEER, d * 4); dgrams.srcPort[d] = sends.srcPort[j]; dgrams.ecn[d] = 0;
    dgrams.follows[d] = s > 0 ? 1 : 0;
    at += len;
  }
}
const dpRx = new Datapath();
dpRx.addVni(1, { port: 8472 });
const inner = new FrameBatch(segments);
const plan = new TapWritePlan(segments, true, 1450, true);

// User CPU time (getrusage), not wall time: the machine is shared, and a
// process that waits for a CPU accrues none. Best of ROUNDS, after a warm-up.
const ROUNDS = 7, CALLS = process.env.WEFT_BENCH_QUICK === '1' ? 2000 : 10_000;
function userNsPerSegment(fn: () => void): number {
  for (let i = 0; i < CALLS; i++) fn();
  let best = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.cpuUsage().user;
    for (let i = 0; i < CALLS; i++) fn();
    best = Math.min(best, ((process.cpuUsage().user - t0) * 1000) / (CALLS * segments));
  }
  return best;
}
// The checksums alone, as the two sides make them: the payload sums of the
// cut (no copy, as with tails) and the verifying sums of the TAP write. What
// is left of each side's figure is its JavaScript.
const sliceSums = new Uint32Array(SEGS);
const sumOffs = new Int32Array(segments), sumLens = new Int32Array(segments), rxSums = new Uint32Array(segments);
// Each inner frame's IPv4 header and payload: past the VXLAN and Ethernet headers.
for (let i = 0; i < segments; i++) { sumOffs[i] = dgrams.off[i] + 8 + 14; sumLens[i] = dgrams.len[i] - 8 - 14; }
const cases: [string, () => void][] = [
  [`sender: TAP read + encap (${segments} segments a call)`, () => { tap.fill(READS, frames, stats); encapBatch(dpTx, vTx, frames, sends, 0); }],
  ['  of it the TAP read', () => { tap.fill(READS, frames, stats); }],
  ['  of it the payload checksums', () => {
    for (let k = 0; k < READS; k++) {
      const f = tap.rawOffs[k] + VNET_HDR_LEN;
      csumCopySlicesImpl()(tap.slab, f, HDR, f + HDR, SEGS * MSS, MSS, tap.slab, tap.splitBase, 8 + HDR, sliceSums, false);
    }
  }],
  [`receiver: decap + TAP write plan (${segments})`, () => { decapBatch(dpRx, dgrams, inner, 0); planTapWrite(plan, inner, stats); }],
  ['  of it decap', () => { decapBatch(dpRx, dgrams, inner, 0); }],
  ['  of it the checksums verified', () => { csumRangesImpl()(rxSlab, sumOffs, sumLens, segments, rxSums); }],
];
for (const [name, fn] of cases) {
  const ns = userNsPerSegment(fn);
  // ns per segment of MSS payload bytes = s per 10^9 payload bytes × 10^9 / MSS.
  process.stdout.write(`pipeline ${name.padEnd(50)} ${ns.toFixed(1).padStart(7)} ns/segment  ${(ns / MSS).toFixed(3)} s/GB (user CPU, best of ${ROUNDS})\n`);
}
// A segment dropped, or a super-frame not rebuilt, would make the numbers meaningless.
if (sends.count !== segments || inner.count !== segments || plan.c.count !== READS || plan.c.csumBad !== 0) {
  throw new Error(`sent ${sends.count}, decapped ${inner.count}, written as ${plan.c.count} frames (${plan.c.csumBad} bad checksums)`);
}
