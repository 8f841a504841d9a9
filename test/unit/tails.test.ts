// Segments with tails: a TCP super-frame cut into headers only, each
// segment's payload left where the TAP read put it, for a gathering send
// (io/tap-read.ts segmentTcp(…, tails), FrameBatch.tailOff/tailLen,
// SendList tails, UdpSocket.sendGso). What goes on the wire, and what
// the ICMP answer quotes, must be exactly what copying would have made.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { segmentTcp, TapReadSlab } from '../../src/io/tap-read.js';
import { newTapStats } from '../../src/io/tap.js';
import { writeVnet, VNET_HDR_LEN, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_F_NEEDS_CSUM } from '../../src/io/vnet.js';
import { Datapath } from '../../src/datapath/datapath.js';
import { encapBatch } from '../../src/datapath/encap.js';
import { FrameBatch, SendList, HEADROOM, copyFrame } from '../../src/io/batch.js';
import { answerTooBig, newReplyBatch } from '../../src/datapath/pmtu.js';
import { parseMac, writeMac } from '../../src/wire/mac.js';
import { sum16, fold, pseudoSumV4 } from '../../src/wire/checksum.js';

const DST = '02:00:0a:f4:02:01';

/** An IPv4/TCP super-frame with timestamps, DF set, `payload` bytes of a pattern. */
function superFrame(payload: number, seed: number): Buffer {
  const f = Buffer.alloc(14 + 20 + 32 + payload);
  writeMac(f, 0, parseMac(DST));
  writeMac(f, 6, parseMac('02:00:0a:f4:01:01'));
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45; f.writeUInt16BE(Math.min(0xffff, 20 + 32 + payload), 16); f.writeUInt16BE(0x4000, 20); f[22] = 64; f[23] = 6;
  f.writeUInt32BE(0x0af40001, 26); f.writeUInt32BE(0x0af40202, 30);
  f.writeUInt16BE(40000, 34); f.writeUInt16BE(5201, 36); f.writeUInt32BE(0x10000000 + seed, 38); f.writeUInt32BE(7, 42);
  f[46] = 8 << 4; f[47] = 0x18; f.writeUInt16BE(500, 48);
  for (let i = 66; i < f.length; i++) f[i] = (i * 31 + seed) & 0xff;
  return f;
}

/** Cuts `f` both ways; returns the copied segments and the split ones (as a FrameBatch over one slab). */
function cutBothWays(f: Buffer, mss: number): { copied: Buffer[]; split: FrameBatch } {
  const copyDst = Buffer.alloc(200_000);
  const copied: Buffer[] = [];
  segmentTcp(f, 0, f.length, mss, false, copyDst, 0, copyDst.length, 8, (o, l) => copied.push(Buffer.from(copyDst.subarray(o, o + l))));
  // The split form: the super-frame and the heads share one slab, as in the TAP's.
  const slab = Buffer.alloc(HEADROOM + f.length + 20_000);
  f.copy(slab, HEADROOM);
  const split = new FrameBatch(128, slab);
  const used = segmentTcp(slab, HEADROOM, f.length, mss, false, slab, HEADROOM + f.length, slab.length - HEADROOM - f.length, 8,
    (o, l, to, tl) => split.pushSplit(o, l, to, tl), Infinity, true);
  assert.ok(used > 0);
  return { copied, split };
}

test('tails: each segment put together (headers, then its payload in place) is the copied segment, byte for byte', () => {
  for (const [payload, mss] of [[45 * 1398, 1398], [10_000, 1000], [1399, 1398], [5, 1398], [30_001, 536]]) {
    const f = superFrame(payload, payload & 0xff);
    const { copied, split } = cutBothWays(f, mss);
    assert.is(split.count, copied.length);
    for (let i = 0; i < split.count; i++) {
      assert.is(split.tailLen[i], copied[i].length - 66, `segment ${i}: the tail is the payload`);
      assert.is(split.len[i], copied[i].length);
      const whole = Buffer.alloc(split.len[i]);
      copyFrame(split, i, whole, 0);
      assert.ok(whole.equals(copied[i]), `payload ${payload}, mss ${mss}, segment ${i}`);
      const l4len = whole.length - 34;
      assert.is(fold(sum16(whole, 34, l4len, pseudoSumV4(whole, 26, 30, 6, l4len))), 0xffff, 'TCP checksum over the whole segment');
    }
    // Heads only in the split area: 8 + 66 bytes a segment, not 8 + 66 + mss.
    if (split.count > 1) assert.is(split.off[1] - split.off[0], 8 + 66);
  }
});

test('tails: encap carries them into the send list; each datagram is the VXLAN header, the head, then the tail', () => {
  const dp = new Datapath();
  const v = dp.addVni(1, { port: 8472 });
  dp.addStatic(v, parseMac(DST), '198.18.0.2');
  const f = superFrame(20 * 1398, 3);
  const { copied, split } = cutBothWays(f, 1398);
  const sends = new SendList(256);
  encapBatch(dp, v, split, sends, 0);
  assert.is(sends.count, copied.length);
  for (let j = 0; j < sends.count; j++) {
    const b = split.buf, off = sends.off[j], len = sends.len[j], tail = sends.tailLen[j];
    assert.is(tail, split.tailLen[j]);
    const dgram = Buffer.concat([b.subarray(off, off + len - tail), b.subarray(sends.tailOff[j], sends.tailOff[j] + tail)]);
    assert.is(dgram[0], 0x08);
    assert.is(dgram.readUIntBE(4, 3), 1);
    assert.ok(dgram.subarray(8).equals(copied[j]), `datagram ${j}`);
  }
});

test('tails: a split segment too big for the VNI gets the same ICMP answer as the whole one would', () => {
  const f = superFrame(3 * 1398, 9);
  const { copied, split } = cutBothWays(f, 1398);
  const answer = (frames: FrameBatch): Buffer => {
    const dp = new Datapath({ icmpRate: 100 });
    const v = dp.addVni(1, { port: 8472, mtu: 1300 });
    dp.addStatic(v, parseMac(DST), '198.18.0.2');
    const sends = new SendList(64), out = newReplyBatch();
    encapBatch(dp, v, frames, sends, 0);
    assert.is(sends.count, 0, 'all too big at MTU 1300');
    assert.is(answerTooBig(dp, v, frames, sends, out, 0), frames.count);
    return Buffer.from(out.buf.subarray(out.off[0], out.off[0] + out.len[0]));
  };
  const whole = new FrameBatch(8, Buffer.alloc(4 * 2000));
  copied.forEach((s, i) => { s.copy(whole.buf, i * 2000 + HEADROOM); whole.push(i * 2000 + HEADROOM, s.length); });
  const a = answer(split), b = answer(whole);
  assert.ok(a.length > 14 + 20 + 8 + 28);
  assert.ok(a.equals(b), 'same answer, quoting the same bytes');
});

test('tails: a TAP read\'s later segments follow their first, and encap gives each the port, ECN and VTEP it would get alone', () => {
  const dp = new Datapath();
  const v = dp.addVni(1, { port: 8472 });
  dp.addStatic(v, parseMac(DST), '198.18.0.2');
  dp.addStatic(v, parseMac('02:00:0a:f4:03:01'), '198.18.0.3');
  // Three reads: a super-frame of one flow (ECT(0)), one of another flow to another VTEP, a plain frame of the first.
  const a = superFrame(30 * 1398 + 7, 1), b = superFrame(12 * 1398, 2), plain = superFrame(100, 3);
  a[15] = 2;
  writeMac(b, 0, parseMac('02:00:0a:f4:03:01')); b.writeUInt16BE(40001, 34);
  const tap = new TapReadSlab(3, true, true);
  [a, b, plain].forEach((f, i) => {
    const h = tap.rawOffs[i], super_ = f !== plain;
    writeVnet(tap.slab, h, super_ ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0, super_ ? VIRTIO_NET_HDR_GSO_TCPV4 : 0, 66, super_ ? 1398 : 0, super_ ? 34 : 0, super_ ? 16 : 0);
    f.copy(tap.slab, h + VNET_HDR_LEN);
    tap.rawLens[i] = VNET_HDR_LEN + f.length;
  });
  const frames = new FrameBatch(TapReadSlab.batchFor(3, true));
  assert.is(tap.fill(3, frames, newTapStats()), 31 + 12 + 1);
  const marked = Array.from(frames.follows.subarray(0, frames.count));
  assert.equal(marked, [0, ...Array(30).fill(1), 0, ...Array(11).fill(1), 0], 'every segment but a read\'s first follows');
  const sends = new SendList(256);
  encapBatch(dp, v, frames, sends, 0);
  // Each frame on its own, as encap takes a frame that follows nothing.
  const alone = new SendList(256);
  frames.follows.fill(0);
  encapBatch(dp, v, frames, alone, 0);
  assert.is(sends.count, frames.count);
  assert.is(alone.count, frames.count);
  for (let j = 0; j < sends.count; j++) {
    for (const k of ['off', 'len', 'peer', 'srcPort', 'ecn', 'from', 'tailOff', 'tailLen'] as const) assert.is(sends[k][j], alone[k][j], `${k} of datagram ${j}`);
  }
  assert.is(sends.ecn[0], 2, 'ECT(0) outside, as inside');
  assert.is.not(sends.srcPort[0], sends.srcPort[31], 'two flows, two ports');
  assert.is(sends.srcPort[0], sends.srcPort[43], 'the plain frame of the first flow: its port');
  assert.equal(dp.counters.snapshot().tx_unicast, 2 * frames.count);
});

test.run();
