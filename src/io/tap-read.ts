// The TAP's read side: what Tap.read does with the frames one read system
// call returned, as a pure function (readTapFrames) that Tap and the tests
// (the fuzz campaign, the regression corpus) call alike.
//
// With TUNSETOFFLOAD(CSUM | TSO4 | TSO6 [| USO4 | USO6]) the kernel hands
// the TAP's reader frames with a virtio-net header (io/vnet.ts) saying
// whether the frame is plain (its checksum maybe left partial:
// completeChecksum) or a TCP/UDP super-frame of up to 64 KiB to cut
// (segmentTcp, segmentUdp). Segments are laid out back to back with 8 bytes
// free before each, so that after encap the VXLAN datagrams are contiguous
// and equal-sized — exactly what one UDP GSO send needs (io/udp.ts). The
// data path (encap/decap) never sees a virtio-net header.
//
// The udp backend's TUN (io/tun.ts) reads through the same functions: its
// packets are bare IP, so every one takes the link header's length, `l2`
// (ETH_HEADER_LEN for the TAP, 0 for the TUN), instead of assuming Ethernet.
//
// Every frame read is accounted for: a plain frame or segments in the
// batch, or counted in TapStats.badIn. Nothing trusts the header's hdr_len:
// header lengths come from the packet.

import { csumImpl, csumCopySlicesImpl } from './csum.js';
import { pseudoSumV4, pseudoSumV6, sum16, finish } from '../wire/checksum.js';
import { ETHERTYPE_IPV6, ETH_HEADER_LEN } from '../wire/ethernet.js';
import { IPPROTO_TCP as TCP, IPPROTO_UDP as UDP } from '../wire/ipv4.js';
import * as tcpWire from '../wire/tcp.js';
import * as udpWire from '../wire/udp.js';
import { layersAt, lyL4, lyProto, LY_TAGGED, LY_L4, LY_IPV4, LY_IPV6 } from '../wire/layers.js';
import {
  VNET_HDR_LEN, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4,
  vnetGsoType, vnetNeedsCsum, vnetGsoSize, vnetCsumStart, vnetCsumOffset,
} from './vnet.js';
import { HEADROOM } from './batch.js';
import type { FrameBatch } from './batch.js';
import type { TapStats } from './tap.js';

/** Largest frame read from the TAP: a 64 KiB super-frame plus the Ethernet header. */
export const TAP_MAX_FRAME = 65535 + ETH_HEADER_LEN;
/** Most segments one super-frame may be cut into (64 KiB at an MSS of ~1 KiB). */
export const TAP_MAX_SEGS = 64;
/** The kernel's limit on segments in one UDP GSO packet (UDP_MAX_SEGMENTS). */
export const UDP_MAX_SEGS = 64;
/** Room for one super-frame's segments: payload plus a header and gap per segment. */
const SPLIT_ROOM = TAP_MAX_FRAME + TAP_MAX_SEGS * (8 + 14 + 60 + 60);
/** Bytes free in front of each cut segment, for the VXLAN header. */
const SEG_GAP = 8;

// Module-local copies of the wire constants the per-segment loops use: V8
// loads an imported binding, with a check, at every use, and folds a local
// const (a few per cent of a segment's cost).
const { TCP_HEADER_LEN, TCP_OFF_SEQ, TCP_OFF_ACK, TCP_OFF_DATA_OFFSET, TCP_OFF_FLAGS, TCP_OFF_WINDOW, TCP_OFF_CHECKSUM, TCP_OFF_URGENT, TCP_FIN, TCP_PSH, TCP_CWR } = tcpWire;
const { UDP_HEADER_LEN, UDP_OFF_LENGTH, UDP_OFF_CHECKSUM } = udpWire;
const IPPROTO_TCP = TCP, IPPROTO_UDP = UDP;
const tcpDataOffsetAt = tcpWire.tcpDataOffsetAt;

/** Outcome of reading one frame from the TAP. */
export const SEG_BAD = -1;

export function be16(b: Buffer, o: number): number { return (b[o] << 8) | b[o + 1]; }
export function putBe16(b: Buffer, o: number, v: number): void { b[o] = v >>> 8; b[o + 1] = v; }

/**
 * Completes a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM)
 * on a frame that is not a super-frame: sum from csumStart to the end, store
 * at csumStart + csumOffset. Returns false if the offsets do not fit.
 */
export function completeChecksum(b: Buffer, off: number, len: number, csumStart: number, csumOffset: number): boolean {
  const at = off + csumStart + csumOffset;
  if (csumStart >= len || at + 2 > off + len) return false;
  const csum = csumImpl();
  putBe16(b, at, finish(csum(b, off + csumStart, len - csumStart, 0)));
  return true;
}

/** Payload sums of one super-frame's slices (grown, never shrunk, if a frame has more). */
let sliceSums = new Uint32Array(256);

/**
 * Sum of the IP header at `ip` without its length, ID and checksum fields
 * (RFC 791 §3.1), which differ per segment and are added back by
 * ipSegment(); 0 for IPv6, which has no header checksum.
 */
function ipBaseSum(b: Buffer, ip: number, v6: boolean, ipHdrLen: number): number {
  return v6 ? 0 : sum16(b, ip + 12, ipHdrLen - 12, sum16(b, ip + 6, 4, sum16(b, ip, 2)));
}

/**
 * The IP header of one segment: RFC 791 total length, a fresh ID and the
 * header checksum from the base sum (RFC 1624: the changed words added to
 * the sum of the rest), or the RFC 8200 payload length.
 */
function ipSegment(dst: Buffer, ip: number, v6: boolean, base: number, ipHdrLen: number, l4len: number, id: number): void {
  if (v6) {
    putBe16(dst, ip + 4, l4len);
    return;
  }
  const total = ipHdrLen + l4len;
  putBe16(dst, ip + 2, total);
  putBe16(dst, ip + 4, id);
  putBe16(dst, ip + 10, finish(base + total + id));
}

/** The L4 offset of an untagged super-frame (its IP header at src + l2) of IP version `v6` and protocol `proto`, or SEG_BAD. */
function l4Of(b: Buffer, src: number, len: number, v6: boolean, proto: number, l2: number): number {
  const w = layersAt(b, src, len, l2), want = LY_L4 | (v6 ? LY_IPV6 : LY_IPV4);
  if ((w & (LY_TAGGED | want)) !== want || lyProto(w) !== proto) return SEG_BAD;
  return src + lyL4(w);
}

/** Copies the header (and, unless `tails`, each payload slice) into place; returns the slice sums. */
function cutSlices(b: Buffer, src: number, hdr: number, payload: number, mss: number, n: number, dst: Buffer, first: number, stride: number, tails: boolean): Uint32Array {
  if (n > sliceSums.length) sliceSums = new Uint32Array(n);
  csumCopySlicesImpl()(b, src, hdr, src + hdr, payload, mss, dst, first, stride, sliceSums, !tails);
  return sliceSums;
}

/**
 * Where a cut segment goes: `off`, `len` for the whole segment; with tails,
 * only its headers are at `off` and its last `tailLen` bytes (the payload)
 * at `tailOff`, still in the super-frame.
 */
export type SegmentSink = (off: number, len: number, tailOff: number, tailLen: number) => void;

/**
 * Cuts the TCP super-frame at `src` (`len` bytes, `l2` bytes of link header
 * first: Ethernet's from a TAP, none from a TUN) into
 * segments of at most `mss` payload bytes, written to `dst` from `dstOff`:
 * segment k starts at dstOff + gap + k * stride with `gap` bytes free before
 * it (for the VXLAN header), and reports each segment to `emit(off, len)`.
 * Returns the bytes used in `dst`, or SEG_BAD for a frame that is not a TCP
 * super-frame we can cut (counted by the caller). `v6` says which IP.
 * `maxSegs` is how many segments the caller has room for: a frame that
 * would make more is refused whole (SEG_BAD) rather than cut in part.
 *
 * One native call copies the headers and payload slices and sums each
 * slice; the per-segment fields and checksums are then fixed up here from
 * sums taken once per super-frame (RFC 1624), so a segment costs a few
 * stores, not a pass over its headers.
 */
export function segmentTcp(
  b: Buffer, src: number, len: number, mss: number, v6: boolean,
  dst: Buffer, dstOff: number, dstRoom: number, gap: number,
  emit: SegmentSink, maxSegs = Infinity,
  /** Leave each payload in the super-frame (a gathering send): only headers go to dst. */
  tails = false,
  l2 = ETH_HEADER_LEN,
): number {
  if (mss <= 0) return SEG_BAD;
  const l4 = l4Of(b, src, len, v6, IPPROTO_TCP, l2);
  const end = src + len;
  if (l4 < 0 || l4 + TCP_HEADER_LEN > end) return SEG_BAD;
  const l3 = src + l2;
  const thl = tcpDataOffsetAt(b, l4);
  const hdr = l4 + thl - src;  // link + IP + TCP headers
  if (thl < TCP_HEADER_LEN || src + hdr > end) return SEG_BAD;
  const payload = len - hdr;
  if (payload <= 0) return SEG_BAD;
  const n = Math.ceil(payload / mss);
  const stride = gap + hdr + (tails ? 0 : mss);
  // Every packet is counted under a reason: the kernel cuts by any gso_size
  // (a small MSS, or a hostile AF_PACKET writer: 64 KiB at MSS 48 is 1365
  // segments), so a frame whose segments would not fit the caller's batch
  // is refused whole, and the caller counts it.
  if (n > maxSegs || n * stride > dstRoom) return SEG_BAD;

  // Read and written in place, not through tcp.ts's functions: an unsigned
  // 32-bit number passed to or returned from a call that is not inlined is
  // boxed, an allocation per segment.
  const sq = l4 + TCP_OFF_SEQ;
  const seq0 = ((b[sq] << 24) | (b[sq + 1] << 16) | (b[sq + 2] << 8) | b[sq + 3]) >>> 0;
  const flags0 = b[l4 + TCP_OFF_FLAGS], off12 = b[l4 + TCP_OFF_DATA_OFFSET] << 8;
  const id0 = v6 ? 0 : be16(b, l3 + 4);
  const l3rel = l3 - src, l4rel = l4 - src, ipHdrLen = l4 - l3;
  // Sums of what every segment shares: the IP header but for length, ID
  // and checksum; the TCP header but for sequence, flags and checksum; the
  // pseudo-header but for the length.
  const ipBase = ipBaseSum(b, l3, v6, ipHdrLen);
  const tcpBase = sum16(b, l4 + TCP_OFF_URGENT, thl - TCP_OFF_URGENT,
    sum16(b, l4 + TCP_OFF_WINDOW, 2, sum16(b, l4 + TCP_OFF_ACK, 4, sum16(b, l4, 4))));
  const pseudo0 = v6 ? pseudoSumV6(b, l3 + 8, l3 + 24, IPPROTO_TCP, 0) : pseudoSumV4(b, l3 + 12, l3 + 16, IPPROTO_TCP, 0);
  const sums = cutSlices(b, src, hdr, payload, mss, n, dst, dstOff + gap, stride, tails);
  for (let k = 0; k < n; k++) {
    const seg = dstOff + k * stride + gap;
    const plen = k === n - 1 ? payload - k * mss : mss;
    const ip = seg + l3rel, tcp = seg + l4rel;
    const l4len = thl + plen;
    ipSegment(dst, ip, v6, ipBase, ipHdrLen, l4len, (id0 + k) & 0xffff);
    // RFC 9293: sequence numbers advance by the payload before this segment;
    // FIN and PSH belong to the last segment, CWR to the first (as Linux's
    // tcp_gso_segment does).
    const seq = (seq0 + k * mss) >>> 0;
    const ts = tcp + TCP_OFF_SEQ;
    dst[ts] = seq >>> 24; dst[ts + 1] = seq >>> 16; dst[ts + 2] = seq >>> 8; dst[ts + 3] = seq;
    let fl = flags0;
    if (k !== n - 1) fl &= ~(TCP_FIN | TCP_PSH);
    if (k !== 0) fl &= ~TCP_CWR;
    dst[tcp + TCP_OFF_FLAGS] = fl;
    const sum = tcpBase + pseudo0 + (l4len >>> 16) + (l4len & 0xffff) + (seq >>> 16) + (seq & 0xffff) + (off12 | fl) + sums[k];
    putBe16(dst, tcp + TCP_OFF_CHECKSUM, finish(sum));
    if (tails) emit(seg, hdr + plen, src + hdr + k * mss, plen);
    else emit(seg, hdr + plen, 0, 0);
  }
  return n * stride;
}

/**
 * Cuts a UDP super-frame (USO: GSO_UDP_L4) into datagrams of `mss` payload
 * bytes, laid out as segmentTcp lays out segments. Each gets its own IP
 * length/ID/checksum, UDP length and UDP checksum (RFC 768; zero becomes
 * 0xffff). Returns the bytes used in `dst`, or SEG_BAD; `maxSegs` and `l2`
 * as for segmentTcp.
 */
export function segmentUdp(
  b: Buffer, src: number, len: number, mss: number, v6: boolean,
  dst: Buffer, dstOff: number, dstRoom: number, gap: number,
  emit: SegmentSink, maxSegs = Infinity, l2 = ETH_HEADER_LEN,
): number {
  if (mss <= 0) return SEG_BAD;
  const l4 = l4Of(b, src, len, v6, IPPROTO_UDP, l2);
  if (l4 < 0) return SEG_BAD;
  const l3 = src + l2;
  const hdr = l4 + UDP_HEADER_LEN - src;
  const payload = len - hdr;
  if (payload <= 0) return SEG_BAD;
  const n = Math.ceil(payload / mss);
  const stride = gap + hdr + mss;
  if (n > UDP_MAX_SEGS || n > maxSegs || n * stride > dstRoom) return SEG_BAD;
  const id0 = v6 ? 0 : be16(b, l3 + 4);
  const l3rel = l3 - src, l4rel = l4 - src, ipHdrLen = l4 - l3;
  const ipBase = ipBaseSum(b, l3, v6, ipHdrLen);
  // The ports; the length is counted twice (header and pseudo-header).
  const base = sum16(b, l4, 4, v6 ? pseudoSumV6(b, l3 + 8, l3 + 24, IPPROTO_UDP, 0) : pseudoSumV4(b, l3 + 12, l3 + 16, IPPROTO_UDP, 0));
  const sums = cutSlices(b, src, hdr, payload, mss, n, dst, dstOff + gap, stride, false);
  for (let k = 0; k < n; k++) {
    const seg = dstOff + k * stride + gap;
    const plen = k === n - 1 ? payload - k * mss : mss;
    const ip = seg + l3rel, udp = seg + l4rel;
    const l4len = UDP_HEADER_LEN + plen;
    ipSegment(dst, ip, v6, ipBase, ipHdrLen, l4len, (id0 + k) & 0xffff);
    putBe16(dst, udp + UDP_OFF_LENGTH, l4len);
    const c = finish(base + 2 * l4len + sums[k]);
    putBe16(dst, udp + UDP_OFF_CHECKSUM, c === 0 ? 0xffff : c);
    emit(seg, hdr + plen, 0, 0);
  }
  return n * stride;
}

/**
 * The slab a TAP read fills, laid out as Tap reads it: `rawMax` slots of
 * HEADROOM + virtio-net header + the largest frame, then (with offloads)
 * room for the segments of every super-frame of one read. Tap makes one;
 * the tests make the same.
 */
export class TapReadSlab {
  readonly slab: Buffer;
  /** Where each read frame's virtio-net header goes, and the length the read filled (header included). */
  readonly rawOffs: Int32Array;
  readonly rawLens: Int32Array;
  /** The most bytes one read takes: the virtio-net header and the largest frame. */
  readonly maxLen = TAP_MAX_FRAME + VNET_HDR_LEN;
  readonly splitBase: number;
  /** Segments the batch had no room for (none while segmentTcp's maxSegs holds; the fuzz campaign checks it). */
  lost = 0;
  private cur: FrameBatch | null = null;
  /** Where segmentTcp/segmentUdp report segments: the batch being filled. */
  private readonly emit: SegmentSink = (off, len, tailOff, tailLen) => {
    const b = this.cur!;
    if (b.count === b.capacity) { this.lost++; return; }
    if (tailLen > 0) b.pushSplit(off, len, tailOff, tailLen);
    else b.push(off, len);
  };

  /**
   * `rawMax` frames per read; `offload`: room for cutting super-frames;
   * `tails`: TCP segments keep their payload in the super-frame (FrameBatch
   * tails), for a socket that gathers; `l2`: the link header in front of
   * each packet (a TAP's Ethernet; 0 for a TUN's bare IP).
   */
  constructor(readonly rawMax: number, readonly offload: boolean, readonly tails = false, readonly l2 = ETH_HEADER_LEN) {
    const rawSlot = (HEADROOM + this.maxLen + 63) & ~63;
    this.splitBase = rawSlot * rawMax;
    this.slab = Buffer.alloc(this.splitBase + (offload ? SPLIT_ROOM * rawMax : 0));
    this.rawOffs = new Int32Array(rawMax);
    this.rawLens = new Int32Array(rawMax);
    for (let i = 0; i < rawMax; i++) this.rawOffs[i] = i * rawSlot + HEADROOM - VNET_HDR_LEN;
  }

  /** Frames a batch needs room for: with offloads, every read frame may become TAP_MAX_SEGS segments. */
  static batchFor(rawMax: number, offload: boolean): number {
    return offload ? rawMax * TAP_MAX_SEGS : rawMax;
  }

  /** Reads per system call that fit a data path batch of `batch` frames. */
  static readsFor(batch: number, offload: boolean): number {
    return offload ? Math.max(1, Math.floor(batch / TAP_MAX_SEGS)) : batch;
  }

  /** readTapFrames with this slab's segment sink. */
  fill(got: number, batch: FrameBatch, stats: TapStats): number {
    this.cur = batch;
    const n = readTapFrames(this.slab, this.rawOffs, this.rawLens, got, batch, stats, this.splitBase, this.emit, this.tails, this.l2);
    this.cur = null;
    return n;
  }
}

/**
 * What Tap.read does after its system call: the `got` frames the read left
 * at slab[offs[i]] (virtio-net header first, lens[i] bytes with it) become
 * `batch` (plain frames in place; super-frames cut into segments from
 * `splitBase` on, each reported to `emit`, which adds it to `batch`).
 * Partial checksums are completed; frames that cannot be used are counted in
 * stats.badIn, super-frames and segments in stats. Returns batch.count.
 * `l2`: the link header's length (a TAP's Ethernet, or 0 for a TUN).
 */
export function readTapFrames(
  s: Buffer, offs: Int32Array, lens: Int32Array, got: number, batch: FrameBatch, stats: TapStats,
  splitBase: number, emit: SegmentSink, tails: boolean, l2 = ETH_HEADER_LEN,
): number {
  batch.buf = s;
  batch.count = 0;
  let split = splitBase;
  for (let i = 0; i < got; i++) {
    const h = offs[i];
    const f = h + VNET_HDR_LEN;
    const len = lens[i] - VNET_HDR_LEN;
    if (len <= 0) { stats.badIn++; continue; }
    const gso = vnetGsoType(s, h);
    if (gso === VIRTIO_NET_HDR_GSO_NONE) {
      if (vnetNeedsCsum(s, h)) {
        if (!completeChecksum(s, f, len, vnetCsumStart(s, h), vnetCsumOffset(s, h))) { stats.badIn++; continue; }
        stats.csumCompletedIn++;
      }
      // A frame that does not fit the batch is counted, not lost silently.
      if (batch.count < batch.capacity) batch.push(f, len); else stats.badIn++;
      continue;
    }
    const before = batch.count;
    let used: number;
    if (gso === VIRTIO_NET_HDR_GSO_TCPV4 || gso === VIRTIO_NET_HDR_GSO_TCPV6) {
      used = segmentTcp(s, f, len, vnetGsoSize(s, h), gso === VIRTIO_NET_HDR_GSO_TCPV6, s, split, s.length - split, SEG_GAP, emit, batch.capacity - before, tails, l2);
    } else if (gso === VIRTIO_NET_HDR_GSO_UDP_L4) {
      // The header says UDP, not which IP: the EtherType, or a bare packet's version nibble.
      const v6 = l2 === 0 ? s[f] >>> 4 === 6 : len >= ETH_HEADER_LEN && be16(s, f + ETH_HEADER_LEN - 2) === ETHERTYPE_IPV6;
      used = segmentUdp(s, f, len, vnetGsoSize(s, h), v6, s, split, s.length - split, SEG_GAP, emit, batch.capacity - before, l2);
    } else {
      stats.badIn++;
      continue;
    }
    if (used < 0) { stats.badIn++; continue; }
    batch.follows.fill(1, before + 1, batch.count);
    split += used;
    stats.superFramesIn++;
    stats.segmentsOut += batch.count - before;
  }
  return batch.count;
}
