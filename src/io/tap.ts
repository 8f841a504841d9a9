// The TAP device: frames between the host's network stack and weft.
//
// Opened with IFF_VNET_HDR: every frame carries a virtio-net header, which
// is how the kernel and weft tell each other about unfinished checksums and
// TCP super-frames. With offloads on (the default; TUNSETOFFLOAD CSUM|TSO4|
// TSO6) the host hands weft TCP super-frames of up to 64 KiB, which read()
// cuts into MTU-sized frames (tap-read.ts), and write() glues in-order TCP
// segments back into super-frames (tap-write.ts), so the host's stack handles one 64 KiB
// frame where it would otherwise handle ~45. With offloads off (older
// kernels, or --no-offload) frames are plain, one per MTU.
//
// The data path sees only ordinary Ethernet frames, each with HEADROOM (or,
// for cut segments, 8) bytes free in front. The virtio-net header stays here.
//
// This file is the device: its system calls, and the calls into tap-read.ts
// and tap-write.ts around them, which hold everything done with the frames
// (pure functions, which the tests drive too).
//
// The device is persistent (TUNSETPERSIST): it outlives the process, so a
// weft that dies leaves it, with its addresses, routes and neighbour
// entries, for the next one to attach to (tap-persist.ts checks it first).
// close() removes it unless `removeOnClose` was turned off (a handover, or
// `weft run --keep-tap`). The queues of a multi-queue TAP (`weft run
// --workers N`, one queue per worker) are not made persistent: the device
// goes when its last queue closes.

import { native } from './native.js';
import { PolledFd } from './polled-fd.js';
import type { FrameBatch } from './batch.js';
import { VNET_HDR_LEN } from './vnet.js';
import { TapReadSlab } from './tap-read.js';
import { TapWritePlan, planTapWrite, sendTapWrite, type Coalescer, type TapKernel } from './tap-write.js';
import type { FramePort } from './ports.js';
import { ETH_HEADER_LEN } from '../wire/ethernet.js';

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
  /** Frames written unmerged because a checksum did not verify (Coalescer.csumBad). */
  csumBadOut: number;
  /** Frames the kernel refused on write (not queue-full drops). */
  refused: number;
}

export function newTapStats(): TapStats {
  return { superFramesIn: 0, segmentsOut: 0, csumCompletedIn: 0, badIn: 0, coalesced: 0, csumMarkedOut: 0, csumBadOut: 0, refused: 0 };
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
  /** An fd already attached to the TAP `name` (handed over by the weft this one replaces), used instead of opening it. */
  adopt?: number;
  /**
   * Open one queue of a multi-queue TAP (IFF_MULTI_QUEUE): a worker's
   * (weft run --workers). Not made persistent: the device goes with its
   * last queue, as a handover or reattach of several queues is not offered.
   */
  multiQueue?: boolean;
  /** A queue openTapFd opened already (in another thread of this process): use its fd instead of opening one. */
  opened?: OpenedTap;
}

/** An open TAP fd and what the kernel granted it: what a worker needs to take it over. */
export interface OpenedTap { fd: number; name: string; offload: boolean; uso: boolean }

/**
 * Opens the TAP (or one more queue of it; or takes `adopt`'s fd) with its
 * virtio-net header and the offloads the kernel takes. With `tun`, a TUN
 * (IFF_TUN: bare IP packets, the udp backend's) the same way: the kernel
 * offers a TUN the same header and offloads.
 */
export function openTapFd(o: Pick<TapOptions, 'name' | 'offload' | 'multiQueue' | 'adopt'> & { tun?: boolean }): OpenedTap {
  const n = native();
  const t = o.adopt !== undefined ? { fd: o.adopt, name: o.name }
    : n.tapOpen(o.name, n.TAP_VNET_HDR | (o.multiQueue === true ? n.TAP_MULTI_QUEUE : 0) | (o.tun === true ? n.TAP_TUN : 0));
  const fd = t.fd;
  let offload = false;
  let uso = false;
  try {
    n.tapSetVnetHdrSize(fd, VNET_HDR_LEN);
    if (o.offload !== false) {
      const tso = n.TUN_F_CSUM | n.TUN_F_TSO4 | n.TUN_F_TSO6;
      // USO (Linux 6.2+): both flags or neither. A kernel that takes them
      // also takes UDP super-frames written to the TAP.
      try {
        n.tapSetOffload(fd, tso | n.TUN_F_USO4 | n.TUN_F_USO6);
        uso = true;
      } catch {
        n.tapSetOffload(fd, tso);
      }
      offload = true;
    } else {
      n.tapSetOffload(fd, 0);
    }
  } catch {
    // An older kernel without TSO on TAP: plain frames, one per MTU.
    n.tapSetOffload(fd, 0);
  }
  return { fd, name: t.name, offload, uso };
}

/**
 * What an open TAP and the udp backend's TUN (io/tun.ts) share: the fd with
 * its virtio-net header, read through tap-read.ts (super-frames cut) and
 * written through tap-write.ts (runs merged), behind a link header of `l2`
 * bytes: the TAP's Ethernet, none for the TUN's bare IP. The subclasses say
 * how the device is opened and what closing it does.
 */
export abstract class VnetPort implements FramePort {
  readonly fd: number;
  protected readonly watch: PolledFd;
  readonly name: string;
  /** Whether the kernel took the offload flags (TSO), and USO too. */
  readonly offload: boolean;
  readonly uso: boolean;
  readonly stats: TapStats = newTapStats();
  private readonly rx: TapReadSlab;
  private readonly tx: TapWritePlan;
  private readonly kernel: TapKernel;

  /** `t` opened; batches of `batch` frames for the data path; `mtu` the device's; `tails` as TapOptions'. */
  protected constructor(t: OpenedTap, batch: number, mtu: number, tails: boolean, l2: number) {
    this.fd = t.fd;
    this.watch = new PolledFd(this.fd);
    this.name = t.name;
    const offload = this.offload = t.offload;
    this.uso = t.uso;
    // Room for the largest frame whatever the offloads: the device's MTU can be
    // raised by hand above weft's (and a tagged frame is 4 bytes longer), and
    // a frame cut short by the read would go out truncated instead of being
    // dropped as too big and answered (datapath/pmtu.ts). Few enough frames
    // per read that their segments fit the data path's batch.
    this.rx = new TapReadSlab(TapReadSlab.readsFor(batch, offload), offload, offload && tails, l2);
    // Writes: a fresh header and each frame's head go in front of the rest,
    // which stays in the socket's slab and goes out by writev; TCP runs are
    // merged.
    this.tx = new TapWritePlan(batch, offload, mtu, t.uso, l2);
    const fd = this.fd;
    this.kernel = {
      writev(c: Coalescer, from: number, slab: Buffer): number {
        if (from === 0) return native().tapWritev(fd, c.out, c.offs, c.lens, slab, c.pOffs, c.pLens, c.pStart, c.count);
        return native().tapWritev(fd, c.out, c.offs.subarray(from), c.lens.subarray(from), slab, c.pOffs, c.pLens, c.pStart.subarray(from), c.count - from);
      },
    };
  }

  /**
   * Frames the data path should size its batches for: with offloads, `batch`
   * reads of which each may be cut into up to TAP_MAX_SEGS segments, so that
   * small frames still move `batch` per system call.
   */
  static batchFor(batch: number, offload: boolean): number {
    return TapReadSlab.batchFor(batch, offload);
  }

  read(batch: FrameBatch): number {
    const rx = this.rx;
    const got = native().tapRead(this.fd, rx.slab, rx.rawOffs, rx.rawLens, rx.rawMax, rx.maxLen);
    return rx.fill(got, batch, this.stats);
  }

  write(batch: FrameBatch): number {
    const taken = planTapWrite(this.tx, batch, this.stats);
    return sendTapWrite(this.tx, batch.buf, taken, this.kernel, this.stats);
  }

  onReadable(cb: (err?: Error) => void): void { this.watch.onReadable(cb); }

  pauseReading(): void { this.watch.pause(); }

  resumeReading(): void { this.watch.resume(); }

  abstract close(): void;
}

export class Tap extends VnetPort {
  /** Whether close() deletes the device (turns persistence off first). */
  removeOnClose = true;
  private closed = false;

  constructor(o: TapOptions) {
    const n = native();
    const t = o.opened ?? openTapFd(o);
    if (o.opened === undefined && o.multiQueue !== true) {
      try {
        n.tapSetPersist(t.fd, true);
      } catch (e) {
        if (o.adopt === undefined) n.close(t.fd);
        throw e;
      }
    }
    super(t, o.batch, o.mtu, o.tails === true, ETH_HEADER_LEN);
  }

  /** Closes the fd; with removeOnClose the device goes with it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.removeOnClose) {
      try { native().tapSetPersist(this.fd, false); } catch { /* already gone: nothing to remove */ }
    }
    this.watch.close();
  }
}
