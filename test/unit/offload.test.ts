// TSO segmentation (TAP read side) and TCP/UDP coalescing (TAP write side), on
// the kernel's own TCP super-frames from the fixtures; and the same code over
// a TUN's bare IP packets (no link header: l2 0), as the udp backend runs it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { segmentTcp, segmentUdp, completeChecksum, SEG_BAD } from '../../src/io/tap-read.js';
import { Coalescer, GATHER_HEAD } from '../../src/io/tap-write.js';
import {
  VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4,
  vnetFlags, vnetGsoType, vnetHdrLen, vnetGsoSize, vnetCsumStart, vnetCsumOffset,
} from '../../src/io/vnet.js';
import { readPcapFrames } from '../../src/io/pcap-read.js';
import { sum16, fold, finish, pseudoSumV4, pseudoSumV6 } from '../../src/wire/checksum.js';
import { useTsChecksums } from '../../src/io/csum.js';
import { PCAPS } from '../helpers/paths.js';
import { eth } from '../helpers/packets.js';

const MSS = 1398;

async function superFrames(): Promise<Buffer[]> {
  const all = await readPcapFrames(join(PCAPS, 'kernel-v4-a-inner.pcap'));
  return all.filter((f) => f.length > 1464 && f.readUInt16BE(12) === 0x0800 && f[23] === 6);
}

function tcpOk(f: Buffer): boolean {
  const ihl = (f[14] & 15) * 4, l4 = 14 + ihl, l4len = f.readUInt16BE(16) - ihl;
  return fold(sum16(f, l4, l4len, pseudoSumV4(f, 26, 30, 6, l4len))) === 0xffff;
}

function segmentAll(f: Buffer, mss = MSS): Buffer[] {
  const dst = Buffer.alloc(200_000);
  const segs: Buffer[] = [];
  const used = segmentTcp(f, 0, f.length, mss, false, dst, 0, dst.length, 8, (o, l) => segs.push(Buffer.from(dst.subarray(o, o + l))));
  assert.ok(used > 0);
  return segs;
}

test('a kernel TCP super-frame is cut into MSS-sized segments with valid headers', async () => {
  const frames = await superFrames();
  assert.ok(frames.length >= 3, `${frames.length} super-frames in the fixture`);
  for (const f of frames) {
    const segs = segmentAll(f);
    const hdr = 14 + 20 + (f[14 + 20 + 12] >>> 4) * 4;
    assert.is(segs.length, Math.ceil((f.length - hdr) / MSS));
    let payload = Buffer.alloc(0);
    const seq0 = f.readUInt32BE(38);
    segs.forEach((s, k) => {
      assert.ok(s.length <= hdr + MSS);
      assert.is(s.readUInt16BE(16), s.length - 14, 'IPv4 total length');
      assert.is(fold(sum16(s, 14, 20)), 0xffff, 'IPv4 header checksum');
      assert.is(s.readUInt16BE(18), (f.readUInt16BE(18) + k) & 0xffff, 'IP ID');
      assert.is(s.readUInt32BE(38), (seq0 + k * MSS) >>> 0, 'sequence');
      assert.ok(tcpOk(s), `segment ${k} TCP checksum`);
      const psh = (s[47] & 0x08) !== 0;
      if (k < segs.length - 1) assert.not.ok(psh, 'PSH only on the last');
      payload = Buffer.concat([payload, s.subarray(hdr)]);
    });
    assert.ok(payload.equals(f.subarray(hdr)), 'payload survives');
  }
});

test('segments are laid out back to back with the gap in front: one UDP GSO send after encap', async () => {
  const [f] = await superFrames();
  const dst = Buffer.alloc(200_000);
  const offs: number[] = [], lens: number[] = [];
  segmentTcp(f, 0, f.length, MSS, false, dst, 100, dst.length - 100, 8, (o, l) => { offs.push(o); lens.push(l); });
  for (let k = 1; k < offs.length; k++) assert.is(offs[k] - 8, offs[k - 1] + lens[k - 1]);
  assert.is(offs[0], 108);
  for (let k = 0; k < lens.length - 1; k++) assert.is(lens[k], lens[0]);
});

test('non-TCP or malformed frames are refused, not cut', () => {
  const dst = Buffer.alloc(10_000);
  const noop = () => {};
  assert.is(segmentTcp(eth({ type: 0x0806, payload: 28 }), 0, 42, MSS, false, dst, 0, dst.length, 8, noop), SEG_BAD);
  assert.is(segmentTcp(Buffer.alloc(10), 0, 10, MSS, false, dst, 0, dst.length, 8, noop), SEG_BAD);
  const udp = eth({ payload: Buffer.from('4500001c000000004011000000000000000000000000000000000000', 'hex') });
  assert.is(segmentTcp(udp, 0, udp.length, MSS, false, dst, 0, dst.length, 8, noop), SEG_BAD);
});

test('coalescing the segments rebuilds the super-frame with a TCPv4 GSO header', async () => {
  for (const f of await superFrames()) {
    const segs = segmentAll(f);
    const c = new Coalescer(Buffer.alloc(200_000), 128);
    for (const s of segs) assert.ok(c.add(s, 0, s.length));
    c.flush();
    assert.is(c.count, 1);
    assert.is(c.merged, segs.length - 1);
    const h = c.offs[0];
    const out = c.out.subarray(h + VNET_HDR_LEN, h + c.lens[0]);
    assert.is(out.length, f.length);
    assert.is(vnetFlags(c.out, h), VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert.is(vnetGsoType(c.out, h), VIRTIO_NET_HDR_GSO_TCPV4);
    const hdr = 14 + 20 + (f[14 + 20 + 12] >>> 4) * 4;
    assert.is(vnetHdrLen(c.out, h), hdr);
    assert.is(vnetGsoSize(c.out, h), MSS);
    assert.is(vnetCsumStart(c.out, h), 34);
    assert.is(vnetCsumOffset(c.out, h), 16);
    // Same bytes as the original but for the IP ID/checksum (from the first segment) and the TCP checksum (partial).
    assert.ok(out.subarray(hdr).equals(f.subarray(hdr)));
    assert.ok(out.subarray(0, 18).equals(f.subarray(0, 18)));
    assert.is(fold(sum16(out, 14, 20)), 0xffff);
    // Completing the checksum as the kernel will gives a valid segment.
    const copy = Buffer.from(out);
    assert.ok(completeChecksum(copy, 0, copy.length, 34, 16));
    assert.ok(tcpOk(copy));
  }
});

test('coalescing stops at a gap in the sequence, another flow, or a non-TCP frame, and keeps order', async () => {
  const f = (await superFrames()).find((x) => x.length > 8 * MSS)!;
  const segs = segmentAll(f);
  assert.ok(segs.length >= 6);
  const hdr = 14 + 20 + (f[14 + 20 + 12] >>> 4) * 4;
  const arp = eth({ type: 0x0806, payload: 28 });
  const c = new Coalescer(Buffer.alloc(200_000), 128);
  // s0 s1 | (s3: gap) | arp | s4 s5
  for (const s of [segs[0], segs[1], segs[3], arp, segs[4], segs[5]]) c.add(s, 0, s.length);
  c.flush();
  assert.is(c.count, 4);
  const lens = Array.from(c.lens.subarray(0, 4)).map((l) => l - VNET_HDR_LEN);
  assert.equal(lens, [segs[0].length + segs[1].length - hdr, segs[3].length, arp.length, segs[4].length + segs[5].length - hdr]);
  // The ARP frame goes through untouched with an all-zero header.
  const h = c.offs[2];
  assert.ok(c.out.subarray(h, h + VNET_HDR_LEN).equals(Buffer.alloc(VNET_HDR_LEN)));
  assert.ok(c.out.subarray(h + VNET_HDR_LEN, h + c.lens[2]).equals(arp));
});

/** Output frame i of a coalescer, virtio-net header first: its head, then its pieces of `src` in gather mode. */
function outFrame(c: Coalescer, i: number, src: Buffer): Buffer {
  const parts = [c.out.subarray(c.offs[i], c.offs[i] + c.lens[i])];
  for (let j = c.pStart[i]; j < c.pStart[i + 1]; j++) parts.push(src.subarray(c.pOffs[j], c.pOffs[j] + c.pLens[j]));
  return Buffer.concat(parts);
}

test('gather mode lists merged payloads as pieces of the input buffer: the same frames as copying, in fewer bytes of out', async () => {
  const f = (await superFrames()).find((x) => x.length > 8 * MSS)!;
  const segs = segmentAll(f);
  const arp = eth({ type: 0x0806, payload: 28 });
  // All frames in one input buffer, as the socket's slab holds them: s0 s1 s2 | s4 (gap) | arp | s5 s6…
  const order = [segs[0], segs[1], segs[2], segs[4], arp, ...segs.slice(5)];
  const src = Buffer.concat(order);
  const copy = new Coalescer(Buffer.alloc(200_000), 128);
  const gather = new Coalescer(Buffer.alloc(200_000), 128, true, 65535, 65535, false, true);
  for (const c of [copy, gather]) {
    c.reset();
    let at = 0;
    for (const s of order) { assert.ok(c.add(src, at, s.length)); at += s.length; }
    c.flush();
  }
  assert.is(gather.count, copy.count);
  assert.is(gather.count, 4);
  for (let i = 0; i < copy.count; i++) assert.ok(outFrame(gather, i, src).equals(outFrame(copy, i, src)), `frame ${i}`);
  // Pieces: each frame's rest past its head (but the ARP frame's, all head), then its merged payloads.
  assert.equal([0, 1, 2, 3].map((i) => gather.pStart[i + 1] - gather.pStart[i]), [3, 1, 0, order.length - 5]);
  for (let i = 0; i < gather.count; i++) assert.ok(gather.lens[i] <= VNET_HDR_LEN + GATHER_HEAD, `frame ${i}: only its head in out`);
  // What copying put into out and gathering left in place: exactly the pieces.
  let pieceBytes = 0;
  for (let j = 0; j < gather.pCount; j++) pieceBytes += gather.pLens[j];
  assert.ok(pieceBytes > 0);
  assert.is(gather.used + pieceBytes, copy.used);
  // A segment from another buffer is never listed as a piece of this one: it starts a frame of its own.
  gather.reset();
  gather.add(src, 0, segs[0].length);
  assert.ok(gather.add(Buffer.from(segs[1]), 0, segs[1].length));
  gather.flush();
  assert.is(gather.count, 2);
});

test('gathering, a coalescer whose piece list is full takes no more frames (rather than list pieces past its end)', async () => {
  const f = (await superFrames()).find((x) => x.length > 8 * MSS)!;
  const segs = segmentAll(f);
  const src = Buffer.concat(segs);
  const c = new Coalescer(Buffer.alloc(4 * (VNET_HDR_LEN + GATHER_HEAD)), 4, true, 65535, 65535, false, true);
  let at = 0, taken = 0;
  for (const s of segs) {
    if (!c.add(src, at, s.length)) break;
    at += s.length;
    taken++;
  }
  c.flush();
  // Four pieces: the first segment's rest and three merged payloads; the fifth segment is refused.
  assert.is(taken, 4);
  assert.is(c.pCount, 4);
  assert.is(c.pStart[c.count], 4);
  assert.ok(outFrame(c, 0, src).subarray(VNET_HDR_LEN).length === segs.slice(0, 4).reduce((n, s) => n + s.length, 0) - 3 * (14 + 20 + (segs[0][46] >>> 4) * 4));
});

/** Makes an IPv4 TCP segment's header and TCP checksums valid again after an edit. */
function refresh(seg: Buffer): Buffer {
  const ihl = (seg[14] & 15) * 4, l4 = 14 + ihl, l4len = seg.readUInt16BE(16) - ihl;
  seg.writeUInt16BE(0, 24);
  seg.writeUInt16BE(finish(sum16(seg, 14, ihl)), 24);
  seg.writeUInt16BE(0, l4 + 16);
  seg.writeUInt16BE(finish(sum16(seg, l4, l4len, pseudoSumV4(seg, 26, 30, 6, l4len))), l4 + 16);
  return seg;
}

test('coalescing refuses a segment that differs in any header byte that must match, and takes one that differs only where segments may', async () => {
  const f = (await superFrames())[0];
  const segs = segmentAll(f);
  const ihl = 20, l4 = 14 + ihl, thl = (f[l4 + 12] >>> 4) * 4, hdr = l4 + thl;
  // Bytes a later segment may change: IP total length, ID and checksum; TCP sequence and checksum,
  // and the urgent pointer, meaningless without URG (which is never merged; Linux's GRO ignores it too).
  const free = new Set([16, 17, 18, 19, 24, 25, l4 + 4, l4 + 5, l4 + 6, l4 + 7, l4 + 16, l4 + 17, l4 + 18, l4 + 19]);
  let refused = 0;
  for (const gather of [false, true]) {
    for (let at = 0; at < hdr; at++) {
      if (free.has(at)) continue;
      const second = Buffer.from(segs[1]);
      second[at] ^= at === l4 + 13 ? 0x10 : 0x01;   // ACK flag for the flags byte (PSH may differ)
      // Checksums made valid again, so that only the header comparison can refuse it.
      if (at !== 24 && at !== 25 && at !== l4 + 16 && at !== l4 + 17) refresh(second);
      const src = Buffer.concat([segs[0], second]);
      const c = new Coalescer(Buffer.alloc(20_000), 8, true, 65535, 65535, false, gather);
      c.add(src, 0, segs[0].length);
      c.add(src, segs[0].length, second.length);
      c.flush();
      assert.is(c.count, 2, `byte ${at} differs (gather ${gather}): not merged`);
      refused++;
    }
    const second = Buffer.from(segs[1]);
    for (const at of free) second[at] ^= 0x5a;
    second.writeUInt16BE(segs[1].readUInt16BE(16), 16);                 // the length must still be right
    second.writeUInt32BE(segs[1].readUInt32BE(l4 + 4), l4 + 4);          // and the sequence continue
    second[l4 + 13] |= 0x08;                                             // PSH on the later one is fine
    refresh(second);                                                     // with checksums that verify
    const src = Buffer.concat([segs[0], second]);
    const c = new Coalescer(Buffer.alloc(20_000), 8, true, 65535, 65535, false, gather);
    c.add(src, 0, segs[0].length);
    c.add(src, segs[0].length, second.length);
    c.flush();
    assert.is(c.count, 1, `gather ${gather}: only free fields differ → merged`);
  }
  assert.ok(refused > 2 * 50);
});

/** An IPv4/UDP super-frame as a USO-capable TAP hands it over: lengths cover everything. */
function udpSuper(payload: number): Buffer {
  const f = Buffer.alloc(14 + 20 + 8 + payload);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45; f.writeUInt16BE(20 + 8 + payload > 0xffff ? 0xffff : 20 + 8 + payload, 16); f.writeUInt16BE(77, 18); f[22] = 64; f[23] = 17;
  f.writeUInt32BE(0x0af40001, 26); f.writeUInt32BE(0x0af40002, 30);
  f.writeUInt16BE(40000, 34); f.writeUInt16BE(5201, 36); f.writeUInt16BE(8 + payload, 38);
  for (let i = 42; i < f.length; i++) f[i] = (i * 7) & 0xff;
  return f;
}

function udpOk(f: Buffer): boolean {
  const l4len = f.readUInt16BE(38);
  return fold(sum16(f, 34, l4len, pseudoSumV4(f, 26, 30, 17, l4len))) === 0xffff;
}

test('a UDP super-frame (USO) is cut into datagrams with their own lengths and checksums', () => {
  const f = udpSuper(64 * 10 + 17);
  const dst = Buffer.alloc(10_000);
  const segs: Buffer[] = [];
  assert.ok(segmentUdp(f, 0, f.length, 64, false, dst, 0, dst.length, 8, (o, l) => segs.push(Buffer.from(dst.subarray(o, o + l)))) > 0);
  assert.is(segs.length, 11);
  segs.forEach((s, k) => {
    const plen = k < 10 ? 64 : 17;
    assert.is(s.length, 42 + plen);
    assert.is(s.readUInt16BE(16), 28 + plen);
    assert.is(s.readUInt16BE(38), 8 + plen);
    assert.is(s.readUInt16BE(18), 77 + k);
    assert.is(fold(sum16(s, 14, 20)), 0xffff);
    assert.ok(udpOk(s), `datagram ${k}`);
    assert.ok(s.subarray(42).equals(f.subarray(42 + 64 * k, 42 + 64 * k + plen)));
  });
  // More than the kernel's 64 segments: refused.
  const big = udpSuper(65 * 10);
  assert.is(segmentUdp(big, 0, big.length, 10, false, dst, 0, dst.length, 8, () => {}), SEG_BAD);
});

test('a run of same-size UDP datagrams of one flow is merged into one USO frame; other flows are not', () => {
  const f = udpSuper(64 * 5);
  const dst = Buffer.alloc(10_000);
  const segs: Buffer[] = [];
  segmentUdp(f, 0, f.length, 64, false, dst, 0, dst.length, 8, (o, l) => segs.push(Buffer.from(dst.subarray(o, o + l))));
  const other = Buffer.from(segs[0]);
  other.writeUInt16BE(40001, 34); // another source port: another flow
  const c = new Coalescer(Buffer.alloc(100_000), 64, true, 1450, 65535, true);
  for (const s of [...segs, other]) c.add(s, 0, s.length);
  c.flush();
  assert.is(c.count, 2);
  assert.is(c.udpFrames, 1);
  const h = c.offs[0];
  assert.is(vnetFlags(c.out, h), VIRTIO_NET_HDR_F_NEEDS_CSUM);
  assert.is(vnetGsoType(c.out, h), VIRTIO_NET_HDR_GSO_UDP_L4);
  assert.is(vnetHdrLen(c.out, h), 42);
  assert.is(vnetGsoSize(c.out, h), 64);
  assert.is(vnetCsumOffset(c.out, h), 6);
  const out = Buffer.from(c.out.subarray(h + VNET_HDR_LEN, h + c.lens[0]));
  assert.ok(out.subarray(42).equals(f.subarray(42)));
  assert.is(out.readUInt16BE(38), 8 + 64 * 5);
  assert.ok(completeChecksum(out, 0, out.length, 34, 6));
  assert.ok(udpOk(out));
  // Without USO support the same datagrams go one by one.
  const plain = new Coalescer(Buffer.alloc(100_000), 64, true, 1450);
  for (const s of segs) plain.add(s, 0, s.length);
  plain.flush();
  assert.is(plain.count, segs.length);
});

/** A TCP (ACK only) or UDP super-frame that segments and merges back: IPv4 without options or IPv6. */
function plainSuper(v6: boolean, proto: 6 | 17, payload: number): Buffer {
  const ipHdr = v6 ? 40 : 20, l4Hdr = proto === 6 ? 20 : 8, l4 = 14 + ipHdr;
  const f = Buffer.alloc(l4 + l4Hdr + payload);
  f.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  for (let i = 0; i < 12; i++) f[i] = 0x02 + i;
  if (v6) {
    f[14] = 0x60; f[20] = proto; f[21] = 64; f.writeUInt16BE(l4Hdr + payload, 18);
    for (let i = 22; i < 54; i++) f[i] = i;
  } else {
    f[14] = 0x45; f.writeUInt16BE(ipHdr + l4Hdr + payload, 16); f[20] = 0x40; f[22] = 64; f[23] = proto;
    f.writeUInt32BE(0x0af40001, 26); f.writeUInt32BE(0x0af40002, 30);
  }
  f.writeUInt16BE(40000, l4); f.writeUInt16BE(5201, l4 + 2);
  if (proto === 6) { f.writeUInt32BE(1000, l4 + 4); f.writeUInt32BE(77, l4 + 8); f[l4 + 12] = 0x50; f[l4 + 13] = 0x10; f.writeUInt16BE(500, l4 + 14); } else f.writeUInt16BE(8 + payload, l4 + 4);
  for (let i = l4 + l4Hdr; i < f.length; i++) f[i] = (i * 13 + (i >>> 8)) & 0xff;
  return f;
}

test('a segment whose checksum does not verify is not merged: it goes up as it came, for the host to drop', () => {
  const dst = Buffer.alloc(100_000);
  let cases = 0;
  for (const v6 of [false, true]) {
    for (const proto of [6, 17] as const) {
      const l4 = v6 ? 54 : 34, csumAt = l4 + (proto === 6 ? 16 : 6);
      const mss = proto === 6 ? 1398 : 1000;
      const f = plainSuper(v6, proto, mss * 6);
      const clean: Buffer[] = [];
      const cut = proto === 6 ? segmentTcp : segmentUdp;
      assert.ok(cut(f, 0, f.length, mss, v6, dst, 0, dst.length, 8, (o, l) => clean.push(Buffer.from(dst.subarray(o, o + l)))) > 0);
      assert.is(clean.length, 6);
      const partial = (x: Buffer): Buffer => {
        const l4len = x.length - l4;
        x.writeUInt16BE(fold(v6 ? pseudoSumV6(x, 22, 38, proto, l4len) : pseudoSumV4(x, 26, 30, proto, l4len)), csumAt);
        return x;
      };
      // [segments as sent, which are damaged, the frames expected (segment index ranges)]
      const variants: [string, Buffer[], number[], number[][]][] = [
        ['clean', clean, [], [[0, 5]]],
        ['a payload byte of the 3rd', clean.map((x, i) => { const y = Buffer.from(x); if (i === 2) y[y.length - 5] ^= 0x20; return y; }), [2], [[0, 1], [2, 2], [3, 5]]],
        ['a payload byte of the 1st', clean.map((x, i) => { const y = Buffer.from(x); if (i === 0) y[l4 + 30] ^= 0x01; return y; }), [0], [[0, 0], [1, 5]]],
        ['the checksum field of the 5th', clean.map((x, i) => { const y = Buffer.from(x); if (i === 4) y[csumAt + 1] ^= 0x04; return y; }), [4], [[0, 3], [4, 4], [5, 5]]],
        ['nothing: partial checksums (a Linux peer over veth)', clean.map((x) => partial(Buffer.from(x))), [], [[0, 5]]],
      ];
      if (!v6) {
        variants.push(['the IPv4 header checksum of the 2nd', clean.map((x, i) => { const y = Buffer.from(x); if (i === 1) y[25] ^= 0x80; return y; }), [1], [[0, 0], [1, 1], [2, 5]]]);
        variants.push(['the IPv4 header checksum of the 2nd, partial L4', clean.map((x, i) => { const y = partial(Buffer.from(x)); if (i === 1) y[25] ^= 0x80; return y; }), [1], [[0, 0], [1, 1], [2, 5]]]);
        if (proto === 17) variants.push(['nothing: no UDP checksum (IPv4)', clean.map((x) => { const y = Buffer.from(x); y.writeUInt16BE(0, csumAt); return y; }), [], [[0, 5]]]);
      }
      for (const [what, segs, bad, runs] of variants) {
        const src = Buffer.concat(segs);
        const offs = new Int32Array(segs.length), lens = new Int32Array(segs.length);
        segs.forEach((x, i) => { offs[i] = i === 0 ? 0 : offs[i - 1] + segs[i - 1].length; lens[i] = x.length; });
        for (const gather of [false, true]) {
          for (const batched of [false, true]) {
            const label = `v6 ${v6}, proto ${proto}, damaged: ${what}, gather ${gather}, sums ${batched ? 'by batch' : 'one by one'}`;
            const c = new Coalescer(Buffer.alloc(100_000), 64, true, 1500, 65535, true, gather);
            if (batched) c.sumBatch(src, offs, lens, segs.length);
            segs.forEach((x, i) => assert.ok(c.add(src, offs[i], lens[i], batched ? c.sums[i] : -1)));
            c.flush();
            assert.is(c.count, runs.length, label);
            assert.is(c.csumBad, bad.length, label);
            runs.forEach(([a, z], k) => {
              const got = outFrame(c, k, src);
              if (bad.includes(a)) {
                // As it came, alone (no GSO), behind an all-zero header; only a partial
                // L4 checksum is still marked for completion (the host then drops the
                // frame for its IPv4 header).
                if (what.includes('partial')) assert.is(got[0], VIRTIO_NET_HDR_F_NEEDS_CSUM, label);
                else assert.ok(got.subarray(0, VNET_HDR_LEN).equals(Buffer.alloc(VNET_HDR_LEN)), label);
                assert.is(got[1], 0, label);
                assert.ok(got.subarray(VNET_HDR_LEN).equals(segs[a]), label);
                return;
              }
              assert.is(got[0], VIRTIO_NET_HDR_F_NEEDS_CSUM, label);
              assert.is(got.length - VNET_HDR_LEN, segs.slice(a, z + 1).reduce((n, x) => n + x.length, 0) - (z - a) * (l4 + (proto === 6 ? 20 : 8)), label);
            });
            cases++;
          }
        }
      }
    }
  }
  assert.ok(cases >= 4 * 5 * 4);
});

/** A random TCP or UDP super-frame: IPv4 (with or without options) or IPv6, odd sizes, any flags. */
function randomSuper(rand: () => number, v6: boolean, proto: 6 | 17): Buffer {
  const ipHdr = v6 ? 40 : 20 + 4 * Math.floor(rand() * 3);
  const l4Hdr = proto === 17 ? 8 : 20 + 4 * Math.floor(rand() * 4);
  const payload = 1 + Math.floor(rand() * 30_000);
  const f = Buffer.alloc(14 + ipHdr + l4Hdr + payload);
  for (let i = 0; i < f.length; i++) f[i] = Math.floor(rand() * 256);
  f.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  const l4 = 14 + ipHdr;
  if (v6) { f[14] = 0x60; f[20] = proto; f.writeUInt16BE(l4Hdr + payload, 18); } else { f[14] = 0x40 | (ipHdr / 4); f[23] = proto; f.writeUInt16BE(ipHdr + l4Hdr + payload, 16); f[20] &= 0x40; f[21] = 0; }
  if (proto === 6) f[l4 + 12] = (l4Hdr / 4) << 4;
  else f.writeUInt16BE(8 + payload, l4 + 4);
  return f;
}

function l4Verifies(s: Buffer, v6: boolean, proto: number): boolean {
  const ipHdr = v6 ? 40 : (s[14] & 15) * 4, l4 = 14 + ipHdr, l4len = s.length - l4;
  const pseudo = v6 ? pseudoSumV6(s, 22, 38, proto, l4len) : pseudoSumV4(s, 26, 30, proto, l4len);
  return fold(sum16(s, l4, l4len, pseudo)) === 0xffff;
}

test('segmentation: the native slice copy and the TypeScript one agree byte for byte; every segment verifies on its own', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const dstN = Buffer.alloc(400_000), dstT = Buffer.alloc(400_000);
  for (let round = 0; round < 300; round++) {
    const v6 = rand() < 0.4, proto = rand() < 0.3 ? 17 : 6;
    const f = randomSuper(rand, v6, proto);
    const mss = proto === 17 ? 500 + Math.floor(rand() * 1000) : 1 + Math.floor(rand() * 1460) + (rand() < 0.5 ? 536 : 0);
    const cut = proto === 6 ? segmentTcp : segmentUdp;
    const segs: [number, number][] = [];
    useTsChecksums(false);
    const a = cut(f, 0, f.length, mss, v6, dstN, 0, dstN.length, 8, (o, l) => segs.push([o, l]));
    useTsChecksums(true);
    const b = cut(f, 0, f.length, mss, v6, dstT, 0, dstT.length, 8, () => {});
    useTsChecksums(false);
    assert.is(a, b);
    if (a === SEG_BAD) { assert.ok(proto === 17, 'only USO frames of over 64 segments are refused'); continue; }
    assert.ok(dstN.subarray(0, a).equals(dstT.subarray(0, a)), `round ${round}: native and TypeScript differ`);
    const hdr = segs[0][1] - Math.min(mss, f.length - segs[0][1]);
    for (const [o, l] of segs) {
      const s = dstN.subarray(o, o + l);
      assert.ok(l4Verifies(s, v6, proto), `round ${round}: L4 checksum (v6 ${v6}, proto ${proto}, mss ${mss})`);
      if (!v6) assert.is(fold(sum16(s, 14, (s[14] & 15) * 4)), 0xffff, 'IPv4 header checksum');
      assert.ok(s.subarray(0, 12).equals(f.subarray(0, 12)));
    }
    assert.ok(hdr > 0);
  }
});

test('a TUN\'s bare IP super-packets (l2 0) are cut and merged back exactly as the Ethernet frames around them', async () => {
  const cases = [...(await superFrames()).map((f) => ({ f, proto: 6 as const, v6: false, mss: MSS })),
    { f: plainSuper(false, 17, 64 * 9 + 5), proto: 17 as const, v6: false, mss: 64 },
    { f: plainSuper(true, 17, 64 * 9 + 5), proto: 17 as const, v6: true, mss: 64 },
    { f: plainSuper(true, 6, 1200 * 7), proto: 6 as const, v6: true, mss: 1200 }];
  for (const { f, proto, v6, mss } of cases) {
    const bare = f.subarray(14);
    const cut = (src: Buffer, l2: number): Buffer[] => {
      const dst = Buffer.alloc(200_000), out: Buffer[] = [];
      const emit = (o: number, l: number): void => { out.push(Buffer.from(dst.subarray(o, o + l))); };
      const used = proto === 6 ? segmentTcp(src, 0, src.length, mss, v6, dst, 0, dst.length, 8, emit, 64, false, l2)
        : segmentUdp(src, 0, src.length, mss, v6, dst, 0, dst.length, 8, emit, 64, l2);
      assert.ok(used > 0);
      return out;
    };
    const framed = cut(f, 14), packets = cut(bare, 0);
    assert.is(packets.length, framed.length);
    packets.forEach((p, k) => assert.ok(p.equals(framed[k].subarray(14)), `segment ${k}: the frame's less its Ethernet header`));
    // Cutting a bare packet as if Ethernet came first finds no IP: refused, not cut wrong.
    assert.is(proto === 6 ? segmentTcp(bare, 0, bare.length, mss, v6, Buffer.alloc(200_000), 0, 200_000, 8, () => {}) : SEG_BAD, SEG_BAD);

    const c = new Coalescer(Buffer.alloc(200_000), 128, true, 1472, 65535, true, false, 0);
    for (const p of packets) assert.ok(c.add(p, 0, p.length));
    c.flush();
    assert.is(c.count, 1, 'one super-packet');
    const h = c.offs[0], out = Buffer.from(c.out.subarray(h + VNET_HDR_LEN, h + c.lens[0]));
    const ipHdr = v6 ? 40 : 20, hdr = ipHdr + (proto === 6 ? (bare[ipHdr + 12] >>> 4) * 4 : 8);
    assert.is(vnetGsoType(c.out, h), proto === 17 ? VIRTIO_NET_HDR_GSO_UDP_L4 : v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4);
    assert.equal([vnetHdrLen(c.out, h), vnetGsoSize(c.out, h), vnetCsumStart(c.out, h), vnetCsumOffset(c.out, h)], [hdr, mss, ipHdr, proto === 6 ? 16 : 6]);
    assert.is(out.length, bare.length);
    assert.ok(out.subarray(hdr).equals(bare.subarray(hdr)), 'payload');
    if (!v6) assert.equal([out.readUInt16BE(2), fold(sum16(out, 0, 20))], [bare.length, 0xffff], 'IPv4 length and header checksum');
    else assert.is(out.readUInt16BE(4), bare.length - 40);
    assert.ok(completeChecksum(out, 0, out.length, ipHdr, proto === 6 ? 16 : 6));
    const framedOut = Buffer.concat([f.subarray(0, 14), out]);
    assert.ok(l4Verifies(framedOut, v6, proto), 'the L4 checksum, completed as the kernel will, verifies');
  }
});

test.run();
