// In-memory twins of the TAP and the UDP socket (io/ports.ts), so the
// forwarding loop runs in a unit test: frames and datagrams are queued in,
// what the loop writes and sends is recorded as copies, and `pump()` calls
// the readiness callbacks the way the poller would (until nothing is left).

import type { FramePort, DatagramPort } from '../../src/io/ports.js';
import { DatagramBatch, FrameBatch, HEADROOM, type SendList } from '../../src/io/batch.js';
import type { PeerTable } from '../../src/fdb/peers.js';
import { v4words } from './packets.js';

const SLOT = HEADROOM + 65536;

export class MemoryTap implements FramePort {
  /** Frames the loop will read, oldest first. */
  readonly inbox: Buffer[] = [];
  /** Copies of the frames the loop wrote. */
  readonly written: Buffer[] = [];
  cb: ((err?: Error) => void) | null = null;
  closed = false;
  private readonly slab: Buffer;

  constructor(private readonly batch = 64) {
    this.slab = Buffer.alloc(batch * SLOT);
  }

  read(b: FrameBatch): number {
    b.buf = this.slab;
    b.count = 0;
    while (this.inbox.length > 0 && b.count < Math.min(b.capacity, this.batch)) {
      const f = this.inbox.shift()!;
      const at = b.count * SLOT + HEADROOM;
      f.copy(this.slab, at);
      b.push(at, f.length);
    }
    return b.count;
  }

  write(b: FrameBatch): number {
    for (let i = 0; i < b.count; i++) this.written.push(Buffer.from(b.buf.subarray(b.off[i], b.off[i] + b.len[i])));
    return b.count;
  }

  onReadable(cb: (err?: Error) => void): void { this.cb = cb; }
  close(): void { this.closed = true; }
}

export interface Sent { peer: string; port: number; payload: Buffer }

export class MemoryUdp implements DatagramPort {
  /** Datagrams the loop will receive: VXLAN payload and source IPv4 address. */
  readonly inbox: { payload: Buffer; from: string }[] = [];
  readonly sent: Sent[] = [];
  cb: ((err?: Error) => void) | null = null;
  closed = false;
  private readonly slab: Buffer;

  constructor(private readonly batch = 64) {
    this.slab = Buffer.alloc(batch * SLOT);
  }

  recv(b: DatagramBatch): number {
    b.buf = this.slab;
    b.count = 0;
    while (this.inbox.length > 0 && b.count < Math.min(b.capacity, this.batch)) {
      const d = this.inbox.shift()!;
      const i = b.count++;
      const at = i * SLOT + HEADROOM;
      d.payload.copy(this.slab, at);
      b.off[i] = at;
      b.len[i] = d.payload.length;
      b.srcAddr.set(v4words(d.from), i * 4);
      b.srcPort[i] = 40000;
    }
    return b.count;
  }

  send(list: SendList, peers: PeerTable, slab: Buffer): number {
    for (let j = 0; j < list.count; j++) {
      // A datagram with a tail is its head here and its last tailLen bytes where the read left them, as the socket gathers it.
      const off = list.off[j], len = list.len[j], tail = list.tailLen[j];
      const payload = Buffer.concat([slab.subarray(off, off + len - tail), slab.subarray(list.tailOff[j], list.tailOff[j] + tail)]);
      this.sent.push({ peer: peers.ipString(list.peer[j]), port: peers.port(list.peer[j]), payload });
    }
    return list.count;
  }

  onReadable(cb: (err?: Error) => void): void { this.cb = cb; }
  close(): void { this.closed = true; }
}

/** Calls every port's readiness callback until no inbox holds anything (at most 1000 rounds). */
export function pump(taps: MemoryTap[], udp: MemoryUdp): void {
  for (let round = 0; round < 1000; round++) {
    if (udp.inbox.length === 0 && taps.every((t) => t.inbox.length === 0)) return;
    if (udp.inbox.length > 0) udp.cb?.();
    for (const t of taps) if (t.inbox.length > 0) t.cb?.();
  }
  throw new Error('pump: the ports never drained');
}
