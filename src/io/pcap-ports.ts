// Pcap twins of the live ports (ports.ts), for `weft replay`: the forwarding
// loop runs over them exactly as it runs over the TAP and the UDP socket.
//
//   PcapFramePort     the TAP. read() hands out captured inner frames, each
//                     with HEADROOM free in front, in a slab the port owns;
//                     write() records the frames the loop writes into the
//                     TAP (decap output, ICMP answers) as the TAP gets them.
//   PcapTunPort       the udp backend's TUN: reads as the TAP's twin (bare
//                     IPv4 packets), writes each packet as it lies, as
//                     Tun.write hands it to the kernel.
//   PcapDatagramPort  the UDP socket. recv() hands out the payloads of
//                     captured outer frames that the kernel's UDP receive
//                     would deliver (OuterParser, counted by reason); send()
//                     adds the outer headers a sending host writes
//                     (OuterBuilder) and records the frame.
//
// Whoever drives them stages captured records into one port (stage()) until
// it is full, then calls ready(): it runs the callback the loop gave
// onReadable, as the poller does for a live port, until read()/recv() has
// handed out everything staged. Between ready() calls no view into the slab
// is held, so the next stage() reuses it: memory stays bounded however long
// the capture is.
//
// Every record written is stamped with the capture time of the record it
// came from, found through the `from` index FrameBatch and SendList keep;
// the ports of one replay share a RecordTimes for that.
//
// The TAP write side is the live TAP's (tap-write.ts: planTapWrite, then
// sendTapWrite with this port as the kernel), as on a TAP without offloads:
// each frame behind its own virtio-net header, never glued into a
// super-frame, so OUT holds the frames exactly as the loop wrote them.
//
// Nothing here allocates per record: staging copies into the slab, the
// batches are filled from typed arrays, and the writer copies out.

import { DatagramBatch, FrameBatch, HEADROOM, type SendList } from './batch.js';
import { TapWritePlan, planTapWrite, sendTapWrite, type Coalescer, type TapKernel } from './tap-write.js';
import { newTapStats, type TapStats } from './tap.js';
import { VNET_HDR_LEN } from './vnet.js';
import { writeReplayEthernet, type OuterParser, type OuterBuilder } from './outer.js';
import { ETH_HEADER_LEN, ETHERTYPE_IPV4 } from '../wire/ethernet.js';
import type { PcapWriter } from './pcap-write.js';
import type { FramePort, DatagramPort } from './ports.js';
import type { PeerTable } from '../fdb/peers.js';

/** Capture times of the staged records, by staging slot, and where the batch handed out last began. */
export class RecordTimes {
  readonly sec: Float64Array;
  readonly usec: Float64Array;
  /** The staging slot of entry 0 of the batch last read (its `from` indices count from here). */
  base = 0;

  constructor(slots: number) {
    this.sec = new Float64Array(slots);
    this.usec = new Float64Array(slots);
  }
}

export interface PcapPortOptions {
  /** Most records staged at once. */
  slots: number;
  /** Bytes of slab they are staged in; a record must fit with HEADROOM to spare. */
  slabBytes: number;
  times: RecordTimes;
  /**
   * The socket twin's bound port: a datagram whose send-list entry names no
   * source port (SendList.wantSrcPort off, the udp backend) leaves from it,
   * as from a bound socket.
   */
  localPort?: number;
}

/** What both ports share: the slab, staging bookkeeping and the readiness callback. */
abstract class Staged {
  protected readonly slab: Buffer;
  protected readonly slots: number;
  protected readonly times: RecordTimes;
  /** Records staged, and how many of them read()/recv() has handed out. */
  protected staged = 0;
  protected next = 0;
  protected used = 0;
  private cb: ((err?: Error) => void) | null = null;
  private closed = false;

  constructor(o: PcapPortOptions) {
    this.slab = Buffer.alloc(o.slabBytes);
    this.slots = o.slots;
    this.times = o.times;
  }

  /** Records staged and not yet handed out. */
  get waiting(): number { return this.staged - this.next; }

  protected stamp(slot: number, sec: number, usec: number): void {
    this.times.sec[slot] = sec;
    this.times.usec[slot] = usec;
  }

  onReadable(cb: (err?: Error) => void): void { this.cb = cb; }

  /**
   * Runs the loop's readiness callback until everything staged was handed
   * out (readiness is level-triggered), then frees the slab for staging.
   * Does nothing once the port is closed (the loop stopped).
   */
  ready(): void {
    while (this.next < this.staged && this.cb !== null && !this.closed) {
      const before = this.next;
      this.cb();
      // A loop that read nothing when called would be called forever.
      if (this.next === before) break;
    }
    this.staged = this.next = this.used = 0;
  }

  close(): void {
    this.closed = true;
    this.cb = null;
  }
}

/** The TAP's twin: frames from a capture in, frames the loop writes out to a pcap. */
export class PcapFramePort extends Staged implements FramePort, TapKernel {
  /** Frames written (decap output, ICMP answers). */
  written = 0;
  /** What the TAP's write side counted, as Tap.stats does. */
  readonly stats: TapStats = newTapStats();
  private readonly off: Int32Array;
  private readonly len: Int32Array;
  private readonly plan: TapWritePlan;
  /** The input frame each output frame of the current write came from (merging is off: the same index). */
  private writing: FrameBatch | null = null;
  /** An output frame (its head, then its pieces) is put together here before it is written. */
  private whole = Buffer.alloc(0);

  constructor(o: PcapPortOptions, protected readonly out: PcapWriter) {
    super(o);
    this.off = new Int32Array(o.slots);
    this.len = new Int32Array(o.slots);
    this.plan = new TapWritePlan(o.slots, false, 65535, false);
  }

  /**
   * Copies a captured frame into the slab, HEADROOM in front, as the TAP's
   * read leaves it. False, taking nothing, when the slots or the slab are
   * full: ready() first.
   */
  stage(data: Buffer, sec: number, usec: number): boolean {
    const at = this.used + HEADROOM;
    if (this.staged === this.slots || at + data.length > this.slab.length) return false;
    data.copy(this.slab, at);
    // Keep every frame 8-byte aligned, so headers land on aligned offsets.
    this.used = (at + data.length + 7) & ~7;
    const i = this.staged++;
    this.off[i] = at;
    this.len[i] = data.length;
    this.stamp(i, sec, usec);
    return true;
  }

  read(b: FrameBatch): number {
    b.buf = this.slab;
    b.count = 0;
    const first = this.next, n = Math.min(b.capacity, this.staged - first);
    for (let i = 0; i < n; i++) b.push(this.off[first + i], this.len[first + i]);
    this.times.base = first;
    this.next = first + n;
    return n;
  }

  /** As Tap.write: the write plan, then the "kernel" (writev below) takes it. */
  write(b: FrameBatch): number {
    const taken = planTapWrite(this.plan, b, this.stats);
    this.writing = b;
    const n = sendTapWrite(this.plan, b.buf, taken, this, this.stats);
    this.writing = null;
    this.written += n;
    return n;
  }

  /** The kernel's side of the write: output frames `from`… of `c` into the pcap, each head and its pieces joined. */
  writev(c: Coalescer, from: number, slab: Buffer): number {
    const t = this.times, b = this.writing!;
    for (let i = from; i < c.count; i++) {
      const head = c.offs[i] + VNET_HDR_LEN, headLen = c.lens[i] - VNET_HDR_LEN;
      let len = headLen;
      for (let j = c.pStart[i]; j < c.pStart[i + 1]; j++) len += c.pLens[j];
      if (this.whole.length < len) this.whole = Buffer.alloc(Math.max(len, 2048));
      c.out.copy(this.whole, 0, head, head + headLen);
      let at = headLen;
      for (let j = c.pStart[i]; j < c.pStart[i + 1]; j++) at += slab.copy(this.whole, at, c.pOffs[j], c.pOffs[j] + c.pLens[j]);
      const k = t.base + b.from[i];
      this.out.write(this.whole, 0, len, t.sec[k], t.usec[k]);
    }
    return c.count - from;
  }
}

/**
 * The TUN's twin (the udp backend): no virtio-net header and nothing
 * merged, so OUT holds each packet as written. `framed`: OUT is Ethernet
 * (replay's encap, where the datagrams go too), so each packet is written
 * behind an Ethernet header with the replay MACs, towards this host.
 */
export class PcapTunPort extends PcapFramePort {
  private readonly framed: Buffer | null;

  constructor(o: PcapPortOptions, out: PcapWriter, framed = false) {
    super(o, out);
    this.framed = framed ? Buffer.alloc(ETH_HEADER_LEN + 65535) : null;
    if (this.framed !== null) writeReplayEthernet(this.framed, 0, true, ETHERTYPE_IPV4);
  }

  override write(b: FrameBatch): number {
    const t = this.times, f = this.framed;
    for (let i = 0; i < b.count; i++) {
      const k = t.base + b.from[i];
      if (f === null) this.out.write(b.buf, b.off[i], b.len[i], t.sec[k], t.usec[k]);
      else this.out.write(f, 0, ETH_HEADER_LEN + b.buf.copy(f, ETH_HEADER_LEN, b.off[i], b.off[i] + b.len[i]), t.sec[k], t.usec[k]);
    }
    this.written += b.count;
    return b.count;
  }
}

/** The UDP socket's twin: datagrams parsed from captured outer frames in, outer frames built and written out. */
export class PcapDatagramPort extends Staged implements DatagramPort {
  private readonly batch: DatagramBatch;
  private readonly localPort: number;
  /** A datagram with a tail (SendList) is put together here, HEADROOM in front, before its headers are built. */
  private whole = Buffer.alloc(0);

  /**
   * `parser` takes what recv() hands out (null: nothing is received);
   * `builder` and `out` are what send() uses (null: nothing can be sent,
   * and send() takes nothing, as a socket that refuses).
   */
  constructor(o: PcapPortOptions, private readonly parser: OuterParser | null,
    private readonly builder: OuterBuilder | null, private readonly out: PcapWriter | null) {
    super(o);
    this.batch = new DatagramBatch(o.slots, this.slab);
    this.localPort = o.localPort ?? 0;
  }

  /**
   * Copies a captured outer frame into the slab and keeps its UDP payload
   * if the kernel's receive would deliver it to our port; a frame it would
   * not is counted by the parser and its room reused. False, taking
   * nothing, when the slots or the slab are full: ready() first.
   */
  stage(data: Buffer, sec: number, usec: number): boolean {
    if (this.staged === this.slots || this.used + data.length > this.slab.length) return false;
    if (this.parser === null) return true;
    const at = this.used, i = this.staged;
    data.copy(this.slab, at);
    if (this.parser.parse(this.slab, at, data.length, this.batch, i)) {
      this.used = at + data.length;
      this.staged++;
      this.stamp(i, sec, usec);
    }
    return true;
  }

  recv(b: DatagramBatch): number {
    const s = this.batch, first = this.next, n = Math.min(b.capacity, this.staged - first);
    b.buf = this.slab;
    for (let i = 0; i < n; i++) {
      const k = first + i;
      b.off[i] = s.off[k];
      b.len[i] = s.len[k];
      b.srcPort[i] = s.srcPort[k];
      b.ecn[i] = s.ecn[k];
      for (let w = 0; w < 4; w++) b.srcAddr[i * 4 + w] = s.srcAddr[k * 4 + w];
    }
    b.count = n;
    this.times.base = first;
    this.next = first + n;
    return n;
  }

  /**
   * Builds each datagram's outer headers in the room in front of it (the
   * frames' HEADROOM) and writes the frame. A flooded frame's entries share
   * bytes: each is written before the next one's headers overwrite them.
   * Returns how many were written; the builder counts why the others were not.
   */
  send(list: SendList, _peers: PeerTable, slab: Buffer): number {
    const builder = this.builder, out = this.out, t = this.times;
    if (builder === null || out === null) return 0;
    let sent = 0;
    for (let j = 0; j < list.count; j++) {
      let buf = slab, off = list.off[j];
      const len = list.len[j], tail = list.tailLen[j];
      if (tail > 0) {
        if (this.whole.length < HEADROOM + len) this.whole = Buffer.alloc(HEADROOM + len);
        slab.copy(this.whole, HEADROOM, off, off + len - tail);
        slab.copy(this.whole, HEADROOM + len - tail, list.tailOff[j], list.tailOff[j] + tail);
        buf = this.whole;
        off = HEADROOM;
      }
      const start = builder.build(buf, off, len, list.peer[j], list.srcPort[j] || this.localPort, list.ecn[j]);
      if (start < 0) continue;
      const k = t.base + list.from[j];
      out.write(buf, start, off + len - start, t.sec[k], t.usec[k]);
      sent++;
    }
    return sent;
  }
}
