// TCP segmentation and coalescing at the TAP, so the host's stack and weft
// exchange 64 KiB super-frames instead of one frame per MTU.
//
// Design notes. With TUNSETOFFLOAD(CSUM | TSO4 | TSO6) the kernel hands the
// TAP's reader TCP super-frames (up to 64 KiB) with a virtio-net header
// saying how to cut them (gso_size) and where the unfinished checksum is;
// and it accepts such super-frames written back, cutting or delivering them
// itself. This file is the only place that knows that:
//
//   read:  segmentTcp() cuts a super-frame into MSS-sized frames, each with
//          its own IP length/ID/checksum and TCP sequence/flags/checksum,
//          laid out back to back with 8 bytes free before each, so that
//          after encap the VXLAN datagrams are contiguous and equal-sized —
//          exactly what one UDP GSO send needs (io/udp.ts).
//   write: TcpCoalescer glues consecutive in-order segments of one flow
//          (what UDP GRO delivers in one read) back into one super-frame
//          with a GSO virtio-net header: one TAP write instead of ~45.
//
// Every other frame passes through with a plain header; a "partial" inner
// checksum from a kernel peer is marked for completion (io/vnet.ts).
// The data path (encap/decap) never sees a virtio-net header.
//
// Nothing trusts the header's hdr_len: header lengths come from the packet.

import { csumImpl, csumCopySlicesImpl, csumRangesImpl } from './csum.js';
import { pseudoSumV4, pseudoSumV6, sum16, fold } from '../wire/checksum.js';
import { writeVnetHeader, VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM } from './vnet.js';

// virtio spec §5.1.6: gso_type values.
export const VIRTIO_NET_HDR_GSO_NONE = 0;
export const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
export const VIRTIO_NET_HDR_GSO_TCPV6 = 4;
export const VIRTIO_NET_HDR_GSO_UDP_L4 = 5;
/** The kernel's limit on segments in one UDP GSO packet (UDP_MAX_SEGMENTS). */
const UDP_MAX_SEGS = 64;
/** Most segments in one gathered frame (a write's iovecs; the addon takes up to 256). */
const GATHER_MAX_SEGS = 64;
/**
 * Bytes of a frame copied in front of its pieces when gathering: every
 * header add(), closeOpen() and writeVnetHeader() read or write lies in them
 * (Ethernet with a VLAN tag, 18; IPv4 with options, 60, or IPv6, 40; TCP
 * with options, 60).
 */
export const GATHER_HEAD = 140;
export const VIRTIO_NET_HDR_GSO_ECN = 0x80;

const TCP_FIN = 0x01, TCP_SYN = 0x02, TCP_RST = 0x04, TCP_PSH = 0x08, TCP_URG = 0x20, TCP_ECE = 0x40, TCP_CWR = 0x80;

/** Outcome of reading one frame from the TAP. */
export const SEG_BAD = -1;

function u16(b: Buffer, o: number): number { return (b[o] << 8) | b[o + 1]; }
function put16(b: Buffer, o: number, v: number): void { b[o] = v >>> 8; b[o + 1] = v; }
function finish(s: number): number { return ~s & 0xffff; }

/**
 * Completes a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM)
 * on a frame that is not a super-frame: sum from csumStart to the end, store
 * at csumStart + csumOffset. Returns false if the offsets do not fit.
 */
export function completeChecksum(b: Buffer, off: number, len: number, csumStart: number, csumOffset: number): boolean {
  const at = off + csumStart + csumOffset;
  if (csumStart >= len || at + 2 > off + len) return false;
  const csum = csumImpl();
  put16(b, at, finish(csum(b, off + csumStart, len - csumStart, 0)));
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
    put16(dst, ip + 4, l4len);
    return;
  }
  const total = ipHdrLen + l4len;
  put16(dst, ip + 2, total);
  put16(dst, ip + 4, id);
  put16(dst, ip + 10, finish(fold(base + total + id)));
}

/** Ethernet, IP and L4 offsets of a super-frame, or SEG_BAD. */
function l4Of(b: Buffer, src: number, len: number, v6: boolean, proto: number): number {
  const end = src + len;
  if (len < 14) return SEG_BAD;
  const l3 = src + 14;
  if (!v6) {
    if (u16(b, src + 12) !== 0x0800 || l3 + 20 > end) return SEG_BAD;
    const ihl = (b[l3] & 0x0f) * 4;
    if (ihl < 20 || b[l3 + 9] !== proto) return SEG_BAD;
    return l3 + ihl;
  }
  if (u16(b, src + 12) !== 0x86dd || l3 + 40 > end || b[l3 + 6] !== proto) return SEG_BAD;
  return l3 + 40;
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
 * Cuts the TCP super-frame at `src` (`len` bytes, Ethernet first) into
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
): number {
  if (mss <= 0) return SEG_BAD;
  const l4 = l4Of(b, src, len, v6, 6);
  const end = src + len;
  if (l4 < 0 || l4 + 20 > end) return SEG_BAD;
  const l3 = src + 14;
  const thl = (b[l4 + 12] >>> 4) * 4;
  const hdr = l4 + thl - src;  // Ethernet + IP + TCP headers
  if (thl < 20 || src + hdr > end) return SEG_BAD;
  const payload = len - hdr;
  if (payload <= 0) return SEG_BAD;
  const n = Math.ceil(payload / mss);
  const stride = gap + hdr + (tails ? 0 : mss);
  // Issue 7 (every packet counted under a reason): the kernel cuts by any
  // gso_size (a small MSS, or a hostile AF_PACKET writer: 64 KiB at MSS 48
  // is 1365 segments), so segments that would not fit the caller's batch
  // were dropped uncounted. Refuse the frame instead; the caller counts it.
  if (n > maxSegs || n * stride > dstRoom) return SEG_BAD;

  const seq0 = ((b[l4 + 4] << 24) | (b[l4 + 5] << 16) | (b[l4 + 6] << 8) | b[l4 + 7]) >>> 0;
  const flags0 = b[l4 + 13], off12 = b[l4 + 12] << 8;
  const id0 = v6 ? 0 : u16(b, l3 + 4);
  const l3rel = l3 - src, l4rel = l4 - src, ipHdrLen = l4 - l3;
  // Sums of what every segment shares: the IP header but for length, ID
  // and checksum; the TCP header but for sequence, flags and checksum; the
  // pseudo-header but for the length.
  const ipBase = ipBaseSum(b, l3, v6, ipHdrLen);
  const tcpBase = sum16(b, l4 + 18, thl - 18, sum16(b, l4 + 14, 2, sum16(b, l4 + 8, 4, sum16(b, l4, 4))));
  const pseudo0 = v6 ? pseudoSumV6(b, l3 + 8, l3 + 24, 6, 0) : pseudoSumV4(b, l3 + 12, l3 + 16, 6, 0);
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
    dst[tcp + 4] = seq >>> 24; dst[tcp + 5] = seq >>> 16; dst[tcp + 6] = seq >>> 8; dst[tcp + 7] = seq;
    let fl = flags0;
    if (k !== n - 1) fl &= ~(TCP_FIN | TCP_PSH);
    if (k !== 0) fl &= ~TCP_CWR;
    dst[tcp + 13] = fl;
    const sum = tcpBase + pseudo0 + (l4len >>> 16) + (l4len & 0xffff) + (seq >>> 16) + (seq & 0xffff) + (off12 | fl) + sums[k];
    put16(dst, tcp + 16, finish(fold(sum)));
    if (tails) emit(seg, hdr + plen, src + hdr + k * mss, plen);
    else emit(seg, hdr + plen, 0, 0);
  }
  return n * stride;
}

/**
 * Cuts a UDP super-frame (USO: GSO_UDP_L4) into datagrams of `mss` payload
 * bytes, laid out as segmentTcp lays out segments. Each gets its own IP
 * length/ID/checksum, UDP length and UDP checksum (RFC 768; zero becomes
 * 0xffff). Returns the bytes used in `dst`, or SEG_BAD; `maxSegs` as for
 * segmentTcp.
 */
export function segmentUdp(
  b: Buffer, src: number, len: number, mss: number, v6: boolean,
  dst: Buffer, dstOff: number, dstRoom: number, gap: number,
  emit: SegmentSink, maxSegs = Infinity,
): number {
  if (mss <= 0) return SEG_BAD;
  const l4 = l4Of(b, src, len, v6, 17);
  if (l4 < 0) return SEG_BAD;
  const l3 = src + 14;
  const hdr = l4 + 8 - src;
  const payload = len - hdr;
  if (payload <= 0) return SEG_BAD;
  const n = Math.ceil(payload / mss);
  const stride = gap + hdr + mss;
  if (n > UDP_MAX_SEGS || n > maxSegs || n * stride > dstRoom) return SEG_BAD;
  const id0 = v6 ? 0 : u16(b, l3 + 4);
  const l3rel = l3 - src, l4rel = l4 - src, ipHdrLen = l4 - l3;
  const ipBase = ipBaseSum(b, l3, v6, ipHdrLen);
  // The ports; the length is counted twice (header and pseudo-header).
  const base = sum16(b, l4, 4, v6 ? pseudoSumV6(b, l3 + 8, l3 + 24, 17, 0) : pseudoSumV4(b, l3 + 12, l3 + 16, 17, 0));
  const sums = cutSlices(b, src, hdr, payload, mss, n, dst, dstOff + gap, stride, false);
  for (let k = 0; k < n; k++) {
    const seg = dstOff + k * stride + gap;
    const plen = k === n - 1 ? payload - k * mss : mss;
    const ip = seg + l3rel, udp = seg + l4rel;
    const l4len = 8 + plen;
    ipSegment(dst, ip, v6, ipBase, ipHdrLen, l4len, (id0 + k) & 0xffff);
    put16(dst, udp + 4, l4len);
    const c = finish(fold(base + 2 * l4len + sums[k]));
    put16(dst, udp + 6, c === 0 ? 0xffff : c);
    emit(seg, hdr + plen, 0, 0);
  }
  return n * stride;
}

/**
 * Coalesces in-order TCP segments into super-frames for a TAP write.
 * Frames are added one at a time with `add`; each lands in `out` (a slab the
 * caller owns) with a virtio-net header in front, and `frames` lists them
 * (offset of the header, length including it) in arrival order.
 *
 * A segment joins the frame before it when both are TCP over untagged
 * IPv4 (no options) or IPv6 (no extension headers), of the same flow, with
 * identical headers apart from lengths, IP ID, checksums and the sequence
 * number; the sequence continues exactly; the previous segment had the
 * same size as the first (only the last may be shorter) and no PSH; and
 * neither carries SYN, FIN, RST, URG, ECE or CWR. Linux's own GRO applies
 * the same rules (tcp_gro_receive), so what the host sees is what it would
 * have built itself.
 */
export class TcpCoalescer {
  /**
   * Output frames: offset of the virtio-net header in `out`, and length with
   * it. In gather mode that is the frame's head only (header and first
   * segment): its further payloads are the pieces pStart[i]..pStart[i+1]-1,
   * pLens[j] bytes at pOffs[j] of the buffer the segments came in.
   */
  readonly offs: Int32Array;
  readonly lens: Int32Array;
  readonly pOffs: Int32Array;
  readonly pLens: Int32Array;
  readonly pStart: Int32Array;
  pCount = 0;
  count = 0;
  used = 0;
  /** Segments merged into an earlier frame (a write saved each). */
  merged = 0;
  /** Frames whose partial checksum was marked for completion. */
  csumMarked = 0;
  /** UDP super-frames (USO) built. */
  udpFrames = 0;
  /**
   * Frames not merged because a checksum (TCP, UDP or IPv4 header) did not
   * verify: written as they came, for the host's stack to drop and count.
   */
  csumBad = 0;
  /** What sumBatch found for frame i of the batch: see add(). */
  readonly sums: Uint32Array;
  private readonly sumOffs: Int32Array;
  private readonly sumLens: Int32Array;
  // The open super-frame, if any.
  private open = -1;        // index in offs
  private openL3 = 0;       // offset of IP header in out
  private openL4 = 0;
  private openHdr = 0;      // Ethernet+IP+TCP header length
  private openV6 = false;
  private openMss = 0;
  private openSegs = 0;
  private openUdp = false;  // a UDP run (USO) rather than TCP
  private openAddrSum = 0;  // the pseudo-header's address words, summed (RFC 768, RFC 8200 §8.1)
  private nextSeq = 0;
  private lastShort = false;
  private lastPsh = false;
  private openTotal = 0;    // bytes of the open frame, virtio-net header included
  private openSrc: Buffer | null = null;
  private readonly maxBytes: number;
  private readonly outView: DataView;
  private srcBuf: Buffer | null = null;
  private srcView: DataView = new DataView(new ArrayBuffer(0));

  /**
   * `merge` false: every frame alone (partial checksums still marked).
   * `mtu`: the TAP's MTU; a lone TCP frame larger than it (a kernel peer's
   * super-frame, delivered whole by the socket) is sent with GSO metadata
   * so the host can still cut it if it forwards it.
   */
  constructor(readonly out: Buffer, capacity: number, private readonly merge = true, private readonly mtu = 65535, maxBytes = 65535,
    /** Also merge UDP runs into USO frames (a kernel that takes GSO_UDP_L4 writes). */
    public udp = false,
    /**
     * Leave merged payloads where they are and list them as pieces, for a
     * gathering write (writev): the payload is copied once, by the kernel,
     * instead of twice.
     */
    readonly gather = false) {
    this.offs = new Int32Array(capacity);
    this.lens = new Int32Array(capacity);
    this.pOffs = new Int32Array(gather ? capacity : 0);
    this.pLens = new Int32Array(gather ? capacity : 0);
    this.pStart = new Int32Array(capacity + 1);
    this.sums = new Uint32Array(merge ? capacity : 0);
    this.sumOffs = new Int32Array(merge ? capacity : 0);
    this.sumLens = new Int32Array(merge ? capacity : 0);
    this.maxBytes = maxBytes;
    this.outView = new DataView(out.buffer, out.byteOffset, out.length);
  }

  reset(): void {
    this.closeOpen();
    this.count = 0;
    this.used = 0;
    this.pCount = 0;
  }

  /**
   * Sums, in one call for the batch, what each frame's checksums cover: the
   * IPv4 header and its payload, or an IPv6 frame's payload. add() checks
   * them before merging (csumOk). Frames that cannot merge get an empty range.
   */
  sumBatch(b: Buffer, offs: Int32Array, lens: Int32Array, count: number): void {
    if (!this.merge) return;
    const n = Math.min(count, this.sums.length), so = this.sumOffs, sl = this.sumLens;
    for (let i = 0; i < n; i++) {
      const off = offs[i], len = lens[i];
      const type = len >= 34 ? u16(b, off + 12) : 0;
      const at = type === 0x0800 ? 14 : type === 0x86dd && len >= 54 ? 54 : len;
      so[i] = off + at;
      sl[i] = len - at;
    }
    csumRangesImpl()(b, so, sl, n, this.sums);
  }

  /**
   * Adds the frame at b[off], len bytes. Returns false when out or the list
   * is full. `sum` is what sumBatch found for it; without it (-1) the sum is
   * made here when a merge needs it.
   */
  add(b: Buffer, off: number, len: number, sum = -1): boolean {
    if (this.tryMerge(b, off, len, sum)) return true;
    this.closeOpen();
    // Gathering, only the head is copied and the rest of the frame is its
    // first piece: no copy of the payload, and no view of it either (Buffer
    // copy makes one per call, an allocation per frame).
    const head = this.gather ? Math.min(len, GATHER_HEAD) : len;
    if (this.count === this.offs.length || this.used + VNET_HDR_LEN + head > this.out.length) return false;
    if (head < len && this.pCount === this.pOffs.length) return false;
    const h = this.used;
    if (this.gather) this.copyHead(b, off, h + VNET_HDR_LEN, head);
    else b.copy(this.out, h + VNET_HDR_LEN, off, off + len);
    const i = this.count++;
    this.offs[i] = h;
    this.lens[i] = VNET_HDR_LEN + head;
    this.pStart[i] = this.pCount;
    if (head < len) {
      this.pOffs[this.pCount] = off + head;
      this.pLens[this.pCount++] = len - head;
    }
    this.used = h + VNET_HDR_LEN + head;
    if (this.merge && this.startable(h + VNET_HDR_LEN, len, sum, b, off)) {
      this.open = i;
      this.openTotal = VNET_HDR_LEN + len;
      this.openSrc = b;
      this.out.fill(0, h, h + VNET_HDR_LEN);
    } else if (writeVnetHeader(this.out, h + VNET_HDR_LEN, len)) {
      this.csumMarked++;
    }
    return true;
  }

  /** Copies n bytes of b at off to out at `to`, four at a time (n is at most GATHER_HEAD). */
  private copyHead(b: Buffer, off: number, to: number, n: number): void {
    const v = this.viewOf(b), w = this.outView;
    let k = 0;
    for (; k + 4 <= n; k += 4) w.setInt32(to + k, v.getInt32(off + k, true), true);
    for (; k < n; k++) this.out[to + k] = b[off + k];
  }

  /**
   * Can the frame at out[f] start a super-frame? Sets the open state if so.
   * Its headers are at out[f]; the whole frame (for a sum not made yet) is
   * at b[src].
   */
  private startable(f: number, len: number, sum: number, b: Buffer, src: number): boolean {
    const o = this.out;
    const end = f + len;
    const type = u16(o, f + 12);
    let l3 = f + 14, l4: number, v6: boolean;
    let proto: number;
    if (type === 0x0800) {
      if (l3 + 20 > end || o[l3] !== 0x45) return false;
      proto = o[l3 + 9];
      if ((o[l3 + 6] & 0x3f) !== 0 || o[l3 + 7] !== 0) return false; // fragment
      if (l3 + u16(o, l3 + 2) !== end) return false;                 // padding or truncation
      l4 = l3 + 20; v6 = false;
    } else if (type === 0x86dd) {
      if (l3 + 40 > end) return false;
      proto = o[l3 + 6];
      if (l3 + 40 + u16(o, l3 + 4) !== end) return false;
      l4 = l3 + 40; v6 = true;
    } else {
      return false;
    }
    if (proto === 17) {
      // UDP: a run of same-size datagrams of one flow becomes one USO frame.
      if (!this.udp || l4 + 8 >= end || u16(o, l4 + 4) !== end - l4) return false;
      if (!this.startChecked(b, src, len, src + l3 - f, src + l4 - f, v6, 17, sum)) return false;
      this.openL3 = l3; this.openL4 = l4; this.openV6 = v6; this.openUdp = true;
      this.openHdr = l4 + 8 - f;
      this.openMss = len - this.openHdr;
      this.openSegs = 1;
      this.lastShort = false;
      this.lastPsh = false;
      return true;
    }
    if (proto !== 6 || l4 + 20 > end) return false;
    const thl = (o[l4 + 12] >>> 4) * 4;
    const flags = o[l4 + 13];
    if (thl < 20 || l4 + thl >= end) return false;                   // no payload
    if (flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_URG | TCP_ECE | TCP_CWR)) return false;
    if (!this.startChecked(b, src, len, src + l3 - f, src + l4 - f, v6, 6, sum)) return false;
    this.openL3 = l3; this.openL4 = l4; this.openV6 = v6; this.openUdp = false;
    this.openHdr = l4 + thl - f;
    this.openMss = len - this.openHdr;
    this.openSegs = 1;
    this.nextSeq = (this.seqAt(o, l4) + this.openMss) >>> 0;
    this.lastShort = false;
    this.lastPsh = (flags & TCP_PSH) !== 0;
    return true;
  }

  /** csumOk for a frame that would start a run; counts it when it fails, and keeps its address sum. */
  private startChecked(b: Buffer, f: number, len: number, l3: number, l4: number, v6: boolean, proto: number, sum: number): boolean {
    const addrs = v6 ? pseudoSumV6(b, l3 + 8, l3 + 24, 0, 0) : pseudoSumV4(b, l3 + 12, l3 + 16, 0, 0);
    if (!this.csumOk(b, f, len, l3, l4, v6, proto, addrs, sum)) {
      this.csumBad++;
      return false;
    }
    this.openAddrSum = addrs;
    return true;
  }

  /**
   * Whether a frame may be merged as far as its checksums go. A merged
   * frame's checksums are the kernel's to fill in (NEEDS_CSUM), which would
   * make a damaged segment whole; so, as Linux's GRO does, only segments
   * whose checksums verify are merged, and the others go up as they came,
   * for the host's stack to drop. A partial checksum (a Linux peer behind
   * an offloading device, see vnet.ts) holds nothing to verify and passes,
   * as the kernel's GRO takes such packets; so does IPv4 UDP without one.
   * `addrs` is the pseudo-header's address words summed; `sum` is what
   * sumBatch found for the frame at b[f] (-1: made here), and covers the
   * IPv4 header and payload, or the IPv6 payload: a valid IPv4 header sums
   * to 0xffff, which adds nothing (RFC 1071 §2), so one sum checks both.
   * The common case, a complete checksum that verifies, is tested first.
   */
  private csumOk(b: Buffer, f: number, len: number, l3: number, l4: number, v6: boolean, proto: number, addrs: number, sum: number): boolean {
    if (sum < 0) sum = csumImpl()(b, l3 + (v6 ? 40 : 0), f + len - l3 - (v6 ? 40 : 0), 0);
    const pseudo = addrs + proto + (f + len - l4);
    if (fold(sum + pseudo) === 0xffff) return true;
    const field = u16(b, l4 + (proto === 6 ? 16 : 6));
    return (field === fold(pseudo) || (field === 0 && proto === 17 && !v6)) && (v6 || fold(sum16(b, l3, 20)) === 0xffff);
  }

  private seqAt(b: Buffer, l4: number): number {
    return ((b[l4 + 4] << 24) | (b[l4 + 5] << 16) | (b[l4 + 6] << 8) | b[l4 + 7]) >>> 0;
  }

  /** A DataView of `b`, kept while segments keep coming from the same buffer. */
  private viewOf(b: Buffer): DataView {
    if (b !== this.srcBuf) {
      this.srcBuf = b;
      this.srcView = new DataView(b.buffer, b.byteOffset, b.length);
    }
    return this.srcView;
  }

  private tryMerge(b: Buffer, off: number, len: number, sum: number): boolean {
    if (this.open < 0 || this.lastShort || this.lastPsh) return false;
    const o = this.out;
    const hdr = this.openHdr;
    const plen = len - hdr;
    if (plen <= 0 || plen > this.openMss) return false;
    if (this.openTotal + plen > this.maxBytes + VNET_HDR_LEN) return false;
    if (this.gather ? b !== this.openSrc || this.pCount === this.pOffs.length || this.openSegs >= GATHER_MAX_SEGS : this.used + plen > o.length) return false;
    // Fields that must match are XORed together and tested once, four bytes
    // per load (DataView reads compile to one load; byte by byte was three
    // times the cost, and a loop with an exit per byte more still). The
    // frame is longer than the header (plen > 0), so every read is inside it.
    const v = this.viewOf(b), w = this.outView;
    const f = this.offs[this.open] + VNET_HDR_LEN;
    const oL3 = this.openL3, oL4 = this.openL4;
    const l3 = off + oL3 - f, l4 = off + oL4 - f;
    // Ethernet header, and the IP header but for length, ID and checksum.
    let d = (v.getInt32(off, true) ^ w.getInt32(f, true)) | (v.getInt32(off + 4, true) ^ w.getInt32(f + 4, true))
      | (v.getInt32(off + 8, true) ^ w.getInt32(f + 8, true)) | (v.getUint16(off + 12, true) ^ w.getUint16(f + 12, true));
    if (!this.openV6) {
      if (b[l3] !== 0x45 || v.getUint16(l3 + 2) !== len - 14) return false;
      d |= (b[l3 + 1] ^ o[oL3 + 1]) | (v.getInt32(l3 + 6, true) ^ w.getInt32(oL3 + 6, true))
        | (v.getInt32(l3 + 12, true) ^ w.getInt32(oL3 + 12, true)) | (v.getInt32(l3 + 16, true) ^ w.getInt32(oL3 + 16, true));
    } else {
      if (v.getUint16(l3 + 4) !== len - 54) return false;
      d |= (v.getInt32(l3, true) ^ w.getInt32(oL3, true)) | (v.getUint16(l3 + 6, true) ^ w.getUint16(oL3 + 6, true));
      for (let i = 8; i < 40; i += 4) d |= v.getInt32(l3 + i, true) ^ w.getInt32(oL3 + i, true);
    }
    if (this.openUdp) {
      // UDP: same ports, a length that matches, at most UDP_MAX_SEGS datagrams.
      if (this.openSegs >= UDP_MAX_SEGS || v.getUint16(l4 + 4) !== 8 + plen) return false;
      if ((d | (v.getInt32(l4, true) ^ w.getInt32(oL4, true))) !== 0) return false;
      if (!this.csumOk(b, off, len, l3, l4, this.openV6, 17, this.openAddrSum, sum)) return false;
      this.append(b, off + hdr, plen);
      if (plen < this.openMss) this.lastShort = true;
      return true;
    }
    // TCP: ports, ack, offset, flags (PSH may end the run), window, options.
    if (v.getUint32(l4 + 4) !== this.nextSeq) return false;
    const thl = hdr - (oL4 - f);
    const fl = b[l4 + 13];
    d |= (v.getInt32(l4, true) ^ w.getInt32(oL4, true)) | (v.getInt32(l4 + 8, true) ^ w.getInt32(oL4 + 8, true))
      | (b[l4 + 12] ^ o[oL4 + 12]) | ((fl ^ o[oL4 + 13]) & ~TCP_PSH) | (v.getUint16(l4 + 14, true) ^ w.getUint16(oL4 + 14, true));
    for (let i = 20; i < thl; i += 4) d |= v.getInt32(l4 + i, true) ^ w.getInt32(oL4 + i, true);   // options: 4-byte multiples
    if (d !== 0) return false;
    if (!this.csumOk(b, off, len, l3, l4, this.openV6, 6, this.openAddrSum, sum)) return false;

    this.append(b, off + hdr, plen);
    this.nextSeq = (this.nextSeq + plen) >>> 0;
    if (plen < this.openMss) this.lastShort = true;
    if (fl & TCP_PSH) { o[this.openL4 + 13] |= TCP_PSH; this.lastPsh = true; }
    return true;
  }

  /** Adds a merged segment's payload to the open frame: listed as a piece, or copied. */
  private append(b: Buffer, at: number, plen: number): void {
    if (this.gather) {
      this.pOffs[this.pCount] = at;
      this.pLens[this.pCount++] = plen;
    } else {
      b.copy(this.out, this.used, at, at + plen);
      this.used += plen;
      this.lens[this.open] += plen;
    }
    this.openTotal += plen;
    this.openSegs++;
    this.merged++;
  }

  /** Finishes the open super-frame: lengths, checksums and its GSO header. */
  private closeOpen(): void {
    const i = this.open;
    if (i < 0) return;
    this.open = -1;
    const o = this.out;
    const h = this.offs[i];
    const f = h + VNET_HDR_LEN;
    const len = this.openTotal - VNET_HDR_LEN;
    this.openSrc = null;
    const l3 = this.openL3, l4 = this.openL4;
    const l4len = len - (l4 - f);
    if (!this.openV6) {
      put16(o, l3 + 2, len - 14);
      put16(o, l3 + 10, 0);
      put16(o, l3 + 10, finish(fold(sum16(o, l3, 20))));
    } else {
      put16(o, l3 + 4, l4len);
    }
    // The L4 checksum is left for the kernel: the field holds the
    // pseudo-header sum over the whole length (NEEDS_CSUM), as Linux's own
    // GRO output would; cutting a UDP GSO frame adjusts it per datagram.
    const proto = this.openUdp ? 17 : 6;
    if (this.openUdp) put16(o, l4 + 4, l4len);
    const pseudo = this.openV6 ? pseudoSumV6(o, l3 + 8, l3 + 24, proto, l4len) : pseudoSumV4(o, l3 + 12, l3 + 16, proto, l4len);
    let p = pseudo;
    while (p > 0xffff) p = (p & 0xffff) + (p >>> 16);
    put16(o, l4 + (this.openUdp ? 6 : 16), p);
    o.fill(0, h, f);
    o[h] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    if (this.openUdp) {
      if (this.openSegs > 1) {
        o[h + 1] = VIRTIO_NET_HDR_GSO_UDP_L4;
        o.writeUInt16LE(this.openHdr, h + 2);
        o.writeUInt16LE(this.openMss, h + 4);
        this.udpFrames++;
      }
      o.writeUInt16LE(l4 - f, h + 6);
      o.writeUInt16LE(6, h + 8);              // csum_offset: UDP checksum
      return;
    }
    const ipHdr = this.openHdr - 14;
    if (this.openSegs > 1 || len - 14 > this.mtu) {
      o[h + 1] = this.openV6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
      o.writeUInt16LE(this.openHdr, h + 2);     // hdr_len
      // gso_size: the segments' size, or for a lone super-frame what fits the MTU.
      o.writeUInt16LE(this.openSegs > 1 ? this.openMss : Math.max(1, this.mtu - ipHdr), h + 4);
    }
    o.writeUInt16LE(l4 - f, h + 6);             // csum_start
    o.writeUInt16LE(16, h + 8);                 // csum_offset: TCP checksum
  }

  /** Closes the open super-frame; call before writing `offs`/`lens`. */
  flush(): void {
    this.closeOpen();
    this.pStart[this.count] = this.pCount;
  }
}
