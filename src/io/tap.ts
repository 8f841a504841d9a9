// The TAP device: frames between the host's network stack and weft.
//
// Opened with IFF_VNET_HDR so that frames written towards the host can carry
// "complete this checksum" (see datapath/vnet.ts). No offloads are enabled
// (TUNSETOFFLOAD 0), so frames read from the host arrive with complete
// checksums and no GSO, and their virtio-net header is all zeros: it is read
// into the headroom and ignored.
//
// The device is not persistent: it disappears when its file descriptor is
// closed, so a crashed weft leaves no device behind.

import { native } from './native.js';
import { HEADROOM } from '../datapath/batch.js';
import type { FrameBatch } from '../datapath/batch.js';
import { VNET_HDR_LEN } from '../datapath/vnet.js';
import type { FramePort } from './ports.js';

/** Largest frame read from the TAP: a 64 KiB MTU plus the Ethernet header. */
const MAX_FRAME = 65535 + 14;

export class Tap implements FramePort {
  readonly fd: number;
  readonly name: string;
  private readonly slab: Buffer;
  private readonly slot: number;
  private readonly maxLen: number;
  private readonly woffs: Int32Array;
  private readonly wlens: Int32Array;
  private poll: object | null = null;
  private closed = false;

  /** Opens (creates) the TAP `name`; batches of up to `batch` frames of at most `mtu` + 14 bytes. */
  constructor(name: string, batch: number, mtu: number) {
    const t = native().tapOpen(name, native().TAP_VNET_HDR);
    this.fd = t.fd;
    this.name = t.name;
    native().tapSetVnetHdrSize(this.fd, VNET_HDR_LEN);
    native().tapSetOffload(this.fd, 0);
    this.maxLen = Math.min(MAX_FRAME, mtu + 14) + VNET_HDR_LEN;
    // Each slot: headroom, the vnet header inside it, then the frame.
    this.slot = (HEADROOM + this.maxLen + 63) & ~63;
    this.slab = Buffer.alloc(this.slot * batch);
    this.woffs = new Int32Array(batch);
    this.wlens = new Int32Array(batch);
  }

  read(batch: FrameBatch): number {
    const n = batch.capacity;
    const offs = batch.off;
    for (let i = 0; i < n; i++) offs[i] = i * this.slot + HEADROOM - VNET_HDR_LEN;
    const got = native().tapRead(this.fd, this.slab, offs, batch.len, n, this.maxLen);
    batch.buf = this.slab;
    let k = 0;
    for (let i = 0; i < got; i++) {
      const len = batch.len[i] - VNET_HDR_LEN;
      if (len <= 0) continue;
      offs[k] = offs[i] + VNET_HDR_LEN;
      batch.len[k] = len;
      k++;
    }
    batch.count = k;
    return k;
  }

  write(batch: FrameBatch): number {
    if (batch.count === 0) return 0;
    const offs = this.woffs.length >= batch.count ? this.woffs : new Int32Array(batch.count);
    const lens = this.wlens.length >= batch.count ? this.wlens : new Int32Array(batch.count);
    for (let i = 0; i < batch.count; i++) {
      offs[i] = batch.off[i] - VNET_HDR_LEN;
      lens[i] = batch.len[i] + VNET_HDR_LEN;
    }
    // tapWrite stops at EAGAIN (the queue is full: drop the rest) or at a
    // frame the kernel refuses (it throws when that frame is the first of
    // the call: skip it and go on). Either way the caller counts what was not written.
    const n = batch.count;
    let i = 0, written = 0;
    while (i < n) {
      let k: number;
      try {
        k = native().tapWrite(this.fd, batch.buf, i === 0 ? offs : offs.subarray(i), i === 0 ? lens : lens.subarray(i), n - i);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        this.refused++;
        i++;
        continue;
      }
      if (k === 0) break;
      written += k;
      i += k;
    }
    return written;
  }

  /** Frames the kernel refused (not a queue-full drop); for diagnosis. */
  refused = 0;

  onReadable(cb: (err?: Error) => void): void {
    this.poll = native().pollStart(this.fd, cb);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.poll) native().pollStop(this.poll);
    native().close(this.fd);
  }
}
