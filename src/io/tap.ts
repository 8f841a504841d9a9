// The TAP device: frames between the host's network stack and weft.
//
// Opened with IFF_VNET_HDR: every frame carries a virtio-net header, which
// is how the kernel and weft tell each other about unfinished checksums and
// TCP super-frames. With offloads on (the default; TUNSETOFFLOAD CSUM|TSO4|
// TSO6) the host hands weft TCP super-frames of up to 64 KiB, which read()
// cuts into MTU-sized frames (offload.ts), and write() glues in-order TCP
// segments back into super-frames, so the host's stack handles one 64 KiB
// frame where it would otherwise handle ~45. With offloads off (older
// kernels, or --no-offload) frames are plain, one per MTU.
//
// The data path sees only ordinary Ethernet frames, each with HEADROOM (or,
// for cut segments, 8) bytes free in front. The virtio-net header stays here.
//
// The device is not persistent: it disappears when its file descriptor is
// closed, so a crashed weft leaves no device behind.

import { native } from './native.js';
import { PolledFd } from './polled-fd.js';
import { HEADROOM } from './batch.js';
import type { FrameBatch } from './batch.js';
import { VNET_HDR_LEN, VIRTIO_NET_HDR_F_NEEDS_CSUM } from './vnet.js';
import { segmentTcp, segmentUdp, completeChecksum, TcpCoalescer, GATHER_HEAD, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4 } from './offload.js';
import type { FramePort } from './ports.js';

/** Largest frame read from the TAP: a 64 KiB super-frame plus the Ethernet header. */
const MAX_FRAME = 65535 + 14;
/** Most segments one super-frame may be cut into (64 KiB at an MSS of ~1 KiB). */
const MAX_SEGS = 64;
/** Room for one super-frame's segments: payload plus a header and gap per segment. */
const SPLIT_ROOM = MAX_FRAME + MAX_SEGS * (8 + 14 + 60 + 60);

export interface TapStats {
  /** Super-frames read and cut into segments. */
  superFramesIn: number;
  /** Segments made from them. */
  segmentsOut: number;
  /** Frames whose partial checksum weft completed on read. */
  csumCompletedIn: number;
  /** Frames read that could not be used (a GSO type weft did not ask for, a bad super-frame). */
  badIn: number;
  /** Segments merged into a super-frame on write. */
  coalesced: number;
  /** Frames written with a partial checksum marked for the kernel to complete. */
  csumMarkedOut: number;
  /** Frames written unmerged because a checksum did not verify (TcpCoalescer.csumBad). */
  csumBadOut: number;
  /** Frames the kernel refused on write (not queue-full drops). */
  refused: number;
}

export interface TapOptions {
  name: string;
  mtu: number;
  /** Frames per batch the data path handles; reads are sized to fit it. */
  batch: number;
  /** Ask for TSO/checksum offload (default true; falls back when refused). */
  offload?: boolean;
  /**
   * Cut TCP super-frames into headers only, leaving each payload in the
   * super-frame (FrameBatch tails), for a socket that gathers (UdpSocket.gso).
   */
  tails?: boolean;
}

export class Tap implements FramePort {
  readonly fd: number;
  private readonly watch: PolledFd;
  readonly name: string;
  /** Whether the kernel took the offload flags (TSO), and USO too. */
  readonly offload: boolean;
  readonly uso: boolean;
  readonly stats: TapStats = { superFramesIn: 0, segmentsOut: 0, csumCompletedIn: 0, badIn: 0, coalesced: 0, csumMarkedOut: 0, csumBadOut: 0, refused: 0 };
  private readonly slab: Buffer;
  private readonly rawSlot: number;
  private readonly rawMax: number;
  private readonly splitBase: number;
  private readonly maxLen: number;
  private readonly rawOffs: Int32Array;
  private readonly rawLens: Int32Array;
  private readonly coalescer: TcpCoalescer;
  /** write(): which output frame each input frame went into, and which output frames the kernel refused. */
  private outOf: Int32Array;
  private readonly refusedOut: Uint8Array;
  private cur: FrameBatch | null = null;
  private readonly tails: boolean;
  private readonly emit = (off: number, len: number, tailOff: number, tailLen: number): void => {
    const b = this.cur!;
    if (b.count === b.capacity) return;
    if (tailLen > 0) b.pushSplit(off, len, tailOff, tailLen);
    else b.push(off, len);
  };

  constructor(o: TapOptions) {
    const n = native();
    const t = n.tapOpen(o.name, n.TAP_VNET_HDR);
    this.fd = t.fd;
    this.watch = new PolledFd(this.fd);
    this.name = t.name;
    let offload = false;
    let uso = false;
    try {
      n.tapSetVnetHdrSize(this.fd, VNET_HDR_LEN);
      if (o.offload !== false) {
        const tso = n.TUN_F_CSUM | n.TUN_F_TSO4 | n.TUN_F_TSO6;
        // USO (Linux 6.2+): both flags or neither. A kernel that takes them
        // also takes UDP super-frames written to the TAP.
        try {
          n.tapSetOffload(this.fd, tso | n.TUN_F_USO4 | n.TUN_F_USO6);
          uso = true;
        } catch {
          n.tapSetOffload(this.fd, tso);
        }
        offload = true;
      } else {
        n.tapSetOffload(this.fd, 0);
      }
    } catch {
      // An older kernel without TSO on TAP: plain frames, one per MTU.
      n.tapSetOffload(this.fd, 0);
    }
    this.offload = offload;
    this.uso = uso;
    this.tails = offload && o.tails === true;
    // Room for the largest frame whatever the offloads: the TAP's MTU can be
    // raised by hand above weft's (and a tagged frame is 4 bytes longer), and
    // a frame cut short by the read would go out truncated instead of being
    // dropped as too big and answered (datapath/pmtu.ts).
    this.maxLen = MAX_FRAME + VNET_HDR_LEN;
    this.rawSlot = (HEADROOM + this.maxLen + 63) & ~63;
    // Read few enough frames that their segments fit the data path's batch.
    this.rawMax = offload ? Math.max(1, Math.floor(o.batch / MAX_SEGS)) : o.batch;
    this.splitBase = this.rawSlot * this.rawMax;
    this.slab = Buffer.alloc(this.splitBase + (offload ? SPLIT_ROOM * this.rawMax : 0));
    this.rawOffs = new Int32Array(this.rawMax);
    this.rawLens = new Int32Array(this.rawMax);
    for (let i = 0; i < this.rawMax; i++) this.rawOffs[i] = i * this.rawSlot + HEADROOM - VNET_HDR_LEN;
    // Writes: a fresh header and each frame's head go in front of the rest,
    // which stays in the socket's slab and goes out by writev; TCP runs are
    // merged.
    this.coalescer = new TcpCoalescer(Buffer.alloc(o.batch * (VNET_HDR_LEN + GATHER_HEAD)), o.batch, offload, o.mtu, 65535, uso, true);
    this.outOf = new Int32Array(o.batch);
    this.refusedOut = new Uint8Array(o.batch);
  }

  /**
   * Frames the data path should size its batches for: with offloads, `batch`
   * reads of which each may be cut into up to MAX_SEGS segments, so that
   * small frames still move `batch` per system call.
   */
  static batchFor(batch: number, offload: boolean): number {
    return offload ? batch * MAX_SEGS : batch;
  }

  read(batch: FrameBatch): number {
    const s = this.slab;
    const got = native().tapRead(this.fd, s, this.rawOffs, this.rawLens, this.rawMax, this.maxLen);
    batch.buf = s;
    batch.count = 0;
    this.cur = batch;
    let split = this.splitBase;
    for (let i = 0; i < got; i++) {
      const h = this.rawOffs[i];
      const f = h + VNET_HDR_LEN;
      const len = this.rawLens[i] - VNET_HDR_LEN;
      if (len <= 0) { this.stats.badIn++; continue; }
      const gso = s[h + 1] & 0x7f;
      if (gso === VIRTIO_NET_HDR_GSO_NONE) {
        if ((s[h] & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
          if (!completeChecksum(s, f, len, s.readUInt16LE(h + 6), s.readUInt16LE(h + 8))) { this.stats.badIn++; continue; }
          this.stats.csumCompletedIn++;
        }
        // Issue 7: a frame that does not fit the batch is counted, not lost silently.
        if (batch.count < batch.capacity) batch.push(f, len); else this.stats.badIn++;
        continue;
      }
      const before = batch.count;
      let used: number;
      if (gso === VIRTIO_NET_HDR_GSO_TCPV4 || gso === VIRTIO_NET_HDR_GSO_TCPV6) {
        used = segmentTcp(s, f, len, s.readUInt16LE(h + 4), gso === VIRTIO_NET_HDR_GSO_TCPV6, s, split, s.length - split, 8, this.emit, batch.capacity - before, this.tails);
      } else if (gso === VIRTIO_NET_HDR_GSO_UDP_L4) {
        used = segmentUdp(s, f, len, s.readUInt16LE(h + 4), s.readUInt16BE(f + 12) === 0x86dd, s, split, s.length - split, 8, this.emit, batch.capacity - before);
      } else {
        this.stats.badIn++;
        continue;
      }
      if (used < 0) { this.stats.badIn++; continue; }
      split += used;
      this.stats.superFramesIn++;
      this.stats.segmentsOut += batch.count - before;
    }
    this.cur = null;
    return batch.count;
  }

  write(batch: FrameBatch): number {
    const c = this.coalescer;
    c.reset();
    const m0 = c.merged, k0 = c.csumMarked, x0 = c.csumBad;
    let taken = 0;
    if (batch.count > this.outOf.length) this.outOf = new Int32Array(batch.count);
    c.sumBatch(batch.buf, batch.off, batch.len, batch.count);
    const sums = c.sums;
    for (let i = 0; i < batch.count; i++) {
      if (!c.add(batch.buf, batch.off[i], batch.len[i], i < sums.length ? sums[i] : -1)) break;
      this.outOf[taken++] = c.count - 1;
    }
    c.flush();
    this.stats.coalesced += c.merged - m0;
    this.stats.csumMarkedOut += c.csumMarked - k0;
    this.stats.csumBadOut += c.csumBad - x0;
    // tapWritev stops at EAGAIN (the queue is full: drop the rest) or at a
    // frame the kernel refuses (it throws when that frame is the first of
    // the call: skip it and go on; e.g. EIO while the TAP is down). Either
    // way the caller counts what was not written, in input frames: merged
    // segments share their frame's fate.
    const n = c.count;
    let i = 0, written = 0, refused = 0;
    while (i < n) {
      let k: number;
      try {
        const offs = i === 0 ? c.offs : c.offs.subarray(i), lens = i === 0 ? c.lens : c.lens.subarray(i);
        k = native().tapWritev(this.fd, c.out, offs, lens, batch.buf, c.pOffs, c.pLens, i === 0 ? c.pStart : c.pStart.subarray(i), n - i);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        this.stats.refused++;
        if (refused++ === 0) this.refusedOut.fill(0, 0, n);
        this.refusedOut[i] = 1;
        i++;
        continue;
      }
      if (k === 0) break;
      written += k;
      i += k;
    }
    if (refused > 0) {
      let lost = 0;
      for (let j = 0; j < taken; j++) lost += this.refusedOut[this.outOf[j]];
      taken -= lost;
    }
    // Report in input frames: everything taken was written unless the queue filled.
    return i >= n ? taken : Math.min(taken, written);
  }

  onReadable(cb: (err?: Error) => void): void { this.watch.onReadable(cb); }

  close(): void { this.watch.close(); }
}
