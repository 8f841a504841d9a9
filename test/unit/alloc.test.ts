// "The hot path allocates nothing per packet", checked with V8's sampling
// heap profiler (node:inspector, HeapProfiler.startSampling, keeping what
// young-generation GCs collected too) on the TAP's two sides as Tap uses
// them: segmentTcp cutting super-frames, and Coalescer (gathering)
// merging a GRO read's segments and passing ACK-sized frames; and on the
// udp backend's stages, alone and between its TUN's offloads. Each check
// first runs a control that does allocate per frame (Buffer#copy, which
// makes a view per call), so a profiler that sees nothing cannot pass it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { segmentTcp, TapReadSlab } from '../../src/io/tap-read.js';
import { Coalescer, GATHER_HEAD, TapWritePlan, planTapWrite } from '../../src/io/tap-write.js';
import { VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, writeVnet } from '../../src/io/vnet.js';
import { newTapStats } from '../../src/io/tap.js';
import { readPcapFrames } from '../../src/io/pcap-read.js';
import { PCAPS } from '../helpers/paths.js';
import { allocatedDuring, leastAllocatedOf3 } from '../helpers/alloc.js';
import { Datapath } from '../../src/datapath/datapath.js';
import { UdpRoutes } from '../../src/datapath/udp-routes.js';
import { tunToWireBatch, wireToTunBatch } from '../../src/datapath/udp-backend.js';
import { newReplyBatch } from '../../src/datapath/pmtu.js';
import { DatagramBatch, FrameBatch, SendList } from '../../src/io/batch.js';
import { ipv4ToNumber } from '../../src/wire/ipv4.js';
import { tcp4, udp4, v4words } from '../helpers/packets.js';

const MSS = 1398;
const ROUNDS = 4000;

/** One GRO read as the socket's slab holds it: the largest super-frame's segments, an ACK-sized frame after every 8th. */
async function groRead(): Promise<{ slab: Buffer; offs: Int32Array; lens: Int32Array; count: number; supers: Buffer[] }> {
  const all = await readPcapFrames(join(PCAPS, 'kernel-v4-a-inner.pcap'));
  const supers = all.filter((f) => f.length > 1464 && f.readUInt16BE(12) === 0x0800 && f[23] === 6).sort((a, b) => b.length - a.length);
  const acks = all.filter((f) => f.length <= 100 && f.readUInt16BE(12) === 0x0800 && f[23] === 6);
  assert.ok(supers.length > 0 && acks.length > 0, 'fixture has TCP super-frames and ACKs');
  const cut = Buffer.alloc(200_000);
  const frames: Buffer[] = [];
  segmentTcp(supers[0], 0, supers[0].length, MSS, false, cut, 0, cut.length, 8, (o, l) => {
    frames.push(Buffer.from(cut.subarray(o, o + l)));
    if (frames.length % 8 === 0) frames.push(acks[0]);
  });
  const slab = Buffer.concat(frames);
  const offs = new Int32Array(frames.length), lens = new Int32Array(frames.length);
  let at = 0;
  frames.forEach((f, i) => { offs[i] = at; lens[i] = f.length; at += f.length; });
  return { slab, offs, lens, count: frames.length, supers };
}

test('the TAP write side (coalescing, gathering) allocates nothing per frame', async () => {
  const r = await groRead();
  const run = (c: Coalescer) => () => {
    for (let k = 0; k < ROUNDS; k++) {
      c.reset();
      c.sumBatch(r.slab, r.offs, r.lens, r.count);
      for (let i = 0; i < r.count; i++) c.add(r.slab, r.offs[i], r.lens[i], c.sums[i]);
      c.flush();
    }
  };
  const copying = new Coalescer(Buffer.alloc(r.count * 1600), r.count, true, 1450);
  const gathering = new Coalescer(Buffer.alloc(r.count * (VNET_HDR_LEN + GATHER_HEAD)), r.count, true, 1450, 65535, true, true);
  // Warm up (the interpreter boxes numbers that optimised code keeps in registers).
  run(copying)(); run(gathering)();
  assert.ok(gathering.count > 1 && gathering.merged > 0, 'segments merged');
  const frames = ROUNDS * r.count;
  const control = allocatedDuring(run(copying));
  assert.ok(control > frames * 16, `control: copying allocates per frame (${control} bytes for ${frames} frames)`);
  const got = leastAllocatedOf3(run(gathering));
  assert.ok(got < frames / 8, `gathering allocated ${got} bytes for ${frames} frames`);
});

test('the TAP read side (segmentation) allocates nothing per segment', async () => {
  const r = await groRead();
  const f = r.supers[0];
  const dst = Buffer.alloc(200_000);
  let segs = 0;
  const emit = (): void => { segs++; };
  const cut = () => {
    for (let k = 0; k < ROUNDS; k++) segmentTcp(f, 0, f.length, MSS, false, dst, 0, dst.length, 8, emit, 64, true);
  };
  cut();
  segs = 0;
  const got = leastAllocatedOf3(cut);
  segs /= 3;
  assert.ok(segs > ROUNDS * 10, `${segs} segments`);
  assert.ok(got < segs / 8, `segmentation allocated ${got} bytes for ${segs} segments`);
});

test('the udp backend\'s two stages (route lookup, TTL patch, allow-list) allocate nothing per packet', () => {
  const dp = new Datapath({ knownSourcesOnly: true, peerCapacity: 256 });
  const be = new UdpRoutes(dp, 8285, 1472);
  for (let k = 1; k < 200; k++) be.tryAdd(ipv4ToNumber(`10.244.${k}.0`), 24, `198.18.${k >> 8}.${k & 255}`);
  const n = 64;
  const pkts = new FrameBatch(n, Buffer.alloc(n * 1600)), sends = new SendList(n), replies = newReplyBatch();
  const dgrams = new DatagramBatch(n, pkts.buf), inner = new FrameBatch(n);
  for (let i = 0; i < n; i++) {
    const p = udp4(1000 + i, 2000, Buffer.alloc(1000), { src: '10.244.7.9', dst: `10.244.${1 + (i % 150)}.3`, ttl: 255 });
    p.copy(pkts.buf, i * 1600);
    pkts.push(i * 1600, p.length);
    dgrams.off[i] = i * 1600; dgrams.len[i] = p.length; dgrams.srcAddr.set(v4words('198.18.0.9'), i * 4);
  }
  dgrams.count = n;
  let views = 0;
  const run = (copy: boolean) => () => {
    for (let k = 0; k < ROUNDS / 8; k++) {
      // TTL back up each round: the stages take one off each way (the checksum is not checked here).
      for (let i = 0; i < n; i++) pkts.buf[i * 1600 + 8] = 255;
      if (copy) for (let i = 0; i < n; i++) views += pkts.buf.subarray(i * 1600, i * 1600 + 1).length;
      tunToWireBatch(be, pkts, sends, replies, 0);
      wireToTunBatch(be, dgrams, inner, replies, 0);
    }
  };
  run(false)(); run(true)();
  const packets = (ROUNDS / 8) * n * 2;
  assert.is(sends.count, n, 'every packet routed');
  assert.is(inner.count, n, 'every datagram delivered');
  const control = allocatedDuring(run(true));
  assert.ok(views > 0 && control > packets * 8, `control: Buffer#subarray allocates per packet (${control} bytes for ${packets} packets)`);
  const got = leastAllocatedOf3(run(false));
  // Below half a byte a packet: the smallest allocation is 16 bytes, so one per packet is 32 times this;
  // what remains is per batch (the allow-list call for a batch's first source boxes its address words).
  assert.ok(got < packets / 2, `the udp backend allocated ${got} bytes for ${packets} packets`);
});

test('the udp backend over its TUN\'s offloads (a super-packet cut into segments with tails and routed; received segments merged) allocates nothing per packet', () => {
  const MTU = 1472, mss = MTU - 40, segs = 45;
  const dp = new Datapath({ knownSourcesOnly: true, peerCapacity: 256 });
  const be = new UdpRoutes(dp, 8285, MTU);
  be.tryAdd(ipv4ToNumber('10.244.3.0'), 24, '198.18.0.3');
  // TUN → wire: one read, a TCPv4 super-packet, as Tun reads it (tails, for the gathering socket).
  const rx = new TapReadSlab(1, true, true, 0), stats = newTapStats();
  const sp = tcp4(40000, 5201, Buffer.alloc(segs * mss, 7), {}, { src: '10.244.1.5', dst: '10.244.3.9' }, 'partial');
  writeVnet(rx.slab, rx.rawOffs[0], VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 40, mss, 20, 16);
  sp.copy(rx.slab, rx.rawOffs[0] + VNET_HDR_LEN);
  rx.rawLens[0] = VNET_HDR_LEN + sp.length;
  const pkts = new FrameBatch(TapReadSlab.batchFor(1, true)), sends = new SendList(pkts.capacity), replies = newReplyBatch();
  // wire → TUN: the same segments as one GRO read leaves them in the socket's slab, merged as Tun writes them.
  const pristine = Buffer.alloc(segs * MTU);
  const dgrams = new DatagramBatch(segs, Buffer.alloc(pristine.length)), inner = new FrameBatch(segs);
  segmentTcp(sp, 0, sp.length, mss, false, pristine, 0, pristine.length, 0, (o, l) => {
    const k = dgrams.count++;
    dgrams.off[k] = o; dgrams.len[k] = l; dgrams.srcAddr.set(v4words('198.18.0.3'), k * 4);
  }, 64, false, 0);
  const plan = new TapWritePlan(segs, true, MTU, true, 0);
  let views = 0;
  const run = (copy: boolean) => () => {
    for (let k = 0; k < ROUNDS / 8; k++) {
      rx.fill(1, pkts, stats);
      tunToWireBatch(be, pkts, sends, replies, 0);
      if (copy) for (let i = 0; i < pkts.count; i++) views += pkts.buf.subarray(pkts.off[i], pkts.off[i] + 1).length;
      // The TTL back (wireToTunBatch takes one off): a copy per batch, not per packet.
      dgrams.buf.set(pristine);
      wireToTunBatch(be, dgrams, inner, replies, 0);
      planTapWrite(plan, inner, stats);
    }
  };
  run(false)(); run(true)();
  assert.is(sends.count, segs, 'every segment routed');
  assert.ok(sends.tailLen[0] > 0, 'segments sent with their payload left in place');
  assert.is(inner.count, segs, 'every datagram delivered');
  assert.is(plan.c.count, 1, 'the segments merged into one super-packet');
  const packets = (ROUNDS / 8) * segs * 2;
  const control = allocatedDuring(run(true));
  assert.ok(views > 0 && control > packets * 4, `control: Buffer#subarray allocates per packet (${control} bytes for ${packets} packets)`);
  const got = leastAllocatedOf3(run(false));
  assert.ok(got < packets / 2, `the udp backend with offloads allocated ${got} bytes for ${packets} packets`);
});

test.run();
