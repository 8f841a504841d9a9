// The TUN device of flannel's udp backend: bare IPv4 packets (IFF_TUN,
// IFF_NO_PI: no Ethernet header, no packet-information prefix) between the
// host's network stack and weft, as flannel's `flannel0`.
//
// A FramePort whose "frames" are IP packets: read fills a batch (each packet
// with HEADROOM bytes free in front, as the contract says, though the udp
// backend adds no header), write hands a batch to the kernel, one writev per
// packet, straight from wherever the packets lie (the socket's slab for
// received datagrams; nothing is copied). No virtio-net header and no
// offloads: the kernel completes every checksum before a packet reaches
// weft, and every packet is at most the device's MTU.
//
// The device is not persistent: it disappears when its file descriptor is
// closed, so a crashed weft leaves no device behind.

import { native } from './native.js';
import { PolledFd } from './polled-fd.js';
import { HEADROOM, type FrameBatch } from './batch.js';
import type { FramePort } from './ports.js';

/**
 * Room per packet: the largest IPv4 packet, so that a packet the kernel
 * hands over is never cut short (the TUN's MTU can be raised by hand past
 * weft's; the data path drops what is too big, whole).
 */
const SLOT = (HEADROOM + 65535 + 63) & ~63;

export interface TunStats {
  /** Packets the kernel refused on write (not queue-full drops). */
  refused: number;
}

export class Tun implements FramePort {
  readonly fd: number;
  readonly name: string;
  readonly stats: TunStats = { refused: 0 };
  private readonly watch: PolledFd;
  private readonly slab: Buffer;
  private readonly offs: Int32Array;
  private readonly lens: Int32Array;
  private readonly max: number;
  /** writev's pieces: none, so every packet is its head alone. */
  private readonly noPieces = new Int32Array(0);
  private readonly pstart: Int32Array;

  /** Opens (creating) the TUN `name`; reads move up to `batch` packets. */
  constructor(name: string, batch: number) {
    const n = native();
    const t = n.tapOpen(name, n.TAP_TUN);
    this.fd = t.fd;
    this.name = t.name;
    this.watch = new PolledFd(this.fd);
    this.max = batch;
    this.slab = Buffer.alloc(batch * SLOT);
    this.offs = new Int32Array(batch);
    for (let i = 0; i < batch; i++) this.offs[i] = i * SLOT + HEADROOM;
    this.lens = new Int32Array(batch);
    this.pstart = new Int32Array(batch + 1);
  }

  read(batch: FrameBatch): number {
    const max = Math.min(this.max, batch.capacity);
    const got = native().tapRead(this.fd, this.slab, this.offs, this.lens, max, SLOT - HEADROOM);
    batch.buf = this.slab;
    batch.count = 0;
    for (let i = 0; i < got; i++) batch.push(this.offs[i], this.lens[i]);
    return got;
  }

  /**
   * Writes every packet of `batch`; returns how many the kernel took. A
   * packet it refuses is counted (stats.refused) and skipped; a full queue
   * (EAGAIN) ends the batch, the rest unwritten.
   */
  write(batch: FrameBatch): number {
    const n = batch.count;
    let i = 0, written = 0;
    while (i < n) {
      let k: number;
      try {
        k = i === 0
          ? native().tapWritev(this.fd, batch.buf, batch.off, batch.len, batch.buf, this.noPieces, this.noPieces, this.pstart, n)
          : native().tapWritev(this.fd, batch.buf, batch.off.subarray(i), batch.len.subarray(i), batch.buf, this.noPieces, this.noPieces, this.pstart, n - i);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break;
        this.stats.refused++;
        i++;
        continue;
      }
      if (k === 0) break;
      written += k;
      i += k;
    }
    return written;
  }

  onReadable(cb: (err?: Error) => void): void { this.watch.onReadable(cb); }

  close(): void { this.watch.close(); }
}
