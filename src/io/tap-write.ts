// The TAP's write side: what Tap.write does before and after its system
// call, as pure functions Tap and the tests (the fuzz campaign, the
// regression corpus) call alike.
//
//   planTapWrite  a batch of frames from decap → the write plan: each frame
//                 behind a fresh virtio-net header (io/vnet.ts), in-order
//                 TCP segments and same-size UDP datagrams of one flow (what
//                 UDP GRO delivers in one read) merged into super-frames
//                 with a GSO header (Coalescer): one TAP write instead of
//                 ~45; and which output frame each input frame went into.
//   sendTapWrite  the plan → the kernel (a TapKernel: Tap's is tapWritev)
//                 → how many input frames were written, given where the
//                 queue filled (EAGAIN) and which outputs were refused.
// Every other frame passes through with a plain header; a "partial" inner
// checksum from a kernel peer is marked for completion (writeVnetHeader).
// The udp backend's TUN (io/tun.ts) writes through the same plan with no
// link header in front of its packets (`l2` 0, where the TAP has Ethernet's 14).

import { csumImpl, csumRangesImpl } from './csum.js';
import { pseudoSumV4, pseudoSumV6, sum16, fold, finish } from '../wire/checksum.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETH_HEADER_LEN } from '../wire/ethernet.js';
import * as ipv4Wire from '../wire/ipv4.js';
import { IPV6_HEADER_LEN } from '../wire/ipv6.js';
import * as udpWire from '../wire/udp.js';
import * as tcpWire from '../wire/tcp.js';
import { layersAt, lyL3, lyL4, lyProto, LY_TAGGED, LY_L4, LY_IPV6, LY_FRAGMENT } from '../wire/layers.js';
import {
  writeVnetHeader, writeVnet, writeVnetPlain, VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4,
} from './vnet.js';
import { be16, putBe16, UDP_MAX_SEGS as UDP_MAX } from './tap-read.js';
import type { FrameBatch } from './batch.js';
import type { TapStats } from './tap.js';
// Module-local copies of the wire constants the per-segment paths use: V8
// loads an imported binding, with a check, at every use, and folds a local const.
const { TCP_HEADER_LEN, TCP_OFF_SEQ, TCP_OFF_ACK, TCP_OFF_DATA_OFFSET, TCP_OFF_FLAGS, TCP_OFF_WINDOW, TCP_OFF_CHECKSUM } = tcpWire;
const { TCP_SYN, TCP_FIN, TCP_RST, TCP_PSH, TCP_URG, TCP_ECE, TCP_CWR, tcpSeqAt, tcpDataOffsetAt } = tcpWire;
const { UDP_HEADER_LEN, UDP_OFF_LENGTH, UDP_OFF_CHECKSUM } = udpWire;
const { IPPROTO_TCP, IPPROTO_UDP, IPV4_HEADER_LEN } = ipv4Wire;
const UDP_MAX_SEGS = UDP_MAX;
/** Most segments in one gathered frame (a write's iovecs; the addon takes up to 256). */
const GATHER_MAX_SEGS = 64;
/**
 * Bytes of a frame copied in front of its pieces when gathering: every
 * header add(), closeOpen() and writeVnetHeader() read or write lies in them
 * (Ethernet with a VLAN tag, 18; IPv4 with options, 60, or IPv6, 40; TCP
 * with options, 60).
 */
export const GATHER_HEAD = 140;

/**
 * Coalesces in-order TCP segments, and same-size UDP datagrams of one flow
 * (USO), into super-frames for a TAP write. Frames are added one at a time
 * with `add`; each lands in `out` (a slab the caller owns) behind a
 * virtio-net header, listed in offs/lens in arrival order.
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
export class Coalescer {
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
  pCount = 0; count = 0; used = 0;
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
  // The open super-frame, if any: its index in offs (-1: none); its IP and
  // L4 headers' offsets in out; its header length (Ethernet + IP + L4); a
  // UDP run (USO) rather than TCP; the pseudo-header's address words summed
  // (RFC 768, RFC 8200 §8.1); its bytes, virtio-net header included.
  private open = -1;
  private openL3 = 0; private openL4 = 0; private openHdr = 0;
  private openV6 = false; private openUdp = false; private openAddrSum = 0;
  private openMss = 0; private openSegs = 0; private openTotal = 0;
  private nextSeq = 0; private lastShort = false; private lastPsh = false;
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
    /** List merged payloads as pieces where they are, for writev: copied once, by the kernel, not twice. */
    readonly gather = false,
    /** The link header in front of each frame's IP header: a TAP's Ethernet, or 0 for a TUN's bare IP packets. */
    private readonly l2 = ETH_HEADER_LEN) {
    this.offs = new Int32Array(capacity); this.lens = new Int32Array(capacity);
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
    this.count = 0; this.used = 0; this.pCount = 0;
  }

  /**
   * Sums, in one call for the batch, what each frame's checksums cover: the
   * IPv4 header and its payload, or an IPv6 frame's payload. add() checks
   * them before merging (csumOk). Frames that cannot merge get an empty range.
   */
  sumBatch(b: Buffer, offs: Int32Array, lens: Int32Array, count: number): void {
    if (!this.merge) return;
    const n = Math.min(count, this.sums.length), so = this.sumOffs, sl = this.sumLens, l2 = this.l2, v6Hdrs = l2 + IPV6_HEADER_LEN;
    for (let i = 0; i < n; i++) {
      const off = offs[i], len = lens[i];
      // Which IP: the EtherType, or a bare packet's version nibble.
      const ip = len < l2 + IPV4_HEADER_LEN ? 0 : l2 === 0 ? b[off] >>> 4 : be16(b, off + l2 - 2);
      const at = ip === (l2 === 0 ? 4 : ETHERTYPE_IPV4) ? l2 : ip === (l2 === 0 ? 6 : ETHERTYPE_IPV6) && len >= v6Hdrs ? v6Hdrs : len;
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
      writeVnetPlain(this.out, h);
    } else if (writeVnetHeader(this.out, h + VNET_HDR_LEN, len, this.l2)) {
      this.csumMarked++;
    }
    return true;
  }

  /** Copies n (≤ GATHER_HEAD) bytes of b at off to out at `to`, four at a time. */
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
    // Untagged IPv4 without options or fragments, or IPv6; lengths exactly
    // the frame's (no padding, no truncation).
    const w = layersAt(o, f, len, this.l2);
    if ((w & (LY_TAGGED | LY_L4)) !== LY_L4) return false;
    const l3 = f + lyL3(w), l4 = f + lyL4(w), proto = lyProto(w), v6 = (w & LY_IPV6) !== 0;
    if (!v6) {
      if (o[l3] !== 0x45 || (w & LY_FRAGMENT) !== 0 || l3 + be16(o, l3 + 2) !== end) return false;
    } else if (l4 + be16(o, l3 + 4) !== end) {
      return false;
    }
    if (proto === IPPROTO_UDP) {
      // UDP: a run of same-size datagrams of one flow becomes one USO frame.
      if (!this.udp || l4 + UDP_HEADER_LEN >= end || be16(o, l4 + UDP_OFF_LENGTH) !== end - l4) return false;
      if (!this.startChecked(b, src, len, src + l3 - f, src + l4 - f, v6, IPPROTO_UDP, sum)) return false;
      this.openL3 = l3; this.openL4 = l4; this.openV6 = v6; this.openUdp = true;
      this.openHdr = l4 + UDP_HEADER_LEN - f;
      this.openMss = len - this.openHdr;
      this.openSegs = 1;
      this.lastShort = false;
      this.lastPsh = false;
      return true;
    }
    if (proto !== IPPROTO_TCP || l4 + TCP_HEADER_LEN > end) return false;
    const thl = tcpDataOffsetAt(o, l4);
    const flags = o[l4 + TCP_OFF_FLAGS];
    if (thl < TCP_HEADER_LEN || l4 + thl >= end) return false;       // no payload
    if (flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_URG | TCP_ECE | TCP_CWR)) return false;
    if (!this.startChecked(b, src, len, src + l3 - f, src + l4 - f, v6, IPPROTO_TCP, sum)) return false;
    this.openL3 = l3; this.openL4 = l4; this.openV6 = v6; this.openUdp = false;
    this.openHdr = l4 + thl - f;
    this.openMss = len - this.openHdr;
    this.openSegs = 1;
    this.nextSeq = (tcpSeqAt(o, l4) + this.openMss) >>> 0;
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
    if (sum < 0) sum = csumImpl()(b, l3 + (v6 ? IPV6_HEADER_LEN : 0), f + len - l3 - (v6 ? IPV6_HEADER_LEN : 0), 0);
    const pseudo = addrs + proto + (f + len - l4);
    if (fold(sum + pseudo) === 0xffff) return true;
    const field = be16(b, l4 + (proto === IPPROTO_TCP ? TCP_OFF_CHECKSUM : UDP_OFF_CHECKSUM));
    return (field === fold(pseudo) || (field === 0 && proto === IPPROTO_UDP && !v6)) && (v6 || fold(sum16(b, l3, IPV4_HEADER_LEN)) === 0xffff);
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
    // Ethernet header (a TUN's packets have none), and the IP header but for length, ID and checksum.
    const l2 = this.l2;
    let d = l2 === 0 ? 0 : (v.getInt32(off, true) ^ w.getInt32(f, true)) | (v.getInt32(off + 4, true) ^ w.getInt32(f + 4, true))
      | (v.getInt32(off + 8, true) ^ w.getInt32(f + 8, true)) | (v.getUint16(off + 12, true) ^ w.getUint16(f + 12, true));
    if (!this.openV6) {
      if (b[l3] !== 0x45 || v.getUint16(l3 + 2) !== len - l2) return false;
      d |= (b[l3 + 1] ^ o[oL3 + 1]) | (v.getInt32(l3 + 6, true) ^ w.getInt32(oL3 + 6, true))
        | (v.getInt32(l3 + 12, true) ^ w.getInt32(oL3 + 12, true)) | (v.getInt32(l3 + 16, true) ^ w.getInt32(oL3 + 16, true));
    } else {
      if (v.getUint16(l3 + 4) !== len - l2 - IPV6_HEADER_LEN) return false;
      d |= (v.getInt32(l3, true) ^ w.getInt32(oL3, true)) | (v.getUint16(l3 + 6, true) ^ w.getUint16(oL3 + 6, true));
      for (let i = 8; i < 40; i += 4) d |= v.getInt32(l3 + i, true) ^ w.getInt32(oL3 + i, true);
    }
    if (this.openUdp) {
      // UDP: same ports, a length that matches, at most UDP_MAX_SEGS datagrams.
      if (this.openSegs >= UDP_MAX_SEGS || v.getUint16(l4 + UDP_OFF_LENGTH) !== UDP_HEADER_LEN + plen) return false;
      if ((d | (v.getInt32(l4, true) ^ w.getInt32(oL4, true))) !== 0) return false;
      if (!this.csumOk(b, off, len, l3, l4, this.openV6, IPPROTO_UDP, this.openAddrSum, sum)) return false;
      this.append(b, off + hdr, plen);
      if (plen < this.openMss) this.lastShort = true;
      return true;
    }
    // TCP: ports, ack, offset, flags (PSH may end the run), window, options.
    if (v.getUint32(l4 + TCP_OFF_SEQ) !== this.nextSeq) return false;
    const thl = hdr - (oL4 - f);
    const fl = b[l4 + TCP_OFF_FLAGS];
    d |= (v.getInt32(l4, true) ^ w.getInt32(oL4, true)) | (v.getInt32(l4 + TCP_OFF_ACK, true) ^ w.getInt32(oL4 + TCP_OFF_ACK, true))
      | (b[l4 + TCP_OFF_DATA_OFFSET] ^ o[oL4 + TCP_OFF_DATA_OFFSET]) | ((fl ^ o[oL4 + TCP_OFF_FLAGS]) & ~TCP_PSH)
      | (v.getUint16(l4 + TCP_OFF_WINDOW, true) ^ w.getUint16(oL4 + TCP_OFF_WINDOW, true));
    for (let i = TCP_HEADER_LEN; i < thl; i += 4) d |= v.getInt32(l4 + i, true) ^ w.getInt32(oL4 + i, true);   // options: 4-byte multiples
    if (d !== 0) return false;
    if (!this.csumOk(b, off, len, l3, l4, this.openV6, IPPROTO_TCP, this.openAddrSum, sum)) return false;

    this.append(b, off + hdr, plen);
    this.nextSeq = (this.nextSeq + plen) >>> 0;
    if (plen < this.openMss) this.lastShort = true;
    if (fl & TCP_PSH) { o[this.openL4 + TCP_OFF_FLAGS] |= TCP_PSH; this.lastPsh = true; }
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
      putBe16(o, l3 + 2, len - this.l2);
      putBe16(o, l3 + 10, 0);
      putBe16(o, l3 + 10, finish(sum16(o, l3, IPV4_HEADER_LEN)));
    } else {
      putBe16(o, l3 + 4, l4len);
    }
    // The L4 checksum is left for the kernel: the field holds the
    // pseudo-header sum over the whole length (NEEDS_CSUM), as Linux's own
    // GRO output would; cutting a UDP GSO frame adjusts it per datagram.
    const udp = this.openUdp;
    const proto = udp ? IPPROTO_UDP : IPPROTO_TCP;
    if (udp) putBe16(o, l4 + UDP_OFF_LENGTH, l4len);
    const pseudo = this.openV6 ? pseudoSumV6(o, l3 + 8, l3 + 24, proto, l4len) : pseudoSumV4(o, l3 + 12, l3 + 16, proto, l4len);
    let p = pseudo;
    while (p > 0xffff) p = (p & 0xffff) + (p >>> 16);
    const csumOff = udp ? UDP_OFF_CHECKSUM : TCP_OFF_CHECKSUM;
    putBe16(o, l4 + csumOff, p);
    let gso = VIRTIO_NET_HDR_GSO_NONE, hdrLen = 0, gsoSize = 0;
    if (udp) {
      if (this.openSegs > 1) {
        gso = VIRTIO_NET_HDR_GSO_UDP_L4; hdrLen = this.openHdr; gsoSize = this.openMss;
        this.udpFrames++;
      }
    } else if (this.openSegs > 1 || len - this.l2 > this.mtu) {
      gso = this.openV6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
      hdrLen = this.openHdr;
      // gso_size: the segments' size, or for a lone super-frame what fits the MTU.
      gsoSize = this.openSegs > 1 ? this.openMss : Math.max(1, this.mtu - (this.openHdr - this.l2));
    }
    writeVnet(o, h, VIRTIO_NET_HDR_F_NEEDS_CSUM, gso, hdrLen, gsoSize, l4 - f, csumOff);
  }

  /** Closes the open super-frame; call before writing `offs`/`lens`. */
  flush(): void {
    this.closeOpen();
    this.pStart[this.count] = this.pCount;
  }
}

/**
 * The kernel's side of a TAP write (Tap's: tapWritev): writes the output
 * frames from `from` on and returns how many it took; or throws EAGAIN (the
 * queue is full), or another errno when it refuses the first (EIO: down).
 */
export interface TapKernel {
  writev(c: Coalescer, from: number, slab: Buffer): number;
}

/** What a TAP write keeps between calls: the coalescer and, per write, where each input frame went. */
export class TapWritePlan {
  readonly c: Coalescer;
  /** Which output frame each input frame went into; which output frames the kernel refused. */
  outOf: Int32Array;
  readonly refusedOut: Uint8Array;

  /**
   * As Tap writes: frames of a batch of `batch`, each head behind a fresh
   * header and the rest gathered from the batch's slab (writev); merging
   * with `offload`, UDP runs too with `uso`; `mtu` the TAP's; `l2` the link
   * header's length (0: a TUN's packets, as Tun writes them).
   */
  constructor(batch: number, offload: boolean, mtu: number, uso: boolean, l2 = ETH_HEADER_LEN) {
    this.c = new Coalescer(Buffer.alloc(batch * (VNET_HDR_LEN + GATHER_HEAD)), batch, offload, mtu, 65535, uso, true, l2);
    this.outOf = new Int32Array(batch);
    this.refusedOut = new Uint8Array(batch);
  }
}

/**
 * What Tap.write does before its system call: the frames of `batch` into
 * the plan's coalescer, until it is full. Returns how many it took; the
 * caller counts the rest as not written.
 */
export function planTapWrite(w: TapWritePlan, batch: FrameBatch, stats: TapStats): number {
  const c = w.c, m0 = c.merged, k0 = c.csumMarked, x0 = c.csumBad;
  c.reset();
  let taken = 0;
  if (batch.count > w.outOf.length) w.outOf = new Int32Array(batch.count);
  const outOf = w.outOf;
  c.sumBatch(batch.buf, batch.off, batch.len, batch.count);
  const sums = c.sums;
  for (let i = 0; i < batch.count; i++) {
    if (!c.add(batch.buf, batch.off[i], batch.len[i], i < sums.length ? sums[i] : -1)) break;
    outOf[taken++] = c.count - 1;
  }
  c.flush();
  stats.coalesced += c.merged - m0;
  stats.csumMarkedOut += c.csumMarked - k0;
  stats.csumBadOut += c.csumBad - x0;
  return taken;
}

/**
 * The plan (`taken` input frames, from `slab`) through `kernel`, and what
 * Tap.write reports: how many input frames were written. The kernel stops
 * at EAGAIN (the queue is full: drop the rest) or at a frame it refuses
 * (skip it, counted in stats.refused, and go on). Merged segments share
 * their output frame's fate.
 */
export function sendTapWrite(w: TapWritePlan, slab: Buffer, taken: number, kernel: TapKernel, stats: TapStats): number {
  const c = w.c, n = c.count;
  let i = 0, written = 0, refused = 0;
  while (i < n) {
    let k: number;
    try {
      k = kernel.writev(c, i, slab);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
      stats.refused++;
      if (refused++ === 0) w.refusedOut.fill(0, 0, n);
      w.refusedOut[i] = 1;
      i++;
      continue;
    }
    if (k === 0) break;
    written += k;
    i += k;
  }
  if (refused > 0) {
    let lost = 0;
    for (let j = 0; j < taken; j++) lost += w.refusedOut[w.outOf[j]];
    taken -= lost;
  }
  // Everything taken was written unless the queue filled.
  return i >= n ? taken : Math.min(taken, written);
}
